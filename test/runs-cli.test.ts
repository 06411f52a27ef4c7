import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runJob } from '../src/batch/jobs/runner.js';
import { SqliteJobRunStore } from '../src/batch/jobs/sqlite/job-store.js';
import { openSqlite } from '../src/ledger/sqlite/database.js';
import { runCli } from './support/cli.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-runs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('Given a database with job runs', () => {
  it('When settle runs is asked, Then it lists them newest first, filtered by date and job', async () => {
    const db = openSqlite(join(dir, 'settle.db'), { create: true });
    const store = new SqliteJobRunStore(db);
    let now = Date.parse('2026-11-27T01:00:00Z');
    const clock = (): number => (now += 1000);
    await runJob({ store, clock, holder: 'cron' }, 'cutoff', '2026-11-26', async () => ({ result: null, outcome: 'succeeded', counts: { accounts: 19 } }));
    await runJob({ store, clock, holder: 'cron' }, 'clear', '2026-11-26', async () => ({ result: null, outcome: 'findings', counts: { merchants: 2 } }));
    await runJob({ store, clock, holder: 'cron' }, 'clear', '2026-11-27', async () => ({ result: null, outcome: 'succeeded' }));
    db.close();
    const place = { db: join(dir, 'settle.db'), cwd: dir, nowMs: Date.now };
    const all = await runCli(place, 'runs', '--json');
    expect(all.code).toBe(0);
    expect((all.json['runs'] as { job: string; business_date: string }[]).map((r) => `${r.job}@${r.business_date}`)).toEqual(['clear@2026-11-27', 'clear@2026-11-26', 'cutoff@2026-11-26']);
    const day = await runCli(place, 'runs', '--date', '2026-11-26', '--job', 'clear', '--json');
    expect(day.json['runs']).toMatchObject([{ job: 'clear', outcome: 'findings', exit_code: 2, counts: { merchants: 2 }, holder: 'cron' }]);
    const human = await runCli(place, 'runs');
    expect(human.stdout).toContain('findings');
  });

  it('When the date is malformed or the database is missing, Then usage / db_not_found and exit 1', async () => {
    const place = { db: join(dir, 'none.db'), cwd: dir, nowMs: Date.now };
    expect((await runCli(place, 'runs', '--date', '26-11-2026', '--json')).json).toMatchObject({ ok: false, code: 'usage' });
    const missing = await runCli(place, 'runs', '--json');
    expect(missing).toMatchObject({ code: 1, json: { ok: false, code: 'db_not_found' } });
  });
});
