// The simulator's bill servers as a client sees them: files readable over SFTP, FTP and HTTP; every
// write refused; paths that climb out of the folder, or links that lead out, refused.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { Client as FtpClient, FTPError } from 'basic-ftp';
import type { SFTPWrapper } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billServersOptionsFromEnv, generateHostKeyPem, hostKeyFingerprint, httpPathSegments, startBillServers, underRoot, type BillServerEvent, type BillServers } from './file-servers.js';

const PASSWORD = 'file-servers-test-pw';
const BILL = 'bill of 2026-03-09\n';

let tmp: string;
let dir: string;
let servers: BillServers;
const events: BillServerEvent[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'settle-file-servers-'));
  dir = join(tmp, 'bills');
  mkdirSync(join(dir, 'bank'), { recursive: true });
  writeFileSync(join(dir, 'bank', 'bill_20260309.csv'), BILL);
  mkdirSync(join(tmp, 'private'));
  writeFileSync(join(tmp, 'private', 'secret.txt'), 'not for clients');
  symlinkSync(join(tmp, 'private'), join(dir, 'escape'));
  servers = await startBillServers({
    dir,
    host: '127.0.0.1',
    sftp: { port: 0, hostKeyPem: generateHostKeyPem(), username: 'bills', password: PASSWORD },
    ftp: { port: 0, username: 'bills', password: PASSWORD },
    http: { port: 0 },
    log: (e) => events.push(e),
  });
});

