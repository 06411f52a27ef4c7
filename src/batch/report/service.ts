// settle report: gather the day's figures through the report's port, run the trial balance and the
// position plan (computed, not stored) through their own batch functions, and bucket the open
// discrepancies by age. A step that has not run leaves its section `not_run`; nothing here writes.

import { PositionError, buildPositionPlan } from '../positions/service.js';
import type { PositionsConfig } from '../positions/config.js';
import type { PositionSource } from '../positions/port.js';
import type { Finding } from '../trial-balance/check.js';
import type { TrialBalanceConfig } from '../trial-balance/config.js';
import type { TrialBalanceReader } from '../trial-balance/port.js';
import { runTrialBalance } from '../trial-balance/service.js';
import type { ReportConfig } from './config.js';
import type { DailyReport, DiscrepancyGroup, Positions, ReconSummary, Section, TrialBalanceSummary } from './model.js';
import type { OpenDiscrepancies, ReportSource } from './port.js';

/** Discrepancy groups (date × type × currency) read at most; a backlog past this is counted in what was read. */
const DISCREPANCY_GROUPS_MAX = 10_000;
/** Profit-sharing parties listed. */
const SHARE_PARTIES_MAX = 1_000;
const DAY_MS = 86_400_000;

export interface ReportRequest {
  readonly businessDate: string;
  readonly nowMs: number;
  readonly timezone: string;
  readonly config: ReportConfig;
  readonly trialBalance: TrialBalanceConfig;
  readonly positions: PositionsConfig;
}

export interface ReportDeps {
  readonly source: ReportSource;
  readonly trialBalance: TrialBalanceReader;
  readonly positions: PositionSource;
}

const daysBetween = (from: string, to: string): number => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);

/** The label of each age bucket: bounds [1, 3, 7] give "0–1 d", "2–3 d", "4–7 d", "> 7 d". */
export function ageBucketLabels(boundsDays: readonly number[]): string[] {
  const labels: string[] = [];
  let from = 0;
  for (const to of boundsDays) {
    labels.push(from === to ? `${to} d` : `${from}–${to} d`);
    from = to + 1;
  }
  labels.push(`> ${boundsDays[boundsDays.length - 1] ?? 0} d`);
  return labels;
}

export function ageBucketOf(ageDays: number, boundsDays: readonly number[]): number {
  const i = boundsDays.findIndex((b) => ageDays <= b);
  return i < 0 ? boundsDays.length : i;
}

function group(rows: readonly OpenDiscrepancies[], keyOf: (r: OpenDiscrepancies) => string, order: readonly string[]): DiscrepancyGroup[] {
  const by = new Map<string, { key: string; currency: string; count: number; amountMinor: bigint }>();
  for (const r of rows) {
    const key = keyOf(r);
    const id = `${key}\u0000${r.currency}`;
    const g = by.get(id) ?? { key, currency: r.currency, count: 0, amountMinor: 0n };
    g.count += r.count;
    g.amountMinor += r.amountMinor;
    by.set(id, g);
  }
  const rank = (k: string): number => (order.includes(k) ? order.indexOf(k) : order.length);
  return [...by.values()].sort((a, b) => rank(a.key) - rank(b.key) || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.currency < b.currency ? -1 : 1));
}

export function summariseDiscrepancies(rows: readonly OpenDiscrepancies[], asOf: string, boundsDays: readonly number[]): Pick<ReconSummary, 'openByType' | 'openByAge' | 'openTotal'> {
  const labels = ageBucketLabels(boundsDays);
  return {
    openByType: group(rows, (r) => r.type, []),
    openByAge: group(rows, (r) => labels[ageBucketOf(Math.max(0, daysBetween(r.businessDate, asOf)), boundsDays)] ?? '', labels),
    openTotal: rows.reduce((n, r) => n + r.count, 0),
  };
}

