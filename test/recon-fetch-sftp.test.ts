// Fetching over SFTP from the simulator's SFTP server (ssh2 Server) on loopback: success, the no-op
// re-fetch, a file that appears after polls, the deadline, wrong password, a host key that does not
// match (and no credential sent), too big, and `..` in the template.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchStatement, type FetchDeps } from '../src/batch/recon/fetch/service.js';
import { channelWith, fakeTime, fetchLog, filesUnder, refusal, tempDir } from '../src/batch/recon/fetch/test-support.js';
import { generateHostKeyPem, startBillServers, type BillServerEvent, type BillServers } from '../src/online/channel-sim/file-servers.js';

const DATE = '2026-03-09';
const PASSWORD = 'sftp-test-password-8f2c';
const BILL = 'bank bill 2026-03-09\n1,pay_1,100.00\n';

let tmp: ReturnType<typeof tempDir>;
let servers: BillServers;
let events: BillServerEvent[] = [];
let billsDir: string;
let log: ReturnType<typeof fetchLog>;
let archiveDir: string;

beforeAll(async () => {
  tmp = tempDir('fetch-sftp');
  billsDir = join(tmp.path, 'bills');
  mkdirSync(join(billsDir, 'bank'), { recursive: true });
  writeFileSync(join(billsDir, 'bank', 'bill_20260309.csv'), BILL);
  writeFileSync(join(billsDir, 'bank', 'bill_20260301.csv'), 'y'.repeat(5000));
  servers = await startBillServers({
    dir: billsDir,
    host: '127.0.0.1',
    sftp: { port: 0, hostKeyPem: generateHostKeyPem(), username: 'bills', password: PASSWORD },
    log: (e) => events.push(e),
  });
});

afterAll(async () => {
  await servers.close();
  tmp.cleanup();
});

beforeEach(() => {
  events = [];
  log = fetchLog();
  archiveDir = join(tmp.path, `archive-${Math.random().toString(36).slice(2)}`);
  return () => log.close();
});

function sftpSource(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'sftp',
    host: '127.0.0.1',
    port: servers.sftp?.port,
    username: 'bills',
    password_env: 'BANK_SFTP_PASSWORD',
    host_key_sha256: servers.sftp?.hostKeySha256,
    root: '/bank',
    path_template: 'bill_{yyyyMMdd}.csv',
    timeout_ms: 5000,
    ...extra,
  };
}

function deps(env: Record<string, string> = { BANK_SFTP_PASSWORD: PASSWORD }, time = fakeTime()): FetchDeps & { time: ReturnType<typeof fakeTime> } {
  return { store: log.store, archiveDir, env, clock: time.clock, sleep: time.sleep, time };
}

describe('Given the simulator serving bills over SFTP', () => {
  it('When the day’s file is fetched with the password and the pinned key, Then it is archived by its SHA-256', async () => {
    const r = await fetchStatement(channelWith(sftpSource()), DATE, deps());
    expect(r).toMatchObject({ bytes: Buffer.byteLength(BILL), newFile: true, attempts: 1, remotePath: '/bank/bill_20260309.csv', sourceType: 'sftp' });
    expect(r.source).toBe(`sftp://bills@127.0.0.1:${servers.sftp?.port}/bank`);
    expect(r.source).not.toContain(PASSWORD);
    expect(events).toContainEqual({ kind: 'sftp_auth', username: 'bills', method: 'password', accepted: true });
  });

  it('When the same file is fetched again, Then nothing new: same sha256, newFile false, one archive file', async () => {
    const first = await fetchStatement(channelWith(sftpSource()), DATE, deps());
    const again = await fetchStatement(channelWith(sftpSource()), DATE, deps());
    expect(again).toMatchObject({ sha256: first.sha256, newFile: false });
    expect(filesUnder(archiveDir)).toEqual([first.archivedPath]);
  });

  it('When the file appears after two polls, Then the third attempt fetches it', async () => {
    const d = deps();
    let polls = 0;
    const sleep = async (ms: number): Promise<void> => {
      await d.time.sleep(ms);
      if (++polls === 2) writeFileSync(join(billsDir, 'bank', 'bill_20260310.csv'), 'late bill\n');
    };
    const r = await fetchStatement(channelWith(sftpSource({ deadline_s: 600, retry_interval_s: 10 })), '2026-03-10', { ...d, sleep });
    expect(r.attempts).toBe(3);
    expect(d.time.sleeps).toEqual([10_000, 20_000]);
    expect((await log.store.listAttempts('bank', '2026-03-10', 10)).map((a) => a.outcome)).toEqual(['fetched', 'not_ready', 'not_ready']);
  });

  it('When the file never comes before the deadline, Then file_not_ready', async () => {
    const e = await refusal(fetchStatement(channelWith(sftpSource({ deadline_s: 30, retry_interval_s: 10 })), '2026-04-01', deps()));
    expect(e.code).toBe('file_not_ready');
  });

  it('When the password is wrong, Then fetch_auth_failed at once, and the message holds no password', async () => {
    const d = deps({ BANK_SFTP_PASSWORD: 'wrong-password' });
    const e = await refusal(fetchStatement(channelWith(sftpSource({ deadline_s: 600 })), DATE, d));
    expect(e.code).toBe('fetch_auth_failed');
    expect(e.message).not.toContain('wrong-password');
    expect(d.time.sleeps).toEqual([]);
    expect((await log.store.listAttempts('bank', DATE, 10))[0]).toMatchObject({ outcome: 'failed', errorCode: 'fetch_auth_failed' });
  });

  it('When the pinned host key is another server’s, Then host_key_mismatch and the server never saw an authentication attempt', async () => {
    const other = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const e = await refusal(fetchStatement(channelWith(sftpSource({ host_key_sha256: other })), DATE, deps()));
    expect(e.code).toBe('host_key_mismatch');
    expect(e.message).toContain(servers.sftp?.hostKeySha256 ?? '?');
    expect(e.message).not.toContain(PASSWORD);
    expect(events.filter((ev) => ev.kind === 'sftp_auth')).toEqual([]);
  });

  it('When the file is larger than bytes_max, Then file_too_large and nothing is archived', async () => {
    const e = await refusal(fetchStatement(channelWith(sftpSource({ bytes_max: 4096 })), '2026-03-01', deps()));
    expect(e.code).toBe('file_too_large');
    expect(filesUnder(archiveDir)).toEqual([]);
  });

  it('When the template climbs with .., Then path_unsafe and no connection is made', async () => {
    const e = await refusal(fetchStatement(channelWith(sftpSource({ path_template: '../etc/{yyyyMMdd}' })), DATE, deps()));
    expect(e.code).toBe('path_unsafe');
    expect(events).toEqual([]);
  });

  it('When the password variable is not set, Then source_secret_missing naming the variable', async () => {
    const e = await refusal(fetchStatement(channelWith(sftpSource()), DATE, deps({})));
    expect(e.code).toBe('source_secret_missing');
    expect(e.message).toContain('BANK_SFTP_PASSWORD');
  });

  it('When nothing listens on the port, Then fetch_failed at once (not a wait)', async () => {
    const d = deps();
    const e = await refusal(fetchStatement(channelWith(sftpSource({ port: 1, deadline_s: 600 })), DATE, d));
    expect(e.code).toBe('fetch_failed');
    expect(d.time.sleeps).toEqual([]);
  });
});
