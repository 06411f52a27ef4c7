// The ChannelPort over HTTP to the channel simulator (settle channel-sim): one adapter per channel.
// Requests are signed with the channel's shared secret; answers are checked for the simulator's
// signature and shape. Anything that is not a clear answer — a timeout, a refused connection, a 5xx,
// an unsigned or garbled body — becomes { status: 'unknown' } so the daemon keeps the order processing
// and queries later (补单); a decline is the channel's final word.

import type { z } from 'zod';
import { SIM_LIMITS } from '../channel-sim/config.js';
import { balanceResponseSchema, channelPath, notificationSchema, outcomeResponseSchema, type OutcomeResponse } from '../channel-sim/protocol.js';
import { signedHeaders, verifySimSignature } from '../channel-sim/signature.js';
import type {
  ChannelBalance,
  ChannelOperation,
  ChannelOutcome,
  ChannelPort,
  FollowUpRequest,
  NotificationParse,
  PayoutRequest,
  PayRequest,
  SignOutcome,
  SignRequest,
} from './port.js';

export interface SimChannelAdapterOptions {
  readonly channelId: string;
  /** The simulator's base URL, e.g. http://127.0.0.1:7702. */
  readonly baseUrl: string;
  /** The channel's shared secret (see channel-sim/secrets.ts: SETTLE_SIM_SECRET_<CHANNEL>). */
  readonly secret: string;
  /** How long to wait for an answer, body included. */
  readonly timeoutMs: number;
  /** For signing and checking signature age; default Date.now. */
  readonly clock?: () => number;
}

type Unknown = Extract<ChannelOutcome, { status: 'unknown' }>;

/** balance() has no way to say "unknown" in the port, so its failures are thrown as this. */
export class SimChannelError extends Error {
  readonly reason: Unknown['reason'];
  constructor(reason: Unknown['reason'], message: string) {
    super(message);
    this.name = 'SimChannelError';
    this.reason = reason;
  }
}

type CallResult = { readonly ok: true; readonly json: unknown } | { readonly ok: false; readonly outcome: Unknown };

const unknown = (reason: Unknown['reason'], message: string): CallResult => ({ ok: false, outcome: { status: 'unknown', reason, message } });

/** Network errors that mean the request never reached the channel. */
const NOT_REACHED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function fromError(e: unknown, timeoutMs: number): CallResult {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return unknown('timeout', `No answer within ${timeoutMs} ms.`);
  const code = err.cause?.code ?? '';
  const detail = `${err.message ?? String(e)}${err.cause?.message ? ` (${err.cause.message})` : ''}`;
  if (NOT_REACHED.has(code)) return { ok: false, outcome: { status: 'unknown', reason: 'unavailable', message: `The channel cannot be reached: ${detail}.`, notReceived: true } };
  // The request may have arrived: the connection closed before an answer came.
  return unknown('timeout', `The connection ended without an answer: ${detail}.`);
}

async function readCapped(res: Response, bytesMax: number): Promise<Buffer | undefined> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > bytesMax) return undefined;
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