function findingText(f: Finding): string {
  const { code, ...rest } = f;
  void code;
  return Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'bigint' ? v.toString() : String(v)}`)
    .join(' ');
}

async function trialBalanceSection(deps: ReportDeps, req: ReportRequest): Promise<Section<TrialBalanceSummary>> {
  const outcome = await runTrialBalance(deps.trialBalance, req.businessDate, { ...req.trialBalance, findings_max: req.config.findings_max });
  if (!outcome.ok) return { state: 'not_run', reason: outcome.message };
  const r = outcome.report;
  return {
    state: 'ok',
    data: {
      totals: r.totals.map((t) => ({ currency: t.currency, debitsMinor: t.debitsMinor, creditsMinor: t.creditsMinor })),
      accounts: r.accounts.length,
      findingsTotal: r.findingsTotal,
      findings: r.findings.map((f) => ({ code: f.code, text: findingText(f) })),
    },
  };
}

function positionsSection(deps: ReportDeps, req: ReportRequest): Section<Positions> {
  if (req.positions.accounts.length === 0) return { state: 'not_run', reason: 'No accounts are watched (positions.accounts in the config).' };
  try {
    const { plan } = buildPositionPlan(deps.positions, { asOf: req.businessDate, days: req.positions.horizon_days, config: req.positions });
    return {
      state: 'ok',
      data: {
        dates: plan.dates,
        accounts: plan.accounts.map((a) => ({
          accountId: a.accountId,
          currency: a.currency,
          balanceMinor: a.balanceMinor,
          bufferMinor: a.bufferMinor,
          alert: a.alert,
          belowBufferOn: a.belowBufferOn,
          lowestMinor: a.lowestMinor,
          projectedMinor: a.projectedMinor,
          plannedMinor: a.plannedMinor,
        })),
        transfers: plan.transfers.map((t) => ({ fromAccountId: t.fromAccountId, toAccountId: t.toAccountId, currency: t.currency, amountMinor: t.amountMinor, byDate: t.byDate })),
        shortfalls: plan.shortfalls.map((s) => ({ accountId: s.accountId, currency: s.currency, shortfallMinor: s.shortfallMinor, byDate: s.byDate, reason: s.reason })),
      },
    };
  } catch (e) {
    if (e instanceof PositionError) return { state: 'not_run', reason: `${e.code}: ${e.message}` };
    throw e;
  }
}

export async function gatherReport(deps: ReportDeps, req: ReportRequest): Promise<DailyReport> {
  const { source } = deps;
  const date = req.businessDate;
  const day = source.day(date);
  // Orders that never got a business date count on the day that was open when they were created.
  const window = day === null ? { fromMs: 0, toMs: 0 } : { fromMs: day.openedAtMs, toMs: day.closedAtMs ?? req.nowMs + 1 };
  const volumes = source.volumes(date, window);

  const runs = source.reconRuns(date);
  const open = source.openDiscrepancies(date, DISCREPANCY_GROUPS_MAX);
  const recon: Section<ReconSummary> =
    runs === null || open === null || (runs.length === 0 && open.length === 0)
      ? { state: 'not_run', reason: `No reconciliation has run for ${date}.` }
      : { state: 'ok', data: { channels: runs, ...summariseDiscrepancies(open, date, req.config.age_buckets_days), suspenseOpen: source.suspenseOpen() } };

  const settlement = source.settlement(date, req.config.top_merchants);
  const shares = source.shares(date, SHARE_PARTIES_MAX);
  return {
    businessDate: date,
    generatedAtMs: req.nowMs,
    timezone: req.timezone,
    dayStatus: day === null ? 'unknown' : day.status,
    volumes,
    recon,
    settlement: settlement === null ? { state: 'not_run', reason: `Clearing has not run for ${date}.` } : { state: 'ok', data: settlement },
    sharing: shares === null ? { state: 'not_run', reason: `Profit sharing has not run for ${date}.` } : { state: 'ok', data: shares },
    trialBalance: await trialBalanceSection(deps, req),
    positions: day === null ? { state: 'not_run', reason: `The ledger has no business day ${date}.` } : positionsSection(deps, req),
    // The report's own run is under way while it gathers: it is not one of the night's runs yet.
    jobs: source.jobRuns(date, req.config.job_runs_max).filter((j) => !(j.job === 'report' && j.outcome === 'running')),
  };
}