afterAll(async () => {
  await servers.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function withSftp<T>(work: (sftp: SFTPWrapper, client: SftpClient) => Promise<T>): Promise<T> {
  const client = new SftpClient('test', { error: () => undefined, end: () => undefined, close: () => undefined });
  const sftp = await client.connect({ host: '127.0.0.1', port: servers.sftp?.port ?? 0, username: 'bills', password: PASSWORD, hostVerifier: () => true });
  try {
    return await work(sftp, client);
  } finally {
    await client.end();
  }
}

/** The SFTP status code of a raw request (0 = OK). */
function statusOf(run: (cb: (err: (Error & { code?: number }) | undefined | null) => void) => void): Promise<number> {
  return new Promise((resolve) => run((err) => resolve(err ? (err.code ?? -1) : 0)));
}

const PERMISSION_DENIED = 3;

describe('Given the SFTP server', () => {
  it('When a client reads, lists and asks for real paths, Then it sees the folder as /', async () => {
    await withSftp(async (_sftp, client) => {
      expect((await client.get('/bank/bill_20260309.csv')).toString()).toBe(BILL);
      expect(await client.realPath('.')).toBe('/');
      expect(await client.realPath('bank/../bank')).toBe('/bank');
      expect((await client.list('/bank')).map((f) => f.name)).toEqual(['bill_20260309.csv']);
      expect(await client.exists('/bank/none.csv')).toBe(false);
      expect((await client.stat('/bank/bill_20260309.csv')).size).toBe(Buffer.byteLength(BILL));
    });
  });

  it('When a client writes, removes, renames or makes a folder, Then permission is denied and nothing changes', async () => {
    await withSftp(async (sftp) => {
      expect(await statusOf((cb) => sftp.open('/bank/new.csv', 'w', (err) => cb(err)))).toBe(PERMISSION_DENIED);
      expect(await statusOf((cb) => sftp.open('/bank/bill_20260309.csv', 'r+', (err) => cb(err)))).toBe(PERMISSION_DENIED);
      expect(await statusOf((cb) => sftp.unlink('/bank/bill_20260309.csv', cb))).toBe(PERMISSION_DENIED);
      expect(await statusOf((cb) => sftp.rename('/bank/bill_20260309.csv', '/bank/x', cb))).toBe(PERMISSION_DENIED);
      expect(await statusOf((cb) => sftp.mkdir('/bank/sub', cb))).toBe(PERMISSION_DENIED);
      expect(await statusOf((cb) => sftp.setstat('/bank/bill_20260309.csv', { mode: 0o777 }, cb))).toBe(PERMISSION_DENIED);
    });
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(join(dir, 'bank'))).toEqual(['bill_20260309.csv']);
  });

  it('When a path climbs above / or a link leads outside, Then permission is denied', async () => {
    await withSftp(async (sftp) => {
      expect(await statusOf((cb) => sftp.stat('/../private/secret.txt', (err) => cb(err)))).toBe(PERMISSION_DENIED);
      expect(await statusOf((cb) => sftp.open('../../etc/passwd', 'r', (err) => cb(err)))).toBe(PERMISSION_DENIED);
      expect(await statusOf((cb) => sftp.open('/escape/secret.txt', 'r', (err) => cb(err)))).toBe(PERMISSION_DENIED);
      expect(await statusOf((cb) => sftp.opendir('/escape', (err) => cb(err)))).toBe(PERMISSION_DENIED);
    });
    expect(events).toContainEqual({ kind: 'refused', protocol: 'sftp', path: '/escape/secret.txt', reason: 'a link leads outside the root' });
  });

  it('When the password is wrong, Then the login is refused', async () => {
    const client = new SftpClient('test', { error: () => undefined, end: () => undefined, close: () => undefined });
    await expect(client.connect({ host: '127.0.0.1', port: servers.sftp?.port ?? 0, username: 'bills', password: 'nope', hostVerifier: () => true })).rejects.toThrow(/authentication/i);
    expect(events).toContainEqual({ kind: 'sftp_auth', username: 'bills', method: 'password', accepted: false });
  });

  it('Then the announced fingerprint is the SHA-256 of the key the server shows', async () => {
    let shown: Buffer | undefined;
    const client = new SftpClient('test', { error: () => undefined, end: () => undefined, close: () => undefined });
    await client.connect({
      host: '127.0.0.1',
      port: servers.sftp?.port ?? 0,
      username: 'bills',
      password: PASSWORD,
      hostVerifier: (key: Buffer) => {
        shown = key;
        return true;
      },
    });
    await client.end();
    const { createHash } = await import('node:crypto');
    expect(servers.sftp?.hostKeySha256).toBe(`SHA256:${createHash('sha256').update(shown ?? '').digest('base64').replace(/=+$/, '')}`);
  });
});

describe('Given the FTP server', () => {
  async function withFtp<T>(work: (c: FtpClient) => Promise<T>): Promise<T> {
    const c = new FtpClient(5000);
    await c.access({ host: '127.0.0.1', port: servers.ftp?.port ?? 0, user: 'bills', password: PASSWORD });
    try {
      return await work(c);
    } finally {
      c.close();
    }
  }
  const ftpCode = async (work: Promise<unknown>): Promise<number> =>
    work.then(
      () => 0,
      (e: unknown) => (e instanceof FTPError ? e.code : -1),
    );

  it('When a client lists and downloads, Then it gets the file', async () => {
    await withFtp(async (c) => {
      expect((await c.list('bank')).map((f) => f.name)).toEqual(['bill_20260309.csv']);
      const sink = new PassThrough();
      const chunks: Buffer[] = [];
      sink.on('data', (b: Buffer) => chunks.push(b));
      await c.downloadTo(sink, 'bank/bill_20260309.csv');
      expect(Buffer.concat(chunks).toString()).toBe(BILL);
    });
  });

  it('When a client uploads, deletes, renames or makes a folder, Then it is refused', async () => {
    await withFtp(async (c) => {
      expect(await ftpCode(c.uploadFrom(Readable.from(['x']), 'bank/new.csv'))).toBeGreaterThanOrEqual(500);
      expect(await ftpCode(c.remove('bank/bill_20260309.csv'))).toBeGreaterThanOrEqual(500);
      expect(await ftpCode(c.rename('bank/bill_20260309.csv', 'bank/x'))).toBeGreaterThanOrEqual(500);
      expect(await ftpCode(c.send('MKD bank/sub'))).toBeGreaterThanOrEqual(500);
    });
  });

  it('When a client follows a link outside the folder, Then it is refused', async () => {
    await withFtp(async (c) => {
      const sink = new Writable({ write: (_c, _e, done) => done() });
      expect(await ftpCode(c.downloadTo(sink, 'escape/secret.txt'))).toBeGreaterThanOrEqual(550);
      expect(await ftpCode(c.cd('/escape'))).toBe(550);
    });
  });

  it('When the password is wrong, Then 530', async () => {
    const c = new FtpClient(5000);
    expect(await ftpCode(c.access({ host: '127.0.0.1', port: servers.ftp?.port ?? 0, user: 'bills', password: 'nope' }))).toBe(530);
    c.close();
  });
});

describe('Given the HTTP server', () => {
  function raw(method: string, path: string): Promise<{ status: number; body: string; length: string | undefined }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: servers.http?.port, method, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, length: res.headers['content-length'] }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('When a file is asked for, Then 200 with its length; HEAD gives the length alone', async () => {
    expect(await raw('GET', '/bank/bill_20260309.csv')).toEqual({ status: 200, body: BILL, length: String(Buffer.byteLength(BILL)) });
    expect(await raw('HEAD', '/bank/bill_20260309.csv')).toMatchObject({ status: 200, body: '' });
  });

  it('When a path climbs with .. (plain or encoded) or a link leads out, Then 403', async () => {
    for (const path of ['/../private/secret.txt', '/bank/../../private/secret.txt', '/%2e%2e/private/secret.txt', '/bank/..%2f..%2fprivate', '/escape/secret.txt']) {
      expect((await raw('GET', path)).status).toBe(403);
    }
  });

  it('When a folder or a missing file is asked for, Then 404; a write method is 405', async () => {
    expect((await raw('GET', '/bank')).status).toBe(404);
    expect((await raw('GET', '/bank/none.csv')).status).toBe(404);
    expect((await raw('PUT', '/bank/new.csv')).status).toBe(405);
    expect((await raw('DELETE', '/bank/bill_20260309.csv')).status).toBe(405);
  });
});

