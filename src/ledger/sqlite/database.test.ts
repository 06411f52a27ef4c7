// hasTable keeps one prepared query per connection: it must still see a table created after its first answer,
// and answer for each connection by its own file. Migrations, when another process migrates the same file
// between this one's read of the version and its write lock (the night chain starts two steps at once on a
// fresh file), must not run twice.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTable, migrateModule, openSqlite } from './database.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { SqliteLedgerStore } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'settle-has-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Given a connection asked whether it has a table', () => {
  it('When the table is created after a first "no", Then the next answer is "yes"; another file answers for itself', () => {
    const a = openSqlite(join(dir, 'a.db'), { create: true });
    const b = openSqlite(join(dir, 'b.db'), { create: true });
    try {
      expect(hasTable(a, 'merchants')).toBe(false);
      a.exec('CREATE TABLE merchants (merchant_id TEXT PRIMARY KEY)');
      expect(hasTable(a, 'merchants')).toBe(true);
      expect(hasTable(b, 'merchants')).toBe(false);
      a.exec('DROP TABLE merchants');
      expect(hasTable(a, 'merchants')).toBe(false);
    } finally {
      a.close();
      b.close();
    }
  });
});

/**
 * Another process migrating: a thread that takes the write lock, runs `sql` and commits only `holdMs` later.
 * Resolves once the lock is held (the migration is written but not committed), with a promise of the end
 * (in an object: an async function returning a bare promise would wait for it).
 */
async function migratingElsewhere(path: string, sql: readonly string[], holdMs: number): Promise<{ ended: Promise<void> }> {
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const Database = require('better-sqlite3');
     const db = new Database(workerData.path);
     db.exec('BEGIN IMMEDIATE');
     for (const s of workerData.sql) db.exec(s);
     parentPort.postMessage('locked');
     setTimeout(() => { db.exec('COMMIT'); db.close(); parentPort.postMessage('committed'); }, workerData.holdMs);`,
    { eval: true, workerData: { path, sql, holdMs } },
  );
  const messages: string[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', () => (messages.includes('committed') ? resolve() : reject(new Error('the migrating thread did not commit'))));
  });
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: string) => {
      messages.push(m);
      if (m === 'locked') resolve();
    });
    worker.on('error', reject);
  });
  return { ended };
}

describe('Given another process migrating the same file at the same moment', () => {
  it('When a module migrates while the other holds the write lock, Then it waits, sees the new version and runs nothing twice', async () => {
    const path = join(dir, 'module-race.db');
    const db = openSqlite(path, { create: true });
    try {
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT');
      const migrations = ['CREATE TABLE widgets (id TEXT PRIMARY KEY)', 'CREATE TABLE gadgets (id TEXT PRIMARY KEY)'];
      const { ended } = await migratingElsewhere(
        path,
        [...migrations, "INSERT INTO schema_migrations (module, version) VALUES ('widgets', 2)"],
        300,
      );
      // Reads version 0 (the other's write is not committed), then waits on the lock until the other commits.
      migrateModule(db, 'widgets', migrations);
      await ended;
      expect(hasTable(db, 'gadgets')).toBe(true);
      expect(db.prepare("SELECT version FROM schema_migrations WHERE module = 'widgets'").get()).toEqual({ version: 2n });
    } finally {
      db.close();
    }
  });

  it('When the ledger opens a new file while another process migrates it, Then it opens at the current version', async () => {
    const path = join(dir, 'ledger-race.db');
    openSqlite(path, { create: true }).close();
    const { ended } = await migratingElsewhere(path, [...MIGRATIONS, `PRAGMA user_version = ${SCHEMA_VERSION}`], 300);
    const store = SqliteLedgerStore.open(path);
    try {
      await ended;
      const db = openSqlite(path);
      expect(db.pragma('user_version', { simple: true })).toBe(BigInt(SCHEMA_VERSION));
      db.close();
    } finally {
      await store.close();
    }
  });
});
