// The SQLite adapter of the job run log (migration module "jobs"). `begin` runs in an IMMEDIATE
// transaction, so two processes racing for the same job and date cannot both win.

import type { SqliteConnection } from '../../../ledger/sqlite/database.js';
import { migrateModule } from '../../../ledger/sqlite/database.js';
import type { BeginResult, JobRun, JobRunStore, RunOutcome } from '../port.js';

export const JOB_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE job_runs (
    run_id INTEGER PRIMARY KEY, job TEXT NOT NULL, business_date TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('running', 'succeeded', 'findings', 'failed', 'abandoned')),
    started_at_ms INTEGER NOT NULL, ended_at_ms INTEGER, counts TEXT, exit_code INTEGER, error TEXT,
    holder TEXT NOT NULL, lease_until_ms INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX job_runs_by_job ON job_runs (job, business_date, run_id);
  CREATE UNIQUE INDEX job_runs_one_running ON job_runs (job, business_date) WHERE outcome = 'running';
  `,
];

type Row = Record<string, unknown>;

function toRun(r: Row): JobRun {
  const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v as bigint));
  return {
    runId: Number(r['run_id'] as bigint),
    job: r['job'] as string,
    businessDate: r['business_date'] as string,
    outcome: r['outcome'] as RunOutcome,
    startedAtMs: Number(r['started_at_ms'] as bigint),
    endedAtMs: n(r['ended_at_ms']),
    counts: (r['counts'] as string | null) ?? null,
    exitCode: n(r['exit_code']),
    error: (r['error'] as string | null) ?? null,
    holder: r['holder'] as string,
    leaseUntilMs: Number(r['lease_until_ms'] as bigint),
  };
}

export class SqliteJobRunStore implements JobRunStore {
  private readonly db: SqliteConnection;

  constructor(db: SqliteConnection) {
    migrateModule(db, 'jobs', JOB_MIGRATIONS);
    this.db = db;
  }

  begin(job: string, businessDate: string, holder: string, nowMs: number, leaseMs: number): BeginResult {
    const attempt = this.db.transaction((): BeginResult => {
      const live = this.db.prepare("SELECT * FROM job_runs WHERE job = ? AND business_date = ? AND outcome = 'running'").get(job, businessDate) as Row | undefined;
      let tookOver: JobRun | null = null;
      if (live) {
        const run = toRun(live);
        if (run.leaseUntilMs > nowMs) return { ok: false, holder: run };
        this.db.prepare("UPDATE job_runs SET outcome = 'abandoned', ended_at_ms = ?, error = 'lease lapsed: the run stopped without finishing' WHERE run_id = ?").run(nowMs, run.runId);
        tookOver = run;
      }
      const info = this.db
        .prepare("INSERT INTO job_runs (job, business_date, outcome, started_at_ms, holder, lease_until_ms) VALUES (?, ?, 'running', ?, ?, ?)")
        .run(job, businessDate, nowMs, holder, nowMs + leaseMs);
      const row = this.db.prepare('SELECT * FROM job_runs WHERE run_id = ?').get(info.lastInsertRowid) as Row;
      return { ok: true, run: toRun(row), tookOver };
    });
    return attempt.immediate();
  }

  abandon(runId: number, nowMs: number, reason: string): boolean {
    return this.db.prepare("UPDATE job_runs SET outcome = 'abandoned', ended_at_ms = ?, error = ? WHERE run_id = ? AND outcome = 'running'").run(nowMs, reason, runId).changes === 1;
  }

  heartbeat(runId: number, nowMs: number, leaseMs: number): boolean {
    return this.db.prepare("UPDATE job_runs SET lease_until_ms = ? WHERE run_id = ? AND outcome = 'running'").run(nowMs + leaseMs, runId).changes === 1;
  }

  finish(runId: number, outcome: Exclude<RunOutcome, 'running' | 'abandoned'>, nowMs: number, details: { counts?: Record<string, unknown>; exitCode: number; error?: string }): void {
    const counts = details.counts === undefined ? null : JSON.stringify(details.counts, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    this.db
      .prepare("UPDATE job_runs SET outcome = ?, ended_at_ms = ?, counts = ?, exit_code = ?, error = ? WHERE run_id = ? AND outcome = 'running'")
      .run(outcome, nowMs, counts, details.exitCode, details.error ?? null, runId);
  }

  list(filter: { job?: string; businessDate?: string; limit: number }): JobRun[] {
    const rows = this.db
      .prepare('SELECT * FROM job_runs WHERE (@job IS NULL OR job = @job) AND (@date IS NULL OR business_date = @date) ORDER BY run_id DESC LIMIT @limit')
      .all({ job: filter.job ?? null, date: filter.businessDate ?? null, limit: filter.limit }) as Row[];
    return rows.map(toRun);
  }
}
