// The routing part of the online config: each channel's limits and costs (the catalogue), rules on top,
// and the circuit breaker's settings. Converted once into the router's plain values.

import { z } from 'zod';
import type { BreakerConfig } from './breaker.js';
import { BREAKER_WINDOW_SECONDS_MAX } from './breaker.js';
import type { RoutableChannel, RoutingRule } from './router.js';

export const minorAmount = z.string().regex(/^(0|[1-9][0-9]{0,17})$/, 'an amount in minor units as an integer string, e.g. "500000"');

/** Fields a channel entry of `online.channels` gets for routing (merged into its schema). */
export const channelRoutingFields = {
  amount_min_minor: minorAmount.default('1'),
  amount_max_minor: minorAmount.nullable().default(null),
  daily_amount_max_minor: minorAmount.nullable().default(null),
  daily_count_max: z.number().int().min(1).max(100_000_000).nullable().default(null),
  cost_fixed_minor: minorAmount.default('0'),
  cost_min_minor: minorAmount.default('0'),
  cost_cap_minor: minorAmount.nullable().default(null),
  /** Whether the channel answers a payment in the call (true) or later by notification (false). */
  synchronous: z.boolean().default(true),
};

const scope = { merchant: z.string().min(1).max(64).optional(), product: z.string().min(1).max(32).optional() };

export const routingSchema = z.strictObject({
  rules: z
    .array(
      z.discriminatedUnion('kind', [
        z.strictObject({ kind: z.literal('pin'), channel: z.string(), fallback: z.boolean().default(false), ...scope }),
        z.strictObject({ kind: z.literal('exclude'), channel: z.string(), ...scope }),
        z.strictObject({ kind: z.literal('weight'), channel: z.string(), weight: z.number().int().min(1).max(10_000), ...scope }),
      ]),
    )
    .max(1000)
    .default([]),
  breaker: z
    .strictObject({
      window_s: z.number().int().min(1).max(BREAKER_WINDOW_SECONDS_MAX).default(60),
      min_calls: z.number().int().min(1).max(100_000).default(10),
      failure_ratio: z
        .string()
        .regex(/^0?\.[0-9]{1,3}$|^1(\.0{1,3})?$/, 'a ratio such as "0.5"')
        .refine((r) => /[1-9]/.test(r), 'a ratio above 0 (at 0 every call, even a success, would open the breaker)')
        .default('0.5'),
      open_s: z.number().int().min(1).max(3600).default(30),
    })
    .prefault({}),
});

export type RoutingConfig = z.infer<typeof routingSchema>;

interface ChannelEntry {
  readonly id: string;
  readonly products: readonly string[];
  readonly currencies: readonly string[];
  readonly cost_rate: string;
  readonly amount_min_minor: string;
  readonly amount_max_minor: string | null;
  readonly daily_amount_max_minor: string | null;
  readonly daily_count_max: number | null;
  readonly cost_fixed_minor: string;
  readonly cost_min_minor: string;
  readonly cost_cap_minor: string | null;
  readonly synchronous: boolean;
}

const big = (s: string | null): bigint | null => (s === null ? null : BigInt(s));

export function routableChannel(c: ChannelEntry): RoutableChannel {
  return {
    id: c.id,
    products: c.products,
    currencies: c.currencies,
    amountMinMinor: BigInt(c.amount_min_minor),
    amountMaxMinor: big(c.amount_max_minor),
    dailyAmountMaxMinor: big(c.daily_amount_max_minor),
    dailyCountMax: c.daily_count_max,
    cost: { rate: c.cost_rate, fixedMinor: BigInt(c.cost_fixed_minor), minMinor: BigInt(c.cost_min_minor), capMinor: big(c.cost_cap_minor) },
    synchronous: c.synchronous,
  };
}

export function routingRules(config: RoutingConfig): RoutingRule[] {
  return config.rules.map((r) => ({ ...r }) as RoutingRule);
}

export function breakerConfig(config: RoutingConfig): BreakerConfig {
  const [whole = '0', frac = ''] = config.breaker.failure_ratio.split('.');
  return {
    windowMs: config.breaker.window_s * 1000,
    minCalls: config.breaker.min_calls,
    failurePerMilleOpen: Number(whole) * 1000 + Number(frac.padEnd(3, '0')),
    openMs: config.breaker.open_s * 1000,
  };
}
