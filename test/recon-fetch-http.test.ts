// Fetching over HTTP(S): from the simulator's HTTP file server (success, the no-op re-fetch, a file that
// appears after polls, the deadline, too big) and from small servers that misbehave on purpose (a
// timeout, a refused token, a redirect, a body cut short, a chunked body past the cap), plus HTTPS.

import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchStatement, type FetchDeps } from '../src/batch/recon/fetch/service.js';
import { channelWith, fakeTime, fetchLog, filesUnder, refusal, selfSignedCert, tempDir } from '../src/batch/recon/fetch/test-support.js';
import { startBillServers, type BillServers } from '../src/online/channel-sim/file-servers.js';

const DATE = '2019-09-16';
const BILL = '#支付宝业务明细查询\r\n#账号：[20880211096256330156]\r\n';

let tmp: ReturnType<typeof tempDir>;
let servers: BillServers;
let billsDir: string;
let log: ReturnType<typeof fetchLog>;
let archiveDir: string;

/** A server whose handler the test sets; it records the headers it saw. */
let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => res.end();
const seenHeaders: http.IncomingHttpHeaders[] = [];
let odd: http.Server;
let oddUrl: string;
let secure: https.Server;
let secureUrl: string;
let certFile: string;

async function listen(server: http.Server | https.Server): Promise<number> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  tmp = tempDir('fetch-http');
  billsDir = join(tmp.path, 'bills');
  mkdirSync(join(billsDir, 'alipay', '2019'), { recursive: true });
  writeFileSync(join(billsDir, 'alipay', '2019', '20880211096256330156_20190916.csv'), BILL);
  writeFileSync(join(billsDir, 'alipay', '2019', '20880211096256330156_20190901.csv'), 'q'.repeat(3000));
  servers = await startBillServers({ dir: billsDir, host: '127.0.0.1', http: { port: 0 } });
  odd = http.createServer((req, res) => {
    seenHeaders.push(req.headers);
    handler(req, res);
  });
  oddUrl = `http://127.0.0.1:${await listen(odd)}`;
  const tls = selfSignedCert(tmp.path);
  certFile = tls.certFile;
  secure = https.createServer({ cert: tls.cert, key: tls.key }, (_req, res) => res.end(BILL));
  secureUrl = `https://127.0.0.1:${await listen(secure)}`;
});

afterAll(async () => {
  await servers.close();
  odd.closeAllConnections();
  secure.closeAllConnections();
  await new Promise((done) => odd.close(done));
  await new Promise((done) => secure.close(done));
  tmp.cleanup();
});

beforeEach(() => {
  log = fetchLog();
  seenHeaders.length = 0;
  archiveDir = join(tmp.path, `archive-${Math.random().toString(36).slice(2)}`);
  return () => log.close();
});

function simSource(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'http', url_template: `${servers.http?.url}/alipay/{yyyy}/`, path_template: '20880211096256330156_{yyyyMMdd}.csv', timeout_ms: 5000, ...extra };
}

function oddSource(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'http', url_template: `${oddUrl}/bills/`, path_template: 'b_{yyyyMMdd}.csv', timeout_ms: 300, ...extra };
}

function deps(env: Record<string, string> = {}, time = fakeTime()): FetchDeps & { time: ReturnType<typeof fakeTime> } {
  return { store: log.store, archiveDir, env, clock: time.clock, sleep: time.sleep, time };
}

describe('Given the simulator serving bills over HTTP', () => {
  it('When the day’s file is fetched, Then it is archived with the URL as its source', async () => {
    const r = await fetchStatement(channelWith(simSource(), 'alipay'), DATE, deps());
    expect(r).toMatchObject({ bytes: Buffer.byteLength(BILL), newFile: true, sourceType: 'http', remotePath: '20880211096256330156_20190916.csv' });
  });

  it('When it is fetched again, Then newFile is false and one archive file', async () => {
    const first = await fetchStatement(channelWith(simSource(), 'alipay'), DATE, deps());
    const again = await fetchStatement(channelWith(simSource(), 'alipay'), DATE, deps());
    expect(again).toMatchObject({ sha256: first.sha256, newFile: false });
    expect(filesUnder(archiveDir)).toHaveLength(1);
  });

  it('When the file appears after two polls (404 until then), Then the third attempt fetches it', async () => {
    const d = deps();
    let polls = 0;
    const sleep = async (ms: number): Promise<void> => {
      await d.time.sleep(ms);
      if (++polls === 2) writeFileSync(join(billsDir, 'alipay', '2019', '20880211096256330156_20190917.csv'), 'late');
    };
    const r = await fetchStatement(channelWith(simSource({ deadline_s: 3600, retry_interval_s: 60 }), 'alipay'), '2019-09-17', { ...d, sleep });
    expect(r.attempts).toBe(3);
    expect(d.time.sleeps).toEqual([60_000, 120_000]);
  });

  it('When the deadline passes, Then file_not_ready', async () => {
    expect((await refusal(fetchStatement(channelWith(simSource({ deadline_s: 60 }), 'alipay'), '2019-10-01', deps()))).code).toBe('file_not_ready');
  });

  it('When Content-Length is above bytes_max, Then file_too_large before the body is read', async () => {
    const e = await refusal(fetchStatement(channelWith(simSource({ bytes_max: 2999 }), 'alipay'), '2019-09-01', deps()));
    expect(e.code).toBe('file_too_large');
    expect(filesUnder(archiveDir)).toEqual([]);
  });

  it('When the template climbs with .., Then path_unsafe', async () => {
    expect((await refusal(fetchStatement(channelWith(simSource({ path_template: '../{yyyyMMdd}' }), 'alipay'), DATE, deps()))).code).toBe('path_unsafe');
  });
});

