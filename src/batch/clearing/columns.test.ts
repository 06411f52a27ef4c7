import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CandidateColumns, sortByKey, type CandidateItem } from './columns.js';
import { itemKeyOrder } from './core.js';

const itemArb = fc.record({
  kind: fc.constantFrom('payment' as const, 'refund' as const, 'capture' as const),
  itemId: fc.oneof(fc.stringMatching(/^pay_[0-9]{1,4}$/), fc.string({ maxLength: 4 })),
  amountMinor: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
});
const candidate = (i: { kind: CandidateItem['kind']; itemId: string; amountMinor: bigint }): CandidateItem => {
  const base = { kind: i.kind, itemId: i.itemId, merchantId: 'M', currency: 'CNY', businessDate: '2026-11-26', amountMinor: i.amountMinor, product: 'quick', channelId: null, bookedFeeMinor: 1n, reconciled: true };
  return i.kind !== 'refund' ? base : { ...base, paymentId: 'p', paymentAmountMinor: 5n, paymentSettledFeeMinor: null, paymentBookedFeeMinor: 2n, refundedBeforeMinor: 0n };
};

describe('Given candidate items as columns (properties)', () => {
  it('When items go in as objects and come out again, Then they are the same; and sortByKey orders them as itemKeyOrder does', () => {
    fc.assert(
      fc.property(fc.array(itemArb, { maxLength: 40 }), fc.boolean(), (raw, presorted) => {
        const items = raw.map(candidate);
        if (presorted) items.sort(itemKeyOrder);
        const c = CandidateColumns.of(items);
        expect(c.toItems()).toStrictEqual(items);
        const order = sortByKey(c, Int32Array.from(items, (_, k) => k));
        const sorted = Array.from(order, (k) => items[k] as CandidateItem);
        for (let k = 1; k < sorted.length; k++) expect(itemKeyOrder(sorted[k - 1] as CandidateItem, sorted[k] as CandidateItem)).toBeLessThanOrEqual(0);
        expect([...order].sort((a, b) => a - b)).toEqual(items.map((_, k) => k));
      }),
      { numRuns: 200 },
    );
  });

  it('When an amount is outside 64 bits, Then it is refused rather than wrapped', () => {
    expect(() => CandidateColumns.of([candidate({ kind: 'payment', itemId: 'p', amountMinor: 2n ** 63n })])).toThrow(RangeError);
  });
});
