import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteConnection } from './database.js';
import { GroupCommitter } from './group-commit.js';

let dir: string;
let db: SqliteConnection;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-gc-'));
  db = openSqlite(join(dir, 'g.db'), { create: true });
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL) STRICT');
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Given units of work arriving together', () => {
  it('When they are run, Then they share one transaction and each gets its own result', async () => {
    const gc = new GroupCommitter(db);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => gc.run(() => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(`k${i}`, i).changes)),
    );
    expect(results).toEqual(Array.from({ length: 50 }, () => 1));
    expect(gc.stats).toMatchObject({ batches: 1, units: 50, batchSizeMax: 50 });
  });

  it('When one unit throws, Then only its writes roll back and the others commit', async () => {
    const gc = new GroupCommitter(db);
    const insert = (k: string) => () => db.prepare('INSERT INTO t (k, v) VALUES (?, 1)').run(k);
    const outcomes = await Promise.allSettled([
      gc.run(insert('a')),
      gc.run(() => {
        db.prepare("INSERT INTO t (k, v) VALUES ('b', 1)").run();
        throw new Error('unit failed');
      }),
      gc.run(insert('a')), // duplicate key: a constraint error in its own savepoint
      gc.run(insert('c')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(db.prepare('SELECT k FROM t ORDER BY k').all()).toEqual([{ k: 'a' }, { k: 'c' }]);
  });

  it('When more units arrive than a batch holds, Then several bounded batches commit them all', async () => {
    const gc = new GroupCommitter(db, { batchMax: 10 });
    await Promise.all(Array.from({ length: 35 }, (_, i) => gc.run(() => db.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(`k${i}`, i))));
    expect(gc.stats.batches).toBe(4);
    expect(gc.stats.batchSizeMax).toBe(10);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 35n });
    await gc.drain();
  });
});
