// Candidate items as columns: item k of a run is (kinds[k], ids[k], merchantNos[k], …), with amounts and
// fees in BigInt64Arrays (SQLite's INTEGER is 64-bit, so every stored amount fits exactly). A day of a
// million payments read as one object per item (ten fields, two bigints) cost more than the SQL that read
// them, and pricing, netting and writing then each walked a million objects; the columns are read by the
// store, priced and netted by core.ts and written back as item rows without an object per item.

export type ItemKind = 'payment' | 'refund' | 'capture';

/** A kind's code is its index here: codes compare as the names do, so key order is (code, id). */
export const ITEM_KINDS = ['capture', 'payment', 'refund'] as const satisfies readonly ItemKind[];
export const KIND_CAPTURE = 0;
export const KIND_PAYMENT = 1;
export const KIND_REFUND = 2;
export const kindCode = (kind: ItemKind): number => (kind === 'capture' ? KIND_CAPTURE : kind === 'payment' ? KIND_PAYMENT : KIND_REFUND);
export const kindOf = (code: number): ItemKind => ITEM_KINDS[code] ?? 'payment';

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

/** What a refund adds about its payment (refunds are few beside payments: an object each). */
export interface RefundFacts {
  readonly paymentId: string;
  readonly paymentAmountMinor: bigint;
  readonly paymentSettledFeeMinor: bigint | null;
  readonly paymentBookedFeeMinor: bigint;
  readonly refundedBeforeMinor: bigint;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const int64 = (v: bigint, what: string): bigint => {
  if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`clearing: ${what} ${v} is outside SQLite's 64-bit integers`);
  return v;
};

function grown<T extends Uint8Array | Int32Array | BigInt64Array>(a: T, need: number, make: (n: number) => T): T {
  if (need <= a.length) return a;
  const next = make(Math.max(need, a.length * 2));
  next.set(a as never);
  return next;
}

export class CandidateColumns {
  length = 0;
  kinds: Uint8Array;
  readonly ids: string[] = [];
  /** Each item's merchant as a number: merchantIds[merchantNos[k]] is its id (one string per merchant kept, and the plan groups by number). */
  merchantNos: Int32Array;
  readonly merchantIds: string[] = [];
  private readonly merchantNoOf = new Map<string, number>();
  readonly currencies: string[] = [];
  readonly dates: string[] = [];
  readonly products: string[] = [];
  readonly channels: (string | null)[] = [];
  amounts: BigInt64Array;
  bookedFees: BigInt64Array;
  /** 1 when reconciliation settled the item (or its product is local). */
  reconciled: Uint8Array;
  /** The refunds' facts by item index. */
  readonly refunds = new Map<number, RefundFacts>();

  constructor(capacity = 1024) {
    this.kinds = new Uint8Array(capacity);
    this.merchantNos = new Int32Array(capacity);
    this.amounts = new BigInt64Array(capacity);
    this.bookedFees = new BigInt64Array(capacity);
    this.reconciled = new Uint8Array(capacity);
  }

  /** Room for `more` items (one growth instead of one per push). */
  reserve(more: number): void {
    const need = this.length + more;
    if (need <= this.kinds.length) return;
    this.kinds = grown(this.kinds, need, (n) => new Uint8Array(n));
    this.merchantNos = grown(this.merchantNos, need, (n) => new Int32Array(n));
    this.amounts = grown(this.amounts, need, (n) => new BigInt64Array(n));
    this.bookedFees = grown(this.bookedFees, need, (n) => new BigInt64Array(n));
    this.reconciled = grown(this.reconciled, need, (n) => new Uint8Array(n));
  }

  /** Appends an item (values from SQLite's INTEGER columns: 64-bit); returns its index. */
  push(kind: number, itemId: string, merchantId: string, currency: string, date: string, amountMinor: bigint, product: string, channelId: string | null, bookedFeeMinor: bigint, reconciled: boolean): number {
    if (this.length === this.kinds.length) this.reserve(1);
    this.amounts[this.length] = amountMinor;
    this.bookedFees[this.length] = bookedFeeMinor;
    return this.pushWithAmounts(kind, itemId, merchantId, currency, date, product, channelId, reconciled);
  }

  /** Appends an item whose amount and booked fee were written at its index already (within room `reserve`d before). */
  pushWithAmounts(kind: number, itemId: string, merchantId: string, currency: string, date: string, product: string, channelId: string | null, reconciled: boolean): number {
    return this.pushWithMerchantNo(kind, itemId, this.merchantNo(merchantId), currency, date, product, channelId, reconciled);
  }

