// Reading a date's stored splits in payment order for the statements (part of the SQLite adapter, sqlite.ts).
//
// A million payments read row by row cost ~2.5 µs each in better-sqlite3 (a call into SQLite and a JS value
// per column). So a page of payments (with the clawback lines of its payments, merged in by SQLite as the
// share_lines order has it: payment, source kind, source) comes back as ONE text: records separated by RS
// (U+001E), fields by US (U+001F), integers as their digits. A page is read this way only when it parses
// back exactly: as many records as rows, each with its number of fields (an id holding RS or US breaks one
// of the two) and in (payment, kind, source) order by SQLite's BINARY collation (group_concat follows its
// subquery's order, which SQL does not promise: it is checked). Otherwise the page is read row by row.

import type { SqliteStatement } from '../../ledger/sqlite/database.js';
import type { PartyKind } from './core.js';
import type { PaymentRange, SplitVisitor, StoredSplit, StoredTable } from './port.js';
import { cachedUpTo } from './memo.js';

/** Payments per page: one text of ~50 bytes each, and the lines of the page's refunds. */
export const SPLIT_PAGE_PAYMENTS = 5_000;
/** Share arrays parsed, by their JSON text, and splits, by id (many payments have the same); each cache is dropped whole when full. */
const PARSED_ARRAYS_MAX = 100_000;

const RS = '\u001e';
const US = '\u001f';
const PAYMENT_FIELDS = 5;
const CLAWBACK_FIELDS = 12;
/** Slots per record in SplitReader.fieldStarts: the start of each field and of the next record. */
const FIELD_SLOTS = CLAWBACK_FIELDS + 1;
/** A clawback record starts with "R" (a payment's with its table id's digits). A payment's record holds its
 *  split's id: the split's amounts are read once per split (share_splits) and kept. */
const CLAWBACK_MARK = 'R'.charCodeAt(0);

/** concat_ws builds each record in one call (a chain of || copies the growing text at each step); its
 *  arguments are all NOT NULL (a NULL would be skipped, and the record then fails the field count). */
const PAYMENT_RECORD = `concat_ws(char(31), table_id, split_id, currency, merchant_id, payment_id)`;
const CLAWBACK_RECORD = `concat_ws(char(31), 'R', payment_id, source_id, party_id, party_kind, merchant_id, currency, rule_id, base_minor, rate, share_minor, clipped_minor)`;

/** A split's amounts as kept in share_splits. */
type SplitAmounts = Pick<StoredSplit, 'baseMinor' | 'sharesMinor' | 'clippedMinor' | 'platformShareMinor'>;

/** Every payment of the date. */
const ALL_PAYMENTS: PaymentRange = { after: null, last: null };

/** The bounds of a page: payment ids in (after, last]; null = open on that side. */
type Bounds = readonly [after: string | null, last: string | null];

const range = (column: string, [after, last]: Bounds): string => `${after === null ? '' : ` AND ${column} > @after`}${last === null ? '' : ` AND ${column} <= @last`}`;
const params = (businessDate: string, [after, last]: Bounds): Record<string, string> => ({
  date: businessDate,
  ...(after === null ? {} : { after }),
  ...(last === null ? {} : { last }),
});

/** The page as one text (see the top of the file): its row count and the records. */
const packedPageSql = (b: Bounds): string =>
  `SELECT COUNT(*), group_concat(rec, char(30)) FROM (
     SELECT payment_id AS pid, 0 AS k, payment_id AS sid, ${PAYMENT_RECORD} AS rec FROM share_payments WHERE business_date = @date${range('payment_id', b)}
     UNION ALL
     SELECT payment_id, 1, source_id, ${CLAWBACK_RECORD} FROM share_refund_lines WHERE business_date = @date${range('payment_id', b)}
     ORDER BY 1, 2, 3)`;

/** The page row by row (the way every page was read before; and when its text does not parse back). */
const rowsPageSql = (b: Bounds): string =>
  `SELECT 0 AS k, payment_id AS pid, payment_id AS sid, merchant_id, currency, table_id, split_id, NULL, NULL, NULL,
          NULL AS party_id, NULL AS party_kind, NULL AS rule_id, NULL AS rate
     FROM share_payments WHERE business_date = @date${range('payment_id', b)}
   UNION ALL
   SELECT 1, payment_id, source_id, merchant_id, currency, NULL, base_minor, NULL, clipped_minor, share_minor, party_id, party_kind, rule_id, rate
     FROM share_refund_lines WHERE business_date = @date${range('payment_id', b)}
   ORDER BY 2, 1, 3`;

/** A JSON array of integers as jsonIntegers wrote it ("[12,0,-3]"), exactly (no detour through a float). */
export function parseIntegers(text: string): readonly bigint[] {
  const inner = text.slice(1, -1).trim();
  return inner === '' ? [] : inner.split(',').map((x) => BigInt(x.trim()));
}

/** SQLite's BINARY order (UTF-8 bytes, i.e. code points) of two ranges of one text, [a, aEnd) and [b, bEnd).
 *  UTF-16 code units order the same except a surrogate (of a code point above U+FFFF) against a unit from
 *  U+E000 up, which it is above. */
