// The store profit sharing needs (owned here; the SQLite adapter is sqlite.ts). It reads the online
// core's payments and refunds of a date, keeps the share lines, and posts the day's entries.

import type { LedgerCommand, PostResult } from '../../ledger/index.js';
import type { ShareLine, SharePayment, ShareRefund } from './core.js';

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
  /** Refunds whose journal entry is on the date, in posting order, after ledger sequence `afterSeq`. */
  refundsPage(businessDate: string, afterSeq: number, limit: number): { refund: ShareRefund; seq: number }[];
  /** The share lines of a payment (its own split), empty when it was never shared. */
  paymentLines(paymentId: string): ShareLine[];
  /** How many payments of the date with ids from first to last (inclusive) have been shared (have their platform line). */
  paymentsShared(businessDate: string, firstId: string, lastId: string): number;
  /** Inserts the lines that are not there yet (keyed by source and party), in one transaction; returns how many were new. */
  writeLines(businessDate: string, lines: readonly ShareLine[]): number;
  /** Net per agent / ISV and currency of the date, from the stored lines. */
  partyTotals(businessDate: string): PartyDayTotal[];
  /** Visits every stored line of the date, ordered by party, currency, payment, source (streamed; the visitor must not write). */
  eachLine(businessDate: string, visit: (line: ShareLine) => void): void;
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
