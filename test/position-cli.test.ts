// settle position plan end to end: two weeks of closed business days worked out by hand, the weekday
// forecast, the buffer from a percentile, the top-up rounded up to the unit, the file, and exit 2 on an
// alert.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/cli/config.js';
import { Ledger } from '../src/ledger/index.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { runCli } from './support/cli.js';

const RESERVE = 'bank:ICBC-RESERVE:reserve:CNY';
const UNIONPAY = 'channel:unionpay:receivable:CNY';
const CAPITAL = 'platform:capital:CNY';

function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/**
 * 2026-11-15 (Sunday, before the two-week window): the reserve gets 10,000.00 and the UnionPay position
 * 5,000.00. Mondays 11-16 and 11-23 pay out 3,000.00 and 2,000.01 from UnionPay; Tuesdays 11-17 and
 * 11-24 bring 1,000.00 in each. Every day up to 11-29 (Sunday) is cut off.
 * UnionPay at the close of 11-29: 5,000.00 − 3,000.00 − 2,000.01 + 1,000.00 + 1,000.00 = 1,999.99.
 */
async function twoWeeks(dbPath: string): Promise<void> {
  let nowMs = Date.parse('2026-11-15T01:00:00Z');
  const store = SqliteLedgerStore.open(dbPath, { create: true });
  const ledger = new Ledger(store, () => nowMs);
  await ledger.initialise(loadConfig().chart, '2026-11-15');
  const move = async (id: string, account: string, side: 'debit' | 'credit', amountMinor: bigint): Promise<void> => {
    const r = await ledger.post({
      type: 'entry',
      id,
      eventType: 'test.move',
      postings: [
        { accountId: account, side, amountMinor, currency: 'CNY' },
        { accountId: CAPITAL, side: side === 'debit' ? 'credit' : 'debit', amountMinor, currency: 'CNY' },
      ],
    });
    if (!r.ok) throw new Error(`${id}: ${r.code} ${r.message}`);
  };
  await move('fund.reserve', RESERVE, 'debit', 1_000_000n);
  await move('fund.unionpay', UNIONPAY, 'debit', 500_000n);
  const flows: Record<string, [string, 'debit' | 'credit', bigint]> = {
    '2026-11-16': [UNIONPAY, 'credit', 300_000n],
    '2026-11-17': [UNIONPAY, 'debit', 100_000n],
    '2026-11-23': [UNIONPAY, 'credit', 200_001n],
    '2026-11-24': [UNIONPAY, 'debit', 100_000n],
  };
  for (let date = '2026-11-15'; date <= '2026-11-29'; date = addDays(date, 1)) {
    const f = flows[date];
    if (f) await move(`flow.${date}`, ...f);
    const c = await ledger.cutoff(date);
    if ('ok' in c && c.ok === false) throw new Error(`cutoff ${date}: ${c.code}`);
    nowMs += 86_400_000;
  }
  await store.close();
}

function writeConfig(dir: string, name: string, positions: unknown): string {
  const config = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'samples', 'settle.config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, name), JSON.stringify({ ...config, positions }));
  return name;
}

const POSITIONS = {
  transfer_unit_minor: '10000',
  history_weeks: 2,
  horizon_days: 3,
  accounts: [
    { account_id: UNIONPAY, buffer: { outflow_percentile: 50, min_minor: '20000' }, alert_below_minor: '100000', funded_by: RESERVE },
    { account_id: RESERVE, buffer: { fixed_minor: '500000' } },
  ],
};

