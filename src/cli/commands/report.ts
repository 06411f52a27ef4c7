// settle report --date D --out FILE [--config F] [--json]: the daily report — one self-contained HTML
// page for the finance team (src/batch/report). Thin: parse flags and config, gather under the job run
// log (job "report"), render, write atomically (temp file + rename), print the path and the verdict.
// Exit 0 when the day is clean, 2 with open discrepancies, trial balance findings or a position below
// its buffer, 1 when the operator must act.

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseReportConfig } from '../../batch/report/config.js';
import { REPORT_ERROR_CODES } from '../../batch/report/errors.js';
import { verdictOf } from '../../batch/report/model.js';
import { render } from '../../batch/report/render.js';
import { gatherReport } from '../../batch/report/service.js';
import { SqliteReportSource } from '../../batch/report/sqlite.js';
import { parsePositionsConfig } from '../../batch/positions/config.js';
import { SqlitePositionSource } from '../../batch/positions/sqlite/position-store.js';
import { publishFile } from '../../batch/statements/publish.js';
import { parseTrialBalanceConfig } from '../../batch/trial-balance/config.js';
import { sqliteTrialBalanceReader } from '../../batch/trial-balance/sqlite/reader.js';
import { describeZodIssue } from '../../ledger/chart-config.js';
import { isIsoDate } from '../../ledger/index.js';
import { loadConfig } from '../config.js';
import { withJobRun, type Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';

interface Flags {
  date: string;
  out: string;
  config?: string;
}

export function registerReportCommand(program: Command, run: Run): void {
  program
    .command('report')
    .description('the daily report: one self-contained HTML page of volumes, discrepancies, settlement, shares, trial balance, positions and job runs; exit 2 on findings')
    .requiredOption('--date <YYYY-MM-DD>', 'the business day')
    .requiredOption('--out <file>', 'the HTML file to write (replaced atomically)')
    .option('--config <file>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG), for its report, trial_balance and positions sections')
    .action(
      run(async (ctx, flags: Flags) => {
        if (!isIsoDate(flags.date)) throw new AbortError('usage', `--date ${JSON.stringify(flags.date.slice(0, 20))} is not a YYYY-MM-DD calendar date.`, 'Give the business date as YYYY-MM-DD.');
        const path = flags.config ?? ctx.io.env['SETTLE_CONFIG'];
        const config = loadConfig(path === undefined ? undefined : resolve(ctx.io.cwd, path));
        // `report` is read as an optional section until src/cli/config.ts lists it.
        const report = parseReportConfig(config.sections.report);
        if (!report.success) throw new AbortError('config_invalid', describeZodIssue(report.error, `${config.path}: report`), 'Fix the report section of the config.');
        const trialBalance = parseTrialBalanceConfig(config.sections.trial_balance);
        if (!trialBalance.success) throw new AbortError('config_invalid', describeZodIssue(trialBalance.error, `${config.path}: trial_balance`), 'Fix the trial_balance section of the config.');
        const positions = parsePositionsConfig(config.sections.positions);
        if (!positions.ok) throw new AbortError('config_invalid', describeZodIssue(positions.error, `${config.path}: positions`), 'Fix the positions section of the config.');
        const outPath = resolve(ctx.io.cwd, flags.out);

        const { result } = await withJobRun(ctx, 'report', flags.date, async (db) => {
          const data = await gatherReport(
            { source: new SqliteReportSource(db), trialBalance: sqliteTrialBalanceReader(db), positions: new SqlitePositionSource(db) },
            { businessDate: flags.date, nowMs: ctx.io.clock(), timezone: config.timezone, config: report.data, trialBalance: trialBalance.data, positions: positions.value },
          );
          try {
            publishFile(outPath, render(data));
          } catch (e) {
            throw new AbortError('report_write_failed', `Cannot write ${outPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`, REPORT_ERROR_CODES.report_write_failed);
          }
          const verdict = verdictOf(data);
          return {
            result: { data, verdict },
            outcome: verdict.findings ? 'findings' : 'succeeded',
            counts: { open_discrepancies: verdict.openDiscrepancies, trial_balance_findings: verdict.trialBalanceFindings, positions_below_buffer: verdict.positionsBelowBuffer },
          };
        });
        const { data, verdict } = result;
        const state = (s: { state: string }): string => (s.state === 'ok' ? 'ok' : 'not_run');
        ctx.out.result(
          {
            ok: true,
            business_date: data.businessDate,
            out: outPath,
            findings: verdict.findings,
            open_discrepancies: verdict.openDiscrepancies,
            trial_balance_findings: verdict.trialBalanceFindings,
            positions_below_buffer: verdict.positionsBelowBuffer,
            failed_jobs: verdict.failedJobs,
            sections: { recon: state(data.recon), settlement: state(data.settlement), sharing: state(data.sharing), trial_balance: state(data.trialBalance), positions: state(data.positions) },
          },
          () =>
            [
              `Wrote the daily report of ${data.businessDate} to ${outPath}.`,
              `  reconciliation: ${data.recon.state === 'ok' ? `${verdict.openDiscrepancies} open discrepancies` : 'not run'}`,
              `  trial balance:  ${data.trialBalance.state === 'ok' ? (verdict.trialBalanceFindings === 0 ? 'balanced' : `${verdict.trialBalanceFindings} finding(s)`) : 'not run'}`,
              `  positions:      ${data.positions.state === 'ok' ? `${verdict.positionsBelowBuffer} below buffer` : 'not run'}`,
              `  job runs:       ${data.jobs.length} (${verdict.failedJobs} failed)`,
            ].join('\n'),
        );
        return verdict.findings ? EXIT.findings : EXIT.ok;
      }),
    );
}
