// settle share --date D: profit sharing (分润) of a closed business date. Thin: parse flags, load the
// sharing section, run src/batch/sharing under the job lock, write the statements, render.
// Exit 0 done; 2 done with findings (a negative base, a refund of a payment never shared); 1 refused.

import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { isIsoDate } from '../../ledger/index.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { PRODUCT_NAMES } from '../../online/config.js';
import { withJobRun, type Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { table } from '../output.js';
import { progressOf, shareEvents } from '../progress/bridges.js';

export function registerShareCommand(program: Command, run: Run): void {
  program
    .command('share')
    .description('profit sharing (分润) of a closed business date: share lines, a CSV statement per party, agent payable entries; exit 2 on findings')
    .requiredOption('--date <YYYY-MM-DD>', 'the business date (must be cut off)')
    .option('--out <dir>', 'where the statements go (default: share/<date> beside the database)')
    .option('--config <file>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .action(
      run(async (ctx, flags: { date: string; out?: string; config?: string }) => {
        if (!isIsoDate(flags.date)) throw new AbortError('date_invalid', `${JSON.stringify(flags.date.slice(0, 20))} is not a YYYY-MM-DD calendar date.`, 'Give the business date as YYYY-MM-DD.');
        const date = flags.date;
        const { loadConfig } = await import('../config.js');
        const configPath = flags.config ?? ctx.io.env['SETTLE_CONFIG'];
        const config = loadConfig(configPath === undefined ? undefined : resolve(ctx.io.cwd, configPath));
        const { compileSharing } = await import('../../batch/sharing/config.js');
        const { ShareError } = await import('../../batch/sharing/errors.js');
        const { SqliteShareStore } = await import('../../batch/sharing/sqlite.js');
        const { shareDay } = await import('../../batch/sharing/run.js');
        const { STATEMENT_LIMITS, writeStatements } = await import('../../batch/sharing/statement.js');
        const outDir = flags.out === undefined ? resolve(dirname(ctx.dbPath), 'share', date) : resolve(ctx.io.cwd, flags.out);
        const products = new Set<string>([...PRODUCT_NAMES, 'preauth', 'payout']);
        const progress = await progressOf(ctx, `share ${date}`);
        const { result, outcome } = await withJobRun(ctx, 'share', date, async (db) => {
          const store = new SqliteShareStore(SqliteLedgerStore.attach(db, ctx.dbPath));
          try {
            const rules = compileSharing(config.sections.sharing, { isMerchant: (m) => store.isMerchant(m), products });
            const shared = await shareDay(store, rules, date, { nowMs: ctx.io.clock(), onProgress: shareEvents(progress) });
            const warnings: string[] = [];
            const files = writeStatements(store, date, outDir, STATEMENT_LIMITS, {
              onWorkerFailed: (reason) => warnings.push(`the statements' second thread failed (${reason}); this one wrote its half: the files are whole`),
            });
            return {
              result: { shared, files, warnings },
              outcome: shared.findingsCount > 0 ? 'findings' : 'succeeded',
              counts: { payments: shared.payments, refunds: shared.refunds, lines_written: shared.linesWritten, entries: shared.entries.length, findings: shared.findingsCount },
            };
          } catch (e) {
            if (e instanceof ShareError) throw new AbortError(e.code, e.message, e.hint);
            throw e;
          }
        }).finally(() => progress.close());
        const { shared, files, warnings } = result;
        ctx.out.result(
          {
            ok: true,
            date,
            payments: shared.payments,
            refunds: shared.refunds,
            lines_written: shared.linesWritten,
            clipped_minor: shared.clippedMinor.toString(),
            clipped_payments: shared.clippedPayments,
            parties: shared.totals.map((t) => ({ party_id: t.partyId, party_kind: t.partyKind, currency: t.currency, net_minor: t.netMinor.toString() })),
            entries: shared.entries.map((e) => ({ entry_id: e.entryId, replayed: e.replayed })),
            statements: files.map((f) => ({ party_id: f.partyId, path: f.path, lines: f.lines })),
            findings_count: shared.findingsCount,
            findings: shared.findings.map((f) => (f.code === 'base_negative' ? { code: f.code, payment_id: f.paymentId, base_minor: f.baseMinor.toString() } : { code: f.code, refund_id: f.refundId, payment_id: f.paymentId })),
            ...(warnings.length > 0 ? { warnings } : {}),
          },
          () =>
            [
              `Shared ${date}: ${shared.payments} payment(s), ${shared.refunds} refund(s); ${shared.linesWritten} new line(s); ${shared.entries.filter((e) => !e.replayed).length} entr(y/ies) posted, ${shared.entries.filter((e) => e.replayed).length} already there.`,
              shared.totals.length > 0 ? table(['party', 'kind', 'currency', '>net (minor)'], shared.totals.map((t) => [t.partyId, t.partyKind, t.currency, t.netMinor.toString()])) : 'No agent or ISV shares.',
              shared.clippedPayments > 0 ? `Caps clipped ${shared.clippedMinor} minor units on ${shared.clippedPayments} payment(s) (kept by the platform).` : '',
              `Statements: ${files.length} file(s) in ${outDir}.`,
              ...warnings.map((w) => `warning: ${w}`),
              ...shared.findings.slice(0, 20).map((f) => (f.code === 'base_negative' ? `finding base_negative: payment ${f.paymentId} base ${f.baseMinor}` : `finding refund_unshared_payment: refund ${f.refundId} of ${f.paymentId} (share its payment's date first)`)),
            ]
              .filter(Boolean)
              .join('\n'),
        );
        return outcome === 'findings' ? EXIT.findings : EXIT.ok;
      }),
    );
}