describe('settle position plan', () => {
  let dir: string;
  let place: { db: string; cwd: string; nowMs: () => number };
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'settle-position-'));
    place = { db: join(dir, 'settle.db'), cwd: dir, nowMs: () => Date.parse('2026-11-30T01:00:00Z') };
    await twoWeeks(place.db);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('Given two weeks of history, When the next three days are planned, Then the Monday payout drives UnionPay below its buffer and 800.00 is moved from the reserve by Monday', async () => {
    const config = writeConfig(dir, 'c.json', POSITIONS);
    const r = await runCli(place, '--json', 'position', 'plan', '--date', '2026-11-29', '--config', config, '--out', 'plan.csv');
    expect(r.code).toBe(0);
    const [unionpay, reserve] = r.json['accounts'] as Record<string, unknown>[];
    // Forecast: Monday out ⌈(3,000.00 + 2,000.01) / 2⌉ = 2,500.01; Tuesday in 1,000.00; Wednesday nothing.
    // Buffer: the 50th percentile (nearest rank 7 of 14) of the window's daily outflows, twelve of them 0 → 0; floor 200.00.
    expect(unionpay).toMatchObject({
      balance_minor: '199999',
      buffer_minor: '20000',
      expected_inflow_minor: '100000',
      expected_outflow_minor: '250001',
      projected_minor: ['199999', '-50002', '49998', '49998'],
      below_buffer_on: '2026-11-30',
      lowest_minor: '-50002',
      alert: false,
      // Need 200.00 − (−500.02) = 700.02, rounded up to 100.00: 800.00.
      planned_minor: ['199999', '29998', '129998', '129998'],
    });
    expect(reserve).toMatchObject({ balance_minor: '1000000', planned_minor: ['1000000', '920000', '920000', '920000'] });
    expect(r.json['transfers']).toEqual([{ from: RESERVE, to: UNIONPAY, currency: 'CNY', amount_minor: '80000', by_date: '2026-11-30' }]);
    expect(r.json['shortfalls']).toEqual([]);
    expect(readFileSync(join(dir, 'plan.csv'), 'utf8')).toBe(`from_account,to_account,currency,amount,amount_minor,by_date\r\n${RESERVE},${UNIONPAY},CNY,800.00,80000,2026-11-30\r\n`);
    const again = await runCli(place, '--json', 'position', 'plan', '--date', '2026-11-29', '--config', config, '--out', 'plan.json');
    const first = readFileSync(join(dir, 'plan.json'));
    await runCli(place, '--json', 'position', 'plan', '--date', '2026-11-29', '--config', config, '--out', 'plan.json');
    expect(again.code).toBe(0);
    expect(readFileSync(join(dir, 'plan.json')).equals(first)).toBe(true);
  });

  it('Given UnionPay below its alert threshold and a reserve too thin to give, When planned, Then exit 2 with the alert and the unfunded shortfall', async () => {
    const config = writeConfig(dir, 'c.json', {
      ...POSITIONS,
      accounts: [
        { ...POSITIONS.accounts[0], alert_below_minor: '250000' },
        { account_id: RESERVE, buffer: { fixed_minor: '950000' } },
      ],
    });
    const r = await runCli(place, '--json', 'position', 'plan', '--date', '2026-11-29', '--days', '3', '--config', config);
    expect(r.code).toBe(2);
    expect((r.json['accounts'] as Record<string, unknown>[])[0]?.['alert']).toBe(true);
    expect(r.json['transfers']).toEqual([]);
    expect(r.json['shortfalls']).toEqual([{ account_id: UNIONPAY, currency: 'CNY', shortfall_minor: '70002', by_date: '2026-11-30', reason: 'funding_account_short' }]);
    const human = await runCli(place, 'position', 'plan', '--date', '2026-11-29', '--config', config);
    expect(human.stdout).toContain('SHORT: channel:unionpay:receivable:CNY needs 700.02 CNY by 2026-11-30 (funding_account_short).');
  });

  it('Given bad input, When position plan runs, Then each refusal has its stable code', async () => {
    const good = writeConfig(dir, 'c.json', POSITIONS);
    expect((await runCli(place, '--json', 'position', 'plan', '--date', '2026-02-30', '--config', good)).json['code']).toBe('date_invalid');
    expect((await runCli(place, '--json', 'position', 'plan', '--date', '2026-11-29', '--days', '91', '--config', good)).json['code']).toBe('input_invalid');
    expect((await runCli(place, '--json', 'position', 'plan', '--date', '2025-01-01', '--config', good)).json['code']).toBe('day_unknown');
    const none = writeConfig(dir, 'none.json', {});
    expect((await runCli(place, '--json', 'position', 'plan', '--date', '2026-11-29', '--config', none)).json['code']).toBe('positions_not_configured');
    const unknown = writeConfig(dir, 'u.json', { accounts: [{ account_id: 'channel:nowhere:receivable:CNY' }] });
    expect((await runCli(place, '--json', 'position', 'plan', '--date', '2026-11-29', '--config', unknown)).json['code']).toBe('position_account_unknown');
    const self = writeConfig(dir, 's.json', { accounts: [{ account_id: RESERVE, funded_by: RESERVE }] });
    expect((await runCli(place, '--json', 'position', 'plan', '--date', '2026-11-29', '--config', self)).json['code']).toBe('config_invalid');
  });
});
