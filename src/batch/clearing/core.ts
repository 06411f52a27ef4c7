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
import { CandidateColumns, KIND_PAYMENT, KIND_REFUND, sortByKey, type CandidateItem } from './columns.js';
import type { ClearingConfig, Cycle, Rate, RateCard, RefundFeePolicy, Weekday } from './config.js';
import { ExactSum, numberAt, numberCard, paymentFeeExact, setNumberAt, wordsOf, type NumberCard } from './exact.js';
import { LOCAL_PRODUCTS } from './config.js';

export type { CandidateItem, ItemKind } from './columns.js';

export interface ClearedItem extends CandidateItem {
  /** The merchant fee by the rate card: positive for a payment or capture, minus the fee returned for a refund. */
  readonly rateFeeMinor: bigint;
  /** Booked fee with the same sign convention. */
  readonly signedBookedFeeMinor: bigint;
}

/** A batch's figures (what its row, its entries and the month volumes need). */
export interface BatchFigures {
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
  readonly itemCount: number;
  /** Payments and captures settled in it per month (yyyy-mm): what the merchant's month volumes grow by. */
  readonly monthVolumesMinor: ReadonlyMap<string, bigint>;
}

export interface Batch extends BatchFigures {
  readonly items: readonly ClearedItem[];
}

/** A batch of a columnar plan: its items are indices into the candidates. */
export interface ColumnBatch extends BatchFigures {
  /** Payments and captures in date and id order, then refunds. */
  readonly itemIndices: Int32Array;
}

export interface ClearingPlan {
  readonly batches: readonly Batch[];
  /** Due but not reconciled: held for a later batch. */
  readonly held: readonly CandidateItem[];
  /** Not yet due under the merchant's cycle. */
  readonly notDue: readonly CandidateItem[];
}

