// The `statements` section of the config (商户对账单): where statements are published and their limits.

import { z } from 'zod';

export const statementsConfigSchema = z.strictObject({
  /** The publishing folder; relative paths are relative to the database's folder. */
  dir: z.string().min(1).max(1024).default('statements'),
  /** Records in one merchant's statement for one day; a larger day is refused (statement_too_large). */
  rows_per_file_max: z.number().int().min(1).max(5_000_000).default(1_000_000),
  /** Merchants in one run. */
  merchants_max: z.number().int().min(1).max(1_000_000).default(100_000),
});

export type StatementsConfig = z.infer<typeof statementsConfigSchema>;

export function parseStatementsConfig(raw: unknown): { ok: true; value: StatementsConfig } | { ok: false; error: z.ZodError } {
  const parsed = statementsConfigSchema.safeParse(raw ?? {});
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: parsed.error };
}