function toOutcome(r: Exclude<OutcomeResponse, { status: 'not_found' }>): ChannelOutcome {
  switch (r.status) {
    case 'succeeded':
      return { status: 'succeeded', channelTxnId: r.channel_txn_id, feeMinor: r.fee_minor === undefined ? undefined : BigInt(r.fee_minor) };
    case 'processing':
      return { status: 'processing', channelTxnId: r.channel_txn_id, redirectUrl: r.redirect_url };
    case 'declined':
      return { status: 'declined', declineCode: r.decline_code, message: r.message };
  }
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || '(body)'}: ${issue.message}` : 'invalid';
}

export class SimChannelAdapter implements ChannelPort {
  readonly channelId: string;
  private readonly baseUrl: string;
  private readonly secret: string;
  private readonly timeoutMs: number;
  private readonly clock: () => number;

  constructor(options: SimChannelAdapterOptions) {
    this.channelId = options.channelId;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.secret = options.secret;
    this.timeoutMs = options.timeoutMs;
    this.clock = options.clock ?? Date.now;
  }

  pay(req: PayRequest): Promise<ChannelOutcome> {
    return this.outcome('pay', payBody(req));
  }

  preauth(req: PayRequest): Promise<ChannelOutcome> {
    return this.outcome('preauth', payBody(req));
  }

  refund(req: FollowUpRequest): Promise<ChannelOutcome> {
    return this.outcome('refund', followUpBody(req));
  }

  void(req: FollowUpRequest): Promise<ChannelOutcome> {
    return this.outcome('void', followUpBody(req));
  }

  capture(req: FollowUpRequest): Promise<ChannelOutcome> {
    return this.outcome('capture', followUpBody(req));
  }

  preauthVoid(req: FollowUpRequest): Promise<ChannelOutcome> {
    return this.outcome('preauth_void', followUpBody(req));
  }

  captureVoid(req: FollowUpRequest): Promise<ChannelOutcome> {
    return this.outcome('capture_void', followUpBody(req));
  }

  unsign(reference: string, agreementToken: string): Promise<ChannelOutcome> {
    return this.outcome('unsign', { reference, agreement_token: agreementToken });
  }

  payout(req: PayoutRequest): Promise<ChannelOutcome> {
    return this.outcome('payout', {
      reference: req.reference,
      amount_minor: req.amountMinor.toString(),
      currency: req.currency,
      payee_name: req.payeeName,
      payee_account: req.payeeAccount,
      ...(req.notifyUrl !== undefined ? { notify_url: req.notifyUrl } : {}),
    });
  }

  async sign(req: SignRequest): Promise<SignOutcome> {
    const hint = req.accountHint !== undefined ? { account_hint: req.accountHint } : {};
    const r = await this.response('sign', { reference: req.reference, payer_id: req.payerId, ...hint });
    if ('status' in r && r.status === 'unknown') return r;
    const answer = r as OutcomeResponse;
    if (answer.status === 'succeeded') {
      if (answer.agreement_token === undefined) return { status: 'unknown', reason: 'protocol', message: 'The channel signed but sent no agreement_token.' };
      return { status: 'succeeded', agreementToken: answer.agreement_token };
    }
    if (answer.status === 'not_found') return { status: 'unknown', reason: 'protocol', message: 'The channel answered not_found to sign.' };
    return toOutcome(answer) as SignOutcome;
  }

  async query(reference: string, operation: ChannelOperation): Promise<ChannelOutcome | { readonly status: 'not_found' }> {
    const r = await this.response('query', { reference, operation });
    if ('status' in r && r.status === 'unknown') return r;
    const answer = r as OutcomeResponse;
    return answer.status === 'not_found' ? { status: 'not_found' } : toOutcome(answer);
  }

  async balance(): Promise<readonly ChannelBalance[]> {
    const r = await this.call('balance', {});
    if (!r.ok) throw new SimChannelError(r.outcome.reason, r.outcome.message);
    const parsed = balanceResponseSchema.safeParse(r.json);
    if (!parsed.success) throw new SimChannelError('protocol', `The balance answer is not readable: ${describe(parsed.error)}.`);
    return parsed.data.balances.map((b) => ({ currency: b.currency, availableMinor: BigInt(b.available_minor) }));
  }

  parseNotification(headers: Readonly<Record<string, string | undefined>>, rawBody: Buffer): NotificationParse {
    const check = verifySimSignature(this.secret, headers, rawBody, this.clock());
    if (!check.ok) return { ok: false, code: 'notification_signature_invalid', message: `${check.code}: ${check.message}` };
    let raw: unknown;
    try {
      raw = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return { ok: false, code: 'notification_malformed', message: 'The notification body is not JSON.' };
    }
    const parsed = notificationSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, code: 'notification_malformed', message: `The notification is not readable: ${describe(parsed.error)}.` };
    const n = parsed.data;
    if (n.channel !== this.channelId) {
      return { ok: false, code: 'notification_malformed', message: `The notification is for channel ${n.channel}, not ${this.channelId}.` };
    }
    return {
      ok: true,
      notification: {
        reference: n.reference,
        channelTxnId: n.channel_txn_id,
        operation: n.operation,
        status: n.status,
        amountMinor: BigInt(n.amount_minor),
        currency: n.currency,
        notificationId: n.notification_id,
      },
    };
  }

  private async outcome(op: ChannelOperation, body: Record<string, unknown>): Promise<ChannelOutcome> {
    const r = await this.response(op, body);
    if ('status' in r && r.status === 'unknown') return r;
    const answer = r as OutcomeResponse;
    if (answer.status === 'not_found') return { status: 'unknown', reason: 'protocol', message: `The channel answered not_found to ${op}.` };
    return toOutcome(answer);
  }

  /** A readable outcome answer, or the unknown outcome that explains why there is none. */
  private async response(op: ChannelOperation, body: Record<string, unknown>): Promise<OutcomeResponse | Unknown> {
    const r = await this.call(op, body);
    if (!r.ok) return r.outcome;
    const parsed = outcomeResponseSchema.safeParse(r.json);
    if (!parsed.success) return { status: 'unknown', reason: 'protocol', message: `The ${op} answer is not readable: ${describe(parsed.error)}.` };
    return parsed.data;
  }

  private async call(op: ChannelOperation, body: Record<string, unknown>): Promise<CallResult> {
    const text = JSON.stringify(body);
    let res: Response;
    let raw: Buffer | undefined;
    try {
      res = await fetch(`${this.baseUrl}${channelPath(this.channelId, op)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signedHeaders(this.secret, text, this.clock()) },
        body: text,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      raw = await readCapped(res, SIM_LIMITS.responseBytesMax);
    } catch (e) {
      return fromError(e, this.timeoutMs);
    }
    if (raw === undefined) return unknown('protocol', `The ${op} answer is longer than ${SIM_LIMITS.responseBytesMax} bytes.`);
    if (res.status >= 500) return unknown('unavailable', `HTTP ${res.status} from ${this.channelId}: ${errorText(raw)}`);
    if (res.status !== 200) return unknown('protocol', `HTTP ${res.status} from ${this.channelId}: ${errorText(raw)}`);
    const headers = Object.fromEntries(res.headers.entries());
    const check = verifySimSignature(this.secret, headers, raw, this.clock());
    if (!check.ok) return unknown('protocol', `The ${op} answer is not signed by ${this.channelId}: ${check.message}`);
    try {
      return { ok: true, json: JSON.parse(raw.toString('utf8')) };
    } catch {
      return unknown('protocol', `The ${op} answer is not JSON.`);
    }
  }
}

function errorText(raw: Buffer): string {
  const text = raw.toString('utf8').slice(0, 300);
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    if (e?.code) return `${e.code}: ${e.message ?? ''}`;
  } catch {
    // not JSON: show the start of it
  }
  return text;
}

function payBody(req: PayRequest): Record<string, unknown> {
  return {
    reference: req.reference,
    product: req.product,
    amount_minor: req.amountMinor.toString(),
    currency: req.currency,
    ...(req.payerId !== undefined ? { payer_id: req.payerId } : {}),
    ...(req.agreementToken !== undefined ? { agreement_token: req.agreementToken } : {}),
    ...(req.description !== undefined ? { description: req.description } : {}),
    ...(req.notifyUrl !== undefined ? { notify_url: req.notifyUrl } : {}),
  };
}

function followUpBody(req: FollowUpRequest): Record<string, unknown> {
  return { reference: req.reference, original_reference: req.originalReference, amount_minor: req.amountMinor.toString(), currency: req.currency };
}
