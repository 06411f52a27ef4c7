// The daemon's HTTP API (fastify). Every /v1 request from a merchant is signed (see merchants/signing.ts)
// and every POST carries an Idempotency-Key; channel notifications are verified by their channel's
// adapter instead. Errors are always { "error": { "code", "message" } }.

import type { ChannelHealth } from './routing/health.js';
import type { RiskRuntime } from './risk/runtime.js';
import type { SmsPort } from './risk/sms.js';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ChannelPort } from './channels/port.js';
import type { OnlineConfig } from './config.js';
import { apiFailure, errorBody, type ApiFailure } from './errors.js';
import { Metrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { findStatement } from './statements/download.js';
import type { OnlineStore } from './port.js';
import { NotificationService } from './payments/notifications.js';
import { AgreementService } from './payments/agreements.js';
import { PayoutService } from './payments/payouts.js';
import { PreauthService } from './payments/preauths.js';
import { isFailure, PaymentService, type ApiResult, type Caller, type Idem } from './payments/service.js';

export interface AuthRequest {
  readonly method: string;
  readonly pathWithQuery: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly rawBody: Buffer;
}

/** Verifies a merchant's signed request; the merchants module implements it. */
export type Authenticator = (request: AuthRequest) => Promise<Caller | ApiFailure>;

export interface ServerDeps {
  readonly store: OnlineStore;
  readonly config: OnlineConfig;
  readonly channels: ReadonlyMap<string, ChannelPort>;
  readonly authenticate: Authenticator;
  readonly publicUrl: () => string;
  readonly clock?: () => number;
  /** pino options, or false for no request logs (tests and benchmarks). */
  readonly logger?: boolean | Record<string, unknown>;
  /** Routing and risk state kept by the daemon (seeded from the database); fresh ones when absent. */
  readonly health?: ChannelHealth;
  readonly risk?: RiskRuntime;
  readonly sms?: SmsPort;
  /** Where merchants' statements are published (absolute; default: online.statements_dir from the working folder). */
  readonly statementsDir?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    rawBody: Buffer;
    jsonBody: unknown;
    jsonError: boolean;
    caller: Caller | undefined;
  }
}

const EMPTY_BODY = Buffer.alloc(0);
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** Token bucket per merchant: `ratePerS` requests a second, bursts up to the same number. */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();
  constructor(private readonly ratePerS: number) {}
  take(key: string, nowMs: number): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.ratePerS, atMs: nowMs };
    b.tokens = Math.min(this.ratePerS, b.tokens + ((nowMs - b.atMs) / 1000) * this.ratePerS);
    b.atMs = nowMs;
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

function send(reply: FastifyReply, result: ApiResult): FastifyReply {
  if (!result.ok) return reply.code(result.httpStatus).type('application/json').send(errorBody(result));
  if (result.replayed) void reply.header('Idempotent-Replayed', 'true');
  return reply.code(result.httpStatus).type('application/json').send(result.body);
}

