// The SQLite adapter of the clearing store. It shares the ledger's connection, so a batch row, the number
// that settles its items (written before it) and its ledger entries commit in one transaction: a run
// killed half way leaves whole batches, and the re-run skips the merchants already written. The online core's tables (payments,
// refunds, captures, preauths) and reconciliation's (recon_items, recon_runs) are read by SQL only:
// src/batch never imports src/online. A large day's payments are read on a worker thread with its own
// read-only connection (sqlite/payment-reader.ts), beside this thread's work on the windows it posts.
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

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { AccountSpec } from '../../ledger/index.js';
import type { SqliteConnection, SqliteStatement } from '../../ledger/sqlite/database.js';
import { hasTable, insertRows, migrateModule, statementCache } from '../../ledger/sqlite/database.js';
import type { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { migrateRecon } from '../recon/sqlite/recon-store.js';
import { CandidateColumns, ITEM_KINDS, KIND_CAPTURE, KIND_PAYMENT, KIND_REFUND, kindCode, type CandidateItem } from './columns.js';
import { LOCAL_PRODUCTS } from './config.js';
import { batchKey, volumeKey } from './core.js';
import { numberAt, wordsOf } from './exact.js';
import type { BatchWrite, ClearingRunState, ClearingStore, ItemRows, ItemWrite, StoredBatch } from './port.js';
import { ReconciledIds } from './reconciled.js';
import { PAYMENT_READER, paymentWindowsHere, paymentWindowsOnWorker } from './sqlite/payment-reader.js';
import { joinedIntegersInto, PAYMENTS_WINDOW_ROWS, paymentSpans, paymentWindows, spanRowids, UNIT_SEPARATOR, type PaymentWindow } from './sqlite/payment-windows.js';

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
  // 3: the same item rows with the kind checked by comparisons. SQLite evaluates `kind IN (three values)`
  // by a lookup in an ephemeral table it builds per statement, a third of the CPU of inserting a row
  // (1M rows: ≈ 1.9 s → 1.3 s); two or three `=` cost next to nothing. The rows are copied in key order,
  // the view is dropped and created again around the swap (a rename would re-parse it mid-swap).
  `
  DROP VIEW clearing_items;
  CREATE TABLE clearing_item_rows_3 (
    kind TEXT NOT NULL CHECK (kind = 'payment' OR kind = 'refund' OR kind = 'capture'), item_id TEXT NOT NULL, batch_no INTEGER NOT NULL,
    business_day INTEGER NOT NULL, amount_minor INTEGER NOT NULL, booked_fee_minor INTEGER NOT NULL, fee_minor INTEGER NOT NULL,
    PRIMARY KEY (kind, item_id)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO clearing_item_rows_3 (kind, item_id, batch_no, business_day, amount_minor, booked_fee_minor, fee_minor)
    SELECT kind, item_id, batch_no, business_day, amount_minor, booked_fee_minor, fee_minor FROM clearing_item_rows ORDER BY kind, item_id;
  DROP TABLE clearing_item_rows;
  ALTER TABLE clearing_item_rows_3 RENAME TO clearing_item_rows;

  CREATE VIEW clearing_items (kind, item_id, batch_id, business_date, amount_minor, booked_fee_minor, fee_minor) AS
    SELECT i.kind, i.item_id, n.batch_id, printf('%04d-%02d-%02d', i.business_day / 10000, i.business_day / 100 % 100, i.business_day % 100),
           i.amount_minor, i.booked_fee_minor, i.fee_minor
    FROM clearing_item_rows i JOIN clearing_batch_numbers n ON n.batch_no = i.batch_no;
  `,
  // 4: the ledger's refund and capture entries by date, each kind in its own partial index. A run looked
  // for the refunds and captures of its lookback (92 days by default) through entries' date index, so it
  // walked every entry of those days (≈ 92M rows at 1M payments a day) to keep the few that are refunds or
  // captures. The index terms are CANDIDATE_REFUNDS' and CANDIDATE_CAPTURES' word for word (SQLite uses a
  // partial index only for a query whose WHERE holds the index's term).
  `
  CREATE INDEX clearing_refund_entries ON entries (business_date) WHERE substr(entry_id, 1, 7) = 'refund.';
  CREATE INDEX clearing_capture_entries ON entries (business_date) WHERE substr(entry_id, 1, 4) = 'cap.';
  `,
];

