// The `report` section of the config (settle report): how much the daily report lists. Every key is
// optional; unknown keys are an error.

import { z } from 'zod';

export const reportConfigSchema = z.strictObject({
  /** Merchants listed in the settlement table, by gross (the totals always cover every merchant). */
  top_merchants: z.number().int().min(1).max(500).default(20),
  /** Trial balance findings listed (all are counted). */
  findings_max: z.number().int().min(1).max(1000).default(50),
  /** Job runs of the date listed, newest last. */
  job_runs_max: z.number().int().min(1).max(1000).default(100),
  /** Upper bounds (days, inclusive) of the discrepancy age buckets; older ones fall in the last, open bucket. */
  age_buckets_days: z
    .array(z.number().int().min(0).max(3650))
    .min(1)
    .max(10)
    .refine((a) => a.every((d, i) => i === 0 || d > (a[i - 1] ?? -1)), 'must be strictly increasing')
    .default([1, 3, 7, 30]),
});

export type ReportConfig = z.output<typeof reportConfigSchema>;

export function parseReportConfig(raw: unknown): z.ZodSafeParseResult<ReportConfig> {
  return reportConfigSchema.safeParse(raw ?? {});
}
