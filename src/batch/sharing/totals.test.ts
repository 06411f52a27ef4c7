// What a routed page adds to the parties' days when counted as it is written (PageTally: payments per table,
// part and currency, folded once per pair) equals adding its payments' splits one by one: the same additions
// per party, currency and kind, lines, clipped amounts and negative bases.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BaseSplit, PartyKind, SplitTable } from './core.js';
import { foldTally, PageSums, PageTally } from './totals.js';

const PARTIES: readonly [string, PartyKind][] = [
  ['A1', 'agent'],
  ['A2', 'agent'],
  ['I1', 'isv'],
  ['A1', 'isv'], // one id as two kinds: kept apart
];

const amount = fc.bigInt({ min: -50n, max: 500n });

/** Tables of 0–3 seats, each with its parts (shares per seat, sometimes clipped), and payments on them. */
const page = fc
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
              sharesMinor: fc.array(fc.bigInt({ min: 0n, max: 300n }), { minLength: t.seats.length, maxLength: t.seats.length }),
              clippedMinor: fc.option(fc.array(fc.bigInt({ min: 0n, max: 40n }), { minLength: t.seats.length, maxLength: t.seats.length }), { nil: null }),
              platformShareMinor: amount,
            }),
            { minLength: 1, maxLength: 5 },
          ),
        ),
      ),
      payments: fc.array(fc.record({ table: fc.nat(), part: fc.nat(), currency: fc.constantFrom('CNY', 'USD') }), { maxLength: 60 }),
    }),
  );

describe('PageTally and foldTally', () => {
  it('Given random tables, parts and payments, When counted and folded, Then the parties get what adding each split gives', () => {
    fc.assert(
      fc.property(page, ({ tables, parts, payments }) => {
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
        }
        expect(tally.add(null, 'CNY')).toBeNull(); // a payment without its part: counted apart
        for (const counted of [tally, dense]) {
          expect([counted.payments, counted.missing]).toEqual([payments.length, counted === tally ? 1 : 0]);
          const folded = foldTally(
            counted,
            (id) => splitTables[tableIds.indexOf(id)] as SplitTable,
            (id) => allParts[id] as BaseSplit,
          );
          expect(folded.sums.fold()).toEqual(one.fold());
          expect({ lines: folded.lines, clippedMinor: folded.clippedMinor, clippedPayments: folded.clippedPayments, negative: folded.negative }).toEqual({ lines, clippedMinor, clippedPayments, negative });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('Given a split whose shares do not match its table, When added, Then it throws (a broken invariant)', () => {
    const table: SplitTable = { key: 't', ruleId: 'R', platformRate: '1', seats: [] };
    expect(() => new PageSums().add(table, 'CNY', { sharesMinor: [1n], clippedMinor: null, platformShareMinor: 0n }, 1)).toThrow(/1 shares at a table of 0 seats/);
  });
});
