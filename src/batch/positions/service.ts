// settle position plan: gather each watched account's balance, history and forecast from the ledger,
// then plan (plan.ts) and render the transfers as CSV or JSON.

import { csvLine } from '../csv.js';
import { decimal } from '../statements/statement.js';
import type { PositionsConfig } from './config.js';
import { forecastByWeekday, historyStart, percentileMinor, type DailyFlow } from './forecast.js';
import { planPositions, type PlanAccountInput, type PlanSourceInput, type PositionPlan } from './plan.js';
import type { PositionAccount, PositionSource } from './port.js';

/** History days read per account: 52 weeks at most (history_weeks ≤ 52). */
const HISTORY_DAYS_MAX = 7 * 52;

export class PositionError extends Error {
  constructor(
    readonly code: 'position_account_unknown' | 'positions_not_configured' | 'day_unknown',
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'PositionError';
  }
}

export interface PositionRequest {
  readonly asOf: string;
  readonly days: number;
  readonly config: PositionsConfig;
}

export interface PositionReport {
  readonly plan: PositionPlan;
  readonly balanceSource: 'snapshot' | 'live';
  readonly historyDays: number;
}

function flowsOf(account: PositionAccount, debitsMinor: bigint, creditsMinor: bigint): { inflowMinor: bigint; outflowMinor: bigint } {
  return account.normalSide === 'debit' ? { inflowMinor: debitsMinor, outflowMinor: creditsMinor } : { inflowMinor: creditsMinor, outflowMinor: debitsMinor };
}

export function buildPositionPlan(source: PositionSource, req: PositionRequest): PositionReport {
  if (req.config.accounts.length === 0) throw new PositionError('positions_not_configured', 'The config lists no accounts under positions.accounts.', 'Add the channel positions and reserve accounts to watch (see src/batch/positions/README.md).');
  if (source.dayStatus(req.asOf) === 'unknown') throw new PositionError('day_unknown', `The ledger has no business day ${req.asOf}.`, 'Give a date from settle day status.');
  const lookup = (id: string): PositionAccount => {
    const a = source.account(id);
    if (a === null) throw new PositionError('position_account_unknown', `positions names account ${id}, which the ledger does not have.`, 'Fix the account id in the config or open the account.');
    return a;
  };
  const from = historyStart(req.asOf, req.config.history_weeks);
  let balanceSource: 'snapshot' | 'live' = 'snapshot';
  let historyDays = 0;
  const accounts: PlanAccountInput[] = req.config.accounts.map((w) => {
    const account = lookup(w.account_id);
    const balance = source.balanceOn(account, req.asOf);
    if (balance.source === 'live') balanceSource = 'live';
    const history: DailyFlow[] = source.movements(account, from, req.asOf, HISTORY_DAYS_MAX).map((m) => ({ date: m.date, ...flowsOf(account, m.debitsMinor, m.creditsMinor) }));
    historyDays = Math.max(historyDays, history.length);
    const bufferMinor =
      'fixed_minor' in w.buffer
        ? BigInt(w.buffer.fixed_minor)
        : ((p, floor) => (p > floor ? p : floor))(percentileMinor(history.map((h) => h.outflowMinor), w.buffer.outflow_percentile), BigInt(w.buffer.min_minor));
    return {
      accountId: account.accountId,
      currency: account.currency,
      balanceMinor: balance.balanceMinor,
      bufferMinor,
      alertBelowMinor: BigInt(w.alert_below_minor),
      fundedBy: w.funded_by ?? null,
      flows: forecastByWeekday(history, req.asOf, req.days, req.config.history_weeks),
    };
  });
  const watched = new Set(accounts.map((a) => a.accountId));
  const sources: PlanSourceInput[] = [];
  for (const w of req.config.accounts) {
    if (w.funded_by === undefined || watched.has(w.funded_by) || sources.some((s) => s.accountId === w.funded_by)) continue;
    const account = lookup(w.funded_by);
    sources.push({ accountId: account.accountId, currency: account.currency, balanceMinor: source.balanceOn(account, req.asOf).balanceMinor });
  }
  const plan = planPositions({ asOf: req.asOf, days: req.days, unitMinor: BigInt(req.config.transfer_unit_minor), accounts, sources });
  return { plan, balanceSource, historyDays };
}

export const TRANSFER_COLUMNS = ['from_account', 'to_account', 'currency', 'amount', 'amount_minor', 'by_date'] as const;

export function transfersCsv(plan: PositionPlan): string {
  return [csvLine(TRANSFER_COLUMNS), ...plan.transfers.map((t) => csvLine([t.fromAccountId, t.toAccountId, t.currency, decimal(t.amountMinor, t.currency), t.amountMinor, t.byDate]))].join('');
}

export function planJson(report: PositionReport): Record<string, unknown> {
  const { plan } = report;
  return {
    as_of: plan.asOf,
    days: plan.days,
    balance_source: report.balanceSource,
    history_days: report.historyDays,
    accounts: plan.accounts.map((a) => ({
      account_id: a.accountId,
      currency: a.currency,
      balance_minor: a.balanceMinor.toString(),
      buffer_minor: a.bufferMinor.toString(),
      alert_below_minor: a.alertBelowMinor.toString(),
      alert: a.alert,
      expected_inflow_minor: a.inflowMinor.toString(),
      expected_outflow_minor: a.outflowMinor.toString(),
      below_buffer_on: a.belowBufferOn,
      lowest_minor: a.lowestMinor.toString(),
      projected_minor: a.projectedMinor.map(String),
      planned_minor: a.plannedMinor.map(String),
    })),
    transfers: plan.transfers.map((t) => ({ from: t.fromAccountId, to: t.toAccountId, currency: t.currency, amount_minor: t.amountMinor.toString(), by_date: t.byDate })),
    shortfalls: plan.shortfalls.map((s) => ({ account_id: s.accountId, currency: s.currency, shortfall_minor: s.shortfallMinor.toString(), by_date: s.byDate, reason: s.reason })),
  };
}
