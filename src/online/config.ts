// The online core's section of the config: products, channels, fees, limits. Parsed once, frozen;
// unknown keys are refused. Defaults make the sample config work against `settle channel-sim`.

import { z } from 'zod';
import { findCurrency } from '../ledger/index.js';
import { notifyConfigSchema } from './notify/config.js';
import { riskSchema } from './risk/config.js';
import { channelRoutingFields, routingSchema } from './routing/config.js';

/** Products a merchant can pay with (the seed's 支付产品). `local` products never call a channel. */
export const PRODUCTS = {
  quick: { local: false, needsAgreement: true, needsPayer: false, waitsForPayer: false },
  netbank: { local: false, needsAgreement: false, needsPayer: false, waitsForPayer: true },
  agreement: { local: false, needsAgreement: true, needsPayer: false, waitsForPayer: false },
  wallet: { local: false, needsAgreement: false, needsPayer: false, waitsForPayer: true },
  foreign_card: { local: false, needsAgreement: false, needsPayer: false, waitsForPayer: false },
  phone_bill: { local: false, needsAgreement: false, needsPayer: false, waitsForPayer: false },
  virtual_coin: { local: true, needsAgreement: false, needsPayer: true, waitsForPayer: false },
  balance: { local: true, needsAgreement: false, needsPayer: true, waitsForPayer: false },
  credit: { local: true, needsAgreement: false, needsPayer: true, waitsForPayer: false },
} as const;
export type Product = keyof typeof PRODUCTS;
export const PRODUCT_NAMES = Object.keys(PRODUCTS) as Product[];

const rate = z.string().regex(/^(0|[1-9][0-9]*)(\.[0-9]{1,18})?$/, 'a rate is a plain decimal string such as "0.006"');
const currency = z.string().refine((c) => findCurrency(c) !== undefined, 'not a known currency code');

const channelSchema = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
  /** `sim`: the HTTP simulator adapter; `instant`: the in-process bank that answers at once. */
  adapter: z.enum(['sim', 'instant']).default('sim'),
  products: z.array(z.enum(['quick', 'netbank', 'agreement', 'wallet', 'foreign_card', 'phone_bill', 'preauth', 'payout'])).min(1),
  currencies: z.array(currency).min(1),
  cost_rate: rate.default('0'),
  timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
  ...channelRoutingFields,
});

export const onlineConfigSchema = z.strictObject({
  channels: z.array(channelSchema).default([
    channelDefaults({ id: 'bank', products: ['quick', 'agreement', 'foreign_card', 'phone_bill', 'netbank', 'preauth'], currencies: ['CNY', 'USD'], cost_rate: '0.0038' }),
    channelDefaults({ id: 'wallet', products: ['wallet', 'netbank'], currencies: ['CNY'], cost_rate: '0.006', synchronous: false }),
    channelDefaults({ id: 'payout', products: ['payout'], currencies: ['CNY'], cost_rate: '0' }),
  ]),
  /** Routing rules on top of cheapest-first, and the circuit breaker (routing/config.ts). */
  routing: routingSchema.prefault({}),
  /** Risk rules and one-time codes (risk/config.ts). */
  risk: riskSchema.prefault({}),
  /** The merchant fee rate per product; `default` for products not listed. Virtual coins pay no fee by default. */
  fee_rates: z.record(z.string(), rate).default({ default: '0.006', virtual_coin: '0' }),
  /** Products a new merchant may use when `settle merchant add` names none. */
  default_products: z.array(z.enum(PRODUCT_NAMES as [Product, ...Product[]])).default(PRODUCT_NAMES),
  /** How long an order that waits for the payer (netbank, wallet) stays open. */
  order_expiry_s: z.number().int().min(1).max(7 * 24 * 3600).default(1800),
  /** How long a pre-authorisation hold lives before the ledger releases it. */
  preauth_expiry_s: z.number().int().min(60).max(30 * 24 * 3600).default(7 * 24 * 3600),
  /** The default credit line of a user (信用支付), in minor units of CNY. */
  credit_limit_minor: z.string().regex(/^[0-9]{1,15}$/).default('500000'),
  body_limit_bytes: z.number().int().min(1024).max(1_048_576).default(65_536),
  rate_limit_per_s: z.number().int().min(1).max(1_000_000).default(2_000),
  /** The outbox dispatcher: merchant notifications and the internal event sink (notify/config.ts). */
  notify: notifyConfigSchema.prefault({}),
  /** The folder merchants' statements are published into (settle statement) and served from; relative to the database's folder. */
  statements_dir: z.string().min(1).max(1024).default('statements'),
});

