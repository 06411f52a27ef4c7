// The SQLite adapter of profit sharing (module "sharing" in schema_migrations). Reads the online core's
// payments and refunds on the shared connection (batch does not import online: these queries are its own
// view of those tables) and keeps the day's shares compactly (migration 2; migration 1 kept a row per line,
// 3 B-tree rows per payment plus an index, which bounded a run at a few µs per line):
//
// share_tables      the parties of a split (rule, seats [[party, kind, rate], …] in allocation order, the
//                   platform's rate), once per distinct table: all payments of a merchant under one rule and
//                   tier share one.
// share_splits      the amounts of a split (base, one share per seat as a JSON array, what caps clipped per
//                   seat or NULL, the platform's share), once per distinct split (migration 3).
// share_payments    one row per payment shared, keyed by (business date, payment): its merchant, currency,
//                   table and split ids. Inserted in key order: appended to the B-tree.
// share_refund_lines one row per clawback line (refunds are few), keyed like the old share_lines.
// share_party_days  per date, party, currency and kind: lines and shares so far (net of clawbacks), updated in
//                   the transaction that writes them, so the day's entries read a few rows.
// share_lines       a VIEW with migration 1's columns and rows (a payment's seat line only when it has a
//                   share or a clipped amount, as it was written then), for statements, the report and tests.

