// The `sharing` section of the config (分润): who shares (agents at several levels, ISVs; the platform
// keeps the rest), which merchant each agent brought, and the rules: on what base, at what rate, with
// tiers by monthly volume and caps. One schema, parsed once, frozen; unknown keys are refused. The
// references between parts (agents, merchants, products, rates ≤ 100%, tiers) are checked by
// compileSharing, which turns the section into the rules the pure core uses (rates as parts per million).

import { z } from 'zod';
import { ShareError } from './errors.js';

/** Limits, with their reasons: the config is read into memory whole, and every rule is tried per payment. */
export const SHARING_LIMITS = {
  agentsMax: 10_000,
  isvsMax: 1_000,
  merchantsMax: 200_000,
  rulesMax: 200,
  /** Levels of the agent tree a rule pays: direct agent, its parent, … */
  levelsMax: 8,
  tiersMax: 32,
  /** Rates have at most 6 decimals: they are kept as parts per million. */
  rateDecimalsMax: 6,
} as const;

/** 1 = 1,000,000 ppm. */
export const RATE_SCALE_PPM = 1_000_000n;

export const SHARE_BASES = ['fee_net', 'fee', 'amount'] as const;
export type ShareBase = (typeof SHARE_BASES)[number];

const PARTY_ID = /^[A-Za-z0-9_-]{1,40}$/;
const partyId = z.string().regex(PARTY_ID, 'a party id is 1-40 of A-Z a-z 0-9 _ -');
const rateString = z.string().regex(/^(0|1)(\.[0-9]{1,6})?$/, 'a rate is a decimal string between 0 and 1 with at most 6 decimals ("0.3")');
const minorString = z.string().regex(/^(0|[1-9][0-9]{0,17})$/, 'an amount in minor units as an integer string ("5000")');

const tierSchema = z.strictObject({
  /** The merchant's month-to-date volume (payments, minor units) from which this tier applies, inclusive. */
  volume_from_minor: minorString,
  /** Up to this volume, exclusive; absent = no upper bound. */
  volume_to_minor: minorString.optional(),
  rate: rateString,
});

const slotSchema = z
  .strictObject({ rate: rateString.optional(), tiers: z.array(tierSchema).min(1).max(SHARING_LIMITS.tiersMax).optional() })
  .refine((s) => (s.rate === undefined) !== (s.tiers === undefined), 'give either rate or tiers');

const ruleSchema = z.strictObject({
  id: partyId,
  /** fee_net = merchant fee minus channel cost; fee = merchant fee; amount = payment amount. */
  base: z.enum(SHARE_BASES),
  /** Only payments of these products (default: all). */
  products: z.array(z.string()).min(1).max(64).optional(),
  /** Only payments of these merchants (default: all). */
  merchants: z.array(z.string()).min(1).max(SHARING_LIMITS.merchantsMax).optional(),
  /** Index 0 pays the merchant's own agent, 1 its parent, and so on up the tree. */
  agent_levels: z.array(slotSchema).max(SHARING_LIMITS.levelsMax).default([]),
  /** What the merchant's ISV gets. */
  isv: slotSchema.optional(),
  /** No party gets more than this from one payment; the excess stays with the platform. */
  cap_per_payment_minor: minorString.optional(),
  /** No party gets more than this under this rule in one business date (payments in id order). */
  cap_per_day_minor: minorString.optional(),
});

export const sharingConfigSchema = z.strictObject({
  agents: z.array(z.strictObject({ id: partyId, parent: partyId.optional() })).max(SHARING_LIMITS.agentsMax).default([]),
  isvs: z.array(z.strictObject({ id: partyId })).max(SHARING_LIMITS.isvsMax).default([]),
  /** Merchant id → the agent that brought it and its ISV. */
  merchants: z.record(z.string(), z.strictObject({ agent: partyId.optional(), isv: partyId.optional() })).default({}),
  /** Tried in order; the first rule whose products and merchants match a payment applies. */
  rules: z.array(ruleSchema).max(SHARING_LIMITS.rulesMax).default([]),
});

