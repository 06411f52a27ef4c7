// settle runs [--date D] [--job J]: the run log of batch jobs — what ran, when, how it ended, what it
// counted — newest first. Read-only; works while a job runs.

import type { Command } from 'commander';
import { SqliteJobRunStore } from '../../batch/jobs/sqlite/job-store.js';
import { openSqlite } from '../../ledger/sqlite/database.js';
import type { Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { table } from '../output.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
export const RUNS_LIMIT_MAX = 10_000;

export function registerRunsCommand(program: Command, run: Run): void {
  program
    .command('runs')
    .description('the run log of batch jobs (cutoff, clear, share, …): start, end, outcome, counts, exit code; newest first')
    .option('--date <date>', 'only runs for this business date (YYYY-MM-DD)')
    .option('--job <name>', 'only runs of this job')
    .option('--limit <n>', 'at most this many runs', '50')
    .action(
      run(async (ctx, opts: { date?: string; job?: string; limit: string }) => {
        if (opts.date !== undefined && !DATE.test(opts.date)) throw new AbortError('usage', `--date ${opts.date} is not YYYY-MM-DD.`);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > RUNS_LIMIT_MAX) throw new AbortError('usage', `--limit ${opts.limit} is not 1–${RUNS_LIMIT_MAX}.`);
        const db = openSqlite(ctx.dbPath);
        try {
          const runs = new SqliteJobRunStore(db).list({ ...(opts.job !== undefined && { job: opts.job }), ...(opts.date !== undefined && { businessDate: opts.date }), limit });
          const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
          const rows = runs.map((r) => ({
            run_id: r.runId,
            job: r.job,
            business_date: r.businessDate,
            outcome: r.outcome,
            started_at: iso(r.startedAtMs),
            ended_at: iso(r.endedAtMs),
            exit_code: r.exitCode,
            counts: r.counts === null ? null : (JSON.parse(r.counts) as unknown),
            error: r.error,
            holder: r.holder,
          }));
          ctx.out.result({ ok: true, runs: rows }, () =>
            rows.length === 0
              ? 'No runs.'
              : table(
                  ['>run', 'job', 'date', 'outcome', 'started', 'ended', '>exit', 'counts / error'],
                  rows.map((r) => [String(r.run_id), r.job, r.business_date, r.outcome, r.started_at ?? '', r.ended_at ?? '', r.exit_code === null ? '' : String(r.exit_code), r.error ?? (r.counts === null ? '' : JSON.stringify(r.counts))]),
                ),
          );
          return EXIT.ok;
        } finally {
          db.close();
        }
      }),
    );
}
