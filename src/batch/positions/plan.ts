// Position planning (头寸计划) as a pure function: each watched account's balance now and its forecast
// flows give a projected balance per day; the first day it would fall below its safety buffer is when a
// top-up must arrive; the top-up covers the lowest point of the rest of the horizon, rounded UP to the
// transfer unit, and comes from the account's funding account only if that account stays at or above
// its own buffer for the rest of the horizon after giving it. A shortfall that cannot be funded is
// reported, never planned half way.
//
// Day 0 is the planning date itself (the balance now); days 1…N are the horizon. Accounts are planned in
// the order given (the config's order); a transfer planned earlier counts in the projection of both ends
// when later accounts are planned.

import { divideRounded } from '../../ledger/index.js';
import type { DailyFlow } from './forecast.js';

export interface PlanAccountInput {
  readonly accountId: string;
  readonly currency: string;
  readonly balanceMinor: bigint;
  readonly bufferMinor: bigint;
  readonly alertBelowMinor: bigint;
  readonly fundedBy: string | null;
  /** Days 1…N: the forecast flows. */
  readonly flows: readonly DailyFlow[];
}

/** A funding account that is not watched itself: its balance now, no buffer, no forecast. */
export interface PlanSourceInput {
  readonly accountId: string;
  readonly currency: string;
  readonly balanceMinor: bigint;
}

export interface PlanInput {
  readonly asOf: string;
  readonly days: number;
  readonly unitMinor: bigint;
  readonly accounts: readonly PlanAccountInput[];
  readonly sources: readonly PlanSourceInput[];
}

export interface Transfer {
  readonly fromAccountId: string;
  readonly toAccountId: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  /** The date the money must be there: the first day the account would fall below its buffer. */
  readonly byDate: string;
  readonly byDay: number;
}

export type ShortfallReason = 'no_funding_account' | 'funding_account_short' | 'currency_mismatch' | 'funding_account_unknown';

export interface Shortfall {
  readonly accountId: string;
  readonly currency: string;
  readonly shortfallMinor: bigint;
  readonly byDate: string;
  readonly reason: ShortfallReason;
}

export interface AccountPlan {
  readonly accountId: string;
  readonly currency: string;
  readonly balanceMinor: bigint;
  readonly bufferMinor: bigint;
  readonly alertBelowMinor: bigint;
  /** Below the alert threshold now. */
  readonly alert: boolean;
  /** Days 0…N without any transfer. */
  readonly projectedMinor: readonly bigint[];
  /** The first date below the buffer without any transfer, or null. */
  readonly belowBufferOn: string | null;
  readonly lowestMinor: bigint;
  /** Days 0…N with the plan's transfers in and out. */
  readonly plannedMinor: readonly bigint[];
  readonly inflowMinor: bigint;
  readonly outflowMinor: bigint;
}

export interface PositionPlan {
  readonly asOf: string;
  readonly days: number;
  readonly dates: readonly string[];
  readonly accounts: readonly AccountPlan[];
  readonly transfers: readonly Transfer[];
  readonly shortfalls: readonly Shortfall[];
  /** Alerts or unfunded shortfalls: exit 2. */
  readonly findings: boolean;
}

interface Lane {
  readonly accountId: string;
  readonly currency: string;
  readonly bufferMinor: bigint;
  /** Days 0…N, transfers included as they are planned. */
  readonly balances: bigint[];
}

export function project(balanceMinor: bigint, flows: readonly DailyFlow[], days: number): bigint[] {
  const out = [balanceMinor];
  let b = balanceMinor;
  for (let i = 0; i < days; i += 1) {
    const f = flows[i];
    if (f !== undefined) b += f.inflowMinor - f.outflowMinor;
    out.push(b);
  }
  return out;
}

const firstBelow = (balances: readonly bigint[], bufferMinor: bigint): number => balances.findIndex((b) => b < bufferMinor);
const minFrom = (balances: readonly bigint[], from: number): bigint => balances.slice(from).reduce((m, b) => (b < m ? b : m));

