// The store clearing needs (owned by its user): read the online core's settled movements and the
// reconciliation outcomes, remember which items were settled in which batch, and write each batch with
// its ledger entries atomically. One SQLite adapter implements it (sqlite.ts).
//
// Writing is two-phase. First the item rows (writeItems), each with the number of its batch: a row whose
// batch is not written is not settled (the item stays a candidate, and a later item row replaces it).
// Then the batches (writeBatches): a batch row, its number, its volumes and its ledger entries commit
// together, and that commit settles the batch's items.

import type { AccountSpec, LedgerCommand } from '../../ledger/index.js';
import type { Batch, CandidateItem, ClearedItem } from './core.js';

export interface ItemWrite {
  /** The number reserveBatchNumbers gave the item's batch. */
  readonly batchNo: number;
  readonly item: ClearedItem;
}

export interface BatchWrite {
  readonly batch: Batch;
  /** The number its items were written with. */
  readonly batchNo: number;
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
  /** Hands out `count` batch numbers never handed out before (committed at once); returns the first. */
  reserveBatchNumbers(count: number): number;
  /**
   * Writes item rows in one transaction, fastest in key order (kind, then item id: itemKeyOrder). An item
   * settled already (its row's batch is written) is a broken invariant: throws, nothing is written.
   */
  writeItems(items: readonly ItemWrite[]): void;
  /** Writes batches (rows and numbers, which settle their items written before) and their ledger entries in one transaction. */
  writeBatches(writes: readonly BatchWrite[], nowMs: number): void;
  batchesOf(date: string, limit: number): StoredBatch[];
}
