// Pricing a million payments in bigints made a dozen short-lived bigints a payment (the fee's division,
// the running volume and three sums), most of the pricing time and its garbage. Here the same arithmetic
// runs in JS numbers while every value is provably exact: integers whose magnitude stays at most
// Number.MAX_SAFE_INTEGER (2^53 − 1). Each step checks its bound, and whatever does not fit goes back to
// the bigint functions of core.ts (the caller's fallback); a sum carries into a bigint when it grows past.

import type { RateCard } from './config.js';

const SAFE = Number.MAX_SAFE_INTEGER;
const BIG_SAFE = BigInt(SAFE);

/** The bigint as a number when that is exact, else undefined. */
export const exactNumber = (v: bigint): number | undefined => (v <= BIG_SAFE && v >= -BIG_SAFE ? Number(v) : undefined);

/**
 * A sum of safe integers, kept in a number while the total stays within ±(2^53 − 1): the sum of two such
 * numbers is exact whenever it is within the bound (beyond it, the rounded sum is beyond it too), and
 * what would pass the bound is carried into a bigint.
 */
export class ExactSum {
  private carried = 0n;
  private small = 0;

  constructor(start = 0n) {
    const n = exactNumber(start);
    if (n === undefined) this.carried = start;
    else this.small = n;
  }

  /** Adds a safe integer. */
  add(v: number): void {
    const s = this.small + v;
    if (s <= SAFE && s >= -SAFE) this.small = s;
    else {
      this.carried += BigInt(this.small) + BigInt(v);
      this.small = 0;
    }
  }

  addBig(v: bigint): void {
    this.carried += v;
  }

  /** The total as a number when exact (every partial sum so far was), else undefined. */
  get exact(): number | undefined {
    return this.carried === 0n ? this.small : exactNumber(this.carried + BigInt(this.small));
  }

  get total(): bigint {
    return this.carried + BigInt(this.small);
  }
}

interface NumberRate {
  readonly numerator: number;
  readonly denominator: number;
}

/** A rate card's figures as numbers (every one a safe integer, the rates non-negative). */
export interface NumberCard {
  readonly rate: NumberRate;
  readonly fixedMinor: number;
  readonly minMinor: number;
  readonly capMinor: number | null;
  readonly tiers: readonly { readonly fromMinor: number; readonly toMinor: number | null; readonly rate: NumberRate }[];
}

const numberRate = (r: { numerator: bigint; denominator: bigint }): NumberRate | undefined => {
  const numerator = exactNumber(r.numerator);
  const denominator = exactNumber(r.denominator);
  return numerator === undefined || denominator === undefined || numerator < 0 || denominator <= 0 ? undefined : { numerator, denominator };
};

/** The card in numbers, or undefined when a figure is not a safe integer (the bigint path prices then). */
export function numberCard(card: RateCard): NumberCard | undefined {
  const rate = numberRate(card.rate);
  const fixedMinor = exactNumber(card.fixedMinor);
  const minMinor = exactNumber(card.minMinor);
  const capMinor = card.capMinor === null ? null : exactNumber(card.capMinor);
  if (rate === undefined || fixedMinor === undefined || minMinor === undefined || capMinor === undefined) return undefined;
  const tiers: NumberCard['tiers'][number][] = [];
  for (const t of card.tiers) {
    const tierRate = numberRate(t.rate);
    const fromMinor = exactNumber(t.fromMinor);
    const toMinor = t.toMinor === null ? null : exactNumber(t.toMinor);
    if (tierRate === undefined || fromMinor === undefined || toMinor === undefined) return undefined;
    tiers.push({ fromMinor, toMinor, rate: tierRate });
  }
  return { rate, fixedMinor, minMinor, capMinor, tiers };
}

/**
 * core.ts's paymentFee in numbers: the same tier, half-up rounding of amount × rate, fixed part, minimum,
 * cap and "never above the amount". Undefined when a step would leave the exact range (a negative amount,
 * a product or sum beyond 2^53 − 1): the caller prices that payment with paymentFee.
 */
export function paymentFeeExact(card: NumberCard, amountMinor: number, monthVolumeBeforeMinor: number): number | undefined {
  if (amountMinor < 0) return undefined;
  let rate = card.rate;
  for (const t of card.tiers) {
    if (t.fromMinor <= monthVolumeBeforeMinor && (t.toMinor === null || monthVolumeBeforeMinor < t.toMinor)) {
      rate = t.rate;
      break;
    }
  }
  const product = amountMinor * rate.numerator;
  if (product > SAFE) return undefined;
  // Integers below 2^53: the remainder is exact, and so is the division of what is left.
  const remainder = product % rate.denominator;
  let fee = (product - remainder) / rate.denominator + (remainder * 2 >= rate.denominator ? 1 : 0) + card.fixedMinor;
  if (fee > SAFE || fee < -SAFE) return undefined;
  if (fee < card.minMinor) fee = card.minMinor;
  if (card.capMinor !== null && fee > card.capMinor) fee = card.capMinor;
  return fee > amountMinor ? amountMinor : fee;
}

// ---- a BigInt64Array's values as numbers ----
// Reading an element of a BigInt64Array makes a bigint (a heap object), and writing one takes a bigint: a
// million items priced and written made five short-lived bigints each. Seen as pairs of 32-bit words, a
// value whose high word is below 2^21 in magnitude is a safe integer, hi × 2^32 + lo, read and written in
// numbers; any other value is read and written as a bigint by the caller.

const LITTLE_ENDIAN = new Uint8Array(new BigInt64Array([1n]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;
const TWO_POW_32 = 4_294_967_296;
/** |hi| ≤ 2^21 − 1 keeps |hi × 2^32 + lo| ≤ 2^53 − 1. */
const HI_SAFE_MAX = 0x1f_ffff;

/** The 32-bit words of a BigInt64Array (the same memory; two words an element). */
export const wordsOf = (a: BigInt64Array): Int32Array => new Int32Array(a.buffer, a.byteOffset, a.length * 2);

/** Element k of the words' BigInt64Array as a number when it is a safe integer, else NaN (read the bigint then). */
export function numberAt(words: Int32Array, k: number): number {
  const hi = words[2 * k + HI] ?? 0;
  if (hi > HI_SAFE_MAX || hi < -HI_SAFE_MAX) return NaN;
  return hi * TWO_POW_32 + ((words[2 * k + LO] ?? 0) >>> 0);
}

/** Sets element k of the words' BigInt64Array to a safe integer v (no bigint made). */
export function setNumberAt(words: Int32Array, k: number, v: number): void {
  // v mod 2^32 and floor(v / 2^32) are exact for a safe integer: its two's complement words.
  words[2 * k + LO] = v >>> 0;
  words[2 * k + HI] = Math.floor(v / TWO_POW_32);
}
