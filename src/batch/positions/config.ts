// The `positions` section of the config (头寸/备付金): the accounts to watch, each one's safety buffer and
// alert threshold, which account tops up which, the transfer rounding unit and the forecast window.

import { z } from 'zod';

const minor = z.string().regex(/^[0-9]{1,15}$/, 'an integer string of minor units');
const accountId = z.string().min(1).max(128);

const bufferSchema = z.union([
  z.strictObject({ fixed_minor: minor }),
  z.strictObject({
    /** Nearest-rank percentile (1–100) of the account's daily outflows over the history window. */
    outflow_percentile: z.number().int().min(1).max(100),
    /** A floor under the percentile, e.g. for a quiet history. */
    min_minor: minor.default('0'),
  }),
]);

const watchedSchema = z.strictObject({
  account_id: accountId,
  buffer: bufferSchema.default({ fixed_minor: '0' }),
  /** A balance now below this is an alert (exit 2). */
  alert_below_minor: minor.default('0'),
  /** The account that tops this one up (itself watched or not); none: shortfalls are reported, not planned. */
  funded_by: accountId.optional(),
});

export const positionsConfigSchema = z
  .strictObject({
    accounts: z.array(watchedSchema).max(1000).default([]),
    /** Top-up transfers are whole multiples of this, rounded up. */
    transfer_unit_minor: minor.refine((v) => BigInt(v) > 0n, 'must be positive').default('100'),
    /** Days ahead to plan when --days is not given. */
    horizon_days: z.number().int().min(1).max(90).default(7),
    /** Weeks of closed business days the weekday averages are taken over. */
    history_weeks: z.number().int().min(1).max(52).default(4),
  })
  .superRefine((c, ctx) => {
    const ids = new Set<string>();
    for (const [i, a] of c.accounts.entries()) {
      if (ids.has(a.account_id)) ctx.addIssue({ code: 'custom', path: ['accounts', i, 'account_id'], message: `${a.account_id} is listed twice` });
      ids.add(a.account_id);
      if (a.funded_by === a.account_id) ctx.addIssue({ code: 'custom', path: ['accounts', i, 'funded_by'], message: 'an account cannot fund itself' });
    }
  });

export type PositionsConfig = z.infer<typeof positionsConfigSchema>;
export type WatchedAccountConfig = z.infer<typeof watchedSchema>;

export function parsePositionsConfig(raw: unknown): { ok: true; value: PositionsConfig } | { ok: false; error: z.ZodError } {
  const parsed = positionsConfigSchema.safeParse(raw ?? {});
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: parsed.error };
}
