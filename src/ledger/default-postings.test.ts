import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyRate, DEFAULT_POSTINGS, postingsFor, type PostingEvent, type PostingRole } from './default-postings.js';

const ACCOUNTS: Record<PostingRole, string> = {
  channel_receivable: 'chan',
  channel_cost: 'cost',
  merchant_payable: 'merch',
  fee_income: 'fee',
  reserve_bank: 'bank',
  agent_payable: 'agent',
  share_expense: 'share',
  user_balance: 'user',
  user_credit: 'credit',
};

const net = (postings: ReturnType<typeof postingsFor>): bigint =>
  postings.reduce((sum, p) => sum + (p.side === 'debit' ? p.amountMinor : -p.amountMinor), 0n);

describe('Given the default postings table', () => {
  it('When a 100.00 CNY payment has a 0.60% fee and a 0.38% channel cost, Then it posts as DESIGN.md shows', () => {
    const gross = 10_000n;
    const fee = applyRate(gross, '0.006', 'half_up');
    const cost = applyRate(gross, '0.0038', 'half_up');
    const postings = postingsFor('payment.succeeded', { grossMinor: gross, feeMinor: fee, costMinor: cost }, ACCOUNTS, 'CNY');
    expect(postings.map((p) => `${p.side} ${p.accountId} ${p.amountMinor}`)).toEqual([
      'debit chan 9962',
      'debit cost 38',
      'credit merch 9940',
      'credit fee 60',
    ]);
  });

  it('When any event is built from any amounts, Then debits equal credits and no line is zero', () => {
    const events = Object.keys(DEFAULT_POSTINGS) as PostingEvent[];
    fc.assert(
      fc.property(
        fc.constantFrom(...events),
        fc.bigInt({ min: 1n, max: 2n ** 53n - 1n }),
        fc.bigInt({ min: 0n, max: 10_000n }),
        fc.bigInt({ min: 0n, max: 10_000n }),
        (event, gross, feeBp, costBp) => {
          const fee = (gross * feeBp) / 10_000n;
          const cost = (gross * costBp) / 10_000n;
          const postings = postingsFor(event, { grossMinor: gross, feeMinor: fee, costMinor: cost }, ACCOUNTS, 'CNY');
          expect(net(postings)).toBe(0n);
          expect(postings.length).toBeGreaterThanOrEqual(2);
          for (const p of postings) expect(p.amountMinor > 0n).toBe(true);
        },
      ),
    );
  });

  it('When the fee is above the gross amount or a role has no account, Then it is refused as a caller bug', () => {
    expect(() => postingsFor('payment.succeeded', { grossMinor: 10n, feeMinor: 11n }, ACCOUNTS, 'CNY')).toThrow(RangeError);
    expect(() => postingsFor('channel.settled', { grossMinor: 10n }, { channel_receivable: 'chan' }, 'CNY')).toThrow(/reserve_bank/);
  });

  it('When a rate is applied, Then the rounding mode decides the last unit', () => {
    expect(applyRate(12_345n, '0.006', 'half_up')).toBe(74n); // 74.07
    expect(applyRate(12_250n, '0.006', 'half_even')).toBe(74n); // 73.5 → 74 (even)
    expect(applyRate(12_250n, '0.006', 'down')).toBe(73n);
    expect(() => applyRate(1n, '6e-3', 'down')).toThrow(RangeError);
  });
});
