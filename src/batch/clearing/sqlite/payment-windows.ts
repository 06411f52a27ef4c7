// The payments a clearing run may take, read a (business date, channel) at a time — the order of the
// index payments_channel_day — in windows of rowids from the pair's first to its last: a window is one row
// whose columns are the window's values joined by the unit separator (U+001F) in SQLite. A million rows
// read as a million JS arrays of eight values cost more than the query; an aggregate straight over a rowid
// window costs ~25% less than one over a subquery of the next n rows (ORDER BY rowid LIMIT n). The joined
// columns are NOT NULL (group_concat would skip a NULL); a window whose values hold the separator has a
// column of more parts than rows and is read again row by row (PAYMENTS_WINDOW_ROWS).
//
// The same windows are read on this thread or on a worker thread with its own connection
// (payment-reader.ts): the spans are found first (a few index lookups), the windows then follow them.

import type { SqliteStatement } from '../../../ledger/sqlite/database.js';
import { setNumberAt, wordsOf } from '../exact.js';

/** A (business date, channel) and its first and last rowid in payments. */
export interface PaymentSpan {
  readonly date: string;
  readonly channelId: string | null;
  readonly first: bigint;
  readonly last: bigint;
}

/** Where a read of windows begins: after rowid `after` of the span at index `span`. */
export interface WindowsFrom {
  readonly span: number;
  readonly after: bigint;
}

/** One window of a span: rowids (after, upTo], and the joined row of its candidates (CANDIDATE_PAYMENTS_JOINED_WINDOW's columns). */
export interface PaymentWindow {
  /** The span's index. */
  readonly span: number;
  readonly date: string;
  readonly channelId: string | null;
  readonly after: bigint;
  readonly upTo: bigint;
  /** Payments in the window (the joined row's count). */
  readonly n: number;
  readonly joined: readonly unknown[];
  /** Set by a worker that parsed the merchants and integers (their joined columns are then left out). */
  readonly parsed?: ParsedWindow;
}

/** A window's merchants as numbers of the reader's own, and its amounts and booked fees: what a worker parses beside SQLite. */
export interface ParsedWindow {
  /** Each payment's merchant by the reader's number (newMerchants of this window and those before name them). */
  readonly merchantNos: Int32Array<ArrayBuffer>;
  /** The merchants this window names first, in the order of the numbers they got (after the previous windows'). */
  readonly newMerchants: readonly string[];
  readonly amounts: BigInt64Array<ArrayBuffer>;
  readonly bookedFees: BigInt64Array<ArrayBuffer>;
}

// One lower bound each: with two (`>= from AND > after`) SQLite seeks by one of them, the first, and
// walked the index from the range's first date past every payment before `after` (0.2 s a 1M date).
const PAYMENT_DATE_FIRST = 'SELECT business_date FROM payments WHERE business_date >= ? AND business_date <= ? ORDER BY business_date LIMIT 1';
const PAYMENT_DATE_NEXT = 'SELECT business_date FROM payments WHERE business_date > ? AND business_date <= ? ORDER BY business_date LIMIT 1';
const PAYMENT_CHANNEL_FIRST = 'SELECT channel_id FROM payments WHERE business_date = ? AND channel_id >= \'\' ORDER BY channel_id LIMIT 1';
const PAYMENT_CHANNEL_NEXT = 'SELECT channel_id FROM payments WHERE business_date = ? AND channel_id > ? ORDER BY channel_id LIMIT 1';
const PAYMENT_ROWID_FIRST = 'SELECT rowid FROM payments WHERE business_date = ? AND channel_id IS ? ORDER BY rowid LIMIT 1';
const PAYMENT_ROWID_LAST = 'SELECT rowid FROM payments WHERE business_date = ? AND channel_id IS ? ORDER BY rowid DESC LIMIT 1';
// The status by comparisons: SQLite looks a value up in an ephemeral table for an IN of three or more
// constants, per row (≈ 0.3 µs a payment).
const CANDIDATE_PAYMENTS_WHERE = `
  p.business_date = ? AND p.channel_id IS ? AND p.rowid > ? AND p.rowid <= ?
    AND (p.status = 'succeeded' OR p.status = 'partially_refunded' OR p.status = 'refunded')
    AND NOT EXISTS (SELECT 1 FROM clearing_items c WHERE c.kind = 'payment' AND c.item_id = p.payment_id)`;
const CANDIDATE_PAYMENTS_JOINED_WINDOW = `
  SELECT count(*), group_concat(p.payment_id, char(31)), group_concat(p.merchant_id, char(31)), group_concat(p.amount_minor, char(31)),
         group_concat(p.fee_minor, char(31)), min(p.currency), max(p.currency), group_concat(p.currency, char(31)), min(p.product), max(p.product),
         group_concat(p.product, char(31))
  FROM payments p WHERE ${CANDIDATE_PAYMENTS_WHERE}`;
/**
 * The same row without the joined currencies and products (NULL in their places): a fifth less work for
 * SQLite, enough while a window's rows share one currency and one product (its minimum is its maximum).
 */
