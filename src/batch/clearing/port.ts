// The store clearing needs (owned by its user): read the online core's settled movements and the
// reconciliation outcomes, remember which items were settled in which batch, and write each batch with
// its ledger entries atomically. One SQLite adapter implements it (sqlite.ts).

import type { AccountSpec, LedgerCommand } from '../../ledger/index.js';
import type { Batch, CandidateItem } from './core.js';

export interface BatchWrite {
  readonly batch: Batch;
  /** Accounts the entries use, opened when missing. */
  readonly accounts: readonly AccountSpec[];
  readonly commands: readonly LedgerCommand[];
}

export interface StoredBatch {
  readonly batchId: string;
  readonly merchantId: string;
  readonly businessDate: string;
  readonly currency: string;
  readonly grossMinor: bigint;
  readonly refundsMinor: bigint;
  readonly feesMinor: bigint;
  readonly adjustmentsMinor: bigint;
  readonly netMinor: bigint;
  readonly carriedInMinor: bigint;
  readonly carriedOutMinor: bigint;
  readonly payoutMinor: bigint;
  readonly items: number;
  readonly status: 'paid_out' | 'carried';
  readonly createdAtMs: number;
}

export interface ClearingRunState {
  readonly status: 'running' | 'done';
  readonly startedAtMs: number;
}

export interface ClearingStore {
  dayStatus(date: string): 'open' | 'closed' | undefined;
  runState(date: string): ClearingRunState | undefined;
  /** Records the start of the date's run (keeps the first start when resuming); returns its state. */
  beginRun(date: string, nowMs: number): ClearingRunState;
  finishRun(date: string, nowMs: number): void;
  /** Unsettled payments, captures and refunds of business dates fromDate..toDate, with their reconciliation state; at most `limit` (more is a refusal). */
  candidates(fromDate: string, toDate: string, limit: number): CandidateItem[];
  /** Volume of payments and captures already settled per (merchant, currency, month) for these months. */
  monthVolumes(months: readonly string[]): Map<string, bigint>;
  /** Carried-out balance (< 0) of each merchant's last batch before the date, keyed merchant\0currency. */
  carriedIn(beforeDate: string): Map<string, bigint>;
  /** Ids (merchant\0currency) of the batches already written for the date. */
  batchKeysOf(date: string): Set<string>;
  /** Writes batches, their items and their ledger entries in one transaction (all or none). */
  writeBatches(writes: readonly BatchWrite[], nowMs: number): void;
  batchesOf(date: string, limit: number): StoredBatch[];
}
