// Fetching over FTP and explicit FTPS from the simulator's FTP server (ftp-srv) on loopback: success, the
// no-op re-fetch, a file that appears after polls, the deadline, wrong password, too big, and a TLS
// certificate that is not trusted.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchStatement, type FetchDeps } from '../src/batch/recon/fetch/service.js';
import { channelWith, fakeTime, fetchLog, filesUnder, refusal, selfSignedCert, tempDir } from '../src/batch/recon/fetch/test-support.js';
import { startBillServers, type BillServerEvent, type BillServers } from '../src/online/channel-sim/file-servers.js';

const DATE = '2021-01-28';
const PASSWORD = 'ftp-test-password-1d9e';
const BILL = '\ufeff交易时间,公众账号ID,商户号\r\n`2021-01-28 10:15:02,`wx1,`1900000001\r\n';

let tmp: ReturnType<typeof tempDir>;
let plain: BillServers;
let secure: BillServers;
let certFile: string;
let events: BillServerEvent[] = [];
let billsDir: string;
let log: ReturnType<typeof fetchLog>;
let archiveDir: string;

beforeAll(async () => {
  tmp = tempDir('fetch-ftp');
  billsDir = join(tmp.path, 'bills');
  mkdirSync(join(billsDir, 'wechat'), { recursive: true });
  writeFileSync(join(billsDir, 'wechat', 'tradebill_20210128.csv'), BILL);
  writeFileSync(join(billsDir, 'wechat', 'tradebill_20210101.csv'), 'z'.repeat(10_000));
  const tls = selfSignedCert(tmp.path);
  certFile = tls.certFile;
  const common = { dir: billsDir, host: '127.0.0.1', log: (e: BillServerEvent) => events.push(e) };
  plain = await startBillServers({ ...common, ftp: { port: 0, username: 'bills', password: PASSWORD } });
  secure = await startBillServers({ ...common, ftp: { port: 0, username: 'bills', password: PASSWORD, tls: { cert: tls.cert, key: tls.key } } });
});

afterAll(async () => {
  await plain.close();
  await secure.close();
  tmp.cleanup();
});

beforeEach(() => {
  events = [];
  log = fetchLog();
  archiveDir = join(tmp.path, `archive-${Math.random().toString(36).slice(2)}`);
  return () => log.close();
});

function ftpSource(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'ftp',
    host: '127.0.0.1',
    port: plain.ftp?.port,
    username: 'bills',
    password_env: 'WX_FTP_PASSWORD',
    path_template: 'wechat/tradebill_{yyyyMMdd}.csv',
    timeout_ms: 5000,
    ...extra,
  };
}

function deps(env: Record<string, string> = { WX_FTP_PASSWORD: PASSWORD }, time = fakeTime()): FetchDeps & { time: ReturnType<typeof fakeTime> } {
  return { store: log.store, archiveDir, env, clock: time.clock, sleep: time.sleep, time };
}

describe('Given the simulator serving bills over FTP', () => {
  it('When the day’s file is fetched, Then its bytes (BOM, CRLF, UTF-8) are archived unchanged', async () => {
    const r = await fetchStatement(channelWith(ftpSource(), 'wechat'), DATE, deps());
    expect(r).toMatchObject({ bytes: Buffer.byteLength(BILL), newFile: true, remotePath: 'wechat/tradebill_20210128.csv', sourceType: 'ftp' });
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(r.archivedPath).equals(Buffer.from(BILL))).toBe(true);
  });

  it('When it is fetched again, Then newFile is false and the archive holds one file', async () => {
    const first = await fetchStatement(channelWith(ftpSource(), 'wechat'), DATE, deps());
    const again = await fetchStatement(channelWith(ftpSource(), 'wechat'), DATE, deps());
    expect(again).toMatchObject({ sha256: first.sha256, newFile: false });
    expect(filesUnder(archiveDir)).toHaveLength(1);
  });

  it('When the file appears after two polls, Then the third attempt fetches it', async () => {
    const d = deps();
    let polls = 0;
    const sleep = async (ms: number): Promise<void> => {
      await d.time.sleep(ms);
      if (++polls === 2) writeFileSync(join(billsDir, 'wechat', 'tradebill_20210129.csv'), 'late\r\n');
    };
    const r = await fetchStatement(channelWith(ftpSource({ deadline_s: 600, retry_interval_s: 5 }), 'wechat'), '2021-01-29', { ...d, sleep });
    expect(r.attempts).toBe(3);
    expect(d.time.sleeps).toEqual([5000, 10_000]);
  });

  it('When the deadline passes without the file, Then file_not_ready', async () => {
    const e = await refusal(fetchStatement(channelWith(ftpSource({ deadline_s: 10, retry_interval_s: 5 }), 'wechat'), '2021-02-15', deps()));
    expect(e.code).toBe('file_not_ready');
  });

  it('When the password is wrong, Then fetch_auth_failed at once', async () => {
    const d = deps({ WX_FTP_PASSWORD: 'not-it' });
    const e = await refusal(fetchStatement(channelWith(ftpSource({ deadline_s: 600 }), 'wechat'), DATE, d));
    expect(e.code).toBe('fetch_auth_failed');
    expect(e.message).not.toContain('not-it');
    expect(d.time.sleeps).toEqual([]);
    expect(events).toContainEqual({ kind: 'ftp_login', username: 'bills', accepted: false });
  });

  it('When the file is larger than bytes_max, Then file_too_large and nothing is archived', async () => {
    const e = await refusal(fetchStatement(channelWith(ftpSource({ bytes_max: 9999 }), 'wechat'), '2021-01-01', deps()));
    expect(e.code).toBe('file_too_large');
    expect(filesUnder(archiveDir)).toEqual([]);
  });

  it('When the template climbs with .., Then path_unsafe', async () => {
    expect((await refusal(fetchStatement(channelWith(ftpSource({ path_template: 'wechat/../../{yyyyMMdd}' }), 'wechat'), DATE, deps()))).code).toBe('path_unsafe');
  });
});

describe('Given the simulator serving bills over explicit FTPS', () => {
  const ftpsSource = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ ...ftpSource(), type: 'ftps', port: secure.ftp?.port, ca_file: certFile, ...extra });

  it('When the server’s certificate is trusted through ca_file, Then the file is fetched over TLS', async () => {
    const r = await fetchStatement(channelWith(ftpsSource(), 'wechat'), DATE, deps());
    expect(r).toMatchObject({ bytes: Buffer.byteLength(BILL), sourceType: 'ftps' });
  });

  it('When the certificate is not trusted (no ca_file), Then fetch_failed before the password is sent', async () => {
    const withoutCa = ftpsSource();
    delete withoutCa['ca_file'];
    const e = await refusal(fetchStatement(channelWith(withoutCa, 'wechat'), DATE, deps()));
    expect(e.code).toBe('fetch_failed');
    expect(e.message).toMatch(/certificate/i);
    expect(events.filter((ev) => ev.kind === 'ftp_login')).toEqual([]);
  });

  it('When the ca_file does not exist, Then source_invalid', async () => {
    const e = await refusal(fetchStatement(channelWith(ftpsSource({ ca_file: join(tmp.path, 'missing.pem') }), 'wechat'), DATE, deps()));
    expect(e.code).toBe('source_invalid');
  });
});
