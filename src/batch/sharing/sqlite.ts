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
import { SHARING_LIMITS } from './config.js';
import type { PartyDayTotal, RoutedPage, RoutedPair, ShareAccount, ShareStore } from './port.js';

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

/** Seats a table can have: every agent level and the ISV (the scratch tables of routing have a column each). */
const SEATS_MAX = SHARING_LIMITS.levelsMax + 1;
const SEAT_INDEXES = Array.from({ length: SEATS_MAX }, (_, i) => i);
const BASE_KINDS = { fee_net: 0, fee: 1, amount: 2 } as const;
/** The base of a payment on its route (temp.share_route r), in SQL, as core.baseOf computes it. */
const ROUTE_BASE = 'CASE r.base_kind WHEN 0 THEN p.fee_minor - p.cost_minor WHEN 1 THEN p.fee_minor ELSE p.amount_minor END';
/** A page of a route split: payments driven in id order, then their route and the parts of their base (CROSS JOIN keeps that order). */
const ROUTED_FROM = `payments p CROSS JOIN temp.share_route r ON r.merchant_id = p.merchant_id AND r.product = p.product`;
const ROUTED_PAGE = `p.payment_id > ? AND p.payment_id <= ? AND +p.business_date = ? AND p.status IN ${SUCCEEDED}`;
const NOT_SHARED = 'NOT EXISTS (SELECT 1 FROM share_payments s WHERE s.business_date = p.business_date AND s.payment_id = p.payment_id)';
/** Connection-local scratch of a routed run: the routes of the day and the parts of each distinct (split, base). */
const ROUTING_SCRATCH = `
  CREATE TEMP TABLE IF NOT EXISTS share_route (
    merchant_id TEXT NOT NULL, product TEXT NOT NULL, class_id INTEGER NOT NULL, base_kind INTEGER NOT NULL,
    table_id INTEGER NOT NULL, neg_table_id INTEGER NOT NULL, PRIMARY KEY (merchant_id, product)
  ) WITHOUT ROWID;
  CREATE TEMP TABLE IF NOT EXISTS share_parts (
    class_id INTEGER NOT NULL, base_minor INTEGER NOT NULL, shares TEXT NOT NULL, clipped TEXT, platform_share_minor INTEGER NOT NULL,
    lines INTEGER NOT NULL, clipped_minor INTEGER NOT NULL,
    ${SEAT_INDEXES.map((i) => `s${i} INTEGER NOT NULL, c${i} INTEGER NOT NULL, l${i} INTEGER NOT NULL`).join(', ')},
    PRIMARY KEY (class_id, base_minor)
  ) WITHOUT ROWID;
  DELETE FROM temp.share_route;
  DELETE FROM temp.share_parts;
`;

/** Table ids known to be committed, by table key (a few per rule and merchant). */
const TABLE_IDS_MAX = 100_000;

/** Share arrays parsed by one eachLineByPayment, by their JSON text (many payments have the same). */
const PARSED_ARRAYS_MAX = 100_000;

interface StoredTable {
  readonly ruleId: string;
  readonly platformRate: string | null;
  readonly seats: readonly (readonly [string, PartyKind, string])[];
}

