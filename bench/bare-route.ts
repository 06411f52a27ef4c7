// The ceiling of the online benchmark (bench/online.bench.ts): fastify with one POST /v1/payments route
// that answers 201 with a constant payment-shaped JSON body. It runs in its own process like the
// daemon, with the same fastify settings (no logger, the same body limit), and receives the very same
// signed requests, so its figure is what the sockets, the load generator and fastify cost before any
// of settle's own work (authentication, validation, idempotency, the pipeline, the ledger, commits).

import Fastify from 'fastify';

/** The same field set and about the same size as the daemon's paymentView. */
export const BARE_BODY = JSON.stringify({
  id: 'pay_000000000000000000000000',
  object: 'payment',
  merchant_order_no: 'bare-route',
  product: 'foreign_card',
  amount: 10000,
  currency: 'CNY',
  status: 'succeeded',
  fee: 60,
  refunded_amount: 0,
  channel: 'bank',
  channel_txn_id: 'BANK-PAY-pay_000000000000000000000000',
  payer_id: null,
  agreement_id: null,
  description: null,
  notify_url: null,
  redirect_url: null,
  expires_at: null,
  business_date: '2026-11-26',
  failure_code: null,
  failure_message: null,
  created_at: '2026-11-26T00:00:00.000Z',
  updated_at: '2026-11-26T00:00:00.000Z',
});

export interface BareRoute {
  readonly url: string;
  close(): Promise<void>;
}

export async function startBareRoute(options: { readonly port: number; readonly host?: string; readonly bodyLimitBytes: number }): Promise<BareRoute> {
  const host = options.host ?? '127.0.0.1';
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimitBytes });
  app.post('/v1/payments', async (_request, reply) => reply.code(201).type('application/json').send(BARE_BODY));
  await app.listen({ port: options.port, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { url: `http://${host}:${port}`, close: () => app.close() };
}
