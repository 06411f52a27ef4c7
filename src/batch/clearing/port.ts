// The store clearing needs (owned by its user): read the online core's settled movements and the
// reconciliation outcomes, remember which items were settled in which batch, and write each batch with
// its ledger entries atomically. One SQLite adapter implements it (sqlite.ts).
//
// Writing is two-phase. First the item rows (writeItems), each with the number of its batch: a row whose
// batch is not written is not settled (the item stays a candidate, and a later item row replaces it).
// Then the batches (writeBatches): a batch row, its number, its volumes and its ledger entries commit
// together, and that commit settles the batch's items.

import type { AccountSpec, LedgerCommand } from '../../ledger/index.js';
import type { CandidateColumns } from './columns.js';
import type { BatchFigures, ClearedItem } from './core.js';

/** One item row as an object (tests, and callers with a few items). */
export interface ItemWrite {
  /** The number reserveBatchNumbers gave the item's batch. */
  readonly batchNo: number;
  readonly item: ClearedItem;
}

/** Item rows as columns: row k is item k of `items` with its rate-card fee and its batch's number. */
export interface ItemRows {
  readonly items: CandidateColumns;
  /** The rate-card fee of each item by index (refunds negative). */
  readonly rateFees: BigInt64Array;
  /** The number reserveBatchNumbers gave each item's batch, by index. */
  readonly batchNos: Float64Array;
}

export interface BatchWrite<B extends BatchFigures = BatchFigures> {
  readonly batch: B;
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
  candidateColumns(fromDate: string, toDate: string, limit: number): Promise<CandidateColumns>;
  /** Volume of payments and captures already settled per (merchant, currency, month) for these months. */
  monthVolumes(months: readonly string[]): Map<string, bigint>;
  /** Carried-out balance (< 0) of each merchant's last batch before the date, keyed merchant\0currency. */
  carriedIn(beforeDate: string): Map<string, bigint>;
  /** Ids (merchant\0currency) of the batches already written for the date. */
  batchKeysOf(date: string): Set<string>;
  /** Hands out `count` batch numbers never handed out before (committed at once); returns the first. */
  reserveBatchNumbers(count: number): number;
  /**
   * Writes the rows of the items `order` names, in one transaction, fastest in key order (kind, then item
   * id). An item settled already (its row's batch is written) is a broken invariant: throws, nothing is written.
   */
  writeItemRows(rows: ItemRows, order: Int32Array): void;
  /** Writes batches (rows and numbers, which settle their items written before) and their ledger entries in one transaction. */
  writeBatches(writes: readonly BatchWrite[], nowMs: number): void;
  batchesOf(date: string, limit: number): StoredBatch[];
}
