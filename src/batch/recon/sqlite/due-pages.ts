// Our payments due on a date, read in row id order a page at a time, for a streaming match (run.ts): on
// this thread, or on a worker thread with its own read-only connection (due-reader-worker.ts) so the read
// overlaps the match. A page comes back from SQLite as one row of columns joined by U+001F; the window
// compares ids where they lie and builds a record only for a payment it hands out or passes over.

import type { SqliteConnection } from '../../../ledger/sqlite/database.js';
import { batchOf, type DueBatch } from '../due-window.js';
import { detached, type OurRecord } from '../match.js';

/** Our payments due on a date, a page at a time: rowid (column 9) after the given one, in rowid order. */
export const DAY_PAYMENTS_PAGE = `
  SELECT p.payment_id AS record_id, p.merchant_id, NULL AS payment_id, p.channel_txn_id, p.amount_minor, p.currency, p.status,
         p.cost_minor, p.business_date, p.rowid
  FROM payments p WHERE p.business_date = ? AND p.channel_id = ? AND p.rowid > ? ORDER BY p.rowid LIMIT ?`;

/**
 * The same page as one row of columns joined by the unit separator (U+001F) in SQLite: a million rows
 * read as a million JS arrays of values cost more than the query; this is one row a page. The last
 * column is the row ids.
 */
export const DAY_PAYMENTS_JOINED_PAGE = `
  SELECT count(*), max(rowid), group_concat(payment_id, char(31)), group_concat(merchant_id, char(31)),
         group_concat(ifnull(channel_txn_id, ''), char(31)), group_concat(amount_minor, char(31)), group_concat(currency, char(31)),
         group_concat(status, char(31)), group_concat(cost_minor, char(31)), group_concat(rowid, char(31))
  FROM (SELECT p.rowid, p.payment_id, p.merchant_id, p.channel_txn_id, p.amount_minor, p.currency, p.status, p.cost_minor
        FROM payments p WHERE p.business_date = ? AND p.channel_id = ? AND p.rowid > ? ORDER BY p.rowid LIMIT ?)`;

export const UNIT_SEPARATOR = '\u001f';

/** An integer column's text as a bigint: through a number while that is exact (BigInt of a text is ~3× slower). */
export const integerToBigint = (text: string): bigint => (text.length <= 15 ? BigInt(Number(text)) : BigInt(text));

/**
 * A page ready to post between threads: ids, merchants and transaction ids joined by U+001F (one string
 * each to copy) with where each value starts (`n + 1` offsets, the last one past the end), the integers as
 * Float64Arrays (exact: read digit by digit, at most 15 of them; else that column comes as its joined text),
 * status and currency as indexes into a few shared strings; or, when a value holds the separator, the
 * rows as SQLite gave them.
 */
export type DuePage =
  | {
      readonly n: number;
      readonly last: number;
      readonly ids: Joined;
      readonly merchants: Joined;
      readonly txns: Joined;
      readonly amounts: Float64Array | string;
      readonly costs: Float64Array | string;
      readonly statuses: Uint8Array;
      readonly currencies: Uint8Array;
      readonly dict: readonly string[];
      readonly rowids: Float64Array;
    }
  | { readonly n: number; readonly last: number; readonly rows: readonly (readonly unknown[])[] };

/** Values joined by U+001F, and where each starts (one offset more than values: the end + 1). */
export interface Joined {
  readonly text: string;
  readonly at: Uint32Array;
}

/** Reads one page after `afterRowid` (n 0: none left). */
export function readDuePage(db: SqliteConnection, channel: string, businessDate: string, afterRowid: number, limit: number): DuePage {
  const j = db.prepare(DAY_PAYMENTS_JOINED_PAGE).raw(true).get(businessDate, channel, afterRowid, limit) as unknown[];
  const n = Number(j[0]);
  if (n === 0) return { n: 0, last: afterRowid, rows: [] };
  const last = Number(j[1]);
  const columns = j.slice(2).map((v) => joinedOf(String(v), n));
  if (columns.some((c) => c === undefined)) return rowsPage(db, channel, businessDate, afterRowid, limit, n, last);
  const [ids, merchants, txns, amounts, currencies, statuses, costs, rowids] = columns as [Joined, Joined, Joined, Joined, Joined, Joined, Joined, Joined];
  const dict: string[] = [];
  const statusCodes = codes(statuses, n, dict);
  const currencyCodes = codes(currencies, n, dict);
  if (dict.length > 255) return rowsPage(db, channel, businessDate, afterRowid, limit, n, last);
  const rowidNumbers = numbers(rowids, n);
  // Row ids of 16 digits or more (never, in practice): the page row by row.
  if (rowidNumbers === undefined) return rowsPage(db, channel, businessDate, afterRowid, limit, n, last);
  return {
    n,
    last,
    ids,
    merchants,
    txns,
    amounts: numbers(amounts, n) ?? amounts.text,
    costs: numbers(costs, n) ?? costs.text,
    statuses: statusCodes,
    currencies: currencyCodes,
    dict,
    rowids: rowidNumbers,
  };
}

