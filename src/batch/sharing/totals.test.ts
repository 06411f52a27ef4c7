// What a routed page adds to the parties' days when counted as it is written (PageTally: payments per table,
// part and currency, folded once per pair, or summed as they come when the parts' amounts are given) equals
// adding its payments' splits one by one: the same additions per party, currency and kind, lines, clipped
// amounts and negative bases.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BaseSplit, PartyKind, SplitTable } from './core.js';
import { foldTally, PageSums, PageTally, PartAmounts } from './totals.js';

const PARTIES: readonly [string, PartyKind][] = [
  ['A1', 'agent'],
  ['A2', 'agent'],
  ['I1', 'isv'],
  ['A1', 'isv'], // one id as two kinds: kept apart
];

const amount = fc.bigInt({ min: -50n, max: 500n });
/** Amounts on both sides of what PartAmounts sums as numbers (2^32): its parts are summed or counted. */
const LARGE = 2n ** 32n;
const large = fc.oneof(fc.bigInt({ min: -LARGE - 5n, max: -LARGE + 5n }), fc.bigInt({ min: LARGE - 5n, max: LARGE + 5n }), fc.bigInt({ min: -3n, max: 3n }), fc.bigInt({ min: 2n ** 60n, max: 2n ** 62n }));

/** Tables of 0–3 seats, each with its parts (shares per seat, sometimes clipped), and payments on them. */
const pageOf = (amount: fc.Arbitrary<bigint>, share: fc.Arbitrary<bigint>, clip: fc.Arbitrary<bigint>) => fc
  .array(
    fc.record({
      seats: fc.uniqueArray(fc.integer({ min: 0, max: PARTIES.length - 1 }), { maxLength: 3 }),
      rule: fc.constantFrom('R1', 'R2'),
    }),
    { minLength: 1, maxLength: 4 },
  )
  .chain((tables) =>
    fc.record({
      tables: fc.constant(tables),
      parts: fc.tuple(
        ...tables.map((t) =>
          fc.array(
            fc.record({
              baseMinor: amount,
              sharesMinor: fc.array(share, { minLength: t.seats.length, maxLength: t.seats.length }),
              clippedMinor: fc.option(fc.array(clip, { minLength: t.seats.length, maxLength: t.seats.length }), { nil: null }),
              platformShareMinor: amount,
            }),
            { minLength: 1, maxLength: 5 },
          ),
        ),
      ),
      payments: fc.array(fc.record({ table: fc.nat(), part: fc.nat(), currency: fc.constantFrom('CNY', 'USD') }), { maxLength: 60 }),
    }),
  );

interface PageCase {
  readonly tables: readonly { readonly seats: number[]; readonly rule: string }[];
  readonly parts: readonly (readonly { baseMinor: bigint; sharesMinor: bigint[]; clippedMinor: bigint[] | null; platformShareMinor: bigint }[])[];
  readonly payments: readonly { readonly table: number; readonly part: number; readonly currency: string }[];
}

/** Counts and folds a page three ways (keys in a map, in a typed array, summed as they come) and checks each
 *  against adding its splits one by one. */
function checkPage({ tables, parts, payments }: PageCase): void {
  const splitTables: SplitTable[] = tables.map((t, i) => ({
    key: `t${i}`,
    ruleId: t.rule,
    platformRate: '0.5',
    seats: t.seats.map((p) => ({ partyId: PARTIES[p]?.[0] ?? '', partyKind: PARTIES[p]?.[1] ?? 'agent', ratePpm: 1n, rate: '0.000001' })),
  }));
  // Table ids as a store has them (not their indexes), parts numbered across tables.
  const tableIds = splitTables.map((_, i) => 100 + i * 7);
  const allParts: BaseSplit[] = [];
  const partIds = parts.map((ofTable, i) =>
    ofTable.map((p) => {
      const clippedTotalMinor = p.clippedMinor?.reduce((a, b) => a + b, 0n) ?? 0n;
      return allParts.push({ table: splitTables[i] as SplitTable, ...p, clippedTotalMinor }) - 1;
    }),
  );

  const one = new PageSums();
  const tally = new PageTally(tableIds); // every key in the map
  const dense = new PageTally(tableIds, Math.ceil((allParts.length * tables.length) / 2)); // half the keys in the typed array
  const amounts = new PartAmounts(splitTables.map((t) => t.seats.length));
  for (const part of allParts) amounts.push(part);
  const summed = new PageTally(tableIds, 0, amounts); // parts of small amounts summed as they come, the others in the map
  let lines = 0;
  let clippedMinor = 0n;
  let clippedPayments = 0;
  let negative = false;
  for (const pay of payments) {
    const t = pay.table % tables.length;
    const ids = partIds[t] ?? [];
    const partId = ids[pay.part % ids.length] as number;
    const part = allParts[partId] as BaseSplit;
    lines += one.add(splitTables[t] as SplitTable, pay.currency, part, 1);
    clippedMinor += part.clippedTotalMinor;
    if (part.clippedTotalMinor > 0n) clippedPayments++;
    if (part.baseMinor < 0n) negative = true;
    expect(tally.add(partId * tables.length + t, pay.currency)).toBe(tableIds[t]);
    expect(dense.add(partId * tables.length + t, pay.currency)).toBe(tableIds[t]);
    expect(summed.add(partId * tables.length + t, pay.currency)).toBe(tableIds[t]);
  }
  expect(tally.add(null, 'CNY')).toBeNull(); // a payment without its part: counted apart
  for (const counted of [tally, dense, summed]) {
    expect([counted.payments, counted.missing]).toEqual([payments.length, counted === tally ? 1 : 0]);
    const folded = foldTally(
      counted,
      (id) => splitTables[tableIds.indexOf(id)] as SplitTable,
      (id) => allParts[id] as BaseSplit,
    );
    expect(folded.sums.fold()).toEqual(one.fold());
    expect({ lines: folded.lines, clippedMinor: folded.clippedMinor, clippedPayments: folded.clippedPayments, negative: folded.negative }).toEqual({ lines, clippedMinor, clippedPayments, negative });
  }
}

describe('PageTally and foldTally', () => {
  it('Given random tables, parts and payments, When counted and folded, Then the parties get what adding each split gives', () => {
    fc.assert(fc.property(pageOf(amount, fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: 40n })), checkPage), { numRuns: 300 });
  });

  it('Given parts with amounts around and far above 2^32, When counted (summed or by key) and folded, Then the parties get what adding each split gives', () => {
    fc.assert(fc.property(pageOf(large, large, large), checkPage), { numRuns: 200 });
  });

  it('Given a part whose seats are not its table\'s, When a tally sums it, Then it throws (a broken invariant)', () => {
    const amounts = new PartAmounts([2]);
    amounts.push({ table: { key: 't', ruleId: 'R', platformRate: '1', seats: [] }, baseMinor: 1n, sharesMinor: [1n], clippedMinor: null, platformShareMinor: 0n, clippedTotalMinor: 0n });
    expect(() => new PageTally([7], 0, amounts).add(0, 'CNY')).toThrow(/a part of 1 shares at a table of 2 seats/);
  });

  it('Given a split whose shares do not match its table, When added, Then it throws (a broken invariant)', () => {
    const table: SplitTable = { key: 't', ruleId: 'R', platformRate: '1', seats: [] };
    expect(() => new PageSums().add(table, 'CNY', { sharesMinor: [1n], clippedMinor: null, platformShareMinor: 0n }, 1)).toThrow(/1 shares at a table of 0 seats/);
  });
});
