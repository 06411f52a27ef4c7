// The risk part of the online config (风控规则). Amounts are minor-unit integer strings; windows in
// seconds. Converted once into the engine's plain values. Everything is optional: no rules, all allowed.

import { z } from 'zod';
import { findCurrency } from '../../ledger/index.js';
import { DIMENSIONS, type Dimension, type RiskRules } from './engine.js';
import { ENTRIES_PER_KEY_MAX } from './velocity.js';
import { minorAmount } from '../routing/config.js';

const action = z.enum(['challenge', 'block']);
const currency = z.string().refine((c) => findCurrency(c) !== undefined, 'not a known currency code').default('CNY');
const dimension = z.enum(DIMENSIONS as [Dimension, ...Dimension[]]);
const lists = z
  .strictObject({
    payer: z.array(z.string().min(1).max(128)).max(100_000).optional(),
    card: z.array(z.string().min(1).max(128)).max(100_000).optional(),
    device: z.array(z.string().min(1).max(128)).max(100_000).optional(),
    ip: z.array(z.string().min(1).max(64)).max(100_000).optional(),
  })
  .default({});

export const riskSchema = z.strictObject({
  amounts: z
    .array(
      z.strictObject({
        product: z.string().optional(),
        currency,
        challenge_over_minor: minorAmount.nullable().default(null),
        block_over_minor: minorAmount.nullable().default(null),
      }),
    )
    .max(1000)
    .default([]),
  velocity: z
    .array(
      z
        .strictObject({
          dimension,
          window_s: z.number().int().min(1).max(7 * 24 * 3600),
          // The windows keep at most ENTRIES_PER_KEY_MAX attempts per value: a larger count could never be seen.
          count_max: z.number().int().min(1).max(ENTRIES_PER_KEY_MAX - 1).nullable().default(null),
          amount_max_minor: minorAmount.nullable().default(null),
          action,
        })
        .refine((v) => v.count_max !== null || v.amount_max_minor !== null, 'a velocity rule needs count_max or amount_max_minor'),
    )
    .max(100)
    .default([]),
  block_list: lists,
  allow_list: lists,
  merchant_daily: z
    .array(z.strictObject({ merchant: z.string().min(1), currency, amount_max_minor: minorAmount, action: action.default('block') }))
    .max(100_000)
    .default([]),
  first_time_payer: z.strictObject({ over_minor: minorAmount.default('0'), action: action.default('challenge') }).nullable().default(null),
  otp: z
    .strictObject({
      digits: z.number().int().min(4).max(10).default(6),
      ttl_s: z.number().int().min(30).max(3600).default(300),
      attempts_max: z.number().int().min(1).max(10).default(3),
      /** Where the built-in SMS adapter writes (NDJSON); null: the daemon's log. */
      sms_file: z.string().min(1).nullable().default(null),
    })
    .prefault({}),
});

export type RiskConfig = z.infer<typeof riskSchema>;

const set = (values: readonly string[] | undefined): ReadonlySet<string> | undefined => (values ? new Set(values) : undefined);
const big = (s: string | null): bigint | null => (s === null ? null : BigInt(s));

export function riskRules(config: RiskConfig): RiskRules {
  const list = (l: RiskConfig['block_list']): RiskRules['blockList'] => {
    const out: Partial<Record<Dimension, ReadonlySet<string>>> = {};
    for (const d of DIMENSIONS) {
      const s = set(l[d]);
      if (s) out[d] = s;
    }
    return out;
  };
  return {
    amounts: config.amounts.map((a) => ({ product: a.product, currency: a.currency, challengeOverMinor: big(a.challenge_over_minor), blockOverMinor: big(a.block_over_minor) })),
    velocity: config.velocity.map((v) => ({ dimension: v.dimension, windowMs: v.window_s * 1000, countMax: v.count_max, amountMaxMinor: big(v.amount_max_minor), action: v.action })),
    blockList: list(config.block_list),
    allowList: list(config.allow_list),
    merchantDaily: config.merchant_daily.map((m) => ({ merchant: m.merchant, currency: m.currency, amountMaxMinor: BigInt(m.amount_max_minor), action: m.action })),
    firstTimePayer: config.first_time_payer ? { overMinor: BigInt(config.first_time_payer.over_minor), action: config.first_time_payer.action } : null,
  };
}

/** The longest velocity window: how far back the windows are reloaded at start. */
export function velocityHorizonMs(config: RiskConfig): number {
  return Math.max(0, ...config.velocity.map((v) => v.window_s * 1000));
}
