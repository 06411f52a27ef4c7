// Money is a bigint count of minor units plus a currency. Nothing here touches a JS number for an
// amount: parsing is done on the digits, rounding is integer division with a named mode, and every
// split goes through allocate(), whose parts always sum to the whole.

import { findCurrency, type Currency } from './currency.js';
import { failure, type LedgerFailure } from './errors.js';

/** Largest amount of a single posting, in minor units: 2^53-1, so it also survives any JSON reader. */
export const AMOUNT_MINOR_MAX = 2n ** 53n - 1n;
/** Largest value an account counter may reach: SQLite INTEGER is a signed 64-bit integer. */
export const COUNTER_MAX = 2n ** 63n - 1n;

export type Result<T> = { readonly ok: true; readonly value: T } | LedgerFailure;

export const ROUNDING_MODES = ['half_up', 'half_even', 'half_down', 'down', 'up', 'floor', 'ceiling'] as const;
export type RoundingMode = (typeof ROUNDING_MODES)[number];

export interface Money {
  readonly amountMinor: bigint;
  readonly currency: Currency;
}

const INTEGER_STRING = /^(-?)(0|[1-9][0-9]*)$/;
const DECIMAL_STRING = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

function checkPositiveAndBounded(value: bigint, negative: boolean, shown: string): Result<bigint> {
  if (negative || value === 0n) return failure('amount_not_positive', `Amount ${JSON.stringify(shown)} is not above zero.`);
  if (value > AMOUNT_MINOR_MAX) return failure('amount_too_large', `Amount ${JSON.stringify(shown)} is too large.`);
  return ok(value);
}

/**
 * Reads a posting amount in minor units: an integer string ("1050"), or a JSON integer that is a safe
 * integer. Zero, negatives (including "-0"), exponents, hex, signs, spaces and leading zeros are refused.
 */
export function parseAmountMinor(raw: unknown): Result<bigint> {
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) return failure('amount_invalid', `Amount ${String(raw)} is not an integer count of minor units.`);
    if (!Number.isSafeInteger(raw)) return failure('amount_unsafe_number', `Amount ${String(raw)} is beyond 2^53 as a JSON number.`);
    if (Object.is(raw, -0)) return failure('amount_not_positive', 'Amount -0 is not above zero.');
    return checkPositiveAndBounded(BigInt(Math.abs(raw)), raw < 0, String(raw));
  }
  if (typeof raw === 'bigint') return checkPositiveAndBounded(raw < 0n ? -raw : raw, raw < 0n, raw.toString());
  if (typeof raw !== 'string') return failure('amount_invalid', `Amount must be an integer string, got ${typeof raw}.`);
  const m = INTEGER_STRING.exec(raw);
  if (!m) return failure('amount_invalid', `Amount ${JSON.stringify(raw.slice(0, 40))} is not an integer string.`);
  return checkPositiveAndBounded(BigInt(m[2] ?? ''), m[1] === '-', raw);
}

/** Integer division of a signed numerator by a positive denominator, rounded by a named mode. */
export function divideRounded(numerator: bigint, denominator: bigint, mode: RoundingMode): bigint {
  if (denominator <= 0n) throw new RangeError('divideRounded: denominator must be positive');
  const quotient = numerator / denominator; // truncates toward zero
  const remainder = numerator % denominator;
  if (remainder === 0n) return quotient;
  const negative = numerator < 0n;
  const awayFromZero = negative ? quotient - 1n : quotient + 1n;
  const twiceRemainder = (remainder < 0n ? -remainder : remainder) * 2n;
  switch (mode) {
    case 'down':
      return quotient;
    case 'up':
      return awayFromZero;
    case 'floor':
      return negative ? quotient - 1n : quotient;
    case 'ceiling':
      return negative ? quotient : quotient + 1n;
    case 'half_up':
      return twiceRemainder >= denominator ? awayFromZero : quotient;
    case 'half_down':
      return twiceRemainder > denominator ? awayFromZero : quotient;
    case 'half_even':
      if (twiceRemainder !== denominator) return twiceRemainder > denominator ? awayFromZero : quotient;
      return quotient % 2n === 0n ? quotient : awayFromZero;
  }
}

