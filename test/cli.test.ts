// End-to-end tests of every CLI command: in-process through main() (fast), and a few through the real
// binary to check it starts and exits with the documented codes.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { runCli, type CliRun } from './support/cli.js';

let dir: string;
let db: string;
let now: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-cli-'));
  db = join(dir, 'settle.db');
  now = Date.parse('2026-11-26T02:00:00Z');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function settle(...args: string[]): Promise<CliRun> {
  return runCli({ db, cwd: dir, nowMs: () => now }, ...args);
}

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const payment = (id: string, amountMinor: string) => ({
  id,
  event_type: 'payment.succeeded',
  memo: 'test',
  postings: [
    { account_id: 'channel:wechat:receivable:CNY', side: 'debit', amount_minor: amountMinor, currency: 'CNY' },
    { account_id: 'merchant:M100001:payable:CNY', side: 'credit', amount_minor: amountMinor, currency: 'CNY' },
  ],
});

async function init(): Promise<void> {
  const r = await settle('--json', 'init', '--business-date', '2026-11-26');
  expect(r.code).toBe(0);
}

describe('settle init', () => {
  it('Given no database, When init runs, Then it creates one with the sample chart and opens the day', async () => {
    const r = await settle('--json', 'init', '--business-date', '2026-11-26');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, open_day: '2026-11-26', accounts_added: 19 });
    expect((await settle('--json', 'init')).json).toMatchObject({ ok: true, subjects_added: 0, accounts_added: 0, open_day: '2026-11-26' });
  });
  it('Given a config with an unknown key, When init runs, Then config_invalid, exit 1, and no database file', async () => {
    const cfg = file('bad.json', { timezone: 'Asia/Shanghai', ledger: { subjects: [{ code: '1', name: 'x', type: 'asset' }] }, colour: 'red' });
    const r = await settle('--json', 'init', '--config', cfg);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'config_invalid' });
    expect(String(r.json['message'])).toContain('colour');
    expect(existsSync(db)).toBe(false);
  });
  it('Given a config whose account names a missing subject, Then config_unknown_subject', async () => {
    const cfg = file('bad.json', {
      ledger: { subjects: [{ code: '1', name: 'x', type: 'asset' }], accounts: [{ subject: '2', owner_kind: 'user', owner_id: 'U', currency: 'CNY' }] },
    });
    expect((await settle('--json', 'init', '--config', cfg)).json).toMatchObject({ code: 'config_unknown_subject' });
  });
  it('Given a config that is not JSON or not there, Then config_invalid', async () => {
    expect((await settle('--json', 'init', '--config', file('x.json', '{nope'))).json).toMatchObject({ code: 'config_invalid' });
    expect((await settle('--json', 'init', '--config', join(dir, 'missing.json'))).json).toMatchObject({ code: 'config_invalid' });
  });
  it('Given a bad business date, Then input_invalid', async () => {
    expect((await settle('--json', 'init', '--business-date', '2026-02-30')).json).toMatchObject({ code: 'input_invalid' });
  });
});

