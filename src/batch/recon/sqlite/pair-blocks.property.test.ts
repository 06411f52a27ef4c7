// The pair blocks a run stores (recon-store.ts, encodePairs): built by concatenation with an id quoted as
// it is unless JSON must escape it, they must be exactly what JSON.stringify writes, for any id.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LineKind } from '../line.js';
import type { RecordSource } from '../match.js';
import { encodePairs } from './recon-store.js';

const KIND = { payment: 'p', refund: 'r' } as const;
const SOURCE = { payment: 'p', refund: 'r', capture: 'c' } as const;

describe('Given matched pairs with any record ids (quotes, backslashes, controls, lone surrogates, any script)', () => {
  it('When encoded as a pair block, Then it is JSON.stringify of the rows, and a slice of it is the slice of the rows', () => {
    const pairArb = fc.record({
      kind: fc.constantFrom<LineKind>('payment', 'refund'),
      lineSeq: fc.integer({ min: 1, max: 2_000_000 }),
      recordSource: fc.constantFrom<RecordSource>('payment', 'refund', 'capture'),
      recordId: fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.stringMatching(/^pay_[0-9a-z]{1,20}$/), fc.constantFrom('a"b', 'a\\b', '\u0000', '\u001f', '\u2028', '\ud800x')),
    });
    fc.assert(
      fc.property(fc.array(pairArb, { minLength: 1, maxLength: 30 }), fc.nat(), fc.nat(), (list, a, b) => {
        const pairs = { kind: list.map((p) => p.kind), lineSeq: list.map((p) => p.lineSeq), recordSource: list.map((p) => p.recordSource), recordId: list.map((p) => p.recordId) };
        const rows = list.map((p) => [KIND[p.kind], p.lineSeq, SOURCE[p.recordSource], p.recordId]);
        expect(encodePairs(pairs, 0, list.length)).toBe(JSON.stringify(rows));
        const from = a % list.length;
        const to = from + 1 + (b % (list.length - from));
        expect(encodePairs(pairs, from, to)).toBe(JSON.stringify(rows.slice(from, to)));
      }),
      { numRuns: 2000 },
    );
  });

  it('When a block outgrows the buffer the bytes are written into, Then it grows and the block is still JSON.stringify of the rows', () => {
    const n = 6000;
    const ids = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? `支付_${i}_${'é'.repeat(20)}` : `pay_${String(i).padStart(40, '0')}`));
    const pairs = { kind: ids.map((_, i): LineKind => (i % 3 === 0 ? 'refund' : 'payment')), lineSeq: ids.map((_, i) => i * 7919 + 1), recordSource: ids.map((): RecordSource => 'payment'), recordId: ids };
    const rows = ids.map((id, i) => [i % 3 === 0 ? 'r' : 'p', i * 7919 + 1, 'p', id]);
    const block = encodePairs(pairs, 0, n);
    expect(Buffer.byteLength(block)).toBeGreaterThan(256 * 1024);
    expect(block).toBe(JSON.stringify(rows));
    // and a small block after it, from the grown buffer, holds nothing of the large one
    expect(encodePairs(pairs, 5, 7)).toBe(JSON.stringify(rows.slice(5, 7)));
  });
});
