// The SQLite adapter of the clearing store. It shares the ledger's connection, so a batch row, the number
// that settles its items (written before it) and its ledger entries commit in one transaction: a run
// killed half way leaves whole batches, and the re-run skips the merchants already written. The online core's tables (payments,
// refunds, captures, preauths) and reconciliation's (recon_items, recon_runs) are read by SQL only:
// src/batch never imports src/online.
//
// settlement_batches      one row per merchant, currency and run date (read by merchant statements)
// clearing_item_rows      every payment, capture and refund id a run gave a batch, with the number of that
//                         batch (keyed by kind and id only: a second index would cost a third of the write time)
// clearing_batch_numbers  the number of each written batch: written with the batch row, and what makes its
//                         item rows count as settled (an item row whose number has no row here is not settled)
// clearing_items          a view of the settled items in the shape readers know (kind, item_id, batch_id,
//                         business_date, amounts): item rows joined to their written batch
// clearing_batch_no_last  the last batch number handed out: numbers are never reused, so an item row left by
//                         a killed run never joins a batch written later
// clearing_volumes        payments and captures settled per merchant, currency and month (the rate card's tiers)
// clearing_runs           one row per run date: running until every batch is written, then done
//
// A run writes in two phases: first every item row, in key order (kind, id), a transaction per
// itemsPerTransactionMax items; then per transaction a set of batches: their rows, their numbers, the month
// volumes and the ledger entries. A run killed in the first phase leaves item rows of unwritten batches; they
// are not settled, so the re-run takes those items again and its rows replace them (an item row of a written
// batch is never replaced: the insert refuses and the transaction rolls back).

