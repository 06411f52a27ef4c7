// The store port reconciliation needs, owned by its user (STYLE.md habit 5). One SQLite adapter
// implements it (sqlite/recon-store.ts); a PostgreSQL adapter must be able to implement it later without
// changing the services. Reading our orders goes through here too, so src/batch never imports src/online.

import type { AccountSpec, LedgerCommand, LedgerFailure } from '../../ledger/index.js';
import type { FormatName } from './config.js';
import type { EncodedLineBlock, StoredBlock } from './line-block.js';
import type { StatementLine, StatementSummary } from './line.js';
import type { DiscrepancyType, MatchedPairs, OurRecord, OutcomeCounts, OutcomeKind, OutcomeNote, RecordSource } from './match.js';
import type { SuspenseItem } from './suspense.js';

// ---- files and their lines ----

/** One imported version of a channel's file for a date. */
export interface ReconFile {
  readonly fileId: number;
  readonly channel: string;
  readonly businessDate: string;
  readonly version: number;
  readonly sha256: string;
  readonly format: FormatName;
  readonly sourceName: string | null;
  readonly rows: number;
  readonly payments: number;
  readonly refunds: number;
  readonly paymentAmountMinor: bigint;
  readonly refundAmountMinor: bigint;
  readonly feeTotal: string | null;
  readonly totalsCheck: 'ok' | 'absent';
  readonly importedAtMs: number;
}

export interface NewFile {
  readonly channel: string;
  readonly businessDate: string;
  readonly sha256: string;
  readonly format: FormatName;
  readonly sourceName: string | null;
  readonly nowMs: number;
}

/**
 * An import in progress. Lines are written to a staging version that no reader sees; `commit` makes it
 * the channel's newest version for the date, `abort` removes every staged line. Chunks are written in
 * short transactions, so a long import never holds the write lock for long.
 */
export interface ImportWriter {
  readonly fileId: number;
  readonly version: number;
  /** The next block of lines in file order, packed (line-block.ts): stored as it is, one row. */
  append(block: EncodedLineBlock): Promise<void>;
  /** `sha256`: the file's hash when it was not known at beginImport (NewFile.sha256 was ''). */
  commit(summary: StatementSummary, rows: number, sha256?: string): Promise<ReconFile>;
  abort(): Promise<void>;
}

// ---- runs and their items ----

export type ItemStatus = 'open' | 'resolved' | 'superseded';

/** One outcome as stored: both sides' facts, so show, report and resolve need nothing else. */
export interface ItemRow {
  readonly outcome: OutcomeKind;
  readonly type: DiscrepancyType | null;
  readonly differences: readonly DiscrepancyType[];
  readonly note: OutcomeNote | null;
  readonly kind: 'payment' | 'refund';
  /** Names the item across runs of a date; null for matched items (only exceptions are compared). */
  readonly identity: string | null;
  /** Where the channel's line is stored: its file and its sequence in the file. */
  readonly fileId: number | null;
  readonly lineSeq: number | null;
  readonly channelTxnId: string | null;
  readonly orderKey: string | null;
  readonly channelAmountMinor: bigint | null;
  readonly channelCurrency: string | null;
  readonly channelStatus: string | null;
  readonly channelFee: string | null;
  readonly occurredAt: string | null;
  readonly recordSource: RecordSource | null;
  readonly recordId: string | null;
  readonly merchantId: string | null;
  readonly paymentId: string | null;
  readonly ledgerTxnId: string | null;
  readonly ledgerAmountMinor: bigint | null;
  readonly ledgerCurrency: string | null;
  readonly ledgerStatus: string | null;
  readonly ledgerCostMinor: bigint | null;
  readonly ledgerBusinessDate: string | null;
  /** The pool items this outcome is about, when a side came from the suspense pool. */
  readonly channelSuspenseId: number | null;
  readonly ledgerSuspenseId: number | null;
  /** For a `suspense` outcome: the last date it waits. */
  readonly untilDate: string | null;
}

export interface Resolution {
  readonly action: string;
  readonly by: string;
  readonly atMs: number;
  readonly reason: string;
  readonly approval: string | null;
  readonly entryIds: readonly string[];
  /** The item of an earlier run of the same date whose resolution this one carries. */
  readonly carriedFromItemId: number | null;
}

export interface StoredItem extends ItemRow {
  readonly itemId: number;
  readonly runId: number;
  readonly channel: string;
  readonly businessDate: string;
  /** For discrepancies: open, resolved or superseded (a newer run of the date replaced it); null otherwise. */
  readonly status: ItemStatus | null;
  readonly resolution: Resolution | null;
}

