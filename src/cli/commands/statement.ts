// settle statement --date D [--merchant M] [--out DIR]: publish merchants' statements (商户对账单) of a
// closed business date into <dir>/<merchant_id>/<merchant>_<yyyyMMdd>.csv. Thin: parse flags, run the
// service in src/batch/statements/ under the job run log, render.

import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { StatementsConfig } from '../../batch/statements/config.js';
import { isIsoDate } from '../../ledger/index.js';
import { withJobRun, type CommandContext, type Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { money, table } from '../output.js';

async function statementsConfig(ctx: CommandContext, configFlag: string | undefined): Promise<StatementsConfig> {
  const { loadConfig } = await import('../config.js');
  const { parseStatementsConfig } = await import('../../batch/statements/config.js');
  const { describeZodIssue } = await import('../../ledger/chart-config.js');
  const path = configFlag ?? ctx.io.env['SETTLE_CONFIG'];
  const config = loadConfig(path === undefined ? undefined : resolve(ctx.io.cwd, path));
  const parsed = parseStatementsConfig(config.sections.statements);
  if (!parsed.ok) throw new AbortError('config_invalid', describeZodIssue(parsed.error, `${config.path}: statements`), 'Fix the statements section of the config.');
  return parsed.value;
}

export function registerStatementCommand(program: Command, run: Run): void {
  program
    .command('statement')
    .description('publish merchants\u2019 statements (商户对账单) of a closed business date as CSV, one folder per merchant')
    .requiredOption('--date <YYYY-MM-DD>', 'the business date (must be cut off)')
    .option('--merchant <id>', 'one merchant (default: every merchant with records or a settlement on the date)')
    .option('--out <dir>', 'the publishing folder (default: statements.dir of the config, relative to the database)')
    .option('--config <file>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .action(
      run(async (ctx, flags: { date: string; merchant?: string; out?: string; config?: string }) => {
        if (!isIsoDate(flags.date)) throw new AbortError('date_invalid', `${JSON.stringify(flags.date.slice(0, 20))} is not a YYYY-MM-DD calendar date.`, 'Give the business date as YYYY-MM-DD.');
        const config = await statementsConfig(ctx, flags.config);
        const dir = flags.out !== undefined ? resolve(ctx.io.cwd, flags.out) : resolve(dirname(ctx.dbPath), config.dir);
        const { generateStatements, StatementError } = await import('../../batch/statements/service.js');
        const { SqliteStatementSource } = await import('../../batch/statements/sqlite/statement-store.js');
        const { result } = await withJobRun(ctx, 'statement', flags.date, async (db) => {
          try {
            const published = generateStatements(new SqliteStatementSource(db), {
              businessDate: flags.date,
              merchantId: flags.merchant,
              dir,
              rowsPerFileMax: config.rows_per_file_max,
              merchantsMax: config.merchants_max,
            });
            return { result: published, outcome: 'succeeded', counts: { merchants: published.length, written: published.filter((p) => p.status === 'written').length } };
          } catch (e) {
            if (e instanceof StatementError) throw new AbortError(e.code, e.message, e.hint);
            throw e;
          }
        });
        ctx.out.result(
          {
            ok: true,
            date: flags.date,
            dir,
            statements: result.map((p) => ({
              merchant_id: p.merchantId,
              path: p.path,
              status: p.status,
              records: p.records,
              settled: p.settled,
              summaries: p.summaries.map((s) => ({ currency: s.currency, count: s.count, gross_minor: s.grossMinor, refunds_minor: s.refundsMinor, fees_minor: s.feesMinor, net_minor: s.netMinor })),
            })),
          },
          () =>
            result.length === 0
              ? `No merchant has records on ${flags.date}; nothing published.`
              : table(
                  ['merchant', 'file', '>records', 'net', 'settled', 'status'],
                  result.map((p) => [p.merchantId, p.path, String(p.records), p.summaries.map((s) => money(s.netMinor, s.currency)).join(' + ') || '-', p.settled ? 'yes' : 'not yet', p.status]),
                ),
        );
        return EXIT.ok;
      }),
    );
}
