// settle day status | cutoff: the business day (会计日) and its close (日切).

import type { Command } from 'commander';
import { isIsoDate, LedgerError } from '../../ledger/index.js';
import { withLedger, type Run } from '../context.js';
import { EXIT } from '../errors.js';
import { money, table } from '../output.js';
import { failureJson } from '../views.js';

export function registerDayCommands(program: Command, run: Run): void {
  const day = program.command('day').description('business days: status and cutoff (日切)');

  day
    .command('status')
    .description('the open business day and the last closed ones')
    .option('--limit <n>', 'how many days to list', '10')
    .action(
      run(async (ctx, opts: { limit: string }) => {
        const limit = Math.max(1, Math.min(Number.parseInt(opts.limit, 10) || 10, 1000));
        const days = await withLedger(ctx, (_l, store) => store.listBusinessDays(limit));
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
            })),
          },
          () =>
            [
              `Open business day: ${open?.businessDate ?? '(none — run settle init)'}`,
              table(
                ['business date', 'status', 'opened', 'closed'],
                days.map((d) => [
                  d.businessDate,
                  d.status,
                  new Date(d.openedAtMs).toISOString(),
                  d.closedAtMs === null ? '-' : new Date(d.closedAtMs).toISOString(),
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
        const result = await withLedger(ctx, (l) => l.cutoff(opts.date));
        if ('ok' in result) {
          ctx.out.result(failureJson(result), () => `refused: ${result.code}: ${result.message}`);
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
