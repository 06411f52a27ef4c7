import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseChart } from '../chart-config.js';
import { LedgerError } from '../errors.js';
import { Ledger } from '../ledger.js';
import { openTestLedger, T0, TEST_CHART, transfer } from '../test-support.js';
import { SCHEMA_VERSION } from './migrations.js';
import { SqliteLedgerStore } from './store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof LedgerError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('Given another connection committing writes all the time', () => {
  it('When accounts are opened outside a transaction, Then each opening takes the write lock first and none fails with SQLITE_BUSY_SNAPSHOT', async () => {
    const path = join(dir, 'busy.db');
    const t = await openTestLedger(path);
    t.store.db.exec('CREATE TABLE busy_probe (n INTEGER)');
    // The other writer: a thread with its own connection, one small transaction after another until told to stop.
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const writer = new Worker(
      `const { workerData } = require('node:worker_threads');
       const Database = require(workerData.module);
       const db = new Database(workerData.path);
       db.pragma('busy_timeout = 5000');
       const insert = db.prepare('INSERT INTO busy_probe VALUES (?)');
       let n = 0;
       while (Atomics.load(workerData.stop, 0) === 0) db.transaction(() => insert.run(n++)).immediate();
       db.close();`,
      { eval: true, workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), path, stop } },
    );
    const exited = new Promise<number>((done) => writer.once('exit', done));
    try {
      while ((t.store.db.prepare('SELECT count(*) FROM busy_probe').pluck().get() as bigint) < 10n) await new Promise((done) => setTimeout(done, 5));
      // A deferred transaction reads first; a commit by the writer before its insert makes SQLite refuse the
      // upgrade to a write at once (SQLITE_BUSY_SNAPSHOT), whatever the busy timeout.
      for (let i = 0; i < 2_000; i++) {
        t.store.ensureAccountsSync([{ accountId: `busy-${i}`, subjectCode: '2202', ownerKind: 'merchant', ownerId: `MB${i}`, currency: 'CNY', flags: 0, status: 'active' }], T0);
      }
    } finally {
      Atomics.store(stop, 0, 1);
      expect(await exited).toBe(0);
    }
    expect(t.store.db.prepare("SELECT count(*) FROM accounts WHERE account_id LIKE 'busy-%'").pluck().get()).toBe(2000n);
    expect(Number(t.store.db.prepare('SELECT count(*) FROM busy_probe').pluck().get())).toBeGreaterThan(10);
    await t.store.close();
  }, 60_000);
});

describe('Given a database file', () => {
  it('When it does not exist and create is not asked, Then db_not_found and no file appears', () => {
    expect(codeOf(() => SqliteLedgerStore.open(join(dir, 'missing.db')))).toBe('db_not_found');
  });

  it('When it is opened, Then WAL, synchronous=FULL, a busy timeout and the current schema version are set', () => {
    const store = SqliteLedgerStore.open(join(dir, 'l.db'), { create: true });
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2n); // FULL
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(5000n);
    expect(store.db.pragma('user_version', { simple: true })).toBe(BigInt(SCHEMA_VERSION));
    store.db.close();
  });

  it('When it was written by a newer settle, Then schema_too_new and it is left untouched', () => {
    const path = join(dir, 'new.db');
    const store = SqliteLedgerStore.open(path, { create: true });
    store.db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    store.db.close();
    expect(codeOf(() => SqliteLedgerStore.open(path))).toBe('schema_too_new');
    // Not downgraded or half-migrated: a second attempt sees the same newer version.
    expect(codeOf(() => SqliteLedgerStore.open(path))).toBe('schema_too_new');
  });

  it('When reopened, Then migrations are not applied twice and data survives', async () => {
    const path = join(dir, 'l.db');
    const t = await openTestLedger(path);
    await t.ledger.post(transfer('a', 'chan', 'merch', 7n));
    await t.store.close();
    const store = SqliteLedgerStore.open(path);
    expect((await store.getEntry('a'))?.postings[0]?.amountMinor).toBe(7n);
    await store.close();
  });
});

