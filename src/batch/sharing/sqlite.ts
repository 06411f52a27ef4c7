// The SQLite adapter of profit sharing (module "sharing" in schema_migrations). Reads the online core's
// payments and refunds on the shared connection (batch does not import online: these queries are its own
// view of those tables) and keeps one row per share line:
//
// share_lines  (business date, party, currency, payment, source kind, source id) → base, rate, share,
//              clipped. Clustered by date and party, so a party's statement and the day's totals are
//              sequential reads; a source is shared on one date only (a payment's business date, a refund's
//              entry date), so the key makes a re-run insert nothing. Indexed by payment for clawbacks.

import type { LedgerCommand, PostResult } from '../../ledger/index.js';
import { hasTable, migrateModule, statementCache, type SqliteConnection, type SqliteStatement } from '../../ledger/sqlite/database.js';
import type { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import type { PartyKind, ShareLine, SharePayment, ShareRefund } from './core.js';
import type { PartyDayTotal, ShareAccount, ShareStore } from './port.js';

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
];

const SUCCEEDED = "('succeeded', 'partially_refunded', 'refunded')";
type Row = Record<string, unknown>;

/** The page cache of the connection while it shares (KiB). */
const PAGE_CACHE_KIB = 256 * 1024;

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** The primary key's order within one business date. */
const byKey = (a: ShareLine, b: ShareLine): number =>
  cmp(a.partyId, b.partyId) || cmp(a.currency, b.currency) || cmp(a.paymentId, b.paymentId) || cmp(a.sourceKind, b.sourceKind) || cmp(a.sourceId, b.sourceId);

const LINE_COLUMNS = 'payment_id, source_kind, source_id, party_id, party_kind, business_date, merchant_id, currency, rule_id, base_minor, rate, share_minor, clipped_minor';

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

export class SqliteShareStore implements ShareStore {
  private readonly db: SqliteConnection;
  private readonly ledger: SqliteLedgerStore;
  private readonly stmt: (sql: string) => SqliteStatement;
  private readonly insertMany: { immediate(date: string, lines: readonly ShareLine[]): number };

  /** On the ledger store's connection. */
  constructor(ledger: SqliteLedgerStore) {
    this.db = ledger.db;
    this.stmt = statementCache(this.db);
    this.ledger = ledger;
    migrateModule(this.db, 'sharing', SHARING_MIGRATIONS);
    // A run inserts millions of lines into two B-trees (the key and the payment index): with SQLite's
    // default 2 MiB page cache every insert rereads inner pages from the OS.
    this.db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    // Rows per INSERT statement: one call binds many rows (13 parameters each, far below SQLite's 32,766).
    const rowsPerInsert = 64;
    const sqlFor = (n: number): string => `INSERT INTO share_lines (${LINE_COLUMNS}) VALUES ${Array(n).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')} ON CONFLICT DO NOTHING`;
    const insertFull = this.db.prepare(sqlFor(rowsPerInsert));
    this.insertMany = this.db.transaction((date: string, unsorted: readonly ShareLine[]) => {
      // In key order: each party's lines land side by side in the table's B-tree instead of one page apart.
      const lines = [...unsorted].sort(byKey);
      let added = 0;
      const values: unknown[] = [];
      for (let i = 0; i < lines.length; i += rowsPerInsert) {
        const chunk = lines.slice(i, i + rowsPerInsert);
        values.length = 0;
        for (const l of chunk) values.push(l.paymentId, l.sourceKind, l.sourceId, l.partyId, l.partyKind, date, l.merchantId, l.currency, l.ruleId, l.baseMinor, l.rate, l.shareMinor, l.clippedMinor);
        added += (chunk.length === rowsPerInsert ? insertFull : this.stmt(sqlFor(chunk.length))).run(...values).changes;
      }
      return added;
    });
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

  refundsPage(businessDate: string, afterSeq: number, limit: number): { refund: ShareRefund; seq: number }[] {
    if (!hasTable(this.db, 'refunds')) return [];
    const rows = this.stmt(
      `SELECT e.seq, r.refund_id, r.payment_id, r.merchant_id, r.currency, r.amount_minor, p.amount_minor AS payment_amount_minor,
              (SELECT COALESCE(SUM(r2.amount_minor), 0) FROM refunds r2 JOIN entries e2 ON e2.entry_id = 'refund.' || r2.refund_id
                WHERE r2.payment_id = r.payment_id AND r2.status = 'succeeded' AND e2.seq < e.seq) AS refunded_before_minor
       FROM entries e JOIN refunds r ON r.refund_id = substr(e.entry_id, 8) JOIN payments p ON p.payment_id = r.payment_id
       WHERE e.business_date = ? AND e.seq > ? AND substr(e.entry_id, 1, 7) = 'refund.' AND r.status = 'succeeded'
       ORDER BY e.seq LIMIT ?`,
    ).all(businessDate, afterSeq, limit) as Row[];
    return rows.map((r) => ({
      seq: Number(r['seq'] as bigint),
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

  paymentLines(paymentId: string): ShareLine[] {
    return (this.stmt(`SELECT ${LINE_COLUMNS} FROM share_lines WHERE payment_id = ? AND source_kind = 'payment' ORDER BY party_id`).all(paymentId) as Row[]).map(toLine);
  }

  paymentsShared(businessDate: string, firstId: string, lastId: string): number {
    const r = this.stmt(
      "SELECT COUNT(*) AS n FROM share_lines WHERE payment_id BETWEEN ? AND ? AND source_kind = 'payment' AND party_id = 'platform' AND business_date = ?",
    ).get(firstId, lastId, businessDate) as Row;
    return Number(r['n'] as bigint);
  }

  writeLines(businessDate: string, lines: readonly ShareLine[]): number {
    return lines.length === 0 ? 0 : this.insertMany.immediate(businessDate, lines);
  }

  partyTotals(businessDate: string): PartyDayTotal[] {
    const rows = this.stmt(
      `SELECT party_id, party_kind, currency, SUM(share_minor) AS net_minor FROM share_lines
       WHERE business_date = ? AND party_kind != 'platform' GROUP BY party_id, party_kind, currency ORDER BY party_id, currency`,
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

  async postEntries(accounts: readonly ShareAccount[], commands: readonly LedgerCommand[], nowMs: number): Promise<PostResult[]> {
    this.ledger.ensureAccountsSync(
      accounts.map((a) => ({ ...a, flags: 0, status: 'active' as const })),
      nowMs,
    );
    return this.ledger.postEntries(commands, nowMs);
  }
}
