// The store port the dispatcher and the operator commands need, owned by them. One SQLite adapter
// implements it (src/online/sqlite/notify-store.ts); a PostgreSQL one could follow without touching the
// dispatcher. Every method that writes commits before its promise resolves.

import type { OutboxRow } from './event.js';

export type DeliveryState = 'pending' | 'succeeded' | 'failed';

/** A merchant notification to make for an outbox row. */
export interface NewDelivery {
  readonly eventSeq: number;
  readonly merchantId: string;
  readonly topic: string;
  readonly aggregateId: string;
  readonly url: string;
  readonly body: string;
}

/** A delivery claimed for one attempt: nobody else sends it until the lease ends. */
export interface ClaimedDelivery {
  readonly eventSeq: number;
  readonly merchantId: string;
  readonly url: string;
  readonly body: string;
  /** The number of this attempt (attempts are counted when claimed). */
  readonly attemptNo: number;
  /** Failed attempts since the delivery was made or last re-queued; indexes the retry schedule. */
  readonly roundFailures: number;
  readonly claimToken: string;
}

export interface FinishedAttempt {
  readonly eventSeq: number;
  readonly claimToken: string;
  readonly attemptNo: number;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly httpStatus: number | null;
  readonly error: string | null;
  readonly detail: string | null;
  readonly state: DeliveryState;
  readonly nextAttemptAtMs: number | null;
  readonly roundFailures: number;
}

export interface DeliveryRecord {
  readonly eventSeq: number;
  readonly merchantId: string;
  readonly topic: string;
  readonly aggregateId: string;
  readonly url: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly roundFailures: number;
  readonly nextAttemptAtMs: number | null;
  readonly claimedUntilMs: number | null;
  readonly lastHttpStatus: number | null;
  readonly lastError: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly deliveredAtMs: number | null;
}

export interface AttemptRecord {
  readonly attemptNo: number;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly httpStatus: number | null;
  readonly error: string | null;
  readonly detail: string | null;
}

export interface DeliveryFilter {
  readonly merchantId?: string | undefined;
  readonly state?: DeliveryState | undefined;
  readonly limit: number;
}

export interface NotifyStore {
  // ---- moving the outbox ----
  /** Whether any outbox row waits (a cheap read, before taking the lease). */
  hasUndelivered(): Promise<boolean>;
  /**
   * Takes (or renews) the outbox lease for `owner` and returns the oldest undelivered rows, in seq
   * order; null when another dispatcher holds the lease. Only the holder writes rows to the sink.
   */
  takeOutbox(owner: string, nowMs: number, leaseMs: number, limit: number): Promise<readonly OutboxRow[] | null>;
  /** The notify URLs of these payments and merchants (null where none is set). */
  notifyUrls(paymentIds: readonly string[], merchantIds: readonly string[]): Promise<{ payments: Map<string, string | null>; merchants: Map<string, string | null> }>;
  /** Creates the deliveries (once: a row seen again is left as it is) and marks the outbox rows delivered. */
  commitIngest(seqs: readonly number[], deliveries: readonly NewDelivery[], nowMs: number): Promise<void>;
  releaseOutboxLease(owner: string): Promise<void>;

  // ---- delivering ----
  /**
   * Claims up to `limit` due deliveries in order of (next attempt, seq), at most `perMerchantMax` in
   * flight per merchant counting every dispatcher's live claims; each is claimed until `leaseUntilMs`.
   */
  claimDue(o: { nowMs: number; leaseUntilMs: number; tokenPrefix: string; limit: number; perMerchantMax: number }): Promise<readonly ClaimedDelivery[]>;
  /** Gives unsent claims back: due again at once, the attempt not counted. */
  releaseClaims(claims: readonly { eventSeq: number; claimToken: string }[]): Promise<void>;
  /** Records an attempt and moves the delivery on, if the claim is still this attempt's. */
  finishAttempt(a: FinishedAttempt): Promise<void>;
  /** The earliest time after `afterMs` a delivery falls due: a next attempt, or a claim's lease ending. */
  nextAttemptAfter(afterMs: number): Promise<number | undefined>;

  // ---- the operator ----
  listDeliveries(filter: DeliveryFilter): Promise<readonly DeliveryRecord[]>;
  delivery(eventSeq: number): Promise<{ delivery: DeliveryRecord; attempts: readonly AttemptRecord[] } | undefined>;
  /** Re-queues failed deliveries now with a fresh schedule; returns the seqs re-queued. */
  requeueFailed(o: { eventSeq?: number; merchantId?: string; nowMs: number; limit: number }): Promise<readonly number[]>;
}
