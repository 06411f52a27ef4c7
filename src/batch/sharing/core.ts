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
import { formatRatePpm, RATE_SCALE_PPM, type ShareBase, type ShareRule, type SharingRules, type Slot } from './config.js';

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

export function ruleFor(rules: SharingRules, p: Pick<SharePayment, 'merchantId' | 'product'>): ShareRule | undefined {
  for (const r of rules.rules) if ((r.products === null || r.products.has(p.product)) && (r.merchants === null || r.merchants.has(p.merchantId))) return r;
  return undefined;
}

/** The rate of a slot at a month-to-date volume; a volume in a gap between tiers gets 0. */
export function slotRatePpm(slot: Slot, volumeMinor: bigint): bigint {
  for (const t of slot.tiers) {
    if (volumeMinor >= t.volumeFromMinor && (t.volumeToMinor === null || volumeMinor < t.volumeToMinor)) return t.ratePpm;
  }
  return 0n;
}

/** One party at a payment's table: who, what kind, at what rate. */
export interface Seat {
  readonly partyId: string;
  readonly partyKind: PartyKind;
  readonly ratePpm: bigint;
  /** The rate as a decimal string ("0.3"), as the lines carry it. */
  readonly rate: string;
}

/** Who sits at the table for this payment: the merchant's agent chain (as deep as the rule pays), its ISV. */
function seatsFor(rules: SharingRules, rule: ShareRule, merchantId: string, volumeMinor: bigint): Seat[] {
  const seats: Seat[] = [];
  const m = rules.merchants.get(merchantId);
  let agent = m?.agent ?? null;
  const seat = (partyId: string, partyKind: PartyKind, ratePpm: bigint): Seat => ({ partyId, partyKind, ratePpm, rate: rateText(ratePpm) });
  for (const slot of rule.agentLevels) {
    if (agent === null) break;
    seats.push(seat(agent, 'agent', slotRatePpm(slot, volumeMinor)));
    agent = rules.agentParent.get(agent) ?? null;
  }
  if (rule.isv && m?.isv) seats.push(seat(m.isv, 'isv', slotRatePpm(rule.isv, volumeMinor)));
  return seats;
}

/**
 * The parties of a payment's split with their rates, and the platform's rate: what many payments have in
 * common (all of one merchant under one rule at one month volume), so a store can keep it once and each
 * payment as its shares only. `key` is the same for equal tables (rule, platform rate, seats).
 */
export interface SplitTable {
  readonly key: string;
  readonly ruleId: string;
  /** In allocation order: agent levels, then the ISV; the platform is not a seat. */
  readonly seats: readonly Seat[];
  readonly platformRate: string;
}

/**
 * One payment's split, compact: one share per seat of its table and the platform's. It stands for the
 * lines `splitLines` gives: one per seat with a share or a clipped amount, and the platform's always.
 */
export interface PaymentSplit {
  readonly payment: SharePayment;
  readonly table: SplitTable;
  readonly baseMinor: bigint;
  /** One per seat (the parts before caps less what caps clipped). */
  readonly sharesMinor: readonly bigint[];
  /** One per seat, what a cap kept from it; null when no cap clipped anything. */
  readonly clippedMinor: readonly bigint[] | null;
  readonly platformShareMinor: bigint;
  readonly finding: ShareFinding | null;
  /** The sum of clippedMinor. */
  readonly clippedTotalMinor: bigint;
}

/** The parts of one base over one set of ratios: seats' parts and the platform's (allocate, largest remainder). */
interface Parts {
  readonly seatsMinor: readonly bigint[];
  readonly platformMinor: bigint;
}

/** Parts remembered per set of ratios and base: `allocate` is pure, so equal inputs give equal parts. A day
 *  has a few sets of ratios and, on a fee base, a few thousand distinct bases; the cache is bounded whole. */
const PARTS_KEPT_MAX = 500_000;
const partsByRatios = new Map<string, Map<bigint, Parts>>();
let partsKept = 0;

/** The seats of one rule and merchant at one month volume, with their allocation ratios (platform last). */
interface Table {
  readonly volumeMinor: bigint;
  readonly seats: readonly Seat[];
  readonly ratiosPpm: readonly bigint[];
  readonly platformPpm: bigint;
  readonly split: SplitTable;
  /** Per seat, the day-cap key without its currency. */
  readonly capKeyPrefixes: readonly string[];
  /** The key of its ratios in the parts cache. */
  readonly ratiosKey: string;
}

/** Tables kept per rule and merchant (a day asks for the same merchant's table for each of its payments). */
const TABLES_MAX = 200_000;
const tablesOf = new WeakMap<SharingRules, Map<ShareRule, Map<string, Table>>>();

const tableKey = (ruleId: string, platformRate: string, seats: readonly Seat[]): string =>
  JSON.stringify([ruleId, platformRate, seats.map((s) => [s.partyId, s.partyKind, s.rate])]);

