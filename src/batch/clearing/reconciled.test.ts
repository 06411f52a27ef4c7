import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KIND_CAPTURE, KIND_PAYMENT, KIND_REFUND } from './columns.js';
import { pairSourceCode, ReconciledIds } from './reconciled.js';

// Ids as recon writes them and as they may come: plain, with quotes, backslashes, brackets, commas,
// non-ASCII and astral characters, numbers, and prefixes of one another.
const idArb = fc.oneof(
  fc.stringMatching(/^pay_[0-9a-z]{1,8}$/),
  fc.string({ maxLength: 6 }),
  fc.constantFrom('pay_1', 'pay_10', 'pay_"q"', 'pay_\\x', 'a,b]', '[x', 'é', '\u{1F600}', ''),
);
const pairArb = fc.tuple(fc.constantFrom('p', 'r', 'c'), fc.integer({ min: 1, max: 999 }), fc.constantFrom('p', 'r', 'c', 'x', 'rr', ''), fc.oneof(idArb, fc.integer({ min: 0, max: 99 }), fc.constant(null)));

/** The reference: every pair of every block parsed as JSON, into a set of kind:id. */
function reference(blocks: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const b of blocks) for (const p of JSON.parse(b) as unknown[][]) if (p[3] !== null && p[3] !== undefined) out.add(`${pairSourceCode(p[2])}:${String(p[3])}`);
  return out;
}

describe('Given blocks of packed pairs (properties)', () => {
  it('When ids are asked about, Then an id is reconciled exactly when a parsed block holds it with that kind', () => {
    fc.assert(
      fc.property(fc.array(fc.array(pairArb, { maxLength: 12 }), { maxLength: 5 }), fc.array(idArb, { maxLength: 10 }), fc.boolean(), (blocks, others, spaced) => {
        const texts = blocks.map((pairs) => JSON.stringify(pairs, null, spaced ? 1 : undefined));
        const ids = new ReconciledIds();
        for (const t of texts) ids.addBlock(t);
        const expected = reference(texts);
        const asked = [...blocks.flat().map((p) => String(p[3])), ...others, ...blocks.flat().map((p) => `${String(p[3])}x`), ...blocks.flat().map((p) => String(p[3]).slice(1))];
        for (const id of asked) for (const kind of [KIND_CAPTURE, KIND_PAYMENT, KIND_REFUND]) expect(ids.has(kind, id)).toBe(expected.has(`${kind}:${id}`));
      }),
      { numRuns: 300 },
    );
  });

  it('When many plain pairs are indexed and ids are added one by one, Then both are found and nothing else is', () => {
    const ids = new ReconciledIds();
    const pairs = Array.from({ length: 5000 }, (_, i) => ['p', i + 1, i % 3 === 0 ? 'r' : 'p', `pay_${i}`]);
    ids.addBlock(JSON.stringify(pairs.slice(0, 2500)));
    expect(ids.has(KIND_PAYMENT, 'pay_1')).toBe(true);
    // Blocks added after a lookup are found too (the table is rebuilt).
    ids.addBlock(JSON.stringify(pairs.slice(2500)));
    ids.add(KIND_CAPTURE, 'cap_1');
    for (let i = 0; i < 5000; i++) {
      expect(ids.has(i % 3 === 0 ? KIND_REFUND : KIND_PAYMENT, `pay_${i}`)).toBe(true);
      expect(ids.has(i % 3 === 0 ? KIND_PAYMENT : KIND_REFUND, `pay_${i}`)).toBe(false);
    }
    expect(ids.has(KIND_CAPTURE, 'cap_1')).toBe(true);
    expect(ids.has(KIND_PAYMENT, 'pay_5000')).toBe(false);
    expect(ids.has(KIND_PAYMENT, 'pay_')).toBe(false);
  });
});
