// Currencies and their exponents (digits after the decimal point in the minor unit).
// Cash currencies follow ISO 4217. Virtual coins (the seed's 虚币, e.g. 京豆, Q币) are currencies of
// their own, with codes that cannot collide with ISO codes (they are not three letters), so a coin
// amount can never be added to a cash amount by mistake.

export type CurrencyKind = 'fiat' | 'virtual';

export interface Currency {
  readonly code: string;
  readonly exponent: number;
  readonly kind: CurrencyKind;
  readonly name: string;
}

const TABLE: readonly Currency[] = [
  { code: 'CNY', exponent: 2, kind: 'fiat', name: 'Chinese yuan' },
  { code: 'USD', exponent: 2, kind: 'fiat', name: 'US dollar' },
  { code: 'EUR', exponent: 2, kind: 'fiat', name: 'Euro' },
  { code: 'GBP', exponent: 2, kind: 'fiat', name: 'Pound sterling' },
  { code: 'HKD', exponent: 2, kind: 'fiat', name: 'Hong Kong dollar' },
  { code: 'SGD', exponent: 2, kind: 'fiat', name: 'Singapore dollar' },
  { code: 'AUD', exponent: 2, kind: 'fiat', name: 'Australian dollar' },
  { code: 'CAD', exponent: 2, kind: 'fiat', name: 'Canadian dollar' },
  { code: 'CHF', exponent: 2, kind: 'fiat', name: 'Swiss franc' },
  { code: 'JPY', exponent: 0, kind: 'fiat', name: 'Japanese yen' },
  { code: 'KRW', exponent: 0, kind: 'fiat', name: 'South Korean won' },
  { code: 'KWD', exponent: 3, kind: 'fiat', name: 'Kuwaiti dinar' },
  { code: 'BHD', exponent: 3, kind: 'fiat', name: 'Bahraini dinar' },
  { code: 'JOD', exponent: 3, kind: 'fiat', name: 'Jordanian dinar' },
  { code: 'COIN', exponent: 0, kind: 'virtual', name: 'Platform virtual coin' },
  { code: 'POINT', exponent: 2, kind: 'virtual', name: 'Loyalty points' },
];

const BY_CODE = new Map(TABLE.map((c) => [c.code, c]));

export function findCurrency(code: string): Currency | undefined {
  return BY_CODE.get(code);
}

export function listCurrencies(): readonly Currency[] {
  return TABLE;
}
