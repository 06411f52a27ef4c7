// settle recon fetch end to end, in-process: a config with a local-folder channel and an SFTP channel
// served by the simulator's bill servers; the archive beside the database; the refusals and exit codes.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfigPath } from '../src/cli/config.js';
import { filesUnder } from '../src/batch/recon/fetch/test-support.js';
import { generateHostKeyPem, startBillServers, type BillServers } from '../src/online/channel-sim/file-servers.js';
import { runCli, type CliRun } from './support/cli.js';

const PASSWORD = 'cli-sftp-password';
const BILL = 'wallet bill 2026-03-09\n';

let root: string;
let servers: BillServers;
let dir: string;
let db: string;
let config: string;
const env = { WALLET_SFTP_PASSWORD: PASSWORD };

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'settle-recon-fetch-cli-'));
  mkdirSync(join(root, 'served', 'wallet'), { recursive: true });
  writeFileSync(join(root, 'served', 'wallet', 'wallet_20260309.csv'), BILL);
  servers = await startBillServers({ dir: join(root, 'served'), host: '127.0.0.1', sftp: { port: 0, hostKeyPem: generateHostKeyPem(), username: 'bills', password: PASSWORD } });
});

afterAll(async () => {
  await servers.close();
  rmSync(root, { recursive: true, force: true });
});

beforeEach(async () => {
  dir = mkdtempSync(join(root, 'case-'));
  db = join(dir, 'settle.db');
  mkdirSync(join(dir, 'drop'));
  const sample = JSON.parse(readFileSync(defaultConfigPath(), 'utf8')) as Record<string, unknown>;
  config = join(dir, 'settle.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      ...sample,
      recon: {
        channels: [
          { channel: 'bank', format: 'unionpay-zm', source: { type: 'local', dir: 'drop', path_template: 'INN{yyMMdd}88ZM_802310048993424' } },
          {
            channel: 'wallet',
            format: 'wechat-trade',
            source: {
              type: 'sftp',
              host: '127.0.0.1',
              port: servers.sftp?.port,
              username: 'bills',
              password_env: 'WALLET_SFTP_PASSWORD',
              host_key_sha256: servers.sftp?.hostKeySha256,
              root: '/wallet',
              path_template: 'wallet_{yyyyMMdd}.csv',
              timeout_ms: 5000,
            },
          },
          { channel: 'payout', format: 'generic-csv', source: { type: 'local', dir: 'drop', path_template: '../{yyyyMMdd}.csv' } },
        ],
        archive_dir: 'recon-files',
      },
    }),
  );
  expect((await settle('--json', 'init', '--config', config, '--business-date', '2026-03-09')).code).toBe(0);
  return () => rmSync(dir, { recursive: true, force: true });
});

function settle(...args: string[]): Promise<CliRun> {
  return runCli({ db, cwd: dir, nowMs: () => Date.parse('2026-03-10T02:00:00Z'), env }, ...args);
}

describe('settle recon fetch', () => {
  it('Given the bank’s file in its folder, When fetched with --json, Then ok with the archive path beside the database, and again is a no-op', async () => {
    writeFileSync(join(dir, 'drop', 'INN26030988ZM_802310048993424'), 'ZM file\n');
    const first = await settle('--json', 'recon', 'fetch', '--channel', 'bank', '--date', '2026-03-09', '--config', config);
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({ ok: true, channel: 'bank', date: '2026-03-09', bytes: 8, new_file: true, attempts: 1, remote_path: 'INN26030988ZM_802310048993424' });
    expect(String(first.json['archived_path'])).toBe(join(dir, 'recon-files', String(first.json['sha256']).slice(0, 2), String(first.json['sha256'])));
    const again = await settle('--json', 'recon', 'fetch', '--channel', 'bank', '--date', '2026-03-09', '--config', config);
    expect(again.json).toMatchObject({ ok: true, sha256: first.json['sha256'], new_file: false });
    expect(filesUnder(join(dir, 'recon-files'))).toHaveLength(1);
  });

  it('Given the wallet’s file on the simulator’s SFTP server, When fetched without --json, Then a line says where it came from and where it is kept', async () => {
    const r = await settle('recon', 'fetch', '--channel', 'wallet', '--date', '2026-03-09', '--config', config);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Fetched /wallet/wallet_20260309.csv from sftp://bills@127.0.0.1:${servers.sftp?.port}/wallet`);
    expect(r.stdout).not.toContain(PASSWORD);
    expect(r.stderr).toContain('attempt 1');
  });

  it('Given SETTLE_CONFIG names the config, When --config is left out, Then it is used', async () => {
    writeFileSync(join(dir, 'drop', 'INN26030988ZM_802310048993424'), 'ZM\n');
    const r = await runCli({ db, cwd: dir, nowMs: () => 0, env: { ...env, SETTLE_CONFIG: config } }, '--json', 'recon', 'fetch', '--channel', 'bank', '--date', '2026-03-09');
    expect(r.json).toMatchObject({ ok: true, channel: 'bank' });
  });

  it('Given no file yet, When fetched, Then exit 1 with file_not_ready and the next step', async () => {
    const r = await settle('--json', 'recon', 'fetch', '--channel', 'bank', '--date', '2026-03-09', '--config', config);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'file_not_ready' });
    expect(String(r.json['message'])).toContain('run again later');
  });

  it('Given a channel not in the config, When fetched, Then exit 1 with channel_not_configured', async () => {
    const r = await settle('--json', 'recon', 'fetch', '--channel', 'nobody', '--date', '2026-03-09', '--config', config);
    expect(r).toMatchObject({ code: 1, json: { ok: false, code: 'channel_not_configured' } });
  });

  it('Given a template with .., When fetched, Then exit 1 with path_unsafe', async () => {
    const r = await settle('--json', 'recon', 'fetch', '--channel', 'payout', '--date', '2026-03-09', '--config', config);
    expect(r).toMatchObject({ code: 1, json: { ok: false, code: 'path_unsafe' } });
  });

  it('Given the password variable unset, When the SFTP channel is fetched, Then exit 1 with source_secret_missing (human output names the variable)', async () => {
    const r = await runCli({ db, cwd: dir, nowMs: () => 0, env: {} }, 'recon', 'fetch', '--channel', 'wallet', '--date', '2026-03-09', '--config', config);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('source_secret_missing');
    expect(r.stderr).toContain('WALLET_SFTP_PASSWORD');
  });

  it('Given a date that is not a day, When fetched, Then exit 1 with date_invalid; a missing --date is a usage error', async () => {
    expect((await settle('--json', 'recon', 'fetch', '--channel', 'bank', '--date', '2026-02-30', '--config', config)).json).toMatchObject({ code: 'date_invalid' });
    expect((await settle('--json', 'recon', 'fetch', '--channel', 'bank', '--config', config)).json).toMatchObject({ code: 'usage' });
  });
});
