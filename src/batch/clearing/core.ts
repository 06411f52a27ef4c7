// Clearing (清分) as pure functions of plain values: which items a run settles (cycles and
// reconciliation), the merchant fee of each item by the rate card, and the netting into one settlement
// batch per merchant and currency. No clock, no storage: the service passes everything in.
//
// Rounding (documented, one rule): the percentage part of a fee is rounded half up on each item
// (amount × rate, to the minor unit), then the fixed part is added, the minimum and the cap applied,
// and the fee is never above the item's amount. A refund returns fee under `proportional` as the
// difference of the cumulative proportional fee: round_half_up(fee × refunded_after / amount) −
// round_half_up(fee × refunded_before / amount), so all refunds of a payment together never return
// more than its fee and no minor unit is lost or created; under `kept` a refund returns nothing.
//
// Figures of a batch, all in minor units of its currency:
//   gross       payments and captures settled in it
//   refunds     refunds settled in it
//   fees        the fees booked at payment time (payments.fee_minor, less refunds.fee_returned_minor)
//   adjustments booked fees − rate-card fees: what the adjustment entry moves (fee income ↔ merchant payable)
//   net         gross − refunds − fees + adjustments (= gross − refunds − rate-card fees)
//   carried in  a negative balance of the merchant's previous batch (≤ 0)
//   payout      net + carried in when that is ≥ 0 (status paid_out); else 0, and it is carried out (status carried)

import { divideRounded } from '../../ledger/index.js';
import type { ClearingConfig, Cycle, Rate, RateCard, RefundFeePolicy, Weekday } from './config.js';
import { LOCAL_PRODUCTS } from './config.js';

export type ItemKind = 'payment' | 'refund' | 'capture';

export interface CandidateItem {
  readonly kind: ItemKind;
  readonly itemId: string;
  readonly merchantId: string;
  readonly currency: string;
  /** The business date of the movement (the payment's day, the refund's or capture's journal entry day). */
  readonly businessDate: string;
  readonly amountMinor: bigint;
  readonly product: string;
  readonly channelId: string | null;
  /** Fee booked at payment time; for a refund the fee it returned (refunds.fee_returned_minor). */
  readonly bookedFeeMinor: bigint;
  /** Reconciliation matched it (or resolved its discrepancy). */
  readonly reconciled: boolean;
  /** Refunds only: the payment refunded, its amount, its rate-card fee if already settled, and what was refunded before this one. */
  readonly paymentId?: string;
  readonly paymentAmountMinor?: bigint;
  readonly paymentSettledFeeMinor?: bigint | null;
  readonly paymentBookedFeeMinor?: bigint;
  readonly refundedBeforeMinor?: bigint;
}

export interface ClearedItem extends CandidateItem {
  /** The merchant fee by the rate card: positive for a payment or capture, minus the fee returned for a refund. */
  readonly rateFeeMinor: bigint;
  /** Booked fee with the same sign convention. */
  readonly signedBookedFeeMinor: bigint;
}

export interface Batch {
  readonly batchId: string;
  readonly merchantId: string;
  readonly currency: string;
  readonly businessDate: string;
  readonly grossMinor: bigint;
  readonly refundsMinor: bigint;
  readonly feesMinor: bigint;
  readonly rateFeesMinor: bigint;
  readonly adjustmentsMinor: bigint;
  readonly netMinor: bigint;
  readonly carriedInMinor: bigint;
  readonly carriedOutMinor: bigint;
  readonly payoutMinor: bigint;
  readonly status: 'paid_out' | 'carried';
  readonly items: readonly ClearedItem[];
}

export interface ClearingPlan {
  readonly batches: readonly Batch[];
  /** Due but not reconciled: held for a later batch. */
  readonly held: readonly CandidateItem[];
  /** Not yet due under the merchant's cycle. */
  readonly notDue: readonly CandidateItem[];
}

// ---- dates and cycles ----

const DAY_MS = 86_400_000;
const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const toMs = (date: string): number => Date.parse(`${date}T00:00:00Z`);
const toDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
export const addDays = (date: string, days: number): string => toDate(toMs(date) + days * DAY_MS);
const weekdayOf = (date: string): number => new Date(toMs(date)).getUTCDay();

/**
 * The first run date that settles an item of business date `date`: T+0 the same day; D+1 the next
 * calendar day; T+1 the next working day (Monday to Friday; no holiday calendar yet); weekly:<day> the
 * first such weekday after the item's day.
 */