describe('Given HTTP servers that misbehave', () => {
  it('When the server never answers, Then fetch_timeout after timeout_ms, with no retry', async () => {
    handler = () => undefined; // accept and say nothing
    const d = deps();
    const e = await refusal(fetchStatement(channelWith(oddSource({ deadline_s: 600 })), DATE, d));
    expect(e.code).toBe('fetch_timeout');
    expect(d.time.sleeps).toEqual([]);
  });

  it('When the body stalls half way, Then fetch_timeout and nothing is archived', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      if (req.method === 'GET') res.write('x'.repeat(10));
      else res.end();
    };
    const e = await refusal(fetchStatement(channelWith(oddSource()), DATE, deps()));
    expect(e.code).toBe('fetch_timeout');
    expect(filesUnder(archiveDir)).toEqual([]);
  });

  it('When the token from headers_env is refused (401), Then fetch_auth_failed; the header was sent, the message does not hold it', async () => {
    handler = (_req, res) => {
      res.statusCode = 401;
      res.end();
    };
    const e = await refusal(fetchStatement(channelWith(oddSource({ headers_env: { Authorization: 'BILL_TOKEN' } })), DATE, deps({ BILL_TOKEN: 'Bearer s3cr3t' })));
    expect(e.code).toBe('fetch_auth_failed');
    expect(e.message).not.toContain('s3cr3t');
    expect(seenHeaders[0]?.authorization).toBe('Bearer s3cr3t');
  });

  it('When the server redirects, Then fetch_failed: redirects are not followed', async () => {
    handler = (_req, res) => {
      res.writeHead(302, { location: 'http://elsewhere.example/' });
      res.end();
    };
    const e = await refusal(fetchStatement(channelWith(oddSource()), DATE, deps()));
    expect(e.code).toBe('fetch_failed');
    expect(e.message).toContain('redirect');
  });

  it('When a chunked body (no Content-Length) runs past bytes_max, Then file_too_large mid-stream', async () => {
    handler = (req, res) => {
      res.writeHead(200);
      if (req.method === 'HEAD') return void res.end();
      for (let i = 0; i < 10; i++) res.write('y'.repeat(1000));
      res.end();
    };
    const e = await refusal(fetchStatement(channelWith(oddSource({ bytes_max: 4000, timeout_ms: 5000 })), DATE, deps()));
    expect(e.code).toBe('file_too_large');
    expect(filesUnder(archiveDir)).toEqual([]);
  });

  it('When the connection closes before Content-Length bytes came, Then fetch_failed, not a short file', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'content-length': '50' });
      if (req.method === 'HEAD') return void res.end();
      res.write('only twenty bytes...');
      res.socket?.destroy();
    };
    const e = await refusal(fetchStatement(channelWith(oddSource({ timeout_ms: 5000 })), DATE, deps()));
    expect(e.code).toBe('fetch_failed');
    expect(filesUnder(archiveDir)).toEqual([]);
  });

  it('When a 500 comes back, Then fetch_failed at once', async () => {
    handler = (_req, res) => {
      res.statusCode = 500;
      res.end();
    };
    const d = deps();
    expect((await refusal(fetchStatement(channelWith(oddSource({ deadline_s: 600 })), DATE, d))).code).toBe('fetch_failed');
    expect(d.time.sleeps).toEqual([]);
  });

  it('When HEAD is not allowed (405), Then the GET decides', async () => {
    handler = (req, res) => {
      if (req.method === 'HEAD') {
        res.statusCode = 405;
        return void res.end();
      }
      res.end('via GET');
    };
    expect((await fetchStatement(channelWith(oddSource()), DATE, deps())).bytes).toBe(7);
  });
});

describe('Given an HTTPS server with a self-signed certificate', () => {
  const source = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'https', url_template: `${secureUrl}/`, path_template: 'b_{yyyyMMdd}.csv', timeout_ms: 5000, ...extra });

  it('When ca_file trusts it, Then the file is fetched', async () => {
    expect((await fetchStatement(channelWith(source({ ca_file: certFile })), DATE, deps())).bytes).toBe(Buffer.byteLength(BILL));
  });

  it('When nothing trusts it, Then fetch_failed naming the certificate', async () => {
    const e = await refusal(fetchStatement(channelWith(source()), DATE, deps()));
    expect(e.code).toBe('fetch_failed');
    expect(e.message).toMatch(/certificate/i);
  });
});
