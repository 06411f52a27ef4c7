import { describe, expect, it } from 'vitest';
import { findCurrency } from './currency.js';
import { allocate, divideRounded, formatMoney, parseDecimal, toDecimalString } from './money.js';

const cur = (code: string) => {
  const c = findCurrency(code);
  if (!c) throw new Error(code);
  return c;
};

describe('Given decimal strings and currencies with different exponents', () => {
  it.each([
    ['10.50', 'CNY', 1050n],
    ['10', 'JPY', 10n],
    ['1.234', 'KWD', 1234n],
    ['0.001', 'KWD', 1n],
    ['12', 'COIN', 12n],
    ['-3.5', 'USD', -350n],
  ])('When %s %s is parsed, Then it is %s minor units exactly', (text, code, minor) => {
    expect(parseDecimal(text, cur(code))).toEqual({ ok: true, value: minor });
  });
  it('When JPY has a fraction, Then amount_precision', () => expect(parseDecimal('1.5', cur('JPY'))).toMatchObject({ code: 'amount_precision' }));
  it('When KWD has four digits, Then amount_precision', () => expect(parseDecimal('1.0001', cur('KWD'))).toMatchObject({ code: 'amount_precision' }));
  it.each([
    ['2.345', 'half_up', 235n],
    ['2.345', 'half_even', 234n],
    ['2.355', 'half_even', 236n],
    ['2.345', 'half_down', 234n],
    ['2.341', 'up', 235n],
    ['2.349', 'down', 234n],
    ['-2.345', 'half_up', -235n],
    ['-2.341', 'floor', -235n],
    ['-2.349', 'ceiling', -234n],
  ] as const)('When %s CNY is rounded %s, Then %s', (text, mode, minor) => {
    expect(parseDecimal(text, cur('CNY'), mode)).toEqual({ ok: true, value: minor });
  });
  it('Then formatting for people groups thousands and keeps every digit', () => {
    expect(formatMoney(123456789n, cur('CNY'))).toBe('1,234,567.89 CNY');
    expect(formatMoney(-5n, cur('KWD'))).toBe('-0.005 KWD');
    expect(formatMoney(1000n, cur('JPY'))).toBe('1,000 JPY');
    expect(toDecimalString(7n, cur('CNY'))).toBe('0.07');
  });
  it('Then divideRounded refuses a non-positive denominator', () => expect(() => divideRounded(1n, 0n, 'down')).toThrow(RangeError));
});

describe('Given a total to split', () => {
  it('When 100 is split three ways, Then the leftover unit goes to the largest remainder', () => {
    expect(allocate(100n, [1n, 1n, 1n])).toEqual([34n, 33n, 33n]);
    expect(allocate(100n, [50n, 30n, 20n])).toEqual([50n, 30n, 20n]);
    expect(allocate(5n, [1n, 2n])).toEqual([2n, 3n]);
  });
  it('When the total is negative, Then the parts are negative and sum to it', () => {
    expect(allocate(-100n, [1n, 1n, 1n])).toEqual([-34n, -33n, -33n]);
  });
  it('When ratios are empty, negative or all zero, Then allocate refuses', () => {
    expect(() => allocate(1n, [])).toThrow(RangeError);
    expect(() => allocate(1n, [-1n, 2n])).toThrow(RangeError);
    expect(() => allocate(1n, [0n, 0n])).toThrow(RangeError);
  });
});
