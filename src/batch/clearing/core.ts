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

export const batchKey = (merchantId: string, currency: string): string => `${merchantId}\u0000${currency}`;
export const volumeKey = (merchantId: string, currency: string, month: string): string => `${merchantId}\u0000${currency}\u0000${month}`;
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** The order items are kept in once settled (kind, then id): the store writes them fastest in it. */
export const itemKeyOrder = (a: CandidateItem, b: CandidateItem): number => (a.kind === b.kind ? cmp(a.itemId, b.itemId) : cmp(a.kind, b.kind));
const byDateThenId = (a: CandidateItem, b: CandidateItem): number => cmp(a.businessDate, b.businessDate) || cmp(a.kind, b.kind) || cmp(a.itemId, b.itemId);
const inDateThenIdOrder = (items: readonly CandidateItem[]): boolean => {
  for (let i = 1; i < items.length; i++) if (byDateThenId(items[i - 1] as CandidateItem, items[i] as CandidateItem) > 0) return false;
  return true;
};

/**
 * The item with its fees, built field by field: an object spread (`{ ...item, … }`) of a million items
 * took longer than pricing them, and left objects that were slow to read for the rest of the run.
 */
function withFees(item: CandidateItem, rateFeeMinor: bigint, signedBookedFeeMinor: bigint): ClearedItem {
  const { kind, itemId, merchantId, currency, businessDate, amountMinor, product, channelId, bookedFeeMinor, reconciled } = item;
  if (kind !== 'refund') return { kind, itemId, merchantId, currency, businessDate, amountMinor, product, channelId, bookedFeeMinor, reconciled, rateFeeMinor, signedBookedFeeMinor };
  const { paymentId, paymentAmountMinor, paymentSettledFeeMinor, paymentBookedFeeMinor, refundedBeforeMinor } = item;
  return {
    kind,
    itemId,
    merchantId,
    currency,
    businessDate,
    amountMinor,
    product,
    channelId,
    bookedFeeMinor,
    reconciled,
    paymentId,
    paymentAmountMinor,
    paymentSettledFeeMinor,
    paymentBookedFeeMinor,
    refundedBeforeMinor,
    rateFeeMinor,
    signedBookedFeeMinor,
  };
}

/** The card of each (merchant, product, channel), found once: a day repeats them a million times. */
function rateCardFinder(rateCards: readonly RateCard[]): (item: CandidateItem) => RateCard | undefined {
  const cards = new Map<string, Map<string, Map<string | null, RateCard | undefined>>>();
  return (item) => {
    let byProduct = cards.get(item.merchantId);
    if (byProduct === undefined) {
      byProduct = new Map();
      cards.set(item.merchantId, byProduct);
    }
    let byChannel = byProduct.get(item.product);
    if (byChannel === undefined) {
      byChannel = new Map();
      byProduct.set(item.product, byChannel);
    }
    if (byChannel.has(item.channelId)) return byChannel.get(item.channelId);
    const card = findRateCard(rateCards, item.merchantId, item.product, item.channelId);
    byChannel.set(item.channelId, card);
    return card;
  };
}

/**
 * Items grouped by merchant and currency (batchKey), each group in first-seen order; the groups in
 * first-seen order too.
 */
export function groupByBatch(items: readonly CandidateItem[]): Map<string, CandidateItem[]> {
  const byMerchant = new Map<string, Map<string, CandidateItem[]>>();
  const groups = new Map<string, CandidateItem[]>();
  for (const item of items) {
    let byCurrency = byMerchant.get(item.merchantId);
    if (byCurrency === undefined) {
      byCurrency = new Map();
      byMerchant.set(item.merchantId, byCurrency);
    }
    const group = byCurrency.get(item.currency);
    if (group !== undefined) group.push(item);
    else {
      const created = [item];
      byCurrency.set(item.currency, created);
      groups.set(batchKey(item.merchantId, item.currency), created);
    }
  }
  return groups;
}

/**
 * The rate-card fee of each item, group by group (a group is one merchant and currency: see
 * groupByBatch). Payments and captures first, in business date then id order within their group, so
 * the tier follows the merchant's volume of the month so far (`monthVolumeMinor`: what earlier batches
 * settled in that month, by volumeKey); then refunds, against the fee of their payment by the card.
 * Items without a card keep their booked fee. Each group comes back as its payments and captures, then
 * its refunds, each part in date and id order.
 */
