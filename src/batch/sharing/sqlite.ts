// The SQLite adapter of profit sharing (module "sharing" in schema_migrations). Reads the online core's
// payments and refunds on the shared connection (batch does not import online: these queries are its own
// view of those tables) and keeps the day's shares compactly (migration 2; migration 1 kept a row per line,
// 3 B-tree rows per payment plus an index, which bounded a run at a few µs per line):
//
// share_tables      the parties of a split (rule, seats [[party, kind, rate], …] in allocation order, the
//                   platform's rate), once per distinct table: all payments of a merchant under one rule and
//                   tier share one.
// share_payments    one row per payment shared, keyed by (business date, payment): its table, base, one
//                   share per seat (JSON array), what caps clipped per seat (NULL when nothing), and the
//                   platform's share. Inserted in key order: appended to the B-tree.
// share_refund_lines one row per clawback line (refunds are few), keyed like the old share_lines.
// share_party_days  per date, party, currency and kind: lines and shares so far (net of clawbacks), updated in
//                   the transaction that writes them, so the day's entries read a few rows.
// share_lines       a VIEW with migration 1's columns and rows (a payment's seat line only when it has a
//                   share or a clipped amount, as it was written then), for statements, the report and tests.

import type { LedgerCommand, PostResult } from '../../ledger/index.js';
import { hasTable, migrateModule, statementCache, type SqliteConnection, type SqliteStatement } from '../../ledger/sqlite/database.js';
import type { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import type { BaseSplit, PartyKind, PaymentSplit, Route, ShareLine, SharePayment, ShareRefund, SplitTable } from './core.js';
import type { PartyDayTotal, RoutedPage, RoutedPair, ShareAccount, ShareStore, SplitVisitor } from './port.js';
import { SplitReader } from './sqlite-splits.js';
import { foldTally, PageSums, PageTally, partyAdd, type PartyAdd, type TallyTotals } from './totals.js';

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
];

const SUCCEEDED = "('succeeded', 'partially_refunded', 'refunded')";
type Row = Record<string, unknown>;

/** The page cache of the connection while it shares (KiB). */
const PAGE_CACHE_KIB = 256 * 1024;

/** Rows per INSERT statement: one call binds many rows (9 parameters each, far below SQLite's 32,766). */
const PAYMENT_ROWS_PER_INSERT = 100;
const PAYMENT_INSERT_COLUMNS = 'business_date, payment_id, merchant_id, currency, table_id, base_minor, shares, clipped, platform_share_minor';

const BASE_KINDS = { fee_net: 0, fee: 1, amount: 2 } as const;
/** The base of a payment on its route (temp.share_route r), in SQL, as core.baseOf computes it. */
const ROUTE_BASE = 'CASE r.base_kind WHEN 0 THEN p.fee_minor - p.cost_minor WHEN 1 THEN p.fee_minor ELSE p.amount_minor END';
/** Payments driven in id order, then their route (CROSS JOIN keeps that order). */
const ROUTED_FROM = `payments p CROSS JOIN temp.share_route r ON r.merchant_id = p.merchant_id AND r.product = p.product`;
/** A page of a route split: payments driven in id order, then their route and the part of their base (LEFT
 *  JOINs keep that order, and keep a payment whose route or part is missing: its tally key is then NULL). */
const ROUTED_PARTS = `payments p LEFT JOIN temp.share_route r ON r.merchant_id = p.merchant_id AND r.product = p.product
  LEFT JOIN temp.share_parts sp ON sp.class_id = r.class_id AND sp.base_minor = ${ROUTE_BASE}`;
/** The payments of a routed page: of the date, succeeded, ids in (@after, @last], or all after @after on the last page. */
const routedPage = (toEnd: boolean): string => `p.payment_id > @after${toEnd ? '' : ' AND p.payment_id <= @last'} AND +p.business_date = @date AND p.status IN ${SUCCEEDED}`;
const NOT_SHARED = 'NOT EXISTS (SELECT 1 FROM share_payments s WHERE s.business_date = p.business_date AND s.payment_id = p.payment_id)';
/** The SQL function that counts a payment's (table, part, currency) as the statement reads it (see PageTally). */
const TALLY_FUNCTION = 'share_tally';
/** A routed payment's table id (the platform's table alone for a negative base), counted by the tally: its key
 *  is part id × `tables` + the table's index in the run. */
const talliedTable = (tables: number): string =>
  `CAST(${TALLY_FUNCTION}(sp.part_id * ${tables} + CASE WHEN sp.base_minor < 0 THEN r.neg_table_idx ELSE r.table_idx END, p.currency) AS INTEGER)`;
