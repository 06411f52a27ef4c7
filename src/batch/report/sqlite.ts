// The SQLite adapter of the daily report: read-only SQL over the online core's tables (payments,
// refunds, preauths, captures, payouts), reconciliation (recon_runs, recon_items, recon_suspense),
// clearing (clearing_runs, settlement_batches), sharing (share_lines), merchants and the run log. It
// creates and migrates nothing: a table that does not exist yet means its step has never run here.

import type { SqliteConnection } from '../../ledger/sqlite/database.js';
import type { ActivityRow, JobRunRow, ReconChannelRow, Settlement, SettlementRow, SettlementTotal, ShareRow, VolumeRow } from './model.js';
import type { DayInfo, OpenDiscrepancies, ReportSource } from './port.js';

type Row = Record<string, unknown>;

/** Groups read per query: channels, products, statuses and parties are few; this is a guard, not a page. */
const GROUPS_MAX = 500;

const SUCCEEDED = "('succeeded', 'partially_refunded', 'refunded', 'voided')";
const FAILED = "('failed', 'closed')";
const PENDING = "('processing', 'requires_verification')";

const big = (v: unknown): bigint => (v === null || v === undefined ? 0n : BigInt(v as bigint | number));
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v as bigint | number));
const str = (v: unknown): string => String(v);
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function countsOf(text: unknown): { matched: number; suspense: number; discrepancies: number } {
  if (typeof text !== 'string') return { matched: 0, suspense: 0, discrepancies: 0 };
  try {
    const c = JSON.parse(text) as Record<string, unknown>;
    const n = (k: string): number => (typeof c[k] === 'number' ? c[k] : 0);
    return { matched: n('matched'), suspense: n('suspense'), discrepancies: n('discrepancies') };
  } catch {
    return { matched: 0, suspense: 0, discrepancies: 0 };
  }
}

export class SqliteReportSource implements ReportSource {
  private readonly tables: Set<string>;

  constructor(private readonly db: SqliteConnection) {
    const rows = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").all() as Row[];
    this.tables = new Set(rows.map((r) => str(r['name'])));
  }

  private has(...names: string[]): boolean {
    return names.every((n) => this.tables.has(n));
  }

  day(businessDate: string): DayInfo | null {
    const r = this.db.prepare('SELECT status, opened_at_ms, closed_at_ms FROM business_days WHERE business_date = ?').get(businessDate) as Row | undefined;
    if (r === undefined) return null;
    return { status: r['status'] === 'closed' ? 'closed' : 'open', openedAtMs: num(r['opened_at_ms']), closedAtMs: r['closed_at_ms'] === null ? null : num(r['closed_at_ms']) };
  }

