// The `notify` section of the online config: how the outbox dispatcher delivers merchant notifications
// (异步通知) and internal events. Parsed once with the rest of the online config; unknown keys are
// refused. Secrets never appear in the config text: a per-merchant notification secret is named by an
// environment variable or a file.

import { z } from 'zod';

/** The seed's growing intervals, in seconds: 15s 15s 30s 3m 10m 20m 30m 30m 30m 60m 3h 3h 3h 6h 6h. */
export const DEFAULT_RETRY_SCHEDULE_S: readonly number[] = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10_800, 10_800, 10_800, 21_600, 21_600];

/** Limits of the dispatcher that are not configurable, with their reasons. */
export const NOTIFY_LIMITS = {
  /** Bytes of a merchant's answer read (the status decides; the rest is only kept as a snippet). */
  responseBytesMax: 4096,
  /** Characters of a failed answer kept on the attempt, for the operator. */
  detailCharsMax: 200,
  /** Outbox rows taken per ingest transaction (one sink write and one fsync per batch). */
  ingestBatchMax: 500,
  /** Ingest batches per pump, so a large backlog does not starve deliveries that are due. */
  ingestBatchesPerPumpMax: 8,
  /** How long one dispatcher keeps the right to move the outbox; renewed at every batch. */
  ingestLeaseMs: 30_000,
  /** Due deliveries looked at per claim (the rows of merchants at their in-flight limit are skipped). */
  claimScanMax: 4096,
  /** Attempt rows kept per delivery (the counter keeps counting; older rows are deleted). */
  attemptsKeptMax: 64,
  /** A sink line above this is written with its data replaced by a note (payloads are API views, small). */
  sinkLineBytesMax: 1024 * 1024,
  /** A notification body above this is not sent (it would be refused by most receivers anyway). */
  bodyBytesMax: 256 * 1024,
  /** A notification secret file is a short line. */
  secretFileBytesMax: 4096,
  /** Rows `settle notify list` prints at most, and failed deliveries one `retry --all-failed` re-queues. */
  listRowsMax: 1000,
  retryAllMax: 10_000,
  /** How long stop() waits for deliveries in flight before it interrupts them (they are re-sent later). */
  stopWaitMsMax: 5_000,
} as const;

const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const MERCHANT_ID = /^M[0-9]{1,18}$/;

const secretSourceSchema = z.union([
  z.strictObject({ env: z.string().regex(ENV_NAME, 'an environment variable name such as SETTLE_NOTIFY_SECRET_M100001') }),
  z.strictObject({ file: z.string().min(1).max(4096) }),
]);

const sinkSchema = z.discriminatedUnion('kind', [
  /** NDJSON files events-YYYY-MM-DD.ndjson (UTC date of the event) in `dir`; default "<database>.events/". */
  z.strictObject({ kind: z.literal('file'), dir: z.string().min(1).max(4096).optional() }),
  /** One NDJSON line per event on standard output (beside the daemon's JSON logs). */
  z.strictObject({ kind: z.literal('stdout') }),
  /** No internal events (merchant notifications are still sent). */
  z.strictObject({ kind: z.literal('none') }),
]);

export const notifyConfigSchema = z.strictObject({
  /** Run the dispatcher inside `settle serve`; false when `settle dispatch` runs it alone. */
  in_daemon: z.boolean().default(true),
  /** Delays before each retry, in seconds; after the last one fails, the delivery is marked failed. */
  retry_schedule_s: z
    .array(z.number().int().min(1).max(7 * 24 * 3600))
    .max(64)
    .default([...DEFAULT_RETRY_SCHEDULE_S]),
  /** A merchant must answer 2xx within this; otherwise the attempt failed (and is retried). */
  timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
  /** Notifications in flight to one merchant at once (one slow merchant holds only these). */
  in_flight_per_merchant_max: z.number().int().min(1).max(64).default(4),
  /** Notifications in flight from one dispatcher at once. */
  in_flight_max: z.number().int().min(1).max(1024).default(64),
  /** How often the outbox and the due retries are looked at when nothing wakes the dispatcher sooner. */
  poll_interval_ms: z.number().int().min(10).max(60_000).default(500),
  /** A claimed delivery stays claimed for timeout_ms + this; a crashed dispatcher's claims expire then. */
  lease_margin_ms: z.number().int().min(100).max(600_000).default(10_000),
  /**
   * Deliver to loopback, private (RFC 1918, fc00::/7), link-local (cloud metadata at 169.254.169.254),
   * carrier-grade NAT and other non-public addresses. Off: a merchant names its notify URL, and must not
   * be able to make the dispatcher call into our own network. On only for tests and closed networks.
   */
  allow_private_networks: z.boolean().default(false),
  sink: sinkSchema.default({ kind: 'file' }),
  /** Per merchant, a notification secret to sign with instead of its key secret (RSA-only merchants need one). */
  secrets: z.record(z.string().regex(MERCHANT_ID, 'a merchant id such as M100001'), secretSourceSchema).default({}),
});

export type NotifyConfig = z.infer<typeof notifyConfigSchema>;
export type SinkConfig = NotifyConfig['sink'];

/** The defaults, for callers that build a dispatcher without a config file. */
export function defaultNotifyConfig(overrides: Partial<z.input<typeof notifyConfigSchema>> = {}): NotifyConfig {
  return Object.freeze(notifyConfigSchema.parse(overrides));
}