export function priceGroups(
  groups: ReadonlyMap<string, readonly CandidateItem[]>,
  config: Pick<ClearingConfig, 'rateCards' | 'refundFeePolicy'>,
  monthVolumeMinor: ReadonlyMap<string, bigint>,
): Map<string, ClearedItem[]> {
  // The card fee of the payments this run also refunds (the only ones a refund here asks for).
  const refunded = new Set<string>();
  for (const items of groups.values()) for (const item of items) if (item.kind === 'refund' && item.paymentId !== undefined) refunded.add(item.paymentId);
  const paymentFees = new Map<string, bigint>();
  const cardOf = rateCardFinder(config.rateCards);
  const sortedGroups: (readonly CandidateItem[])[] = [];
  const out = new Map<string, ClearedItem[]>();
  for (const [key, items] of groups) {
    // Sorting a merchant's items, not the whole day's: the tiers follow one merchant's volume only.
    const sorted = inDateThenIdOrder(items) ? items : [...items].sort(byDateThenId);
    sortedGroups.push(sorted);
    const priced: ClearedItem[] = [];
    out.set(key, priced);
    // The month's volume so far, held in a local while the (date-ordered) items stay in one month.
    let month = '';
    let monthKey = '';
    let volume = 0n;
    for (const item of sorted) {
      if (item.kind === 'refund') continue;
      if (month === '' || !item.businessDate.startsWith(month)) {
        month = item.businessDate.slice(0, 7);
        monthKey = volumeKey(item.merchantId, item.currency, month);
        volume = monthVolumeMinor.get(monthKey) ?? 0n;
      }
      const card = cardOf(item);
      const fee = card ? paymentFee(card, item.amountMinor, volume) : item.bookedFeeMinor;
      volume += item.amountMinor;
      if (item.kind === 'payment' && refunded.has(item.itemId)) paymentFees.set(item.itemId, fee);
      priced.push(withFees(item, fee, item.bookedFeeMinor));
    }
  }
  let at = 0;
  for (const priced of out.values()) {
    for (const item of sortedGroups[at++] ?? []) {
      if (item.kind !== 'refund') continue;
      const card = cardOf(item);
      let returned = item.bookedFeeMinor;
      if (card) {
        const paymentFeeMinor = paymentFees.get(item.paymentId ?? '') ?? item.paymentSettledFeeMinor ?? item.paymentBookedFeeMinor ?? 0n;
        returned = refundFeeReturned(card.refundFeePolicy, paymentFeeMinor, item.paymentAmountMinor ?? item.amountMinor, item.refundedBeforeMinor ?? 0n, item.amountMinor);
      }
      priced.push(withFees(item, -returned, -item.bookedFeeMinor));
    }
  }
  return out;
}

/** The rate-card fee of each item (priceGroups over the items grouped by merchant and currency). */
export function computeFees(items: readonly CandidateItem[], config: Pick<ClearingConfig, 'rateCards' | 'refundFeePolicy'>, monthVolumeMinor: ReadonlyMap<string, bigint>): ClearedItem[] {
  return [...priceGroups(groupByBatch(items), config, monthVolumeMinor).values()].flat();
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

export const batchIdOf = (runDate: string, merchantId: string, currency: string): string => `clr.${runDate}.${merchantId}.${currency}`;

export function isReconciled(item: CandidateItem): boolean {
  return item.reconciled || LOCAL_PRODUCTS.has(item.product);
}

/** Chooses the items a run settles, prices them and nets them into one batch per merchant and currency. */
export function planClearing(input: PlanInput): ClearingPlan {
  const held: CandidateItem[] = [];
  const notDue: CandidateItem[] = [];
  const chosen: CandidateItem[] = [];
  // Whether an item's date is due by the run date, once per cycle and date (a day has few dates, many items).
  const dueByCycle = new Map<Cycle, Map<string, boolean>>();
  const isDue = (date: string, cycle: Cycle): boolean => {
    let byDate = dueByCycle.get(cycle);
    if (byDate === undefined) {
      byDate = new Map();
      dueByCycle.set(cycle, byDate);
    }
    let due = byDate.get(date);
    if (due === undefined) {
      due = dueDate(date, cycle) <= input.runDate;
      byDate.set(date, due);
    }
    return due;
  };
  for (const item of input.items) {
    if (item.businessDate > input.runDate) {
      notDue.push(item);
      continue;
    }
    const cycle = input.config.merchants.get(item.merchantId)?.cycle ?? input.config.defaultCycle;
    if (!isDue(item.businessDate, cycle)) notDue.push(item);
    else if (!input.includeUnreconciled && !isReconciled(item)) held.push(item);
    else chosen.push(item);
  }
  const batches = [...priceGroups(groupByBatch(chosen), input.config, input.monthVolumeMinor)]
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
