// The balances channels report, from a JSON file `{ "<channel>": { "<currency>": "<amount_minor>" } }`
// (amounts as integer strings or safe integers, in minor units). Parsed at the boundary, with limits.

import { z } from 'zod';
import type { ChannelReports } from './check.js';

/** A channel-balances file larger than this is refused (10,000 channels fit easily). */
export const CHANNEL_BALANCES_BYTES_MAX = 1024 * 1024;
export const CHANNELS_MAX = 10_000;

const amount = z.union([z.string().regex(/^-?\d{1,19}$/), z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER)]).transform((v) => BigInt(v));
const schema = z
  .record(z.string().min(1).max(64), z.record(z.string().regex(/^[A-Z][A-Z0-9]{1,9}$/), amount))
  .refine((r) => Object.keys(r).length <= CHANNELS_MAX, `at most ${CHANNELS_MAX} channels`);

export type ChannelBalancesResult = { readonly ok: true; readonly value: ChannelReports } | { readonly ok: false; readonly message: string };

export function parseChannelBalances(text: string): ChannelBalancesResult {
  if (Buffer.byteLength(text) > CHANNEL_BALANCES_BYTES_MAX) return { ok: false, message: `larger than ${CHANNEL_BALANCES_BYTES_MAX} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, message: `not valid JSON (${(e as Error).message})` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, message: `${issue?.path.join('.') || '(top)'}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, value: new Map(Object.entries(parsed.data).map(([channel, byCurrency]) => [channel, new Map(Object.entries(byCurrency))])) };
}
