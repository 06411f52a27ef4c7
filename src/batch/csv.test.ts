import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvCell, csvLine } from './csv.js';

describe('Given cells a spreadsheet would read as formulas', () => {
  it.each([
    ['=SUM(A1)', "'=SUM(A1)"],
    ['+1', "'+1"],
    ['-0.00600', "'-0.00600"],
    ['@cmd', "'@cmd"],
    ['\tx', "'\tx"],
    ['\rx', `"'\rx"`],
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
  ])('When %j is written, Then it comes out %j', (value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });
});

describe('Given ordinary cells', () => {
  it('Then plain text and numbers stay, commas, quotes and line breaks are quoted, null is empty', () => {
    expect(csvCell('pay_1')).toBe('pay_1');
    expect(csvCell(12n)).toBe('12');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(null)).toBe('');
    expect(csvLine(['a', null, 3])).toBe('a,,3\r\n');
  });

  it('Then no written cell ever starts with a formula character (any text)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const cell = csvCell(s);
        const inner = cell.startsWith('"') ? cell.slice(1) : cell;
        expect(/^[=+\-@\t\r]/.test(inner)).toBe(false);
      }),
    );
  });
});
