// The suspense pool (存疑): items of one side that found no partner on their day. A row may simply have
// crossed midnight — the channel books a payment at 23:59:59.8 that we booked on the next business day,
// or the other way round — so an unmatched item waits `suspense_days` files before it becomes a
// channel_only (长款) or ledger_only (短款) discrepancy, and is re-checked against each later file.
//
// Which items wait: every unmatched item that moved money, not only those near midnight. A window
// around midnight would need both sides' clocks to agree, and a channel's file date and our business
// date are cut at different moments (cutoff runs when operators close the day, not at 00:00:00); one
// rule for all unmatched items is simpler to explain and still ends in a discrepancy after a bounded
// wait. With `suspense_days` 0 nothing waits.

import type { StatementLine } from './line.js';
import type { OurRecord } from './match.js';

/** An item waiting for its partner, as the pool hands it to the next day's match. */
export type SuspenseItem =
  | {
      readonly suspenseId: number;
      readonly side: 'channel';
      /** The date of the file the line came from. */
      readonly sinceDate: string;
      /** The last date whose file may still resolve it; after that date's match it is a discrepancy. */
      readonly untilDate: string;
      readonly fileId: number;
      /** The line's sequence in its file (recon_lines.seq). */
      readonly lineSeq: number;
      readonly line: StatementLine;
    }
  | {
      readonly suspenseId: number;
      readonly side: 'ledger';
      readonly sinceDate: string;
      readonly untilDate: string;
      /** Our record as it was when it went into suspense; the run refreshes it from our tables. */
      readonly record: OurRecord;
    };

/** The calendar date `days` after `date` (both YYYY-MM-DD). */
export function addDays(date: string, days: number): string {
  const t = Date.parse(`${date}T00:00:00Z`);
  if (!Number.isFinite(t)) throw new RangeError(`addDays: ${date} is not a date`);
  return new Date(t + days * 86_400_000).toISOString().slice(0, 10);
}

/** The last date an item that went into suspense on `sinceDate` may still be matched. */
export function suspenseUntil(sinceDate: string, suspenseDays: number): string {
  return addDays(sinceDate, suspenseDays);
}

/** True when the wait is over on `date`: after this date's match the item becomes a discrepancy. */
export function suspenseExpired(untilDate: string, date: string): boolean {
  return date >= untilDate;
}
