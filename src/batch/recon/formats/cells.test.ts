// Properties of the hot-path readers: they agree with the slow, obvious readers (the ledger's
// parseDecimal, String.split, Date) on every input both accept.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AMOUNT_MINOR_MAX, findCurrency, parseDecimal, type Currency } from '../../../ledger/index.js';
import {
  CellSpans,
  decimalToMinor,
  localDateTimeToIso,
  readCount,
  readScaledDecimal,
  ScaledSum,
  splitBacktickRow,
  splitDelimited,
  splitPlainRow,
  trimTabs,
} from './cells.js';
import { AlipayRow } from './alipay-csv.js';

const currency = (code: string): Currency => {
  const c = findCurrency(code);
  if (!c) throw new Error(`no currency ${code}`);
  return c;
};
const BY_EXPONENT = [currency('JPY'), currency('CNY'), currency('KWD')];

/** Strings that look like amounts, near-misses included. */
const amountText = fc.oneof(
  fc.stringMatching(/^-?(0|[1-9][0-9]{0,17})(\.[0-9]{0,5})?$/),
  fc.string({ unit: fc.constantFrom('0', '1', '9', '.', '-', '+', 'e', ' ', ','), maxLength: 8 }),
  fc.constantFrom('', '-0', '-0.00', '1e3', '0x10', '01', '.5', '5.', '+1', ' 1', '1 ', '9007199254740991', '9007199254740992', '90071992547409.91', '90071992547409.92'),
);

