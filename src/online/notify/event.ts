// The functional core of notifications: event ids, the bodies and lines built from an outbox row, the
// signature, where a notification goes and when the next attempt is. Pure functions of their inputs.

import { createHmac } from 'node:crypto';
import type { AttemptErrorCode } from './errors.js';

/** An outbox row as the dispatcher reads it (payload is the JSON text written by tx.publish). */
export interface OutboxRow {
  readonly seq: number;
  readonly topic: string;
  readonly aggregateId: string;
  readonly merchantId: string | null;
  readonly payloadJson: string;
  readonly createdAtMs: number;
}

const EVENT_ID = /^evt_([0-9]{1,16})$/;

/** The event id of an outbox row: stable across retries and restarts, unique per database. */
export function eventId(seq: number): string {
  return `evt_${String(seq).padStart(16, '0')}`;
}

/** The outbox seq of an event id (also accepts the bare number); undefined when it is not one. */
export function parseEventId(text: string): number | undefined {
  const m = EVENT_ID.exec(text) ?? /^([0-9]{1,16})$/.exec(text);
  if (!m?.[1]) return undefined;
  const seq = Number(m[1]);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

/**
 * The body POSTed to the merchant: { event_id, type, created (unix s), data: { object } }. The payload
 * text is embedded as written, so the object is byte for byte what the outbox holds.
 */
export function notificationBody(row: OutboxRow): string {
  const created = Math.floor(row.createdAtMs / 1000);
  return `{"event_id":${JSON.stringify(eventId(row.seq))},"type":${JSON.stringify(row.topic)},"created":${created},"data":{"object":${row.payloadJson}}}`;
}

/** One line of the internal event sink (NDJSON): { event_id, type, aggregate_id, merchant_id, created_at, data }. */
export function sinkLine(row: OutboxRow, lineBytesMax: number): string {
  const head = `{"event_id":${JSON.stringify(eventId(row.seq))},"type":${JSON.stringify(row.topic)},"aggregate_id":${JSON.stringify(row.aggregateId)},"merchant_id":${JSON.stringify(row.merchantId)},"created_at":${JSON.stringify(new Date(row.createdAtMs).toISOString())},"data":`;
  const line = `${head}${row.payloadJson}}`;
  if (Buffer.byteLength(line) <= lineBytesMax) return line;
  return `${head}{"omitted":"too_large","bytes":${Buffer.byteLength(row.payloadJson)}}}`;
}

/** `Settle-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`. */
export function signatureHeader(secret: string, timestampS: number, body: string): string {
  const v1 = createHmac('sha256', secret).update(`${timestampS}.`).update(body).digest('hex');
  return `t=${timestampS},v1=${v1}`;
}

/**
 * Topics that are told to merchants. Anything else (a future `risk.*`, internal bookkeeping) goes to
 * the internal sink only.
 */
const MERCHANT_TOPIC_PREFIXES = ['payment.', 'refund.', 'preauth.', 'capture.', 'payout.', 'topup.'] as const;

export function isMerchantTopic(topic: string): boolean {
  return MERCHANT_TOPIC_PREFIXES.some((p) => topic.startsWith(p));
}

/** What a notification needs looked up: the payment of a refund, and the merchant's own URL. */
export interface UrlNeeds {
  readonly paymentId: string | undefined;
  readonly merchantId: string;
}

export interface UrlBook {
  readonly paymentUrls: ReadonlyMap<string, string | null>;
  readonly merchantUrls: ReadonlyMap<string, string | null>;
}

/** The fields of the payload the URL rule reads; undefined when the row gets no notification. */
export function urlNeeds(row: OutboxRow): (UrlNeeds & { readonly ownUrl: string | undefined }) | undefined {
  if (row.merchantId === null || !isMerchantTopic(row.topic)) return undefined;
  const payload = JSON.parse(row.payloadJson) as Record<string, unknown> | null;
  const own = payload?.['notify_url'];
  const paymentId = row.topic.startsWith('refund.') ? payload?.['payment_id'] : undefined;
  return {
    merchantId: row.merchantId,
    ownUrl: typeof own === 'string' && own !== '' ? own : undefined,
    paymentId: typeof paymentId === 'string' ? paymentId : undefined,
  };
}

/**
 * Where the notification of a row goes: the object's own notify_url; for a refund, its payment's;
 * else the merchant's; else nowhere (undefined). A capture belongs to a pre-authorisation, which has
 * no URL of its own, so it goes to the merchant's.
 */
export function resolveNotifyUrl(row: OutboxRow, book: UrlBook): string | undefined {
  const needs = urlNeeds(row);
  if (!needs) return undefined;
  if (needs.ownUrl !== undefined) return needs.ownUrl;
  if (needs.paymentId !== undefined) {
    const url = book.paymentUrls.get(needs.paymentId);
    if (url) return url;
  }
  return book.merchantUrls.get(needs.merchantId) ?? undefined;
}

export function isHttpUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

/** What one attempt came to. A status is known whenever the endpoint answered. */
export type AttemptResult =
  | { readonly ok: true; readonly httpStatus: number }
  | { readonly ok: false; readonly error: AttemptErrorCode; readonly httpStatus: number | null; readonly detail: string | null };

/** What to do with a delivery after an attempt. */
export type NextStep =
  | { readonly state: 'succeeded' }
  | { readonly state: 'pending'; readonly nextAttemptAtMs: number; readonly roundFailures: number }
  | { readonly state: 'failed'; readonly roundFailures: number };

/** Errors retrying cannot fix: the delivery fails at once. */
const PERMANENT: readonly AttemptErrorCode[] = ['notify_url_invalid', 'notify_url_forbidden', 'notify_body_too_large'];

/**
 * The next step after an attempt that ended at endedAtMs. The n-th failure (counted since the delivery
 * was made or last re-queued by an operator) waits schedule[n-1] seconds; a failure past the end of the
 * schedule marks it failed. An interrupted attempt (the dispatcher stopped) is due again at once and
 * does not count.
 */
export function nextStep(result: AttemptResult, roundFailures: number, scheduleS: readonly number[], endedAtMs: number): NextStep {
  if (result.ok) return { state: 'succeeded' };
  if (result.error === 'dispatcher_stopped') return { state: 'pending', nextAttemptAtMs: endedAtMs, roundFailures };
  const failures = roundFailures + 1;
  if (PERMANENT.includes(result.error)) return { state: 'failed', roundFailures: failures };
  const delayS = scheduleS[failures - 1];
  if (delayS === undefined) return { state: 'failed', roundFailures: failures };
  return { state: 'pending', nextAttemptAtMs: endedAtMs + delayS * 1000, roundFailures: failures };
}

/** Printable, one line, bounded: for the detail of a failed answer. */
export function snippet(text: string, charsMax: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean.length <= charsMax ? clean : `${clean.slice(0, charsMax)}…`;
}