/** The parties with a rate above zero for this payment, memoised per rules, rule and merchant (pure: the same inputs give the same table). */
function tableFor(rules: SharingRules, rule: ShareRule, merchantId: string, volumeMinor: bigint): Table {
  let byRule = tablesOf.get(rules);
  if (byRule === undefined) {
    byRule = new Map();
    tablesOf.set(rules, byRule);
  }
  let tables = byRule.get(rule);
  if (tables === undefined) {
    tables = new Map();
    byRule.set(rule, tables);
  }
  const known = tables.get(merchantId);
  if (known !== undefined && known.volumeMinor === volumeMinor) return known;
  const seats = seatsFor(rules, rule, merchantId, volumeMinor).filter((s) => s.ratePpm > 0n);
  const partiesPpm = seats.reduce((sum, s) => sum + s.ratePpm, 0n);
  const platformPpm = RATE_SCALE_PPM - partiesPpm;
  const ratiosPpm = [...seats.map((s) => s.ratePpm), platformPpm];
  const platformRate = rateText(platformPpm);
  const table: Table = {
    volumeMinor,
    seats,
    ratiosPpm,
    platformPpm,
    split: { key: tableKey(rule.id, platformRate, seats), ruleId: rule.id, seats, platformRate },
    capKeyPrefixes: seats.map((s) => `${rule.id}\u0000${s.partyId}\u0000`),
    ratiosKey: ratiosPpm.join(','),
  };
  if (tables.size >= TABLES_MAX) tables.clear();
  tables.set(merchantId, table);
  return table;
}

/** The platform-only table of a rule id ("-": none matched): the platform keeps the base whole, at rate 1. */
const platformTables = new Map<string, SplitTable>();
function platformOnly(ruleId: string): SplitTable {
  let t = platformTables.get(ruleId);
  if (t === undefined) {
    t = { key: tableKey(ruleId, '1', []), ruleId, seats: [], platformRate: '1' };
    if (platformTables.size < 10_000) platformTables.set(ruleId, t);
  }
  return t;
}