export type OnlineConfig = z.infer<typeof onlineConfigSchema>;

function channelDefaults(c: Pick<z.input<typeof channelSchema>, 'id' | 'products' | 'currencies' | 'cost_rate'> & { synchronous?: boolean }): z.infer<typeof channelSchema> {
  return channelSchema.parse(c);
}
export type ChannelConfig = OnlineConfig['channels'][number];

export function parseOnlineConfig(raw: unknown): { ok: true; value: OnlineConfig } | { ok: false; error: z.ZodError } {
  const parsed = onlineConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) return { ok: false, error: parsed.error };
  const problems = crossCheck(parsed.data);
  if (problems.length > 0) return { ok: false, error: new z.ZodError(problems) };
  return { ok: true, value: Object.freeze(parsed.data) };
}

/** References between sections: a rule naming an unknown channel or product is refused at start. */
function crossCheck(config: OnlineConfig): z.core.$ZodIssue[] {
  const issues: z.core.$ZodIssue[] = [];
  const channels = new Set(config.channels.map((c) => c.id));
  const products = new Set<string>([...PRODUCT_NAMES, 'preauth', 'payout']);
  const seen = new Set<string>();
  for (const [i, c] of config.channels.entries()) {
    if (seen.has(c.id)) issues.push({ code: 'custom', path: ['channels', i, 'id'], message: `channel ${c.id} is listed twice`, input: c.id });
    seen.add(c.id);
    if (c.amount_max_minor !== null && BigInt(c.amount_max_minor) < BigInt(c.amount_min_minor)) {
      issues.push({ code: 'custom', path: ['channels', i, 'amount_max_minor'], message: 'amount_max_minor is below amount_min_minor', input: c.amount_max_minor });
    }
    if (c.cost_cap_minor !== null && BigInt(c.cost_cap_minor) < BigInt(c.cost_min_minor)) {
      issues.push({ code: 'custom', path: ['channels', i, 'cost_cap_minor'], message: 'cost_cap_minor is below cost_min_minor', input: c.cost_cap_minor });
    }
  }
  for (const [i, r] of config.routing.rules.entries()) {
    if (!channels.has(r.channel)) issues.push({ code: 'custom', path: ['routing', 'rules', i, 'channel'], message: `unknown channel ${r.channel}`, input: r.channel });
    if (r.product !== undefined && !products.has(r.product)) issues.push({ code: 'custom', path: ['routing', 'rules', i, 'product'], message: `unknown product ${r.product}`, input: r.product });
  }
  for (const [i, a] of config.risk.amounts.entries()) {
    if (a.product !== undefined && !products.has(a.product)) issues.push({ code: 'custom', path: ['risk', 'amounts', i, 'product'], message: `unknown product ${a.product}`, input: a.product });
    if (a.challenge_over_minor !== null && a.block_over_minor !== null && BigInt(a.challenge_over_minor) >= BigInt(a.block_over_minor)) {
      issues.push({ code: 'custom', path: ['risk', 'amounts', i, 'challenge_over_minor'], message: 'challenge_over_minor must be below block_over_minor', input: a.challenge_over_minor });
    }
  }
  return issues;
}

export function feeRateFor(config: OnlineConfig, product: string): string {
  return config.fee_rates[product] ?? config.fee_rates['default'] ?? '0';
}
