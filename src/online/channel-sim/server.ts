// The channel simulator (settle channel-sim): one fastify process playing several payment channels over
// signed HTTP, keeping its own books in its own SQLite file. See README.md beside this file for the
// protocol, the knobs and the magic amounts. startChannelSim is used by the CLI and by tests.

import { fastify, type FastifyReply, type FastifyRequest } from 'fastify';
import { findCurrency, toDecimalString } from '../../ledger/index.js';
import { behaviourJson, behaviourPatchSchema, describeIssue, parseSimConfig, SIM_LIMITS, type SimConfig } from './config.js';
import { randomSeed } from './draws.js';
import { SimEngine, type Answer, type ChannelState } from './engine.js';
import { Notifier } from './notifier.js';
import { isChannelOperation } from './protocol.js';
import { signedHeaders, verifySimSignature } from './signature.js';
import { SimStore, type SimTxn } from './store.js';
import { Timers } from './timers.js';

export const DEFAULT_SIM_PORT = 7702;
export const DEFAULT_SIM_HOST = '127.0.0.1';

export interface ChannelSimOptions {
  /** The simulator's own SQLite file (created if missing). */
  readonly dbPath: string;
  /** Default 7702; 0 picks a free port (tests). */
  readonly port?: number;
  readonly host?: string;
  /** Parsed config; default: the three default channels with secrets from `env`. */
  readonly config?: SimConfig;
  /** Overrides the config's seed. */
  readonly seed?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly clock?: () => number;
  /** Events worth a log line (notification retries and failures). */
  readonly log?: (event: Record<string, unknown>) => void;
}

export interface ChannelSim {
  /** http://host:port, without a trailing slash. */
  readonly url: string;
  readonly seed: string;
  /** Stops accepting, abandons held answers and timers, waits for in-flight requests, closes the file. */
  close(): Promise<void>;
}

type ErrorCode = 'channel_not_found' | 'operation_unknown' | 'channel_unavailable' | 'body_invalid_json' | 'not_found' | 'request_invalid';

function errorBody(code: string, message: string): Record<string, unknown> {
  return { error: { code, message } };
}

function txnJson(t: SimTxn): Record<string, unknown> {
  return {
    txn_no: t.txnNo,
    channel: t.channelId,
    operation: t.operation,
    reference: t.reference,
    original_operation: t.originalOperation,
    original_reference: t.originalReference,
    original_channel_txn_id: t.originalChannelTxnId,
    channel_txn_id: t.channelTxnId,
    product: t.product,
    amount_minor: t.amountMinor.toString(),
    currency: t.currency,
    status: t.status,
    decline_code: t.declineCode,
    decline_message: t.declineMessage,
    fee_minor: t.feeMinor.toString(),
    fee_rate: t.feeRate,
    payer_id: t.payerId,
    payee_name: t.payeeName,
    payee_account: t.payeeAccount,
    agreement_token: t.agreementToken,
    description: t.description,
    created_at_ms: t.createdAtMs,
    completed_at_ms: t.completedAtMs,
    business_date: t.businessDate,
  };
}

