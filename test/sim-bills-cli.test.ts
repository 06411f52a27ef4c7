// End to end: payments, a refund and a void made over HTTP against a live simulator, then
// `settle channel-sim bills` in-process on its file: the files, what the command prints (with and
// without --json), the same bytes on a second run, injected trouble, the help, and the refusals.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readZmRows } from '../src/online/channel-sim/bills/test-support.js';
import { startTestSim, TEST_CONFIG, type TestSim } from '../src/online/channel-sim/test-support.js';
import { runCli, type CliRun } from './support/cli.js';

const D = '2026-11-26';
let t: TestSim;
let now = Date.parse(`${D}T10:00:00+08:00`);
const clock = (): number => now;

beforeAll(async () => {
  t = await startTestSim({ clock });
  const bank = t.adapter('bank');
  const pay = async (reference: string, amountMinor: bigint) => {
    now += 60_000;
    const outcome = await bank.pay({ reference, product: 'foreign_card', amountMinor, currency: 'CNY' });
    expect(outcome.status).toBe('succeeded');
  };
  await pay('pay_cli_1', 10_000n);
  await pay('pay_cli_2', 2_550n);
  await pay('pay_cli_3', 777n);
  now += 60_000;
  expect((await bank.refund({ reference: 're_cli_1', originalReference: 'pay_cli_1', amountMinor: 3_000n, currency: 'CNY' })).status).toBe('succeeded');
  expect((await bank.void({ reference: 'vo_cli_3', originalReference: 'pay_cli_3', amountMinor: 777n, currency: 'CNY' })).status).toBe('succeeded');
  await t.close();
});
afterAll(() => t.cleanup());

const settle = (...args: string[]): Promise<CliRun> => runCli({ db: t.dbPath, cwd: t.dir, nowMs: clock }, ...args);
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

interface FileJson {
  path: string;
  name: string;
  rows: number;
  bytes: number;
  sha256: string;
}
interface ChannelJson {
  channel: string;
  format: string;
  files: FileJson[];
  manifest: string;
  troubles: Record<string, unknown>[];
}
const channelsOf = (run: CliRun): ChannelJson[] => run.json['channels'] as ChannelJson[];

