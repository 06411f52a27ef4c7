import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRate, type RateCard } from './config.js';
import { computeFees, paymentFee, type CandidateItem } from './core.js';
import { ExactSum, numberAt, numberCard, paymentFeeExact, setNumberAt, wordsOf } from './exact.js';

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
// Values on both sides of 2^53, where numbers stop being exact.
const minorArb = fc.oneof(fc.bigInt({ min: 0n, max: 100_000n }), fc.bigInt({ min: 0n, max: 2n ** 62n }), fc.bigInt({ min: SAFE - 1000n, max: SAFE + 1000n }));

const cardArb = fc
  .record({
    rate: fc.constantFrom('0', '0.006', '0.0123', '0.5', '1', '0.0000001'),
    fixedMinor: fc.oneof(fc.bigInt({ min: 0n, max: 100n }), fc.bigInt({ min: 0n, max: 2n ** 60n })),
    minMinor: fc.bigInt({ min: 0n, max: 50n }),
    capMinor: fc.option(fc.oneof(fc.bigInt({ min: 50n, max: 10_000n }), fc.bigInt({ min: 50n, max: 2n ** 62n })), { nil: null }),
    tierAt: fc.option(minorArb, { nil: null }),
  })
  .map(
    (r): RateCard => ({
      merchant: '*',
      product: '*',
      channel: '*',
      rate: parseRate(r.rate),
      fixedMinor: r.fixedMinor,
      minMinor: r.minMinor,
      capMinor: r.capMinor,
      tiers: r.tierAt === null ? [] : [{ fromMinor: 0n, toMinor: r.tierAt + 1n, rate: parseRate('0.01') }, { fromMinor: r.tierAt + 1n, toMinor: null, rate: parseRate('0.005') }],
      refundFeePolicy: 'proportional',
    }),
  );

describe('Given payments priced in numbers while exact (properties)', () => {
  it('When a fee is worked in numbers, Then it is paymentFee’s in bigints, or undefined (and the bigints price it)', () => {
    fc.assert(
      fc.property(cardArb, minorArb, minorArb, (card, amountMinor, volumeMinor) => {
        const exact = numberCard(card);
        const amount = amountMinor <= SAFE ? Number(amountMinor) : undefined;
        const volume = volumeMinor <= SAFE ? Number(volumeMinor) : undefined;
        if (exact === undefined || amount === undefined || volume === undefined) return;
        const fee = paymentFeeExact(exact, amount, volume);
        if (fee !== undefined) expect(BigInt(fee)).toBe(paymentFee(card, amountMinor, volumeMinor));
        // Small payments on small cards always take the number path.
        if (amountMinor <= 100_000n && card.fixedMinor <= 100n && volumeMinor <= 100_000n) expect(fee).not.toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });

  it('When integers are summed, Then the sum is exact across 2^53 and its number form only while exact', () => {
    fc.assert(
      fc.property(minorArb.map((v) => -v), fc.array(fc.oneof(minorArb, minorArb.map((v) => -v)), { maxLength: 30 }), (start, values) => {
        const sum = new ExactSum(start);
        for (const v of values) {
          if (v <= SAFE && v >= -SAFE) sum.add(Number(v));
          else sum.addBig(v);
        }
        const total = values.reduce((a, b) => a + b, start);
        expect(sum.total).toBe(total);
        const n = sum.exact;
        if (n !== undefined) expect(BigInt(n)).toBe(total);
        else expect(total > SAFE || total < -SAFE).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('When a merchant’s day mixes small and huge amounts, Then computeFees equals the bigint reference: running volume, tiers, sums past 2^53', () => {
    fc.assert(
      fc.property(cardArb, fc.array(minorArb, { minLength: 1, maxLength: 12 }), minorArb, (card, amounts, before) => {
        const items = amounts.map((amountMinor, n): CandidateItem => ({
          kind: 'payment', itemId: `p${String(n).padStart(2, '0')}`, merchantId: 'M', currency: 'CNY', businessDate: '2026-11-26',
          amountMinor, product: 'quick', channelId: 'c', bookedFeeMinor: amountMinor / 3n, reconciled: true,
        }));
        let volume = before;
        const expected = items.map((i) => {
          const fee = paymentFee(card, i.amountMinor, volume);
          volume += i.amountMinor;
          return fee;
        });
        const fees = computeFees(items, { rateCards: [card], refundFeePolicy: 'proportional' }, new Map([['M\u0000CNY\u00002026-11', before]]));
        expect(fees.map((f) => f.rateFeeMinor)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe('Given 64-bit integers seen as pairs of 32-bit words (properties)', () => {
  const int64Arb = fc.oneof(
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.bigInt({ min: -SAFE - 2n ** 33n, max: -SAFE + 2n ** 33n }),
    fc.bigInt({ min: SAFE - 2n ** 33n, max: SAFE + 2n ** 33n }),
    fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }),
  );
  it('When a value is read as a number, Then it is the bigint exactly, or NaN only for a value that is not a safe integer or within 2^32 of -2^53', () => {
    fc.assert(
      fc.property(fc.array(int64Arb, { minLength: 1, maxLength: 8 }), (values) => {
        const a = BigInt64Array.from(values);
        const words = wordsOf(a);
        for (const [k, v] of values.entries()) {
          const n = numberAt(words, k);
          if (Number.isNaN(n)) expect(v > SAFE || v < -SAFE + 2n ** 32n).toBe(true);
          else expect(BigInt(n)).toBe(v);
        }
      }),
      { numRuns: 2_000 },
    );
  });
  it('When a safe integer is written as a number, Then the element holds it as a bigint and its neighbours are untouched', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.bigInt({ min: -SAFE, max: SAFE }), (k, v) => {
        const a = new BigInt64Array(6).fill(-7n);
        setNumberAt(wordsOf(a.subarray(0)), k, Number(v));
        expect(a[k]).toBe(v);
        expect([...a].filter((x, i) => i !== k)).toEqual(Array<bigint>(5).fill(-7n));
      }),
      { numRuns: 2_000 },
    );
    const offset = new BigInt64Array(4).subarray(1, 3);
    setNumberAt(wordsOf(offset), 1, -(2 ** 53) + 1);
    expect([...offset]).toEqual([0n, -SAFE]);
  });
});