  /** The merchant's number (a new one the first time). */
  merchantNo(merchantId: string): number {
    let merchantNo = this.merchantNoOf.get(merchantId);
    if (merchantNo === undefined) {
      merchantNo = this.merchantIds.length;
      this.merchantIds.push(merchantId);
      this.merchantNoOf.set(merchantId, merchantNo);
    }
    return merchantNo;
  }

  /** As pushWithAmounts, the merchant given by its number (merchantNo). */
  pushWithMerchantNo(kind: number, itemId: string, merchantNo: number, currency: string, date: string, product: string, channelId: string | null, reconciled: boolean): number {
    const k = this.length;
    if (k === this.kinds.length) this.reserve(1);
    this.kinds[k] = kind;
    this.ids.push(itemId);
    this.merchantNos[k] = merchantNo;
    this.currencies.push(currency);
    this.dates.push(date);
    this.products.push(product);
    this.channels.push(channelId);
    this.reconciled[k] = reconciled ? 1 : 0;
    this.length = k + 1;
    return k;
  }

  /** Appends an item given as an object (amounts checked against the 64-bit range the columns hold). */
  pushItem(i: CandidateItem): number {
    const k = this.push(kindCode(i.kind), i.itemId, i.merchantId, i.currency, i.businessDate, int64(i.amountMinor, 'amount'), i.product, i.channelId, int64(i.bookedFeeMinor, 'fee'), i.reconciled);
    if (i.kind === 'refund') {
      this.refunds.set(k, {
        paymentId: i.paymentId ?? '',
        paymentAmountMinor: i.paymentAmountMinor ?? i.amountMinor,
        paymentSettledFeeMinor: i.paymentSettledFeeMinor ?? null,
        paymentBookedFeeMinor: i.paymentBookedFeeMinor ?? 0n,
        refundedBeforeMinor: i.refundedBeforeMinor ?? 0n,
      });
    }
    return k;
  }

  static of(items: readonly CandidateItem[]): CandidateColumns {
    const c = new CandidateColumns(Math.max(16, items.length));
    for (const i of items) c.pushItem(i);
    return c;
  }

  /** Item k as an object (the shape the store's readers and the tests know). */
  item(k: number): CandidateItem {
    const kind = kindOf(this.kinds[k] ?? KIND_PAYMENT);
    const base = {
      kind,
      itemId: this.ids[k] ?? '',
      merchantId: this.merchantOf(k),
      currency: this.currencies[k] ?? '',
      businessDate: this.dates[k] ?? '',
      amountMinor: this.amounts[k] ?? 0n,
      product: this.products[k] ?? '',
      channelId: this.channels[k] ?? null,
      bookedFeeMinor: this.bookedFees[k] ?? 0n,
      reconciled: this.reconciled[k] === 1,
    };
    const refund = this.refunds.get(k);
    return refund === undefined ? base : { ...base, ...refund };
  }

  merchantOf(k: number): string {
    return this.merchantIds[this.merchantNos[k] ?? 0] ?? '';
  }

  /** Every item as an object, in index order. */
  toItems(): CandidateItem[] {
    return Array.from({ length: this.length }, (_, k) => this.item(k));
  }
}

/** Item a before item b in key order (kind, then id; the order item rows are kept in). */
export function keyBefore(c: CandidateColumns, a: number, b: number): number {
  const ka = c.kinds[a] ?? 0;
  const kb = c.kinds[b] ?? 0;
  if (ka !== kb) return ka - kb;
  const x = c.ids[a] ?? '';
  const y = c.ids[b] ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The given item indices in key order (kind, then id), sorted in place. Items read page by page in rowid
 * order often come in key order already (real ids start with their time): checked first, no sort then.
 */
export function sortByKey(c: CandidateColumns, indices: Int32Array): Int32Array {
  let sorted = true;
  for (let at = 1; at < indices.length && sorted; at++) sorted = keyBefore(c, indices[at - 1] ?? 0, indices[at] ?? 0) <= 0;
  if (sorted) return indices;
  // A plain array sorts with a comparator about twice as fast as an Int32Array does.
  const list = Array.from(indices);
  list.sort((a, b) => keyBefore(c, a, b));
  indices.set(list);
  return indices;
}