describe('Given entries in the store', () => {
  it('When a counter goes beyond 2^53, Then it is read back exactly (safe-integer reads)', async () => {
    const t = await openTestLedger();
    const max = 2n ** 53n - 1n;
    await t.ledger.postEntries([transfer('a', 'chan', 'merch', max), transfer('b', 'chan', 'merch', max), transfer('c', 'chan', 'merch', 3n)]);
    const [chan] = await t.ledger.accounts({ accountId: 'chan' });
    expect(chan?.debitsPosted).toBe(2n * max + 3n);
    await t.store.close();
  });

  it('When someone tries to UPDATE or DELETE an entry or a posting, Then SQLite refuses', async () => {
    const t = await openTestLedger();
    await t.ledger.post(transfer('a', 'chan', 'merch', 7n));
    expect(() => t.store.db.prepare("UPDATE entries SET memo = 'x'").run()).toThrow(/immutable/);
    expect(() => t.store.db.prepare('DELETE FROM entries').run()).toThrow(/immutable/);
    expect(() => t.store.db.prepare('UPDATE postings SET amount_minor = 1').run()).toThrow(/immutable/);
    expect(() => t.store.db.prepare('DELETE FROM postings').run()).toThrow(/immutable/);
    await t.store.close();
  });

  it('When an entry is altered behind the triggers, Then verify names the first entry that does not add up', async () => {
    const t = await openTestLedger();
    await t.ledger.postEntries([transfer('a', 'chan', 'merch', 7n), transfer('b', 'chan', 'merch', 8n), transfer('c', 'chan', 'merch', 9n)]);
    expect((await t.ledger.verify()).ok).toBe(true);
    t.store.db.exec("DROP TRIGGER entries_no_update; UPDATE entries SET memo = 'tampered' WHERE entry_id = 'b'");
    expect(await t.ledger.verify()).toMatchObject({ ok: false, problem: { kind: 'entry', id: 'b' } });
    await t.store.close();
  });

  it('When a posting amount is altered, Then verify fails at that entry', async () => {
    const t = await openTestLedger();
    await t.ledger.postEntries([transfer('a', 'chan', 'merch', 7n), transfer('b', 'chan', 'merch', 8n)]);
    t.store.db.exec("DROP TRIGGER postings_no_update; UPDATE postings SET amount_minor = 9 WHERE entry_seq = 2");
    expect(await t.ledger.verify()).toMatchObject({ ok: false, problem: { kind: 'entry', id: 'b' } });
    await t.store.close();
  });

  it('When an account counter is altered, Then verify names the account', async () => {
    const t = await openTestLedger();
    await t.ledger.post(transfer('a', 'chan', 'merch', 7n));
    t.store.db.exec("UPDATE accounts SET credits_posted = 8 WHERE account_id = 'merch'");
    expect(await t.ledger.verify()).toMatchObject({ ok: false, problem: { kind: 'account', id: 'merch' } });
    await t.store.close();
  });

  it('When the last entry is deleted behind the triggers, Then the counters no longer add up', async () => {
    const t = await openTestLedger();
    await t.ledger.postEntries([transfer('a', 'chan', 'merch', 7n), transfer('b', 'chan', 'merch', 8n)]);
    t.store.db.exec('DROP TRIGGER postings_no_delete; DROP TRIGGER entries_no_delete; DELETE FROM postings WHERE entry_seq = 2; DELETE FROM entries WHERE seq = 2');
    expect(await t.ledger.verify()).toMatchObject({ ok: false, problem: { kind: 'account' } });
    await t.store.close();
  });

  it('When the journal is read by page, date and account, Then the right entries come back with their postings', async () => {
    const t = await openTestLedger();
    await t.ledger.postEntries([transfer('a', 'chan', 'merch', 1n), transfer('b', 'chan', 'user', 2n), transfer('c', 'chan', 'merch', 3n)]);
    const page = await t.store.readJournal({ afterSeq: 1, limit: 1 });
    expect(page.map((e) => e.entryId)).toEqual(['b']);
    const forUser = await t.store.readJournal({ limit: 10, accountId: 'user' });
    expect(forUser.map((e) => e.entryId)).toEqual(['b']);
    const newest = await t.store.readJournal({ limit: 2, descending: true, businessDate: '2026-11-26' });
    expect(newest.map((e) => e.entryId)).toEqual(['c', 'b']);
    expect(newest[0]?.postings).toHaveLength(2);
    await t.store.close();
  });
});

describe('Given a ledger without an open business day', () => {
  it('When an entry is posted, Then no_open_day and nothing is written', async () => {
    const store = SqliteLedgerStore.open(':memory:');
    await store.loadChart(parseChart(TEST_CHART), 0);
    const ledger = new Ledger(store);
    expect(await ledger.post(transfer('a', 'chan', 'merch', 1n))).toMatchObject({ ok: false, code: 'no_open_day' });
    expect(await ledger.cutoff()).toMatchObject({ ok: false, code: 'no_open_day' });
    expect(await store.readJournal({ limit: 10 })).toHaveLength(0);
    await store.close();
  });
});

