// settle recon review: go through the open discrepancies in an interactive view (filter by channel,
// type, age, amount; both sides; resolve). Thin: check the terminal and flags, load the open items from
// the recon store, and hand each decision to resolveDiscrepancy — the function `settle recon resolve`
// calls — so validation and posting are the same.

import type { Command } from 'commander';
import { DISCREPANCY_TYPES, type DiscrepancyType } from '../../batch/recon/match.js';
import { isIsoDate } from '../../ledger/index.js';
import { withLedger, type Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { REVIEW_ERROR_CODES } from '../review/errors.js';

interface ReviewFlags {
  readonly channel?: string;
  readonly type?: string;
  readonly minAgeDays?: string;
  readonly minAmountMinor?: string;
  readonly date?: string;
  readonly by?: string;
  readonly to: string;
}

function nonNegative(flag: string, raw: string | undefined, digitsMax: number): string | undefined {
  if (raw === undefined) return undefined;
  if (!new RegExp(`^[0-9]{1,${digitsMax}}$`, 'u').test(raw)) throw new AbortError('input_invalid', `${flag} ${JSON.stringify(raw.slice(0, 20))} is not a whole number of at most ${digitsMax} digits.`);
  return raw;
}

export function registerReconReviewCommand(recon: Command, run: Run): void {
  recon
    .command('review')
    .description('go through open discrepancies interactively: filter, see both sides, resolve (needs a terminal)')
    .option('--channel <id>', 'start filtered to one channel (c cycles)')
    .option('--type <type>', `start filtered to one type (t cycles): ${DISCREPANCY_TYPES.join(', ')}`)
    .option('--min-age-days <n>', 'only items at least this many days old')
    .option('--min-amount-minor <n>', 'only items of at least this amount (minor units, the larger side)')
    .option('--date <YYYY-MM-DD>', 'only this business date')
    .option('--by <name>', 'who decides (default: $USER)')
    .option('--to <account>', 'write-off target: loss (6711, default) | suspense (1901)', 'loss')
    .action(
      run(async (ctx, flags: ReviewFlags) => {
        const terminal = ctx.io.terminal;
        if (terminal === undefined || !terminal.stdin.isTTY || !terminal.stdout.isTTY || ctx.out.json) {
          throw new AbortError('not_a_terminal', 'settle recon review needs an interactive terminal (and no --json).', REVIEW_ERROR_CODES.not_a_terminal);
        }
        if (flags.type !== undefined && !(DISCREPANCY_TYPES as readonly string[]).includes(flags.type)) throw new AbortError('input_invalid', `--type ${flags.type} is not one of ${DISCREPANCY_TYPES.join(', ')}.`);
        if (flags.date !== undefined && !isIsoDate(flags.date)) throw new AbortError('date_invalid', `${JSON.stringify(flags.date.slice(0, 20))} is not a YYYY-MM-DD calendar date.`, 'Give the business date as YYYY-MM-DD.');
        if (flags.to !== 'loss' && flags.to !== 'suspense') throw new AbortError('input_invalid', `--to ${flags.to} is not loss or suspense.`);
        const minAgeDays = nonNegative('--min-age-days', flags.minAgeDays, 5);
        const minAmountMinor = nonNegative('--min-amount-minor', flags.minAmountMinor, 18);
        const writeOffTo = flags.to;
        const by = flags.by ?? ctx.io.env['USER'] ?? ctx.io.env['LOGNAME'] ?? 'unknown';

        const { SqliteReconStore } = await import('../../batch/recon/sqlite/recon-store.js');
        const { makeResolver } = await import('../review/resolver.js');
        const { initialState, REVIEW_LIMITS } = await import('../review/state.js');
        const { runReview } = await import('../review/view.js');
        await withLedger(ctx, async (_ledger, ledgerStore) => {
          const store = new SqliteReconStore(ledgerStore);
          const items = await store.items({ status: 'open', businessDate: flags.date, limit: REVIEW_LIMITS.itemsMax });
          const initial = initialState(items, ctx.io.clock(), {
            channel: flags.channel ?? null,
            type: (flags.type as DiscrepancyType | undefined) ?? null,
            minAgeDays: minAgeDays === undefined ? 0 : Number(minAgeDays),
            minAmountMinor: minAmountMinor === undefined ? 0n : BigInt(minAmountMinor),
          });
          await runReview(terminal, { initial, resolve: makeResolver(store, { by, writeOffTo, clock: ctx.io.clock }) });
        });
        return EXIT.ok;
      }),
    );
}
