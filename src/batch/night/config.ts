// The `night` section of the config: when `settle cron` runs the chain, what it covers, where alerts go.
//
//   "night": {
//     "schedule": "30 0 * * *",            node-cron expression (5 or 6 fields), in the config's time zone
//     "business_date": "yesterday",        which day a scheduled run closes: "yesterday" or "today"
//     "channels": ["wechat", "alipay"],    channels to reconcile (default: every channel in recon.channels)
//     "out_dir": "night",                  payout files, statements, shares, plans and the report, under
//                                          <out_dir>/<date>/, relative to the database's folder
//     "statements": true,                  publish merchant statements after clearing
//     "parallel_steps": 2,                 steps run at once at most: steps that do not wait for each
//                                          other (share beside clear, the channels' reconciliations)
//                                          overlap; 1 runs them one after another in the listed order
//     "alert": { "webhook_url": "https://ops.example/hooks/settle", "secret_env": "SETTLE_ALERT_SECRET", "timeout_ms": 5000 }
//   }

import cron from 'node-cron';
import { z } from 'zod';
import { CHAIN_PARALLEL_MAX } from './chain.js';

const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;

export const nightConfigSchema = z.strictObject({
  schedule: z
    .string()
    .max(128)
    .refine((s) => cron.validate(s), 'not a cron expression (e.g. "30 0 * * *": 00:30 every day)')
    .default('30 0 * * *'),
  business_date: z.enum(['yesterday', 'today']).default('yesterday'),
  channels: z.array(z.string().min(1).max(64)).max(256).optional(),
  out_dir: z.string().min(1).max(1024).default('night'),
  statements: z.boolean().default(true),
  parallel_steps: z.number().int().min(1).max(CHAIN_PARALLEL_MAX).default(2),
  alert: z
    .strictObject({
      webhook_url: z
        .url({ protocol: /^https?$/ })
        .max(2048)
        .optional(),
      /** Env var holding the HMAC secret that signs webhook alerts; the secret never sits in the config. */
      secret_env: z.string().regex(ENV_NAME, 'an environment variable name like SETTLE_ALERT_SECRET').optional(),
      timeout_ms: z.number().int().min(100).max(60_000).default(5_000),
    })
    .default({ timeout_ms: 5_000 }),
});

export type NightConfig = z.infer<typeof nightConfigSchema>;

export function parseNightConfig(raw: unknown): { ok: true; value: NightConfig } | { ok: false; error: z.ZodError } {
  const r = nightConfigSchema.safeParse(raw ?? {});
  return r.success ? { ok: true, value: r.data } : { ok: false, error: r.error };
}

/** The calendar date `days` before `date` (YYYY-MM-DD, no time zone involved). */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The business date a run fired at `atMs` covers: that calendar day in the zone, or the one before. */
export function businessDateFor(atMs: number, timezone: string, which: NightConfig['business_date']): string {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(atMs);
  return which === 'today' ? today : addDays(today, -1);
}