export function compareRanges(text: string, a: number, aEnd: number, b: number, bEnd: number): number {
  const n = Math.min(aEnd - a, bEnd - b);
  for (let i = 0; i < n; i++) {
    const x = text.charCodeAt(a + i);
    const y = text.charCodeAt(b + i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys && (xs ? y : x) >= 0xe000) return xs ? 1 : -1;
    return x - y;
  }
  return aEnd - a - (bEnd - b);
}

export class SplitReader {
  private readonly tables = new Map<number, StoredTable>();
  private readonly integers = new Map<string, readonly bigint[]>();
  private readonly splits = new Map<number, SplitAmounts>();
  /** Where the fields of a packed page's records start (see index). */
  private fieldStarts = new Int32Array(0);
  /** Pages read as one text, and pages read row by row (their text did not parse back). */
  readonly pages = { packed: 0, rows: 0 };
  /** The split handed to the visitor, overwritten for each payment. */
  private readonly split: { -readonly [K in keyof StoredSplit]: StoredSplit[K] } = {
    paymentId: '',
    merchantId: '',
    currency: '',
    table: { ruleId: '', platformRate: null, seats: [] },
    baseMinor: 0n,
    sharesMinor: [],
    clippedMinor: null,
    platformShareMinor: null,
  };

  constructor(
    private readonly stmt: (sql: string) => SqliteStatement,
    private readonly pagePayments: number = SPLIT_PAGE_PAYMENTS,
  ) {
    if (!(Number.isSafeInteger(pagePayments) && pagePayments >= 1)) throw new Error(`pages of ${pagePayments} payments`);
  }

  /** Visits the date's splits and clawback lines in (payment, source kind, source) order, page by page; only
   *  those of payment ids in `range` when given (clawbacks go with their payment id, shared on the date or not). */
  each(businessDate: string, visit: SplitVisitor, range: PaymentRange = ALL_PAYMENTS): void {
    const upTo = range.last === null ? '' : ' AND payment_id <= ?';
    const bound = this.stmt(`SELECT payment_id FROM share_payments WHERE business_date = ? AND payment_id > ?${upTo} ORDER BY payment_id LIMIT 1 OFFSET ?`).pluck(true);
    const first = this.stmt(`SELECT payment_id FROM share_payments WHERE business_date = ?${upTo} ORDER BY payment_id LIMIT 1 OFFSET ?`).pluck(true);
    const capped = range.last === null ? [] : [range.last];
    for (let after = range.after; ; ) {
      // The page's last payment id; none found: the page runs to the range's end and is the last.
      const found = (after === null ? first.get(businessDate, ...capped, this.pagePayments - 1) : bound.get(businessDate, after, ...capped, this.pagePayments - 1)) as string | undefined;
      const last = found ?? range.last;
      const bounds: Bounds = [after, last];
      const [count, text] = this.stmt(packedPageSql(bounds)).raw(true).get(params(businessDate, bounds)) as [bigint, string | null];
      if (this.visitPacked(Number(count), text, visit)) this.pages.packed++;
      else {
        this.visitRows(businessDate, bounds, visit);
        this.pages.rows++;
      }
      if (found === undefined) return;
      after = found;
    }
  }

  /** Parses the page's text and visits it; false (having visited nothing) when it does not parse back exactly. */
  private visitPacked(count: number, text: string | null, visit: SplitVisitor): boolean {
    if (count === 0) return true;
    if (text === null || !this.index(count, text)) return false;
    const at = this.fieldStarts;
    const field = (r: number, k: number): string => text.slice(at[r * FIELD_SLOTS + k], (at[r * FIELD_SLOTS + k + 1] as number) - 1);
    for (let r = 0; r < count; r++) {
      const f = r * FIELD_SLOTS;
      if (text.charCodeAt(at[f] as number) === CLAWBACK_MARK) {
        visit.clawback({
          paymentId: field(r, 1),
          sourceKind: 'refund',
          sourceId: field(r, 2),
          partyId: field(r, 3),
          partyKind: field(r, 4) as PartyKind,
          merchantId: field(r, 5),
          currency: field(r, 6),
          ruleId: field(r, 7),
          baseMinor: BigInt(field(r, 8)),
          rate: field(r, 9),
          shareMinor: BigInt(field(r, 10)),
          clippedMinor: BigInt(field(r, 11)),
        });
        continue;
      }
      this.visitSplit(visit, Number(field(r, 0)), Number(field(r, 1)), field(r, 4), field(r, 3), field(r, 2));
    }
    return true;
  }