/** A JSON array of integers as jsonIntegers wrote it ("[12,0,-3]"), exactly (no detour through a float). */
function parseIntegers(text: string): readonly bigint[] {
  const inner = text.slice(1, -1).trim();
  return inner === '' ? [] : inner.split(',').map((x) => BigInt(x.trim()));
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

/** What a page adds to a party's day. */
interface PartyAdd {
  readonly partyId: string;
  readonly partyKind: PartyKind;
  readonly currency: string;
  lines: number;
  shareMinor: bigint;
}

/** Per table and currency, the sums of a page, per seat (the platform last): folded into PartyAdds once per page. */
interface SeatSums {
  readonly table: SplitTable;
  readonly currency: string;
  readonly lines: number[];
  readonly shareMinor: bigint[];
}

function addSplit(sums: Map<SplitTable, Map<string, SeatSums>>, s: PaymentSplit): number {
  let byCurrency = sums.get(s.table);
  if (byCurrency === undefined) {
    byCurrency = new Map();
    sums.set(s.table, byCurrency);
  }
  const currency = s.payment.currency;
  let t = byCurrency.get(currency);
  if (t === undefined) {
    const n = s.table.seats.length + 1;
    t = { table: s.table, currency, lines: Array<number>(n).fill(0), shareMinor: Array<bigint>(n).fill(0n) };
    byCurrency.set(currency, t);
  }
  const seats = s.sharesMinor.length;
  let lines = 1;
  for (let i = 0; i < seats; i++) {
    const share = s.sharesMinor[i] ?? 0n;
    const clipped = s.clippedMinor === null ? 0n : (s.clippedMinor[i] ?? 0n);
    if (share === 0n && clipped === 0n) continue;
    lines++;
    t.lines[i] = (t.lines[i] ?? 0) + 1;
    t.shareMinor[i] = (t.shareMinor[i] ?? 0n) + share;
  }
  t.lines[seats] = (t.lines[seats] ?? 0) + 1;
  t.shareMinor[seats] = (t.shareMinor[seats] ?? 0n) + s.platformShareMinor;
  return lines;
}

function partyAdd(adds: Map<string, PartyAdd>, partyId: string, partyKind: PartyKind, currency: string): PartyAdd {
  const key = `${partyId}\u0000${currency}\u0000${partyKind}`;
  let a = adds.get(key);
  if (a === undefined) {
    a = { partyId, partyKind, currency, lines: 0, shareMinor: 0n };
    adds.set(key, a);
  }
  return a;
}

function foldSums(sums: Map<SplitTable, Map<string, SeatSums>>, adds: Map<string, PartyAdd>): void {
  for (const byCurrency of sums.values()) {
    for (const t of byCurrency.values()) {
      const n = t.table.seats.length;
      for (let i = 0; i <= n; i++) {
        if ((t.lines[i] ?? 0) === 0) continue;
        const seat = t.table.seats[i];
        const a = seat === undefined ? partyAdd(adds, 'platform', 'platform', t.currency) : partyAdd(adds, seat.partyId, seat.partyKind, t.currency);
        a.lines += t.lines[i] ?? 0;
        a.shareMinor += t.shareMinor[i] ?? 0n;
      }
    }
  }
}

export class SqliteShareStore implements ShareStore {
  private readonly db: SqliteConnection;
  private readonly ledger: SqliteLedgerStore;
  private readonly stmt: (sql: string) => SqliteStatement;
  private readonly writeSplitsTx: { immediate(date: string, splits: readonly PaymentSplit[]): { lines: number; tables: Map<string, number> } };
  private readonly writeLinesTx: { immediate(date: string, lines: readonly ShareLine[]): number };
  /** Table ids by key, only of committed rows (a rolled-back transaction must not leave an id here). */
  private readonly tableIds = new Map<string, number>();
  /** The routed run: a route per split class id, the tables by id, the most seats of any. */
  private routing: { classes: Map<number, Route>; tables: Map<number, SplitTable>; seats: number } | null = null;
  /** JSON text of share arrays that many payments have in common (the cached parts of a base). */
  private readonly sharesTexts = new WeakMap<readonly bigint[], string>();

  /** On the ledger store's connection. */
  constructor(ledger: SqliteLedgerStore) {
    this.db = ledger.db;
    this.stmt = statementCache(this.db);
    this.ledger = ledger;
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
      const sums = new Map<SplitTable, Map<string, SeatSums>>();
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
        lines += addSplit(sums, s);
      }
      flush();
      const adds = new Map<string, PartyAdd>();
      foldSums(sums, adds);
      this.addTotals(date, adds);
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
    const pending = this.db
      .transaction(() => {
        const pending = new Map<string, number>();
        const idOf = (t: SplitTable): number => {
          const id = this.tableIds.get(t.key) ?? pending.get(t.key) ?? this.tableId(t, pending);
          tables.set(id, t);
          return id;
        };
        const insert = this.stmt('INSERT INTO temp.share_route (merchant_id, product, class_id, base_kind, table_id, neg_table_id) VALUES (?, ?, ?, ?, ?, ?)');
        for (const { merchantId, product, route } of routes) {
          let classId = classIds.get(route.splitKey);
          if (classId === undefined) {
            classId = classIds.size + 1;
            classIds.set(route.splitKey, classId);
            classes.set(classId, route);
          }
          insert.run(merchantId, product, classId, BASE_KINDS[route.baseKind], idOf(route.table), idOf(route.negativeTable));
        }
        return pending;
      })
      .immediate();
    for (const [key, id] of pending) this.tableIds.set(key, id);
    this.routing = { classes, tables, seats: Math.max(0, ...[...tables.values()].map((t) => t.seats.length)) };
  }

  routePage(businessDate: string, afterId: string, limit: number): { lastId: string; payments: number } | null {
    if (!hasTable(this.db, 'payments')) return null;
    const r = this.stmt(
      `SELECT MAX(payment_id) AS last_id, COUNT(*) AS n FROM (SELECT payment_id FROM payments
        WHERE payment_id > ? AND +business_date = ? AND status IN ${SUCCEEDED} ORDER BY payment_id LIMIT ?)`,
    ).get(afterId, businessDate, limit) as Row;
    const n = Number(r['n'] as bigint);
    return n === 0 ? null : { lastId: r['last_id'] as string, payments: n };
  }

  shareRoutedPage(businessDate: string, afterId: string, lastId: string, payments: number): RoutedPage {
    const routing = this.routing;
    if (routing === null) throw new Error('shareRoutedPage before setRoutes');
    const page = [afterId, lastId, businessDate] as const;
    const totalsSql = (onlyNew: boolean): string =>
      `SELECT CASE WHEN sp.base_minor < 0 THEN r.neg_table_id ELSE r.table_id END AS table_id, p.currency AS currency, COUNT(*) AS n,
              SUM(sp.base_minor) AS base, SUM(sp.platform_share_minor) AS platform, SUM(sp.lines) AS lines, SUM(sp.clipped_minor) AS clipped,
              SUM(sp.clipped_minor > 0) AS clipped_payments, SUM(sp.base_minor < 0) AS negatives, SUM(sp.class_id IS NULL) AS missing
              ${SEAT_INDEXES.slice(0, routing.seats).map((i) => `, SUM(sp.s${i}), SUM(sp.l${i})`).join('')}
         FROM ${ROUTED_FROM} LEFT JOIN temp.share_parts sp ON sp.class_id = r.class_id AND sp.base_minor = ${ROUTE_BASE}
        WHERE ${ROUTED_PAGE}${onlyNew ? ` AND ${NOT_SHARED}` : ''} GROUP BY 1, 2`;
    const sums = (onlyNew: boolean): unknown[][] => this.stmt(totalsSql(onlyNew)).raw(true).all(...page) as unknown[][];
    const clippedOf = (rows: readonly unknown[][]): { clippedMinor: bigint; clippedPayments: number } => ({
      clippedMinor: rows.reduce((a, x) => a + (x[6] as bigint), 0n),
      clippedPayments: rows.reduce((a, x) => a + Number(x[7] as bigint), 0),
    });

    const written = this.db
      .transaction(() => {
        // One pass gives the page's sums when the parts of all its (split, base) are known (most pages but the
        // first); otherwise the new ones are allocated (once per distinct base) and the sums taken again.
        let all = sums(false);
        if (all.some((x) => (x[9] as bigint) > 0n)) {
          this.addMissingParts(routing.classes, page);
          all = sums(false);
        }
        // Every payment of the page has a route (the month's pairs include the day's): none may drop out of the join.
        const routed = all.reduce((a, x) => a + Number(x[2] as bigint), 0);
        if (routed !== payments) throw new Error(`routed page (${afterId}, ${lastId}]: ${routed} of ${payments} payments have a route`);
        const shared = Number(this.stmt('SELECT COUNT(*) FROM share_payments WHERE business_date = ? AND payment_id > ? AND payment_id <= ?').pluck(true).get(businessDate, afterId, lastId) as bigint);
        const negative = all.some((x) => (x[8] as bigint) > 0n);
        if (shared >= payments) return { lines: 0, clipped: clippedOf(all), negative };
        const fresh = shared === 0 ? all : sums(true);
        const expected = fresh.reduce((a, x) => a + Number(x[2] as bigint), 0);
        const inserted = this.stmt(
          `INSERT INTO share_payments (${PAYMENT_INSERT_COLUMNS})
           SELECT p.business_date, p.payment_id, p.merchant_id, p.currency, CASE WHEN sp.base_minor < 0 THEN r.neg_table_id ELSE r.table_id END,
                  sp.base_minor, sp.shares, sp.clipped, sp.platform_share_minor
             FROM ${ROUTED_FROM} CROSS JOIN temp.share_parts sp ON sp.class_id = r.class_id AND sp.base_minor = ${ROUTE_BASE}
            WHERE ${ROUTED_PAGE}${shared === 0 ? '' : ` AND ${NOT_SHARED}`} ORDER BY p.payment_id`,
        ).run(...page).changes;
        if (inserted !== expected) throw new Error(`routed page (${afterId}, ${lastId}]: ${inserted} payments written, ${expected} expected`);
        const adds = new Map<string, PartyAdd>();
        let lines = 0;
        for (const x of fresh) {
          const table = routing.tables.get(Number(x[0] as bigint));
          if (table === undefined) throw new Error(`table ${String(x[0])} is not a route's`);
          const currency = x[1] as string;
          lines += Number(x[5] as bigint);
          const platform = partyAdd(adds, 'platform', 'platform', currency);
          platform.lines += Number(x[2] as bigint);
          platform.shareMinor += x[4] as bigint;
          table.seats.forEach((seat, i) => {
            const at = 10 + i * 2;
            const seatLines = Number(x[at + 1] as bigint);
            if (seatLines === 0) return;
            const a = partyAdd(adds, seat.partyId, seat.partyKind, currency);
            a.lines += seatLines;
            a.shareMinor += x[at] as bigint;
          });
        }
        this.addTotals(businessDate, adds);
        return { lines, clipped: clippedOf(all), negative };
      })
      .immediate();

    const negatives = written.negative
      ? (this.stmt(`SELECT p.payment_id, ${ROUTE_BASE} AS base FROM ${ROUTED_FROM} WHERE ${ROUTED_PAGE} AND ${ROUTE_BASE} < 0 ORDER BY p.payment_id`).raw(true).all(...page) as [string, bigint][]).map(
          ([paymentId, baseMinor]) => ({ paymentId, baseMinor }),
        )
      : [];
    return { linesWritten: written.lines, clippedMinor: written.clipped.clippedMinor, clippedPayments: written.clipped.clippedPayments, negatives };
  }

  /** Allocates the (split class, base) pairs of a page that temp.share_parts lacks, and keeps them there. */
  private addMissingParts(classes: ReadonlyMap<number, Route>, page: readonly [string, string, string]): void {
    const pairs = this.stmt(
      `SELECT DISTINCT r.class_id, ${ROUTE_BASE} FROM ${ROUTED_FROM} LEFT JOIN temp.share_parts sp ON sp.class_id = r.class_id AND sp.base_minor = ${ROUTE_BASE}
        WHERE ${ROUTED_PAGE} AND sp.class_id IS NULL`,
    )
      .raw(true)
      .all(...page) as [bigint, bigint][];
    const parts: [number, BaseSplit][] = [];
    for (const [classBig, baseMinor] of pairs) {
      const classId = Number(classBig);
      const route = classes.get(classId);
      if (route === undefined) throw new Error(`split class ${classId} has no route`);
      parts.push([classId, route.split(baseMinor)]);
    }
    const insert = this.stmt(
      `INSERT INTO temp.share_parts (class_id, base_minor, shares, clipped, platform_share_minor, lines, clipped_minor, ${SEAT_INDEXES.map((i) => `s${i}, c${i}, l${i}`).join(', ')})
       VALUES (${Array(7 + SEATS_MAX * 3).fill('?').join(', ')})`,
    );
    for (const [classId, b] of parts) {
      const seatValues: unknown[] = [];
      let lines = 1;
      for (const i of SEAT_INDEXES) {
        const share = b.sharesMinor[i] ?? 0n;
        const clipped = b.clippedMinor?.[i] ?? 0n;
        const line = share !== 0n || clipped !== 0n ? 1 : 0;
        lines += line;
        seatValues.push(share, clipped, line);
      }
      insert.run(classId, b.baseMinor, jsonIntegers(b.sharesMinor), b.clippedMinor === null ? null : jsonIntegers(b.clippedMinor), b.platformShareMinor, lines, b.clippedTotalMinor, ...seatValues);
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

  eachLineByPayment(businessDate: string, visit: (line: ShareLine) => void): void {
    // The payments arm reads share_payments in its key order (no sort); the few clawback lines are sorted
    // and merged in by SQLite (MERGE (UNION ALL)), so SQLite's own ordering of ids decides, as in eachLine.
    const rows = this.stmt(
      `SELECT 0 AS k, payment_id AS pid, payment_id AS sid, merchant_id, currency, table_id, base_minor, shares, clipped, platform_share_minor,
              NULL AS party_id, NULL AS party_kind, NULL AS rule_id, NULL AS rate
         FROM share_payments WHERE business_date = ?
       UNION ALL
       SELECT 1, payment_id, source_id, merchant_id, currency, NULL, base_minor, NULL, clipped_minor, share_minor, party_id, party_kind, rule_id, rate
         FROM share_refund_lines WHERE business_date = ?
       ORDER BY 2, 1, 3`,
    )
      .raw(true)
      .iterate(businessDate, businessDate) as Iterable<unknown[]>;
    const tables = new Map<number, StoredTable>();
    const integers = new Map<string, readonly bigint[]>();
    const parse = (text: string): readonly bigint[] => {
      let values = integers.get(text);
      if (values === undefined) {
        if (integers.size >= PARSED_ARRAYS_MAX) integers.clear();
        values = parseIntegers(text);
        integers.set(text, values);
      }
      return values;
    };
    for (const r of rows) {
      const paymentId = r[1] as string;
      const merchantId = r[3] as string;
      const currency = r[4] as string;
      const baseMinor = r[6] as bigint;
      if (r[0] !== 0n && r[0] !== 0) {
        visit({
          paymentId,
          sourceKind: 'refund',
          sourceId: r[2] as string,
          partyId: r[10] as string,
          partyKind: r[11] as PartyKind,
          merchantId,
          currency,
          ruleId: r[12] as string,
          baseMinor,
          rate: r[13] as string,
          shareMinor: r[9] as bigint,
          clippedMinor: r[8] as bigint,
        });
        continue;
      }
      const tableId = Number(r[5] as bigint);
      let table = tables.get(tableId);
      if (table === undefined) {
        table = this.storedTable(tableId);
        tables.set(tableId, table);
      }
      const shares = parse(r[7] as string);
      const clipped = r[8] === null ? null : parse(r[8] as string);
      if (shares.length !== table.seats.length) throw new Error(`share_payments ${paymentId}: ${shares.length} shares for ${table.seats.length} seats`);
      // As the view: a seat's line only when it has a share or a clipped amount; the platform's when stored.
      table.seats.forEach(([partyId, partyKind, rate], i) => {
        const shareMinor = shares[i] ?? 0n;
        const clippedMinor = clipped?.[i] ?? 0n;
        if (shareMinor === 0n && clippedMinor === 0n) return;
        visit({ paymentId, sourceKind: 'payment', sourceId: paymentId, partyId, partyKind, merchantId, currency, ruleId: table.ruleId, baseMinor, rate, shareMinor, clippedMinor });
      });
      const platformShareMinor = r[9] as bigint | null;
      if (platformShareMinor !== null) {
        visit({
          paymentId,
          sourceKind: 'payment',
          sourceId: paymentId,
          partyId: 'platform',
          partyKind: 'platform',
          merchantId,
          currency,
          ruleId: table.ruleId,
          baseMinor,
          rate: table.platformRate as string,
          shareMinor: platformShareMinor,
          clippedMinor: 0n,
        });
      }
    }
  }

  /** A row of share_tables, its seats parsed. */
  private storedTable(tableId: number): StoredTable {
    const r = this.stmt('SELECT rule_id, platform_rate, seats FROM share_tables WHERE table_id = ?').raw(true).get(tableId) as [string, string | null, string] | undefined;
    if (r === undefined) throw new Error(`share_tables has no table ${tableId}`);
    return { ruleId: r[0], platformRate: r[1], seats: JSON.parse(r[2]) as [string, PartyKind, string][] };
  }

  async postEntries(accounts: readonly ShareAccount[], commands: readonly LedgerCommand[], nowMs: number): Promise<PostResult[]> {
    this.ledger.ensureAccountsSync(
      accounts.map((a) => ({ ...a, flags: 0, status: 'active' as const })),
      nowMs,
    );
    return this.ledger.postEntries(commands, nowMs);
  }
}
