// settle trial-balance end to end, on a hand-worked two-day ledger whose every figure is written here
// by hand; each check's finding triggered by tampering with the snapshot; the error codes.
//
// Day 1 (2026-11-26): pay.1 100.00 via wechat for M100001 (channel 99.62 + cost 0.38 = merchant 99.40 +
// fee 0.60); pay.2 50.00 (49.81 + 0.19 = 49.70 + 0.30); a pre-auth hold of 20.00 (pending).
// Day 2 (2026-11-27): refund.1 30.00 (merchant 29.82 + fee 0.18 = channel 29.88 + cost 0.12); wechat
// settles 100.00 to the reserve bank.
//
// Trial balance of day 2 (minor units, normal side):
//   account                          opening  debits  credits  closing
//   1002 bank:ICBC-RESERVE                 0   10000        0    10000
//   1122 channel:wechat               14943       0    12988     1955   (+2000 pending debit)
//   2202 merchant:M100001             14910    2982        0    11928
//   6001 fee-income                      90      18        0       72
//   6401 channel-cost                    57       0       12       45
//   totals                                     13000    13000
//   closing debit balances 1955 + 10000 + 45 = 12000 = credit balances 11928 + 72

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../src/ledger/sqlite/database.js';
import { runCli, type CliRun } from './support/cli.js';

const D1 = '2026-11-26';
const D2 = '2026-11-27';
const CHAN = 'channel:wechat:receivable:CNY';
const MERCH = 'merchant:M100001:payable:CNY';
const FEE = 'platform:fee-income:CNY';
const COST = 'platform:channel-cost:CNY';
const BANK = 'bank:ICBC-RESERVE:reserve:CNY';

let dir: string;
let db: string;
let now = Date.parse('2026-11-26T02:00:00Z');

function settle(...args: string[]): Promise<CliRun> {
  return runCli({ db, cwd: dir, nowMs: () => now }, ...args);
}

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const p = (account_id: string, side: 'debit' | 'credit', amount_minor: string) => ({ account_id, side, amount_minor, currency: 'CNY' });

