// canonicalJson feeds the fingerprints and the hash chain, so its text must never change: each case
// here compares it with the generic form it has always had (a replacer sorting every object's keys).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './entry.js';
import { sortedKeyJson as replacerJson } from './test-support.js';

const key = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('', '0', '1', '10', '9', '01', '-1', '1.5', 'a', 'B', 'é', '😀', 'toJSON'));
const flatValue = fc.oneof(fc.string({ unit: 'grapheme' }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined));

describe('canonicalJson', () => {
  it('Given any flat object of strings, numbers, booleans and nulls, When written, Then the text is the replacer form', () => {
    fc.assert(
      fc.property(fc.dictionary(key, flatValue), (object) => {
        expect(canonicalJson(object)).toBe(replacerJson(object));
      }),
      { numRuns: 2_000 },
    );
  });

  it('Given nested objects, arrays and bigints, When written, Then the text is the replacer form', () => {
    const nested = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, flatValue, fc.bigInt(), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 5 })),
    })).value;
    fc.assert(
      fc.property(fc.dictionary(key, nested), (object) => {
        expect(canonicalJson(object)).toBe(replacerJson(object));
      }),
      { numRuns: 1_000 },
    );
  });

  it('Given keys added out of order, some index-like, When written, Then keys are in the replacer order', () => {
    const object = { z: 1, b: 'x', 10: true, 9: null, a: 2.5 };
    expect(canonicalJson(object)).toBe('{"9":null,"10":true,"a":2.5,"b":"x","z":1}');
    expect(canonicalJson(object)).toBe(replacerJson(object));
  });

  it('Given clearing metadata, When written, Then it is the sorted flat object', () => {
    expect(canonicalJson({ batch_id: 'clr.2026-11-26.M1.CNY', business_date: '2026-11-26' })).toBe('{"batch_id":"clr.2026-11-26.M1.CNY","business_date":"2026-11-26"}');
  });

  it('Given a value with a toJSON, a Date or a non-object, When written, Then it is the replacer form', () => {
    for (const value of [{ toJSON: () => ({ b: 1, a: 2 }) }, { at: new Date(0), n: 1 }, new Date(0), 'text', 12, null, [3, { b: 1, a: 2 }], { s: Symbol('s'), f: () => 1, u: undefined, n: Number.NaN }]) {
      expect(canonicalJson(value)).toBe(replacerJson(value));
    }
  });
});
