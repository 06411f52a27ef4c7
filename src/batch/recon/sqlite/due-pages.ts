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

/** A page as it comes from SQLite: the joined columns, or (a value holds the separator) the rows. */
export type DuePage = { readonly n: number; readonly last: number; readonly joined: readonly string[] } | { readonly n: number; readonly last: number; readonly rows: readonly (readonly unknown[])[] };

/** Reads one page after `afterRowid` (n 0: none left). */
export function readDuePage(db: SqliteConnection, channel: string, businessDate: string, afterRowid: number, limit: number): DuePage {
  const j = db.prepare(DAY_PAYMENTS_JOINED_PAGE).raw(true).get(businessDate, channel, afterRowid, limit) as unknown[];
  const n = Number(j[0]);
  if (n === 0) return { n: 0, last: afterRowid, joined: [] };
  const joined = j.slice(2).map((v) => String(v));
  if (joined.every((c) => countParts(c) === n)) return { n, last: Number(j[1]), joined };
  const rows = db.prepare(DAY_PAYMENTS_PAGE).raw(true).all(businessDate, channel, afterRowid, limit) as unknown[][];
  return { n, last: Number(j[1]), rows };
}

function countParts(text: string): number {
  let n = 1;
  for (let i = text.indexOf(UNIT_SEPARATOR); i >= 0; i = text.indexOf(UNIT_SEPARATOR, i + 1)) n++;
  return n;
}

/** A page's payments as records with their row ids. */
export function namedOfPage(page: DuePage, businessDate: string): NamedRecord[] {
  const out: NamedRecord[] = [];
  if (page.n === 0) return out;
  if ('rows' in page) {
    for (const r of page.rows) {
      const record: OurRecord = {
        source: 'payment',
        recordId: String(r[0]),
        merchantId: String(r[1]),
        paymentId: null,
        channelTxnId: r[3] === null ? null : String(r[3]),
        amountMinor: BigInt(r[4] as bigint),
        currency: String(r[5]),
        status: String(r[6]),
        costMinor: BigInt(r[7] as bigint),
        businessDate,
      };
      out.push({ record, paymentRowid: Number(r[9]) });
    }
    return out;
  }
  const [ids, merchants, txns, amounts, currencies, statuses, costs, rowids] = page.joined.map((c) => c.split(UNIT_SEPARATOR)) as [string[], string[], string[], string[], string[], string[], string[], string[]];
  for (let i = 0; i < page.n; i++) {
    const record: OurRecord = {
      source: 'payment',
      recordId: ids[i] as string,
      merchantId: merchants[i] as string,
      paymentId: null,
      channelTxnId: (txns[i] as string) || null,
      amountMinor: integerToBigint(amounts[i] as string),
      currency: currencies[i] as string,
      status: statuses[i] as string,
      costMinor: integerToBigint(costs[i] as string),
      businessDate,
    };
    out.push({ record, paymentRowid: Number(rowids[i]) });
  }
  return out;
}
