// Property tests of the money primitives: allocate, divideRounded, parseDecimal/toDecimalString and
// parseAmountMinor. Every oracle here is written differently from the code under test (exact rational
// comparison, decimal.js, a plain regular expression), so a shared mistake is unlikely.

import DecimalImport, { type Decimal as DecimalType } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findCurrency, type Currency } from './currency.js';
import {
  allocate,
  AMOUNT_MINOR_MAX,
  divideRounded,
  parseAmountMinor,
  parseDecimal,
  ROUNDING_MODES,
  toDecimalString,
  type RoundingMode,
} from './money.js';

const abs = (x: bigint): bigint => (x < 0n ? -x : x);

function currency(code: string): Currency {
  const c = findCurrency(code);
  if (!c) throw new Error(`test setup: no currency ${code}`);
  return c;
}

/** One currency per exponent the table has: 0 (JPY), 2 (CNY), 3 (KWD). */
const CURRENCIES_BY_EXPONENT = [currency('JPY'), currency('CNY'), currency('KWD')];

// ---------------------------------------------------------------------------------------------
// allocate
// ---------------------------------------------------------------------------------------------

const TOTAL_MAX = 2n ** 62n;

const totalArb = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: -100n, max: 100n }),
  fc.bigInt({ min: -TOTAL_MAX, max: TOTAL_MAX }),
  fc.constantFrom(TOTAL_MAX, -TOTAL_MAX, TOTAL_MAX - 1n, 1n, -1n),
);

const ratioArb = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 10n }), fc.bigInt({ min: 0n, max: 10n ** 9n }));

/** 1–20 ratios of 0..10^9, at least one of them non-zero. */
const ratiosArb = fc
  .tuple(fc.array(ratioArb, { minLength: 1, maxLength: 20 }), fc.nat(), fc.bigInt({ min: 1n, max: 10n ** 9n }))
  .map(([ratios, at, nonZero]) => {
    if (ratios.some((r) => r !== 0n)) return ratios;
    const copy = [...ratios];
    copy[at % copy.length] = nonZero;
    return copy;
  });

