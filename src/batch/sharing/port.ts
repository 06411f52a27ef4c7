// The store profit sharing needs (owned here; the SQLite adapter is sqlite.ts). It reads the online
// core's payments and refunds of a date, keeps the share lines, and posts the day's entries.

import type { LedgerCommand, PostResult } from '../../ledger/index.js';
import type { PartyKind, PaymentSplit, Route, ShareLine, SharePayment, ShareRefund } from './core.js';
import type { StatementHalfJob } from './statement-halves.js';

export interface PartyDayTotal {
  readonly partyId: string;
  readonly partyKind: 'agent' | 'isv';
  readonly currency: string;
  /** Shares less clawbacks of the date. */
  readonly netMinor: bigint;
}

export interface ShareStore {
  /** The status of a business date in the ledger, or undefined when the ledger never had it. */
  dayStatus(businessDate: string): 'open' | 'closed' | undefined;
  isMerchant(merchantId: string): boolean;
  /** Per merchant, the amount of payments that succeeded from `fromDate` to `toDate` inclusive. */
  monthVolumes(fromDate: string, toDate: string): Map<string, bigint>;
  /** Payments that succeeded on the date (voided ones excluded), in payment id order, after `afterId`. */
  paymentsPage(businessDate: string, afterId: string, limit: number): SharePayment[];
  /** Per merchant and product, the amount of payments that succeeded from `fromDate` to `toDate` inclusive
   *  (monthVolumes by product, and the pairs a date's routes need). */
  monthPairs(fromDate: string, toDate: string): { merchantId: string; product: string; volumeMinor: bigint }[];
  /** Starts splitting by route: the route of each merchant and product of the day (replaces earlier ones). */
  setRoutes(routes: readonly RoutedPair[]): void;
  /** Where the next routed page ends: the id `limit` payments (of any date) after `afterId`, or null when fewer
   *  are left (the page runs to the end); null when no payment comes after `afterId`. */
  routePageEnd(afterId: string, limit: number): { lastId: string | null } | null;
  /**
   * Splits the payments of the date with ids in (afterId, lastId] (lastId null: all after afterId) by their
   * routes (each distinct base once) and keeps those not shared yet, in one transaction. Returns how many
   * payments of the date the page holds, the lines written, what caps clipped over the whole page, and its
   * payments with a negative base (in id order).
   */
  shareRoutedPage(businessDate: string, afterId: string, lastId: string | null): RoutedPage;
  /** Refunds whose journal entry is on the date, in posting order, after ledger sequence `afterSeq`, with
   *  their payment's business date (null when it has none). */
  refundsPage(businessDate: string, afterSeq: number, limit: number): { refund: ShareRefund; seq: number; paymentDate: string | null }[];
  /** The share lines of a payment (its own split, shared on its business date `paymentDate`), ordered by
   *  party; empty when it was never shared. */
  paymentLines(paymentId: string, paymentDate: string): ShareLine[];
  /** How many payments of the date with ids from first to last (inclusive) have been shared (have their platform line). */
  paymentsShared(businessDate: string, firstId: string, lastId: string): number;
  /** Keeps the splits of payments not shared yet (given in payment id order), in one transaction; returns
   *  how many lines they stand for. */
  writeSplits(businessDate: string, splits: readonly PaymentSplit[]): number;
  /** Inserts the clawback lines that are not there yet (keyed by source and party), in one transaction; returns how many were new. */
  writeLines(businessDate: string, lines: readonly ShareLine[]): number;
  /** Net per agent / ISV and currency of the date, from the stored lines. */
  partyTotals(businessDate: string): PartyDayTotal[];
  /** Visits every stored line of the date, ordered by party, currency, payment, source (streamed; the visitor must not write). */
  eachLine(businessDate: string, visit: (line: ShareLine) => void): void;
  /** Visits every stored line of the date (the lines eachLine gives) ordered by payment, source kind, source,
   *  compactly: a payment's own lines as its split (visit.split: a seat's line when it has a share or a
   *  clipped amount, in seat order, then the platform's when platformShareMinor is not null), then its
   *  clawback lines (visit.clawback; parties within one source in no set order). One pass in the order the
   *  lines are kept, no sort of the day's lines (streamed; the visitor must not write). */
  eachSplitByPayment(businessDate: string, visit: SplitVisitor, range?: PaymentRange): void;
  /** Optional (statement-halves.ts): the id of the date's payment that ends the first `share` (0 to 1) of its
   *  payments in id order, or null when the date has fewer than `paymentsMin` payments. */
  paymentsCut?(businessDate: string, paymentsMin: number, share: number): string | null;
  /** Optional (statement-halves.ts): starts another thread, with its own read-only access to what is
   *  committed, that runs `writeStatementHalf(job, …)`; false when it cannot (then nothing started). */
  startStatementWorker?(job: StatementHalfJob): boolean;
  /** Opens missing payable / expense accounts and posts the commands (idempotent by entry id). */
  postEntries(accounts: readonly ShareAccount[], commands: readonly LedgerCommand[], nowMs: number): Promise<PostResult[]>;
}

export interface ShareAccount {
  readonly accountId: string;
  readonly subjectCode: string;
  readonly ownerKind: 'agent' | 'platform';
  readonly ownerId: string;
  readonly currency: string;
}

export interface RoutedPair {
  readonly merchantId: string;
  readonly product: string;
  readonly route: Route;
}

export interface RoutedPage {
  readonly payments: number;
  readonly linesWritten: number;
  readonly clippedMinor: bigint;
  readonly clippedPayments: number;
  readonly negatives: readonly { readonly paymentId: string; readonly baseMinor: bigint }[];
}

/** A party's seat at a stored table, as its lines carry it. */
export interface StoredSeat {
  readonly partyId: string;
  readonly partyKind: PartyKind;
  readonly rate: string;
}

/** The parties of stored splits: the rule, the seats in allocation order, the platform's rate (null only when
 *  no split at the table has a platform line). */
export interface StoredTable {
  readonly ruleId: string;
  readonly platformRate: string | null;
  readonly seats: readonly StoredSeat[];
}

/** One payment's split as kept. The reader hands the same object over for each payment: copy what you keep.
 *  Payments with equal shares share one sharesMinor array, and each table is one object. */
export interface StoredSplit {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly currency: string;
  readonly table: StoredTable;
  readonly baseMinor: bigint;
  /** One per seat. */
  readonly sharesMinor: readonly bigint[];
  /** One per seat; null when no cap clipped anything. */
  readonly clippedMinor: readonly bigint[] | null;
  /** Null: no platform line. */
  readonly platformShareMinor: bigint | null;
}

export interface SplitVisitor {
  split(s: StoredSplit): void;
  clawback(line: ShareLine): void;
}

/** Payment ids in (after, last]; null: open on that side. */
export interface PaymentRange {
  readonly after: string | null;
  readonly last: string | null;
}
