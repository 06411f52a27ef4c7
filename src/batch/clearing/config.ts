// The `clearing` section of the config: rate cards (费率), settlement cycles (结算周期) and each merchant's
// payout account (for the payout files). Parsed once at the boundary; after that the values are trusted.
//
// Example:
// "clearing": {
//   "refund_fee_policy": "proportional",
//   "default_cycle": "T+1",
//   "debtor": { "name": "Settle Payments Ltd", "account": "6222000000000001", "bank": "ICBKCNBJ" },
//   "rate_cards": [
//     { "merchant": "*", "product": "*", "channel": "*", "rate": "0.006" },
//     { "merchant": "M100001", "product": "quick", "channel": "*", "rate": "0.0055", "fixed_minor": 10, "min_minor": 20, "cap_minor": 5000,
//       "tiers": [{ "from_minor": 0, "to_minor": 100000000, "rate": "0.0055" }, { "from_minor": 100000000, "rate": "0.0045" }] }
//   ],
//   "merchants": { "M100001": { "cycle": "D+1", "payout": { "name": "Shop One", "iban": "DE89370400440532013000", "bank": "COBADEFFXXX" } } }
// }

import { z } from 'zod';

export class ClearingError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  constructor(code: string, message: string, hint?: string) {
    super(message);
    this.name = 'ClearingError';
    this.code = code;
    this.hint = hint;
  }
}

/** Every stable code clearing refuses with (for the table of error codes and its test). */
export const CLEARING_ERROR_CODES = {
  clearing_config_invalid: 'the clearing section does not fit its schema',
  rate_card_invalid: 'a rate above 100%, a cap below the minimum, or an empty tier',
  rate_card_unknown_product: 'a rate card names a product settle does not have',
  rate_card_tiers_overlap: 'two volume tiers of a rate card overlap',
  day_not_closed: 'the run date is not a closed business day',
  payout_account_missing: 'a merchant due a payout has no payout account in the config',
  clearing_too_large: 'more unsettled items or batches than one run may take',
} as const;

/** The payment products a rate card may name (the online core's products, and `preauth` for captures). */
export const CLEARING_PRODUCTS = ['quick', 'netbank', 'agreement', 'wallet', 'foreign_card', 'phone_bill', 'virtual_coin', 'balance', 'credit', 'preauth'] as const;
/** Products without a channel line: nothing to reconcile, so they count as matched. */
export const LOCAL_PRODUCTS: ReadonlySet<string> = new Set(['balance', 'credit', 'virtual_coin']);

export const CLEARING_LIMITS = {
  /** Rate cards in the config: each item is matched against all of them. */
  rateCardsMax: 10_000,
  tiersPerCardMax: 32,
  merchantsMax: 100_000,
  /** How far back a run looks for unsettled items (days before the run date). */
  lookbackDaysMax: 366,
} as const;

export type RefundFeePolicy = 'proportional' | 'kept';
export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export type Cycle = { readonly kind: 'T+0' } | { readonly kind: 'T+1' } | { readonly kind: 'D+1' } | { readonly kind: 'weekly'; readonly weekday: Weekday };

/** A rate as an exact fraction: `rate` = numerator / denominator (a power of ten). */
export interface Rate {
  readonly text: string;
  readonly numerator: bigint;
  readonly denominator: bigint;
}

export interface Tier {
  readonly fromMinor: bigint;
  /** Exclusive; null = no upper bound. */
  readonly toMinor: bigint | null;
  readonly rate: Rate;
}

export interface RateCard {
  readonly merchant: string;
  readonly product: string;
  readonly channel: string;
  readonly rate: Rate;
  readonly fixedMinor: bigint;
  readonly minMinor: bigint;
  readonly capMinor: bigint | null;
  readonly tiers: readonly Tier[];
  readonly refundFeePolicy: RefundFeePolicy;
}

export interface PayoutAccount {
  readonly name: string;
  /** IBAN, or else a plain account number. */
  readonly iban: string | null;
  readonly account: string | null;
  /** The bank's BIC, or another bank code (e.g. CNAPS). */
  readonly bank: string;
}

export interface ClearingConfig {
  readonly refundFeePolicy: RefundFeePolicy;
  readonly defaultCycle: Cycle;
  readonly lookbackDays: number;
  readonly debtor: PayoutAccount;
  readonly rateCards: readonly RateCard[];
  readonly merchants: ReadonlyMap<string, { readonly cycle: Cycle | null; readonly payout: PayoutAccount | null }>;
}

const RATE_TEXT = /^(0|[1-9][0-9]{0,5})(\.[0-9]{1,12})?$/;
const minor = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const selector = z.string().min(1).max(64);
const rateText = z.string().regex(RATE_TEXT, 'a rate is a plain decimal string such as "0.006"');
const cycleText = z.string().regex(/^(T\+0|T\+1|D\+1|weekly:(mon|tue|wed|thu|fri|sat|sun))$/, 'one of T+0, T+1, D+1, weekly:<mon..sun>');
const text = (max: number): z.ZodString => z.string().min(1).max(max);

const accountSchema = z
  .strictObject({
    name: text(140),
    iban: z
      .string()
      .regex(/^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$/, 'an IBAN without spaces')
      .optional(),
    account: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,34}$/)
      .optional(),
    bank: z.string().regex(/^[A-Za-z0-9]{1,35}$/, 'a BIC or bank code'),
  })
  .refine((a) => (a.iban === undefined) !== (a.account === undefined), 'give exactly one of iban and account');

const tierSchema = z.strictObject({ from_minor: minor, to_minor: minor.nullable().optional(), rate: rateText });