export type SharingConfig = z.infer<typeof sharingConfigSchema>;

export interface Tier {
  readonly volumeFromMinor: bigint;
  readonly volumeToMinor: bigint | null;
  readonly ratePpm: bigint;
}

/** A party's rate: a flat one is a single tier from 0 without bound. */
export interface Slot {
  readonly tiers: readonly Tier[];
}

export interface ShareRule {
  readonly id: string;
  readonly base: ShareBase;
  readonly products: ReadonlySet<string> | null;
  readonly merchants: ReadonlySet<string> | null;
  readonly agentLevels: readonly Slot[];
  readonly isv: Slot | null;
  readonly capPerPaymentMinor: bigint | null;
  readonly capPerDayMinor: bigint | null;
}

export interface SharingRules {
  readonly agentParent: ReadonlyMap<string, string | null>;
  readonly isvs: ReadonlySet<string>;
  readonly merchants: ReadonlyMap<string, { readonly agent: string | null; readonly isv: string | null }>;
  readonly rules: readonly ShareRule[];
}

/** What the rules may name, as the caller knows it (the merchants table, the online core's products). */
export interface KnownNames {
  readonly isMerchant: (merchantId: string) => boolean;
  readonly products: ReadonlySet<string>;
}

export function parseRatePpm(rate: string): bigint {
  const [whole = '0', fraction = ''] = rate.split('.');
  return BigInt(whole) * RATE_SCALE_PPM + BigInt(fraction.padEnd(SHARING_LIMITS.rateDecimalsMax, '0'));
}