/** Distinct (split class, base) pairs a routed run allocates and keeps (one per payment at worst). */
const ROUTED_PARTS_MAX = 1 << 23;
/** Connection-local scratch of a routed run: the routes of the day and the parts of each distinct (split, base). */
const ROUTING_SCRATCH = `
  CREATE TEMP TABLE IF NOT EXISTS share_route (
    merchant_id TEXT NOT NULL, product TEXT NOT NULL, class_id INTEGER NOT NULL, base_kind INTEGER NOT NULL,
    table_id INTEGER NOT NULL, neg_table_id INTEGER NOT NULL, table_idx INTEGER NOT NULL, neg_table_idx INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, product)
  ) WITHOUT ROWID;
  CREATE TEMP TABLE IF NOT EXISTS share_parts (
    class_id INTEGER NOT NULL, base_minor INTEGER NOT NULL, part_id INTEGER NOT NULL,
    shares TEXT NOT NULL, clipped TEXT, platform_share_minor INTEGER NOT NULL,
    PRIMARY KEY (class_id, base_minor)
  ) WITHOUT ROWID;
  DELETE FROM temp.share_route;
  DELETE FROM temp.share_parts;
`;

/** A routed run: its routes by split class id, its tables by id and their ids by index, the parts of
 *  temp.share_parts by part id, the tally's SQL. */
interface Routing {
  readonly classes: ReadonlyMap<number, Route>;
  readonly tables: ReadonlyMap<number, SplitTable>;
  readonly tableIds: readonly number[];
  readonly parts: BaseSplit[];
  readonly talliedTable: string;
}

/** A routed page: the payments of the date with ids in (after, last]; last null: all after `after`. */
interface RoutedPageKey {
  readonly date: string;
  readonly after: string;
  readonly last: string | null;
}
const pageParams = (k: RoutedPageKey): Record<string, string> => (k.last === null ? { date: k.date, after: k.after } : { date: k.date, after: k.after, last: k.last });
const pageSql = (k: RoutedPageKey): string => routedPage(k.last === null);

/** The tally share_tally counts into while a routed statement runs (null between statements). */
interface TallySink {
  current: PageTally | null;
}

/** One sink per connection: SQL functions belong to the connection, and a store may be opened on it again. */
const tallySinks = new WeakMap<SqliteConnection, TallySink>();

/**
 * share_tally(key, currency) counts the call into the sink's tally and returns the key's table id. It is
 * called once per row a routed statement produces (as a result column: SQLite computes each column of each
 * output row once), so the page's totals need no second pass over its payments.
 */
function tallySinkOf(db: SqliteConnection): TallySink {
  let sink = tallySinks.get(db);
  if (sink === undefined) {
    const s: TallySink = { current: null };
    db.function(TALLY_FUNCTION, { deterministic: false, safeIntegers: false }, (key: unknown, currency: unknown) => {
      if (s.current === null) throw new Error(`${TALLY_FUNCTION} outside a routed page`);
      return s.current.add(key as number | null, currency as string);
    });
    tallySinks.set(db, s);
    sink = s;
  }
  return sink;
}

