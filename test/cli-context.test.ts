// How the CLI opens the database: FULL synchronous by default (a commit the operator saw survives a power
// cut), NORMAL only where a command asks for it (re-runnable bulk jobs such as recon import, match and run);
// a batch job waits up to BATCH_BUSY_TIMEOUT_MS for SQLite's write lock, other commands SQLite's 5 s.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BATCH_BUSY_TIMEOUT_MS, withJobRun, withLedger, type CommandContext } from '../src/cli/context.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { runCli } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'settle-cli-context-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function ledgerFile(name: string): Promise<CommandContext> {
  const dbPath = join(dir, name);
  await SqliteLedgerStore.open(dbPath, { create: true }).close();
  return { dbPath, io: { clock: () => Date.now() } } as unknown as CommandContext;
}

/** A second process that takes the file's write lock, holds it for `holdMs`, then commits. */
async function holdWriteLock(dbPath: string, holdMs: number): Promise<{ exited: Promise<number | null> }> {
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
       const db = new Database(${JSON.stringify(dbPath)});
       db.exec('BEGIN IMMEDIATE');
       process.stdout.write('held\\n');
       setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${holdMs});`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((done) => holder.once('exit', done));
  await new Promise<void>((done) => holder.stdout.once('data', () => done()));
  return { exited };
}

describe('Given a ledger database', () => {
  it('When a command opens it, Then synchronous is FULL unless the command asks for NORMAL', async () => {
    const ctx = await ledgerFile('sync.db');
    const mode = (store: SqliteLedgerStore): Promise<unknown> => Promise.resolve(store.db.pragma('synchronous', { simple: true }));
    // SQLite's numbers: 1 NORMAL, 2 FULL.
    expect(Number(await withLedger(ctx, (_l, store) => mode(store)))).toBe(2);
    expect(Number(await withLedger(ctx, (_l, store) => mode(store), { synchronous: 'NORMAL' }))).toBe(1);
    expect(Number(await withLedger(ctx, (_l, store) => mode(store), { synchronous: 'FULL' }))).toBe(2);
  });

  it('When a batch job opens it, Then it waits BATCH_BUSY_TIMEOUT_MS for the write lock; any other command 5 s', async () => {
    const ctx = await ledgerFile('busy.db');
    const timeout = (store: SqliteLedgerStore): Promise<number> => Promise.resolve(Number(store.db.pragma('busy_timeout', { simple: true })));
    expect(await withLedger(ctx, (_l, store) => timeout(store))).toBe(5000);
    expect(await withLedger(ctx, (_l, store) => timeout(store), { synchronous: 'NORMAL', busyTimeoutMs: BATCH_BUSY_TIMEOUT_MS })).toBe(BATCH_BUSY_TIMEOUT_MS);
    const { result } = await withJobRun(ctx, 'busy-probe', '2026-11-26', (db) => Promise.resolve({ result: Number(db.pragma('busy_timeout', { simple: true })), outcome: 'succeeded' as const }));
    expect(result).toBe(BATCH_BUSY_TIMEOUT_MS);
    expect(BATCH_BUSY_TIMEOUT_MS).toBeLessThan(30_000); // under the job's lease, which SQLite's wait keeps from being renewed
  });

  it('When another process holds the write lock for longer than 5 s, Then a batch job waits for it and does its work', async () => {
    const ctx = await ledgerFile('held.db');
    const holder = await holdWriteLock(ctx.dbPath, 5_600);
    const t0 = Date.now();
    const { result } = await withJobRun(ctx, 'busy-probe', '2026-11-26', () => Promise.resolve({ result: 'written', outcome: 'succeeded' as const }));
    const waitedMs = Date.now() - t0;
    expect(result).toBe('written');
    // The job's first write (its run record) could only go in once the holder had committed.
    expect(waitedMs).toBeGreaterThan(5_000);
    expect(await holder.exited).toBe(0);
  }, 30_000);

  it('When another process holds the write lock for longer than a command waits, Then it is refused with db_busy and exit 1, not as a bug', async () => {
    const db = join(dir, 'cli-busy.db');
    const place = { db, cwd: dir, nowMs: () => Date.parse('2026-11-26T08:00:00Z') };
    expect((await runCli(place, '--json', 'init', '--business-date', '2026-11-26')).code).toBe(0);
    const holder = await holdWriteLock(db, 6_500);
    const r = await runCli(place, '--json', 'merchant', 'add', 'Acme');
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'db_busy' });
    expect(String(r.json['message'])).toMatch(/SQLITE_BUSY.*Run it again/);
    expect(r.stderr).not.toContain('internal error');
    expect(await holder.exited).toBe(0);
    // Once the lock is free the same command goes through.
    expect((await runCli(place, '--json', 'merchant', 'add', 'Acme')).code).toBe(0);
  }, 30_000);
});
