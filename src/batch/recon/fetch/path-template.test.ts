// Path templates: every token in a table, and properties — a resolved path is either refused as
// path_unsafe or is a safe relative path that stays under any root it is joined to.

import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReconError } from '../errors.js';
import { DATE_TOKENS, joinUnderRoot, resolvePathTemplate, templateProblems, templatesCoverDate, unsafeReason } from './path-template.js';

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (e) {
    if (e instanceof ReconError) return e.code;
    throw e;
  }
}

describe('Given each date token', () => {
  it.each([
    ['{yyyy}', '2026'],
    ['{yy}', '26'],
    ['{MM}', '03'],
    ['{dd}', '09'],
    ['{yyyyMMdd}', '20260309'],
    ['{yyyy-MM-dd}', '2026-03-09'],
    ['{yyMMdd}', '260309'],
  ])('When %s is resolved for 2026-03-09, Then it reads %s', (token, value) => {
    expect(resolvePathTemplate(`d/${token}.csv`, '2026-03-09')).toBe(`d/${value}.csv`);
  });

  it('Then the table covers every token the module knows', () => {
    expect([...DATE_TOKENS].sort()).toEqual(['MM', 'dd', 'yy', 'yyMMdd', 'yyyy', 'yyyy-MM-dd', 'yyyyMMdd']);
  });

  it('When real channels’ names are resolved, Then they read as the channels write them', () => {
    expect(resolvePathTemplate('wechat/{yyyy-MM-dd}/tradebill_ALL_{yyyyMMdd}.csv', '2021-01-28')).toBe('wechat/2021-01-28/tradebill_ALL_20210128.csv');
    expect(resolvePathTemplate('alipay/20880211096256330156_{yyyyMMdd}.csv.zip', '2019-09-16')).toBe('alipay/20880211096256330156_20190916.csv.zip');
    expect(resolvePathTemplate('unionpay/INN{yyMMdd}88ZM_802310048993424', '2015-09-05')).toBe('unionpay/INN15090588ZM_802310048993424');
  });

  it('When an offset moves the date across a month and a year end, Then the tokens follow', () => {
    expect(resolvePathTemplate('{yyyyMMdd}', '2026-12-31', 1)).toBe('20270101');
    expect(resolvePathTemplate('{yyyy-MM-dd}', '2024-03-01', -1)).toBe('2024-02-29');
  });
});

describe('Given template syntax', () => {
  it('When a token is unknown or a brace is alone, Then the problems are named', () => {
    expect(templateProblems('{yyyy}/{date}.csv')).toEqual([expect.stringContaining('{date} is not a token')]);
    expect(templateProblems('{yyyy}/x}.csv')).toEqual(['a brace that opens or closes no token']);
    expect(templateProblems('{yyyy}/{MM}/{dd}.csv')).toEqual([]);
  });

  it('When the tokens together do not name year, month and day, Then the template does not cover the date', () => {
    expect(templatesCoverDate(['{yyyy}/{MM}/bill.csv'])).toBe(false);
    expect(templatesCoverDate(['bill.csv'])).toBe(false);
    expect(templatesCoverDate(['{yy}{MM}/{dd}.csv'])).toBe(true);
    expect(templatesCoverDate(['https://h/{yyyy-MM-dd}/', 'bill.csv'])).toBe(true);
  });
});

describe('Given unsafe resolved paths', () => {
  it.each([
    ['../{yyyyMMdd}.csv', 'climbs'],
    ['a/../../{yyyyMMdd}.csv', 'climbs'],
    ['/etc/{yyyyMMdd}', 'absolute'],
    ['a//{yyyyMMdd}', 'empty segment'],
    ['a/./{yyyyMMdd}', '. segment'],
    ['a\\..\\{yyyyMMdd}', 'backslash'],
    ['C:/{yyyyMMdd}', 'drive'],
    ['a/{yyyyMMdd}/', 'empty segment'],
    ['a\u0000/{yyyyMMdd}', 'control character'],
  ])('When %j is resolved, Then path_unsafe (%s)', (template, reason) => {
    expect(codeOf(() => resolvePathTemplate(template, '2026-03-09'))).toBe('path_unsafe');
    expect(unsafeReason(template.replace('{yyyyMMdd}', '20260309'))).toContain(reason);
  });

  it('When a safe path is joined under a root, Then it stays under the root; without a root it stays relative', () => {
    expect(joinUnderRoot('/outgoing/', 'bills/20260309.csv')).toBe('/outgoing/bills/20260309.csv');
    expect(joinUnderRoot('/', 'b.csv')).toBe('/b.csv');
    expect(joinUnderRoot(undefined, 'b.csv')).toBe('b.csv');
    expect(codeOf(() => joinUnderRoot('/outgoing', '../b.csv'))).toBe('path_unsafe');
  });
});

// Segments drawn from characters that make trouble: dots, slashes, backslashes, braces, NUL, letters.
const segmentChar = fc.constantFrom('.', '/', '\\', '{', '}', 'a', 'b', '-', '_', '\u0000', ' ', ':', '%');
const token = fc.constantFrom(...DATE_TOKENS.map((t) => `{${t}}`));
const piece = fc.oneof(fc.string({ unit: segmentChar, maxLength: 6 }), token);
const template = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));
const isoDate = fc
  .date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const root = fc.constantFrom(undefined, '/', '/outgoing', '/srv/bills/daily/');

describe('Property: no unsafe path is ever produced', () => {
  it('Given any template, date and root, When resolved and joined, Then path_unsafe or a path under the root with no . or .. segment', () => {
    fc.assert(
      fc.property(template, isoDate, root, (t, date, r) => {
        if (templateProblems(t).length > 0) return; // refused when the config is read
        let joined: string;
        try {
          joined = joinUnderRoot(r, resolvePathTemplate(t, date));
        } catch (e) {
          expect(e).toBeInstanceOf(ReconError);
          expect((e as ReconError).code).toBe('path_unsafe');
          return;
        }
        const segments = joined.split('/');
        expect(segments.includes('..')).toBe(false);
        expect(joined.includes('\\')).toBe(false);
        expect(joined.includes('\u0000')).toBe(false);
        if (r === undefined) {
          expect(joined.startsWith('/')).toBe(false);
          expect(posix.normalize(joined)).toBe(joined);
        } else {
          const base = posix.normalize(r).replace(/\/+$/, '') || '/';
          expect(joined.startsWith(base === '/' ? '/' : `${base}/`)).toBe(true);
          expect(posix.normalize(joined)).toBe(joined);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('Given a template with tokens only between safe names, When resolved for any date, Then every token became digits of that date', () => {
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 4 }), isoDate, (tokens, date) => {
        const path = resolvePathTemplate(`bills/${tokens.join('_')}.csv`, date);
        expect(path).toMatch(/^bills\/[0-9_-]+\.csv$/);
        const [y, m, d] = date.split('-') as [string, string, string];
        for (const t of tokens) {
          const expected = { '{yyyy}': y, '{yy}': y.slice(2), '{MM}': m, '{dd}': d, '{yyyyMMdd}': y + m + d, '{yyyy-MM-dd}': date, '{yyMMdd}': y.slice(2) + m + d }[t];
          expect(path).toContain(expected);
        }
      }),
    );
  });
});