type Row = Record<string, unknown>;
type IsReconciled = (kind: number, itemId: string, product: string) => boolean;
const big = (v: unknown): bigint => BigInt(v as bigint | number);
const str = (v: unknown): string => v as string;
/**
 * The page cache of the connection while it clears (KiB). As sharing's (sharing/sqlite.ts): 16 MiB, not
 * 256 MiB, which filled with pages read once. `settle clear` at 1M, 3 alternated pairs: CPU 6.60–6.77 s
 * against 6.61–6.95 s, peak RSS 582–586 MiB against 625–628 MiB; 64 MiB was no better than 256.
 */
const PAGE_CACHE_KIB = 16 * 1024;
const ITEMS_PER_INSERT = 64;
/** Values bound per clearing_item_rows row: the kind is the statement's (a literal), then six. */
const ITEM_VALUES = 6;
const itemValues = (kind: number, n: number): string => Array<string>(n).fill(`('${ITEM_KINDS[kind] ?? 'payment'}', ?, ?, ?, ?, ?, ?)`).join(', ');
/**
 * The item rows of a batch not yet written replace the rows a killed run left (their batch number has no
 * row in clearing_batch_numbers); the row of a settled item stays, and the statement changes fewer rows
 * than it was given.
 */
const ITEM_ROWS_UPSERT = `
  ON CONFLICT (kind, item_id) DO UPDATE SET batch_no = excluded.batch_no, business_day = excluded.business_day,
    amount_minor = excluded.amount_minor, booked_fee_minor = excluded.booked_fee_minor, fee_minor = excluded.fee_minor
  WHERE NOT EXISTS (SELECT 1 FROM clearing_batch_numbers n WHERE n.batch_no = clearing_item_rows.batch_no)`;
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
/** An INTEGER to bind: a number while exact (better-sqlite3 binds one ~20% cheaper than a bigint), else the bigint. */
const boundInteger = (v: bigint): bigint | number => (v <= SAFE_MAX && v >= -SAFE_MAX ? Number(v) : v);
/** A business date (yyyy-mm-dd) as the integer yyyymmdd that clearing_item_rows keeps. */
const dayNumber = (date: string): number => Number(date.slice(0, 4)) * 10_000 + Number(date.slice(5, 7)) * 100 + Number(date.slice(8, 10));
/** Rows per multi-row INSERT of batches, batch numbers and volumes (15 values a batch row: 480 bound values; a statement per row was a tenth of writing a chunk of batches). */
const ROWS_PER_INSERT = 32;
const VOLUMES_UPSERT = 'ON CONFLICT (merchant_id, currency, month) DO UPDATE SET volume_minor = volume_minor + excluded.volume_minor';
/** Commands per ledger call: below LIMITS.commandsPerBatchMax. */
const COMMANDS_PER_POST = 4_000;

/**
 * Captures and refunds due, not yet settled (payments: sqlite/payment-windows.ts); the date range bounds
 * the scan. The first eight columns are the same in both; refunds add five about their payment.
 */
/** A joined column of n merchants as the columns' numbers; undefined when it does not split into n values. */
function merchantNosOf(out: CandidateColumns, joined: string, n: number): Int32Array | undefined {
  const merchants = joined.split(UNIT_SEPARATOR);
  if (merchants.length !== n) return undefined;
  const nos = new Int32Array(n);
  for (let i = 0; i < n; i++) nos[i] = out.merchantNo(merchants[i] as string);
  return nos;
}
/**
 * A page's column of a value repeated on most pages (currency, product): the one string when the page's
 * minimum is its maximum (no string per row kept, and one hash for the maps that key on it), else the parts.
 */