function partsOf(table: Table, baseMinor: bigint): Parts {
  let cache = partsByRatios.get(table.ratiosKey);
  if (cache === undefined) {
    cache = new Map();
    partsByRatios.set(table.ratiosKey, cache);
  }
  let parts = cache.get(baseMinor);
  if (parts === undefined) {
    const all = baseMinor === 0n ? table.ratiosPpm.map(() => 0n) : allocate(baseMinor, table.ratiosPpm);
    parts = { seatsMinor: all.slice(0, table.seats.length), platformMinor: all[table.seats.length] ?? 0n };
    if (partsKept >= PARTS_KEPT_MAX) {
      partsByRatios.clear();
      partsKept = 0;
      cache = new Map();
      partsByRatios.set(table.ratiosKey, cache);
    }
    cache.set(baseMinor, parts);
    partsKept++;
  }
  return parts;
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

const NO_SHARES: readonly bigint[] = [];

/**
 * The split of one payment (see `sharePayment` for its lines). A negative base is a finding and stays
 * with the platform whole. `dayCaps` is updated in place.
 */
export function splitPayment(rules: SharingRules, p: SharePayment, monthVolumeMinor: bigint, dayCaps: DayCapState): PaymentSplit {
  const rule = ruleFor(rules, p);
  // Without a rule the platform keeps the fee net of channel cost: nobody else shares.
  const baseMinor = rule === undefined ? p.feeMinor - p.costMinor : baseOf(rule, p);
  if (rule === undefined || baseMinor < 0n) {
    const finding: ShareFinding | null = baseMinor < 0n ? { code: 'base_negative', paymentId: p.paymentId, baseMinor } : null;
    return { payment: p, table: platformOnly(rule?.id ?? '-'), baseMinor, sharesMinor: NO_SHARES, clippedMinor: null, platformShareMinor: baseMinor, finding, clippedTotalMinor: 0n };
  }
  const table = tableFor(rules, rule, p.merchantId, monthVolumeMinor);
  const parts = partsOf(table, baseMinor);
  const capPayment = rule.capPerPaymentMinor;
  const capDay = rule.capPerDayMinor;
  if (capPayment === null && capDay === null) {
    return { payment: p, table: table.split, baseMinor, sharesMinor: parts.seatsMinor, clippedMinor: null, platformShareMinor: parts.platformMinor, finding: null, clippedTotalMinor: 0n };
  }
  let shares = parts.seatsMinor;
  let clipped: bigint[] | null = null;
  let clippedTotal = 0n;
  for (let i = 0; i < shares.length; i++) {
    const exact = parts.seatsMinor[i] ?? 0n;
    let share = exact;
    if (capPayment !== null) share = min(share, capPayment);
    if (capDay !== null) {
      const capKey = `${table.capKeyPrefixes[i] ?? ''}${p.currency}`;
      const used = dayCaps.get(capKey) ?? 0n;
      share = min(share, capDay - used > 0n ? capDay - used : 0n);
      dayCaps.set(capKey, used + share);
    }
    if (share !== exact) {
      if (clipped === null) {
        clipped = parts.seatsMinor.map(() => 0n);
        shares = [...parts.seatsMinor];
      }
      (shares as bigint[])[i] = share;
      clipped[i] = exact - share;
      clippedTotal += exact - share;
    }
  }
  return { payment: p, table: table.split, baseMinor, sharesMinor: shares, clippedMinor: clipped, platformShareMinor: parts.platformMinor + clippedTotal, finding: null, clippedTotalMinor: clippedTotal };
}

/** A split that depends on its base alone (what a route gives for one base). */
export interface BaseSplit {
  readonly table: SplitTable;
  readonly baseMinor: bigint;
  readonly sharesMinor: readonly bigint[];
  readonly clippedMinor: readonly bigint[] | null;
  readonly platformShareMinor: bigint;
  readonly clippedTotalMinor: bigint;
}

/**
 * Where the payments of one merchant and product go on a date when no rule caps a party per day: the rule,
 * the table and the base are the merchant's and product's, so each payment's split is a function of its base
 * alone (`split`), equal to what `splitPayment` gives that payment. Lets a store split a day by distinct
 * bases instead of payment by payment.
 */
export interface Route {
  /** Which base the payment's amounts give (fee_net when no rule matched). */
  readonly baseKind: ShareBase;
  /** The table of a base ≥ 0. */
  readonly table: SplitTable;
  /** The table of a negative base: the platform's alone. */
  readonly negativeTable: SplitTable;
  /** Equal for routes whose splits of equal bases are equal (their ratios and cap per payment). */
  readonly splitKey: string;
  split(baseMinor: bigint): BaseSplit;
}

/** Whether the rules let a day be split by route: no rule caps per day (whose state follows payment order). */
export const routable = (rules: SharingRules): boolean => rules.rules.every((r) => r.capPerDayMinor === null);

/** The route of a merchant's payments of a product at its month volume (rules without caps per day only). */
export function routeFor(rules: SharingRules, merchantId: string, product: string, monthVolumeMinor: bigint): Route {
  const rule = ruleFor(rules, { merchantId, product });
  if (rule === undefined) {
    const table = platformOnly('-');
    return {
      baseKind: 'fee_net',
      table,
      negativeTable: table,
      splitKey: 'none',
      split: (baseMinor) => ({ table, baseMinor, sharesMinor: NO_SHARES, clippedMinor: null, platformShareMinor: baseMinor, clippedTotalMinor: 0n }),
    };
  }
  if (rule.capPerDayMinor !== null) throw new Error(`rule ${rule.id} caps per day: its payments cannot be split by route`);
  const t = tableFor(rules, rule, merchantId, monthVolumeMinor);
  const negativeTable = platformOnly(rule.id);
  const cap = rule.capPerPaymentMinor;
  return {
    baseKind: rule.base,
    table: t.split,
    negativeTable,
    splitKey: `${t.ratiosKey}|${cap ?? '-'}`,
    split: (baseMinor) => {
      if (baseMinor < 0n) return { table: negativeTable, baseMinor, sharesMinor: NO_SHARES, clippedMinor: null, platformShareMinor: baseMinor, clippedTotalMinor: 0n };
      const parts = partsOf(t, baseMinor);
      if (cap === null || parts.seatsMinor.every((x) => x <= cap)) {
        return { table: t.split, baseMinor, sharesMinor: parts.seatsMinor, clippedMinor: null, platformShareMinor: parts.platformMinor, clippedTotalMinor: 0n };
      }
      const shares = parts.seatsMinor.map((x) => min(x, cap));
      const clipped = parts.seatsMinor.map((x, i) => x - (shares[i] ?? 0n));
      const clippedTotal = clipped.reduce((a, b) => a + b, 0n);
      return { table: t.split, baseMinor, sharesMinor: shares, clippedMinor: clipped, platformShareMinor: parts.platformMinor + clippedTotal, clippedTotalMinor: clippedTotal };
    },
  };
}

/** The lines of a split: each seat with a share or a clipped amount, in seat order, then the platform's. */
export function splitLines(s: PaymentSplit): ShareLine[] {
  const p = s.payment;
  const line = (partyId: string, partyKind: PartyKind, rate: string, shareMinor: bigint, clippedMinor: bigint): ShareLine => ({
    sourceKind: 'payment',
    sourceId: p.paymentId,
    paymentId: p.paymentId,
    merchantId: p.merchantId,
    partyId,
    partyKind,
    currency: p.currency,
    ruleId: s.table.ruleId,
    baseMinor: s.baseMinor,
    rate,
    shareMinor,
    clippedMinor,
  });
  const lines: ShareLine[] = [];
  s.table.seats.forEach((seat, i) => {
    const share = s.sharesMinor[i] ?? 0n;
    const clipped = s.clippedMinor?.[i] ?? 0n;
    if (share !== 0n || clipped !== 0n) lines.push(line(seat.partyId, seat.partyKind, seat.rate, share, clipped));
  });
  lines.push(line(PLATFORM_PARTY, 'platform', s.table.platformRate, s.platformShareMinor, 0n));
  return lines;
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
  const split = splitPayment(rules, p, monthVolumeMinor, dayCaps);
  return { lines: splitLines(split), finding: split.finding, clippedMinor: split.clippedTotalMinor };
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
