// The `recon` section of the config: per channel, the format of its file, where to fetch it, and how
// long an unmatched item may wait in suspense (存疑) for a late row before it becomes a discrepancy.
// One schema, parsed once, frozen; unknown keys are refused. The parts each step owns are separate
// schemas (source: fetch/source-config.ts; generic CSV mapping: formats/generic-csv.ts).

import { z } from 'zod';
import { findCurrency } from '../../ledger/index.js';

export const FORMAT_NAMES = ['wechat-trade', 'wechat-fundflow', 'alipay-trade', 'alipay-account', 'unionpay-zm', 'generic-csv'] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

const reconChannelSchema = z.strictObject({
  /** The channel id as in the online config (`bank`, `wallet`, …). */
  channel: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
  format: z.enum(FORMAT_NAMES),
  /** The currency of the file's amounts when the file does not say (WeChat and Alipay bills are CNY). */
  currency: z.string().refine((c) => findCurrency(c) !== undefined, 'not a known currency code').default('CNY'),
  /** Where the file comes from (fetch/source-config.ts validates it). */
  source: z.unknown().optional(),
  /** For format generic-csv: the column mapping (formats/generic-csv.ts validates it). */
  mapping: z.unknown().optional(),
  /** Days an unmatched item waits in suspense for the next files before it becomes a discrepancy. */
  suspense_days: z.number().int().min(0).max(31).default(1),
});

export const reconConfigSchema = z.strictObject({
  channels: z.array(reconChannelSchema).default([]),
  /** Where fetched raw files are kept, content-addressed by SHA-256 (relative to the database's folder). */
  archive_dir: z.string().min(1).default('recon-files'),
});

export type ReconConfig = z.infer<typeof reconConfigSchema>;
export type ReconChannelConfig = ReconConfig['channels'][number];

export function parseReconConfig(raw: unknown): { ok: true; value: ReconConfig } | { ok: false; error: z.ZodError } {
  const parsed = reconConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) return { ok: false, error: parsed.error };
  const seen = new Set<string>();
  for (const [i, c] of parsed.data.channels.entries()) {
    if (seen.has(c.channel)) {
      return { ok: false, error: new z.ZodError([{ code: 'custom', path: ['channels', i, 'channel'], message: `channel ${c.channel} is listed twice`, input: c.channel }]) };
    }
    seen.add(c.channel);
  }
  return { ok: true, value: Object.freeze(parsed.data) };
}
