// Helpers for the fetch tests: temp folders, a fake clock whose sleep moves time, a real SQLite fetch
// log, a channel config around a source, a self-signed certificate, free ports.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite, type SqliteConnection } from '../../../ledger/sqlite/database.js';
import type { ReconChannelConfig } from '../config.js';
import { ReconError } from '../errors.js';
import { SqliteFetchLogStore } from '../sqlite/fetch-store.js';

export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `settle-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A clock that only moves when the code under test sleeps (or the test says so). */
export function fakeTime(startMs = Date.parse('2026-03-10T02:00:00Z')): {
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  sleeps: number[];
  advance: (ms: number) => void;
} {
  let nowMs = startMs;
  const sleeps: number[] = [];
  return {
    clock: () => nowMs,
    sleep: async (ms) => {
      sleeps.push(ms);
      nowMs += ms;
    },
    sleeps,
    advance: (ms) => {
      nowMs += ms;
    },
  };
}

export function fetchLog(): { db: SqliteConnection; store: SqliteFetchLogStore; close: () => void } {
  const db = openSqlite(':memory:');
  return { db, store: SqliteFetchLogStore.open(db), close: () => db.close() };
}

export function channelWith(source: unknown, channel = 'bank'): ReconChannelConfig {
  return { channel, format: 'wechat-trade', currency: 'CNY', source, suspense_days: 1 };
}

/** Every regular file under `dir` (recursively), skipping the archive's temp folder. */
export function filesUnder(dir: string): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(filesUnder(path));
    else out.push(path);
  }
  return out;
}

/** A self-signed certificate for 127.0.0.1 and localhost (openssl), for FTPS and HTTPS tests. */
export function selfSignedCert(dir: string): { cert: string; key: string; certFile: string } {
  const keyFile = join(dir, 'tls.key');
  const certFile = join(dir, 'tls.crt');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`Nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms.`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The ReconError a fetch refused with; fails the test when it resolved or threw something else. */
export async function refusal(work: Promise<unknown>): Promise<ReconError> {
  const e = await work.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof ReconError)) throw new Error(`expected a ReconError, got ${e === undefined ? 'a result' : String(e)}`);
  return e;
}