const cardSchema = z.strictObject({
  merchant: selector.default('*'),
  product: selector.default('*'),
  channel: selector.default('*'),
  rate: rateText.default('0'),
  fixed_minor: minor.default(0),
  min_minor: minor.default(0),
  cap_minor: minor.nullable().default(null),
  tiers: z.array(tierSchema).max(CLEARING_LIMITS.tiersPerCardMax).default([]),
  refund_fee_policy: z.enum(['proportional', 'kept']).optional(),
});

export const clearingSchema = z.strictObject({
  refund_fee_policy: z.enum(['proportional', 'kept']).default('proportional'),
  default_cycle: cycleText.default('T+1'),
  lookback_days: z.number().int().min(1).max(CLEARING_LIMITS.lookbackDaysMax).default(92),
  debtor: accountSchema.default({ name: 'Settle reserve', account: 'ICBC-RESERVE', bank: 'ICBKCNBJ' }),
  rate_cards: z.array(cardSchema).max(CLEARING_LIMITS.rateCardsMax).default([]),
  merchants: z
    .record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), z.strictObject({ cycle: cycleText.optional(), payout: accountSchema.optional() }))
    .refine((m) => Object.keys(m).length <= CLEARING_LIMITS.merchantsMax, `at most ${CLEARING_LIMITS.merchantsMax} merchants`)
    .default({}),
});

export function parseRate(raw: string): Rate {
  const [whole = '0', fraction = ''] = raw.split('.');
  return { text: raw, numerator: BigInt(whole + fraction), denominator: 10n ** BigInt(fraction.length) };
}

export function parseCycle(raw: string): Cycle {
  if (raw === 'T+0' || raw === 'T+1' || raw === 'D+1') return { kind: raw };
  return { kind: 'weekly', weekday: raw.slice('weekly:'.length) as Weekday };
}

const overOneHundredPercent = (r: Rate): boolean => r.numerator > r.denominator;

function checkCard(card: RateCard, index: number): void {
  const where = `clearing.rate_cards[${index}] (${card.merchant}/${card.product}/${card.channel})`;
  if (card.product !== '*' && !(CLEARING_PRODUCTS as readonly string[]).includes(card.product)) {
    throw new ClearingError('rate_card_unknown_product', `${where} names product ${JSON.stringify(card.product)}, which is not one of ${CLEARING_PRODUCTS.join(', ')}.`, 'Fix the product name or use "*".');
  }
  for (const r of [card.rate, ...card.tiers.map((t) => t.rate)]) {
    if (overOneHundredPercent(r)) throw new ClearingError('rate_card_invalid', `${where} has rate ${r.text}, above 100%.`, 'Give rates as fractions: "0.006" is 0.6%.');
  }
  if (card.capMinor !== null && card.capMinor < card.minMinor) throw new ClearingError('rate_card_invalid', `${where} has cap_minor below min_minor.`, 'Raise the cap or lower the minimum.');
  const tiers = [...card.tiers].sort((a, b) => (a.fromMinor < b.fromMinor ? -1 : a.fromMinor > b.fromMinor ? 1 : 0));
  for (const [i, t] of tiers.entries()) {
    if (t.toMinor !== null && t.toMinor <= t.fromMinor) throw new ClearingError('rate_card_invalid', `${where} has a tier from ${t.fromMinor} to ${t.toMinor}: empty.`, 'A tier covers from_minor (inclusive) to to_minor (exclusive).');
    const next = tiers[i + 1];
    if (next !== undefined && (t.toMinor === null || t.toMinor > next.fromMinor)) {
      throw new ClearingError('rate_card_tiers_overlap', `${where} has tiers [${t.fromMinor}, ${t.toMinor ?? '∞'}) and [${next.fromMinor}, …) that overlap.`, 'Make each tier end at or before the next one starts.');
    }
  }
}

const toAccount = (a: z.infer<typeof accountSchema>): PayoutAccount => ({ name: a.name, iban: a.iban ?? null, account: a.account ?? null, bank: a.bank });

/** Parses `config.sections.clearing` (undefined = every default); refusals are ClearingErrors with stable codes. */
export function parseClearingConfig(raw: unknown): ClearingConfig {
  const parsed = clearingSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue ? issue.path.join('.') : '';
    throw new ClearingError('clearing_config_invalid', `clearing${path ? `.${path}` : ''}: ${issue?.message ?? 'invalid'}.`, 'Fix the clearing section of the config.');
  }
  const c = parsed.data;
  const rateCards = c.rate_cards.map(
    (r): RateCard => ({
      merchant: r.merchant,
      product: r.product,
      channel: r.channel,
      rate: parseRate(r.rate),
      fixedMinor: BigInt(r.fixed_minor),
      minMinor: BigInt(r.min_minor),
      capMinor: r.cap_minor === null ? null : BigInt(r.cap_minor),
      tiers: r.tiers.map((t) => ({ fromMinor: BigInt(t.from_minor), toMinor: t.to_minor === undefined || t.to_minor === null ? null : BigInt(t.to_minor), rate: parseRate(t.rate) })),
      refundFeePolicy: r.refund_fee_policy ?? c.refund_fee_policy,
    }),
  );
  rateCards.forEach(checkCard);
  const merchants = new Map(Object.entries(c.merchants).map(([id, m]) => [id, { cycle: m.cycle === undefined ? null : parseCycle(m.cycle), payout: m.payout === undefined ? null : toAccount(m.payout) }]));
  return Object.freeze({
    refundFeePolicy: c.refund_fee_policy,
    defaultCycle: parseCycle(c.default_cycle),
    lookbackDays: c.lookback_days,
    debtor: toAccount(c.debtor),
    rateCards,
    merchants,
  });
}