export interface ColumnPlan {
  /** In batch key order (merchant, currency). */
  readonly batches: readonly ColumnBatch[];
  /** Indices of the items due but not reconciled, and of those not yet due, in input order. */
  readonly held: Int32Array;
  readonly notDue: Int32Array;
  /** The rate-card fee of each item in a batch, by index (refunds negative; 0 for the others). */
  readonly rateFees: BigInt64Array;
  /** The items in batches, in key order (kind, id): the order their rows are written in. */
  readonly keyOrder: Int32Array;
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

/** The card of each (merchant, product, channel), found once: a day repeats them a million times. */
function rateCardFinder(rateCards: readonly RateCard[]): (merchantId: string, product: string, channelId: string | null) => RateCard | undefined {
  const cards = new Map<string, Map<string, Map<string | null, RateCard | undefined>>>();
  return (merchantId, product, channelId) => {
    let byProduct = cards.get(merchantId);
    if (byProduct === undefined) {
      byProduct = new Map();
      cards.set(merchantId, byProduct);
    }
    let byChannel = byProduct.get(product);
    if (byChannel === undefined) {
      byChannel = new Map();
      byProduct.set(product, byChannel);
    }
    if (byChannel.has(channelId)) return byChannel.get(channelId);
    const card = findRateCard(rateCards, merchantId, product, channelId);
    byChannel.set(channelId, card);
    return card;
  };
}

/** One merchant's items in one currency (a batch once priced), and its running sums. */
interface Group {
  readonly index: number;
  readonly merchantId: string;
  readonly currency: string;
  readonly cycle: Cycle;
  /** The last date asked about and whether it was due (a group's items share few dates). */
  lastDate: string;
  lastDue: boolean;
  /** Items taken, of them refunds, and whether they span more than one date. */
  count: number;
  refunds: number;
  firstDate: string;
  manyDates: boolean;
  /** Where its items start in the grouped order. */
  start: number;
  grossMinor: bigint;
  refundsMinor: bigint;
  feesMinor: bigint;
  rateFeesMinor: bigint;
  readonly monthVolumesMinor: Map<string, bigint>;
}

type Pricing = Pick<ClearingConfig, 'rateCards' | 'refundFeePolicy'>;

interface Priced {
  /** Groups in first-seen order (some may have taken no item). */
  readonly groups: readonly Group[];
  /** The items taken, group by group; in a group payments and captures in date and id order, then refunds. */
  readonly grouped: Int32Array;
  readonly keyOrder: Int32Array;
  readonly rateFees: BigInt64Array;
}

/**
 * Groups the items `take` accepts by merchant and currency (batchKey), groups in first-seen order. `take`
 * is asked once per item with the item's group, whose cycle and due-date cache it may use.
 */
function groupItems(c: CandidateColumns, cycleOf: (merchantId: string) => Cycle, take: (k: number, g: Group) => boolean): { groups: Group[]; groupOf: Int32Array; taken: number } {
  const groups: Group[] = [];
  const groupOf = new Int32Array(c.length).fill(-1);
  // Each merchant's groups (one per currency), by merchant number.
  const byMerchant: (Group[] | undefined)[] = [];
  let taken = 0;
  for (let k = 0; k < c.length; k++) {
    const merchantNo = c.merchantNos[k] ?? 0;
    const currency = c.currencies[k] ?? '';
    let list = byMerchant[merchantNo];
    let g: Group | undefined;
    if (list === undefined) {
      list = [];
      byMerchant[merchantNo] = list;
    } else for (const x of list) if (x.currency === currency) g = x;
    if (g === undefined) {
      const merchantId = c.merchantOf(k);
      g = { index: groups.length, merchantId, currency, cycle: cycleOf(merchantId), lastDate: '', lastDue: false, count: 0, refunds: 0, firstDate: '', manyDates: false, start: 0, grossMinor: 0n, refundsMinor: 0n, feesMinor: 0n, rateFeesMinor: 0n, monthVolumesMinor: new Map() };
      list.push(g);
      groups.push(g);
    }
    if (!take(k, g)) continue;
    groupOf[k] = g.index;
    taken++;
    const date = c.dates[k] ?? '';
    if (g.count++ === 0) g.firstDate = date;
    else if (date !== g.firstDate) g.manyDates = true;
    if (c.kinds[k] === KIND_REFUND) g.refunds++;
  }
  return { groups, groupOf, taken };
}

/**
 * The taken items in key order, and group by group: each group's payments and captures in (date, kind,
 * id) order (the order the tiers follow), then its refunds in the same order. One sort of the whole day
 * into key order serves both: a stable pass hands each group its items already in key order.
 */
function orderGroups(c: CandidateColumns, groups: readonly Group[], groupOf: Int32Array, taken: number): { grouped: Int32Array; keyOrder: Int32Array } {
  const keyOrder = new Int32Array(taken);
  for (let k = 0, at = 0; k < c.length; k++) if ((groupOf[k] ?? -1) >= 0) keyOrder[at++] = k;
  sortByKey(c, keyOrder);
  const fill = new Int32Array(groups.length);
  let at = 0;
  for (const g of groups) {
    g.start = at;
    fill[g.index] = at;
    at += g.count;
  }
  const grouped = new Int32Array(taken);
  for (const k of keyOrder) {
    const gi = groupOf[k] ?? 0;
    const at = fill[gi] ?? 0;
    grouped[at] = k;
    fill[gi] = at + 1;
  }
  const byDateThenKey = (a: number, b: number): number => cmp(c.dates[a] ?? '', c.dates[b] ?? '') || (c.kinds[a] ?? 0) - (c.kinds[b] ?? 0) || cmp(c.ids[a] ?? '', c.ids[b] ?? '');
  for (const g of groups) {
    const items = grouped.subarray(g.start, g.start + g.count);
    if (g.manyDates) items.sort(byDateThenKey);
    // Refunds last (already last when the group has one date: 'refund' is the last kind).
    if (g.refunds > 0 && g.manyDates) items.set([...items.filter((k) => c.kinds[k] !== KIND_REFUND), ...items.filter((k) => c.kinds[k] === KIND_REFUND)]);
  }
  return { grouped, keyOrder };
}

/**
 * The rate-card fee of each taken item, group by group (a group is one merchant and currency), summed
 * into the group as it goes. Payments and captures first, in business date then id order within their
 * group, so the tier follows the merchant's volume of the month so far (`monthVolumeMinor`: what earlier
 * batches settled in that month, by volumeKey); then refunds, against the fee of their payment by the card.
 * Items without a card keep their booked fee.
 */
function priceColumns(c: CandidateColumns, config: Pricing, monthVolumeMinor: ReadonlyMap<string, bigint>, cycleOf: (merchantId: string) => Cycle, take: (k: number, g: Group) => boolean): Priced {
  const { groups, groupOf, taken } = groupItems(c, cycleOf, take);
  const { grouped, keyOrder } = orderGroups(c, groups, groupOf, taken);
  const rateFees = new BigInt64Array(c.length);
  // Amounts, fees and rate fees read and written as numbers while exact (no bigint made an item).
  const amountWords = wordsOf(c.amounts);
  const bookedWords = wordsOf(c.bookedFees);
  const rateFeeWords = wordsOf(rateFees);
  // The card fee of the payments this run also refunds (the only ones a refund here asks for).
  const refunded = new Set<string>();
  for (const [k, r] of c.refunds) if ((groupOf[k] ?? -1) >= 0) refunded.add(r.paymentId);
  const paymentFees = new Map<string, bigint>();
  const cardOf = rateCardFinder(config.rateCards);
  const exactCards = new Map<RateCard, NumberCard | undefined>();
  for (const g of groups) {
    let month = '';
    // The month's volume before the item (settled before this run, then this run's so far) and this run's part.
    let volume = new ExactSum();
    let added = new ExactSum();
    const gross = new ExactSum();
    const booked = new ExactSum();
    const rated = new ExactSum();
    let product: string | undefined;
    let channelId: string | null | undefined;
    let card: RateCard | undefined;
    let exactCard: NumberCard | undefined;
    const end = g.start + g.count - g.refunds;
    for (let at = g.start; at < end; at++) {
      const k = grouped[at] ?? 0;
      const date = c.dates[k] ?? '';
      // The month's volume so far, held in a local while the (date-ordered) items stay in one month.
      if (month === '' || !date.startsWith(month)) {
        if (month !== '') g.monthVolumesMinor.set(month, added.total);
        month = date.slice(0, 7);
        volume = new ExactSum(monthVolumeMinor.get(volumeKey(g.merchantId, g.currency, month)) ?? 0n);
        added = new ExactSum();
      }
      if (c.products[k] !== product || c.channels[k] !== channelId) {
        product = c.products[k] ?? '';
        channelId = c.channels[k] ?? null;
        card = cardOf(g.merchantId, product, channelId);
        if (card !== undefined && !exactCards.has(card)) exactCards.set(card, numberCard(card));
        exactCard = card === undefined ? undefined : exactCards.get(card);
      }
      // NaN: not a safe integer, read as a bigint.
      const amount = numberAt(amountWords, k);
      const bookedFee = numberAt(bookedWords, k);
      // In numbers while exact (exact.ts); the bigint paymentFee otherwise.
      let fee: bigint | undefined;
      let exactFee: number | undefined = Number.isNaN(bookedFee) ? undefined : bookedFee;
      if (card !== undefined) {
        const volumeBefore = exactCard !== undefined && !Number.isNaN(amount) ? volume.exact : undefined;
        exactFee = exactCard !== undefined && volumeBefore !== undefined ? paymentFeeExact(exactCard, amount, volumeBefore) : undefined;
        if (exactFee === undefined) fee = paymentFee(card, c.amounts[k] ?? 0n, volume.total);
      } else if (exactFee === undefined) fee = c.bookedFees[k] ?? 0n;
      if (!Number.isNaN(amount)) {
        volume.add(amount);
        added.add(amount);
        gross.add(amount);
      } else {
        const amountMinor = c.amounts[k] ?? 0n;
        volume.addBig(amountMinor);
        added.addBig(amountMinor);
        gross.addBig(amountMinor);
      }
      if (!Number.isNaN(bookedFee)) booked.add(bookedFee);
      else booked.addBig(c.bookedFees[k] ?? 0n);
      if (exactFee !== undefined) {
        rated.add(exactFee);
        setNumberAt(rateFeeWords, k, exactFee);
      } else {
        rated.addBig(fee ?? 0n);
        rateFees[k] = fee ?? 0n;
      }
      if (refunded.size > 0 && c.kinds[k] === KIND_PAYMENT && refunded.has(c.ids[k] ?? '')) paymentFees.set(c.ids[k] ?? '', rateFees[k] ?? 0n);
    }
    if (month !== '') g.monthVolumesMinor.set(month, added.total);
    g.grossMinor = gross.total;
    g.feesMinor = booked.total;
    g.rateFeesMinor = rated.total;
  }
  for (const g of groups) {
    for (let at = g.start + g.count - g.refunds; at < g.start + g.count; at++) {
      const k = grouped[at] ?? 0;
      const r = c.refunds.get(k);
      const amountMinor = c.amounts[k] ?? 0n;
      const bookedMinor = c.bookedFees[k] ?? 0n;
      const card = cardOf(g.merchantId, c.products[k] ?? '', c.channels[k] ?? null);
      let returned = bookedMinor;
      if (card) {
        const paymentFeeMinor = paymentFees.get(r?.paymentId ?? '') ?? r?.paymentSettledFeeMinor ?? r?.paymentBookedFeeMinor ?? 0n;
        returned = refundFeeReturned(card.refundFeePolicy, paymentFeeMinor, r?.paymentAmountMinor ?? amountMinor, r?.refundedBeforeMinor ?? 0n, amountMinor);
      }
      rateFees[k] = -returned;
      g.refundsMinor += amountMinor;
      g.feesMinor -= bookedMinor;
      g.rateFeesMinor -= returned;
    }
  }
  return { groups, grouped, keyOrder, rateFees };
}

/** Item k with its fees, as an object. */
function clearedItem(c: CandidateColumns, k: number, rateFeeMinor: bigint): ClearedItem {
  const bookedMinor = c.bookedFees[k] ?? 0n;
  return { ...c.item(k), rateFeeMinor, signedBookedFeeMinor: c.kinds[k] === KIND_REFUND ? -bookedMinor : bookedMinor };
}

const anyCycle = (): Cycle => ({ kind: 'T+0' });

/** The rate-card fee of each item (all of them, grouped by merchant and currency; each group's payments and captures, then its refunds). */
export function computeFees(items: readonly CandidateItem[], config: Pricing, monthVolumeMinor: ReadonlyMap<string, bigint>): ClearedItem[] {
  const c = CandidateColumns.of(items);
  const { groups, grouped, rateFees } = priceColumns(c, config, monthVolumeMinor, anyCycle, () => true);
  return groups.flatMap((g) => Array.from(grouped.subarray(g.start, g.start + g.count), (k) => clearedItem(c, k, rateFees[k] ?? 0n)));
}

// ---- the plan of a run ----

interface PlanParameters {
  readonly runDate: string;
  readonly includeUnreconciled: boolean;
  readonly config: Pick<ClearingConfig, 'rateCards' | 'refundFeePolicy' | 'defaultCycle' | 'merchants'>;
  /** Volume settled before this run per volumeKey (merchant, currency, month). */
  readonly monthVolumeMinor: ReadonlyMap<string, bigint>;
  /** The carried-out balance (≤ 0) of each merchant's last batch, keyed `merchant\0currency`. */
  readonly carriedInMinor: ReadonlyMap<string, bigint>;
}

export interface PlanInput extends PlanParameters {
  readonly items: readonly CandidateItem[];
}

export interface ColumnPlanInput extends PlanParameters {
  readonly items: CandidateColumns;
}

export const batchIdOf = (runDate: string, merchantId: string, currency: string): string => `clr.${runDate}.${merchantId}.${currency}`;

/** Chooses the items a run settles, prices them and nets them into one batch per merchant and currency (items as columns). */
export function planColumns(input: ColumnPlanInput): ColumnPlan {
  const c = input.items;
  const held: number[] = [];
  const notDue: number[] = [];
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
  const take = (k: number, g: Group): boolean => {
    const date = c.dates[k] ?? '';
    if (date !== g.lastDate) {
      g.lastDate = date;
      g.lastDue = date <= input.runDate && isDue(date, g.cycle);
    }
    if (!g.lastDue) notDue.push(k);
    else if (!input.includeUnreconciled && c.reconciled[k] !== 1 && !LOCAL_PRODUCTS.has(c.products[k] ?? '')) held.push(k);
    else return true;
    return false;
  };
  const cycleOf = (merchantId: string): Cycle => input.config.merchants.get(merchantId)?.cycle ?? input.config.defaultCycle;
  const { groups, grouped, keyOrder, rateFees } = priceColumns(c, input.config, input.monthVolumeMinor, cycleOf, take);
  const batches = groups
    .filter((g) => g.count > 0)
    .map((g) => ({ key: batchKey(g.merchantId, g.currency), g }))
    .sort((a, b) => cmp(a.key, b.key))
    .map(({ key, g }): ColumnBatch => ({ ...netGroup(input.runDate, g, input.carriedInMinor.get(key) ?? 0n), itemIndices: grouped.subarray(g.start, g.start + g.count) }));
  return { batches, held: Int32Array.from(held), notDue: Int32Array.from(notDue), rateFees, keyOrder };
}

/** Chooses the items a run settles, prices them and nets them into one batch per merchant and currency. */
export function planClearing(input: PlanInput): ClearingPlan {
  const c = CandidateColumns.of(input.items);
  const plan = planColumns({ ...input, items: c });
  const original = (k: number): CandidateItem => input.items[k] as CandidateItem;
  return {
    batches: plan.batches.map(({ itemIndices, ...figures }) => ({ ...figures, items: Array.from(itemIndices, (k) => clearedItem(c, k, plan.rateFees[k] ?? 0n)) })),
    held: Array.from(plan.held, original),
    notDue: Array.from(plan.notDue, original),
  };
}

/** Nets one merchant's priced items in one currency into its batch's figures. */
function netGroup(runDate: string, g: Group, carriedInMinor: bigint): BatchFigures {
  const { grossMinor, refundsMinor, feesMinor, rateFeesMinor } = g;
  const adjustmentsMinor = feesMinor - rateFeesMinor;
  const netMinor = grossMinor - refundsMinor - feesMinor + adjustmentsMinor;
  const payable = netMinor + carriedInMinor;
  const carried = payable < 0n;
  return {
    batchId: batchIdOf(runDate, g.merchantId, g.currency),
    merchantId: g.merchantId,
    currency: g.currency,
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
    itemCount: g.count,
    monthVolumesMinor: g.monthVolumesMinor,
  };
}
