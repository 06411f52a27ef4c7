// An independent referee for our arithmetic: `settle ledger export` writes the journal for ledger-cli /
// hledger and beancount; Debian's `hledger` and `ledger` read it back, and their balance reports must
// equal settle's trial balance account by account (closing balances over the whole journal; the day's
// movements for an export of that day alone). beancount's `bean-check` must accept its export.
// The tools come from `.ci/run` (apt-get install ledger hledger). Under CI=true a missing tool fails the
// test; elsewhere it is skipped with a message.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportAccountNames, nameComponent } from '../src/batch/export/plain-text.js';
import { accountInfoRows } from '../src/ledger/sqlite/trial-balance-reads.js';
import { findCurrency } from '../src/ledger/index.js';
import { openSqlite } from '../src/ledger/sqlite/database.js';
import { runCli, type CliRun } from './support/cli.js';

const D1 = '2026-11-26';
const D2 = '2026-11-27';
const CI = process.env['CI'] === 'true' || process.env['CI'] === '1';

function has(tool: string): boolean {
  const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}
const TOOLS = { hledger: has('hledger'), ledger: has('ledger'), beanCheck: spawnSync('bean-check', ['--help']).status === 0 };
if (CI) {
  if (!TOOLS.hledger || !TOOLS.ledger) throw new Error('CI=true but ledger/hledger are missing: .ci/run installs them with apt-get.');
} else {
  for (const [tool, present] of Object.entries(TOOLS)) if (!present) console.warn(`ledger-export-referee: ${tool} is not installed; its check is skipped (apt-get install ledger hledger beancount).`);
}