/** Table ids known to be committed, by table key (a few per rule and merchant). */
const TABLE_IDS_MAX = 100_000;

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
  private readonly writeSplitsTx: { immediate(date: string, splits: readonly PaymentSplit[]): { lines: number; tables: Map<string, number> } };
  private readonly writeLinesTx: { immediate(date: string, lines: readonly ShareLine[]): number };
  /** Table ids by key, only of committed rows (a rolled-back transaction must not leave an id here). */
  private readonly tableIds = new Map<string, number>();
  /** The routed run: a route per split class id, the tables by id, the parts in temp.share_parts by part id. */
  private routing: Routing | null = null;
  /** Where this connection's share_tally counts. */
  private readonly tallySink: TallySink;
  /** JSON text of share arrays that many payments have in common (the cached parts of a base). */
  private readonly sharesTexts = new WeakMap<readonly bigint[], string>();

  /** On the ledger store's connection. `splitPagePayments`: payments per page eachSplitByPayment reads (tests make it small). */
  constructor(
    ledger: SqliteLedgerStore,
    private readonly options: { readonly splitPagePayments?: number } = {},
  ) {
    this.db = ledger.db;
    this.stmt = statementCache(this.db);
    this.ledger = ledger;
    this.tallySink = tallySinkOf(this.db);
    migrateModule(this.db, 'sharing', SHARING_MIGRATIONS);
    // A run inserts a million rows: with SQLite's default 2 MiB page cache every insert rereads inner pages.
    this.db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    const sqlFor = (n: number): string => `INSERT INTO share_payments (${PAYMENT_INSERT_COLUMNS}) VALUES ${Array(n).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
    const insertFull = this.db.prepare(sqlFor(PAYMENT_ROWS_PER_INSERT));
    this.writeSplitsTx = this.db.transaction((date: string, splits: readonly PaymentSplit[]) => {
      const tables = new Map<string, number>();
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
        const tableId = this.tableIds.get(s.table.key) ?? tables.get(s.table.key) ?? this.tableId(s.table, tables);
        values.push(date, p.paymentId, p.merchantId, p.currency, tableId, s.baseMinor, this.sharesText(s), s.clippedMinor === null ? null : jsonIntegers(s.clippedMinor), s.platformShareMinor);
        if (++rows === PAYMENT_ROWS_PER_INSERT) flush();
        lines += sums.add(s.table, p.currency, s, 1);
      }
      flush();
      this.addTotals(date, sums.fold());
      return { lines, tables };
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

  private sharesText(s: PaymentSplit): string {
    let text = this.sharesTexts.get(s.sharesMinor);
    if (text === undefined) {
      text = jsonIntegers(s.sharesMinor);
      this.sharesTexts.set(s.sharesMinor, text);
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
    const rows = this.stmt(
      `SELECT merchant_id, product, SUM(amount_minor) FROM payments WHERE business_date >= ? AND business_date <= ? AND status IN ${SUCCEEDED} GROUP BY merchant_id, product`,
    )
      .raw(true)
      .all(fromDate, toDate) as [string, string, bigint][];
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
    this.routing = { classes, tables, tableIds, parts: [], talliedTable: talliedTable(Math.max(1, tableIds.length)) };
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
    const written = this.db
      .transaction(() => {
        const shared = Number(
          this.stmt(`SELECT COUNT(*) FROM share_payments WHERE business_date = @date AND payment_id > @after${lastId === null ? '' : ' AND payment_id <= @last'}`).pluck(true).get(pageParams(page)) as bigint,
        );
        // One pass writes the page and counts it (table_id goes through share_tally); a payment whose
        // (split, base) has no part yet is counted apart and not written (OR IGNORE skips its NULL table_id):
        // the page's new parts are then allocated (once per distinct base) and the rest written by a second pass.
        if (shared === 0) {
          const fresh = this.newTally(routing);
          let inserted = this.insertRouted(routing, fresh, page, false);
          if (fresh.missing > 0) {
            this.addMissingParts(routing, page);
            fresh.missing = 0;
            inserted += this.insertRouted(routing, fresh, page, true);
            // Every payment of the page has a route (the month's pairs include the day's).
            if (fresh.missing > 0) throw new Error(`routed page (${afterId}, ${lastId ?? ''}]: ${fresh.missing} payments have no route`);
          }
          if (inserted !== fresh.payments) throw new Error(`routed page (${afterId}, ${lastId ?? ''}]: ${inserted} payments written, ${fresh.payments} counted`);
          const all = this.totalsOf(routing, fresh);
          this.addTotals(businessDate, all.sums.fold());
          return { lines: all.lines, all };
        }
        // A page an earlier run wrote, in whole or in part: all of it is counted (its clips and negative
        // bases), what is missing is written.
        const all = this.tallyPage(routing, page);
        if (shared >= all.payments) return { lines: 0, all };
        const fresh = this.newTally(routing);
        this.insertRouted(routing, fresh, page, true);
        if (fresh.missing > 0) throw new Error(`routed page (${afterId}, ${lastId ?? ''}]: ${fresh.missing} payments have no part`);
        const totals = this.totalsOf(routing, fresh);
        this.addTotals(businessDate, totals.sums.fold());
        return { lines: totals.lines, all };
      })
      .immediate();

    const negatives = written.all.negative
      ? (this.stmt(`SELECT p.payment_id, ${ROUTE_BASE} AS base FROM ${ROUTED_FROM} WHERE ${pageSql(page)} AND ${ROUTE_BASE} < 0 ORDER BY p.payment_id`).raw(true).all(pageParams(page)) as [string, bigint][]).map(
          ([paymentId, baseMinor]) => ({ paymentId, baseMinor }),
        )
      : [];
    return { payments: written.all.payments, linesWritten: written.lines, clippedMinor: written.all.clippedMinor, clippedPayments: written.all.clippedPayments, negatives };
  }

  /** A tally for a page: the (table, part) pairs known so far counted in a typed array. */
  private newTally(routing: Routing): PageTally {
    return new PageTally(routing.tableIds, routing.parts.length * routing.tableIds.length);
  }

  /** Writes the payments of the page (those not shared yet when `onlyNew`) whose part is known, counting every
   *  payment of the page into `tally` (those without a part as missing); returns how many were written. */
  private insertRouted(routing: Routing, tally: PageTally, page: RoutedPageKey, onlyNew: boolean): number {
    return this.counting(tally, () =>
      this.stmt(
        `INSERT OR IGNORE INTO share_payments (${PAYMENT_INSERT_COLUMNS})
         SELECT p.business_date, p.payment_id, p.merchant_id, p.currency, ${routing.talliedTable}, sp.base_minor, sp.shares, sp.clipped, sp.platform_share_minor
           FROM ${ROUTED_PARTS} WHERE ${pageSql(page)}${onlyNew ? ` AND ${NOT_SHARED}` : ''} ORDER BY p.payment_id`,
      ).run(pageParams(page)).changes,
    );
  }

  /** Counts every payment of the page (shared or not), allocating the parts it lacks; checks each has a route. */
  private tallyPage(routing: Routing, page: RoutedPageKey): TallyTotals {
    const count = (): PageTally => {
      const tally = this.newTally(routing);
      this.counting(tally, () => this.stmt(`SELECT COUNT(${routing.talliedTable}) FROM ${ROUTED_PARTS} WHERE ${pageSql(page)}`).pluck(true).get(pageParams(page)));
      return tally;
    };
    let tally = count();
    if (tally.missing > 0) {
      this.addMissingParts(routing, page);
      tally = count();
      if (tally.missing > 0) throw new Error(`routed page (${page.after}, ${page.last ?? ''}]: ${tally.missing} payments have no route`);
    }
    return this.totalsOf(routing, tally);
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

  /** Runs `f` with share_tally counting into `tally` (one statement at a time runs on a connection). */
  private counting<T>(tally: PageTally, f: () => T): T {
    if (this.tallySink.current !== null) throw new Error('share_tally is already counting');
    this.tallySink.current = tally;
    try {
      return f();
    } finally {
      this.tallySink.current = null;
    }
  }

  /** Allocates the (split class, base) pairs of a page that temp.share_parts lacks, and keeps them there (and their part ids). */
  private addMissingParts(routing: Routing, page: RoutedPageKey): void {
    const pairs = this.stmt(
      `SELECT DISTINCT r.class_id, ${ROUTE_BASE} FROM ${ROUTED_FROM} LEFT JOIN temp.share_parts sp ON sp.class_id = r.class_id AND sp.base_minor = ${ROUTE_BASE}
        WHERE ${pageSql(page)} AND sp.class_id IS NULL`,
    )
      .raw(true)
      .all(pageParams(page)) as [bigint, bigint][];
    const insert = this.stmt('INSERT INTO temp.share_parts (class_id, base_minor, part_id, shares, clipped, platform_share_minor) VALUES (?, ?, ?, ?, ?, ?)');
    for (const [classBig, baseMinor] of pairs) {
      const classId = Number(classBig);
      const route = routing.classes.get(classId);
      if (route === undefined) throw new Error(`split class ${classId} has no route`);
      const b = route.split(baseMinor);
      const partId = routing.parts.length;
      if (partId >= ROUTED_PARTS_MAX || (partId + 1) * routing.tableIds.length > Number.MAX_SAFE_INTEGER) throw new Error(`a routed run of more than ${partId} distinct bases`);
      // Ids are never reused: a part whose row a rolled-back page took away is allocated again under a new id.
      routing.parts.push(b);
      insert.run(classId, b.baseMinor, partId, jsonIntegers(b.sharesMinor), b.clippedMinor === null ? null : jsonIntegers(b.clippedMinor), b.platformShareMinor);
    }
  }

  dayStatus(businessDate: string): 'open' | 'closed' | undefined {
    const r = this.stmt('SELECT status FROM business_days WHERE business_date = ?').get(businessDate) as Row | undefined;
    return r === undefined ? undefined : (r['status'] as 'open' | 'closed');
  }

  isMerchant(merchantId: string): boolean {
    return hasTable(this.db, 'merchants') && this.stmt('SELECT 1 FROM merchants WHERE merchant_id = ?').get(merchantId) !== undefined;
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
    const { lines, tables } = this.writeSplitsTx.immediate(businessDate, splits);
    if (this.tableIds.size + tables.size > TABLE_IDS_MAX) this.tableIds.clear();
    for (const [key, id] of tables) this.tableIds.set(key, id);
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

  eachSplitByPayment(businessDate: string, visit: SplitVisitor): void {
    new SplitReader(this.stmt, this.options.splitPagePayments).each(businessDate, visit);
  }

  async postEntries(accounts: readonly ShareAccount[], commands: readonly LedgerCommand[], nowMs: number): Promise<PostResult[]> {
    this.ledger.ensureAccountsSync(
      accounts.map((a) => ({ ...a, flags: 0, status: 'active' as const })),
      nowMs,
    );
    return this.ledger.postEntries(commands, nowMs);
  }
}
