import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planPositions, type PlanAccountInput } from './plan.js';

const flat = (n: number): { date: string; inflowMinor: bigint; outflowMinor: bigint }[] => Array.from({ length: n }, () => ({ date: '', inflowMinor: 0n, outflowMinor: 0n }));

const reserve = (balanceMinor: bigint): PlanAccountInput => ({
  accountId: 'bank:ICBC-RESERVE:reserve:CNY',
  currency: 'CNY',
  balanceMinor,
  bufferMinor: 200_000n,
  alertBelowMinor: 0n,
  fundedBy: null,
  flows: flat(3),
});

// A channel position of 500.00 that pays out 150.00 − 100.00 in, then 200.00, then takes 50.00 in.
const channel: PlanAccountInput = {
  accountId: 'channel:unionpay:receivable:CNY',
  currency: 'CNY',
  balanceMinor: 50_000n,
  bufferMinor: 30_000n,
  alertBelowMinor: 40_000n,
  fundedBy: 'bank:ICBC-RESERVE:reserve:CNY',
  flows: [
    { date: '2026-11-27', inflowMinor: 10_000n, outflowMinor: 25_000n },
    { date: '2026-11-28', inflowMinor: 0n, outflowMinor: 20_000n },
    { date: '2026-11-29', inflowMinor: 5_000n, outflowMinor: 0n },
  ],
};

describe('planPositions', () => {
  it('Given a channel position that dips to 150.00 against a 300.00 buffer, When planned, Then 200.00 (150.00 rounded up to 100.00) arrives from the reserve by the day of the dip', () => {
    const plan = planPositions({ asOf: '2026-11-26', days: 3, unitMinor: 10_000n, accounts: [channel, reserve(1_000_000n)], sources: [] });
    const c = plan.accounts[0];
    expect(c?.projectedMinor).toEqual([50_000n, 35_000n, 15_000n, 20_000n]);
    expect(c?.belowBufferOn).toBe('2026-11-28');
    expect(c?.lowestMinor).toBe(15_000n);
    expect(plan.transfers).toEqual([
      { fromAccountId: 'bank:ICBC-RESERVE:reserve:CNY', toAccountId: 'channel:unionpay:receivable:CNY', currency: 'CNY', amountMinor: 20_000n, byDate: '2026-11-28', byDay: 2 },
    ]);
    expect(c?.plannedMinor).toEqual([50_000n, 35_000n, 35_000n, 40_000n]);
    expect(plan.accounts[1]?.plannedMinor).toEqual([1_000_000n, 1_000_000n, 980_000n, 980_000n]);
    expect(plan.findings).toBe(false);
  });

  it('Given a reserve of 2,100.00 with a 2,000.00 buffer, When it would have to give 200.00, Then nothing is planned and the shortfall of 150.00 is a finding', () => {
    const plan = planPositions({ asOf: '2026-11-26', days: 3, unitMinor: 10_000n, accounts: [channel, reserve(210_000n)], sources: [] });
    expect(plan.transfers).toEqual([]);
    expect(plan.shortfalls).toEqual([{ accountId: channel.accountId, currency: 'CNY', shortfallMinor: 15_000n, byDate: '2026-11-28', reason: 'funding_account_short' }]);
    expect(plan.findings).toBe(true);
  });

  it('Given a balance below its alert threshold now, When planned, Then it is an alert even with nothing to top up', () => {
    const plan = planPositions({ asOf: '2026-11-26', days: 0, unitMinor: 1n, accounts: [{ ...channel, balanceMinor: 39_999n, flows: [] }], sources: [] });
    expect(plan.accounts[0]?.alert).toBe(true);
    expect(plan.transfers).toEqual([]);
    expect(plan.findings).toBe(true);
  });

  it('Property: after the plan, every account not reported short stays at or above its buffer; transfers are positive multiples of the unit and never leave a source below its buffer', () => {
    const accountArb = fc.record({
      balance: fc.bigInt({ min: -1_000_000n, max: 5_000_000n }),
      buffer: fc.bigInt({ min: 0n, max: 1_000_000n }),
      funder: fc.option(fc.nat({ max: 4 }), { nil: null }),
      flows: fc.array(fc.record({ inflowMinor: fc.bigInt({ min: 0n, max: 500_000n }), outflowMinor: fc.bigInt({ min: 0n, max: 500_000n }) }), { minLength: 6, maxLength: 6 }),
    });
    fc.assert(
      fc.property(fc.array(accountArb, { minLength: 1, maxLength: 5 }), fc.bigInt({ min: 1n, max: 100_000n }), fc.nat({ max: 6 }), (specs, unitMinor, days) => {
        const accounts: PlanAccountInput[] = specs.map((s, i) => ({
          accountId: `A${i}`,
          currency: 'CNY',
          balanceMinor: s.balance,
          bufferMinor: s.buffer,
          alertBelowMinor: 0n,
          fundedBy: s.funder === null || s.funder === i ? null : `A${s.funder}`,
          flows: s.flows.map((f) => ({ date: '', ...f })),
        }));
        const plan = planPositions({ asOf: '2026-11-26', days, unitMinor, accounts, sources: [] });
        const short = new Set(plan.shortfalls.map((s) => s.accountId));
        // Apply the transfers to the projections ourselves.
        const after = new Map(plan.accounts.map((a) => [a.accountId, [...a.projectedMinor]]));
        for (const t of plan.transfers) {
          expect(t.amountMinor > 0n && t.amountMinor % unitMinor === 0n).toBe(true);
          const to = after.get(t.toAccountId) ?? [];
          const from = after.get(t.fromAccountId) ?? [];
          for (let i = t.byDay; i <= days; i += 1) {
            to[i] = (to[i] ?? 0n) + t.amountMinor;
            from[i] = (from[i] ?? 0n) - t.amountMinor;
          }
        }
        for (const a of accounts) {
          const balances = after.get(a.accountId) ?? [];
          expect(balances).toEqual(plan.accounts.find((p) => p.accountId === a.accountId)?.plannedMinor);
          if (!short.has(a.accountId)) for (const b of balances) expect(b >= a.bufferMinor).toBe(true);
        }
        for (const t of plan.transfers) {
          const source = accounts.find((a) => a.accountId === t.fromAccountId);
          const balances = after.get(t.fromAccountId) ?? [];
          for (let i = t.byDay; i <= days; i += 1) expect((balances[i] ?? 0n) >= (source?.bufferMinor ?? 0n)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