  /**
   * Finds where each field of each record starts (fieldStarts: FIELD_SLOTS per record, the slot after a
   * record's last field is where the next record starts) and checks the page parses back: `count` records
   * (count − 1 RS), each with exactly its fields (no field held an RS or a US), in (payment, kind, source)
   * order by BINARY collation.
   */
  private index(count: number, text: string): boolean {
    if (this.fieldStarts.length < count * FIELD_SLOTS) this.fieldStarts = new Int32Array(count * FIELD_SLOTS * 2);
    const at = this.fieldStarts;
    let start = 0;
    let pid = -1;
    let pidEnd = -1;
    let kind = -1;
    let sid = -1;
    let sidEnd = -1;
    for (let r = 0; r < count; r++) {
      let end = text.indexOf(RS, start);
      if (r === count - 1) {
        if (end !== -1) return false;
        end = text.length;
      } else if (end === -1) return false;
      const clawback = text.charCodeAt(start) === CLAWBACK_MARK;
      const fields = clawback ? CLAWBACK_FIELDS : PAYMENT_FIELDS;
      const f = r * FIELD_SLOTS;
      at[f] = start;
      let from = start;
      for (let k = 1; k < fields; k++) {
        const us = text.indexOf(US, from);
        if (us === -1 || us >= end) return false;
        from = us + 1;
        at[f + k] = from;
      }
      const extra = text.indexOf(US, from);
      if (extra !== -1 && extra < end) return false;
      at[f + fields] = end + 1;
      // (payment, kind, source) never goes down; a payment's own record is the only one with its key.
      const p = at[f + (clawback ? 1 : 4)] as number;
      const pEnd = (at[f + (clawback ? 2 : 5)] as number) - 1;
      const s = clawback ? (at[f + 2] as number) : p;
      const sEnd = clawback ? (at[f + 3] as number) - 1 : pEnd;
      const k = clawback ? 1 : 0;
      const order = pid === -1 ? -1 : compareRanges(text, pid, pidEnd, p, pEnd) || kind - k || compareRanges(text, sid, sidEnd, s, sEnd);
      if (order > 0 || (order === 0 && k === 0)) return false;
      pid = p;
      pidEnd = pEnd;
      kind = k;
      sid = s;
      sidEnd = sEnd;
      start = end + 1;
    }
    return true;
  }

  private visitRows(businessDate: string, bounds: Bounds, visit: SplitVisitor): void {
    const rows = this.stmt(rowsPageSql(bounds)).raw(true).iterate(params(businessDate, bounds)) as Iterable<unknown[]>;
    for (const r of rows) {
      if (r[0] === 0n || r[0] === 0) this.visitSplit(visit, Number(r[5] as bigint), Number(r[6] as bigint), r[1] as string, r[3] as string, r[4] as string);
      else {
        visit.clawback({
          paymentId: r[1] as string,
          sourceKind: 'refund',
          sourceId: r[2] as string,
          partyId: r[10] as string,
          partyKind: r[11] as PartyKind,
          merchantId: r[3] as string,
          currency: r[4] as string,
          ruleId: r[12] as string,
          baseMinor: r[6] as bigint,
          rate: r[13] as string,
          shareMinor: r[9] as bigint,
          clippedMinor: r[8] as bigint,
        });
      }
    }
  }

  private visitSplit(visit: SplitVisitor, tableId: number, splitId: number, paymentId: string, merchantId: string, currency: string): void {
    const s = this.split;
    const amounts = this.amountsOf(splitId);
    s.table = this.tableOf(tableId);
    s.paymentId = paymentId;
    s.merchantId = merchantId;
    s.currency = currency;
    s.baseMinor = amounts.baseMinor;
    s.sharesMinor = amounts.sharesMinor;
    s.clippedMinor = amounts.clippedMinor;
    s.platformShareMinor = amounts.platformShareMinor;
    if (s.sharesMinor.length !== s.table.seats.length) throw new Error(`share_payments ${paymentId}: ${s.sharesMinor.length} shares for ${s.table.seats.length} seats`);
    visit.split(s);
  }

  /** A row of share_splits, parsed (each once per reader while the cache holds it). */
  private amountsOf(splitId: number): SplitAmounts {
    return cachedUpTo(this.splits, PARSED_ARRAYS_MAX, splitId, () => {
      const r = this.stmt('SELECT base_minor, shares, clipped, platform_share_minor FROM share_splits WHERE split_id = ?').raw(true).get(splitId) as [bigint, string, string | null, bigint | null] | undefined;
      if (r === undefined) throw new Error(`share_splits has no split ${splitId}`);
      return { baseMinor: r[0], sharesMinor: this.integersOf(r[1]), clippedMinor: r[2] === null ? null : this.integersOf(r[2]), platformShareMinor: r[3] };
    });
  }

  private integersOf(text: string): readonly bigint[] {
    return cachedUpTo(this.integers, PARSED_ARRAYS_MAX, text, () => parseIntegers(text));
  }

  /** A row of share_tables, its seats parsed (each once per reader). */
  private tableOf(tableId: number): StoredTable {
    let table = this.tables.get(tableId);
    if (table === undefined) {
      const r = this.stmt('SELECT rule_id, platform_rate, seats FROM share_tables WHERE table_id = ?').raw(true).get(tableId) as [string, string | null, string] | undefined;
      if (r === undefined) throw new Error(`share_tables has no table ${tableId}`);
      const seats = (JSON.parse(r[2]) as [string, PartyKind, string][]).map(([partyId, partyKind, rate]) => ({ partyId, partyKind, rate }));
      table = { ruleId: r[0], platformRate: r[1], seats };
      this.tables.set(tableId, table);
    }
    return table;
  }
}