const pageColumn = (min: unknown, max: unknown, joined: unknown): string | string[] => (min === max ? str(min) : str(joined).split(UNIT_SEPARATOR));
/** The refunds and captures of a range of dates not settled yet; their entries are found through migration 4's indexes. */
export const CANDIDATE_REFUNDS = `
  SELECT r.refund_id, r.merchant_id, r.currency, e.business_date, r.amount_minor, p.product, p.channel_id, r.fee_returned_minor,
         r.payment_id, p.amount_minor, p.fee_minor,
         (SELECT c.fee_minor FROM clearing_items c WHERE c.kind = 'payment' AND c.item_id = r.payment_id) AS settled_fee_minor,
         (SELECT COALESCE(SUM(r2.amount_minor), 0) FROM refunds r2 WHERE r2.payment_id = r.payment_id AND r2.status = 'succeeded'
            AND (r2.created_at_ms < r.created_at_ms OR (r2.created_at_ms = r.created_at_ms AND r2.refund_id < r.refund_id))) AS refunded_before_minor
  FROM entries e JOIN refunds r ON r.refund_id = substr(e.entry_id, 8) JOIN payments p ON p.payment_id = r.payment_id
  WHERE e.business_date BETWEEN ? AND ? AND substr(e.entry_id, 1, 7) = 'refund.' AND r.status = 'succeeded'
    AND NOT EXISTS (SELECT 1 FROM clearing_items c WHERE c.kind = 'refund' AND c.item_id = r.refund_id)`;