import type { LedgerCommand, PostResult } from '../../ledger/index.js';
import { hasTable, migrateModule, statementCache, type SqliteConnection, type SqliteStatement } from '../../ledger/sqlite/database.js';
import type { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import type { BaseSplit, PartyKind, PaymentSplit, Route, ShareLine, SharePayment, ShareRefund, SplitTable } from './core.js';
import { startWorker } from '../workers.js';
import type { PartyDayTotal, PaymentRange, RoutedPage, RoutedPair, ShareAccount, ShareStore, SplitVisitor } from './port.js';
import { getOrMake } from './memo.js';
import { SplitReader } from './sqlite-splits.js';
import { monthPairsOf, SUCCEEDED, type MonthPairsOptions } from './sqlite/month-pairs.js';
import type { StatementWorkerData } from './sqlite/statement-worker.js';
import type { StatementHalfJob } from './statement-halves.js';
import { foldTally, PageSums, PageTally, PartAmounts, partyAdd, type PartyAdd, type TallyTotals } from './totals.js';

/** The key of a split in share_splits: its amounts (base, shares, clipped, platform's share) as one text, NULLs
 *  included (a UNIQUE constraint over the columns would take two NULLs as distinct). */
const splitKeySql = (prefix: string): string => `json_array(${['base_minor', 'shares', 'clipped', 'platform_share_minor'].map((c) => prefix + c).join(', ')})`;
const SPLIT_KEY_PARAMS = 'json_array(?, ?, ?, ?)';

const LINE_COLUMNS = 'payment_id, source_kind, source_id, party_id, party_kind, business_date, merchant_id, currency, rule_id, base_minor, rate, share_minor, clipped_minor';

export const SHARING_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE share_lines (
    payment_id TEXT NOT NULL, source_kind TEXT NOT NULL CHECK (source_kind IN ('payment', 'refund')), source_id TEXT NOT NULL,
    party_id TEXT NOT NULL, party_kind TEXT NOT NULL CHECK (party_kind IN ('agent', 'isv', 'platform')),
    business_date TEXT NOT NULL, merchant_id TEXT NOT NULL, currency TEXT NOT NULL, rule_id TEXT NOT NULL,
    base_minor INTEGER NOT NULL, rate TEXT NOT NULL, share_minor INTEGER NOT NULL, clipped_minor INTEGER NOT NULL,
    PRIMARY KEY (business_date, party_id, currency, payment_id, source_kind, source_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX share_lines_payment ON share_lines (payment_id, source_kind, party_id);
  `,
  `
  CREATE TABLE share_tables (
    table_id INTEGER PRIMARY KEY, rule_id TEXT NOT NULL, platform_rate TEXT, seats TEXT NOT NULL,
    table_key TEXT NOT NULL UNIQUE
  ) STRICT;
  CREATE TABLE share_payments (
    business_date TEXT NOT NULL, payment_id TEXT NOT NULL, merchant_id TEXT NOT NULL, currency TEXT NOT NULL,
    table_id INTEGER NOT NULL, base_minor INTEGER NOT NULL,
    shares TEXT NOT NULL, clipped TEXT, platform_share_minor INTEGER,
    PRIMARY KEY (business_date, payment_id)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE share_refund_lines (
    payment_id TEXT NOT NULL, source_kind TEXT NOT NULL CHECK (source_kind = 'refund'), source_id TEXT NOT NULL,
    party_id TEXT NOT NULL, party_kind TEXT NOT NULL CHECK (party_kind IN ('agent', 'isv', 'platform')),
    business_date TEXT NOT NULL, merchant_id TEXT NOT NULL, currency TEXT NOT NULL, rule_id TEXT NOT NULL,
    base_minor INTEGER NOT NULL, rate TEXT NOT NULL, share_minor INTEGER NOT NULL, clipped_minor INTEGER NOT NULL,
    PRIMARY KEY (business_date, party_id, currency, payment_id, source_kind, source_id)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE share_party_days (
    business_date TEXT NOT NULL, party_id TEXT NOT NULL, currency TEXT NOT NULL, party_kind TEXT NOT NULL,
    lines INTEGER NOT NULL, share_minor INTEGER NOT NULL,
    PRIMARY KEY (business_date, party_id, currency, party_kind)
  ) STRICT, WITHOUT ROWID;

  -- The lines of migration 1, regrouped: one row per payment (seats by party id), its table, the rest as they were.
  CREATE TABLE share_migration_2 AS
    SELECT business_date, payment_id, MIN(merchant_id) AS merchant_id, MIN(currency) AS currency, MIN(rule_id) AS rule_id,
           MIN(base_minor) AS base_minor,
           MAX(CASE WHEN party_id = 'platform' THEN rate END) AS platform_rate,
           MAX(CASE WHEN party_id = 'platform' THEN share_minor END) AS platform_share_minor,
           COALESCE(json_group_array(json_array(party_id, party_kind, rate) ORDER BY party_id) FILTER (WHERE party_id != 'platform'), '[]') AS seats,
           COALESCE(json_group_array(share_minor ORDER BY party_id) FILTER (WHERE party_id != 'platform'), '[]') AS shares,
           CASE WHEN MAX(party_id != 'platform' AND clipped_minor != 0) = 1
                THEN json_group_array(clipped_minor ORDER BY party_id) FILTER (WHERE party_id != 'platform') END AS clipped
      FROM share_lines WHERE source_kind = 'payment' GROUP BY business_date, payment_id;
  INSERT INTO share_tables (rule_id, platform_rate, seats, table_key)
    SELECT DISTINCT rule_id, platform_rate, seats, json_array(rule_id, platform_rate, json(seats)) FROM share_migration_2;
  INSERT INTO share_payments (business_date, payment_id, merchant_id, currency, table_id, base_minor, shares, clipped, platform_share_minor)
    SELECT m.business_date, m.payment_id, m.merchant_id, m.currency, t.table_id, m.base_minor, m.shares, m.clipped, m.platform_share_minor
      FROM share_migration_2 m JOIN share_tables t ON t.table_key = json_array(m.rule_id, m.platform_rate, json(m.seats))
     ORDER BY m.business_date, m.payment_id;
  INSERT INTO share_refund_lines (${LINE_COLUMNS}) SELECT ${LINE_COLUMNS} FROM share_lines WHERE source_kind = 'refund';
  INSERT INTO share_party_days (business_date, party_id, currency, party_kind, lines, share_minor)
    SELECT business_date, party_id, currency, party_kind, COUNT(*), SUM(share_minor)
      FROM share_lines GROUP BY business_date, party_id, currency, party_kind;
  DROP TABLE share_migration_2;
  DROP TABLE share_lines;

  CREATE VIEW share_lines (${LINE_COLUMNS}) AS
    SELECT p.payment_id, 'payment', p.payment_id, s.value ->> 0, s.value ->> 1, p.business_date, p.merchant_id, p.currency, t.rule_id,
           p.base_minor, s.value ->> 2, (p.shares ->> s.key), COALESCE((p.clipped ->> s.key), 0)
      FROM share_payments p JOIN share_tables t ON t.table_id = p.table_id JOIN json_each(t.seats) s
     WHERE (p.shares ->> s.key) != 0 OR COALESCE((p.clipped ->> s.key), 0) != 0
    UNION ALL
    SELECT p.payment_id, 'payment', p.payment_id, 'platform', 'platform', p.business_date, p.merchant_id, p.currency, t.rule_id,
           p.base_minor, t.platform_rate, p.platform_share_minor, 0
      FROM share_payments p JOIN share_tables t ON t.table_id = p.table_id WHERE p.platform_share_minor IS NOT NULL
    UNION ALL
    SELECT ${LINE_COLUMNS} FROM share_refund_lines;
  `,
  // A payment's row holds its split's id, not its amounts: a day's payments have a few thousand distinct splits
  // (base, shares, clipped, platform's share), each kept once in share_splits. The rows of migration 2 keep
  // their amounts through it (one split per distinct set), and share_lines reads as it did.
  `
  CREATE TABLE share_splits (
    split_id INTEGER PRIMARY KEY, base_minor INTEGER NOT NULL, shares TEXT NOT NULL, clipped TEXT, platform_share_minor INTEGER,
    split_key TEXT NOT NULL UNIQUE
  ) STRICT;
  INSERT INTO share_splits (base_minor, shares, clipped, platform_share_minor, split_key)
    SELECT DISTINCT base_minor, shares, clipped, platform_share_minor, ${splitKeySql('')} FROM share_payments;
  CREATE TABLE share_payments_3 (
    business_date TEXT NOT NULL, payment_id TEXT NOT NULL, merchant_id TEXT NOT NULL, currency TEXT NOT NULL,
    table_id INTEGER NOT NULL, split_id INTEGER NOT NULL,
    PRIMARY KEY (business_date, payment_id)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO share_payments_3 (business_date, payment_id, merchant_id, currency, table_id, split_id)
    SELECT p.business_date, p.payment_id, p.merchant_id, p.currency, p.table_id, x.split_id
      FROM share_payments p JOIN share_splits x ON x.split_key = ${splitKeySql('p.')}
     ORDER BY p.business_date, p.payment_id;
  DROP VIEW share_lines;
  DROP TABLE share_payments;
  ALTER TABLE share_payments_3 RENAME TO share_payments;

  CREATE VIEW share_lines (${LINE_COLUMNS}) AS
    SELECT p.payment_id, 'payment', p.payment_id, s.value ->> 0, s.value ->> 1, p.business_date, p.merchant_id, p.currency, t.rule_id,
           x.base_minor, s.value ->> 2, (x.shares ->> s.key), COALESCE((x.clipped ->> s.key), 0)
      FROM share_payments p JOIN share_splits x ON x.split_id = p.split_id JOIN share_tables t ON t.table_id = p.table_id JOIN json_each(t.seats) s
     WHERE (x.shares ->> s.key) != 0 OR COALESCE((x.clipped ->> s.key), 0) != 0
    UNION ALL
    SELECT p.payment_id, 'payment', p.payment_id, 'platform', 'platform', p.business_date, p.merchant_id, p.currency, t.rule_id,
           x.base_minor, t.platform_rate, x.platform_share_minor, 0
      FROM share_payments p JOIN share_splits x ON x.split_id = p.split_id JOIN share_tables t ON t.table_id = p.table_id
     WHERE x.platform_share_minor IS NOT NULL
    UNION ALL
    SELECT ${LINE_COLUMNS} FROM share_refund_lines;
  `,
];

type Row = Record<string, unknown>;

/**
 * The page cache of the connection while it shares (KiB). 16 MiB (better-sqlite3's default) holds the inner
 * pages of the B-trees a run inserts into; 256 MiB, as before, only filled with pages read once, and on this
 * VM each page of memory first touched costs ~10 µs of kernel time: `settle share` at 1M took 5.1–5.4 s
 * (CPU 6.9–7.3 s, peak RSS 242 MiB) with 16 MiB against 6.0–6.3 s (CPU 8.0–8.4 s, 446 MiB) with 256 MiB,
 * and 2 MiB gave the same as 16.
 */
const PAGE_CACHE_KIB = 16 * 1024;

/** Rows per INSERT statement: one call binds many rows (6 parameters each, far below SQLite's 32,766). */
const PAYMENT_ROWS_PER_INSERT = 100;
const PAYMENT_INSERT_COLUMNS = 'business_date, payment_id, merchant_id, currency, table_id, split_id';
const PAYMENT_INSERT_ROW = '(?, ?, ?, ?, ?, ?)';

const BASE_KINDS = { fee_net: 0, fee: 1, amount: 2 } as const;
/** The base of a payment of each kind, in SQL, as core.baseOf computes it. */
const BASE_SQL: Readonly<Record<Route['baseKind'], string>> = { fee_net: '(p.fee_minor - p.cost_minor)', fee: 'p.fee_minor', amount: 'p.amount_minor' };
/** The base of a payment on its route (temp.share_route r), in SQL: the route's kind chosen per payment, or
 *  the one kind every route of the run has (the usual case: no CASE for each payment). */
const routeBase = (kinds: ReadonlySet<Route['baseKind']>): string => {
  const [only] = kinds;
  if (kinds.size === 1 && only !== undefined) return BASE_SQL[only];
  return `CASE r.base_kind WHEN ${BASE_KINDS.fee_net} THEN ${BASE_SQL.fee_net} WHEN ${BASE_KINDS.fee} THEN ${BASE_SQL.fee} ELSE ${BASE_SQL.amount} END`;
};
/** Payments driven in id order, then their route (CROSS JOIN keeps that order). */
const ROUTED_FROM = `payments p CROSS JOIN temp.share_route r ON r.merchant_id = p.merchant_id AND r.product = p.product`;
/** A page of a route split: payments driven in id order, then their route (a LEFT JOIN keeps that order, and
 *  keeps a payment without a route: share_tally then counts it missing). */
const ROUTED_PAYMENTS = `payments p LEFT JOIN temp.share_route r ON r.merchant_id = p.merchant_id AND r.product = p.product`;
/** The payments of a routed page: of the date, succeeded, ids in (@after, @last], or all after @after on the last page. */
const routedPage = (toEnd: boolean): string => `p.payment_id > @after${toEnd ? '' : ' AND p.payment_id <= @last'} AND +p.business_date = @date AND p.status IN ${SUCCEEDED}`;
const NOT_SHARED = 'NOT EXISTS (SELECT 1 FROM share_payments s WHERE s.business_date = p.business_date AND s.payment_id = p.payment_id)';
/** The table id of a routed payment: its route's, or for a negative base the platform's alone. */
const routedTable = (base: string): string => `CASE WHEN ${base} < 0 THEN r.neg_table_id ELSE r.table_id END`;
/** The SQL function that finds a routed payment's split and counts it (see tallySinkOf). */
const TALLY_FUNCTION = 'share_tally';
/** A text as an SQL literal. */
const sqlText = (text: string): string => `'${text.replaceAll("'", "''")}'`;
/** A base goes to share_tally as a number while exact as one, else as its digits. */
const baseArgument = (base: string): string => `CASE WHEN ${base} BETWEEN ${-Number.MAX_SAFE_INTEGER} AND ${Number.MAX_SAFE_INTEGER} THEN ${base} ELSE CAST(${base} AS TEXT) END`;
/** A routed payment's split id, found and counted by share_tally from its split class, base, table indexes
 *  and currency; the currency comes as its index in the run's currencies (a number costs the call less than a
 *  text), or as itself when the run has not met it yet. */
const talliedSplit = (routing: Routing): string => {
  const { currencies } = routing;
  const currency = currencies.length === 0 ? 'p.currency' : `CASE p.currency ${currencies.map((c, i) => `WHEN ${sqlText(c)} THEN ${i}`).join(' ')} ELSE p.currency END`;
  return `CAST(${TALLY_FUNCTION}(r.class_id, ${baseArgument(routing.baseSql)}, r.table_idx, r.neg_table_idx, ${currency}) AS INTEGER)`;
};
/** Currencies a routed run names in its statements (others come as text). */
const TALLY_CURRENCIES_MAX = 64;
/** Distinct (split class, base) pairs a routed run allocates and keeps (one per payment at worst). */
const ROUTED_PARTS_MAX = 1 << 23;
/** Connection-local scratch of a routed run: the routes of the day. */
const ROUTING_SCRATCH = `
  CREATE TEMP TABLE IF NOT EXISTS share_route (
    merchant_id TEXT NOT NULL, product TEXT NOT NULL, class_id INTEGER NOT NULL, base_kind INTEGER NOT NULL,
    table_id INTEGER NOT NULL, neg_table_id INTEGER NOT NULL, table_idx INTEGER NOT NULL, neg_table_idx INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, product)
  ) WITHOUT ROWID;
  DELETE FROM temp.share_route;
`;

/** A base as share_tally gets it: a number while exact, else its digits. */
type BaseArgument = number | string;

/** A routed run: its routes by split class id, its tables by id and their ids by index, the parts allocated
 *  (by part id, with their split ids; found by split class and base), the currencies met. */
interface Routing {
  readonly classes: ReadonlyMap<number, Route>;
  readonly tables: ReadonlyMap<number, SplitTable>;
  readonly tableIds: readonly number[];
  readonly parts: BaseSplit[];
  readonly splitIds: number[];
  readonly partIds: Map<number, Map<BaseArgument, number>>;
  /** The parts as numbers, for the tally to sum as it counts. */
  readonly amounts: PartAmounts;
  /** The currencies met, by their index in the tally's SQL. */
  readonly currencies: string[];
  /** A payment's base on its route, in SQL (routeBase). */
  readonly baseSql: string;
}

/** A routed page: the payments of the date with ids in (after, last]; last null: all after `after`. */
interface RoutedPageKey {
  readonly date: string;
  readonly after: string;
  readonly last: string | null;
}
const pageParams = (k: RoutedPageKey): Record<string, string> => (k.last === null ? { date: k.date, after: k.after } : { date: k.date, after: k.after, last: k.last });
const pageSql = (k: RoutedPageKey): string => routedPage(k.last === null);

/** What share_tally counts into while a routed statement runs: the tally, the run, and the (split class,
 *  base) pairs met without a part yet (null class: no route). */
interface RoutedCount {
  readonly tally: PageTally;
  readonly routing: Routing;
  readonly missing: [classId: number | null, base: BaseArgument][];
}

/** The count share_tally adds to (null between statements). */
interface TallySink {
  current: RoutedCount | null;
}

function currencyAt(currencies: readonly string[], index: number): string {
  const currency = currencies[index];
  if (currency === undefined) throw new Error(`${TALLY_FUNCTION}: no currency ${index}`);
  return currency;
}

/** A currency the statement passed as text: kept for the run's next statements (up to TALLY_CURRENCIES_MAX). */
function met(currencies: string[], currency: string): string {
  if (currencies.length < TALLY_CURRENCIES_MAX && !currencies.includes(currency)) currencies.push(currency);
  return currency;
}

const isNegative = (base: BaseArgument): boolean => (typeof base === 'number' ? base < 0 : base.startsWith('-'));

/** One sink per connection: SQL functions belong to the connection, and a store may be opened on it again. */
const tallySinks = new WeakMap<SqliteConnection, TallySink>();

/**
 * share_tally(class, base, table index, negative table index, currency) finds the part of the payment's base
 * in its split class, counts it into the sink's tally (key: part id × tables + the index of its table) and
 * returns its split id; a payment whose part is not allocated yet (or without a route) is counted missing and
 * gets NULL (its row is skipped). It is called once per row a routed statement produces (as a result column:
 * SQLite computes each column of each output row once), so the page's totals need no second pass over its
 * payments, and no lookup of the part in SQL.
 */
function tallySinkOf(db: SqliteConnection): TallySink {
  let sink = tallySinks.get(db);
  if (sink === undefined) {
    const s: TallySink = { current: null };
    db.function(TALLY_FUNCTION, { deterministic: false, safeIntegers: false }, (classId: unknown, base: unknown, tableIdx: unknown, negTableIdx: unknown, currency: unknown) => {
      const c = s.current;
      if (c === null) throw new Error(`${TALLY_FUNCTION} outside a routed page`);
      const partId = classId === null ? undefined : c.routing.partIds.get(classId as number)?.get(base as BaseArgument);
      if (partId === undefined) {
        c.missing.push([classId as number | null, base as BaseArgument]);
        return c.tally.add(null, '');
      }
      const r = c.routing;
      const index = (isNegative(base as BaseArgument) ? negTableIdx : tableIdx) as number;
      c.tally.add(partId * r.tableIds.length + index, typeof currency === 'number' ? currencyAt(r.currencies, currency) : met(r.currencies, currency as string));
      return r.splitIds[partId];
    });
    tallySinks.set(db, s);
    sink = s;
  }
  return sink;
}

/** Table ids and split ids known to be committed, by key (a few tables per rule and merchant; a few thousand
 *  splits a day). */
const KNOWN_IDS_MAX = 100_000;

/** Ids a write transaction inserted (or found), kept once it commits. */
interface PendingIds {
  readonly tables: Map<string, number>;
  readonly splits: Map<string, number>;
}

/** Keeps the ids of a committed transaction in a bounded cache (dropped whole when full). */
function keepIds(known: Map<string, number>, committed: ReadonlyMap<string, number>): void {
  if (known.size + committed.size > KNOWN_IDS_MAX) known.clear();
  for (const [key, id] of committed) known.set(key, id);
}

function toLine(r: Row): ShareLine {
  return {
    paymentId: r['payment_id'] as string,
    sourceKind: r['source_kind'] as 'payment' | 'refund',
    sourceId: r['source_id'] as string,
    partyId: r['party_id'] as string,
    partyKind: r['party_kind'] as PartyKind,
    merchantId: r['merchant_id'] as string,
    currency: r['currency'] as string,
    ruleId: r['rule_id'] as string,
    baseMinor: r['base_minor'] as bigint,
    rate: r['rate'] as string,
    shareMinor: r['share_minor'] as bigint,
    clippedMinor: r['clipped_minor'] as bigint,
  };
}

/** A JSON array of integers, as SQLite's json functions read it. */
const jsonIntegers = (values: readonly bigint[]): string => `[${values.join(',')}]`;

export class SqliteShareStore implements ShareStore {
  private readonly db: SqliteConnection;
  private readonly ledger: SqliteLedgerStore;
  private readonly stmt: (sql: string) => SqliteStatement;
  /** Whether the online core's merchants table was seen (isMerchant). */
  private merchantsTable = false;
  private readonly writeSplitsTx: { immediate(date: string, splits: readonly PaymentSplit[]): { lines: number; pending: PendingIds } };
  private readonly writeLinesTx: { immediate(date: string, lines: readonly ShareLine[]): number };
  /** Table ids by key, only of committed rows (a rolled-back transaction must not leave an id here). */
  private readonly tableIds = new Map<string, number>();
  /** Split ids by key (splitKey), only of committed rows. */
  private readonly splitIds = new Map<string, number>();
  /** The routed run: a route per split class id, the tables by id, the parts allocated so far. */
  private routing: Routing | null = null;
  /** Where this connection's share_tally counts. */
  private readonly tallySink: TallySink;
  /** JSON text of share arrays that many payments have in common (the cached parts of a base). */
  private readonly sharesTexts = new WeakMap<readonly bigint[], string>();

  /** On the ledger store's connection. `splitPagePayments`: payments per page eachSplitByPayment reads (tests make
   *  it small); `monthPairs`: how monthPairs shares a month out with a worker thread (tests force it). */
  constructor(
    ledger: SqliteLedgerStore,
    private readonly options: { readonly splitPagePayments?: number; readonly monthPairs?: MonthPairsOptions } = {},
  ) {
    this.db = ledger.db;
    this.stmt = statementCache(this.db);
    this.ledger = ledger;
    this.tallySink = tallySinkOf(this.db);
    migrateModule(this.db, 'sharing', SHARING_MIGRATIONS);
    // A run inserts a million rows: with SQLite's default 2 MiB page cache every insert rereads inner pages.
    this.db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    const sqlFor = (n: number): string => `INSERT INTO share_payments (${PAYMENT_INSERT_COLUMNS}) VALUES ${Array(n).fill(PAYMENT_INSERT_ROW).join(', ')}`;
    const insertFull = this.db.prepare(sqlFor(PAYMENT_ROWS_PER_INSERT));
    this.writeSplitsTx = this.db.transaction((date: string, splits: readonly PaymentSplit[]) => {
      const pending: PendingIds = { tables: new Map(), splits: new Map() };
      const first = splits[0]?.payment.paymentId ?? '';
      const last = splits[splits.length - 1]?.payment.paymentId ?? first;
      const existing = this.stmt('SELECT payment_id FROM share_payments WHERE business_date = ? AND payment_id BETWEEN ? AND ?').pluck(true).all(date, first, last) as string[];
      const shared = new Set(existing);
      const sums = new PageSums();
      let lines = 0;
      const values: unknown[] = [];
      let rows = 0;
      const flush = (): void => {
        if (rows === 0) return;
        (rows === PAYMENT_ROWS_PER_INSERT ? insertFull : this.stmt(sqlFor(rows))).run(...values);
        values.length = 0;
        rows = 0;
      };
      for (const s of splits) {
        const p = s.payment;
        if (shared.size > 0 && shared.has(p.paymentId)) continue;
        const tableId = this.tableIds.get(s.table.key) ?? pending.tables.get(s.table.key) ?? this.tableId(s.table, pending.tables);
        values.push(date, p.paymentId, p.merchantId, p.currency, tableId, this.splitId(s, pending.splits));
        if (++rows === PAYMENT_ROWS_PER_INSERT) flush();
        lines += sums.add(s.table, p.currency, s, 1);
      }
      flush();
      this.addTotals(date, sums.fold());
      return { lines, pending };
    });
    this.writeLinesTx = this.db.transaction((date: string, lines: readonly ShareLine[]) => {
      const insert = this.stmt(`INSERT INTO share_refund_lines (${LINE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
      const adds = new Map<string, PartyAdd>();
      let added = 0;
      for (const l of lines) {
        const changes = insert.run(l.paymentId, l.sourceKind, l.sourceId, l.partyId, l.partyKind, date, l.merchantId, l.currency, l.ruleId, l.baseMinor, l.rate, l.shareMinor, l.clippedMinor).changes;
        if (changes === 0) continue;
        added++;
        const a = partyAdd(adds, l.partyId, l.partyKind, l.currency);
        a.lines++;
        a.shareMinor += l.shareMinor;
      }
      this.addTotals(date, adds);
      return added;
    });
  }

  /** The id of a table's row, inserted when new (inside the caller's transaction; `pending` until it commits). */
  private tableId(t: SplitTable, pending: Map<string, number>): number {
    const seats = JSON.stringify(t.seats.map((s) => [s.partyId, s.partyKind, s.rate]));
    this.stmt('INSERT INTO share_tables (rule_id, platform_rate, seats, table_key) VALUES (?, ?, ?, ?) ON CONFLICT (table_key) DO NOTHING').run(t.ruleId, t.platformRate, seats, t.key);
    const id = Number(this.stmt('SELECT table_id FROM share_tables WHERE table_key = ?').pluck(true).get(t.key) as bigint);
    pending.set(t.key, id);
    return id;
  }

  /** The id of a split's row in share_splits, inserted when new (inside the caller's transaction, which keeps
   *  the ids it used in `pending` once it commits). */
  private splitId(s: Pick<BaseSplit, 'baseMinor' | 'sharesMinor' | 'clippedMinor'> & { readonly platformShareMinor: bigint | null }, pending: Map<string, number>): number {
    const shares = this.sharesText(s.sharesMinor);
    const clipped = s.clippedMinor === null ? null : jsonIntegers(s.clippedMinor);
    const key = `${s.baseMinor}/${shares}/${clipped ?? ''}/${s.platformShareMinor ?? ''}`;
    const known = this.splitIds.get(key) ?? pending.get(key);
    if (known !== undefined) return known;
    const params = [s.baseMinor, shares, clipped, s.platformShareMinor];
    const added = this.stmt(
      `INSERT INTO share_splits (base_minor, shares, clipped, platform_share_minor, split_key) VALUES (?, ?, ?, ?, ${SPLIT_KEY_PARAMS}) ON CONFLICT (split_key) DO NOTHING RETURNING split_id`,
    )
      .pluck(true)
      .get(...params, ...params) as bigint | undefined;
    const id = Number(added ?? (this.stmt(`SELECT split_id FROM share_splits WHERE split_key = ${SPLIT_KEY_PARAMS}`).pluck(true).get(...params) as bigint));
    pending.set(key, id);
    return id;
  }

  private sharesText(shares: readonly bigint[]): string {
    let text = this.sharesTexts.get(shares);
    if (text === undefined) {
      text = jsonIntegers(shares);
      this.sharesTexts.set(shares, text);
    }
    return text;
  }

  private addTotals(date: string, adds: ReadonlyMap<string, PartyAdd>): void {
    const upsert = this.stmt(
      `INSERT INTO share_party_days (business_date, party_id, currency, party_kind, lines, share_minor) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (business_date, party_id, currency, party_kind) DO UPDATE SET lines = lines + excluded.lines, share_minor = share_minor + excluded.share_minor`,
    );
    for (const a of adds.values()) upsert.run(date, a.partyId, a.currency, a.partyKind, a.lines, a.shareMinor);
  }

  monthPairs(fromDate: string, toDate: string): { merchantId: string; product: string; volumeMinor: bigint }[] {
    if (!hasTable(this.db, 'payments')) return [];
    const rows = monthPairsOf(this.db, this.ledger.path, fromDate, toDate, this.options.monthPairs);
    return rows.map(([merchantId, product, volumeMinor]) => ({ merchantId, product, volumeMinor }));
  }

  setRoutes(routes: readonly RoutedPair[]): void {
    this.db.exec(ROUTING_SCRATCH);
    const classIds = new Map<string, number>();
    const classes = new Map<number, Route>();
    const tables = new Map<number, SplitTable>();
    const tableIds: number[] = [];
    const indexes = new Map<number, number>();
    const pending = this.db
      .transaction(() => {
        const pending = new Map<string, number>();
        const idOf = (t: SplitTable): [number, number] => {
          const id = this.tableIds.get(t.key) ?? pending.get(t.key) ?? this.tableId(t, pending);
          let index = indexes.get(id);
          if (index === undefined) {
            index = tableIds.push(id) - 1;
            indexes.set(id, index);
            tables.set(id, t);
          }
          return [id, index];
        };
        const insert = this.stmt(
          'INSERT INTO temp.share_route (merchant_id, product, class_id, base_kind, table_id, neg_table_id, table_idx, neg_table_idx) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        );
        for (const { merchantId, product, route } of routes) {
          let classId = classIds.get(route.splitKey);
          if (classId === undefined) {
            classId = classIds.size + 1;
            classIds.set(route.splitKey, classId);
            classes.set(classId, route);
          }
          const [tableId, tableIdx] = idOf(route.table);
          const [negTableId, negTableIdx] = idOf(route.negativeTable);
          insert.run(merchantId, product, classId, BASE_KINDS[route.baseKind], tableId, negTableId, tableIdx, negTableIdx);
        }
        return pending;
      })
      .immediate();
    for (const [key, id] of pending) this.tableIds.set(key, id);
    const amounts = new PartAmounts(tableIds.map((id) => tables.get(id)?.seats.length ?? 0));
    const baseSql = routeBase(new Set(routes.map((r) => r.route.baseKind)));
    this.routing = { classes, tables, tableIds, parts: [], splitIds: [], partIds: new Map(), amounts, currencies: [], baseSql };
  }

  routePageEnd(afterId: string, limit: number): { lastId: string | null } | null {
    if (!hasTable(this.db, 'payments')) return null;
    // The id index alone (no row read): the page holds the date's payments among the next `limit` ids.
    const lastId = this.stmt('SELECT payment_id FROM payments WHERE payment_id > ? ORDER BY payment_id LIMIT 1 OFFSET ?').pluck(true).get(afterId, limit - 1) as string | undefined;
    if (lastId !== undefined) return { lastId };
    return this.stmt('SELECT 1 FROM payments WHERE payment_id > ? LIMIT 1').get(afterId) === undefined ? null : { lastId: null };
  }

  shareRoutedPage(businessDate: string, afterId: string, lastId: string | null): RoutedPage {
    const routing = this.routing;
    if (routing === null) throw new Error('shareRoutedPage before setRoutes');
    const page: RoutedPageKey = { date: businessDate, after: afterId, last: lastId };
    const splitIds = new Map<string, number>();
    /** Parts allocated by this page: forgotten if it rolls back (their split rows go with it). */
    const added: [number, BaseArgument][] = [];
    const write = this.db.transaction(() => {
      const shared = Number(
        this.stmt(`SELECT COUNT(*) FROM share_payments WHERE business_date = @date AND payment_id > @after${lastId === null ? '' : ' AND payment_id <= @last'}`).pluck(true).get(pageParams(page)) as bigint,
      );
      // One pass writes the page and counts it (split_id goes through share_tally); a payment whose (split,
      // base) has no part yet is counted apart and not written (OR IGNORE skips its NULL split_id): the parts
      // met are then allocated (once per distinct base) and the rest written by a second pass.
      if (shared === 0) {
        const fresh = this.newCount(routing);
        let inserted = this.insertRouted(fresh, page, false);
        if (fresh.tally.missing > 0) {
          this.addMissingParts(routing, fresh.missing, splitIds, added);
          fresh.tally.missing = 0;
          fresh.missing.length = 0;
          inserted += this.insertRouted(fresh, page, true);
          // Every payment of the page has a route (the month's pairs include the day's).
          if (fresh.tally.missing > 0) throw new Error(`routed page (${afterId}, ${lastId ?? ''}]: ${fresh.tally.missing} payments have no route`);
        }
        if (inserted !== fresh.tally.payments) throw new Error(`routed page (${afterId}, ${lastId ?? ''}]: ${inserted} payments written, ${fresh.tally.payments} counted`);
        const all = this.totalsOf(routing, fresh.tally);
        this.addTotals(businessDate, all.sums.fold());
        return { lines: all.lines, all };
      }
      // A page an earlier run wrote, in whole or in part: all of it is counted (its clips and negative
      // bases), what is missing is written.
      const all = this.tallyPage(routing, page, splitIds, added);
      if (shared >= all.payments) return { lines: 0, all };
      const fresh = this.newCount(routing);
      this.insertRouted(fresh, page, true);
      if (fresh.tally.missing > 0) throw new Error(`routed page (${afterId}, ${lastId ?? ''}]: ${fresh.tally.missing} payments have no part`);
      const totals = this.totalsOf(routing, fresh.tally);
      this.addTotals(businessDate, totals.sums.fold());
      return { lines: totals.lines, all };
    });
    let written: ReturnType<typeof write>;
    try {
      written = write.immediate();
    } catch (e) {
      for (const [classId, base] of added) routing.partIds.get(classId)?.delete(base);
      throw e;
    }
    keepIds(this.splitIds, splitIds);

    const negatives = written.all.negative
      ? (this.stmt(`SELECT p.payment_id, ${routing.baseSql} AS base FROM ${ROUTED_FROM} WHERE ${pageSql(page)} AND ${routing.baseSql} < 0 ORDER BY p.payment_id`).raw(true).all(pageParams(page)) as [string, bigint][]).map(
          ([paymentId, baseMinor]) => ({ paymentId, baseMinor }),
        )
      : [];
    return { payments: written.all.payments, linesWritten: written.lines, clippedMinor: written.all.clippedMinor, clippedPayments: written.all.clippedPayments, negatives };
  }

  /** A count for a page: a tally with the (table, part) pairs known so far counted in a typed array. */
  private newCount(routing: Routing): RoutedCount {
    return { tally: new PageTally(routing.tableIds, routing.parts.length * routing.tableIds.length, routing.amounts), routing, missing: [] };
  }

  /** Writes the payments of the page (those not shared yet when `onlyNew`) whose part is known, counting every
   *  payment of the page (those without a part as missing); returns how many were written. */
  private insertRouted(count: RoutedCount, page: RoutedPageKey, onlyNew: boolean): number {
    return this.counting(count, () =>
      this.stmt(
        `INSERT OR IGNORE INTO share_payments (${PAYMENT_INSERT_COLUMNS})
         SELECT p.business_date, p.payment_id, p.merchant_id, p.currency, ${routedTable(count.routing.baseSql)}, ${talliedSplit(count.routing)}
           FROM ${ROUTED_PAYMENTS} WHERE ${pageSql(page)}${onlyNew ? ` AND ${NOT_SHARED}` : ''} ORDER BY p.payment_id`,
      ).run(pageParams(page)).changes,
    );
  }

  /** Counts every payment of the page (shared or not), allocating the parts it lacks; checks each has a route. */
  private tallyPage(routing: Routing, page: RoutedPageKey, splitIds: Map<string, number>, added: [number, BaseArgument][]): TallyTotals {
    const count = (): RoutedCount => {
      const c = this.newCount(routing);
      this.counting(c, () => this.stmt(`SELECT COUNT(${talliedSplit(routing)}) FROM ${ROUTED_PAYMENTS} WHERE ${pageSql(page)}`).pluck(true).get(pageParams(page)));
      return c;
    };
    let c = count();
    if (c.tally.missing > 0) {
      this.addMissingParts(routing, c.missing, splitIds, added);
      c = count();
      if (c.tally.missing > 0) throw new Error(`routed page (${page.after}, ${page.last ?? ''}]: ${c.tally.missing} payments have no route`);
    }
    return this.totalsOf(routing, c.tally);
  }

  private totalsOf(routing: Routing, tally: PageTally): TallyTotals {
    return foldTally(
      tally,
      (tableId) => {
        const table = routing.tables.get(tableId);
        if (table === undefined) throw new Error(`table ${tableId} is not a route's`);
        return table;
      },
      (partId) => {
        const part = routing.parts[partId];
        if (part === undefined) throw new Error(`part ${partId} was not allocated`);
        return part;
      },
    );
  }

  /** Runs `f` with share_tally counting into `count` (one statement at a time runs on a connection). */
  private counting<T>(count: RoutedCount, f: () => T): T {
    if (this.tallySink.current !== null) throw new Error('share_tally is already counting');
    this.tallySink.current = count;
    try {
      return f();
    } finally {
      this.tallySink.current = null;
    }
  }

  /** Allocates the parts of the (split class, base) pairs met without one (a pair without a route is left for
   *  the caller's check), each with its split's row; lists them in `added`. */
  private addMissingParts(routing: Routing, missing: readonly [number | null, BaseArgument][], splitIds: Map<string, number>, added: [number, BaseArgument][]): void {
    for (const [classId, base] of missing) {
      if (classId === null) continue;
      const known = getOrMake(routing.partIds, classId, () => new Map<BaseArgument, number>());
      if (known.has(base)) continue;
      const route = routing.classes.get(classId);
      if (route === undefined) throw new Error(`split class ${classId} has no route`);
      const b = route.split(BigInt(base));
      const partId = routing.parts.length;
      if (partId >= ROUTED_PARTS_MAX || (partId + 1) * routing.tableIds.length > Number.MAX_SAFE_INTEGER) throw new Error(`a routed run of more than ${partId} distinct bases`);
      // Ids are never reused: a part a rolled-back page allocated is allocated again under a new id.
      routing.parts.push(b);
      routing.amounts.push(b);
      routing.splitIds.push(this.splitId(b, splitIds));
      known.set(base, partId);
      added.push([classId, base]);
    }
  }

  dayStatus(businessDate: string): 'open' | 'closed' | undefined {
    const r = this.stmt('SELECT status FROM business_days WHERE business_date = ?').get(businessDate) as Row | undefined;
    return r === undefined ? undefined : (r['status'] as 'open' | 'closed');
  }

  isMerchant(merchantId: string): boolean {
    // Asked once per merchant of the config (10,000 in the bench): once the table is seen it stays (no
    // module drops it), so it is looked for in sqlite_master only until then.
    this.merchantsTable ||= hasTable(this.db, 'merchants');
    return this.merchantsTable && this.stmt('SELECT 1 FROM merchants WHERE merchant_id = ?').get(merchantId) !== undefined;
  }

  monthVolumes(fromDate: string, toDate: string): Map<string, bigint> {
    const out = new Map<string, bigint>();
    if (!hasTable(this.db, 'payments')) return out;
    const rows = this.stmt(
      `SELECT merchant_id, SUM(amount_minor) AS volume FROM payments WHERE business_date >= ? AND business_date <= ? AND status IN ${SUCCEEDED} GROUP BY merchant_id`,
    ).all(fromDate, toDate) as Row[];
    for (const r of rows) out.set(r['merchant_id'] as string, r['volume'] as bigint);
    return out;
  }

  paymentsPage(businessDate: string, afterId: string, limit: number): SharePayment[] {
    if (!hasTable(this.db, 'payments')) return [];
    // `+business_date` keeps the planner on the primary key, so each page continues the id order
    // instead of sorting the whole day again.
    const rows = this.stmt(
      `SELECT payment_id, merchant_id, product, currency, amount_minor, fee_minor, cost_minor FROM payments
       WHERE payment_id > ? AND +business_date = ? AND status IN ${SUCCEEDED} ORDER BY payment_id LIMIT ?`,
    )
      .raw(true)
      .all(afterId, businessDate, limit) as unknown[][];
    return rows.map((r) => ({
      paymentId: r[0] as string,
      merchantId: r[1] as string,
      product: r[2] as string,
      currency: r[3] as string,
      amountMinor: r[4] as bigint,
      feeMinor: r[5] as bigint,
      costMinor: r[6] as bigint,
    }));
  }

  refundsPage(businessDate: string, afterSeq: number, limit: number): { refund: ShareRefund; seq: number; paymentDate: string | null }[] {
    if (!hasTable(this.db, 'refunds')) return [];
    const rows = this.stmt(
      `SELECT e.seq, r.refund_id, r.payment_id, r.merchant_id, r.currency, r.amount_minor, p.amount_minor AS payment_amount_minor, p.business_date AS payment_date,
              (SELECT COALESCE(SUM(r2.amount_minor), 0) FROM refunds r2 JOIN entries e2 ON e2.entry_id = 'refund.' || r2.refund_id
                WHERE r2.payment_id = r.payment_id AND r2.status = 'succeeded' AND e2.seq < e.seq) AS refunded_before_minor
       FROM entries e JOIN refunds r ON r.refund_id = substr(e.entry_id, 8) JOIN payments p ON p.payment_id = r.payment_id
       WHERE e.business_date = ? AND e.seq > ? AND substr(e.entry_id, 1, 7) = 'refund.' AND r.status = 'succeeded'
       ORDER BY e.seq LIMIT ?`,
    ).all(businessDate, afterSeq, limit) as Row[];
    return rows.map((r) => ({
      seq: Number(r['seq'] as bigint),
      paymentDate: (r['payment_date'] as string | null) ?? null,
      refund: {
        refundId: r['refund_id'] as string,
        paymentId: r['payment_id'] as string,
        merchantId: r['merchant_id'] as string,
        currency: r['currency'] as string,
        amountMinor: r['amount_minor'] as bigint,
        refundedBeforeMinor: r['refunded_before_minor'] as bigint,
        paymentAmountMinor: r['payment_amount_minor'] as bigint,
      },
    }));
  }

  paymentLines(paymentId: string, paymentDate: string): ShareLine[] {
    // The view's arms each take the key (business date, payment): a few rows, not a scan.
    return (
      this.stmt(`SELECT ${LINE_COLUMNS} FROM share_lines WHERE business_date = ? AND payment_id = ? AND source_kind = 'payment' ORDER BY party_id`).all(paymentDate, paymentId) as Row[]
    ).map(toLine);
  }

  paymentsShared(businessDate: string, firstId: string, lastId: string): number {
    const r = this.stmt('SELECT COUNT(*) AS n FROM share_payments WHERE business_date = ? AND payment_id BETWEEN ? AND ?').get(businessDate, firstId, lastId) as Row;
    return Number(r['n'] as bigint);
  }

  writeSplits(businessDate: string, splits: readonly PaymentSplit[]): number {
    if (splits.length === 0) return 0;
    const { lines, pending } = this.writeSplitsTx.immediate(businessDate, splits);
    keepIds(this.tableIds, pending.tables);
    keepIds(this.splitIds, pending.splits);
    return lines;
  }

  writeLines(businessDate: string, lines: readonly ShareLine[]): number {
    return lines.length === 0 ? 0 : this.writeLinesTx.immediate(businessDate, lines);
  }

  partyTotals(businessDate: string): PartyDayTotal[] {
    const rows = this.stmt(
      `SELECT party_id, party_kind, currency, share_minor AS net_minor FROM share_party_days
       WHERE business_date = ? AND party_kind != 'platform' ORDER BY party_id, currency, party_kind`,
    ).all(businessDate) as Row[];
    return rows.map((r) => ({ partyId: r['party_id'] as string, partyKind: r['party_kind'] as 'agent' | 'isv', currency: r['currency'] as string, netMinor: r['net_minor'] as bigint }));
  }

  eachLine(businessDate: string, visit: (line: ShareLine) => void): void {
    // The primary key is in this order: a sequential read of the date's part of the table.
    const rows = this.stmt(`SELECT ${LINE_COLUMNS} FROM share_lines WHERE business_date = ? ORDER BY party_id, currency, payment_id, source_kind, source_id`)
      .raw(true)
      .iterate(businessDate) as Iterable<unknown[]>;
    for (const r of rows) {
      visit({
        paymentId: r[0] as string,
        sourceKind: r[1] as 'payment' | 'refund',
        sourceId: r[2] as string,
        partyId: r[3] as string,
        partyKind: r[4] as PartyKind,
        merchantId: r[6] as string,
        currency: r[7] as string,
        ruleId: r[8] as string,
        baseMinor: r[9] as bigint,
        rate: r[10] as string,
        shareMinor: r[11] as bigint,
        clippedMinor: r[12] as bigint,
      });
    }
  }

  eachSplitByPayment(businessDate: string, visit: SplitVisitor, range?: PaymentRange): void {
    new SplitReader(this.stmt, this.options.splitPagePayments).each(businessDate, visit, range);
  }

  paymentsCut(businessDate: string, paymentsMin: number, share: number): string | null {
    const at = this.stmt('SELECT payment_id FROM share_payments WHERE business_date = ? ORDER BY payment_id LIMIT 1 OFFSET ?').pluck(true);
    if (at.get(businessDate, Math.max(0, paymentsMin - 1)) === undefined) return null;
    const count = Number(this.stmt('SELECT COUNT(*) FROM share_payments WHERE business_date = ?').pluck(true).get(businessDate) as bigint);
    const offset = Math.floor(count * share) - 1;
    return offset < 0 ? null : ((at.get(businessDate, offset) as string | undefined) ?? null);
  }

  /** A worker on its own read-only connection to the file (sqlite/statement-worker.ts); none for a database
   *  in memory, or with a transaction open here (the worker would not see its rows). */
  startStatementWorker(job: StatementHalfJob): boolean {
    const path = this.ledger.path;
    if (path === '' || path === ':memory:' || this.db.inTransaction) return false;
    const workerData: StatementWorkerData = { ...job, path, splitPagePayments: this.options.splitPagePayments };
    const worker = startWorker(import.meta.url, './sqlite/statement-worker', { workerData, transferList: [job.port] });
    worker.on('error', () => undefined); // shows as the half not handed over (statement-halves.ts)
    worker.unref();
    return true;
  }

  async postEntries(accounts: readonly ShareAccount[], commands: readonly LedgerCommand[], nowMs: number): Promise<PostResult[]> {
    this.ledger.ensureAccountsSync(
      accounts.map((a) => ({ ...a, flags: 0, status: 'active' as const })),
      nowMs,
    );
    return this.ledger.postEntries(commands, nowMs);
  }
}