function rowsPage(db: SqliteConnection, channel: string, businessDate: string, afterRowid: number, limit: number, n: number, last: number): DuePage {
  return { n, last, rows: db.prepare(DAY_PAYMENTS_PAGE).raw(true).all(businessDate, channel, afterRowid, limit) as unknown[][] };
}

/** Where each of `n` values joined by U+001F starts; undefined when the text holds another count (a value with the separator in it). */
function joinedOf(text: string, n: number): Joined | undefined {
  const at = new Uint32Array(n + 1);
  let k = 1;
  for (let i = text.indexOf(UNIT_SEPARATOR); i >= 0; i = text.indexOf(UNIT_SEPARATOR, i + 1)) {
    if (k >= n) return undefined;
    at[k++] = i + 1;
  }
  if (k !== n) return undefined;
  at[n] = text.length + 1;
  return { text, at };
}

/** Value k of a joined column. */
const valueAt = (c: Joined, k: number): string => c.text.slice(c.at[k] as number, (c.at[k + 1] as number) - 1);

/** Whether value k of a joined column is `s`, compared in place. */
const valueIs = (c: Joined, k: number, s: string): boolean => (c.at[k + 1] as number) - 1 - (c.at[k] as number) === s.length && c.text.startsWith(s, c.at[k]);

/** A column of a few distinct texts as indexes into `dict` (shared by the page's columns). */
function codes(c: Joined, n: number, dict: string[]): Uint8Array {
  const out = new Uint8Array(n);
  let last = -1;
  for (let k = 0; k < n; k++) {
    if (last >= 0 && valueIs(c, k, dict[last] as string)) {
      out[k] = last;
      continue;
    }
    last = dict.findIndex((d) => valueIs(c, k, d));
    if (last < 0) last = dict.push(valueAt(c, k)) - 1;
    out[k] = last;
  }
  return out;
}

/** Integers of a joined column as numbers, read digit by digit; undefined when one is not exact as a number (or not an integer). */
function numbers(c: Joined, n: number): Float64Array | undefined {
  const out = new Float64Array(n);
  const { text, at } = c;
  for (let k = 0; k < n; k++) {
    let i = at[k] as number;
    const end = (at[k + 1] as number) - 1;
    const negative = text.charCodeAt(i) === 45;
    if (negative) i++;
    if (end - i < 1 || end - i > 15) return undefined;
    let v = 0;
    for (; i < end; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return undefined;
      v = v * 10 + d;
    }
    out[k] = negative ? -v : v;
  }
  return out;
}

/** An integer column of a page: from its numbers, or its text when a value is beyond 2^53. */
function integers(column: Float64Array | string): (i: number) => bigint {
  if (typeof column !== 'string') return (i) => BigInt(column[i] as number);
  const parts = column.split(UNIT_SEPARATOR);
  return (i) => BigInt(parts[i] as string);
}

/** One of our payments as a record, from its columns (as the payment queries select them). */
export function paymentRecord(
  recordId: string,
  merchantId: string,
  channelTxnId: string | null,
  amountMinor: bigint,
  currency: string,
  status: string,
  costMinor: bigint,
  businessDate: string | null,
): OurRecord {
  return { source: 'payment', recordId, merchantId, paymentId: null, channelTxnId, amountMinor, currency, status, costMinor, businessDate };
}

/** A page's payments as the window reads them. */
export function batchOfPage(page: DuePage, businessDate: string): DueBatch {
  if (page.n === 0) return batchOf([]);
  if ('rows' in page) {
    return batchOf(
      page.rows.map((r) => ({
        record: paymentRecord(String(r[0]), String(r[1]), r[3] === null ? null : String(r[3]), BigInt(r[4] as bigint), String(r[5]), String(r[6]), BigInt(r[7] as bigint), businessDate),
        paymentRowid: Number(r[9]),
      })),
    );
  }
  const { ids, merchants, txns, dict, statuses, currencies, rowids } = page;
  const amount = integers(page.amounts);
  const cost = integers(page.costs);
  const copy = (c: Joined, k: number): string => detached(valueAt(c, k));
  return {
    length: page.n,
    idIs: (k, id) => valueIs(ids, k, id),
    rowid: (k) => rowids[k] as number,
    named: (k, id) => {
      // A record used at once takes the id it was found by and views into the page; a kept one, copies.
      const view = id !== undefined;
      const txn = view ? valueAt(txns, k) : copy(txns, k);
      const record = paymentRecord(
        id ?? copy(ids, k),
        view ? valueAt(merchants, k) : copy(merchants, k),
        txn || null,
        amount(k),
        dict[currencies[k] as number] as string,
        dict[statuses[k] as number] as string,
        cost(k),
        businessDate,
      );
      return { record, paymentRowid: rowids[k] as number };
    },
  };
}
