// settle clear --date D: clearing and merchant settlement (清分结算). Thin: parse flags, load the
// clearing section of the config, run the service in src/batch/clearing under the job run log and lock,
// render. Exit codes: 0 settled · 2 done, with a negative net carried forward · 1 the operator must act.

import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { ClearingError } from '../../batch/clearing/config.js';
import type { ClearResult } from '../../batch/clearing/service.js';
import { isIsoDate } from '../../ledger/index.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { withJobRun, type Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { table } from '../output.js';
import { clearEvents, progressOf } from '../progress/bridges.js';

interface ClearFlags {
  readonly date: string;
  readonly out?: string;
  readonly config?: string;
  readonly includeUnreconciled?: boolean;
}

function resultJson(r: ClearResult): Record<string, unknown> {
  return {
    ok: true,
    date: r.runDate,
    status: r.status,
    batches_written: r.batchesWritten,
    entries_posted: r.entriesPosted,
    held_items: r.heldItems,
    not_due_items: r.notDueItems,
    carried: r.batches.filter((b) => b.status === 'carried').map((b) => b.merchantId),
    files: r.files,
    batches: r.batches.map((b) => ({
      batch_id: b.batchId,
      merchant_id: b.merchantId,
      currency: b.currency,
      gross_minor: b.grossMinor.toString(),
      refunds_minor: b.refundsMinor.toString(),
      fees_minor: b.feesMinor.toString(),
      adjustments_minor: b.adjustmentsMinor.toString(),
      net_minor: b.netMinor.toString(),
      carried_in_minor: b.carriedInMinor.toString(),
      carried_out_minor: b.carriedOutMinor.toString(),
      payout_minor: b.payoutMinor.toString(),
      items: b.items,
      status: b.status,
    })),
  };
}

function resultText(r: ClearResult): string {
  const carried = r.batches.filter((b) => b.status === 'carried');
  const lines = [
    `${r.runDate}: ${r.status === 'already_cleared' ? 'already cleared; files written again' : `${r.batchesWritten} batch(es) written, ${r.entriesPosted} entries posted`}${
      r.heldItems === null ? '' : `; ${r.heldItems} item(s) held for reconciliation, ${r.notDueItems ?? 0} not yet due`
    }.`,
    table(
      ['merchant', 'cur', '>gross', '>refunds', '>fees', '>adjust', '>net', '>carried in', '>payout', 'status'],
      r.batches.slice(0, 50).map((b) => [b.merchantId, b.currency, ...[b.grossMinor, b.refundsMinor, b.feesMinor, b.adjustmentsMinor, b.netMinor, b.carriedInMinor, b.payoutMinor].map(String), b.status]),
    ),
  ];
  if (r.batches.length > 50) lines.push(`… and ${r.batches.length - 50} more (see the batch CSV).`);
  if (carried.length > 0) lines.push(`Negative net carried forward (not paid): ${carried.map((b) => `${b.merchantId} ${b.carriedOutMinor} ${b.currency}`).join(', ')}.`);
  lines.push(...r.files.map((f) => `wrote ${f}`));
  return lines.join('\n');
}

export function registerClearCommand(program: Command, run: Run): void {
  program
    .command('clear')
    .description('clearing and merchant settlement (清分结算) of a closed business day: batches, ledger entries, payout CSV and pain.001; exit 2 when a negative net is carried')
    .requiredOption('--date <YYYY-MM-DD>', 'the run date: a closed business day')
    .option('--out <dir>', 'where the payout files go (default: settlements/ beside the database)')
    .option('--include-unreconciled', 'settle due items reconciliation has not matched as well')
    .option('--config <file>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .action(
      run(async (ctx, flags: ClearFlags) => {
        if (!isIsoDate(flags.date)) throw new AbortError('date_invalid', `${JSON.stringify(flags.date.slice(0, 20))} is not a YYYY-MM-DD calendar date.`, 'Give the business date as YYYY-MM-DD.');
        const { loadConfig } = await import('../config.js');
        const { parseClearingConfig } = await import('../../batch/clearing/config.js');
        const { clearDay } = await import('../../batch/clearing/service.js');
        const { SqliteClearingStore } = await import('../../batch/clearing/sqlite.js');
        const configPath = flags.config ?? ctx.io.env['SETTLE_CONFIG'];
        const outDir = resolve(ctx.io.cwd, flags.out ?? resolve(dirname(ctx.dbPath), 'settlements'));
        try {
          const config = parseClearingConfig(loadConfig(configPath === undefined ? undefined : resolve(ctx.io.cwd, configPath)).sections.clearing);
          const progress = await progressOf(ctx, `clear ${flags.date}`);
          const { result, outcome } = await withJobRun(ctx, 'clear', flags.date, async (db) => {
            const store = new SqliteClearingStore(SqliteLedgerStore.attach(db, ctx.dbPath));
            const r = await clearDay(store, config, {
              runDate: flags.date,
              includeUnreconciled: flags.includeUnreconciled === true,
              outDir,
              nowMs: ctx.io.clock(),
              onProgress: clearEvents(progress),
            });
            const carried = r.batches.filter((b) => b.status === 'carried').length;
            return { result: r, outcome: carried > 0 ? 'findings' : 'succeeded', counts: { batches: r.batches.length, written: r.batchesWritten, entries: r.entriesPosted, carried } };
          }).finally(() => progress.close());
          ctx.out.result(resultJson(result), () => resultText(result));
          return outcome === 'findings' ? EXIT.findings : EXIT.ok;
        } catch (e) {
          if (e instanceof ClearingError) throw new AbortError(e.code, e.message, e.hint);
          throw e;
        }
      }),
    );
}