import type { AccountSpec } from '../../ledger/index.js';
import type { SqliteConnection, SqliteStatement } from '../../ledger/sqlite/database.js';
import { hasTable, migrateModule, statementCache } from '../../ledger/sqlite/database.js';
import type { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { migrateRecon } from '../recon/sqlite/recon-store.js';
import { LOCAL_PRODUCTS } from './config.js';
import { batchKey, volumeKey, type Batch, type CandidateItem } from './core.js';
import type { BatchWrite, ClearingRunState, ClearingStore, ItemWrite, StoredBatch } from './port.js';

export const CLEARING_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE settlement_batches (
    batch_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, business_date TEXT NOT NULL, currency TEXT NOT NULL,
    gross_minor INTEGER NOT NULL, refunds_minor INTEGER NOT NULL, fees_minor INTEGER NOT NULL, adjustments_minor INTEGER NOT NULL,
    net_minor INTEGER NOT NULL, carried_in_minor INTEGER NOT NULL, carried_out_minor INTEGER NOT NULL, payout_minor INTEGER NOT NULL,
    items INTEGER NOT NULL, status TEXT NOT NULL CHECK (status IN ('paid_out', 'carried')), created_at_ms INTEGER NOT NULL,
    UNIQUE (business_date, merchant_id, currency)
  ) STRICT;
  CREATE INDEX settlement_batches_merchant ON settlement_batches (merchant_id, currency, business_date);

  CREATE TABLE clearing_items (
    kind TEXT NOT NULL CHECK (kind IN ('payment', 'refund', 'capture')), item_id TEXT NOT NULL, batch_id TEXT NOT NULL,
    business_date TEXT NOT NULL, amount_minor INTEGER NOT NULL, booked_fee_minor INTEGER NOT NULL, fee_minor INTEGER NOT NULL,
    PRIMARY KEY (kind, item_id)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE clearing_volumes (
    merchant_id TEXT NOT NULL, currency TEXT NOT NULL, month TEXT NOT NULL, volume_minor INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, currency, month)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE clearing_runs (
    business_date TEXT PRIMARY KEY, status TEXT NOT NULL CHECK (status IN ('running', 'done')),
    started_at_ms INTEGER NOT NULL, finished_at_ms INTEGER
  ) STRICT;
  `,
  // 2: item rows carry a batch number instead of the batch id text and the day as an integer (yyyymmdd):
  // a narrower row is 40% less B-tree work per item. clearing_items becomes a view with the old columns.
  `
  CREATE TABLE clearing_batch_numbers (batch_no INTEGER PRIMARY KEY, batch_id TEXT NOT NULL UNIQUE) STRICT;
  INSERT INTO clearing_batch_numbers (batch_id)
    SELECT batch_id FROM (SELECT batch_id FROM settlement_batches UNION SELECT batch_id FROM clearing_items) ORDER BY batch_id;
  CREATE TABLE clearing_batch_no_last (only INTEGER PRIMARY KEY CHECK (only = 1), last_no INTEGER NOT NULL) STRICT;
  INSERT INTO clearing_batch_no_last (only, last_no) SELECT 1, COALESCE(MAX(batch_no), 0) FROM clearing_batch_numbers;

  CREATE TABLE clearing_item_rows (
    kind TEXT NOT NULL CHECK (kind IN ('payment', 'refund', 'capture')), item_id TEXT NOT NULL, batch_no INTEGER NOT NULL,
    business_day INTEGER NOT NULL, amount_minor INTEGER NOT NULL, booked_fee_minor INTEGER NOT NULL, fee_minor INTEGER NOT NULL,
    PRIMARY KEY (kind, item_id)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO clearing_item_rows (kind, item_id, batch_no, business_day, amount_minor, booked_fee_minor, fee_minor)
    SELECT c.kind, c.item_id, n.batch_no, CAST(replace(c.business_date, '-', '') AS INTEGER), c.amount_minor, c.booked_fee_minor, c.fee_minor
    FROM clearing_items c JOIN clearing_batch_numbers n ON n.batch_id = c.batch_id ORDER BY c.kind, c.item_id;
  DROP TABLE clearing_items;

  CREATE VIEW clearing_items (kind, item_id, batch_id, business_date, amount_minor, booked_fee_minor, fee_minor) AS
    SELECT i.kind, i.item_id, n.batch_id, printf('%04d-%02d-%02d', i.business_day / 10000, i.business_day / 100 % 100, i.business_day % 100),
           i.amount_minor, i.booked_fee_minor, i.fee_minor
    FROM clearing_item_rows i JOIN clearing_batch_numbers n ON n.batch_no = i.batch_no;
  `,
];

type Row = Record<string, unknown>;
const big = (v: unknown): bigint => BigInt(v as bigint | number);
const str = (v: unknown): string => v as string;
/** The page cache of the connection while it clears (KiB). */
const PAGE_CACHE_KIB = 256 * 1024;
const ITEMS_PER_INSERT = 64;
/** Columns of a clearing_item_rows row as inserted. */
const ITEM_COLUMNS = 7;
const itemValues = (n: number): string => Array<string>(n).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ');
/**
 * The item rows of a batch not yet written replace the rows a killed run left (their batch number has no
 * row in clearing_batch_numbers); the row of a settled item stays, and the statement changes fewer rows
 * than it was given.
 */
const ITEM_ROWS_UPSERT = `
  ON CONFLICT (kind, item_id) DO UPDATE SET batch_no = excluded.batch_no, business_day = excluded.business_day,
    amount_minor = excluded.amount_minor, booked_fee_minor = excluded.booked_fee_minor, fee_minor = excluded.fee_minor
  WHERE NOT EXISTS (SELECT 1 FROM clearing_batch_numbers n WHERE n.batch_no = clearing_item_rows.batch_no)`;
/** A business date (yyyy-mm-dd) as the integer yyyymmdd that clearing_item_rows keeps. */
const dayNumber = (date: string): number => Number(date.slice(0, 4)) * 10_000 + Number(date.slice(5, 7)) * 100 + Number(date.slice(8, 10));
/** Commands per ledger call: below LIMITS.commandsPerBatchMax. */
const COMMANDS_PER_POST = 4_000;

/**
 * Payments and captures and refunds due, not yet settled; the date range bounds the scan. The first eight
 * columns are the same in all three; refunds add five about their payment.
 *
 * Payments are read a (business date, channel) at a time, the order of the index payments_channel_day,
 * in pages by rowid: a page is one row whose columns are the page's values joined by the unit separator
 * (U+001F) in SQLite. A million rows read as a million JS arrays of eight values cost more than the query.
 * The joined columns are NOT NULL (group_concat would skip a NULL); a page whose values hold the separator
 * has a column of more parts than rows and is read again row by row.
 */
const PAYMENT_DATE_NEXT = `
  SELECT business_date FROM payments WHERE business_date >= ? AND business_date > ? AND business_date <= ? ORDER BY business_date LIMIT 1`;
const PAYMENT_CHANNEL_FIRST = 'SELECT channel_id FROM payments WHERE business_date = ? AND channel_id >= \'\' ORDER BY channel_id LIMIT 1';
const PAYMENT_CHANNEL_NEXT = 'SELECT channel_id FROM payments WHERE business_date = ? AND channel_id > ? ORDER BY channel_id LIMIT 1';
const CANDIDATE_PAYMENTS_WHERE = `
  p.business_date = ? AND p.channel_id IS ? AND p.rowid > ? AND p.status IN ('succeeded', 'partially_refunded', 'refunded')
    AND NOT EXISTS (SELECT 1 FROM clearing_items c WHERE c.kind = 'payment' AND c.item_id = p.payment_id)
  ORDER BY p.rowid LIMIT ?`;
const CANDIDATE_PAYMENTS_JOINED_PAGE = `
  SELECT count(*), max(rowid), group_concat(payment_id, char(31)), group_concat(merchant_id, char(31)), group_concat(amount_minor, char(31)),
         group_concat(fee_minor, char(31)), min(currency), max(currency), group_concat(currency, char(31)), min(product), max(product),
         group_concat(product, char(31))
  FROM (SELECT p.rowid, p.payment_id, p.merchant_id, p.currency, p.amount_minor, p.product, p.fee_minor
        FROM payments p WHERE ${CANDIDATE_PAYMENTS_WHERE})`;
/** The same page a row each (columns in the joined page's order, then the rowid). */
const CANDIDATE_PAYMENTS_PAGE = `
  SELECT p.payment_id, p.merchant_id, p.currency, p.amount_minor, p.product, p.fee_minor, p.rowid
  FROM payments p WHERE ${CANDIDATE_PAYMENTS_WHERE}`;
const UNIT_SEPARATOR = '\u001f';
/**
 * An INTEGER column's decimal text as a bigint. Up to 15 characters (sign included) it is a safe integer,
 * and BigInt of a number is ~3× cheaper than BigInt's own parse of the text.
 */
const decimalToBigint = (text: string): bigint => (text.length <= 15 ? BigInt(Number(text)) : BigInt(text));
/**
 * A page's column of a value repeated on most pages (currency, product): the one string when the page's
 * minimum is its maximum (no string per row kept, and one hash for the maps that key on it), else the parts.
 */
const pageColumn = (min: unknown, max: unknown, joined: unknown): string | string[] => (min === max ? str(min) : str(joined).split(UNIT_SEPARATOR));
/** Payments per joined page: a page of strings dies young (as recon's reads of the same table found). */
const PAYMENTS_PAGE_ROWS = 5_000;
const CANDIDATE_REFUNDS = `
  SELECT r.refund_id, r.merchant_id, r.currency, e.business_date, r.amount_minor, p.product, p.channel_id, r.fee_returned_minor,
         r.payment_id, p.amount_minor, p.fee_minor,
         (SELECT c.fee_minor FROM clearing_items c WHERE c.kind = 'payment' AND c.item_id = r.payment_id) AS settled_fee_minor,
         (SELECT COALESCE(SUM(r2.amount_minor), 0) FROM refunds r2 WHERE r2.payment_id = r.payment_id AND r2.status = 'succeeded'
            AND (r2.created_at_ms < r.created_at_ms OR (r2.created_at_ms = r.created_at_ms AND r2.refund_id < r.refund_id))) AS refunded_before_minor
  FROM entries e JOIN refunds r ON r.refund_id = substr(e.entry_id, 8) JOIN payments p ON p.payment_id = r.payment_id
  WHERE e.business_date BETWEEN ? AND ? AND substr(e.entry_id, 1, 7) = 'refund.' AND r.status = 'succeeded'
    AND NOT EXISTS (SELECT 1 FROM clearing_items c WHERE c.kind = 'refund' AND c.item_id = r.refund_id)`;
const CANDIDATE_CAPTURES = `
  SELECT c.capture_id, c.merchant_id, c.currency, e.business_date, c.amount_minor, 'preauth', a.channel_id, c.fee_minor
  FROM entries e JOIN captures c ON c.capture_id = substr(e.entry_id, 5) JOIN preauths a ON a.preauth_id = c.preauth_id
  WHERE e.business_date BETWEEN ? AND ? AND substr(e.entry_id, 1, 4) = 'cap.' AND c.status = 'succeeded'
    AND NOT EXISTS (SELECT 1 FROM clearing_items x WHERE x.kind = 'capture' AND x.item_id = c.capture_id)`;

/**
 * What reconciliation settled: matched items and resolved discrepancies of current runs from a date on.
 * Its outcomes are item rows (recon_items) and packed matched pairs (recon_pair_blocks); the view
 * recon_outcomes joins both.
 */
const RECONCILED_ITEMS = `
  SELECT i.record_source, i.record_id FROM recon_runs r JOIN recon_items i ON i.run_id = r.run_id
  WHERE r.status = 'current' AND r.business_date >= ? AND i.record_id IS NOT NULL
    AND (i.outcome = 'matched' OR (i.outcome = 'discrepancy' AND i.status = 'resolved'))`;
const RECONCILED_PAIR_BLOCKS = `
  SELECT b.pairs FROM recon_runs r JOIN recon_pair_blocks b ON b.run_id = r.run_id WHERE r.status = 'current' AND r.business_date >= ?`;
/** A packed pair's record source (recon_outcomes' CASE): r a refund, c a capture, anything else a payment. */
const pairSource = (code: unknown): CandidateItem['kind'] => (code === 'r' ? 'refund' : code === 'c' ? 'capture' : 'payment');

const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const isDigits = (text: string, from: number, to: number): boolean => {
  if (to <= from) return false;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
};

/**
 * A pair block's (source, id) of every pair, found by the quotes instead of JSON.parse (which makes four
 * values a pair: 1.2–1.5 s CPU for a million pairs, the scan 0.8–1.2 s). Only a block of the exact shape
 * [["k",seq,"s","id"],…] without a backslash (so without an escaped character) is scanned; anything else
 * returns false and the caller parses the block. Ids of pairs checked before a false are correct ones.
 */
function scanPairBlock(text: string, into: Record<CandidateItem['kind'], Set<string>>): boolean {
  if (text.charCodeAt(0) !== OPEN || text.indexOf('\\') !== -1) return false;
  if (text === '[]') return true;
  for (let at = 1; ; ) {
    if (text.charCodeAt(at) !== OPEN || text.charCodeAt(at + 1) !== QUOTE) return false;
    const kindEnd = text.indexOf('"', at + 2);
    const sourceStart = text.indexOf('"', kindEnd + 1);
    const sourceEnd = text.indexOf('"', sourceStart + 1);
    const idStart = text.indexOf('"', sourceEnd + 1);
    const idEnd = text.indexOf('"', idStart + 1);
    if (kindEnd < 0 || sourceStart < 0 || sourceEnd < 0 || idStart < 0 || idEnd < 0) return false;
    const shaped =
      text.charCodeAt(kindEnd + 1) === COMMA &&
      isDigits(text, kindEnd + 2, sourceStart - 1) &&
      text.charCodeAt(sourceStart - 1) === COMMA &&
      idStart === sourceEnd + 2 &&
      text.charCodeAt(sourceEnd + 1) === COMMA &&
      text.charCodeAt(idEnd + 1) === CLOSE;
    if (!shaped) return false;
    into[pairSource(text.slice(sourceStart + 1, sourceEnd))].add(text.slice(idStart + 1, idEnd));
    const next = text.charCodeAt(idEnd + 2);
    if (next === CLOSE) return idEnd + 3 === text.length;
    if (next !== COMMA) return false;
    at = idEnd + 3;
  }
}

export class SqliteClearingStore implements ClearingStore {
  readonly db: SqliteConnection;
  private readonly ledger: SqliteLedgerStore;
  private readonly stmt: (sql: string) => SqliteStatement;
  private readonly itemInserts: SqliteStatement[] = [];

  constructor(ledger: SqliteLedgerStore) {
    this.ledger = ledger;
    this.db = ledger.db;
    this.stmt = statementCache(this.db);
    migrateModule(this.db, 'clearing', CLEARING_MIGRATIONS);
    // A run reads a day's payments and inserts as many items into B-trees of millions of rows: with
    // SQLite's default 2 MiB page cache every lookup and insert rereads inner pages from the OS.
    this.db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  }

  dayStatus(date: string): 'open' | 'closed' | undefined {
    const r = this.stmt('SELECT status FROM business_days WHERE business_date = ?').get(date) as Row | undefined;
    return r ? (str(r['status']) as 'open' | 'closed') : undefined;
  }

  runState(date: string): ClearingRunState | undefined {
    const r = this.stmt('SELECT status, started_at_ms FROM clearing_runs WHERE business_date = ?').get(date) as Row | undefined;
    return r ? { status: str(r['status']) as 'running' | 'done', startedAtMs: Number(big(r['started_at_ms'])) } : undefined;
  }

  beginRun(date: string, nowMs: number): ClearingRunState {
    this.stmt("INSERT INTO clearing_runs (business_date, status, started_at_ms) VALUES (?, 'running', ?) ON CONFLICT (business_date) DO NOTHING").run(date, nowMs);
    const state = this.runState(date);
    if (!state) throw new Error('clearing: run row missing after insert');
    return state;
  }

  finishRun(date: string, nowMs: number): void {
    this.stmt("UPDATE clearing_runs SET status = 'done', finished_at_ms = ? WHERE business_date = ?").run(nowMs, date);
  }

  candidates(fromDate: string, toDate: string, limit: number): CandidateItem[] {
    if (!hasTable(this.db, 'payments')) return [];
    const reconciled = this.reconciledSince(fromDate);
    const isReconciled = (kind: CandidateItem['kind'], itemId: string, product: string): boolean =>
      LOCAL_PRODUCTS.has(product) || reconciled[kind].has(itemId);
    const out: CandidateItem[] = [];
    this.candidatePaymentsInto(out, fromDate, toDate, limit, isReconciled);
    if (out.length >= limit) return out;
    // Positional rows (the SELECTs' column order; the first eight are the same in both). Captures and
    // refunds are few beside payments: an object each is cheap here.
    const base = (kind: 'capture' | 'refund', r: readonly unknown[]): CandidateItem => {
      const itemId = str(r[0]);
      const product = str(r[5]);
      return {
        kind,
        itemId,
        merchantId: str(r[1]),
        currency: str(r[2]),
        businessDate: str(r[3]),
        amountMinor: big(r[4]),
        product,
        channelId: r[6] === null ? null : str(r[6]),
        bookedFeeMinor: big(r[7]),
        reconciled: isReconciled(kind, itemId, product),
      };
    };
    for (const r of this.stmt(CANDIDATE_CAPTURES).raw(true).iterate(fromDate, toDate) as Iterable<unknown[]>) {
      if (out.length >= limit) return out;
      out.push(base('capture', r));
    }
    for (const r of this.stmt(CANDIDATE_REFUNDS).raw(true).iterate(fromDate, toDate) as Iterable<unknown[]>) {
      if (out.length >= limit) return out;
      out.push({
        ...base('refund', r),
        paymentId: str(r[8]),
        paymentAmountMinor: big(r[9]),
        paymentBookedFeeMinor: big(r[10]),
        paymentSettledFeeMinor: r[11] === null ? null : big(r[11]),
        refundedBeforeMinor: big(r[12]),
      });
    }
    return out;
  }

  /** The unsettled payments of each business date and channel (the NULL channel first, as the index has it). */
  private candidatePaymentsInto(
    out: CandidateItem[],
    fromDate: string,
    toDate: string,
    limit: number,
    isReconciled: (kind: 'payment', itemId: string, product: string) => boolean,
  ): void {
    const nextDate = this.stmt(PAYMENT_DATE_NEXT).pluck(true);
    const firstChannel = this.stmt(PAYMENT_CHANNEL_FIRST).pluck(true);
    const nextChannel = this.stmt(PAYMENT_CHANNEL_NEXT).pluck(true);
    for (let date = nextDate.get(fromDate, '', toDate) as string | undefined; date !== undefined; date = nextDate.get(fromDate, date, toDate) as string | undefined) {
      if (!this.channelPaymentsInto(out, date, null, limit, isReconciled)) return;
      for (let channel = firstChannel.get(date) as string | undefined; channel !== undefined; channel = nextChannel.get(date, channel) as string | undefined) {
        if (!this.channelPaymentsInto(out, date, channel, limit, isReconciled)) return;
      }
    }
  }

  /** One date's and channel's unsettled payments, a joined page at a time; false once `limit` is reached. */
  private channelPaymentsInto(
    out: CandidateItem[],
    date: string,
    channelId: string | null,
    limit: number,
    isReconciled: (kind: 'payment', itemId: string, product: string) => boolean,
  ): boolean {
    const joined = this.stmt(CANDIDATE_PAYMENTS_JOINED_PAGE).raw(true);
    for (let after = -1n; ; ) {
      const rowsMax = Math.min(PAYMENTS_PAGE_ROWS, limit - out.length);
      if (rowsMax <= 0) return false;
      const j = joined.get(date, channelId, after, rowsMax) as unknown[];
      const n = Number(j[0] as bigint | number);
      if (n === 0) return true;
      const cols = j.slice(2, 6).map((v) => str(v).split(UNIT_SEPARATOR));
      const currencies = pageColumn(j[6], j[7], j[8]);
      const products = pageColumn(j[9], j[10], j[11]);
      if (cols.every((c) => c.length === n) && (typeof currencies === 'string' || currencies.length === n) && (typeof products === 'string' || products.length === n)) {
        const [ids, merchants, amounts, fees] = cols as [string[], string[], string[], string[]];
        for (let i = 0; i < n; i++) {
          const itemId = ids[i] as string;
          const product = typeof products === 'string' ? products : (products[i] as string);
          out.push({
            kind: 'payment',
            itemId,
            merchantId: merchants[i] as string,
            currency: typeof currencies === 'string' ? currencies : (currencies[i] as string),
            businessDate: date,
            amountMinor: decimalToBigint(amounts[i] as string),
            product,
            channelId,
            bookedFeeMinor: decimalToBigint(fees[i] as string),
            reconciled: isReconciled('payment', itemId, product),
          });
        }
      } else {
        // A value holds the separator: this page row by row.
        for (const r of this.stmt(CANDIDATE_PAYMENTS_PAGE).raw(true).all(date, channelId, after, rowsMax) as unknown[][]) {
          const itemId = str(r[0]);
          const product = str(r[4]);
          out.push({
            kind: 'payment',
            itemId,
            merchantId: str(r[1]),
            currency: str(r[2]),
            businessDate: date,
            amountMinor: big(r[3]),
            product,
            channelId,
            bookedFeeMinor: big(r[5]),
            reconciled: isReconciled('payment', itemId, product),
          });
        }
      }
      if (n < rowsMax) return true;
      after = BigInt(j[1] as bigint | number);
    }
  }

  /**
   * The ids per kind that reconciliation settled from a date on: its exception rows (recon_items) and its
   * packed matched pairs (recon_pair_blocks, one JSON array a block, parsed here: the view recon_outcomes
   * would expand them with json_each into a row per pair).
   */
  private reconciledSince(fromDate: string): Record<CandidateItem['kind'], Set<string>> {
    const out = { payment: new Set<string>(), refund: new Set<string>(), capture: new Set<string>() };
    if (!hasTable(this.db, 'recon_items')) return out;
    // A file last opened by an older settle has recon's tables but not yet the packed pairs' table.
    migrateRecon(this.db);
    for (const r of this.stmt(RECONCILED_ITEMS).raw(true).iterate(fromDate) as Iterable<unknown[]>) {
      const source = str(r[0]);
      if (source === 'payment' || source === 'refund' || source === 'capture') out[source].add(str(r[1]));
    }
    for (const pairs of this.stmt(RECONCILED_PAIR_BLOCKS).pluck(true).iterate(fromDate) as Iterable<string>) {
      if (scanPairBlock(pairs, out)) continue;
      for (const pair of JSON.parse(pairs) as unknown[][]) {
        const id = pair[3];
        if (id === null || id === undefined) continue;
        out[pairSource(pair[2])].add(String(id));
      }
    }
    return out;
  }

  monthVolumes(months: readonly string[]): Map<string, bigint> {
    const out = new Map<string, bigint>();
    const q = this.stmt('SELECT merchant_id, currency, volume_minor FROM clearing_volumes WHERE month = ?');
    for (const month of months) {
      for (const r of q.iterate(month) as Iterable<Row>) out.set(volumeKey(str(r['merchant_id']), str(r['currency']), month), big(r['volume_minor']));
    }
    return out;
  }

  carriedIn(beforeDate: string): Map<string, bigint> {
    const out = new Map<string, bigint>();
    // SQLite takes the bare columns from the row holding MAX(business_date).
    const rows = this.stmt('SELECT merchant_id, currency, carried_out_minor, MAX(business_date) FROM settlement_batches WHERE business_date < ? GROUP BY merchant_id, currency').iterate(beforeDate) as Iterable<Row>;
    for (const r of rows) {
      const carried = big(r['carried_out_minor']);
      if (carried < 0n) out.set(batchKey(str(r['merchant_id']), str(r['currency'])), carried);
    }
    return out;
  }

  batchKeysOf(date: string): Set<string> {
    const rows = this.stmt('SELECT merchant_id, currency FROM settlement_batches WHERE business_date = ?').iterate(date) as Iterable<Row>;
    return new Set([...rows].map((r) => batchKey(str(r['merchant_id']), str(r['currency']))));
  }

  reserveBatchNumbers(count: number): number {
    const last = this.stmt('UPDATE clearing_batch_no_last SET last_no = last_no + ? RETURNING last_no').pluck(true).get(count) as bigint | undefined;
    if (last === undefined) throw new Error('clearing: clearing_batch_no_last has no row');
    return Number(last) - count + 1;
  }

  writeItems(items: readonly ItemWrite[]): void {
    this.db.transaction(() => this.insertItems(items))();
  }

  writeBatches(writes: readonly BatchWrite[], nowMs: number): void {
    try {
      this.db.transaction(() => {
        const numbered = this.stmt('INSERT INTO clearing_batch_numbers (batch_no, batch_id) VALUES (?, ?)');
        for (const w of writes) {
          this.insertBatch(w.batch, nowMs);
          numbered.run(w.batchNo, w.batch.batchId);
        }
        this.addVolumes(writes);
        this.post(writes, nowMs);
      })();
    } catch (e) {
      // The transaction rolled back: the ledger's cached counters may be ahead of the file.
      this.ledger.invalidateAccountCache();
      throw e;
    }
  }

  private addVolumes(writes: readonly BatchWrite[]): void {
    const add = this.stmt(
      `INSERT INTO clearing_volumes (merchant_id, currency, month, volume_minor) VALUES (?, ?, ?, ?)
       ON CONFLICT (merchant_id, currency, month) DO UPDATE SET volume_minor = volume_minor + excluded.volume_minor`,
    );
    for (const w of writes) {
      const byMonth = new Map<string, bigint>();
      // A batch's payments come in date order: sum a month's run, then add it to the month.
      let month = '';
      let volume = 0n;
      for (const i of w.batch.items) {
        if (i.kind === 'refund') continue;
        if (month === '' || !i.businessDate.startsWith(month)) {
          if (month !== '') byMonth.set(month, (byMonth.get(month) ?? 0n) + volume);
          month = i.businessDate.slice(0, 7);
          volume = 0n;
        }
        volume += i.amountMinor;
      }
      if (month !== '') byMonth.set(month, (byMonth.get(month) ?? 0n) + volume);
      for (const [m, v] of byMonth) add.run(w.batch.merchantId, w.batch.currency, m, v);
    }
  }

  /**
   * The item rows, in the order given (key order: one B-tree walk instead of a seek per item). One array of
   * bound values is filled in place per statement (emptying and refilling it by push let V8 shrink and
   * regrow it: a third of the JS time of the insert at a million items).
   */
  private insertItems(items: readonly ItemWrite[]): void {
    let values: unknown[] = [];
    let date = '';
    let day = 0;
    for (let at = 0; at < items.length; at += ITEMS_PER_INSERT) {
      const end = Math.min(at + ITEMS_PER_INSERT, items.length);
      if (values.length !== (end - at) * ITEM_COLUMNS) values = new Array<unknown>((end - at) * ITEM_COLUMNS);
      for (let k = at, v = 0; k < end; k++, v += ITEM_COLUMNS) {
        const { item, batchNo } = items[k] as ItemWrite;
        if (item.businessDate !== date) {
          date = item.businessDate;
          day = dayNumber(date);
        }
        values[v] = item.kind;
        values[v + 1] = item.itemId;
        values[v + 2] = batchNo;
        values[v + 3] = day;
        values[v + 4] = item.amountMinor;
        values[v + 5] = item.signedBookedFeeMinor;
        values[v + 6] = item.rateFeeMinor;
      }
      const changed = this.itemInsert(end - at).run(values).changes;
      // A row kept: an item already settled in a written batch was planned again (rolls the transaction back).
      if (changed !== end - at) throw new Error(`clearing: ${end - at - changed} of ${end - at} items are settled already`);
    }
  }

  /** The INSERT of n item rows, prepared once per size. */
  private itemInsert(n: number): SqliteStatement {
    let s = this.itemInserts[n];
    if (s === undefined) {
      s = this.db.prepare(
        `INSERT INTO clearing_item_rows (kind, item_id, batch_no, business_day, amount_minor, booked_fee_minor, fee_minor) VALUES ${itemValues(n)} ${ITEM_ROWS_UPSERT}`,
      );
      this.itemInserts[n] = s;
    }
    return s;
  }

  private insertBatch(batch: Batch, nowMs: number): void {
    this.stmt(
      `INSERT INTO settlement_batches (batch_id, merchant_id, business_date, currency, gross_minor, refunds_minor, fees_minor, adjustments_minor,
         net_minor, carried_in_minor, carried_out_minor, payout_minor, items, status, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      batch.batchId,
      batch.merchantId,
      batch.businessDate,
      batch.currency,
      batch.grossMinor,
      batch.refundsMinor,
      batch.feesMinor,
      batch.adjustmentsMinor,
      batch.netMinor,
      batch.carriedInMinor,
      batch.carriedOutMinor,
      batch.payoutMinor,
      batch.items.length,
      batch.status,
      nowMs,
    );
  }

  /** The entries of a chunk in as few ledger batches as its limit allows (one plan context per call). */
  private post(writes: readonly BatchWrite[], nowMs: number): void {
    const accounts = new Map<string, AccountSpec>();
    for (const w of writes) for (const a of w.accounts) accounts.set(a.accountId, a);
    this.ledger.ensureAccountsSync([...accounts.values()], nowMs);
    const commands = writes.flatMap((w) => w.commands);
    for (let at = 0; at < commands.length; at += COMMANDS_PER_POST) {
      const slice = commands.slice(at, at + COMMANDS_PER_POST);
      for (const [i, r] of this.ledger.postEntriesSync(slice, nowMs).entries()) {
        // A refusal here is a broken invariant (accounts were just ensured, entries balance): roll back.
        if (!r.ok) throw new Error(`clearing: the ledger refused ${slice[i]?.id ?? '?'}: ${r.code}: ${r.message}`);
      }
    }
  }

  batchesOf(date: string, limit: number): StoredBatch[] {
    const rows = this.stmt('SELECT * FROM settlement_batches WHERE business_date = ? ORDER BY merchant_id, currency LIMIT ?').all(date, limit) as Row[];
    return rows.map((r) => ({
      batchId: str(r['batch_id']),
      merchantId: str(r['merchant_id']),
      businessDate: str(r['business_date']),
      currency: str(r['currency']),
      grossMinor: big(r['gross_minor']),
      refundsMinor: big(r['refunds_minor']),
      feesMinor: big(r['fees_minor']),
      adjustmentsMinor: big(r['adjustments_minor']),
      netMinor: big(r['net_minor']),
      carriedInMinor: big(r['carried_in_minor']),
      carriedOutMinor: big(r['carried_out_minor']),
      payoutMinor: big(r['payout_minor']),
      items: Number(big(r['items'])),
      status: str(r['status']) as 'paid_out' | 'carried',
      createdAtMs: Number(big(r['created_at_ms'])),
    }));
  }
}