export function roundUpToUnit(amountMinor: bigint, unitMinor: bigint): bigint {
  return divideRounded(amountMinor, unitMinor, 'ceiling') * unitMinor;
}

export function planPositions(input: PlanInput): PositionPlan {
  if (input.unitMinor <= 0n) throw new RangeError('planPositions: the transfer unit must be positive');
  const dates = Array.from({ length: input.days + 1 }, (_, i) => new Date(Date.parse(`${input.asOf}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10));
  const lanes = new Map<string, Lane>();
  const projected = new Map<string, bigint[]>();
  for (const a of input.accounts) {
    const p = project(a.balanceMinor, a.flows, input.days);
    projected.set(a.accountId, p);
    lanes.set(a.accountId, { accountId: a.accountId, currency: a.currency, bufferMinor: a.bufferMinor, balances: [...p] });
  }
  for (const s of input.sources) {
    if (!lanes.has(s.accountId)) lanes.set(s.accountId, { accountId: s.accountId, currency: s.currency, bufferMinor: 0n, balances: Array.from({ length: input.days + 1 }, () => s.balanceMinor) });
  }

  const transfers: Transfer[] = [];
  const shortfalls: Shortfall[] = [];
  for (const a of input.accounts) {
    const lane = lanes.get(a.accountId);
    if (lane === undefined) continue;
    const day = firstBelow(lane.balances, a.bufferMinor);
    if (day < 0) continue;
    const byDate = dates[day] ?? input.asOf;
    const needMinor = a.bufferMinor - minFrom(lane.balances, day);
    const amountMinor = roundUpToUnit(needMinor, input.unitMinor);
    const source = a.fundedBy === null ? undefined : lanes.get(a.fundedBy);
    const reason: ShortfallReason | null =
      a.fundedBy === null
        ? 'no_funding_account'
        : source === undefined
          ? 'funding_account_unknown'
          : source.currency !== a.currency
            ? 'currency_mismatch'
            : minFrom(source.balances, day) - amountMinor < source.bufferMinor
              ? 'funding_account_short'
              : null;
    if (reason !== null || source === undefined) {
      shortfalls.push({ accountId: a.accountId, currency: a.currency, shortfallMinor: needMinor, byDate, reason: reason ?? 'funding_account_unknown' });
      continue;
    }
    for (let i = day; i <= input.days; i += 1) {
      lane.balances[i] = (lane.balances[i] ?? 0n) + amountMinor;
      source.balances[i] = (source.balances[i] ?? 0n) - amountMinor;
    }
    transfers.push({ fromAccountId: source.accountId, toAccountId: a.accountId, currency: a.currency, amountMinor, byDate, byDay: day });
  }

  const accounts: AccountPlan[] = input.accounts.map((a) => {
    const p = projected.get(a.accountId) ?? [a.balanceMinor];
    const below = firstBelow(p, a.bufferMinor);
    return {
      accountId: a.accountId,
      currency: a.currency,
      balanceMinor: a.balanceMinor,
      bufferMinor: a.bufferMinor,
      alertBelowMinor: a.alertBelowMinor,
      alert: a.balanceMinor < a.alertBelowMinor,
      projectedMinor: p,
      belowBufferOn: below < 0 ? null : (dates[below] ?? null),
      lowestMinor: minFrom(p, 0),
      plannedMinor: [...(lanes.get(a.accountId)?.balances ?? p)],
      inflowMinor: a.flows.reduce((s, f) => s + f.inflowMinor, 0n),
      outflowMinor: a.flows.reduce((s, f) => s + f.outflowMinor, 0n),
    };
  });
  return { asOf: input.asOf, days: input.days, dates, accounts, transfers, shortfalls, findings: accounts.some((a) => a.alert) || shortfalls.length > 0 };
}
