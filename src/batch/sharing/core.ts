// The pure core of profit sharing (分润): rules and a payment in, share lines out; a refund and the
// payment's lines in, clawback lines out. No I/O, no clock.
//
// Rounding (the one rule): a payment's base is split with `allocate` (largest remainder) over the
// ratios [agent level 1, level 2, …, ISV, platform], each a rate in parts per million and the platform's
// the rest of 1,000,000; every part is the floor of its exact share and the minor units left over go one
// each to the largest remainders (ties to the earlier party: agents by level, then the ISV, then the
// platform). The parts sum exactly to the base. A cap then clips a party's share; what it clips goes to
// the platform, so the sum still equals the base.
//
// Clawbacks: a refund of R (after refunds of B before it, on a payment of amount A) takes back from each
// agent and ISV floor(share × (B+R) / A) − floor(share × B / A) — cumulative, so a full refund takes back
// exactly what was shared and never a unit more — and the platform's line is the refund's base
// (floor(base × (B+R) / A) − floor(base × B / A)) less the others, so the lines sum to that base.

import { allocate, divideRounded } from '../../ledger/index.js';
import { formatRatePpm, RATE_SCALE_PPM, type ShareRule, type SharingRules, type Slot } from './config.js';

export type PartyKind = 'agent' | 'isv' | 'platform';
export const PLATFORM_PARTY = 'platform';

export interface SharePayment {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly product: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly feeMinor: bigint;
  readonly costMinor: bigint;
}

export interface ShareRefund {
  readonly refundId: string;
  readonly paymentId: string;
  readonly merchantId: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  /** Succeeded refunds of the same payment posted before this one. */
  readonly refundedBeforeMinor: bigint;
  readonly paymentAmountMinor: bigint;
}

export interface ShareLine {
  readonly sourceKind: 'payment' | 'refund';
  readonly sourceId: string;
  readonly paymentId: string;
  readonly merchantId: string;
  readonly partyId: string;
  readonly partyKind: PartyKind;
  readonly currency: string;
  readonly ruleId: string;
  /** The base of this source: the payment's, or for a refund the part of it refunded (negative). */
  readonly baseMinor: bigint;
  /** The rate applied, as a decimal string ("0.3"); for a clawback the original line's. */
  readonly rate: string;
  /** Positive for a share, negative for a clawback. */
  readonly shareMinor: bigint;
  /** What a cap took from this party on this payment (it went to the platform). */
  readonly clippedMinor: bigint;
}

export type ShareFinding =
  | { readonly code: 'base_negative'; readonly paymentId: string; readonly baseMinor: bigint }
  | { readonly code: 'refund_unshared_payment'; readonly refundId: string; readonly paymentId: string };

/** Per rule, party and currency: what the party has received so far in the day (for cap_per_day). */
export type DayCapState = Map<string, bigint>;

export function baseOf(rule: ShareRule, p: SharePayment): bigint {
  switch (rule.base) {
    case 'fee_net':
      return p.feeMinor - p.costMinor;
    case 'fee':
      return p.feeMinor;
    case 'amount':
      return p.amountMinor;
  }
}

export function ruleFor(rules: SharingRules, p: SharePayment): ShareRule | undefined {
  return rules.rules.find((r) => (r.products === null || r.products.has(p.product)) && (r.merchants === null || r.merchants.has(p.merchantId)));
}

/** The rate of a slot at a month-to-date volume; a volume in a gap between tiers gets 0. */
export function slotRatePpm(slot: Slot, volumeMinor: bigint): bigint {
  for (const t of slot.tiers) {
    if (volumeMinor >= t.volumeFromMinor && (t.volumeToMinor === null || volumeMinor < t.volumeToMinor)) return t.ratePpm;
  }
  return 0n;
}

interface Seat {
  readonly partyId: string;
  readonly partyKind: PartyKind;
  readonly ratePpm: bigint;
}

/** Who sits at the table for this payment: the merchant's agent chain (as deep as the rule pays), its ISV. */
function seatsFor(rules: SharingRules, rule: ShareRule, merchantId: string, volumeMinor: bigint): Seat[] {
  const seats: Seat[] = [];
  const m = rules.merchants.get(merchantId);
  let agent = m?.agent ?? null;
  for (const slot of rule.agentLevels) {
    if (agent === null) break;
    seats.push({ partyId: agent, partyKind: 'agent', ratePpm: slotRatePpm(slot, volumeMinor) });
    agent = rules.agentParent.get(agent) ?? null;
  }
  if (rule.isv && m?.isv) seats.push({ partyId: m.isv, partyKind: 'isv', ratePpm: slotRatePpm(rule.isv, volumeMinor) });
  return seats;
}

/** The seats of one rule and merchant at one month volume, with their allocation ratios (platform last). */
interface Table {
  readonly volumeMinor: bigint;
  readonly seats: readonly Seat[];
  readonly ratiosPpm: readonly bigint[];
  readonly platformPpm: bigint;
}

/** Tables kept per rules object (a day asks for the same merchant's table for each of its payments). */
const TABLES_MAX = 200_000;
const tablesOf = new WeakMap<SharingRules, Map<string, Table>>();

