// settle init: create the database, apply migrations, load the chart and accounts, open the first day.

import type { Command } from 'commander';
import { isIsoDate, Ledger, LedgerError } from '../../ledger/index.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import type { Run } from '../context.js';
import { EXIT } from '../errors.js';

export function registerInitCommand(program: Command, run: Run): void {
  program
    .command('init')
    .description('create the database (or bring it up to date) and load the chart of accounts from the config')
    .option('--config <path>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .option('--business-date <YYYY-MM-DD>', 'the first business day (default: today in the config time zone)')
    .action(
      run(async (ctx, opts: { config?: string; businessDate?: string }) => {
        // Loaded on demand: only init reads the config, so other commands start without zod.
        const { loadConfig, todayIn } = await import('../config.js');
        const config = loadConfig(opts.config ?? ctx.io.env['SETTLE_CONFIG']);
        const date = opts.businessDate ?? todayIn(config.timezone, ctx.io.clock());
        if (!isIsoDate(date)) throw new LedgerError('input_invalid', `--business-date ${date} is not a YYYY-MM-DD date.`);
        const store = SqliteLedgerStore.open(ctx.dbPath, { create: true });
        try {
          const result = await new Ledger(store, ctx.io.clock).initialise(config.chart, date);
          ctx.out.result(
            {
              ok: true,
              db: ctx.dbPath,
              config: config.path,
              subjects_added: result.subjectsAdded,
              accounts_added: result.accountsAdded,
              open_day: result.openDay,
            },
            () =>
              `Ledger ready at ${ctx.dbPath}: ${result.subjectsAdded} subject(s) and ${result.accountsAdded} account(s) added from ${config.path}; open business day ${result.openDay}.`,
          );
          return EXIT.ok;
        } finally {
          await store.close();
        }
      }),
    );
}