describe('Given a chart loaded twice', () => {
  it('When it is the same, Then nothing is added the second time', async () => {
    const t = await openTestLedger();
    expect(await t.store.loadChart(parseChart(TEST_CHART), 0)).toEqual({ subjectsAdded: 0, accountsAdded: 0 });
    await t.store.close();
  });
  it('When an account changes its currency, Then config_conflict and nothing is written', async () => {
    const t = await openTestLedger();
    const changed = { ...TEST_CHART, accounts: TEST_CHART.accounts?.map((a) => (a.account_id === 'merch' ? { ...a, currency: 'USD' } : a)) };
    await expect(t.store.loadChart(parseChart(changed), 0)).rejects.toMatchObject({ code: 'config_conflict' });
    const [merch] = await t.ledger.accounts({ accountId: 'merch' });
    expect(merch?.currency).toBe('CNY');
    await t.store.close();
  });
  it('When a subject changes its type, Then config_conflict', async () => {
    const t = await openTestLedger();
    const changed = { ...TEST_CHART, subjects: TEST_CHART.subjects.map((s) => (s.code === '6001' ? { ...s, type: 'expense' as const } : s)) };
    await expect(t.store.loadChart(parseChart(changed), 0)).rejects.toMatchObject({ code: 'config_conflict' });
    await t.store.close();
  });
});

describe('Given module migrations on the shared database', () => {
  it('When a module migrates, Then it runs once, and a newer module version is schema_too_new', async () => {
    const { migrateModule, openSqlite } = await import('./database.js');
    const path = join(dir, 'm.db');
    const db = openSqlite(path, { create: true });
    const migrations = ['CREATE TABLE widgets (id INTEGER PRIMARY KEY) STRICT', 'ALTER TABLE widgets ADD COLUMN name TEXT'];
    migrateModule(db, 'widgets', migrations);
    migrateModule(db, 'widgets', migrations);
    expect(db.prepare('SELECT version FROM schema_migrations WHERE module = ?').get('widgets')).toEqual({ version: 2n });
    expect(codeOf(() => migrateModule(db, 'widgets', migrations.slice(0, 1)))).toBe('schema_too_new');
    const ledger = SqliteLedgerStore.attach(db, path);
    expect(await ledger.openDay()).toBeUndefined();
    db.close();
  });
});

describe('Given the account cache of the write path', () => {
  it('When another connection freezes an account, Then the next post sees it (data_version)', async () => {
    const path = join(dir, 'cache.db');
    const t = await openTestLedger(path);
    await t.ledger.post(transfer('a', 'chan', 'merch', 1n)); // caches chan and merch
    const other = SqliteLedgerStore.open(path);
    await other.setAccountStatus('merch', 'frozen');
    await other.close();
    expect(await t.ledger.post(transfer('b', 'chan', 'merch', 1n))).toMatchObject({ ok: false, code: 'account_frozen' });
    await t.store.close();
  });

  it('When an enclosing unit rolls back after posting, Then the cache forgets the undone counters', async () => {
    const { GroupCommitter } = await import('./group-commit.js');
    const t = await openTestLedger();
    await t.ledger.post(transfer('fund', 'chan', 'user', 100n));
    const gc = new GroupCommitter(t.store.db, { onRollback: () => t.store.invalidateAccountCache() });
    await expect(
      gc.run(() => {
        t.store.postEntriesSync([transfer('spend', 'user', 'merch', 100n)], Date.now());
        throw new Error('the unit fails after posting');
      }),
    ).rejects.toThrow(/after posting/);
    // Had the cache kept the rolled-back debit, this would be insufficient_funds.
    expect(await t.ledger.post(transfer('spend-2', 'user', 'merch', 100n))).toMatchObject({ ok: true });
    expect((await t.ledger.verify()).ok).toBe(true);
    await t.store.close();
  });

  it('When an enclosing unit rolls back and nobody tells the cache, Then the counters would drift (the hook matters)', async () => {
    const { GroupCommitter } = await import('./group-commit.js');
    const t = await openTestLedger();
    await t.ledger.post(transfer('fund', 'chan', 'user', 100n));
    const gc = new GroupCommitter(t.store.db);
    await gc
      .run(() => {
        t.store.postEntriesSync([transfer('spend', 'user', 'merch', 100n)], Date.now());
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    expect(await t.ledger.post(transfer('spend-2', 'user', 'merch', 100n))).toMatchObject({ ok: false, code: 'insufficient_funds' });
    await t.store.close();
  });
});
