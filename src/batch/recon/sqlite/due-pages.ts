// Our payments due on a date, read in row id order a page at a time, for a streaming match (run.ts): on
// this thread, or on a worker thread with its own read-only connection (due-reader-worker.ts) so the read
// overlaps the match. A page comes back from SQLite as one row of columns joined by U+001F, turned into
// records here.

import type { SqliteConnection } from '../../../ledger/sqlite/database.js';
import type { OurRecord } from '../match.js';
import type { NamedRecord } from '../stream-match.js';

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
 * each to copy), the integers as Float64Arrays (exact: every value below 2^53, else `exact` is false and
 * they come as the joined text), status and currency as indexes into a few shared strings; or, when a
 * value holds the separator, the rows as SQLite gave them.
 */
export type DuePage =
  | {
      readonly n: number;
      readonly last: number;
      readonly ids: string;
      readonly merchants: string;
      readonly txns: string;
      readonly amounts: Float64Array | string;
      readonly costs: Float64Array | string;
      readonly statuses: Uint8Array;
      readonly currencies: Uint8Array;
      readonly dict: readonly string[];
      readonly rowids: Float64Array;
    }
  | { readonly n: number; readonly last: number; readonly rows: readonly (readonly unknown[])[] };

/** Reads one page after `afterRowid` (n 0: none left). */
export function readDuePage(db: SqliteConnection, channel: string, businessDate: string, afterRowid: number, limit: number): DuePage {
  const j = db.prepare(DAY_PAYMENTS_JOINED_PAGE).raw(true).get(businessDate, channel, afterRowid, limit) as unknown[];
  const n = Number(j[0]);
  if (n === 0) return { n: 0, last: afterRowid, rows: [] };
  const joined = j.slice(2).map((v) => String(v));
  const last = Number(j[1]);
  if (!joined.every((c) => countParts(c) === n)) {
    return { n, last, rows: db.prepare(DAY_PAYMENTS_PAGE).raw(true).all(businessDate, channel, afterRowid, limit) as unknown[][] };
  }
  const [ids, merchants, txns, amounts, currencies, statuses, costs, rowids] = joined as [string, string, string, string, string, string, string, string];
  const dict: string[] = [];
  const codes = (text: string): Uint8Array => {
    const out = new Uint8Array(n);
    const index = new Map<string, number>();
    text.split(UNIT_SEPARATOR).forEach((v, i) => {
      let k = index.get(v);
      if (k === undefined) {
        k = dict.indexOf(v);
        if (k < 0) k = dict.push(v) - 1;
        index.set(v, k);
      }
      out[i] = k;
    });
    return out;
  };
  const statusCodes = codes(statuses);
  const currencyCodes = codes(currencies);
  if (dict.length > 255) return { n, last, rows: db.prepare(DAY_PAYMENTS_PAGE).raw(true).all(businessDate, channel, afterRowid, limit) as unknown[][] };
  return { n, last, ids, merchants, txns, amounts: numbers(amounts) ?? amounts, costs: numbers(costs) ?? costs, statuses: statusCodes, currencies: currencyCodes, dict, rowids: numbers(rowids) as Float64Array };
}

/** Integers of a joined column as numbers, or undefined when one is not exact as a number. */
function numbers(text: string): Float64Array | undefined {
  const parts = text.split(UNIT_SEPARATOR);
  const out = new Float64Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const v = Number(parts[i]);
    if (!Number.isSafeInteger(v)) return undefined;
    out[i] = v;
  }
  return out;
}

function countParts(text: string): number {
  let n = 1;
  for (let i = text.indexOf(UNIT_SEPARATOR); i >= 0; i = text.indexOf(UNIT_SEPARATOR, i + 1)) n++;
  return n;
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

/** A page's payments as records with their row ids. */
export function namedOfPage(page: DuePage, businessDate: string): NamedRecord[] {
  const out: NamedRecord[] = [];
  if (page.n === 0) return out;
  if ('rows' in page) {
    for (const r of page.rows) {
      const record = paymentRecord(String(r[0]), String(r[1]), r[3] === null ? null : String(r[3]), BigInt(r[4] as bigint), String(r[5]), String(r[6]), BigInt(r[7] as bigint), businessDate);
      out.push({ record, paymentRowid: Number(r[9]) });
    }
    return out;
  }
  const ids = page.ids.split(UNIT_SEPARATOR);
  const merchants = page.merchants.split(UNIT_SEPARATOR);
  const txns = page.txns.split(UNIT_SEPARATOR);
  const amount = integers(page.amounts);
  const cost = integers(page.costs);
  const { dict, statuses, currencies, rowids } = page;
  for (let i = 0; i < page.n; i++) {
    const record = paymentRecord(ids[i] as string, merchants[i] as string, (txns[i] as string) || null, amount(i), dict[currencies[i] as number] as string, dict[statuses[i] as number] as string, cost(i), businessDate);
    out.push({ record, paymentRowid: rowids[i] as number });
  }
  return out;
}