describe('settle ledger', () => {
  beforeEach(init);

  it('accounts --json prints the documented contract', async () => {
    const r = await settle('--json', 'ledger', 'accounts', '--owner-kind', 'merchant');
    expect(r.code).toBe(0);
    const accounts = r.json['accounts'] as Record<string, unknown>[];
    expect(accounts.length).toBe(3);
    for (const a of accounts) {
      expect(Object.keys(a)).toEqual(
        expect.arrayContaining(['account_id', 'subject_code', 'currency', 'owner_kind', 'owner_id', 'status', 'balance_minor']),
      );
      expect(typeof a['balance_minor']).toBe('string');
    }
  });

  it('post --file prints {ok, entry_id}; a replay is ok and marked; balances follow', async () => {
    const f = file('e.json', payment('pay-1', '1050'));
    expect((await settle('--json', 'ledger', 'post', '--file', f)).json).toMatchObject({ ok: true, entry_id: 'pay-1', replayed: false });
    expect((await settle('--json', 'ledger', 'post', '--file', f)).json).toMatchObject({ ok: true, entry_id: 'pay-1', replayed: true });
    const bal = await settle('--json', 'ledger', 'balance', 'merchant:M100001:payable:CNY');
    expect((bal.json['account'] as Record<string, unknown>)['balance_minor']).toBe('1050');
    const human = await settle('ledger', 'balance', 'merchant:M100001:payable:CNY');
    expect(human.stdout).toContain('10.50 CNY');
  });

  it('post refusals print {ok:false, code, message}, exit 1, and write nothing', async () => {
    const cases: [unknown, string][] = [
      [{ ...payment('p', '1'), postings: [payment('p', '1').postings[0]] }, 'postings_too_few'],
      [{ ...payment('p', '1'), postings: [payment('p', '1').postings[0], { ...payment('p', '2').postings[1] }] }, 'entry_unbalanced'],
      [payment('p', '1e3'), 'amount_invalid'],
      [payment('p', '-0'), 'amount_not_positive'],
      [payment('p', '1152921504606846976'), 'amount_too_large'],
      [{ ...payment('p', '1'), extra: true }, 'input_invalid'],
    ];
    for (const [entry, code] of cases) {
      const r = await settle('--json', 'ledger', 'post', '--file', file('bad.json', entry));
      expect(r.code).toBe(1);
      expect(r.json).toMatchObject({ ok: false, code });
      expect(String(r.json['message']).length).toBeGreaterThan(20);
    }
    const big = await settle('--json', 'ledger', 'post', '--file', file('big.json', '{"id":"p","event_type":"x","postings":[{"account_id":"a","side":"debit","amount_minor":9007199254740993,"currency":"CNY"}]}'));
    expect(big.json).toMatchObject({ code: 'amount_unsafe_number' });
    expect((await settle('--json', 'ledger', 'journal')).json['entries']).toEqual([]);
  });

  it('post of malformed JSON, a missing file, an oversize file or a bad rounding mode is refused', async () => {
    expect((await settle('--json', 'ledger', 'post', '--file', file('x.json', '{"id":'))).json).toMatchObject({ code: 'input_invalid' });
    expect((await settle('--json', 'ledger', 'post', '--file', join(dir, 'nope.json'))).json).toMatchObject({ code: 'file_not_found' });
    expect((await settle('--json', 'ledger', 'post', '--file', file('huge.json', ' '.repeat(1_100_000)))).json).toMatchObject({ code: 'input_invalid' });
    const f = file('e.json', payment('pay-1', '1050'));
    expect((await settle('--json', 'ledger', 'post', '--file', f, '--rounding', 'sideways')).json).toMatchObject({ code: 'input_invalid' });
  });

  it('post of an array commits each entry on its own and reports each', async () => {
    const f = file('batch.json', [payment('a', '1'), payment('b', '-1'), payment('c', '3')]);
    const r = await settle('--json', 'ledger', 'post', '--file', f);
    expect(r.code).toBe(1);
    expect((r.json['results'] as { ok: boolean }[]).map((x) => x.ok)).toEqual([true, false, true]);
  });

  it('hold post/void/expire and reverse work through the CLI', async () => {
    const hold = (id: string) => ({ ...payment(id, '20000'), expires_at: new Date(now + 60_000).toISOString() });
    await settle('ledger', 'post', '--file', file('h1.json', hold('h1')));
    await settle('ledger', 'post', '--file', file('h2.json', hold('h2')));
    await settle('ledger', 'post', '--file', file('h3.json', hold('h3')));
    expect((await settle('--json', 'ledger', 'hold', 'post', 'h1', '--id', 'h1-post', '--amount-minor', '15000')).json).toMatchObject({ ok: true });
    expect((await settle('--json', 'ledger', 'hold', 'void', 'h2', '--id', 'h2-void')).json).toMatchObject({ ok: true });
    expect((await settle('--json', 'ledger', 'hold', 'post', 'h2', '--id', 'again')).json).toMatchObject({ code: 'hold_already_voided' });
    expect((await settle('--json', 'ledger', 'hold', 'post', 'h1', '--id', 'x', '--amount-minor', '0')).json).toMatchObject({ code: 'amount_not_positive' });
    expect((await settle('--json', 'ledger', 'hold', 'post', 'h1', '--id', 'bad id')).json).toMatchObject({ code: 'entry_id_invalid' });
    now += 120_000;
    expect((await settle('--json', 'ledger', 'hold', 'expire')).json).toMatchObject({ ok: true, released: 1 });
    expect((await settle('--json', 'ledger', 'reverse', 'h1-post', '--id', 'rev-1')).json).toMatchObject({ ok: true });
    expect((await settle('--json', 'ledger', 'reverse', 'h1-post', '--id', 'rev-2')).json).toMatchObject({ code: 'already_reversed' });
    const journal = await settle('--json', 'ledger', 'journal', '--oldest-first');
    expect((journal.json['entries'] as { entry_id: string }[]).map((e) => e.entry_id)).toEqual(['h1', 'h2', 'h3', 'h1-post', 'h2-void', 'expire.3', 'rev-1']);
    const text = await settle('ledger', 'journal');
    expect(text.stdout).toContain('reverses h1-post');
    const merchant = await settle('--json', 'ledger', 'balance', 'merchant:M100001:payable:CNY');
    expect((merchant.json['account'] as Record<string, string>)['balance_minor']).toBe('0');
  });

  it('balance without an id totals per subject; with an unknown id it is account_not_found', async () => {
    await settle('ledger', 'post', '--file', file('e.json', payment('pay-1', '1050')));
    const r = await settle('--json', 'ledger', 'balance');
    expect((r.json['subjects'] as Record<string, unknown>[]).find((s) => s['subject_code'] === '2202')).toMatchObject({ balance_minor: '1050' });
    expect((await settle('--json', 'ledger', 'balance', 'ghost')).json).toMatchObject({ code: 'account_not_found' });
  });

  it('set-status freezes an account and posting to it is account_frozen', async () => {
    expect((await settle('--json', 'ledger', 'set-status', 'merchant:M100001:payable:CNY', 'frozen')).json).toMatchObject({ ok: true });
    expect((await settle('--json', 'ledger', 'post', '--file', file('e.json', payment('p', '1')))).json).toMatchObject({ code: 'account_frozen' });
    expect((await settle('--json', 'ledger', 'set-status', 'merchant:M100001:payable:CNY', 'asleep')).json).toMatchObject({ code: 'input_invalid' });
    expect((await settle('--json', 'ledger', 'set-status', 'ghost', 'frozen')).json).toMatchObject({ code: 'account_not_found' });
  });

  it('verify exits 0 on a sound ledger and 2 with verify_failed when an entry was altered', async () => {
    await settle('ledger', 'post', '--file', file('e.json', payment('pay-1', '1050')));
    expect((await settle('--json', 'ledger', 'verify')).json).toMatchObject({ ok: true, entries_checked: 1 });
    const store = SqliteLedgerStore.open(db);
    store.db.exec("DROP TRIGGER entries_no_update; UPDATE entries SET memo = 'edited'");
    await store.close();
    const r = await settle('--json', 'ledger', 'verify');
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ ok: false, code: 'verify_failed', problem: { id: 'pay-1' } });
  });
});

