// The config file: one schema, parsed once, frozen. Unknown keys are an error, not silently ignored.
// Each later part of settle (online, batch) adds its own section here.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { describeZodIssue, parseChart } from '../ledger/chart-config.js';
import { isTimeZone, LedgerError, type Chart } from '../ledger/index.js';
import { parseReconConfig, type ReconConfig } from '../batch/recon/config.js';
import { parseOnlineConfig, type OnlineConfig } from '../online/config.js';

export interface SettleConfig {
  /** The time zone whose calendar day is the business date (default Asia/Shanghai). */
  readonly timezone: string;
  readonly chart: Chart;
  readonly online: OnlineConfig;
  readonly recon: ReconConfig;
  /**
   * The day-end sections, parsed by the command that uses them (each module exports its own schema):
   * `clearing` (src/batch/clearing), `sharing` (src/batch/sharing), `positions` (src/batch/positions),
   * `statements` (src/batch/statements), `trial_balance` (src/batch/trial-balance), `night` (src/batch/night), `report` (src/batch/report).
   * Absent sections are undefined.
   */
  readonly sections: {
    readonly clearing?: unknown;
    readonly sharing?: unknown;
    readonly positions?: unknown;
    readonly statements?: unknown;
    readonly trial_balance?: unknown;
    readonly night?: unknown;
    readonly report?: unknown;
  };
  readonly path: string;
}

const configSchema = z.strictObject({
  $schema: z.string().optional(),
  timezone: z
    .string()
    .refine(isTimeZone, 'not a known IANA time zone')
    .default('Asia/Shanghai'),
  ledger: z.unknown(),
  online: z.unknown().optional(),
  recon: z.unknown().optional(),
  clearing: z.unknown().optional(),
  sharing: z.unknown().optional(),
  positions: z.unknown().optional(),
  statements: z.unknown().optional(),
  trial_balance: z.unknown().optional(),
  night: z.unknown().optional(),
  report: z.unknown().optional(),
});

export const CONFIG_BYTES_MAX = 4 * 1024 * 1024;

export function defaultConfigPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'samples', 'settle.config.json');
}

export function loadConfig(path: string = defaultConfigPath()): SettleConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LedgerError('config_invalid', `Cannot read config ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}.`);
  }
  if (Buffer.byteLength(text) > CONFIG_BYTES_MAX) throw new LedgerError('config_invalid', `Config ${path} is larger than 4 MiB.`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new LedgerError('config_invalid', `Config ${path} is not valid JSON (${(e as Error).message}).`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new LedgerError('config_invalid', describeZodIssue(parsed.error, path));
  const online = parseOnlineConfig(parsed.data.online);
  if (!online.ok) throw new LedgerError('config_invalid', describeZodIssue(online.error, `${path}: online`));
  const recon = parseReconConfig(parsed.data.recon);
  if (!recon.ok) throw new LedgerError('config_invalid', describeZodIssue(recon.error, `${path}: recon`));
  return Object.freeze({ timezone: parsed.data.timezone, chart: parseChart(parsed.data.ledger, `${path}: ledger`), online: online.value, recon: recon.value, sections: { clearing: parsed.data.clearing, sharing: parsed.data.sharing, positions: parsed.data.positions, statements: parsed.data.statements, trial_balance: parsed.data.trial_balance, night: parsed.data.night, report: parsed.data.report }, path });
}

/** Today's calendar date (YYYY-MM-DD) in the given time zone. */
export function todayIn(timezone: string, nowMs: number): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(nowMs);
}