  volumes(businessDate: string, window: { fromMs: number; toMs: number }): { byChannel: VolumeRow[]; byProduct: VolumeRow[]; activity: ActivityRow[] } {
    if (!this.has('payments', 'refunds')) return { byChannel: [], byProduct: [], activity: [] };
    const params = { d: businessDate, from: window.fromMs, to: window.toMs, max: GROUPS_MAX };
    const day = `SELECT * FROM payments WHERE business_date = @d
                 UNION ALL SELECT * FROM payments WHERE business_date IS NULL AND created_at_ms >= @from AND created_at_ms < @to`;
    const grouped = (keyExpr: string): VolumeRow[] =>
      (
        this.db
          .prepare(
            `SELECT ${keyExpr} AS k, currency, COUNT(*) AS attempts,
               SUM(status IN ${SUCCEEDED}) AS ok, SUM(status IN ${FAILED}) AS failed, SUM(status IN ${PENDING}) AS pending,
               SUM(CASE WHEN status IN ${SUCCEEDED} THEN amount_minor ELSE 0 END) AS amount
             FROM (${day}) GROUP BY k, currency ORDER BY k, currency LIMIT @max`,
          )
          .all(params) as Row[]
      ).map((r) => ({
        key: str(r['k']),
        currency: str(r['currency']),
        attempts: num(r['attempts']),
        succeeded: num(r['ok']),
        failed: num(r['failed']),
        pending: num(r['pending']),
        succeededAmountMinor: big(r['amount']),
        refunds: 0,
        refundsAmountMinor: 0n,
      }));
    // Refunds of the day: those whose journal entry refund.<id> carries the business date.
    const refunds = (keyExpr: string): Map<string, { n: number; amount: bigint }> =>
      new Map(
        (
          this.db
            .prepare(
              `SELECT ${keyExpr} AS k, r.currency AS currency, COUNT(*) AS n, SUM(r.amount_minor) AS amount
               FROM entries e JOIN refunds r ON r.refund_id = substr(e.entry_id, 8) JOIN payments p ON p.payment_id = r.payment_id
               WHERE e.business_date = @d AND e.entry_id LIKE 'refund.%' GROUP BY k, r.currency LIMIT @max`,
            )
            .all({ d: businessDate, max: GROUPS_MAX }) as Row[]
        ).map((r) => [`${str(r['k'])}\u0000${str(r['currency'])}`, { n: num(r['n']), amount: big(r['amount']) }]),
      );
    const merge = (rows: VolumeRow[], byKey: Map<string, { n: number; amount: bigint }>): VolumeRow[] => {
      const out = rows.map((v) => {
        const f = byKey.get(`${v.key}\u0000${v.currency}`);
        byKey.delete(`${v.key}\u0000${v.currency}`);
        return f === undefined ? v : { ...v, refunds: f.n, refundsAmountMinor: f.amount };
      });
      // Refunds today of payments from earlier days: a row of their own.
      for (const [k, f] of byKey) {
        const [key = '', currency = ''] = k.split('\u0000');
        out.push({ key, currency, attempts: 0, succeeded: 0, failed: 0, pending: 0, succeededAmountMinor: 0n, refunds: f.n, refundsAmountMinor: f.amount });
      }
      return out.sort((a, b) => (a.key === b.key ? (a.currency < b.currency ? -1 : 1) : a.key < b.key ? -1 : 1));
    };
    const byChannel = merge(grouped("COALESCE(channel_id, '(none)')"), refunds("COALESCE(p.channel_id, '(none)')"));
    const byProduct = merge(grouped('product'), refunds('p.product'));
    const activity: ActivityRow[] = [];
    for (const [kind, table] of [['preauth', 'preauths'], ['capture', 'captures'], ['payout', 'payouts']] as const) {
      if (!this.has(table)) continue;
      const rows = this.db
        .prepare(`SELECT status, currency, COUNT(*) AS n, SUM(amount_minor) AS amount FROM ${table} WHERE created_at_ms >= @from AND created_at_ms < @to GROUP BY status, currency ORDER BY status, currency LIMIT @max`)
        .all(params) as Row[];
      for (const r of rows) activity.push({ kind, status: str(r['status']), currency: str(r['currency']), count: num(r['n']), amountMinor: big(r['amount']) });
    }
    return { byChannel, byProduct, activity };
  }

  reconRuns(businessDate: string): ReconChannelRow[] | null {
    if (!this.has('recon_runs', 'recon_files', 'recon_items')) return null;
    const rows = this.db
      .prepare(
        `SELECT r.channel, f.version, r.lines, r.counts FROM recon_runs r JOIN recon_files f ON f.file_id = r.file_id
         WHERE r.business_date = ? AND r.status = 'current' ORDER BY r.channel LIMIT ?`,
      )
      .all(businessDate, GROUPS_MAX) as Row[];
    return rows.map((r) => ({ channel: str(r['channel']), fileVersion: num(r['version']), lines: num(r['lines']), ...countsOf(r['counts']) }));
  }

  openDiscrepancies(upToDate: string, groupsMax: number): OpenDiscrepancies[] | null {
    if (!this.has('recon_runs', 'recon_items')) return null;
    const rows = this.db
      .prepare(
        `SELECT r.business_date AS d, COALESCE(i.type, '') AS type, COALESCE(i.ledger_currency, i.channel_currency, '') AS currency, COUNT(*) AS n,
           SUM(CASE WHEN i.type = 'amount_mismatch' AND i.channel_amount_minor IS NOT NULL AND i.ledger_amount_minor IS NOT NULL
                    THEN abs(i.channel_amount_minor - i.ledger_amount_minor)
                    ELSE COALESCE(i.ledger_amount_minor, i.channel_amount_minor, 0) END) AS amount
         FROM recon_items i JOIN recon_runs r ON r.run_id = i.run_id
         WHERE i.outcome = 'discrepancy' AND i.status = 'open' AND r.status = 'current' AND r.business_date <= ?
         GROUP BY d, type, currency ORDER BY d, type, currency LIMIT ?`,
      )
      .all(upToDate, groupsMax) as Row[];
    return rows.map((r) => ({ businessDate: str(r['d']), type: str(r['type']), currency: str(r['currency']), count: num(r['n']), amountMinor: big(r['amount']) }));
  }