/** A fresh copy of the hand-worked ledger, closed through day 2. */
async function buildLedger(path: string): Promise<void> {
  db = path;
  expect((await settle('--json', 'init', '--business-date', D1)).code).toBe(0);
  const day1 = [
    { id: 'pay.1', event_type: 'payment.succeeded', postings: [p(CHAN, 'debit', '9962'), p(COST, 'debit', '38'), p(MERCH, 'credit', '9940'), p(FEE, 'credit', '60')] },
    { id: 'pay.2', event_type: 'payment.succeeded', postings: [p(CHAN, 'debit', '4981'), p(COST, 'debit', '19'), p(MERCH, 'credit', '4970'), p(FEE, 'credit', '30')] },
    { id: 'preauth.1', event_type: 'preauth.authorized', expires_at: '2026-12-31T00:00:00Z', postings: [p(CHAN, 'debit', '2000'), p(MERCH, 'credit', '2000')] },
  ];
  expect((await settle('--json', 'ledger', 'post', '--file', file('day1.json', day1))).code).toBe(0);
  expect((await settle('--json', 'day', 'cutoff', '--date', D1)).code).toBe(0);
  const day2 = [
    { id: 'refund.1', event_type: 'refund.succeeded', postings: [p(MERCH, 'debit', '2982'), p(FEE, 'debit', '18'), p(CHAN, 'credit', '2988'), p(COST, 'credit', '12')] },
    { id: 'settle.wechat.1', event_type: 'channel.settled', postings: [p(BANK, 'debit', '10000'), p(CHAN, 'credit', '10000')] },
  ];
  expect((await settle('--json', 'ledger', 'post', '--file', file('day2.json', day2))).code).toBe(0);
  now += 86_400_000;
  expect((await settle('--json', 'day', 'cutoff')).code).toBe(0);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'settle-tb-'));
  await buildLedger(join(dir, 'settle.db'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Json = Record<string, unknown>;
const account = (r: CliRun, id: string): Json | undefined => (r.json['accounts'] as Json[]).find((a) => a['account_id'] === id);

describe('Given the hand-worked two-day ledger', () => {
  it('When the trial balance of day 2 runs, Then every figure is the hand-worked one and it exits 0', async () => {
    const r = await settle('--json', 'trial-balance', '--date', D2);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, business_date: D2, findings_total: 0, findings: [] });
    expect(r.json['totals']).toEqual([
      { currency: 'CNY', debits_minor: '13000', credits_minor: '13000', closing_debit_balances_minor: '12000', closing_credit_balances_minor: '12000' },
      { currency: 'COIN', debits_minor: '0', credits_minor: '0', closing_debit_balances_minor: '0', closing_credit_balances_minor: '0' },
    ]);
    expect(account(r, BANK)).toMatchObject({ subject_code: '1002', opening_minor: '0', debits_minor: '10000', credits_minor: '0', closing_minor: '10000' });
    expect(account(r, CHAN)).toMatchObject({ subject_code: '1122', normal_side: 'debit', opening_minor: '14943', debits_minor: '0', credits_minor: '12988', closing_minor: '1955', debits_pending_minor: '2000' });
    expect(account(r, MERCH)).toMatchObject({ subject_code: '2202', normal_side: 'credit', opening_minor: '14910', debits_minor: '2982', credits_minor: '0', closing_minor: '11928', credits_pending_minor: '2000' });
    expect(account(r, FEE)).toMatchObject({ opening_minor: '90', debits_minor: '18', credits_minor: '0', closing_minor: '72' });
    expect(account(r, COST)).toMatchObject({ opening_minor: '57', debits_minor: '0', credits_minor: '12', closing_minor: '45' });
    const subjects = r.json['subjects'] as Json[];
    // 1122 holds three channel accounts (wechat, alipay, unionpay); only wechat moved.
    expect(subjects.find((s) => s['subject_code'] === '1122' && s['currency'] === 'CNY')).toMatchObject({ accounts: 3, opening_minor: '14943', credits_minor: '12988', closing_minor: '1955' });
    expect(r.json['channels']).toContainEqual({ channel: 'wechat', currency: 'CNY', ledger_minor: '1955', reported_minor: null, difference_minor: null });
  });

  it('When the trial balance of day 1 runs, Then its opening is zero and it closes at what day 2 opens with', async () => {
    const r = await settle('--json', 'trial-balance', '--date', D1);
    expect(r.code).toBe(0);
    expect(account(r, CHAN)).toMatchObject({ opening_minor: '0', debits_minor: '14943', credits_minor: '0', closing_minor: '14943' });
    expect(r.json['totals']).toMatchObject([{ currency: 'CNY', debits_minor: '15000', credits_minor: '15000' }, { currency: 'COIN', debits_minor: '0' }]);
  });

  it('When --csv is given, Then a header and one escaped row per subject and account, in minor units', async () => {
    const r = await settle('trial-balance', '--date', D2, '--csv');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\r\n');
    expect(lines[0]).toBe('business_date,level,subject_code,subject_name,account_id,currency,normal_side,opening_minor,debits_minor,credits_minor,closing_minor');
    expect(lines).toContain(`${D2},account,1122,Channel receivable 应收账款-渠道,${CHAN},CNY,debit,14943,0,12988,1955`);
    expect(lines).toContain(`${D2},subject,2202,Merchant payable 应付账款-商户,,CNY,credit,14910,2982,0,11928`);
  });

  it('When the channel reports what we hold, Then exit 0; when it differs beyond the tolerance, Then channel_balance_mismatch and exit 2', async () => {
    const same = file('same.json', { wechat: { CNY: '1955' } });
    expect((await settle('--json', 'trial-balance', '--date', D2, '--channel-balances', same)).code).toBe(0);
    const off = file('off.json', { wechat: { CNY: 1950 } });
    const r = await settle('--json', 'trial-balance', '--date', D2, '--channel-balances', off);
    expect(r.code).toBe(2);
    expect(r.json['findings']).toEqual([{ code: 'channel_balance_mismatch', channel: 'wechat', currency: 'CNY', ledgerMinor: '1955', reportedMinor: '1950', differenceMinor: '5', toleranceMinor: '0' }]);
    expect((await settle('--json', 'trial-balance', '--date', D2, '--channel-balances', off, '--tolerance-minor', '5')).code).toBe(0);
  });

  it('When a channel the ledger does not know reports a balance, Then channel_position_unknown, exit 2', async () => {
    const r = await settle('--json', 'trial-balance', '--date', D2, '--channel-balances', file('unknown.json', { wechat: { CNY: '1955' }, paypal: { USD: '10' } }));
    expect(r.code).toBe(2);
    expect((r.json['findings'] as Json[]).map((f) => f['code'])).toEqual(['channel_position_unknown']);
  });

  it('When a channel with a balance is missing from the file, Then channel_balance_missing, exit 2', async () => {
    const r = await settle('--json', 'trial-balance', '--date', D2, '--channel-balances', file('missing.json', { alipay: { CNY: '0' } }));
    expect(r.code).toBe(2);
    expect(r.json['findings']).toEqual([{ code: 'channel_balance_missing', channel: 'wechat', currency: 'CNY', ledgerMinor: '1955' }]);
  });

  it('When day status runs, Then it shows each close with its snapshot size and its cutoff run', async () => {
    const r = await settle('--json', 'day', 'status');
    expect(r.code).toBe(0);
    const days = r.json['days'] as Json[];
    expect(days[0]).toMatchObject({ business_date: '2026-11-28', status: 'open', accounts_snapshotted: 0, last_cutoff_run: null });
    expect(days[1]).toMatchObject({ business_date: D2, status: 'closed', accounts_snapshotted: 19, last_cutoff_run: { outcome: 'succeeded', exit_code: 0 } });
    expect(days[2]).toMatchObject({ business_date: D1, status: 'closed', accounts_snapshotted: 19 });
  });
});