let dir: string;
let db: string;
let now = Date.parse('2026-11-26T02:00:00Z');
const settle = (...args: string[]): Promise<CliRun> => runCli({ db, cwd: dir, nowMs: () => now }, ...args);
const p = (account_id: string, side: 'debit' | 'credit', amount_minor: string, currency = 'CNY') => ({ account_id, side, amount_minor, currency });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'settle-export-'));
  db = join(dir, 'settle.db');
  expect((await settle('--json', 'init', '--business-date', D1)).code).toBe(0);
  const post = async (name: string, entries: unknown[]): Promise<void> => {
    writeFileSync(join(dir, name), JSON.stringify(entries));
    expect((await settle('--json', 'ledger', 'post', '--file', join(dir, name))).code).toBe(0);
  };
  await post('d1.json', [
    { id: 'pay.1', event_type: 'payment.succeeded', postings: [p('channel:wechat:receivable:CNY', 'debit', '9962'), p('platform:channel-cost:CNY', 'debit', '38'), p('merchant:M100001:payable:CNY', 'credit', '9940'), p('platform:fee-income:CNY', 'credit', '60')] },
    { id: 'pay.2', event_type: 'payment.succeeded', postings: [p('channel:alipay:receivable:CNY', 'debit', '4981'), p('platform:channel-cost:CNY', 'debit', '19'), p('merchant:M100002:payable:CNY', 'credit', '4970'), p('platform:fee-income:CNY', 'credit', '30')] },
    { id: 'coin.1', event_type: 'coin.issued', postings: [p('merchant:M100001:payable:COIN', 'debit', '7', 'COIN'), p('platform:coin-issued:COIN', 'credit', '7', 'COIN')] },
    { id: 'hold.1', event_type: 'preauth.authorized', expires_at: '2026-12-31T00:00:00Z', postings: [p('channel:wechat:receivable:CNY', 'debit', '2000'), p('merchant:M100001:payable:CNY', 'credit', '2000')] },
  ]);
  expect((await settle('--json', 'day', 'cutoff')).code).toBe(0);
  await post('d2.json', [
    { id: 'refund.1', event_type: 'refund.succeeded', postings: [p('merchant:M100001:payable:CNY', 'debit', '2982'), p('platform:fee-income:CNY', 'debit', '18'), p('channel:wechat:receivable:CNY', 'credit', '2988'), p('platform:channel-cost:CNY', 'credit', '12')] },
    { id: 'settle.wechat.1', event_type: 'channel.settled', postings: [p('bank:ICBC-RESERVE:reserve:CNY', 'debit', '5000'), p('channel:wechat:receivable:CNY', 'credit', '5000')] },
  ]);
  expect((await settle('--json', 'ledger', 'hold', 'post', 'hold.1', '--id', 'capture.1', '--amount-minor', '1500')).code).toBe(0);
  now += 86_400_000;
  expect((await settle('--json', 'day', 'cutoff')).code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** "-0.6" with exponent 2 → -60n. */
function toMinor(text: string, exponent: number): bigint {
  const negative = text.startsWith('-');
  const [whole = '0', fraction = ''] = text.replace(/^-/, '').split('.');
  const minor = BigInt(whole + fraction.padEnd(exponent, '0'));
  return negative ? -minor : minor;
}

/** What settle's trial balance says, per (export name, currency): closing (or the day's movement), debit positive. */
async function expected(date: string, what: 'closing' | 'movement'): Promise<Map<string, bigint>> {
  const tb = await settle('--json', 'trial-balance', '--date', date);
  expect(tb.code).toBe(0);
  const conn = openSqlite(db);
  const names = exportAccountNames(accountInfoRows(conn));
  conn.close();
  const out = new Map<string, bigint>();
  for (const a of tb.json['accounts'] as Record<string, string>[]) {
    const side = a['normal_side'] === 'debit' ? 1n : -1n;
    const v = what === 'closing' ? side * BigInt(a['closing_minor'] ?? '0') : BigInt(a['debits_minor'] ?? '0') - BigInt(a['credits_minor'] ?? '0');
    if (v === 0n) continue;
    const key = `${names.get(a['account_id'] ?? '') ?? '?'} ${a['currency'] ?? '?'}`;
    out.set(key, (out.get(key) ?? 0n) + v);
  }
  return out;
}

function hledgerBalances(file: string): Map<string, bigint> {
  const r = spawnSync('hledger', ['-f', file, 'bal', '--flat', '--no-total', '-O', 'csv'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const out = new Map<string, bigint>();
  for (const row of r.stdout.trim().split('\n').slice(1)) {
    const m = /^"([^"]+)","([^"]*)"$/.exec(row);
    if (!m) throw new Error(`unexpected hledger row ${row}`);
    for (const amount of (m[2] ?? '').split(', ')) {
      const [qty = '', commodity = ''] = amount.split(' ');
      const v = toMinor(qty, findCurrency(commodity)?.exponent ?? 0);
      if (v !== 0n) out.set(`${m[1] ?? ''} ${commodity}`, v);
    }
  }
  return out;
}

function ledgerBalances(file: string, commodities: readonly string[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const commodity of commodities) {
    const r = spawnSync('ledger', ['-f', file, 'bal', '--flat', '--no-total', '-l', `commodity == "${commodity}"`, '--format', '%(account)\t%(quantity(scrub(display_total)))\n'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const row of r.stdout.split('\n').filter((l) => l !== '')) {
      const [account = '', qty = ''] = row.split('\t');
      const v = toMinor(qty, findCurrency(commodity)?.exponent ?? 0);
      if (v !== 0n) out.set(`${account} ${commodity}`, v);
    }
  }
  return out;
}

async function exportTo(format: string, name: string, ...range: string[]): Promise<string> {
  const out = join(dir, name);
  const r = await settle('--json', 'ledger', 'export', '--format', format, '--out', out, ...range);
  expect(r.code).toBe(0);
  return out;
}

describe('Given a two-day ledger with a hold, a partial capture and a virtual coin', () => {
  it.skipIf(!TOOLS.hledger && !CI)("When hledger reads the whole export, Then its balances equal the trial balance's closing, account by account", async () => {
    const file = await exportTo('ledger', 'all.ledger');
    const want = await expected(D2, 'closing');
    expect(want.size).toBeGreaterThan(5);
    expect(hledgerBalances(file)).toEqual(want);
  });

  it.skipIf(!TOOLS.ledger && !CI)("When ledger-cli reads the whole export, Then its balances equal the trial balance's closing, account by account", async () => {
    const file = await exportTo('ledger', 'all2.ledger');
    expect(ledgerBalances(file, ['CNY', 'COIN'])).toEqual(await expected(D2, 'closing'));
  });

  it.skipIf(!TOOLS.hledger && !CI)("When only day 2 is exported, Then hledger's balances equal day 2's movements", async () => {
    const file = await exportTo('ledger', 'd2.ledger', '--from', D2, '--to', D2);
    expect(readFileSync(file, 'utf8')).not.toContain('pay.1');
    expect(hledgerBalances(file)).toEqual(await expected(D2, 'movement'));
  });

  it.skipIf(!TOOLS.beanCheck && !CI)('When bean-check reads the beancount export, Then it accepts it', async () => {
    const file = await exportTo('beancount', 'all.beancount');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`${D1} open Assets:1122-ChannelReceivable:Channel:Wechat`);
    expect(text).toMatch(new RegExp(`${D2} \\* "[a-z_.]+" "capture\\.1"`));
    const r = spawnSync('bean-check', [file], { encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
  });
});

describe('Given the export naming rules', () => {
  it('When an owner id has characters neither tool accepts, Then the component is cleaned and capitalised', () => {
    expect(nameComponent('wechat')).toBe('Wechat');
    expect(nameComponent('M 1/2')).toBe('M-1-2');
    expect(nameComponent('_x')).toBe('X');
    expect(nameComponent('中文')).toBe('X');
    expect(nameComponent('9lives')).toBe('9lives');
  });
  it('When the format or a date is wrong, Then input_invalid or date_invalid, exit 1', async () => {
    expect((await settle('--json', 'ledger', 'export', '--format', 'gnucash')).json).toMatchObject({ ok: false, code: 'input_invalid' });
    expect((await settle('--json', 'ledger', 'export', '--format', 'ledger', '--from', '2026-02-30')).json).toMatchObject({ ok: false, code: 'date_invalid' });
    expect((await settle('--json', 'ledger', 'export', '--format', 'ledger', '--from', D2, '--to', D1)).json).toMatchObject({ ok: false, code: 'input_invalid' });
  });
  it('When no --out is given, Then the text goes to standard output', async () => {
    const r = await settle('ledger', 'export', '--format', 'ledger', '--to', D1);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('2026-11-26 * pay.1  ; payment.succeeded\n  Assets:1122-ChannelReceivable:Channel:Wechat  99.62 CNY\n');
    expect(r.stdout).not.toContain('hold.1');
  });
});
