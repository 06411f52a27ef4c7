// The store profit sharing needs (owned here; the SQLite adapter is sqlite.ts). It reads the online
// core's payments and refunds of a date, keeps the share lines, and posts the day's entries.

import type { LedgerCommand, PostResult } from '../../ledger/index.js';
import type { PaymentSplit, Route, ShareLine, SharePayment, ShareRefund } from './core.js';

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
  /** The page of up to `limit` payments of the date after `afterId` (as paymentsPage): its last id and size; null when none are left. */
  routePage(businessDate: string, afterId: string, limit: number): { lastId: string; payments: number } | null;
  /**
   * Splits the `payments` payments of the date with ids in (afterId, lastId] by their routes (each distinct
   * base once) and keeps those not shared yet, in one transaction. Returns the lines written, what caps
   * clipped over the whole page, and its payments with a negative base (in id order).
   */
  shareRoutedPage(businessDate: string, afterId: string, lastId: string, payments: number): RoutedPage;
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
  /** Visits every stored line of the date (the lines eachLine gives) ordered by payment, source kind, source:
   *  a payment's lines, then its clawbacks; one pass in the order they are kept, no sort of the day's lines
   *  (streamed; the visitor must not write). Parties within one source come in no set order. */
  eachLineByPayment(businessDate: string, visit: (line: ShareLine) => void): void;
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
  readonly linesWritten: number;
  readonly clippedMinor: bigint;
  readonly clippedPayments: number;
  readonly negatives: readonly { readonly paymentId: string; readonly baseMinor: bigint }[];
}