/**
 * Parses a decimal string in major units ("10.50") into minor units of the currency, exactly.
 * More fraction digits than the currency has are refused unless the caller names a rounding mode.
 * Signs are kept: callers that need a positive amount check it (see parseDecimalAmount).
 */
export function parseDecimal(raw: string, currency: Currency, rounding?: RoundingMode): Result<bigint> {
  const m = DECIMAL_STRING.exec(raw);
  if (!m) return failure('amount_invalid', `Amount ${JSON.stringify(raw.slice(0, 40))} is not a decimal string.`);
  const negative = m[1] === '-';
  const whole = m[2] ?? '0';
  const fraction = m[3] ?? '';
  const exponent = currency.exponent;
  let magnitude: bigint;
  if (fraction.length <= exponent) {
    magnitude = BigInt(whole + fraction.padEnd(exponent, '0'));
  } else {
    if (!rounding) {
      return failure('amount_precision', `Amount ${raw} has ${fraction.length} fraction digits; ${currency.code} has ${exponent}.`);
    }
    const scale = 10n ** BigInt(fraction.length - exponent);
    const exact = BigInt(whole + fraction);
    magnitude = divideRounded(negative ? -exact : exact, scale, rounding);
    return ok(magnitude);
  }
  return ok(negative ? -magnitude : magnitude);
}

/** A positive posting amount given in major units ("10.50"), bounded like parseAmountMinor. */
export function parseDecimalAmount(raw: unknown, currency: Currency, rounding?: RoundingMode): Result<bigint> {
  if (typeof raw !== 'string') return failure('amount_invalid', `Amount must be a decimal string, got ${typeof raw}.`);
  const parsed = parseDecimal(raw, currency, rounding);
  if (!parsed.ok) return parsed;
  const negative = raw.startsWith('-');
  return checkPositiveAndBounded(parsed.value < 0n ? -parsed.value : parsed.value, negative, raw);
}

/** Minor units as a plain decimal string in major units: 123456n CNY → "1234.56". */
export function toDecimalString(amountMinor: bigint, currency: Currency): string {
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString();
  const e = currency.exponent;
  if (e === 0) return (negative ? '-' : '') + digits;
  const padded = digits.padStart(e + 1, '0');
  return `${negative ? '-' : ''}${padded.slice(0, -e)}.${padded.slice(-e)}`;
}

/** For people: grouped thousands and the code, "1,234.56 CNY". */
export function formatMoney(amountMinor: bigint, currency: Currency): string {
  const plain = toDecimalString(amountMinor, currency);
  const negative = plain.startsWith('-');
  const [whole = '', fraction] = (negative ? plain.slice(1) : plain).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}${fraction === undefined ? '' : `.${fraction}`} ${currency.code}`;
}

export function currencyOrFailure(code: unknown): Result<Currency> {
  if (typeof code !== 'string') return failure('currency_unknown', `Currency must be a string code, got ${typeof code}.`);
  const currency = findCurrency(code);
  return currency ? ok(currency) : failure('currency_unknown', `Currency ${JSON.stringify(code.slice(0, 12))} is not known.`);
}

/**
 * Splits total into parts proportional to ratios by the largest-remainder method: every part is the
 * floor of its exact share, and the units left over go one each to the parts with the largest
 * remainders (ties to the earlier part). The parts always sum to total, and no part is a whole minor
 * unit or more away from its exact share. A negative total is split as its magnitude, then negated.
 */
export function allocate(total: bigint, ratios: readonly bigint[]): bigint[] {
  if (ratios.length === 0) throw new RangeError('allocate: at least one ratio is needed');
  let ratioSum = 0n;
  for (const r of ratios) {
    if (r < 0n) throw new RangeError('allocate: ratios must not be negative');
    ratioSum += r;
  }
  if (ratioSum === 0n) throw new RangeError('allocate: ratios must not all be zero');
  const negative = total < 0n;
  const magnitude = negative ? -total : total;
  const parts = ratios.map((r) => (magnitude * r) / ratioSum);
  const remainders = ratios.map((r, index) => ({ index, remainder: (magnitude * r) % ratioSum }));
  let left = magnitude - parts.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const { index } of remainders) {
    if (left === 0n) break;
    parts[index] = (parts[index] ?? 0n) + 1n;
    left -= 1n;
  }
  return negative ? parts.map((p) => -p) : parts;
}
