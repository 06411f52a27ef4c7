// settle trial-balance --date D [--json|--csv] [--channel-balances FILE] [--tolerance-minor N]:
// the trial balance (试算平衡) of a closed day. Thin: parse flags, run under the job log, render.
// Exit 0 when every check holds, 2 with the list of findings, 1 when the operator must act.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { exportJournal } from '../../batch/export/service.js';
import { EXPORT_FORMATS, type ExportFormat } from '../../batch/export/plain-text.js';
import { sqliteExportReader } from '../../batch/export/sqlite/reader.js';
import { CHANNEL_BALANCES_BYTES_MAX, parseChannelBalances } from '../../batch/trial-balance/channel-balances.js';
import type { ChannelReports, Finding, TrialBalanceReport } from '../../batch/trial-balance/check.js';
import { parseTrialBalanceConfig, type TrialBalanceConfig } from '../../batch/trial-balance/config.js';
import { trialBalanceCsv } from '../../batch/trial-balance/csv.js';
import { runTrialBalance } from '../../batch/trial-balance/service.js';
import { sqliteTrialBalanceReader } from '../../batch/trial-balance/sqlite/reader.js';
import { describeZodIssue } from '../../ledger/chart-config.js';
import { isIsoDate } from '../../ledger/index.js';
import { withJobRun, withLedger, type CommandContext, type Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { money, table, toJsonText } from '../output.js';

interface Options {
  date: string;
  csv?: boolean;
  channelBalances?: string;
  toleranceMinor?: string;
  config?: string;
}

async function trialBalanceConfig(ctx: CommandContext, opts: Options): Promise<TrialBalanceConfig> {
  const configPath = opts.config ?? ctx.io.env['SETTLE_CONFIG'];
  let raw: unknown;
  if (configPath !== undefined) {
    const { loadConfig } = await import('../config.js');
    raw = loadConfig(resolve(ctx.io.cwd, configPath)).sections.trial_balance;
  }
  const parsed = parseTrialBalanceConfig(raw);
  if (!parsed.success) throw new AbortError('config_invalid', describeZodIssue(parsed.error, 'trial_balance'), 'Fix the trial_balance section of the config.');
  if (opts.toleranceMinor === undefined) return parsed.data;
  if (!/^\d{1,18}$/.test(opts.toleranceMinor)) throw new AbortError('input_invalid', `--tolerance-minor ${opts.toleranceMinor} is not a whole number of minor units.`, 'Give it as e.g. 0 or 100.');
  return { ...parsed.data, channel_balance_tolerance_minor: BigInt(opts.toleranceMinor) };
}

function readChannelBalances(ctx: CommandContext, file: string): ChannelReports {
  const path = resolve(ctx.io.cwd, file);
  let text: string;
  try {
    if (statSync(path).size > CHANNEL_BALANCES_BYTES_MAX) throw new AbortError('channel_balances_invalid', `${path} is larger than ${CHANNEL_BALANCES_BYTES_MAX} bytes.`, 'Give one balance per channel and currency.');
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof AbortError) throw e;
    throw new AbortError('channel_balances_invalid', `Cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}.`, 'Check the path given to --channel-balances.');
  }
  const parsed = parseChannelBalances(text);
  if (!parsed.ok) throw new AbortError('channel_balances_invalid', `${path}: ${parsed.message}.`, 'Write it as {"<channel>": {"<currency>": "<amount_minor>"}}.');
  return parsed.value;
}

function findingText(f: Finding): string {
  const { code, ...rest } = f;
  return `${code}: ${toJsonText(rest)}`;
}

function reportJson(r: TrialBalanceReport): Record<string, unknown> {
  return {
    ok: r.findingsTotal === 0,
    business_date: r.businessDate,
    totals: r.totals.map((t) => ({ currency: t.currency, debits_minor: t.debitsMinor, credits_minor: t.creditsMinor, closing_debit_balances_minor: t.closingDebitBalancesMinor, closing_credit_balances_minor: t.closingCreditBalancesMinor })),
    subjects: r.subjects.map((s) => ({ subject_code: s.subjectCode, subject_name: s.subjectName, currency: s.currency, normal_side: s.normalSide, accounts: s.accounts, opening_minor: s.openingMinor, debits_minor: s.debitsMinor, credits_minor: s.creditsMinor, closing_minor: s.closingMinor })),
    accounts: r.accounts.map((a) => ({ account_id: a.accountId, subject_code: a.subjectCode, currency: a.currency, normal_side: a.normalSide, opening_minor: a.openingMinor, debits_minor: a.debitsMinor, credits_minor: a.creditsMinor, closing_minor: a.closingMinor, debits_pending_minor: a.debitsPendingMinor, credits_pending_minor: a.creditsPendingMinor })),
    channels: r.channels.map((c) => ({ channel: c.channel, currency: c.currency, ledger_minor: c.ledgerMinor, reported_minor: c.reportedMinor, difference_minor: c.differenceMinor })),
    findings_total: r.findingsTotal,
    findings: r.findings,
  };
}