describe('Given decimalToMinor, the allocation-light amount reader', () => {
  it('Then on every string it agrees with the ledger\u2019s parseDecimal, except that it also refuses negative zero and amounts above 2^53-1', () => {
    fc.assert(
      fc.property(amountText, fc.constantFrom(...BY_EXPONENT), fc.boolean(), (text, cur, allowNegative) => {
        const fast = decimalToMinor(text, cur.exponent, allowNegative);
        const slow = parseDecimal(text, cur);
        if (fast !== undefined) {
          expect(slow).toEqual({ ok: true, value: fast });
          return;
        }
        const refusedAnyway =
          !slow.ok || (slow.value === 0n && text.startsWith('-')) || (!allowNegative && text.startsWith('-')) || (slow.value < 0n ? -slow.value : slow.value) > AMOUNT_MINOR_MAX;
        expect(refusedAnyway).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('Then it reads a span of a longer line in place', () => {
    const line = '`x,`123.45,`y';
    expect(decimalToMinor(line, 2, false, 4, 10)).toBe(12345n);
  });
});

describe('Given readScaledDecimal and ScaledSum (fees keep their own precision)', () => {
  it('Then the sum of fees at different scales equals the exact rational sum, and prints at the largest scale', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), fc.integer({ min: 0, max: 6 })), { maxLength: 20 }), (fees) => {
        const sum = new ScaledSum();
        let exact = 0n; // at scale 6
        for (const [units, scale] of fees) {
          const negative = units < 0n;
          const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
          const text = `${negative ? '-' : ''}${scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`}`;
          const read = readScaledDecimal(text, 6);
          expect(read).toEqual({ value: units, scale });
          sum.add(units, scale);
          exact += units * 10n ** BigInt(6 - scale);
        }
        expect(sum.equals(exact, 6)).toBe(true);
        const maxScale = Math.max(0, ...fees.map(([, s]) => s));
        expect(sum.toFixed()).toMatch(maxScale === 0 ? /^-?\d+$/ : new RegExp(`^-?\\d+\\.\\d{${maxScale}}$`));
      }),
    );
    expect(readScaledDecimal('-0.02000', 6)).toEqual({ value: -2000n, scale: 5 });
    expect(readScaledDecimal('0.0000001', 6)).toBeUndefined();
  });
});

/** Cell text that holds no backtick and no line end (commas are allowed: the separator is ",`"). */
const wechatCell = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '9', '.', '-', ',', ' ', '中', '文', '%', '_'), maxLength: 12 }).filter((s) => !s.endsWith(','));

describe('Given splitBacktickRow (WeChat cells, every one prefixed with a backtick)', () => {
  it('Then splitting a written row gives back its cells, commas inside values included', () => {
    fc.assert(
      fc.property(fc.array(wechatCell, { minLength: 1, maxLength: 30 }), (cells) => {
        const line = cells.map((c) => `\`${c}`).join(',');
        const spans = new CellSpans(cells.length);
        expect(splitBacktickRow(line, spans)).toBe(cells.length);
        expect(cells.map((_c, i) => spans.cell(i))).toEqual(cells);
      }),
    );
  });

  it('Then a line without the leading backtick is not a row', () => {
    expect(splitBacktickRow('交易时间,公众账号ID', new CellSpans(4))).toBe(-1);
  });
});

describe('Given splitDelimited (RFC 4180 quotes)', () => {
  const plainCell = fc.string({ unit: fc.constantFrom('a', '1', ' ', '\t', '中', '.', '-'), maxLength: 8 });
  const anyCell = fc.string({ unit: fc.constantFrom('a', '1', ',', '"', '中', ' '), maxLength: 8 });

  it('Then cells without quotes or commas split as String.split does', () => {
    fc.assert(
      fc.property(fc.array(plainCell, { minLength: 1, maxLength: 20 }), (cells) => {
        const out = new Array<string>(20).fill('');
        expect(splitDelimited(cells.join(','), ',', out)).toBe(cells.length);
        expect(out.slice(0, cells.length)).toEqual(cells);
      }),
    );
  });

  it('Then any cells, quoted as a spreadsheet writes them, come back as they were', () => {
    fc.assert(
      fc.property(fc.array(anyCell, { minLength: 1, maxLength: 12 }), (cells) => {
        const line = cells.map((c) => (c.includes(',') || c.includes('"') ? `"${c.replaceAll('"', '""')}"` : c)).join(',');
        const out = new Array<string>(12).fill('');
        expect(splitDelimited(line, ',', out)).toBe(cells.length);
        expect(out.slice(0, cells.length)).toEqual(cells);
      }),
    );
  });

  it('Then a quote not closed on its line is reported, and Alipay\u2019s tabs are trimmed', () => {
    expect(splitDelimited('a,"b', ',', ['', ''])).toBe(-1);
    expect(trimTabs('2019091622001458860515315453\t')).toBe('2019091622001458860515315453');
  });
});

describe('Given an Alipay row read lazily (spans for a line without quotes, a full split with them)', () => {
  it('When any row of tab-decorated cells is read, Then every cell equals split-and-trim, with or without quotes, and the count is the same', () => {
    const cellArb = fc.tuple(fc.constantFrom('', '\t', '\t\t'), fc.string({ maxLength: 12 }).filter((c) => !c.includes(',') && !c.includes('"') && !c.includes('\t')), fc.constantFrom('', '\t'));
    fc.assert(
      fc.property(fc.array(cellArb, { minLength: 1, maxLength: 30 }), fc.boolean(), (cells, quoteOne) => {
        const raw = cells.map(([a, b, c]) => a + b + c);
        const text = (quoteOne ? [`"${raw[0]}"`, ...raw.slice(1)] : raw).join(',');
        const width = raw.length;
        const row = new AlipayRow(width);
        expect(row.read(text)).toBe(width);
        const spans = new CellSpans(width);
        if (!quoteOne) expect(splitPlainRow(text, ',', spans)).toBe(width);
        for (let i = 0; i < width; i++) expect(row.cell(i)).toBe(trimTabs(raw[i] as string));
        expect([row.cell(-1), row.cell(width)]).toEqual(['', '']);
      }),
      { numRuns: 300 },
    );
  });
});

describe('Given the local time and count readers', () => {
  it('Then localDateTimeToIso accepts exactly the real calendar times, as Date reads them', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1970, max: 2100 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 24 }),
        fc.integer({ min: 0, max: 60 }),
        (y, mo, d, h, mi) => {
          const p = (n: number): string => String(n).padStart(2, '0');
          const text = `${y}-${p(mo)}-${p(d)} ${p(h)}:${p(mi)}:07`;
          const iso = localDateTimeToIso(text, '+08:00');
          const utc = new Date(Date.UTC(y, mo - 1, d, h, mi, 7));
          const real = mo >= 1 && mo <= 12 && h < 24 && mi < 60 && utc.getUTCMonth() === mo - 1 && utc.getUTCDate() === d;
          expect(iso).toBe(real ? `${y}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:07+08:00` : undefined);
        },
      ),
    );
  });

  it('Then counts may be written as floats (WeChat fund flow "20.0") but nothing else', () => {
    expect([readCount('3'), readCount('20.0'), readCount('20.00'), readCount('2.5'), readCount(''), readCount('-1'), readCount('1e3')]).toEqual([3, 20, 20, -1, -1, -1, -1]);
  });
});