export function buildServer(deps: ServerDeps): { app: FastifyInstance; payments: PaymentService; metrics: Metrics } {
  const clock = deps.clock ?? Date.now;
  const app = Fastify({
    logger:
      deps.logger === undefined || deps.logger === true
        ? { redact: { paths: ['req.headers["settle-signature"]', 'req.headers.authorization'], censor: '[redacted]' } }
        : deps.logger,
    bodyLimit: deps.config.body_limit_bytes,
    requestIdHeader: 'x-request-id',
  });
  const metrics = new Metrics();
  const payments = new PaymentService({
    store: deps.store,
    config: deps.config,
    channels: deps.channels,
    publicUrl: deps.publicUrl,
    clock,
    ...(deps.health && { health: deps.health }),
    ...(deps.risk && { risk: deps.risk }),
    ...(deps.sms && { sms: deps.sms }),
    log: (event) => app.log.warn(event),
  });
  const preauths = new PreauthService(deps.store, deps.config, deps.channels, clock);
  const agreements = new AgreementService(deps.store, deps.config, deps.channels, clock);
  const payouts = new PayoutService(deps.store, deps.config, deps.channels, clock, deps.publicUrl);
  const notifications = new NotificationService(deps.store, deps.channels);
  const limiter = new RateLimiter(deps.config.rate_limit_per_s);

  app.decorateRequest('rawBody', null as unknown as Buffer);
  app.decorateRequest('jsonBody', undefined);
  app.decorateRequest('jsonError', false);
  app.decorateRequest('caller', undefined);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body, done) => {
    const raw = body as Buffer;
    req.rawBody = raw;
    if (raw.length > 0) {
      try {
        req.jsonBody = JSON.parse(raw.toString('utf8')) as unknown;
      } catch {
        req.jsonError = true;
      }
    }
    done(null, undefined);
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413) {
      return reply.code(413).send(errorBody(apiFailure('body_too_large', `The body is over ${deps.config.body_limit_bytes} bytes.`)));
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send(errorBody(apiFailure('field_invalid', error.message)));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(errorBody(apiFailure('internal_error', 'Internal error.')));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody(apiFailure('not_found', `No route ${request.method} ${request.url}.`))));

  app.addHook('onResponse', async (request, reply) => {
    metrics.observe(request.routeOptions.url ?? 'unknown', request.method, reply.statusCode, reply.elapsedTime);
  });

  // Merchant authentication, rate limit and the Idempotency-Key, for every /v1 route but notifications.
  app.addHook('onRequest', async (request) => {
    request.rawBody = EMPTY_BODY;
  });
  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.url.startsWith('/v1/') || request.url.startsWith('/v1/channel-notifications/')) return;
    const caller = await deps.authenticate({ method: request.method, pathWithQuery: request.url, headers: request.headers, rawBody: request.rawBody });
    if (isFailure(caller)) return send(reply, caller);
    if (!limiter.take(caller.merchantId, clock())) {
      void reply.header('Retry-After', '1');
      return send(reply, apiFailure('rate_limited', `Over ${deps.config.rate_limit_per_s} requests a second.`));
    }
    request.caller = caller;
    if (request.method === 'POST') {
      const key = request.headers['idempotency-key'];
      if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) return send(reply, apiFailure('idempotency_key_missing', 'Idempotency-Key is missing or malformed.'));
      if (request.jsonError) return send(reply, apiFailure('body_invalid_json', 'The body is not valid JSON.'));
    }
    return undefined;
  });

  const idemOf = (request: FastifyRequest): Idem => ({
    key: String(request.headers['idempotency-key']),
    requestHash: createHash('sha256').update(`${request.method}\n${request.url}\n`).update(request.rawBody).digest('hex'),
  });
  const callerOf = (request: FastifyRequest): Caller => {
    if (!request.caller) throw new Error('route reached without authentication');
    return request.caller;
  };

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await deps.store.counts();
      return { ok: true };
    } catch (e) {
      return reply.code(503).send({ ok: false, message: (e as Error).message });
    }
  });
  app.get('/metrics', async (_request, reply) => reply.type('text/plain; version=0.0.4').send(metrics.render(await deps.store.counts(), deps.store)));
  app.get('/openapi.json', async () => openApiDocument());

  app.post('/v1/payments', async (request, reply) => send(reply, await payments.create(callerOf(request), idemOf(request), request.jsonBody)));
  app.get('/v1/payments', async (request, reply) => {
    const no = (request.query as Record<string, unknown>)['merchant_order_no'];
    if (typeof no !== 'string') return send(reply, apiFailure('field_missing', 'merchant_order_no is required.'));
    return send(reply, await payments.findByOrderNo(callerOf(request), no));
  });
  app.get('/v1/payments/:id', async (request, reply) => send(reply, await payments.get(callerOf(request), (request.params as { id: string }).id)));
  app.post('/v1/payments/:id/void', async (request, reply) =>
    send(reply, await payments.void(callerOf(request), idemOf(request), (request.params as { id: string }).id, request.jsonBody)),
  );
  app.post('/v1/payments/:id/verify', async (request, reply) =>
    send(reply, await payments.verify(callerOf(request), idemOf(request), (request.params as { id: string }).id, request.jsonBody)),
  );
  app.post('/v1/payments/:id/refunds', async (request, reply) =>
    send(reply, await payments.refund(callerOf(request), idemOf(request), (request.params as { id: string }).id, request.jsonBody)),
  );
  app.get('/v1/refunds/:id', async (request, reply) => send(reply, await payments.getRefund(callerOf(request), (request.params as { id: string }).id)));

  const id = (request: FastifyRequest): string => (request.params as { id: string }).id;
  app.post('/v1/preauths', async (request, reply) => send(reply, await preauths.create(callerOf(request), idemOf(request), request.jsonBody)));
  app.get('/v1/preauths/:id', async (request, reply) => send(reply, await preauths.get(callerOf(request), id(request))));
  app.post('/v1/preauths/:id/capture', async (request, reply) => send(reply, await preauths.capture(callerOf(request), idemOf(request), id(request), request.jsonBody)));
  app.post('/v1/preauths/:id/void', async (request, reply) => send(reply, await preauths.void(callerOf(request), idemOf(request), id(request), request.jsonBody)));
  app.get('/v1/captures/:id', async (request, reply) => send(reply, await preauths.getCapture(callerOf(request), id(request))));
  app.post('/v1/captures/:id/void', async (request, reply) => send(reply, await preauths.voidCapture(callerOf(request), idemOf(request), id(request), request.jsonBody)));

  app.post('/v1/agreements', async (request, reply) => send(reply, await agreements.sign(callerOf(request), idemOf(request), request.jsonBody)));
  app.get('/v1/agreements/:id', async (request, reply) => send(reply, await agreements.get(callerOf(request), id(request))));
  app.post('/v1/agreements/:id/terminate', async (request, reply) => send(reply, await agreements.terminate(callerOf(request), idemOf(request), id(request), request.jsonBody)));

  app.post('/v1/payouts', async (request, reply) => send(reply, await payouts.payout(callerOf(request), idemOf(request), request.jsonBody)));
  app.get('/v1/payouts/:id', async (request, reply) => send(reply, await payouts.getPayout(callerOf(request), id(request))));
  app.post('/v1/topups', async (request, reply) => send(reply, await payouts.topup(callerOf(request), idemOf(request), request.jsonBody)));
  app.get('/v1/topups/:id', async (request, reply) => send(reply, await payouts.getTopup(callerOf(request), id(request))));
  app.get('/v1/statements/:date', async (request, reply) => {
    const found = await findStatement(deps.statementsDir ?? resolve(deps.config.statements_dir), callerOf(request).merchantId, (request.params as { date: string }).date);
    if ('ok' in found) return send(reply, found);
    return reply.code(200).type('text/csv; charset=utf-8').header('Content-Disposition', `attachment; filename="${found.fileName}"`).header('Content-Length', found.sizeBytes).send(found.open());
  });
  app.get('/v1/channel-balances', async (_request, reply) => send(reply, await payouts.channelBalances()));

  app.post('/v1/channel-notifications/:channel', async (request, reply) => {
    const result = await notifications.receive((request.params as { channel: string }).channel, request.headers as Record<string, string | undefined>, request.rawBody);
    return send(reply, result);
  });

  return { app, payments, metrics };
}