describe('Given bad input', () => {
  it('When the day is still open, Then day_not_closed, exit 1', async () => {
    const r = await settle('--json', 'trial-balance', '--date', '2026-11-28');
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'day_not_closed' });
  });
  it('When the date is not a date, Then date_invalid, exit 1', async () => {
    const r = await settle('--json', 'trial-balance', '--date', '2026-13-01');
    expect(r.json).toMatchObject({ ok: false, code: 'date_invalid' });
  });
  it('When the channel balances file is not valid, Then channel_balances_invalid, exit 1', async () => {
    for (const content of ['{not json', JSON.stringify({ wechat: { CNY: '1.5' } }), JSON.stringify({ wechat: { cny: '1' } })]) {
      const r = await settle('--json', 'trial-balance', '--date', D2, '--channel-balances', file('bad.json', content));
      expect(r.code).toBe(1);
      expect(r.json).toMatchObject({ ok: false, code: 'channel_balances_invalid' });
    }
    const r = await settle('--json', 'trial-balance', '--date', D2, '--channel-balances', join(dir, 'nowhere.json'));
    expect(r.json).toMatchObject({ code: 'channel_balances_invalid' });
  });
  it('When the tolerance is not a whole number, Then input_invalid', async () => {
    const r = await settle('--json', 'trial-balance', '--date', D2, '--tolerance-minor', '-1');
    expect(r.json).toMatchObject({ ok: false, code: 'input_invalid' });
  });
});

describe('Given a tampered snapshot', () => {
  it('When a day-2 snapshot row gains a debit, Then movement, journal and totals findings, exit 2', async () => {
    const tampered = join(dir, 'tampered.db');
    await buildLedger(tampered);
    const conn = openSqlite(tampered);
    conn.prepare("UPDATE day_balances SET debits = debits + 1 WHERE business_date = ? AND account_no = (SELECT account_no FROM accounts WHERE account_id = ?)").run(D2, BANK);
    conn.close();
    const r = await settle('--json', 'trial-balance', '--date', D2);
    expect(r.code).toBe(2);
    expect(r.json['ok']).toBe(false);
    const codes = (r.json['findings'] as Json[]).map((f) => f['code']);
    expect(codes).toEqual(['debits_credits_differ', 'movement_mismatch', 'snapshot_journal_mismatch']);
    expect((r.json['findings'] as Json[])[2]).toEqual({ code: 'snapshot_journal_mismatch', accountId: BANK, snapshotDebitsMinor: '10001', snapshotCreditsMinor: '0', journalDebitsMinor: '10000', journalCreditsMinor: '0' });
  });
  it('When a day-2 opening differs from the day-1 close, Then opening_mismatch (and the closing no longer balances)', async () => {
    const conn = openSqlite(db);
    conn.prepare("UPDATE day_balances SET debits = debits - 1, opening_credits = opening_credits + 7, closing_credits = closing_credits + 7 WHERE business_date = ? AND account_no = (SELECT account_no FROM accounts WHERE account_id = ?)").run(D2, FEE);
    conn.prepare("UPDATE day_balances SET debits = debits + 1 WHERE business_date = ? AND account_no = (SELECT account_no FROM accounts WHERE account_id = ?)").run(D2, FEE);
    conn.close();
    const r = await settle('--json', 'trial-balance', '--date', D2);
    expect(r.code).toBe(2);
    const codes = (r.json['findings'] as Json[]).map((f) => f['code']);
    expect(codes).toContain('opening_mismatch');
    expect(codes).toContain('closing_balances_differ');
    expect((r.json['findings'] as Json[]).find((f) => f['code'] === 'opening_mismatch')).toEqual({ code: 'opening_mismatch', accountId: FEE, side: 'credit', openingMinor: '97', previousClosingMinor: '90' });
  });
});