describe('allocate', () => {
  it('Given any total up to ±2^62 and 1–20 ratios, When allocated, Then the parts sum exactly to the total', () => {
    fc.assert(
      fc.property(totalArb, ratiosArb, (total, ratios) => {
        const parts = allocate(total, ratios);
        expect(parts).toHaveLength(ratios.length);
        expect(parts.reduce((a, b) => a + b, 0n)).toBe(total);
      }),
      { numRuns: 2000 },
    );
  });

  it('Given any total and ratios, When allocated, Then no part is a whole minor unit or more from its exact share', () => {
    fc.assert(
      fc.property(totalArb, ratiosArb, (total, ratios) => {
        const parts = allocate(total, ratios);
        const sum = ratios.reduce((a, b) => a + b, 0n);
        ratios.forEach((r, i) => {
          const part = parts[i] ?? 0n;
          // |part - total*r/sum| < 1  ⇔  |part*sum - total*r| < sum
          expect(abs(part * sum - total * r) < sum).toBe(true);
          // A part never has the opposite sign of the total, and a zero ratio gets nothing.
          if (total >= 0n) expect(part >= 0n).toBe(true);
          else expect(part <= 0n).toBe(true);
          if (r === 0n) expect(part).toBe(0n);
        });
      }),
      { numRuns: 2000 },
    );
  });

  it('Given any total and ratios, When allocated, Then the leftover units go to the largest remainders, ties to the earlier part', () => {
    fc.assert(
      fc.property(totalArb, ratiosArb, (total, ratios) => {
        const parts = allocate(total, ratios);
        const sum = ratios.reduce((a, b) => a + b, 0n);
        const magnitude = abs(total);
        // Work on magnitudes: a negative total is documented to be split as its magnitude, then negated.
        const got = parts.map(abs);
        const floors = ratios.map((r) => (magnitude * r - ((magnitude * r) % sum)) / sum);
        const remainders = ratios.map((r, i) => magnitude * r - (floors[i] ?? 0n) * sum);
        const bumped = got.map((p, i) => p - (floors[i] ?? 0n));
        for (const b of bumped) expect(b === 0n || b === 1n).toBe(true);
        for (let i = 0; i < ratios.length; i++) {
          for (let j = 0; j < ratios.length; j++) {
            if (bumped[i] === 1n && bumped[j] === 0n) {
              const ri = remainders[i] ?? 0n;
              const rj = remainders[j] ?? 0n;
              expect(ri > rj || (ri === rj && i < j)).toBe(true);
            }
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('Given ratios that are empty, all zero or negative, When allocated, Then it throws a RangeError', () => {
    expect(() => allocate(10n, [])).toThrow(RangeError);
    fc.assert(
      fc.property(totalArb, fc.integer({ min: 1, max: 20 }), (total, n) => {
        expect(() => allocate(total, Array.from({ length: n }, () => 0n))).toThrow(RangeError);
      }),
    );
    fc.assert(
      fc.property(totalArb, ratiosArb, fc.nat(), fc.bigInt({ min: 1n, max: 10n ** 9n }), (total, ratios, at, neg) => {
        const copy = [...ratios];
        copy[at % copy.length] = -neg;
        expect(() => allocate(total, copy)).toThrow(RangeError);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// divideRounded
// ---------------------------------------------------------------------------------------------

/**
 * Reference rounding by exact rational comparison: take the floor by way of a non-negative modulus,
 * then decide between floor and floor+1 by comparing twice the fraction with the denominator.
 */
function referenceDivide(n: bigint, d: bigint, mode: RoundingMode): bigint {
  const frac = ((n % d) + d) % d; // in [0, d)
  const lo = (n - frac) / d; // exact floor
  const hi = lo + 1n;
  if (frac === 0n) return lo;
  const positive = n > 0n; // n cannot be 0 here
  const towardZero = positive ? lo : hi;
  const awayFromZero = positive ? hi : lo;
  const twice = 2n * frac;
  switch (mode) {
    case 'floor':
      return lo;
    case 'ceiling':
      return hi;
    case 'down':
      return towardZero;
    case 'up':
      return awayFromZero;
    case 'half_up':
    case 'half_down':
    case 'half_even':
      if (twice < d) return lo;
      if (twice > d) return hi;
      if (mode === 'half_up') return awayFromZero;
      if (mode === 'half_down') return towardZero;
      return lo % 2n === 0n ? lo : hi;
  }
}

// decimal.js ships CommonJS typings whose default export TypeScript (NodeNext) sees as the module
// object, while its ESM build's default export is the Decimal class itself.
const Decimal = DecimalImport as unknown as typeof DecimalType;

const DECIMAL_MODE: Record<RoundingMode, DecimalType.Rounding> = {
  up: Decimal.ROUND_UP,
  down: Decimal.ROUND_DOWN,
  ceiling: Decimal.ROUND_CEIL,
  floor: Decimal.ROUND_FLOOR,
  half_up: Decimal.ROUND_HALF_UP,
  half_down: Decimal.ROUND_HALF_DOWN,
  half_even: Decimal.ROUND_HALF_EVEN,
};

// 300 significant digits: with |n| < 2^71 and d <= 2^41, a non-terminating quotient is at least
// 1/(2d) away from a tie, far above 10^-250, so rounding to 300 digits first cannot fake a tie.
const D = Decimal.clone({ precision: 300 });

function decimalJsDivide(n: bigint, d: bigint, mode: RoundingMode): bigint {
  const q = new D(n.toString()).div(new D(d.toString()));
  return BigInt(q.toDecimalPlaces(0, DECIMAL_MODE[mode]).toFixed(0));
}

// The small ranges hit exact ties (n/d = k + 1/2) often; the large ones exercise big magnitudes.
const numeratorArb = fc.oneof(fc.bigInt({ min: -60n, max: 60n }), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }));
const denominatorArb = fc.oneof(fc.bigInt({ min: 1n, max: 12n }), fc.bigInt({ min: 1n, max: 2n ** 40n }));
const modeArb = fc.constantFrom(...ROUNDING_MODES);

describe('divideRounded', () => {
  it('Given a random numerator, denominator and mode, When divided, Then it matches the exact rational reference', () => {
    fc.assert(
      fc.property(numeratorArb, denominatorArb, modeArb, (n, d, mode) => {
        expect(divideRounded(n, d, mode)).toBe(referenceDivide(n, d, mode));
      }),
      { numRuns: 5000 },
    );
  });

  it('Given exact ties k+1/2, When divided, Then every mode matches the rational reference and decimal.js', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }), fc.bigInt({ min: 1n, max: 2n ** 30n }), modeArb, (k, half, mode) => {
        const d = 2n * half;
        const n = k * d + half; // n/d = k + 1/2 exactly
        const got = divideRounded(n, d, mode);
        expect(got).toBe(referenceDivide(n, d, mode));
        expect(got).toBe(decimalJsDivide(n, d, mode));
      }),
      { numRuns: 2000 },
    );
  });

  it('Given a random numerator, denominator and mode, When divided, Then it matches decimal.js', () => {
    fc.assert(
      fc.property(numeratorArb, denominatorArb, modeArb, (n, d, mode) => {
        expect(divideRounded(n, d, mode)).toBe(decimalJsDivide(n, d, mode));
      }),
      { numRuns: 2000 },
    );
  });

  it('Given any division, When rounded, Then the result is within one unit (half a unit for half_* modes) of the exact quotient', () => {
    fc.assert(
      fc.property(numeratorArb, denominatorArb, modeArb, (n, d, mode) => {
        const q = divideRounded(n, d, mode);
        const error = abs(q * d - n); // |q - n/d| * d
        if (mode.startsWith('half_')) expect(2n * error <= d).toBe(true);
        else expect(error < d).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('Given a denominator of zero or below, When divided, Then it throws a RangeError', () => {
    fc.assert(
      fc.property(numeratorArb, fc.bigInt({ min: -(2n ** 40n), max: 0n }), modeArb, (n, d, mode) => {
        expect(() => divideRounded(n, d, mode)).toThrow(RangeError);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// parseDecimal / toDecimalString
// ---------------------------------------------------------------------------------------------

const minorArb = fc.oneof(
  fc.bigInt({ min: -2000n, max: 2000n }),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }),
);
const currencyArb = fc.constantFrom(...CURRENCIES_BY_EXPONENT);

describe('parseDecimal and toDecimalString', () => {
  it('Given any minor amount and a currency of exponent 0, 2 or 3, When printed and parsed back, Then the amount is unchanged', () => {
    fc.assert(
      fc.property(minorArb, currencyArb, fc.option(modeArb, { nil: undefined }), (x, c, mode) => {
        const text = toDecimalString(x, c);
        const parsed = parseDecimal(text, c, mode);
        expect(parsed).toEqual({ ok: true, value: x });
        // The printed form is canonical: exactly `exponent` fraction digits, no leading zeros.
        const fraction = text.split('.')[1];
        expect(fraction?.length ?? 0).toBe(c.exponent);
        expect(/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(text)).toBe(true);
        expect(text.startsWith('-')).toBe(x < 0n); // never "-0" / "-0.00"
      }),
      { numRuns: 3000 },
    );
  });

  it('Given a decimal string with more fraction digits than the currency, When parsed with a mode, Then it equals the exactly rounded value', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
        fc.integer({ min: 1, max: 8 }),
        currencyArb,
        modeArb,
        (scaled, extra, c, mode) => {
          // scaled is the amount in units of 10^-(exponent+extra) major units
          const digits = c.exponent + extra;
          const text = toDecimalString(scaled, { ...c, exponent: digits });
          const parsed = parseDecimal(text, c, mode);
          expect(parsed).toEqual({ ok: true, value: referenceDivide(scaled, 10n ** BigInt(extra), mode) });
          // Without a mode the extra precision is refused, never silently dropped.
          const strict = parseDecimal(text, c);
          expect(strict.ok ? 'ok' : strict.code).toBe('amount_precision');
        },
      ),
      { numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// parseAmountMinor
// ---------------------------------------------------------------------------------------------

/** The oracle: a canonical positive integer is ASCII digits without a leading zero, nothing else. */
const CANONICAL = /^[1-9][0-9]*$/;

const canonicalInRangeArb = fc.oneof(
  fc.bigInt({ min: 1n, max: 1000n }),
  fc.bigInt({ min: 1n, max: AMOUNT_MINOR_MAX }),
  fc.constantFrom(1n, AMOUNT_MINOR_MAX, AMOUNT_MINOR_MAX - 1n),
);
const anyDigitsArb = fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 6n }), fc.bigInt({ min: 0n, max: 2n ** 64n })).map(String);

/** Strings shaped like numbers but not canonical positive integers. */
const nonCanonicalArb: fc.Arbitrary<string> = fc.oneof(
  // leading zeros
  fc.tuple(fc.integer({ min: 1, max: 3 }), anyDigitsArb).map(([z, d]) => '0'.repeat(z) + d),
  // signs
  fc.tuple(fc.constantFrom('+', '-', '--', '+-', '−' /* U+2212 */), anyDigitsArb).map(([s, d]) => s + d),
  anyDigitsArb.map((d) => `${d}-`),
  // whitespace around or inside
  fc
    .tuple(fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u3000', '\ufeff', '\u2028'), anyDigitsArb, fc.nat(3))
    .map(([w, d, where]) => (where === 0 ? w + d : where === 1 ? d + w : where === 2 ? `${d.slice(0, 1)}${w}${d.slice(1)}` : w + d + w)),
  // exponents
  fc
    .tuple(anyDigitsArb, fc.constantFrom('e', 'E', 'e+', 'E-', 'e-'), fc.nat(30))
    .map(([m, e, x]) => `${m}${e}${x}`),
  // decimals
  fc.tuple(anyDigitsArb, fc.constantFrom('.', '.0', '.00', ',000', '.5')).map(([d, f]) => d + f),
  anyDigitsArb.map((d) => `.${d}`),
  // hex, octal, binary, digit separators
  fc.bigInt({ min: 0n, max: 2n ** 60n }).map((v) => `0x${v.toString(16)}`),
  fc.bigInt({ min: 0n, max: 2n ** 60n }).map((v) => `0X${v.toString(16).toUpperCase()}`),
  fc.bigInt({ min: 0n, max: 2n ** 30n }).map((v) => `0o${v.toString(8)}`),
  fc.bigInt({ min: 0n, max: 2n ** 30n }).map((v) => `0b${v.toString(2)}`),
  fc.bigInt({ min: 1000n, max: 10n ** 12n }).map((v) => v.toString().replace(/\B(?=(\d{3})+(?!\d))/g, '_')),
  fc.bigInt({ min: 1000n, max: 10n ** 12n }).map((v) => v.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')),
  anyDigitsArb.map((d) => `${d}n`),
  // non-ASCII digits: Arabic-Indic, full-width, Devanagari
  fc.bigInt({ min: 1n, max: 10n ** 9n }).map((v) => v.toString().replace(/[0-9]/g, (c) => String.fromCharCode(0x0660 + Number(c)))),
  fc.bigInt({ min: 1n, max: 10n ** 9n }).map((v) => v.toString().replace(/[0-9]/g, (c) => String.fromCharCode(0xff10 + Number(c)))),
  fc.bigInt({ min: 1n, max: 10n ** 9n }).map((v) => v.toString().replace(/[0-9]/g, (c) => String.fromCharCode(0x0966 + Number(c)))),
  fc.constantFrom('', '0', '-0', '+0', '00', 'Infinity', '-Infinity', 'NaN', 'null', 'undefined', 'true', '1e3', '١'),
  // anything at all
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: fc.constantFrom(...'0123456789+-.eExX _,'), maxLength: 24 }),
);

describe('parseAmountMinor', () => {
  it('Given a canonical positive integer string up to 2^53-1, When parsed, Then it is accepted with that value', () => {
    fc.assert(
      fc.property(canonicalInRangeArb, (v) => {
        expect(parseAmountMinor(v.toString())).toEqual({ ok: true, value: v });
      }),
      { numRuns: 2000 },
    );
  });

  it('Given a canonical integer string above 2^53-1, When parsed, Then it is refused as amount_too_large', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: AMOUNT_MINOR_MAX + 1n, max: 2n ** 200n }), (v) => {
        const r = parseAmountMinor(v.toString());
        expect(r.ok ? 'ok' : r.code).toBe('amount_too_large');
      }),
    );
  });

  it('Given a string that is not a canonical positive integer, When parsed, Then it is refused', () => {
    fc.assert(
      fc.property(nonCanonicalArb, (s) => {
        fc.pre(!CANONICAL.test(s));
        const r = parseAmountMinor(s);
        expect(r.ok).toBe(false);
        if (!r.ok) {
          // "-123", "0" and "-0" are integer-shaped and refused for their sign; all else is not an integer.
          const expected = /^-?(0|[1-9][0-9]*)$/.test(s) ? 'amount_not_positive' : 'amount_invalid';
          expect(r.code).toBe(expected);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('Given any string, When parsed, Then it is accepted exactly when canonical and in range', () => {
    fc.assert(
      fc.property(fc.oneof(nonCanonicalArb, canonicalInRangeArb.map(String), fc.bigInt({ min: 1n, max: 2n ** 70n }).map(String)), (s) => {
        const r = parseAmountMinor(s);
        const accept = CANONICAL.test(s) && BigInt(s) <= AMOUNT_MINOR_MAX;
        expect(r.ok).toBe(accept);
        if (r.ok) expect(r.value.toString()).toBe(s);
      }),
      { numRuns: 5000 },
    );
  });

  it('Given a JSON number or a bigint, When parsed, Then only positive safe integers up to 2^53-1 are accepted', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double(),
          fc.integer(),
          fc.maxSafeInteger(),
          fc.constantFrom(0, -0, 2 ** 53, 2 ** 53 - 1, 1e21, Number.NaN, Infinity, -Infinity, 0.5),
          fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }),
        ),
        (v) => {
          const r = parseAmountMinor(v);
          const accept =
            typeof v === 'bigint' ? v > 0n && v <= AMOUNT_MINOR_MAX : Number.isSafeInteger(v) && v > 0 && !Object.is(v, -0);
          expect(r.ok).toBe(accept);
          if (r.ok) expect(r.value).toBe(BigInt(v));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
