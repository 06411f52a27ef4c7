import { describe, expect, it } from 'vitest';
import { availableOnNormalSide, balanceOnNormalSide, normalSideOf } from './chart.js';
import { parseChart } from './chart-config.js';
import { LedgerError } from './errors.js';
import { TEST_CHART } from './test-support.js';

function codeOf(raw: unknown): string {
  try {
    parseChart(raw);
    return 'ok';
  } catch (e) {
    if (e instanceof LedgerError) return e.code;
    throw e;
  }
}

describe('Given a chart of accounts in config', () => {
  it('When it is valid, Then subjects get their normal side and accounts their flags', () => {
    const chart = parseChart(TEST_CHART);
    expect(chart.subjects.find((s) => s.code === '2241')?.normalSide).toBe('credit');
    expect(chart.accounts.find((a) => a.accountId === 'user')?.flags).toBe(1);
    expect(chart.accounts.find((a) => a.accountId === 'bank')?.flags).toBe(2);
  });
  it('When an account has no id, Then one is derived from owner, subject and currency', () => {
    const chart = parseChart({ subjects: TEST_CHART.subjects, accounts: [{ subject: '2202', owner_kind: 'merchant', owner_id: 'M9', currency: 'CNY' }] });
    expect(chart.accounts[0]?.accountId).toBe('merchant:M9:2202:CNY');
  });
  it('When a subject has an unknown key, Then config_invalid', () =>
    expect(codeOf({ subjects: [{ code: '1', name: 'x', type: 'asset', colour: 'red' }] })).toBe('config_invalid'));
  it('When the top level has an unknown key, Then config_invalid', () => expect(codeOf({ ...TEST_CHART, extra: 1 })).toBe('config_invalid'));
  it('When an account names a missing subject, Then config_unknown_subject', () =>
    expect(codeOf({ subjects: TEST_CHART.subjects, accounts: [{ subject: '9999', owner_kind: 'user', owner_id: 'U', currency: 'CNY' }] })).toBe(
      'config_unknown_subject',
    ));
  it('When a currency is unknown, Then config_invalid', () =>
    expect(codeOf({ subjects: TEST_CHART.subjects, accounts: [{ subject: '2202', owner_kind: 'user', owner_id: 'U', currency: 'XXX' }] })).toBe(
      'config_invalid',
    ));
  it('When an account sets both overdraft flags, Then config_invalid', () =>
    expect(
      codeOf({
        subjects: TEST_CHART.subjects,
        accounts: [
          { subject: '2202', owner_kind: 'user', owner_id: 'U', currency: 'CNY', flags: ['debits_must_not_exceed_credits', 'credits_must_not_exceed_debits'] },
        ],
      }),
    ).toBe('config_invalid'));
  it('When an account is listed twice, Then config_invalid', () => {
    const a = { subject: '2202', owner_kind: 'user' as const, owner_id: 'U', currency: 'CNY' };
    expect(codeOf({ subjects: TEST_CHART.subjects, accounts: [a, a] })).toBe('config_invalid');
  });
  it('When the type is not one of the five, Then config_invalid', () =>
    expect(codeOf({ subjects: [{ code: '1', name: 'x', type: 'income' }] })).toBe('config_invalid'));
});

describe('Given counters', () => {
  const c = { debitsPosted: 100n, creditsPosted: 30n, debitsPending: 5n, creditsPending: 7n };
  it('Then the balance is taken on the normal side and pending is kept apart', () => {
    expect(normalSideOf('asset')).toBe('debit');
    expect(normalSideOf('revenue')).toBe('credit');
    expect(balanceOnNormalSide(c, 'debit')).toBe(70n);
    expect(balanceOnNormalSide(c, 'credit')).toBe(-70n);
    expect(availableOnNormalSide(c, 'debit')).toBe(63n);
    expect(availableOnNormalSide(c, 'credit')).toBe(-75n);
  });
});