export function dueDate(date: string, cycle: Cycle): string {
  switch (cycle.kind) {
    case 'T+0':
      return date;
    case 'D+1':
      return addDays(date, 1);
    case 'T+1': {
      let next = addDays(date, 1);
      while (weekdayOf(next) === 0 || weekdayOf(next) === 6) next = addDays(next, 1);
      return next;
    }
    case 'weekly': {
      const target = WEEKDAYS.indexOf(cycle.weekday);
      const ahead = ((target - weekdayOf(date) + 7) % 7) || 7;
      return addDays(date, ahead);
    }
  }
}

// ---- fees ----

const SELECTOR_WEIGHT = { merchant: 4, product: 2, channel: 1 } as const;

/** The most specific card for the item (merchant over product over channel; `*` matches anything); the first wins a tie. */
export function findRateCard(cards: readonly RateCard[], merchantId: string, product: string, channelId: string | null): RateCard | undefined {
  let best: RateCard | undefined;
  let bestScore = -1;
  for (const c of cards) {
    if ((c.merchant !== '*' && c.merchant !== merchantId) || (c.product !== '*' && c.product !== product) || (c.channel !== '*' && c.channel !== channelId)) continue;
    const score = (c.merchant === '*' ? 0 : SELECTOR_WEIGHT.merchant) + (c.product === '*' ? 0 : SELECTOR_WEIGHT.product) + (c.channel === '*' ? 0 : SELECTOR_WEIGHT.channel);
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

/** The rate for a month volume so far: the tier covering it, else the card's own rate. */
export function rateFor(card: RateCard, monthVolumeBeforeMinor: bigint): Rate {
  const tier = card.tiers.find((t) => t.fromMinor <= monthVolumeBeforeMinor && (t.toMinor === null || monthVolumeBeforeMinor < t.toMinor));
  return tier ? tier.rate : card.rate;
}

/** The fee of one payment by a card (rounding documented at the top of this file). */
export function paymentFee(card: RateCard, amountMinor: bigint, monthVolumeBeforeMinor: bigint): bigint {
  const rate = rateFor(card, monthVolumeBeforeMinor);
  let fee = divideRounded(amountMinor * rate.numerator, rate.denominator, 'half_up') + card.fixedMinor;
  if (fee < card.minMinor) fee = card.minMinor;
  if (card.capMinor !== null && fee > card.capMinor) fee = card.capMinor;
  return fee > amountMinor ? amountMinor : fee;
}

/** The fee a refund returns (a positive number), by the cumulative proportional rule or none when kept. */
export function refundFeeReturned(policy: RefundFeePolicy, paymentFeeMinor: bigint, paymentAmountMinor: bigint, refundedBeforeMinor: bigint, refundMinor: bigint): bigint {
  if (policy === 'kept' || paymentFeeMinor === 0n) return 0n;
  const cumulative = (refunded: bigint): bigint => divideRounded(paymentFeeMinor * refunded, paymentAmountMinor, 'half_up');
  return cumulative(refundedBeforeMinor + refundMinor) - cumulative(refundedBeforeMinor);
}

const monthOf = (date: string): string => date.slice(0, 7);
export const volumeKey = (merchantId: string, currency: string, month: string): string => `${merchantId}\u0000${currency}\u0000${month}`;
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byDateThenId = (a: CandidateItem, b: CandidateItem): number => cmp(a.businessDate, b.businessDate) || cmp(a.kind, b.kind) || cmp(a.itemId, b.itemId);

/**
 * The rate-card fee of each item. Payments and captures first, in business date then id order, so the
 * tier follows the merchant's volume of the month so far (`monthVolumeMinor`: what earlier batches
 * settled in that month, by volumeKey); then refunds, against the fee of their payment by the card.
 * Items without a card keep their booked fee.
 */
export function computeFees(items: readonly CandidateItem[], config: Pick<ClearingConfig, 'rateCards' | 'refundFeePolicy'>, monthVolumeMinor: ReadonlyMap<string, bigint>): ClearedItem[] {
  const volume = new Map(monthVolumeMinor);
  const paymentFees = new Map<string, bigint>();
  const out: ClearedItem[] = [];
  const sorted = [...items].sort(byDateThenId);
  // The card of each (merchant, product, channel), found once: a day repeats them a million times.
  const cards = new Map<string, Map<string | null, RateCard | undefined>>();
  const cardOf = (item: CandidateItem): RateCard | undefined => {
    const selector = `${item.merchantId}\u0000${item.product}`;
    let byChannel = cards.get(selector);
    if (byChannel === undefined) {
      byChannel = new Map();
      cards.set(selector, byChannel);
    }
    if (byChannel.has(item.channelId)) return byChannel.get(item.channelId);
    const card = findRateCard(config.rateCards, item.merchantId, item.product, item.channelId);
    byChannel.set(item.channelId, card);
    return card;
  };
  for (const item of sorted) {
    if (item.kind === 'refund') continue;
    const key = volumeKey(item.merchantId, item.currency, monthOf(item.businessDate));
    const before = volume.get(key) ?? 0n;
    const card = cardOf(item);
    const fee = card ? paymentFee(card, item.amountMinor, before) : item.bookedFeeMinor;
    volume.set(key, before + item.amountMinor);
    if (item.kind === 'payment') paymentFees.set(item.itemId, fee);
    out.push({ ...item, rateFeeMinor: fee, signedBookedFeeMinor: item.bookedFeeMinor });
  }
  for (const item of sorted) {
    if (item.kind !== 'refund') continue;
    const card = cardOf(item);
    let returned = item.bookedFeeMinor;
    if (card) {
      const paymentFeeMinor = paymentFees.get(item.paymentId ?? '') ?? item.paymentSettledFeeMinor ?? item.paymentBookedFeeMinor ?? 0n;
      returned = refundFeeReturned(card.refundFeePolicy, paymentFeeMinor, item.paymentAmountMinor ?? item.amountMinor, item.refundedBeforeMinor ?? 0n, item.amountMinor);
    }
    out.push({ ...item, rateFeeMinor: -returned, signedBookedFeeMinor: -item.bookedFeeMinor });
  }
  return out;
}

// ---- the plan of a run ----

export interface PlanInput {
  readonly runDate: string;
  readonly items: readonly CandidateItem[];
  readonly includeUnreconciled: boolean;
  readonly config: Pick<ClearingConfig, 'rateCards' | 'refundFeePolicy' | 'defaultCycle' | 'merchants'>;
  /** Volume settled before this run per volumeKey (merchant, currency, month). */
  readonly monthVolumeMinor: ReadonlyMap<string, bigint>;
  /** The carried-out balance (≤ 0) of each merchant's last batch, keyed `merchant\0currency`. */
  readonly carriedInMinor: ReadonlyMap<string, bigint>;
}

export const batchKey = (merchantId: string, currency: string): string => `${merchantId}\u0000${currency}`;
export const batchIdOf = (runDate: string, merchantId: string, currency: string): string => `clr.${runDate}.${merchantId}.${currency}`;

export function isReconciled(item: CandidateItem): boolean {
  return item.reconciled || LOCAL_PRODUCTS.has(item.product);
}

/** Chooses the items a run settles, prices them and nets them into one batch per merchant and currency. */
export function planClearing(input: PlanInput): ClearingPlan {
  const held: CandidateItem[] = [];
  const notDue: CandidateItem[] = [];
  const chosen: CandidateItem[] = [];
  for (const item of input.items) {
    if (item.businessDate > input.runDate) {
      notDue.push(item);
      continue;
    }
    const cycle = input.config.merchants.get(item.merchantId)?.cycle ?? input.config.defaultCycle;
    if (dueDate(item.businessDate, cycle) > input.runDate) notDue.push(item);
    else if (!input.includeUnreconciled && !isReconciled(item)) held.push(item);
    else chosen.push(item);
  }
  const groups = new Map<string, ClearedItem[]>();
  for (const item of computeFees(chosen, input.config, input.monthVolumeMinor)) {
    const key = batchKey(item.merchantId, item.currency);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  const batches = [...groups.entries()]
    .sort(([a], [b]) => cmp(a, b))
    .map(([key, items]) => netBatch(input.runDate, items, input.carriedInMinor.get(key) ?? 0n));
  return { batches, held, notDue };
}

/** Nets one merchant's items in one currency into its batch. */
export function netBatch(runDate: string, items: readonly ClearedItem[], carriedInMinor: bigint): Batch {
  const first = items[0];
  if (first === undefined) throw new Error('netBatch: a batch has at least one item');
  let grossMinor = 0n;
  let refundsMinor = 0n;
  let feesMinor = 0n;
  let rateFeesMinor = 0n;
  for (const i of items) {
    if (i.kind === 'refund') refundsMinor += i.amountMinor;
    else grossMinor += i.amountMinor;
    feesMinor += i.signedBookedFeeMinor;
    rateFeesMinor += i.rateFeeMinor;
  }
  const adjustmentsMinor = feesMinor - rateFeesMinor;
  const netMinor = grossMinor - refundsMinor - feesMinor + adjustmentsMinor;
  const payable = netMinor + carriedInMinor;
  const carried = payable < 0n;
  return {
    batchId: batchIdOf(runDate, first.merchantId, first.currency),
    merchantId: first.merchantId,
    currency: first.currency,
    businessDate: runDate,
    grossMinor,
    refundsMinor,
    feesMinor,
    rateFeesMinor,
    adjustmentsMinor,
    netMinor,
    carriedInMinor,
    carriedOutMinor: carried ? payable : 0n,
    payoutMinor: carried ? 0n : payable,
    status: carried ? 'carried' : 'paid_out',
    items,
  };
}