function reportText(r: TrialBalanceReport): string {
  return [
    `Trial balance of ${r.businessDate}`,
    table(
      ['subject', 'currency', 'side', '>opening', '>debits', '>credits', '>closing'],
      r.subjects.map((s) => [`${s.subjectCode} ${s.subjectName}`, s.currency, s.normalSide, money(s.openingMinor, s.currency), money(s.debitsMinor, s.currency), money(s.creditsMinor, s.currency), money(s.closingMinor, s.currency)]),
    ),
    table(
      ['currency', '>debits', '>credits'],
      r.totals.map((t) => [t.currency, money(t.debitsMinor, t.currency), money(t.creditsMinor, t.currency)]),
    ),
    ...(r.channels.length > 0
      ? [table(['channel', 'currency', '>ledger', '>reported'], r.channels.map((c) => [c.channel, c.currency, money(c.ledgerMinor, c.currency), c.reportedMinor === null ? '-' : money(c.reportedMinor, c.currency)]))]
      : []),
    r.findingsTotal === 0 ? 'All checks hold.' : [`${r.findingsTotal} finding(s):`, ...r.findings.map(findingText)].join('\n'),
  ].join('\n');
}

export function registerTrialBalanceCommand(program: Command, run: Run): void {
  program
    .command('trial-balance')
    .description('the trial balance (试算平衡) of a closed business day, with its checks (exit 2 on a finding)')
    .requiredOption('--date <YYYY-MM-DD>', 'the closed business day')
    .option('--csv', 'print the trial balance as CSV instead')
    .option('--channel-balances <file>', 'JSON {channel: {currency: amount_minor}} the channels report, to check positions against')
    .option('--tolerance-minor <n>', 'allowed difference of a channel position, in minor units (default: config or 0)')
    .option('--config <path>', 'the config file (env SETTLE_CONFIG), for its trial_balance section')
    .action(
      run(async (ctx, opts: Options) => {
        if (!isIsoDate(opts.date)) throw new AbortError('date_invalid', `${JSON.stringify(opts.date.slice(0, 20))} is not a YYYY-MM-DD calendar date.`, 'Give the business date as YYYY-MM-DD.');
        const config = await trialBalanceConfig(ctx, opts);
        const reports = opts.channelBalances === undefined ? undefined : readChannelBalances(ctx, opts.channelBalances);
        const { result: report } = await withJobRun(ctx, 'trial-balance', opts.date, async (db) => {
          const outcome = await runTrialBalance(sqliteTrialBalanceReader(db), opts.date, config, reports);
          if (!outcome.ok) throw new AbortError(outcome.code, outcome.message, 'Close it first with settle day cutoff (see settle day status).');
          const r = outcome.report;
          return { result: r, outcome: r.findingsTotal === 0 ? 'succeeded' : 'findings', counts: { accounts: r.accounts.length, subjects: r.subjects.length, findings: r.findingsTotal } };
        });
        if (opts.csv === true && !ctx.out.json) ctx.io.stdout(trialBalanceCsv(report));
        else ctx.out.result(reportJson(report), () => reportText(report));
        return report.findingsTotal === 0 ? EXIT.ok : EXIT.findings;
      }),
    );
}

/** settle ledger export (registered in ledger.ts): the journal as ledger-cli/hledger or beancount text. */
export async function ledgerExport(ctx: CommandContext, opts: { format: string; from?: string; to?: string; out?: string }): Promise<number> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format)) throw new AbortError('input_invalid', `Unknown format ${opts.format}.`, `Use one of ${EXPORT_FORMATS.join(', ')}.`);
  for (const d of [opts.from, opts.to]) {
    if (d !== undefined && !isIsoDate(d)) throw new AbortError('date_invalid', `${JSON.stringify(d.slice(0, 20))} is not a YYYY-MM-DD calendar date.`, 'Give --from and --to as YYYY-MM-DD.');
  }
  if (opts.from !== undefined && opts.to !== undefined && opts.from > opts.to) throw new AbortError('input_invalid', `--from ${opts.from} is after --to ${opts.to}.`, 'Swap them.');
  const format = opts.format as ExportFormat;
  const outPath = opts.out === undefined ? undefined : resolve(ctx.io.cwd, opts.out);
  const tmpPath = outPath === undefined ? undefined : `${outPath}.${process.pid}.tmp`;
  const fd = tmpPath === undefined ? undefined : openSync(tmpPath, 'w');
  const write = (text: string): void => (fd === undefined ? ctx.io.stdout(text) : void writeSync(fd, text));
  try {
    const counts = await withLedger(ctx, (_l, store) => exportJournal(sqliteExportReader(store.db), format, { from: opts.from, to: opts.to }, write));
    if (fd !== undefined && tmpPath !== undefined && outPath !== undefined) {
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmpPath, outPath);
      ctx.out.result({ ok: true, format, out: outPath, entries: counts.entries, accounts: counts.accounts }, () => `Wrote ${counts.entries} entries over ${counts.accounts} accounts to ${outPath} (${format}).`);
    }
    return EXIT.ok;
  } catch (e) {
    if (fd !== undefined && tmpPath !== undefined) {
      closeSync(fd);
      rmSync(tmpPath, { force: true });
    }
    throw e;
  }
}