/** ppm → "0.300000"-style decimal string trimmed of trailing zeros ("0.3"). */
export function formatRatePpm(ratePpm: bigint): string {
  const whole = ratePpm / RATE_SCALE_PPM;
  const fraction = (ratePpm % RATE_SCALE_PPM).toString().padStart(6, '0').replace(/0+$/, '');
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`;
}

const invalid = (message: string): ShareError => new ShareError('share_rule_invalid', message, 'Fix the sharing section of the config and run again.');

function compileSlot(raw: z.infer<typeof slotSchema>, where: string): Slot {
  if (raw.rate !== undefined) {
    const ratePpm = parseRatePpm(raw.rate);
    if (ratePpm > RATE_SCALE_PPM) throw invalid(`${where}: rate ${raw.rate} is above 1.`);
    return { tiers: [{ volumeFromMinor: 0n, volumeToMinor: null, ratePpm }] };
  }
  const tiers = (raw.tiers ?? []).map((t): Tier => {
    const ratePpm = parseRatePpm(t.rate);
    if (ratePpm > RATE_SCALE_PPM) throw invalid(`${where}: rate ${t.rate} is above 1.`);
    const volumeFromMinor = BigInt(t.volume_from_minor);
    const volumeToMinor = t.volume_to_minor === undefined ? null : BigInt(t.volume_to_minor);
    if (volumeToMinor !== null && volumeToMinor <= volumeFromMinor) throw invalid(`${where}: tier from ${volumeFromMinor} to ${volumeToMinor} is empty.`);
    return { volumeFromMinor, volumeToMinor, ratePpm };
  });
  const sorted = [...tiers].sort((a, b) => (a.volumeFromMinor < b.volumeFromMinor ? -1 : a.volumeFromMinor > b.volumeFromMinor ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (prev !== undefined && cur !== undefined && (prev.volumeToMinor === null || prev.volumeToMinor > cur.volumeFromMinor)) {
      throw invalid(`${where}: tiers overlap (from ${prev.volumeFromMinor} and from ${cur.volumeFromMinor}).`);
    }
  }
  return { tiers: sorted };
}

const slotMaxPpm = (s: Slot): bigint => s.tiers.reduce((m, t) => (t.ratePpm > m ? t.ratePpm : m), 0n);

/**
 * Parses and checks the section: shape (share_config_invalid), then references and sums
 * (share_rule_invalid): unknown agents, parents, ISVs, merchants or products, a cycle in the agent tree,
 * overlapping tiers, or one rule's highest rates summing above 100% of its base.
 */
export function compileSharing(raw: unknown, known: KnownNames): SharingRules {
  const parsed = sharingConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new ShareError('share_config_invalid', `sharing: ${path}: ${issue?.message ?? 'invalid'}.`, 'Fix the sharing section of the config and run again.');
  }
  const c = parsed.data;
  const agentParent = new Map<string, string | null>();
  for (const a of c.agents) {
    if (agentParent.has(a.id)) throw invalid(`agent ${a.id} is listed twice.`);
    agentParent.set(a.id, a.parent ?? null);
  }
  const isvs = new Set<string>();
  for (const i of c.isvs) {
    if (isvs.has(i.id) || agentParent.has(i.id)) throw invalid(`party ${i.id} is listed twice (ids are shared by agents and ISVs).`);
    isvs.add(i.id);
  }
  if (agentParent.has('platform') || isvs.has('platform')) throw invalid('"platform" is the platform\u2019s own party id.');
  for (const [id, parent] of agentParent) {
    if (parent !== null && !agentParent.has(parent)) throw invalid(`agent ${id} names an unknown parent agent ${parent}.`);
    // A cycle would make the levels endless: walk up at most agentsMax steps.
    let at: string | null = parent;
    for (let steps = 0; at !== null; steps++) {
      if (at === id || steps > agentParent.size) throw invalid(`agent ${id} is its own ancestor.`);
      at = agentParent.get(at) ?? null;
    }
  }
  const merchants = new Map<string, { agent: string | null; isv: string | null }>();
  for (const [merchantId, m] of Object.entries(c.merchants)) {
    if (!known.isMerchant(merchantId)) throw invalid(`merchants: ${merchantId} is not a known merchant.`);
    if (m.agent !== undefined && !agentParent.has(m.agent)) throw invalid(`merchants: ${merchantId} names an unknown agent ${m.agent}.`);
    if (m.isv !== undefined && !isvs.has(m.isv)) throw invalid(`merchants: ${merchantId} names an unknown ISV ${m.isv}.`);
    merchants.set(merchantId, { agent: m.agent ?? null, isv: m.isv ?? null });
  }
  const ruleIds = new Set<string>();
  const rules = c.rules.map((r): ShareRule => {
    const where = `rule ${r.id}`;
    if (ruleIds.has(r.id)) throw invalid(`${where} is listed twice.`);
    ruleIds.add(r.id);
    for (const p of r.products ?? []) if (!known.products.has(p)) throw invalid(`${where} names an unknown product ${p}.`);
    for (const m of r.merchants ?? []) if (!known.isMerchant(m)) throw invalid(`${where} names an unknown merchant ${m}.`);
    const agentLevels = r.agent_levels.map((s, i) => compileSlot(s, `${where} agent level ${i + 1}`));
    const isv = r.isv === undefined ? null : compileSlot(r.isv, `${where} isv`);
    const sumPpm = [...agentLevels, ...(isv ? [isv] : [])].reduce((sum, s) => sum + slotMaxPpm(s), 0n);
    if (sumPpm > RATE_SCALE_PPM) throw invalid(`${where}: the rates on base ${r.base} sum to ${formatRatePpm(sumPpm)}, above 100%.`);
    return {
      id: r.id,
      base: r.base,
      products: r.products ? new Set(r.products) : null,
      merchants: r.merchants ? new Set(r.merchants) : null,
      agentLevels,
      isv,
      capPerPaymentMinor: r.cap_per_payment_minor === undefined ? null : BigInt(r.cap_per_payment_minor),
      capPerDayMinor: r.cap_per_day_minor === undefined ? null : BigInt(r.cap_per_day_minor),
    };
  });
  return Object.freeze({ agentParent, isvs, merchants, rules });
}