export interface RunInfo {
  readonly runId: number;
  readonly channel: string;
  readonly businessDate: string;
  readonly fileId: number;
  readonly fileVersion: number;
  readonly status: 'running' | 'current' | 'superseded';
  readonly startedAtMs: number;
  readonly finishedAtMs: number | null;
  readonly lines: number;
  readonly records: number;
  readonly counts: OutcomeCounts;
}

export interface NewRun {
  readonly channel: string;
  readonly businessDate: string;
  readonly fileId: number;
  readonly nowMs: number;
}

export interface ItemFilter {
  /** open / resolved: discrepancies of current runs in that state; suspense: items waiting in the pool now. */
  readonly status?: 'open' | 'resolved' | 'suspense' | undefined;
  readonly channel?: string | undefined;
  readonly type?: DiscrepancyType | undefined;
  readonly businessDate?: string | undefined;
  readonly limit: number;
}

/** Our side of an order number, for resolving: who the merchant is and whether money moved for us. */
export interface OrderFacts {
  readonly source: RecordSource;
  readonly recordId: string;
  readonly merchantId: string;
  readonly moved: boolean;
}

export type ResolveOutcome = { readonly ok: true; readonly item: StoredItem } | { readonly ok: false; readonly code: 'discrepancy_already_resolved' | 'discrepancy_not_found' | 'discrepancy_superseded'; readonly message: string } | LedgerFailure;

export interface ReconStore {
  // files
  fileBySha(channel: string, businessDate: string, sha256: string): Promise<ReconFile | undefined>;
  latestFile(channel: string, businessDate: string): Promise<ReconFile | undefined>;
  file(fileId: number): Promise<ReconFile | undefined>;
  beginImport(file: NewFile): Promise<ImportWriter>;
  /** The lines of a file in line order, in chunks of at most `chunkRows`. */
  lines(fileId: number, chunkRows: number): AsyncIterable<readonly StatementLine[]>;
  line(fileId: number, lineSeq: number): Promise<StatementLine | undefined>;
  /** The lines of a file in line order, as stored: packed blocks (line-block.ts). */
  lineBlocks(fileId: number): AsyncIterable<StoredBlock>;

  // our side
  /** Payments, refunds and captures of the channel whose journal entry is on the date (any status since). */
  recordsForDay(channel: string, businessDate: string): Promise<OurRecord[]>;
  /** Our records of the channel by the ids the channel knows (payment/capture ids, refund ids), any status. */
  lookupRecords(channel: string, paymentKeys: readonly string[], refundKeys: readonly string[]): Promise<OurRecord[]>;
  orderFacts(kind: 'payment' | 'refund', orderKey: string): Promise<OrderFacts | undefined>;
  entryExists(entryId: string): Promise<boolean>;

  // runs
  /** Pool items of the channel waiting on `businessDate` (opened before it, not closed before it). */
  suspensePool(channel: string, businessDate: string): Promise<SuspenseItem[]>;
  currentRun(channel: string, businessDate: string): Promise<RunInfo | undefined>;
  beginRun(run: NewRun): Promise<number>;
  /**
   * Appends outcomes of a run in one transaction: `items`, and matched pairs of lines of the file
   * `matched.fileId` (the order of items within a run is not significant beyond item ids).
   */
  appendItems(runId: number, items: readonly ItemRow[], matched?: { readonly fileId: number; readonly pairs: MatchedPairs }): Promise<void>;
  /**
   * Makes the run the current one of its channel and date in one transaction: the previous run is
   * superseded (its open discrepancies too), pool items are closed and opened, and resolutions of the
   * previous run's discrepancies carry over to the same discrepancy (same identity and type).
   */
  finishRun(runId: number, summary: { readonly lines: number; readonly records: number; readonly counts: OutcomeCounts; readonly nowMs: number }): Promise<RunInfo>;
  /** Non-matched items of a run (discrepancies and suspense), at most `limit`. */
  runExceptions(runId: number, limit: number): Promise<StoredItem[]>;
  /** Runs marked current for a date (all channels, or one). */
  currentRuns(businessDate: string, channel?: string): Promise<RunInfo[]>;
  /** Current runs of a channel after a date (they were matched against a pool this date changes). */
  laterRuns(channel: string, businessDate: string): Promise<RunInfo[]>;

  // items
  item(itemId: number): Promise<StoredItem | undefined>;
  items(filter: ItemFilter): Promise<StoredItem[]>;
  /**
   * Resolves an open discrepancy: ensures the accounts, posts the commands and records the decision in
   * one transaction; nothing is written when the item is not open or the ledger refuses a command.
   */
  resolve(itemId: number, resolution: Omit<Resolution, 'carriedFromItemId'>, accounts: readonly AccountSpec[], commands: readonly LedgerCommand[]): Promise<ResolveOutcome>;
}