describe('settle channel-sim bills', () => {
  it('Given a day of the live simulator, When bills are written with --json, Then it prints each file with its rows and sha256, and the bank\u2019s ZM file holds the day', async () => {
    const run = await settle('--json', 'channel-sim', 'bills', '--date', D, '--out', 'bills');
    expect(run.code).toBe(0);
    expect(run.json['ok']).toBe(true);
    const channels = channelsOf(run);
    expect(channels.map((c) => [c.channel, c.format])).toEqual([
      ['bank', 'unionpay-zm'],
      ['wallet', 'wechat-trade'],
    ]);
    const zm = channels[0]?.files[0];
    expect(zm).toMatchObject({ name: 'INN26112688ZM_898310012345678', rows: 5, bytes: 5 * 609 });
    expect(zm?.sha256).toBe(sha256(zm?.path ?? ''));
    expect(zm?.path).toBe(join(t.dir, 'bills', 'bank', 'INN26112688ZM_898310012345678'));
    const rows = readZmRows(readFileSync(zm?.path ?? ''));
    expect(rows.map((r) => [r.key, r.status, r.amountMinor])).toEqual([
      ['pay_cli_1', 'S22', 10_000n],
      ['pay_cli_2', 'S22', 2_550n],
      ['pay_cli_3', 'S22', 777n],
      ['re_cli_1', 'S30', 3_000n],
      ['vo_cli_3', 'S31', 777n],
    ]);
    expect(existsSync(channels[0]?.manifest ?? '')).toBe(true);
    expect(channels[1]?.files[0]?.rows).toBe(0); // the wallet took nothing: a bill with its header and zero totals
    expect(readFileSync(channels[1]?.files[0]?.path ?? '', 'utf8')).toContain('`0,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00\r\n');
  });

  it('Given trouble and a seed, When the command runs twice, Then the files have the same sha256 and the manifest lists the changes', async () => {
    const args = ['channel-sim', 'bills', '--date', D, '--out', 'troubled', '--channel', 'bank', '--inject', 'drop=1,extra=1,duplicate=1', '--seed', 's1'];
    const first = await settle('--json', ...args);
    const second = await settle('--json', ...args);
    expect(first.code).toBe(0);
    expect(channelsOf(second)[0]?.files[0]?.sha256).toBe(channelsOf(first)[0]?.files[0]?.sha256);
    const troubles = channelsOf(first)[0]?.troubles ?? [];
    expect(troubles.map((x) => x['kind']).sort()).toEqual(['drop', 'duplicate', 'extra']);
    const manifest = JSON.parse(readFileSync(channelsOf(first)[0]?.manifest ?? '', 'utf8')) as { troubles: unknown[]; seed: string; inject: unknown };
    expect(manifest).toMatchObject({ seed: 's1', inject: { drop: 1, extra: 1, duplicate: 1 } });
    expect(manifest.troubles).toEqual(troubles);
  });

  it('Given no --json, When bills are written, Then each file is one line with its path, rows and sha256', async () => {
    const run = await settle('channel-sim', 'bills', '--date', D, '--out', 'plain', '--channel', 'bank');
    expect(run.code).toBe(0);
    const path = join(t.dir, 'plain', 'bank', 'INN26112688ZM_898310012345678');
    expect(run.stdout).toContain(`bank unionpay-zm: wrote ${path}  5 row(s)  3045 bytes  sha256 ${sha256(path)}`);
    expect(run.stdout).toContain('manifest_20261126.json; 0 injected change(s)');
  });

  it('Given a config after `bills`, When it names a bill account and format, Then the file follows it', async () => {
    const config = join(t.dir, 'sim.json');
    writeFileSync(config, JSON.stringify({ ...TEST_CONFIG, channels: [{ id: 'bank', kind: 'bank', bill_format: 'alipay-trade', bill_account: '20880000000000000156' }] }));
    const run = await settle('--json', 'channel-sim', 'bills', '--date', D, '--out', 'configured', '--config', config);
    expect(run.code).toBe(0);
    expect(channelsOf(run)[0]?.files[0]?.name).toBe('20880000000000000156_20261126.csv.zip');
  });

  it('Given the help, Then channel-sim still lists its own flags and the bills subcommand, and bills lists its flags', async () => {
    const parent = await settle('channel-sim', '--help');
    expect(parent.code).toBe(0);
    for (const flag of ['--port', '--host', '--config', '--seed', 'bills']) expect(parent.stdout).toContain(flag);
    const bills = await settle('channel-sim', 'bills', '--help');
    for (const flag of ['--date', '--out', '--channel', '--format', '--inject', '--seed', '--break-totals']) expect(bills.stdout).toContain(flag);
  });

  it('Given bad input, When bills are asked, Then the refusal is exit 1 with a stable code and the next step', async () => {
    const refused = async (code: string, ...args: string[]) => {
      const run = await settle('--json', 'channel-sim', 'bills', '--out', 'refused', ...args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.json).toMatchObject({ ok: false, code });
    };
    await refused('date_invalid', '--date', '2026-13-01');
    await refused('date_invalid');
    await refused('inject_invalid', '--date', D, '--inject', 'bogus=1');
    await refused('channel_unknown', '--date', D, '--channel', 'nope');
    await refused('bill_format_unknown', '--date', D, '--format', 'mt940');
    await refused('seed_invalid', '--date', D, '--seed', 'a b');
    const missing = await runCli({ db: join(t.dir, 'nothing.db'), cwd: t.dir, nowMs: clock }, 'channel-sim', 'bills', '--date', D, '--out', 'x');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('sim_db_missing');
    expect(missing.stderr).toContain('next: Point --db');
    expect(existsSync(join(t.dir, 'nothing.db'))).toBe(false);
  });
});
