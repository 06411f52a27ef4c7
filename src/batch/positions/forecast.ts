// Expected inflows and outflows of an account for the next days, from its history by weekday.
//
// Method: take the account's closed business days in the last K weeks (the history window ends on the
// planning date). For each future day, average the inflows and the outflows of the past days that fell
// on the same weekday. Outflows are rounded up and inflows down (ceiling / floor to the minor unit), so
// the forecast errs on the side of too little money. A weekday with no history day forecasts nothing.
// Inflow and outflow are the day's movements on and against the account's normal side (for an asset
// such as a reserve bank account or a channel receivable: debits in, credits out), so settlements to
// merchants, payouts and refunds show up as outflows and channel settlements as inflows.

import { divideRounded } from '../../ledger/index.js';

export interface DailyFlow {
  readonly date: string;
  readonly inflowMinor: bigint;
  readonly outflowMinor: bigint;
}

const DAY_MS = 86_400_000;

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

export function weekday(date: string): number {
  return new Date(`${date}T00:00:00Z`).getUTCDay();
}

/** The first date of a K-week history window that ends on `asOf` (inclusive). */
export function historyStart(asOf: string, weeks: number): string {
  return addDays(asOf, -(7 * weeks) + 1);
}

/** Flows for asOf+1 … asOf+days from the history (days outside the window are ignored). */
export function forecastByWeekday(history: readonly DailyFlow[], asOf: string, days: number, weeks: number): DailyFlow[] {
  const from = historyStart(asOf, weeks);
  const sums = Array.from({ length: 7 }, () => ({ n: 0n, inflow: 0n, outflow: 0n }));
  for (const h of history) {
    if (h.date < from || h.date > asOf) continue;
    const s = sums[weekday(h.date)];
    if (s === undefined) continue;
    s.n += 1n;
    s.inflow += h.inflowMinor;
    s.outflow += h.outflowMinor;
  }
  const out: DailyFlow[] = [];
  for (let i = 1; i <= days; i += 1) {
    const date = addDays(asOf, i);
    const s = sums[weekday(date)];
    if (s === undefined || s.n === 0n) out.push({ date, inflowMinor: 0n, outflowMinor: 0n });
    else out.push({ date, inflowMinor: divideRounded(s.inflow, s.n, 'floor'), outflowMinor: divideRounded(s.outflow, s.n, 'ceiling') });
  }
  return out;
}

/** Nearest-rank percentile (1–100) of the values; 0 for none. */
export function percentileMinor(values: readonly bigint[], percentile: number): bigint {
  if (values.length === 0) return 0n;
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rank = Math.max(1, Math.floor((percentile * sorted.length + 99) / 100)); // ceil(p·n/100) in integers
  return sorted[Math.min(rank, sorted.length) - 1] ?? 0n;
}
