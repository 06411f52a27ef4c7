// The `trial_balance` config section: every key optional. Parsed here, at the boundary; the values are
// trusted afterwards.

import { z } from 'zod';

const minorUnits = z.union([z.string().regex(/^\d{1,18}$/), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]).transform((v) => BigInt(v));

export const trialBalanceConfigSchema = z.strictObject({
  /** How far a channel's reported balance may be from our position before it is a finding, in minor units. */
  channel_balance_tolerance_minor: minorUnits.default(0n),
  /** Subjects whose channel-owned accounts make up a channel's position (1122 channel receivable). */
  channel_position_subjects: z.array(z.string().min(1).max(32)).min(1).max(100).default(['1122']),
  /** At most this many findings are listed (all are counted). */
  findings_max: z.number().int().min(1).max(100_000).default(1_000),
});

export type TrialBalanceConfig = z.output<typeof trialBalanceConfigSchema>;

export function parseTrialBalanceConfig(raw: unknown): z.ZodSafeParseResult<TrialBalanceConfig> {
  return trialBalanceConfigSchema.safeParse(raw ?? {});
}
