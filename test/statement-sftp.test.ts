// Statements over SFTP from the daemon (settle serve --statements-sftp-port): the user name is the
// merchant id, the key is the one the operator registered with `settle merchant sftp-key`, and each
// merchant sees only its own folder — no `..`, no absolute path, no symbolic link gets it anywhere else.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/cli/config.js';
import { generateHostKeyPem } from '../src/online/channel-sim/file-servers.js';
import { generateEd25519KeyPair } from '../src/online/sftp/keys.js';
import { startDaemon, type Daemon } from '../src/online/daemon.js';
import { runCli } from './support/cli.js';

const { Client } = ssh2;

const keyPair = generateEd25519KeyPair;

interface Session {
  readonly sftp: SFTPWrapper;
  end(): void;
}

function connect(port: number, username: string, privateKey: string): Promise<Session> {
  return new Promise((done, fail) => {
    const client = new Client();
    client.on('error', fail);
    client.on('ready', () => client.sftp((e, sftp) => (e ? fail(e) : done({ sftp, end: () => client.end() }))));
    client.connect({ host: '127.0.0.1', port, username, privateKey, readyTimeout: 5_000 });
  });
}

const list = (s: Session, path: string): Promise<string[]> =>
  new Promise((done, fail) => s.sftp.readdir(path, (e, entries) => (e ? fail(e) : done(entries.map((x) => x.filename).sort()))));
const read = (s: Session, path: string): Promise<string> =>
  new Promise((done, fail) => s.sftp.readFile(path, (e: Error | null | undefined, data: Buffer) => (e ? fail(e) : done(data.toString('utf8')))));
const write = (s: Session, path: string): Promise<void> => new Promise((done, fail) => s.sftp.writeFile(path, 'x', (e) => (e ? fail(e) : done())));

describe('statements over SFTP', () => {
  let dir: string;
  let daemon: Daemon;
  let port: number;
  let a: string;
  let b: string;
  const keyA = keyPair();
  const keyB = keyPair();
  const stranger = keyPair();
  const csvA = 'record_type\r\nsummary A\r\n';
  const csvB = 'record_type\r\nsummary B\r\n';
  const place = (): { db: string; cwd: string; nowMs: () => number } => ({ db: join(dir, 'settle.db'), cwd: dir, nowMs: () => Date.parse('2026-11-27T01:00:00Z') });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'settle-statements-sftp-'));
    expect((await runCli(place(), '--json', 'init', '--business-date', '2026-11-26')).code).toBe(0);
    a = String((await runCli(place(), '--json', 'merchant', 'add', 'Shop A')).json['merchant_id']);
    b = String((await runCli(place(), '--json', 'merchant', 'add', 'Shop B')).json['merchant_id']);
    writeFileSync(join(dir, 'a.pub'), keyA.public);
    writeFileSync(join(dir, 'b.pub'), keyB.public);
    const added = await runCli(place(), '--json', 'merchant', 'sftp-key', a, '--public-key', 'a.pub');
    expect(added.code).toBe(0);
    expect(added.json['added']).toBe(true);
    expect((await runCli(place(), '--json', 'merchant', 'sftp-key', b, '--public-key', 'b.pub')).code).toBe(0);
    const statements = join(dir, 'statements');
    mkdirSync(join(statements, a), { recursive: true });
    mkdirSync(join(statements, b), { recursive: true });
    writeFileSync(join(statements, a, `${a}_20261126.csv`), csvA);
    writeFileSync(join(statements, b, `${b}_20261126.csv`), csvB);
    symlinkSync(join(statements, b, `${b}_20261126.csv`), join(statements, a, 'link-to-b.csv'));
    symlinkSync(join(statements, b), join(statements, a, 'b-folder'));
    daemon = await startDaemon({
      dbPath: join(dir, 'settle.db'),
      config: loadConfig().online,
      port: 0,
      env: {},
      logger: false,
      channels: () => new Map(),
      statementsSftp: { port: 0, hostKeyPem: generateHostKeyPem() },
    });
    port = daemon.statementsSftpPort ?? 0;
  });
  afterAll(async () => {
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Given A\u2019s registered key, When A logs in, Then it lists its own folder (links out of it are hidden) and downloads the file byte for byte', async () => {
    const s = await connect(port, a, keyA.private);
    try {
      expect(await list(s, '/')).toEqual([`${a}_20261126.csv`]);
      expect(await list(s, '.')).toEqual([`${a}_20261126.csv`]);
      expect(await read(s, `/${a}_20261126.csv`)).toBe(readFileSync(join(dir, 'statements', a, `${a}_20261126.csv`), 'utf8'));
    } finally {
      s.end();
    }
  });

  it('Given A logged in, When it tries B\u2019s folder by .., by absolute path or through links, Then every attempt is refused', async () => {
    const s = await connect(port, a, keyA.private);
    try {
      await expect(list(s, '/..')).rejects.toThrow();
      await expect(list(s, `../${b}`)).rejects.toThrow();
      await expect(read(s, `/../${b}/${b}_20261126.csv`)).rejects.toThrow();
      await expect(read(s, join(dir, 'statements', b, `${b}_20261126.csv`))).rejects.toThrow();
      await expect(read(s, '/link-to-b.csv')).rejects.toThrow();
      await expect(list(s, '/b-folder')).rejects.toThrow();
      await expect(read(s, `/b-folder/${b}_20261126.csv`)).rejects.toThrow();
      await expect(write(s, '/new.csv')).rejects.toThrow();
    } finally {
      s.end();
    }
  });

  it('Given keys, When someone logs in as A with B\u2019s key or an unregistered one, Then authentication fails', async () => {
    await expect(connect(port, a, keyB.private)).rejects.toThrow(/authentication/i);
    await expect(connect(port, a, stranger.private)).rejects.toThrow(/authentication/i);
    await expect(connect(port, '../M1', stranger.private)).rejects.toThrow(/authentication/i);
    const s = await connect(port, b, keyB.private);
    try {
      expect(await read(s, `/${b}_20261126.csv`)).toBe(csvB);
    } finally {
      s.end();
    }
  });

  it('Given bad keys, When registered, Then sftp_key_invalid, merchant_not_found, and sftp_keys_too_many after ten', async () => {
    writeFileSync(join(dir, 'private'), stranger.private);
    expect((await runCli(place(), '--json', 'merchant', 'sftp-key', a, '--public-key', 'private')).json['code']).toBe('sftp_key_invalid');
    expect((await runCli(place(), '--json', 'merchant', 'sftp-key', 'M999999999', '--public-key', 'a.pub')).json['code']).toBe('merchant_not_found');
    expect((await runCli(place(), '--json', 'merchant', 'sftp-key', a, '--public-key', 'missing.pub')).json['code']).toBe('file_not_found');
    const again = await runCli(place(), '--json', 'merchant', 'sftp-key', a, '--public-key', 'a.pub');
    expect(again.json['added']).toBe(false);
    for (let i = 0; i < 9; i += 1) {
      writeFileSync(join(dir, `k${i}.pub`), keyPair().public);
      const r = await runCli(place(), '--json', 'merchant', 'sftp-key', a, '--public-key', `k${i}.pub`);
      expect(r.stdout + r.stderr).toContain('"added":true');
    }
    writeFileSync(join(dir, 'k10.pub'), keyPair().public);
    expect((await runCli(place(), '--json', 'merchant', 'sftp-key', a, '--public-key', 'k10.pub')).json['code']).toBe('sftp_keys_too_many');
  });
});