function channelJson(s: ChannelState): Record<string, unknown> {
  const c = s.channel;
  return {
    id: c.id,
    kind: c.kind,
    products: c.products,
    currencies: c.currencies,
    operations: c.operations,
    async_operations: c.asyncOperations,
    fee_rate: c.feeRate,
    opening_balance_minor: Object.fromEntries(Object.entries(c.openingBalanceMinor).map(([k, v]) => [k, v.toString()])),
    behaviour: behaviourJson(s.behaviour),
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function cashierPage(t: SimTxn, action: string): string {
  const currency = t.currency === null ? undefined : findCurrency(t.currency);
  const amount = currency ? `${toDecimalString(t.amountMinor, currency)} ${currency.code}` : `${t.amountMinor} (minor)`;
  const buttons =
    t.status === 'processing'
      ? `<form method="post" action="${escapeHtml(action)}"><button name="result" value="pay">Pay</button> <button name="result" value="cancel">Cancel</button></form>`
      : `<p>This payment is ${escapeHtml(t.status)}.</p>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(t.channelId)} cashier</title></head><body>
<h1>${escapeHtml(t.channelId)} cashier (simulated)</h1>
<p>Order ${escapeHtml(t.reference)}: <strong>${escapeHtml(amount)}</strong>${t.description ? ` — ${escapeHtml(t.description)}` : ''}</p>
${buttons}</body></html>`;
}

function publicUrlOf(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

export async function startChannelSim(options: ChannelSimOptions): Promise<ChannelSim> {
  const env = options.env ?? process.env;
  let config = options.config;
  if (!config) {
    const parsed = parseSimConfig({}, env);
    if (!parsed.ok) throw new Error(parsed.message); // the empty config always parses; this is a bug
    config = parsed.value;
  }
  const clock = options.clock ?? Date.now;
  const log = options.log ?? (() => undefined);
  const seed = options.seed ?? config.seed ?? randomSeed();
  const host = options.host ?? DEFAULT_SIM_HOST;
  const store = SimStore.open(options.dbPath);
  const timers = new Timers();
  let url = '';
  const secrets = new Map(config.channels.map((c) => [c.id, c.secret]));
  const notifier = new Notifier({
    store,
    timers,
    clock,
    secretOf: (id) => secrets.get(id),
    timeoutMs: config.notifyTimeoutMs,
    retryDelaysMs: config.notifyRetryDelaysMs,
    log,
  });
  const engine = new SimEngine({ config, seed, store, timers, notifier, clock, publicUrl: () => url });

  const app = fastify({ logger: false, bodyLimit: SIM_LIMITS.bodyBytesMax });
  // Every body is kept as its raw bytes: signatures are over the exact bytes, and each route parses itself.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const rawOf = (request: FastifyRequest): Buffer => (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));

  /** Sends JSON signed with the channel's secret (when there is a channel), so the adapter can trust it. */
  const send = (reply: FastifyReply, statusCode: number, body: Record<string, unknown>, state?: ChannelState): FastifyReply => {
    const text = JSON.stringify(body);
    if (state) void reply.headers(signedHeaders(state.channel.secret, text, clock()));
    return reply.code(statusCode).type('application/json; charset=utf-8').send(text);
  };
  const fail = (reply: FastifyReply, statusCode: number, code: ErrorCode | string, message: string, state?: ChannelState): FastifyReply =>
    send(reply, statusCode, errorBody(code, message), state);
  /** Drops the connection without an answer (a timeout in reset mode, or a held answer at shutdown). */
  const abandon = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    reply.hijack();
    request.raw.socket.destroy();
    return reply;
  };

  const answer = async (request: FastifyRequest, reply: FastifyReply, state: ChannelState, a: Answer): Promise<FastifyReply> => {
    switch (a.kind) {
      case 'json':
        return send(reply, a.statusCode, a.body, state);
      case 'unavailable':
        return fail(reply, 503, 'channel_unavailable', a.message, state);
      case 'garbage':
        return reply.code(200).type('text/html').send('<html><body>upstream answered nonsense (magic amount ending in 63)</body></html>');
      case 'timeout':
        if (state.behaviour.timeoutMode === 'reset') return abandon(request, reply);
        if (!(await timers.sleep(state.behaviour.timeoutHoldMs))) return abandon(request, reply);
        return send(reply, 200, a.body, state);
    }
  };

  app.post<{ Params: { channel: string; operation: string } }>('/channels/:channel/:operation', async (request, reply) => {
    const state = engine.channel(request.params.channel);
    if (!state) return fail(reply, 404, 'channel_not_found', `No channel ${request.params.channel}; GET /admin/channels lists them.`);
    const op = request.params.operation;
    if (!isChannelOperation(op)) return fail(reply, 404, 'operation_unknown', `No operation ${op}.`, state);
    if (engine.inOutage(state)) return fail(reply, 503, 'channel_unavailable', `${state.channel.id} is in an outage.`, state);
    const raw = rawOf(request);
    const check = verifySimSignature(state.channel.secret, request.headers, raw, clock());
    if (!check.ok) return fail(reply, 401, check.code, check.message, state);
    if (!(await timers.sleep(state.behaviour.latencyMs))) return abandon(request, reply);
    let body: unknown;
    try {
      body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch {
      return fail(reply, 400, 'body_invalid_json', 'The body is not JSON.', state);
    }
    return answer(request, reply, state, engine.execute(state, op, body));
  });

  const cashierTxn = (channelId: string, channelTxnId: string): SimTxn | undefined => {
    const t = store.findByChannelTxnId(channelId, channelTxnId);
    return t && (t.operation === 'pay' || t.operation === 'preauth') ? t : undefined;
  };

  // The netbank / wallet cashier page a redirect_url points to: the payer pays or cancels here.
  app.get<{ Params: { channel: string; txn: string } }>('/cashier/:channel/:txn', async (request, reply) => {
    const t = cashierTxn(request.params.channel, request.params.txn);
    if (!t) return fail(reply, 404, 'not_found', 'No such payment at this channel.');
    return reply.type('text/html; charset=utf-8').send(cashierPage(t, request.url));
  });

  app.post<{ Params: { channel: string; txn: string } }>('/cashier/:channel/:txn', async (request, reply) => {
    const t = cashierTxn(request.params.channel, request.params.txn);
    if (!t) return fail(reply, 404, 'not_found', 'No such payment at this channel.');
    const raw = rawOf(request).toString('utf8');
    let result: unknown;
    if ((request.headers['content-type'] ?? '').includes('json')) {
      try {
        result = (JSON.parse(raw) as { result?: unknown }).result;
      } catch {
        return fail(reply, 400, 'body_invalid_json', 'The body is not JSON.');
      }
    } else {
      result = new URLSearchParams(raw).get('result');
    }
    if (result !== 'pay' && result !== 'cancel') return fail(reply, 400, 'request_invalid', 'result is "pay" or "cancel".');
    const done = engine.complete(t.txnNo, result === 'pay' ? 'payer_paid' : 'payer_cancelled') ?? t;
    if ((request.headers.accept ?? '').includes('text/html')) return reply.type('text/html; charset=utf-8').send(cashierPage(done, request.url));
    return send(reply, 200, { status: done.status, channel_txn_id: done.channelTxnId, decline_code: done.declineCode });
  });

  // Admin: unauthenticated, for a simulator bound to loopback.
  app.get('/admin/channels', async (_request, reply) => send(reply, 200, { seed, channels: engine.allChannels().map(channelJson) }));

  app.post<{ Params: { channel: string } }>('/admin/channels/:channel', async (request, reply) => {
    if (!engine.channel(request.params.channel)) return fail(reply, 404, 'channel_not_found', `No channel ${request.params.channel}.`);
    let raw: unknown;
    try {
      const text = rawOf(request).toString('utf8');
      raw = text === '' ? {} : JSON.parse(text);
    } catch {
      return fail(reply, 400, 'body_invalid_json', 'The body is not JSON.');
    }
    const patch = behaviourPatchSchema.safeParse(raw);
    if (!patch.success) return fail(reply, 400, 'request_invalid', describeIssue(patch.error, 'behaviour'));
    const state = engine.patchBehaviour(request.params.channel, patch.data);
    return send(reply, 200, state ? channelJson(state) : {});
  });

  app.get<{ Querystring: { channel?: string; business_date?: string; limit?: string } }>('/admin/transactions', async (request, reply) => {
    const limit = Math.max(1, Math.min(Number.parseInt(request.query.limit ?? '100', 10) || 100, 1000));
    const rows = store.list({ channelId: request.query.channel, businessDate: request.query.business_date, limit });
    return send(reply, 200, { transactions: rows.map(txnJson) });
  });

  app.get('/healthz', async (_request, reply) => send(reply, 200, { ok: true }));

  try {
    await app.listen({ port: options.port ?? DEFAULT_SIM_PORT, host });
  } catch (e) {
    await app.close();
    store.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? DEFAULT_SIM_PORT);
  url = publicUrlOf(host, port);
  engine.resume();

  let closing: Promise<void> | undefined;
  return {
    url,
    seed,
    close: () => {
      closing ??= (async () => {
        timers.cancelAll();
        // In-flight requests finish; a client's stray socket does not hold the close past the grace.
        const force = setTimeout(() => app.server.closeAllConnections(), SIM_LIMITS.closeGraceMs);
        await app.close();
        clearTimeout(force);
        await notifier.close(SIM_LIMITS.notifyCloseGraceMs);
        store.close();
      })();
      return closing;
    },
  };
}