const CANDIDATE_PAYMENTS_JOINED_WINDOW_SHARED = `
  SELECT count(*), group_concat(p.payment_id, char(31)), group_concat(p.merchant_id, char(31)), group_concat(p.amount_minor, char(31)),
         group_concat(p.fee_minor, char(31)), min(p.currency), max(p.currency), NULL, min(p.product), max(p.product), NULL
  FROM payments p WHERE ${CANDIDATE_PAYMENTS_WHERE}`;
/** The same window a row each (columns in the joined window's order). */
export const PAYMENTS_WINDOW_ROWS = `
  SELECT p.payment_id, p.merchant_id, p.currency, p.amount_minor, p.product, p.fee_minor
  FROM payments p WHERE ${CANDIDATE_PAYMENTS_WHERE} ORDER BY p.rowid`;

/**
 * Rowids per window to begin with, and at most: a window of strings dies young (as recon's reads of the
 * same table found). A window of fewer than half as many payments (other channels' or dates' rows between)
 * is followed by one twice as wide, one of more by one half as wide.
 */
const PAYMENTS_WINDOW_ROWIDS = 5_000n;
const PAYMENTS_WINDOW_ROWIDS_MAX = 80_000n;

/** The (date, channel) spans of payments of business dates fromDate..toDate, in index order (the NULL channel first). */
export function paymentSpans(stmt: (sql: string) => SqliteStatement, fromDate: string, toDate: string): PaymentSpan[] {
  const firstDate = stmt(PAYMENT_DATE_FIRST).pluck(true);
  const nextDate = stmt(PAYMENT_DATE_NEXT).pluck(true);
  const firstChannel = stmt(PAYMENT_CHANNEL_FIRST).pluck(true);
  const nextChannel = stmt(PAYMENT_CHANNEL_NEXT).pluck(true);
  const firstRowid = stmt(PAYMENT_ROWID_FIRST).pluck(true);
  const lastRowid = stmt(PAYMENT_ROWID_LAST).pluck(true);
  const spans: PaymentSpan[] = [];
  const span = (date: string, channelId: string | null): void => {
    const first = firstRowid.get(date, channelId) as bigint | undefined;
    const last = lastRowid.get(date, channelId) as bigint | undefined;
    if (first !== undefined && last !== undefined) spans.push({ date, channelId, first, last });
  };
  for (let date = firstDate.get(fromDate, toDate) as string | undefined; date !== undefined; date = nextDate.get(date, toDate) as string | undefined) {
    span(date, null);
    for (let channel = firstChannel.get(date) as string | undefined; channel !== undefined; channel = nextChannel.get(date, channel) as string | undefined) span(date, channel);
  }
  return spans;
}

/** Rowids the spans cover (an upper bound of the payments they hold). */
export const spanRowids = (spans: readonly PaymentSpan[]): number => spans.reduce((s, p) => s + Number(p.last - p.first + 1n), 0);

/** The windows of the spans in order, from the start or from a position; the caller stops when it has enough. */
export function* paymentWindows(stmt: (sql: string) => SqliteStatement, spans: readonly PaymentSpan[], from: WindowsFrom = { span: 0, after: -1n }): Generator<PaymentWindow, void, undefined> {
  const joined = stmt(CANDIDATE_PAYMENTS_JOINED_WINDOW).raw(true);
  const shared = stmt(CANDIDATE_PAYMENTS_JOINED_WINDOW_SHARED).raw(true);
  for (let span = from.span; span < spans.length; span++) {
    const { date, channelId, first, last } = spans[span] as PaymentSpan;
    let width = PAYMENTS_WINDOW_ROWIDS;
    // A span's windows are read without the joined currencies and products until one shows two of either:
    // that window is read again in full, and so is the rest of the span (one extra read a mixed span).
    let mixed = false;
    for (let after = span === from.span && from.after >= first ? from.after : first - 1n; after < last; ) {
      const upTo = after + width < last ? after + width : last;
      let row = (mixed ? joined : shared).get(date, channelId, after, upTo) as unknown[];
      if (!mixed && (row[5] !== row[6] || row[8] !== row[9])) {
        mixed = true;
        row = joined.get(date, channelId, after, upTo) as unknown[];
      }
      const n = Number(row[0] as bigint | number);
      yield { span, date, channelId, after, upTo, n, joined: row };
      after = upTo;
      if (BigInt(n) * 2n < PAYMENTS_WINDOW_ROWIDS && width < PAYMENTS_WINDOW_ROWIDS_MAX) width *= 2n;
      else if (BigInt(n) > PAYMENTS_WINDOW_ROWIDS && width > PAYMENTS_WINDOW_ROWIDS) width /= 2n;
    }
  }
}

export const UNIT_SEPARATOR = '\u001f';
const SEPARATOR_CODE = 0x1f;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
/** Digits a JS number holds exactly (below 2^53): up to 15 of them it is exact, and written as words it makes no bigint (BigInt's own parse of the text is the fallback). */
const EXACT_DIGITS_MAX = 15;
/**
 * The values of an INTEGER column joined by U+001F, written to `into` from index `at` without a string
 * per value (splitting two columns of a million values cost ~0.2 s). A value of digits with an optional
 * leading minus, up to 15 digits, is summed in a number (exact); anything else goes through BigInt's own
 * parse of its text (which refuses what is not an integer). False unless the text holds exactly n values.
 */