export const CANDIDATE_CAPTURES = `
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
/** How candidateColumns reads payments (tests choose; the defaults are PAYMENT_READER's). */
export interface ClearingStoreOptions {
  /** Rowids of payments from which they are read on a worker thread. */
  readonly paymentsOnWorkerFromRowids?: number;
  /** Windows read on this thread at most while the worker starts (default: until it is ready). */
  readonly windowsHereWhileStartingMax?: number;
}

export class SqliteClearingStore implements ClearingStore {
  readonly db: SqliteConnection;
  private readonly ledger: SqliteLedgerStore;
  private readonly stmt: (sql: string) => SqliteStatement;
  /** INSERTs of item rows by kind code and form (plain, upsert: kind × 2 + form), then row count. */
  private readonly itemInserts: SqliteStatement[][] = [[], [], [], [], [], []];
  private readonly options: ClearingStoreOptions;

  constructor(ledger: SqliteLedgerStore, options: ClearingStoreOptions = {}) {
    this.ledger = ledger;
    this.options = options;
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

  /** The candidates as objects (readers and tests), read on this thread; the run reads candidateColumns. */
  candidates(fromDate: string, toDate: string, limit: number): CandidateItem[] {
    const out = new CandidateColumns();
    if (!hasTable(this.db, 'payments')) return [];
    const isReconciled = this.reconciledCheck(fromDate);
    const windows = paymentWindows(this.stmt, paymentSpans(this.stmt, fromDate, toDate));
    for (let w = windows.next(); out.length < limit && w.done !== true; w = windows.next()) this.windowInto(out, w.value, limit, isReconciled, []);
    this.othersInto(out, fromDate, toDate, limit, isReconciled);
    return out.toItems();
  }

  /** The payments of a large day in a file are read on a worker thread while this one takes their windows (payment-reader.ts). */
  async candidateColumns(fromDate: string, toDate: string, limit: number): Promise<CandidateColumns> {
    const out = new CandidateColumns();
    if (!hasTable(this.db, 'payments')) return out;
    const spans = paymentSpans(this.stmt, fromDate, toDate);
    const path = this.ledger.path;
    // A second thread helps only where a second core can run it; it must see what this connection sees
    // (not inside a transaction of ours, whose writes another connection would not see).
    const onWorker =
      spanRowids(spans) >= (this.options.paymentsOnWorkerFromRowids ?? PAYMENT_READER.rowidsOnWorkerMin) &&
      availableParallelism() > 1 &&
      !this.db.inTransaction &&
      path !== ':memory:' &&
      path !== '' &&
      existsSync(path);
    const windows = onWorker ? paymentWindowsOnWorker(this.stmt, path, spans, limit, this.options.windowsHereWhileStartingMax) : paymentWindowsHere(this.stmt, spans);
    let isReconciled: IsReconciled;
    const readerMerchants: number[] = [];
    try {
      // Indexed while the worker starts (and, when it is ready first, reads ahead).
      isReconciled = this.reconciledCheck(fromDate);
      await windows.start();
      while (out.length < limit) {
        const w = await windows.next();
        if (w === undefined) break;
        this.windowInto(out, w, limit, isReconciled, readerMerchants);
      }
    } finally {
      windows.close();
    }
    this.othersInto(out, fromDate, toDate, limit, isReconciled);
    return out;
  }

  /** Whether an item counts as reconciled: a local product, or an id reconciliation settled from the date on. */
  private reconciledCheck(fromDate: string): IsReconciled {
    const reconciled = this.reconciledSince(fromDate);
    return (kind, itemId, product) => LOCAL_PRODUCTS.has(product) || reconciled.has(kind, itemId);
  }

  /** The due captures and refunds (few beside payments), after the payments, up to `limit` items in all. */
  private othersInto(out: CandidateColumns, fromDate: string, toDate: string, limit: number, isReconciled: IsReconciled): void {
    if (out.length >= limit) return;
    // Positional rows (the SELECTs' column order; the first eight are the same in both).
    const base = (kind: number, r: readonly unknown[]): number => {
      const itemId = str(r[0]);
      const product = str(r[5]);
      return out.push(kind, itemId, str(r[1]), str(r[2]), str(r[3]), big(r[4]), product, r[6] === null ? null : str(r[6]), big(r[7]), isReconciled(kind, itemId, product));
    };
    for (const r of this.stmt(CANDIDATE_CAPTURES).raw(true).iterate(fromDate, toDate) as Iterable<unknown[]>) {
      if (out.length >= limit) return;
      base(KIND_CAPTURE, r);
    }
    for (const r of this.stmt(CANDIDATE_REFUNDS).raw(true).iterate(fromDate, toDate) as Iterable<unknown[]>) {
      if (out.length >= limit) return;
      out.refunds.set(base(KIND_REFUND, r), {
        paymentId: str(r[8]),
        paymentAmountMinor: big(r[9]),
        paymentBookedFeeMinor: big(r[10]),
        paymentSettledFeeMinor: r[11] === null ? null : big(r[11]),
        refundedBeforeMinor: big(r[12]),
      });
    }
  }

  /**
   * A window's payments (at most up to `limit` items): from its joined row, or, when a value holds the
   * separator, read again row by row. `readerMerchants` maps the numbers a worker gave merchants to the
   * columns' (its windows name each merchant by number after the first).
   */
  private windowInto(out: CandidateColumns, w: PaymentWindow, limit: number, isReconciled: IsReconciled, readerMerchants: number[]): void {
    if (w.parsed !== undefined) for (const m of w.parsed.newMerchants) readerMerchants.push(out.merchantNo(m));
    if (w.n === 0 || this.joinedWindowInto(out, w, limit, isReconciled, readerMerchants)) return;
    for (const r of this.stmt(PAYMENTS_WINDOW_ROWS).raw(true).iterate(w.date, w.channelId, w.after, w.upTo) as Iterable<unknown[]>) {
      if (out.length >= limit) break;
      const itemId = str(r[0]);
      const product = str(r[4]);
      out.push(KIND_PAYMENT, itemId, str(r[1]), str(r[2]), w.date, big(r[3]), product, w.channelId, big(r[5]), isReconciled(KIND_PAYMENT, itemId, product));
    }
  }

  /** A joined window's n payments (at most up to `limit` items); false, with nothing taken, when a column does not split into n values. */
  private joinedWindowInto(out: CandidateColumns, w: PaymentWindow, limit: number, isReconciled: IsReconciled, readerMerchants: readonly number[]): boolean {
    const { joined: j, n, date, channelId, parsed } = w;
    out.reserve(n);
    const ids = str(j[1]).split(UNIT_SEPARATOR);
    const currencies = pageColumn(j[5], j[6], j[7]);
    const products = pageColumn(j[8], j[9], j[10]);
    const from = out.length;
    if (ids.length !== n || (typeof currencies !== 'string' && currencies.length !== n) || (typeof products !== 'string' && products.length !== n)) return false;
    const merchantNos = parsed === undefined ? merchantNosOf(out, str(j[2]), n) : parsed.merchantNos.map((no) => readerMerchants[no] ?? -1);
    if (merchantNos === undefined) return false;
    if (parsed !== undefined) {
      out.amounts.set(parsed.amounts, from);
      out.bookedFees.set(parsed.bookedFees, from);
    } else if (!joinedIntegersInto(str(j[3]), n, out.amounts, from) || !joinedIntegersInto(str(j[4]), n, out.bookedFees, from)) return false;
    const taken = Math.min(n, limit - from);
    for (let i = 0; i < taken; i++) {
      const itemId = ids[i] as string;
      const product = typeof products === 'string' ? products : (products[i] as string);
      const currency = typeof currencies === 'string' ? currencies : (currencies[i] as string);
      out.pushWithMerchantNo(KIND_PAYMENT, itemId, merchantNos[i] ?? 0, currency, date, product, channelId, isReconciled(KIND_PAYMENT, itemId, product));
    }
    return true;
  }

  /**
   * The ids per kind that reconciliation settled from a date on: its exception rows (recon_items) and its
   * packed matched pairs (recon_pair_blocks, one JSON array a block, indexed in place: the view
   * recon_outcomes would expand them with json_each into a row per pair).
   */
  private reconciledSince(fromDate: string): ReconciledIds {
    const out = new ReconciledIds();
    if (!hasTable(this.db, 'recon_items')) return out;
    // A file last opened by an older settle has recon's tables but not yet the packed pairs' table.
    migrateRecon(this.db);
    for (const r of this.stmt(RECONCILED_ITEMS).raw(true).iterate(fromDate) as Iterable<unknown[]>) {
      const source = str(r[0]);
      if (source === 'payment' || source === 'refund' || source === 'capture') out.add(kindCode(source), str(r[1]));
    }
    for (const pairs of this.stmt(RECONCILED_PAIR_BLOCKS).pluck(true).iterate(fromDate) as Iterable<string>) out.addBlock(pairs);
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

  /** Item rows given as objects (tests, and callers with a few items): written as writeItemRows writes them. */
  writeItems(items: readonly ItemWrite[]): void {
    const columns = new CandidateColumns(Math.max(16, items.length));
    const rateFees = new BigInt64Array(items.length);
    const batchNos = new Float64Array(items.length);
    for (const [k, { item, batchNo }] of items.entries()) {
      // The row keeps the signed booked fee: the columns hold it unsigned, as a candidate has it.
      columns.pushItem({ ...item, bookedFeeMinor: item.kind === 'refund' ? -item.signedBookedFeeMinor : item.signedBookedFeeMinor });
      rateFees[k] = item.rateFeeMinor;
      batchNos[k] = batchNo;
    }
    this.writeItemRows({ items: columns, rateFees, batchNos }, Int32Array.from(items, (_, k) => k));
  }

  writeItemRows(rows: ItemRows, order: Int32Array): void {
    this.db.transaction(() => this.insertItems(rows, order)).immediate();
  }

  writeBatches(writes: readonly BatchWrite[], nowMs: number): void {
    try {
      this.db.transaction(() => {
        this.insertBatches(writes, nowMs);
        this.addVolumes(writes);
        this.post(writes, nowMs);
      }).immediate();
    } catch (e) {
      // The transaction rolled back: the ledger's cached counters may be ahead of the file.
      this.ledger.invalidateAccountCache();
      throw e;
    }
  }

  private addVolumes(writes: readonly BatchWrite[]): void {
    const values: unknown[] = [];
    for (const { batch } of writes) for (const [month, volume] of batch.monthVolumesMinor) values.push(batch.merchantId, batch.currency, month, volume);
    insertRows(this.stmt, 'clearing_volumes (merchant_id, currency, month, volume_minor)', 4, values, ROWS_PER_INSERT, VOLUMES_UPSERT);
  }



  /**
   * The rows of the items `order` names, in that order (key order: one B-tree walk instead of a seek per
   * item), read straight from the columns; a statement holds rows of one kind (a literal in its SQL: a
   * seventh of the values not bound). One array of bound values is filled in place per statement
   * (emptying and refilling it by push let V8 shrink and regrow it: a third of the JS time of the insert at
   * a million items).
   */
  private insertItems(rows: ItemRows, order: Int32Array): void {
    const { items: c, rateFees, batchNos } = rows;
    // Bound as numbers while exact, read without a bigint (exact.ts), else as the bigint.
    const amountWords = wordsOf(c.amounts);
    const bookedWords = wordsOf(c.bookedFees);
    const rateFeeWords = wordsOf(rateFees);
    let values: unknown[] = [];
    let date = '';
    let day = 0;
    for (let at = 0; at < order.length; ) {
      const kind = c.kinds[order[at] ?? 0] ?? KIND_PAYMENT;
      let end = at + 1;
      while (end < order.length && end - at < ITEMS_PER_INSERT && c.kinds[order[end] ?? 0] === kind) end++;
      if (values.length !== (end - at) * ITEM_VALUES) values = new Array<unknown>((end - at) * ITEM_VALUES);
      for (let i = at, v = 0; i < end; i++, v += ITEM_VALUES) {
        const k = order[i] ?? 0;
        if (c.dates[k] !== date) {
          date = c.dates[k] ?? '';
          day = dayNumber(date);
        }
        const amount = numberAt(amountWords, k);
        const booked = numberAt(bookedWords, k);
        const rateFee = numberAt(rateFeeWords, k);
        values[v] = c.ids[k];
        values[v + 1] = batchNos[k];
        values[v + 2] = day;
        values[v + 3] = Number.isNaN(amount) ? boundInteger(c.amounts[k] ?? 0n) : amount;
        // A refund's row keeps the fee it returned as negative (-booked is exact: the range is symmetric).
        values[v + 4] = Number.isNaN(booked) ? boundInteger(kind === KIND_REFUND ? -(c.bookedFees[k] ?? 0n) : (c.bookedFees[k] ?? 0n)) : kind === KIND_REFUND ? -booked : booked;
        values[v + 5] = Number.isNaN(rateFee) ? boundInteger(rateFees[k] ?? 0n) : rateFee;
      }
      const changed = this.insertItemValues(kind, end - at, values);
      // A row kept: an item already settled in a written batch was planned again (rolls the transaction back).
      if (changed !== end - at) throw new Error(`clearing: ${end - at - changed} of ${end - at} items are settled already`);
      at = end;
    }
  }

  /**
   * n item rows of one kind; returns the rows written. A plain INSERT first: an item row is new on every
   * run but one resuming a killed run, and a plain insert is ~15% less work than the upsert. When a row
   * is there already, SQLite aborts that statement only (the transaction goes on) and the upsert writes
   * the rows instead, replacing the rows of unwritten batches and keeping (not counting) settled ones.
   */
  private insertItemValues(kind: number, n: number, values: readonly unknown[]): number {
    try {
      return this.itemInsert(kind, n, false).run(values).changes;
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw e;
      return this.itemInsert(kind, n, true).run(values).changes;
    }
  }

  /** The INSERT of n item rows of one kind, plain or as the upsert, prepared once per kind, size and form. */
  private itemInsert(kind: number, n: number, upsert: boolean): SqliteStatement {
    const byCount = this.itemInserts[kind * 2 + (upsert ? 1 : 0)] ?? [];
    let s = byCount[n];
    if (s === undefined) {
      s = this.db.prepare(
        `INSERT INTO clearing_item_rows (kind, item_id, batch_no, business_day, amount_minor, booked_fee_minor, fee_minor) VALUES ${itemValues(kind, n)} ${upsert ? ITEM_ROWS_UPSERT : ''}`,
      );
      byCount[n] = s;
    }
    return s;
  }

  /** The batch rows and their numbers (which settle their items once the transaction commits). */
  private insertBatches(writes: readonly BatchWrite[], nowMs: number): void {
    const batches: unknown[] = [];
    const numbers: unknown[] = [];
    for (const { batch, batchNo } of writes) {
      batches.push(
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
        batch.itemCount,
        batch.status,
        nowMs,
      );
      numbers.push(batchNo, batch.batchId);
    }
    insertRows(
      this.stmt,
      `settlement_batches (batch_id, merchant_id, business_date, currency, gross_minor, refunds_minor, fees_minor, adjustments_minor,
         net_minor, carried_in_minor, carried_out_minor, payout_minor, items, status, created_at_ms)`,
      15,
      batches,
      ROWS_PER_INSERT,
    );
    insertRows(this.stmt, 'clearing_batch_numbers (batch_no, batch_id)', 2, numbers, ROWS_PER_INSERT);
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
