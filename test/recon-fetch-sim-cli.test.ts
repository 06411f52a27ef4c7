// `settle channel-sim --bills-dir D --sftp-port 0 --ftp-port 0 --files-http-port 0` as a real process (the
// TypeScript run through tsx, so no build is needed): it prints where it serves and the SFTP host key
// fingerprint, the fetchers take the day's file over each protocol, and SIGTERM stops it cleanly.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchStatement } from '../src/batch/recon/fetch/service.js';
import { channelWith, fakeTime, fetchLog, tempDir } from '../src/batch/recon/fetch/test-support.js';

const PASSWORD = 'sim-cli-password';
const BILL = 'simulated bank bill\n';
const main = new URL('../src/cli/main.ts', import.meta.url).pathname;

let tmp: ReturnType<typeof tempDir>;
let child: ChildProcess;
let stdout = '';
let stderr = '';
let files: { sftp: string; sftp_host_key_sha256: string; ftp: string; http: string };

beforeAll(async () => {
  tmp = tempDir('fetch-sim-cli');
  mkdirSync(join(tmp.path, 'bills', 'bank'), { recursive: true });
  writeFileSync(join(tmp.path, 'bills', 'bank', 'bank_20260309.csv'), BILL);
  const script = `const { main } = await import(${JSON.stringify(main)}); process.exitCode = await main(['node', 'settle', ...process.argv.slice(1)]);`;
  child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx/esm'), '--input-type=module', '-e', script, '--', '--db', join(tmp.path, 'sim.db'), '--json', 'channel-sim', '--port', '0', '--bills-dir', 'bills', '--sftp-port', '0', '--ftp-port', '0', '--files-http-port', '0'],
    { cwd: tmp.path, env: { PATH: process.env['PATH'] ?? '', SETTLE_SIM_FILES_PASSWORD: PASSWORD, SETTLE_SIM_FILES_USER: 'bankfiles' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (stdout.includes('\n')) resolve(JSON.parse(stdout.split('\n')[0] ?? '{}') as Record<string, unknown>);
    });
    child.once('exit', (code) => reject(new Error(`channel-sim exited ${String(code)}: ${stderr}`)));
  });
  files = listening['files'] as typeof files;
}, 60_000);

afterAll(() => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  tmp.cleanup();
});

const portOf = (url: string): number => Number(new URL(url).port);

describe('Given settle channel-sim serving a folder of bills', () => {
  it('When it starts, Then it prints the SFTP, FTP and HTTP addresses and the host key fingerprint', () => {
    expect(files).toMatchObject({ sftp: expect.stringMatching(/^sftp:\/\/127\.0\.0\.1:\d+$/), ftp: expect.stringMatching(/^ftp:\/\//), http: expect.stringMatching(/^http:\/\//) });
    expect(files.sftp_host_key_sha256).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(stdout).not.toContain(PASSWORD);
  });

  it('When the fetchers take the day’s file over SFTP, FTP and HTTP, Then each gets the same bytes', async () => {
    const log = fetchLog();
    const archiveDir = join(tmp.path, 'archive');
    const time = fakeTime();
    const common = { path_template: 'bank_{yyyyMMdd}.csv', timeout_ms: 5000 };
    const sources = [
      { type: 'sftp', host: '127.0.0.1', port: portOf(files.sftp), username: 'bankfiles', password_env: 'PW', host_key_sha256: files.sftp_host_key_sha256, root: '/bank', ...common },
      { type: 'ftp', host: '127.0.0.1', port: portOf(files.ftp), username: 'bankfiles', password_env: 'PW', root: '/bank', ...common },
      { type: 'http', url_template: `${files.http}/bank/`, ...common },
    ];
    try {
      const results = [];
      for (const [i, source] of sources.entries()) {
        results.push(await fetchStatement(channelWith(source, `bank${i}`), '2026-03-09', { store: log.store, archiveDir, env: { PW: PASSWORD }, clock: time.clock, sleep: time.sleep }));
      }
      expect(new Set(results.map((r) => r.sha256)).size).toBe(1);
      expect(results.map((r) => r.bytes)).toEqual([BILL.length, BILL.length, BILL.length]);
    } finally {
      log.close();
    }
  });

  it('When it gets SIGTERM, Then it closes the servers and exits 0', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
