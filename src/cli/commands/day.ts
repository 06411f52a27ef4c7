// settle day status | cutoff: the business day (会计日) and its close (日切).

import type { Command } from 'commander';
import { SqliteJobRunStore } from '../../batch/jobs/sqlite/job-store.js';
import { failure, isIsoDate, Ledger, LedgerError, type CutoffResult, type LedgerFailure } from '../../ledger/index.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { businessDayStatus, snapshotCounts } from '../../ledger/sqlite/trial-balance-reads.js';
import { withJobRun, withLedger, type Run } from '../context.js';
import { EXIT } from '../errors.js';
import { money, table } from '../output.js';
import { failureJson } from '../views.js';

/** A cutoff the ledger refused: recorded as a failed run, shown with the ledger's code. */
class CutoffRefused extends Error {
  readonly refusal: { readonly code: string; readonly message: string; readonly day_status: string | null };
  constructor(refusal: CutoffRefused['refusal']) {
    super(`${refusal.code}: ${refusal.message}`);
    this.name = 'CutoffRefused';
    this.refusal = refusal;
  }
}

/**
 * The ledger's code is kept (`cutoff_out_of_order` for a day closed already and for one not open yet,
 * so scripts keep working); `day_status` tells the two apart.
 */
function refusal(f: LedgerFailure, dayStatus: 'open' | 'closed' | undefined, date: string): CutoffRefused['refusal'] {
  const already = f.code === 'cutoff_out_of_order' && dayStatus === 'closed';
  return { code: f.code, message: already ? `Business day ${date} is closed already; a day is closed once. ${f.message}` : f.message, day_status: dayStatus ?? null };
}

export function registerDayCommands(program: Command, run: Run): void {
  const day = program.command('day').description('business days: status and cutoff (日切)');

  day
    .command('status')
    .description('the open business day and the last closed ones')
    .option('--limit <n>', 'how many days to list', '10')
    .action(
      run(async (ctx, opts: { limit: string }) => {
        const limit = Math.max(1, Math.min(Number.parseInt(opts.limit, 10) || 10, 1000));
        const { days, runs, snapshots } = await withLedger(ctx, async (_l, store) => {
          const listed = await store.listBusinessDays(limit);
          return {
            days: listed,
            runs: new SqliteJobRunStore(store.db).list({ job: 'cutoff', limit: limit * 4 }),
            snapshots: snapshotCounts(store.db, listed.map((d) => d.businessDate)),
          };
        });
        const lastRun = (date: string) => runs.find((r) => r.businessDate === date);
        const open = days.find((d) => d.status === 'open');
        ctx.out.result(
          {
            ok: true,
            open_day: open?.businessDate ?? null,
            days: days.map((d) => ({
              business_date: d.businessDate,
              status: d.status,
              opened_at: new Date(d.openedAtMs).toISOString(),
              closed_at: d.closedAtMs === null ? null : new Date(d.closedAtMs).toISOString(),
              accounts_snapshotted: snapshots.get(d.businessDate) ?? 0,
              last_cutoff_run: ((r) =>
                r === undefined
                  ? null
                  : { run_id: r.runId, outcome: r.outcome, started_at: new Date(r.startedAtMs).toISOString(), ended_at: r.endedAtMs === null ? null : new Date(r.endedAtMs).toISOString(), exit_code: r.exitCode, error: r.error })(lastRun(d.businessDate)),
            })),
          },
          () =>
            [
              `Open business day: ${open?.businessDate ?? '(none — run settle init)'}`,
              table(
                ['business date', 'status', 'opened', 'closed', '>accounts', 'last cutoff run'],
                days.map((d) => [
                  d.businessDate,
                  d.status,
                  new Date(d.openedAtMs).toISOString(),
                  d.closedAtMs === null ? '-' : new Date(d.closedAtMs).toISOString(),
                  String(snapshots.get(d.businessDate) ?? 0),
                  ((r) => (r === undefined ? '-' : `#${r.runId} ${r.outcome}`))(lastRun(d.businessDate)),
                ]),
              ),
            ].join('\n'),
        );
        return EXIT.ok;
      }),
    );

  day
    .command('cutoff')
    .description('close the open business day, open the next, snapshot every account (one transaction)')
    .option('--date <YYYY-MM-DD>', 'the day to close; must be the open day (default: the open day)')
    .action(
      run(async (ctx, opts: { date?: string }) => {
        if (opts.date !== undefined && !isIsoDate(opts.date)) {
          throw new LedgerError('input_invalid', `--date ${opts.date} is not a YYYY-MM-DD date.`);
        }
        const date = opts.date ?? (await withLedger(ctx, (_l, store) => store.openDay()));
        if (date === undefined) {
          const f = failure('no_open_day', 'The ledger has no open business day.');
          ctx.out.result(failureJson(f), () => `refused: ${f.code}: ${f.message}`);
          return EXIT.abort;
        }
        let result: CutoffResult;
        try {
          // Under the run log and its lock; the cutoff itself is one transaction, so a run killed half
          // way leaves the day open and nothing snapshotted, and the next run closes it once.
          ({ result } = await withJobRun(ctx, 'cutoff', date, async (db) => {
            const r = await new Ledger(SqliteLedgerStore.attach(db, ctx.dbPath), ctx.io.clock).cutoff(date);
            if ('ok' in r) throw new CutoffRefused(refusal(r, businessDayStatus(db, date), date));
            const ok = r.totals.every((t) => t.debits === t.credits);
            return { result: r, outcome: ok ? 'succeeded' : 'findings', counts: { accounts_snapshotted: r.accountsSnapshotted, opened_date: r.openedDate } };
          }));
        } catch (e) {
          if (!(e instanceof CutoffRefused)) throw e;
          ctx.out.result({ ok: false, ...e.refusal }, () => `refused: ${e.refusal.code}: ${e.refusal.message}`);
          return EXIT.abort;
        }
        const balanced = result.totals.every((t) => t.debits === t.credits);
        ctx.out.result(
          {
            ok: true,
            closed_date: result.closedDate,
            opened_date: result.openedDate,
            accounts_snapshotted: result.accountsSnapshotted,
            balanced,
            totals: result.totals.map((t) => ({ currency: t.currency, debits_minor: t.debits.toString(), credits_minor: t.credits.toString() })),
          },
          () =>
            [
              `Closed ${result.closedDate}; ${result.openedDate} is open. ${result.accountsSnapshotted} account(s) snapshotted.`,
              table(
                ['currency', '>debits', '>credits'],
                result.totals.map((t) => [t.currency, money(t.debits, t.currency), money(t.credits, t.currency)]),
              ),
              balanced ? 'Debits equal credits in every currency.' : 'DEBITS AND CREDITS DIFFER.',
            ].join('\n'),
        );
        return balanced ? EXIT.ok : EXIT.findings;
      }),
    );
}