export function joinedIntegersInto(text: string, n: number, into: BigInt64Array, at: number): boolean {
  // Values of up to 15 digits are written as numbers into the array's words (no bigint made: exact.ts).
  const words = wordsOf(into);
  let count = 0;
  let start = 0;
  let value = 0;
  let digits = 0;
  let plain = true;
  let negative = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : SEPARATOR_CODE;
    if (c === SEPARATOR_CODE) {
      if (count === n || digits === 0) return false;
      if (plain && digits <= EXACT_DIGITS_MAX) setNumberAt(words, at + count++, negative ? -value : value);
      else into[at + count++] = BigInt(text.slice(start, i));
      start = i + 1;
      value = 0;
      digits = 0;
      plain = true;
      negative = false;
    } else if (c >= ZERO && c <= NINE) {
      value = value * 10 + (c - ZERO);
      digits++;
    } else if (c === MINUS && i === start) negative = true;
    else {
      plain = false;
      digits++;
    }
  }
  return count === n;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Parses windows as they come, numbering merchants in the order they first appear. The merchants are
 * numbered where they lie in the joined text: a value's hash is taken over its characters and compared
 * in place with the merchants seen (an open-addressing table), so only a new merchant becomes a string
 * (a million merchant strings split and hashed were a fifth of the worker's time).
 */
export class WindowParser {
  private readonly merchants: string[] = [];
  /** Slot: merchant number + 1, or 0 when empty; at most half full. */
  private table = new Int32Array(1024);
  private readonly hashes: number[] = [];

  /** The window with its merchants and integers parsed (their joined texts dropped), or as it was when a column does not split into n values. */
  parsed(w: PaymentWindow): PaymentWindow {
    const { joined: j, n } = w;
    const amounts = new BigInt64Array(n);
    const bookedFees = new BigInt64Array(n);
    const merchantNos = new Int32Array(n);
    const newMerchants: string[] = [];
    const before = this.merchants.length;
    if (!this.merchantNosInto(j[2] as string, n, merchantNos) || !joinedIntegersInto(j[3] as string, n, amounts, 0) || !joinedIntegersInto(j[4] as string, n, bookedFees, 0)) {
      // Merchants numbered by a window posted unparsed are forgotten again: its rows are read elsewhere.
      this.forgetFrom(before);
      return w;
    }
    for (let no = before; no < this.merchants.length; no++) newMerchants.push(this.merchants[no] as string);
    const joined = [...j];
    joined[2] = joined[3] = joined[4] = null;
    // A currency or product the window's rows share is its minimum (the reader's pageColumn): its joined text is not needed.
    if (j[5] === j[6]) joined[7] = null;
    if (j[8] === j[9]) joined[10] = null;
    return { ...w, joined, parsed: { merchantNos, newMerchants, amounts, bookedFees } };
  }

  /** The numbers of a joined column's n merchants (new ones numbered next); false when it does not hold n values. */
  private merchantNosInto(text: string, n: number, into: Int32Array): boolean {
    let count = 0;
    let start = 0;
    let h = FNV_OFFSET;
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? text.charCodeAt(i) : SEPARATOR_CODE;
      if (c !== SEPARATOR_CODE) {
        h = Math.imul(h ^ c, FNV_PRIME);
        continue;
      }
      if (count === n) return false;
      into[count++] = this.merchantNo(text, start, i, h >>> 0);
      start = i + 1;
      h = FNV_OFFSET;
    }
    return count === n;
  }

  /** The number of the merchant text[start, end) whose hash is h, a new one the first time. */
  private merchantNo(text: string, start: number, end: number, h: number): number {
    const mask = this.table.length - 1;
    let slot = h & mask;
    for (let entry = this.table[slot] ?? 0; entry !== 0; entry = this.table[slot] ?? 0) {
      const known = this.merchants[entry - 1] ?? '';
      if (this.hashes[entry - 1] === h && known.length === end - start && text.startsWith(known, start)) return entry - 1;
      slot = (slot + 1) & mask;
    }
    const no = this.merchants.length;
    this.merchants.push(text.slice(start, end));
    this.hashes.push(h);
    this.table[slot] = no + 1;
    if (this.merchants.length * 2 > this.table.length) this.rebuild(this.table.length * 2);
    return no;
  }

  /** Drops the merchants numbered from `no` on. */
  private forgetFrom(no: number): void {
    if (this.merchants.length === no) return;
    this.merchants.length = no;
    this.hashes.length = no;
    this.rebuild(this.table.length);
  }

  private rebuild(size: number): void {
    const table = new Int32Array(size);
    const mask = size - 1;
    for (let no = 0; no < this.merchants.length; no++) {
      let slot = (this.hashes[no] ?? 0) & mask;
      while ((table[slot] ?? 0) !== 0) slot = (slot + 1) & mask;
      table[slot] = no + 1;
    }
    this.table = table;
  }
}