  suspenseOpen(): number {
    if (!this.has('recon_suspense')) return 0;
    return num((this.db.prepare('SELECT COUNT(*) AS n FROM recon_suspense WHERE closed_date IS NULL').get() as Row)['n']);
  }

  settlement(businessDate: string, topMerchants: number): Settlement | null {
    if (!this.has('clearing_runs', 'settlement_batches')) return null;
    const done = this.db.prepare("SELECT 1 FROM clearing_runs WHERE business_date = ? AND status = 'done'").get(businessDate);
    if (done === undefined) return null;
    const name = this.has('merchants') ? '(SELECT m.name FROM merchants m WHERE m.merchant_id = b.merchant_id)' : 'NULL';
    const top: SettlementRow[] = (
      this.db
        .prepare(`SELECT b.*, ${name} AS merchant_name FROM settlement_batches b WHERE b.business_date = ? ORDER BY b.gross_minor DESC, b.merchant_id, b.currency LIMIT ?`)
        .all(businessDate, topMerchants) as Row[]
    ).map((r) => ({
      merchantId: str(r['merchant_id']),
      merchantName: strOrNull(r['merchant_name']),
      currency: str(r['currency']),
      grossMinor: big(r['gross_minor']),
      refundsMinor: big(r['refunds_minor']),
      feesMinor: big(r['fees_minor']),
      adjustmentsMinor: big(r['adjustments_minor']),
      netMinor: big(r['net_minor']),
      carriedOutMinor: big(r['carried_out_minor']),
      payoutMinor: big(r['payout_minor']),
      status: str(r['status']),
    }));
    const totals: SettlementTotal[] = (
      this.db
        .prepare(
          `SELECT currency, COUNT(*) AS n, SUM(gross_minor) AS gross, SUM(refunds_minor) AS refunds, SUM(fees_minor) AS fees, SUM(adjustments_minor) AS adj,
             SUM(net_minor) AS net, SUM(carried_out_minor) AS carried, SUM(payout_minor) AS payout
           FROM settlement_batches WHERE business_date = ? GROUP BY currency ORDER BY currency LIMIT ?`,
        )
        .all(businessDate, GROUPS_MAX) as Row[]
    ).map((r) => ({
      currency: str(r['currency']),
      merchants: num(r['n']),
      grossMinor: big(r['gross']),
      refundsMinor: big(r['refunds']),
      feesMinor: big(r['fees']),
      adjustmentsMinor: big(r['adj']),
      netMinor: big(r['net']),
      carriedOutMinor: big(r['carried']),
      payoutMinor: big(r['payout']),
    }));
    return { top, totals };
  }

  shares(businessDate: string, partiesMax: number): ShareRow[] | null {
    if (!this.has('share_lines')) return null;
    const rows = this.db
      .prepare(
        `SELECT party_id, party_kind, currency, COUNT(*) AS n, SUM(base_minor) AS base, SUM(share_minor) AS share
         FROM share_lines WHERE business_date = ? GROUP BY party_id, party_kind, currency ORDER BY party_kind, party_id, currency LIMIT ?`,
      )
      .all(businessDate, partiesMax) as Row[];
    if (rows.length === 0 && !this.jobSucceeded('share', businessDate)) return null;
    return rows.map((r) => ({ partyId: str(r['party_id']), partyKind: str(r['party_kind']), currency: str(r['currency']), lines: num(r['n']), baseMinor: big(r['base']), shareMinor: big(r['share']) }));
  }

  private jobSucceeded(job: string, businessDate: string): boolean {
    if (!this.has('job_runs')) return false;
    return this.db.prepare("SELECT 1 FROM job_runs WHERE job = ? AND business_date = ? AND outcome IN ('succeeded', 'findings') LIMIT 1").get(job, businessDate) !== undefined;
  }

  jobRuns(businessDate: string, limit: number): JobRunRow[] {
    if (!this.has('job_runs')) return [];
    const rows = this.db.prepare('SELECT * FROM job_runs WHERE business_date = ? ORDER BY run_id DESC LIMIT ?').all(businessDate, limit) as Row[];
    return rows.reverse().map((r) => ({
      job: str(r['job']),
      outcome: str(r['outcome']),
      startedAtMs: num(r['started_at_ms']),
      endedAtMs: r['ended_at_ms'] === null ? null : num(r['ended_at_ms']),
      exitCode: r['exit_code'] === null ? null : num(r['exit_code']),
      counts: strOrNull(r['counts']),
      error: strOrNull(r['error']),
    }));
  }
}