describe('Given the path helpers and the options from the environment', () => {
  it('Then underRoot keeps paths under the root and refuses a climb past the top', () => {
    expect(underRoot('/srv', '/a/../b')?.clientPath).toBe('/b');
    expect(underRoot('/srv', '../etc')).toBeUndefined();
    expect(underRoot('/srv', 'a\u0000b')).toBeUndefined();
    expect(httpPathSegments('/a/%2e%2e/b')).toBeUndefined();
    expect(httpPathSegments('/a/b%20c?x=1')).toEqual(['a', 'b c']);
  });

  it('When SFTP or FTP is asked without a password, Then the options are refused', async () => {
    expect(await billServersOptionsFromEnv({ dir, host: '127.0.0.1', sftpPort: 0 }, {})).toMatchObject({ ok: false, message: expect.stringContaining('SETTLE_SIM_FILES_PASSWORD') });
    const ok = await billServersOptionsFromEnv({ dir, host: '127.0.0.1', ftpPort: 0, httpPort: 0 }, { SETTLE_SIM_FILES_PASSWORD: 'pw' });
    expect(ok).toMatchObject({ ok: true, value: { ftp: { username: 'bills', password: 'pw' }, http: { port: 0 } } });
  });

  it('When the host key file is given, Then its key is used', async () => {
    const pem = generateHostKeyPem();
    writeFileSync(join(tmp, 'host.key'), pem);
    const r = await billServersOptionsFromEnv({ dir, host: '127.0.0.1', sftpPort: 0 }, { SETTLE_SIM_FILES_PASSWORD: 'pw', SETTLE_SIM_SFTP_HOST_KEY_FILE: join(tmp, 'host.key') });
    expect(r.ok && r.value.sftp && hostKeyFingerprint(r.value.sftp.hostKeyPem)).toBe(hostKeyFingerprint(pem));
  });

  it('When the folder does not exist, Then the servers do not start', async () => {
    await expect(startBillServers({ dir: join(tmp, 'missing'), host: '127.0.0.1', http: { port: 0 } })).rejects.toThrow(/does not exist/);
  });
});