/** The parties with a rate above zero for this payment, memoised per rules, rule and merchant (pure: the same inputs give the same table). */
function tableFor(rules: SharingRules, rule: ShareRule, merchantId: string, volumeMinor: bigint): Table {
  let tables = tablesOf.get(rules);
  if (tables === undefined) {
    tables = new Map();
    tablesOf.set(rules, tables);
  }
  const key = `${rule.id}\u0000${merchantId}`;
  const known = tables.get(key);
  if (known !== undefined && known.volumeMinor === volumeMinor) return known;
  const seats = seatsFor(rules, rule, merchantId, volumeMinor).filter((s) => s.ratePpm > 0n);
  const partiesPpm = seats.reduce((sum, s) => sum + s.ratePpm, 0n);
  const platformPpm = RATE_SCALE_PPM - partiesPpm;
  const table: Table = { volumeMinor, seats, ratiosPpm: [...seats.map((s) => s.ratePpm), platformPpm], platformPpm };
  if (tables.size >= TABLES_MAX) tables.clear();
  tables.set(key, table);
  return table;
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** Rates as text, made once per distinct rate (a day repeats a handful of rates a million times). */
const rateTexts = new Map<bigint, string>();
function rateText(ratePpm: bigint): string {
  let text = rateTexts.get(ratePpm);
  if (text === undefined) {
    text = formatRatePpm(ratePpm);
    if (rateTexts.size < 10_000) rateTexts.set(ratePpm, text);
  }
  return text;
}

/**
 * The share lines of one payment: one per agent and ISV with a share, and the platform's (always, so
 * that a payment shared is visible even when only the platform keeps its base). A negative base is
 * a finding and stays with the platform whole. `dayCaps` is updated in place.
 */
export function sharePayment(
  rules: SharingRules,
  p: SharePayment,
  monthVolumeMinor: bigint,
  dayCaps: DayCapState,
): { lines: ShareLine[]; finding: ShareFinding | null; clippedMinor: bigint } {
  const rule = ruleFor(rules, p);
  const line = (partyId: string, partyKind: PartyKind, ruleId: string, baseMinor: bigint, rate: string, shareMinor: bigint, clippedMinor: bigint): ShareLine => ({
    sourceKind: 'payment',
    sourceId: p.paymentId,
    paymentId: p.paymentId,
    merchantId: p.merchantId,
    partyId,
    partyKind,
    currency: p.currency,
    ruleId,
    baseMinor,
    rate,
    shareMinor,
    clippedMinor,
  });
  // Without a rule the platform keeps the fee net of channel cost: nobody else shares.
  const baseMinor = rule === undefined ? p.feeMinor - p.costMinor : baseOf(rule, p);
  if (rule === undefined || baseMinor < 0n) {
    const finding: ShareFinding | null = baseMinor < 0n ? { code: 'base_negative', paymentId: p.paymentId, baseMinor } : null;
    return { lines: [line(PLATFORM_PARTY, 'platform', rule?.id ?? '-', baseMinor, '1', baseMinor, 0n)], finding, clippedMinor: 0n };
  }
  const { seats, ratiosPpm, platformPpm } = tableFor(rules, rule, p.merchantId, monthVolumeMinor);
  const parts = baseMinor === 0n ? ratiosPpm.map(() => 0n) : allocate(baseMinor, ratiosPpm);
  const lines: ShareLine[] = [];
  let platformMinor = parts[seats.length] ?? 0n;
  let clippedTotal = 0n;
  seats.forEach((s, i) => {
    const exact = parts[i] ?? 0n;
    let share = exact;
    if (rule.capPerPaymentMinor !== null) share = min(share, rule.capPerPaymentMinor);
    if (rule.capPerDayMinor !== null) {
      const capKey = `${rule.id}\u0000${s.partyId}\u0000${p.currency}`;
      const used = dayCaps.get(capKey) ?? 0n;
      share = min(share, rule.capPerDayMinor - used > 0n ? rule.capPerDayMinor - used : 0n);
      dayCaps.set(capKey, used + share);
    }
    const clipped = exact - share;
    platformMinor += clipped;
    clippedTotal += clipped;
    if (share > 0n || clipped > 0n) lines.push(line(s.partyId, s.partyKind, rule.id, baseMinor, rateText(s.ratePpm), share, clipped));
  });
  lines.push(line(PLATFORM_PARTY, 'platform', rule.id, baseMinor, rateText(platformPpm), platformMinor, 0n));
  return { lines, finding: null, clippedMinor: clippedTotal };
}

/** floor(part × refunded / amount) for a non-negative part, toward zero for a negative one. */
function cumulative(partMinor: bigint, refundedMinor: bigint, amountMinor: bigint): bigint {
  return divideRounded(partMinor * refundedMinor, amountMinor, 'down');
}

/**
 * The clawback lines of one refund, from the payment's own share lines (in the same proportions).
 * Lines are negative shares; they sum to the refund's part of the base.
 */
export function clawBack(refund: ShareRefund, paymentLines: readonly ShareLine[]): ShareLine[] {
  const platform = paymentLines.find((l) => l.partyId === PLATFORM_PARTY);
  if (platform === undefined) return [];
  const before = refund.refundedBeforeMinor;
  const after = before + refund.amountMinor;
  const amount = refund.paymentAmountMinor;
  const refundBase = cumulative(platform.baseMinor, after, amount) - cumulative(platform.baseMinor, before, amount);
  const out: ShareLine[] = [];
  let others = 0n;
  const make = (l: ShareLine, shareMinor: bigint): ShareLine => ({
    sourceKind: 'refund',
    sourceId: refund.refundId,
    paymentId: refund.paymentId,
    merchantId: refund.merchantId,
    partyId: l.partyId,
    partyKind: l.partyKind,
    currency: l.currency,
    ruleId: l.ruleId,
    baseMinor: -refundBase,
    rate: l.rate,
    shareMinor,
    clippedMinor: 0n,
  });
  for (const l of paymentLines) {
    if (l.partyId === PLATFORM_PARTY) continue;
    const back = cumulative(l.shareMinor, after, amount) - cumulative(l.shareMinor, before, amount);
    others += back;
    if (back !== 0n) out.push(make(l, -back));
  }
  out.push(make(platform, -(refundBase - others)));
  return out;
}