describe('settle day', () => {
  beforeEach(init);
  it('status shows the open day; cutoff closes it; a second cutoff of the same day is refused', async () => {
    expect((await settle('--json', 'day', 'status')).json).toMatchObject({ ok: true, open_day: '2026-11-26' });
    await settle('ledger', 'post', '--file', file('e.json', payment('pay-1', '1050')));
    const cut = await settle('--json', 'day', 'cutoff');
    expect(cut.code).toBe(0);
    expect(cut.json).toMatchObject({ closed_date: '2026-11-26', opened_date: '2026-11-27', balanced: true });
    expect(cut.json['totals']).toContainEqual({ currency: 'CNY', debits_minor: '1050', credits_minor: '1050' });
    const again = await settle('--json', 'day', 'cutoff', '--date', '2026-11-26');
    expect(again.code).toBe(1);
    expect(again.json).toMatchObject({ code: 'cutoff_out_of_order' });
    expect((await settle('--json', 'day', 'cutoff', '--date', 'yesterday')).json).toMatchObject({ code: 'input_invalid' });
    const late = { ...payment('late', '1'), business_date: '2026-11-26' };
    expect((await settle('--json', 'ledger', 'post', '--file', file('l.json', late))).json).toMatchObject({ code: 'period_closed' });
    const status = await settle('day', 'status');
    expect(status.stdout).toContain('Open business day: 2026-11-27');
  });
});

describe('settle, the process', () => {
  it('Given no database, When a ledger command runs, Then db_not_found and exit 1', async () => {
    const r = await settle('--json', 'ledger', 'accounts');
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'db_not_found' });
  });
  it('Given a file that is not a database, Then db_unreadable', async () => {
    writeFileSync(db, 'this is not sqlite, just text that is long enough to look like a header........');
    expect((await settle('--json', 'ledger', 'accounts')).json).toMatchObject({ code: 'db_unreadable' });
  });
  it('Given an unknown command, Then usage and exit 1', async () => {
    const r = await settle('--json', 'frobnicate');
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'usage' });
  });
  it('Given a bug (the clock throws), Then exit 70 with internal_error', async () => {
    await init();
    let stdout = '';
    const code = await main(['node', 'settle', '--db', db, '--json', 'ledger', 'post', '--file', file('e.json', payment('p', '1'))], {
      stdout: (t) => void (stdout += t),
      stderr: () => undefined,
      env: {},
      cwd: dir,
      clock: () => {
        throw new Error('clock broke');
      },
    });
    expect(code).toBe(70);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, code: 'internal_error' });
  });
  it('Given the built binary, When run with SETTLE_DB, Then --help, init and --json work with real exit codes', () => {
    const bin = join(import.meta.dirname, '..', 'bin', 'settle.js');
    if (!existsSync(join(import.meta.dirname, '..', 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run npm run build');
    const env = { ...process.env, SETTLE_DB: db };
    const help = spawnSync(process.execPath, [bin, '--help'], { env, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('ledger');
    const initRun = spawnSync(process.execPath, [bin, '--json', 'init', '--business-date', '2026-11-26'], { env, encoding: 'utf8' });
    expect(initRun.status).toBe(0);
    expect(JSON.parse(initRun.stdout)).toMatchObject({ ok: true });
    const bad = spawnSync(process.execPath, [bin, '--json', 'ledger', 'reverse', 'nope', '--id', 'r'], { env, encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, code: 'entry_not_found' });
  });
});
