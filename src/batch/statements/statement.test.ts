import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StatementRecord } from './port.js';
import { buildStatement, renderStatementCsv, summarise } from './statement.js';

const record = (kind: StatementRecord['kind'], recordId: string, amountMinor: bigint, feeMinor: bigint, createdAtMs: number): StatementRecord => ({
  kind,
  recordId,
  merchantRef: `R-${recordId}`,
  originalId: kind === 'payment' ? '' : 'P1',
  product: 'quick',
  currency: 'CNY',
  amountMinor,
  feeMinor,
  createdAtMs,
});

describe('statement', () => {
  it('Given records in any order, When the statement is built twice, Then the bytes are the same and rows are ordered by time, kind and id', () => {
    const rows = [record('refund', 'R1', 3000n, 18n, 5), record('payment', 'P2', 5000n, 30n, 1), record('payment', 'P1', 10000n, 60n, 1)];
    const a = renderStatementCsv(buildStatement('M1', '2026-11-26', rows, null));
    const b = renderStatementCsv(buildStatement('M1', '2026-11-26', [...rows].reverse(), null));
    expect(a).toBe(b);
    expect(buildStatement('M1', '2026-11-26', rows, null).records.map((r) => r.recordId)).toEqual(['P1', 'P2', 'R1']);
  });

  it('Property: the summary net equals the sum of the rows\u2019 nets, signed by direction, and counts every row', () => {
    const kinds: StatementRecord['kind'][] = ['payment', 'void', 'refund', 'capture', 'capture_void'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ kind: fc.constantFrom(...kinds), amount: fc.bigInt({ min: 1n, max: 10n ** 12n }), feePermille: fc.bigInt({ min: 0n, max: 1000n }) }), { maxLength: 50 }),
        (specs) => {
          const rows = specs.map((s, i) => record(s.kind, `X${i}`, s.amount, (s.amount * s.feePermille) / 1000n, i));
          const [summary] = summarise(rows);
          if (rows.length === 0) {
            expect(summary).toBeUndefined();
            return;
          }
          const signed = rows.reduce((n, r) => n + ((r.kind === 'payment' || r.kind === 'capture' ? 1n : -1n) * (r.amountMinor - r.feeMinor)), 0n);
          expect(summary?.netMinor).toBe(signed);
          expect(summary?.count).toBe(rows.length);
          expect((summary?.grossMinor ?? 0n) - (summary?.refundsMinor ?? 0n) - (summary?.feesMinor ?? 0n)).toBe(summary?.netMinor);
        },
      ),
    );
  });
});
