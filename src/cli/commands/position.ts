// settle position plan --date D [--days N] [--out FILE]: each watched channel position and reserve
// account's balance, forecast and safety buffer, and the top-up transfers that keep them above it.
// Thin: parse flags, run src/batch/positions/ under the job run log, render. Exit 2 when an account is
// below its alert threshold or a shortfall cannot be funded.

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isIsoDate } from '../../ledger/index.js';
import type { PositionsConfig } from '../../batch/positions/config.js';
import { withJobRun, type CommandContext, type Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { money, table } from '../output.js';

const DAYS_MAX = 90;

async function positionsConfig(ctx: CommandContext, configFlag: string | undefined): Promise<PositionsConfig> {
  const { loadConfig } = await import('../config.js');
  const { parsePositionsConfig } = await import('../../batch/positions/config.js');
  const { describeZodIssue } = await import('../../ledger/chart-config.js');
  const path = configFlag ?? ctx.io.env['SETTLE_CONFIG'];
  const config = loadConfig(path === undefined ? undefined : resolve(ctx.io.cwd, path));
  const parsed = parsePositionsConfig(config.sections.positions);
  if (!parsed.ok) throw new AbortError('config_invalid', describeZodIssue(parsed.error, `${config.path}: positions`), 'Fix the positions section of the config.');
  return parsed.value;
}

export function registerPositionCommands(program: Command, run: Run): void {
  const position = program.command('position').description('positions at channels and reserve accounts (头寸/备付金)');
  position
    .command('plan')
    .description('forecast each watched account for the next days and plan top-up transfers; exit 2 on an alert or an unfunded shortfall')
    .requiredOption('--date <YYYY-MM-DD>', 'the planning date (its closing balances when cut off, else the live balances)')
    .option('--days <n>', `days ahead, 1–${DAYS_MAX} (default: positions.horizon_days)`)
    .option('--out <file>', 'also write the transfers: .json writes the whole plan, anything else CSV')
    .option('--config <file>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .action(
      run(async (ctx, flags: { date: string; days?: string; out?: string; config?: string }) => {
        if (!isIsoDate(flags.date)) throw new AbortError('date_invalid', `${JSON.stringify(flags.date.slice(0, 20))} is not a YYYY-MM-DD calendar date.`, 'Give the date as YYYY-MM-DD.');
        const config = await positionsConfig(ctx, flags.config);
        const days = flags.days === undefined ? config.horizon_days : Number(flags.days);
        if (!Number.isInteger(days) || days < 1 || days > DAYS_MAX) throw new AbortError('input_invalid', `--days ${flags.days ?? ''} is not a whole number from 1 to ${DAYS_MAX}.`);
        const { buildPositionPlan, PositionError, planJson, transfersCsv } = await import('../../batch/positions/service.js');
        const { publishFile } = await import('../../batch/statements/publish.js');
        const { result: report } = await withJobRun(ctx, 'position-plan', flags.date, async (db) => {
          const { SqlitePositionSource } = await import('../../batch/positions/sqlite/position-store.js');
          try {
            const r = buildPositionPlan(new SqlitePositionSource(db), { asOf: flags.date, days, config });
            return { result: r, outcome: r.plan.findings ? 'findings' : 'succeeded', counts: { accounts: r.plan.accounts.length, transfers: r.plan.transfers.length, shortfalls: r.plan.shortfalls.length } };
          } catch (e) {
            if (e instanceof PositionError) throw new AbortError(e.code, e.message, e.hint);
            throw e;
          }
        });
        const json = planJson(report);
        let outPath: string | null = null;
        if (flags.out !== undefined) {
          outPath = resolve(ctx.io.cwd, flags.out);
          publishFile(outPath, outPath.endsWith('.json') ? `${JSON.stringify(json, null, 2)}\n` : transfersCsv(report.plan));
        }
        const { plan } = report;
        ctx.out.result({ ok: true, ...json, out: outPath, findings: plan.findings }, () =>
          [
            `Positions as of ${plan.asOf} (${report.balanceSource} balances), next ${plan.days} days, weekday averages over ${report.historyDays} past day(s):`,
            table(
              ['account', '>balance', '>buffer', '>in', '>out', '>lowest', 'below buffer on', 'alert'],
              plan.accounts.map((a) => [
                a.accountId,
                money(a.balanceMinor, a.currency),
                money(a.bufferMinor, a.currency),
                money(a.inflowMinor, a.currency),
                money(a.outflowMinor, a.currency),
                money(a.lowestMinor, a.currency),
                a.belowBufferOn ?? '-',
                a.alert ? `below ${money(a.alertBelowMinor, a.currency)}` : '',
              ]),
            ),
            plan.transfers.length === 0
              ? 'No top-up needed.'
              : `Top-ups:\n${table(['from', 'to', '>amount', 'by'], plan.transfers.map((t) => [t.fromAccountId, t.toAccountId, money(t.amountMinor, t.currency), t.byDate]))}`,
            ...plan.shortfalls.map((s) => `SHORT: ${s.accountId} needs ${money(s.shortfallMinor, s.currency)} by ${s.byDate} (${s.reason}).`),
            outPath === null ? '' : `Wrote ${outPath}.`,
          ]
            .filter(Boolean)
            .join('\n'),
        );
        return plan.findings ? EXIT.findings : EXIT.ok;
      }),
    );
}
