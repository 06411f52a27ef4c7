import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteConnection } from '../../ledger/sqlite/database.js';
import { JobLockedError, localHolderGone, runJob, thisHolder, type JobOutcome } from './runner.js';
import { SqliteJobRunStore } from './sqlite/job-store.js';

let db: SqliteConnection;
let store: SqliteJobRunStore;
let now = 1_000_000;
const clock = (): number => now;

beforeEach(() => {
  db = openSqlite(':memory:');
  store = new SqliteJobRunStore(db);
});
afterEach(() => db.close());

describe('Given the job run log', () => {
  it('When a job runs, Then its run is recorded with outcome, counts and exit code', async () => {
    const r = await runJob({ store, clock, holder: 'h1' }, 'clear', '2026-11-26', async () => ({ result: 7, outcome: 'findings', counts: { merchants: 3n } }));
    expect(r).toMatchObject({ result: 7, outcome: 'findings' });
    expect(store.list({ limit: 5 })).toMatchObject([{ job: 'clear', businessDate: '2026-11-26', outcome: 'findings', exitCode: 2, counts: '{"merchants":"3"}', holder: 'h1' }]);
  });

  it('When a second run of the same job and date starts while the first holds the lease, Then it is refused with job_locked', async () => {
    let release = (): void => undefined;
    const first = runJob({ store, clock, holder: 'first' }, 'share', '2026-11-26', () => new Promise<JobOutcome<null>>((done) => (release = () => done({ result: null, outcome: 'succeeded' }))));
    await expect(runJob({ store, clock, holder: 'second' }, 'share', '2026-11-26', async () => ({ result: null, outcome: 'succeeded' }))).rejects.toMatchObject({
      code: 'job_locked',
    });
    // Another date or another job is not blocked.
    await expect(runJob({ store, clock }, 'share', '2026-11-27', async () => ({ result: 1, outcome: 'succeeded' }))).resolves.toMatchObject({ result: 1 });
    release();
    await first;
    await expect(runJob({ store, clock }, 'share', '2026-11-26', async () => ({ result: 2, outcome: 'succeeded' }))).resolves.toMatchObject({ result: 2 });
  });

  it('When a run dies without finishing, Then the next one is refused until the lease lapses, then takes over and marks it abandoned', async () => {
    const begun = store.begin('cutoff', '2026-11-26', 'dead', now, 30_000);
    expect(begun.ok).toBe(true);
    now += 29_999;
    await expect(runJob({ store, clock }, 'cutoff', '2026-11-26', async () => ({ result: 0, outcome: 'succeeded' }))).rejects.toBeInstanceOf(JobLockedError);
    now += 1;
    const r = await runJob({ store, clock }, 'cutoff', '2026-11-26', async (run) => ({ result: run.tookOver?.holder, outcome: 'succeeded' }));
    expect(r.result).toBe('dead');
    expect(store.list({ job: 'cutoff', limit: 5 }).map((x) => x.outcome)).toEqual(['succeeded', 'abandoned']);
  });

  it('When the holder of a live lease is a process of this host that is gone, Then the next run takes over at once', async () => {
    const { hostname } = await import('node:os');
    const { spawnSync } = await import('node:child_process');
    const gonePid = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    expect(store.begin('clear', '2026-11-26', `${hostname()}:${gonePid}`, now, 30_000).ok).toBe(true);
    const r = await runJob({ store, clock }, 'clear', '2026-11-26', async (run) => ({ result: run.tookOver?.holder, outcome: 'succeeded' }));
    expect(r.result).toBe(`${hostname()}:${gonePid}`);
    expect(store.list({ job: 'clear', limit: 5 })).toMatchObject([{ outcome: 'succeeded' }, { outcome: 'abandoned', error: expect.stringContaining('is gone') as unknown }]);
  });

  it('When the holder is alive, or on another host, Then it is not taken for gone', () => {
    expect(localHolderGone(thisHolder())).toBe(false);
    expect(localHolderGone(`some-other-host:${process.pid + 1}`)).toBe(false);
    expect(localHolderGone('not a holder')).toBe(false);
    expect(localHolderGone(`h:${process.ppid}`)).toBe(false);
  });

  it('When a heartbeat fails (the database busy), Then the job goes on, the next beat renews the lease, and the run finishes', async () => {
    let beats = 0;
    const flaky = Object.create(store) as SqliteJobRunStore;
    flaky.heartbeat = (runId, nowMs, leaseMs) => {
      beats += 1;
      if (beats === 1) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
      return store.heartbeat(runId, nowMs, leaseMs);
    };
    const r = await runJob({ store: flaky, clock, heartbeatMs: 5 }, 'share', '2026-11-26', async () => {
      while (beats < 3) await new Promise((done) => setTimeout(done, 5));
      return { result: beats, outcome: 'succeeded' };
    });
    expect(r.result).toBeGreaterThanOrEqual(3);
    expect(store.list({ limit: 1 })[0]).toMatchObject({ job: 'share', outcome: 'succeeded' });
  });

  it('When the work throws, Then the run is failed with the error and the error propagates', async () => {
    await expect(runJob({ store, clock }, 'clear', '2026-11-26', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(store.list({ limit: 1 })[0]).toMatchObject({ outcome: 'failed', exitCode: 1, error: 'Error: boom' });
  });
});
