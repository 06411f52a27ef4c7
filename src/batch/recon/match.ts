// Matching (对账勾兑): a pure function of the channel's lines, our records, the suspense pool, the date
// and the channel's suspense days. No clock, no store, no I/O: the run (run.ts) loads the inputs and
// stores the outcomes.
//
// How items pair, with hash maps only (one pass per side and key, never a loop inside a loop):
//   1. by the channel's transaction id (微信订单号 / 退款单号), when both sides know it;
//   2. then, among what is left, by our id as the channel knows it: the merchant order number is our
//      payment id (or capture id), the merchant refund number our refund id.
// Payments and refunds are separate kinds and never pair with each other. A line whose channel key
// already appeared in the same file (or waits in the pool) is a `duplicate` and does not pair.
//
// How a pair is judged — precedence, the first difference found is the item's type, every difference
// found is kept in `differences`:
//   currency_mismatch > amount_mismatch > status_mismatch > fee_mismatch.
// Status is compared as "did money move": a channel line `succeeded` moved money; our payment moved it
// when succeeded, partially_refunded or refunded (refunds are their own lines), our refund when
// succeeded. Voided, failed, closed, processing (ours) and revoked, closed, failed, processing (theirs)
// did not. When neither side moved money there is nothing to compare: the pair is matched.
//
// The fee rule: the channel's fee, at the file's own precision (WeChat writes five decimals), is
// compared exactly with the fee we expected (our cost_minor; for a refund, cost_returned_minor), by
// value and ignoring sign (refund rows may carry the returned fee as a negative number). Nothing is
// rounded: `0.00600` against our 1 fen (`0.01`) is a fee_mismatch, `0.01000` against 1 fen is not. A
// file without fees is not compared.
//
// What is left alone: an item that moved money and found no partner goes into suspense for
// `suspenseDays` (see suspense.ts); a pool item whose wait is over becomes channel_only (长款: the
// channel has it, we do not) or ledger_only (短款: we have it, the channel does not). An unpaired item
// that moved no money (a revoked line, a voided payment) agrees with the other side's silence: matched,
// with the note `no_movement`. Every item on either side ends in exactly one outcome.
//
// Voids (撤销): WeChat marks a voided payment REVOKED; Alipay and UnionPay list the payment and, as a
// refund row, the void. A refund row whose merchant refund number is our void reference of a payment
// in the same file (`void.<payment id>`, `capvoid.<capture id>`, as the online core sends them) with
// the same amount is folded into that payment: the payment counts as not moved (like REVOKED), and the
// void row itself is matched with the note `void_row`. So our voided payment matches either way.

import { findCurrency } from '../../ledger/index.js';
import { blockAmount, blockStatus, packedIsRefund, packedStatus, readStoredBlock, type LineBlock, type PackedColumns, type ReadBlock, type StoredBlock } from './line-block.js';
import type { LineKind, LineStatus, StatementLine } from './line.js';
import { suspenseExpired, suspenseUntil, type SuspenseItem } from './suspense.js';

/** Stable codes of the differences, in order of precedence for a pair. */
export const DISCREPANCY_TYPES = ['currency_mismatch', 'amount_mismatch', 'status_mismatch', 'fee_mismatch', 'channel_only', 'ledger_only', 'duplicate'] as const;
export type DiscrepancyType = (typeof DISCREPANCY_TYPES)[number];

export type OutcomeKind = 'matched' | 'suspense' | 'discrepancy';
/**
 * `late`: one side came from the suspense pool; `no_movement`: no money moved on the side that is
 * there; `void_row`: a channel row that voids a payment of the same file, folded into that payment.
 */
export type OutcomeNote = 'late' | 'no_movement' | 'void_row';

/** Where our record lives: captures of pre-authorisations are payments at the channel. */
export type RecordSource = 'payment' | 'refund' | 'capture';

/** Our side of one movement, read by the port from the online core's tables and the journal. */
export interface OurRecord {
  readonly source: RecordSource;
  /** payment_id, refund_id or capture_id: the number the channel knows as the merchant's order (refund) number. */
  readonly recordId: string;
  readonly merchantId: string;
  /** For a refund: the payment it refunds; otherwise null. */
  readonly paymentId: string | null;
  readonly channelTxnId: string | null;
  readonly amountMinor: bigint;
  readonly currency: string;
  /** Our status as stored (succeeded, partially_refunded, refunded, voided, failed, closed, processing). */
  readonly status: string;
  /** The channel's fee we expect, in minor units (payments: cost_minor; refunds: cost_returned_minor). */
  readonly costMinor: bigint;
  /** The business date of its journal entry; null when it never succeeded. */
  readonly businessDate: string | null;
}

const MOVED_STATUSES: Readonly<Record<RecordSource, ReadonlySet<string>>> = {
  payment: new Set(['succeeded', 'partially_refunded', 'refunded']),
  capture: new Set(['succeeded']),
  refund: new Set(['succeeded']),
};

/** True when our record says money moved at the channel. */
export function recordMoved(r: Pick<OurRecord, 'source' | 'status'>): boolean {
  return MOVED_STATUSES[r.source].has(r.status);
}

export function recordKind(source: RecordSource): LineKind {
  return source === 'refund' ? 'refund' : 'payment';
}

// ---- fees, compared exactly at their own precision ----

/** A non-negative decimal as an integer and a scale: 0.00600 is { units: 600n, scale: 5 }. */
export interface Fee {
  readonly units: bigint;
  readonly scale: number;
}

const FEE_TEXT = /^[-+]?([0-9]{1,30})(?:\.([0-9]{1,18}))?$/;

/** The magnitude of a fee as the file states it; 'invalid' when it is not a plain decimal. */
export function parseFee(text: string | null): Fee | 'invalid' | null {
  if (text === null || text === '') return null;
  const m = FEE_TEXT.exec(text);
  if (!m) return 'invalid';
  const fraction = m[2] ?? '';
  return { units: BigInt((m[1] ?? '0') + fraction), scale: fraction.length };
}

/** Fees are compared as integers at one scale of 10^-18: exact for every fee text parseFee accepts. */
const FEE_SCALE = 18;
const POW10: readonly bigint[] = Array.from({ length: FEE_SCALE + 1 }, (_v, i) => 10n ** BigInt(i));

/** A fee as an integer count of 10^-18 (or 'invalid'), so two fees compare with `===`. */
export type FeeValue = bigint | 'invalid';

export function feeValue(fee: Fee | 'invalid'): FeeValue {
  return fee === 'invalid' ? 'invalid' : fee.units * (POW10[FEE_SCALE - fee.scale] as bigint);
}

export function feesEqual(a: Fee | 'invalid', b: Fee | 'invalid'): boolean {
  const x = feeValue(a);
  return x !== 'invalid' && x === feeValue(b);
}

const exponents = new Map<string, bigint>();
/** Our expected fee in minor units as a FeeValue (1 fen CNY = 10^16). */
export function feeValueOfMinor(amountMinor: bigint, currency: string): bigint {
  let scale = exponents.get(currency);
  if (scale === undefined) exponents.set(currency, (scale = POW10[FEE_SCALE - (findCurrency(currency)?.exponent ?? 2)] as bigint));
  return (amountMinor < 0n ? -amountMinor : amountMinor) * scale;
}

// ---- the symmetric core ----
// The core reads both sides through the same narrow view, by index, so nothing is copied: a million
// lines and a million records are read in place, and the outcomes are a few typed arrays, not a million
// objects. Memory stays proportional to the input with a small constant, and the garbage collector is
// not kept busy with short-lived copies that outlive a young generation.

/** One side's view of a movement, the same shape for the channel and for us (so matching is symmetric). */
export interface MatchItem {
  readonly kind: LineKind;
  readonly txnId: string | null;
  readonly orderKey: string | null;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly moved: boolean;
  readonly fee: Fee | 'invalid' | null;
  /** For an item from the suspense pool: the last date it may be matched; null for today's items. */
  readonly untilDate: string | null;
}

/** What the core reads of one side, by index. */
export interface SideView {
  readonly length: number;
  kind(i: number): LineKind;
  txnId(i: number): string | null;
  orderKey(i: number): string | null;
  amountMinor(i: number): bigint;
  currency(i: number): string;
  moved(i: number): boolean;
  /** The fee (the channel's, or the one we expect), null when not stated. */
  fee(i: number): FeeValue | null;
  untilDate(i: number): string | null;
}

export function itemsView(items: readonly MatchItem[]): SideView {
  const at = (i: number): MatchItem => items[i] as MatchItem;
  return {
    length: items.length,
    kind: (i) => at(i).kind,
    txnId: (i) => at(i).txnId,
    orderKey: (i) => at(i).orderKey,
    amountMinor: (i) => at(i).amountMinor,
    currency: (i) => at(i).currency,
    moved: (i) => at(i).moved,
    fee: (i) => {
      const f = at(i).fee;
      return f === null ? null : feeValue(f);
    },
    untilDate: (i) => at(i).untilDate,
  };
}

export interface CoreOutcome {
  readonly outcome: OutcomeKind;
  readonly type: DiscrepancyType | null;
  /** Every difference of a pair, in precedence order (the first is `type`). */
  readonly differences: readonly DiscrepancyType[];
  readonly note: OutcomeNote | null;
  /** Index into the channel items, or null. */
  readonly channel: number | null;
  /** Index into the ledger items, or null. */
  readonly ledger: number | null;
  /** For an outcome `suspense`: the last date the item waits. */
  readonly untilDate: string | null;
}

const OUTCOME_KINDS: readonly OutcomeKind[] = ['matched', 'suspense', 'discrepancy'];
const NOTES: readonly OutcomeNote[] = ['late', 'no_movement', 'void_row'];
const bit = (t: DiscrepancyType): number => 1 << DISCREPANCY_TYPES.indexOf(t);
export const BIT = {
  currency: bit('currency_mismatch'),
  amount: bit('amount_mismatch'),
  status: bit('status_mismatch'),
  fee: bit('fee_mismatch'),
  channelOnly: bit('channel_only'),
  ledgerOnly: bit('ledger_only'),
} as const;

/** Differences as a bit set over DISCREPANCY_TYPES, in precedence order. */
export function differencesOf(mask: number): DiscrepancyType[] {
  return DISCREPANCY_TYPES.filter((_t, i) => (mask & (1 << i)) !== 0);
}

/** The core's outcomes, one typed array per field. */
export class CoreOutcomes {
  length = 0;
  readonly outcome: Uint8Array;
  /** Index into DISCREPANCY_TYPES, or -1. */
  readonly type: Int8Array;
  readonly differences: Uint8Array;
  /** Index into NOTES, or -1. */
  readonly note: Int8Array;
  readonly channel: Int32Array;
  readonly ledger: Int32Array;
  private readonly until = new Map<number, string>();

  constructor(capacity: number) {
    this.outcome = new Uint8Array(capacity);
    this.type = new Int8Array(capacity);
    this.differences = new Uint8Array(capacity);
    this.note = new Int8Array(capacity);
    this.channel = new Int32Array(capacity);
    this.ledger = new Int32Array(capacity);
  }

  push(outcome: 0 | 1 | 2, differences: number, note: number, channel: number, ledger: number, untilDate: string | null): void {
    const i = this.length++;
    this.outcome[i] = outcome;
    this.differences[i] = differences;
    this.type[i] = differences === 0 ? -1 : 31 - Math.clz32(differences & -differences);
    this.note[i] = note;
    this.channel[i] = channel;
    this.ledger[i] = ledger;
    if (untilDate !== null) this.until.set(i, untilDate);
  }

  untilDate(i: number): string | null {
    return this.until.get(i) ?? null;
  }

  get(i: number): CoreOutcome {
    const type = this.type[i] as number;
    const note = this.note[i] as number;
    const channel = this.channel[i] as number;
    const ledger = this.ledger[i] as number;
    return {
      outcome: OUTCOME_KINDS[this.outcome[i] as number] as OutcomeKind,
      type: type < 0 ? null : (DISCREPANCY_TYPES[type] as DiscrepancyType),
      differences: differencesOf(this.differences[i] as number),
      note: note < 0 ? null : (NOTES[note] as OutcomeNote),
      channel: channel < 0 ? null : channel,
      ledger: ledger < 0 ? null : ledger,
      untilDate: this.untilDate(i),
    };
  }
}

const KIND_INDEX: Readonly<Record<LineKind, 0 | 1>> = { payment: 0, refund: 1 };
const NOTE_LATE = 0;
const NOTE_NO_MOVEMENT = 1;

/**
 * The channel side's items by txn id, per kind (payments, refunds): the first item of each id. A caller
 * that has built it already (matchColumns does, finding duplicates) passes it so it is not built twice.
 */
export type TxnIndex = readonly [ReadonlyMap<string, number>, ReadonlyMap<string, number>];

/**
 * Pairs items by channel txn id, then by order key: one hash map per kind and key. For each key the first
 * unpaired item of one side pairs with the first unpaired item of the other, so it does not matter which
 * side a map is built over: the txn ids' over the channel side when given (`channelTxns`), the rest over
 * our side.
 */
function pairSides(channel: SideView, ledger: SideView, channelTxns?: TxnIndex): { ofChannel: Int32Array; ofLedger: Int32Array } {
  const ofChannel = new Int32Array(channel.length).fill(-1);
  const ofLedger = new Int32Array(ledger.length).fill(-1);
  if (channelTxns !== undefined) {
    for (let l = 0; l < ledger.length; l++) {
      const k = ledger.txnId(l);
      if (k === null) continue;
      const c = channelTxns[KIND_INDEX[ledger.kind(l)]].get(k);
      if (c !== undefined && ofChannel[c] === -1) {
        ofChannel[c] = l;
        ofLedger[l] = c;
      }
    }
  }
  const join = (key: (view: SideView, i: number) => string | null): void => {
    const maps: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
    for (let l = 0; l < ledger.length; l++) {
      if (ofLedger[l] !== -1) continue;
      const k = key(ledger, l);
      const map = maps[KIND_INDEX[ledger.kind(l)]];
      if (k !== null && !map.has(k)) map.set(k, l);
    }
    for (let c = 0; c < channel.length; c++) {
      if (ofChannel[c] !== -1) continue;
      const k = key(channel, c);
      if (k === null) continue;
      const l = maps[KIND_INDEX[channel.kind(c)]].get(k);
      if (l !== undefined && ofLedger[l] === -1) {
        ofChannel[c] = l;
        ofLedger[l] = c;
      }
    }
  };
  if (channelTxns === undefined) join((v, i) => v.txnId(i));
  join((v, i) => v.orderKey(i));
  return { ofChannel, ofLedger };
}

/** The differences of a pair as a bit set; none when neither side moved money. */
export function compareSides(channel: SideView, c: number, ledger: SideView, l: number): number {
  const cm = channel.moved(c);
  const lm = ledger.moved(l);
  if (!cm && !lm) return 0;
  let found = 0;
  if (channel.currency(c) !== ledger.currency(l)) found |= BIT.currency;
  if (channel.amountMinor(c) !== ledger.amountMinor(l)) found |= BIT.amount;
  if (cm !== lm) found |= BIT.status;
  if (cm && lm) {
    const cf = channel.fee(c);
    const lf = cf === null ? null : ledger.fee(l);
    if (cf !== null && lf !== null && (cf === 'invalid' || cf !== lf)) found |= BIT.fee;
  }
  return found;
}

/**
 * The symmetric core: swapping `channel` and `ledger` swaps channel_only and ledger_only (and the
 * indexes) and changes nothing else. Outcomes come channel items first, in order, then the unpaired
 * ledger items, in order.
 */
export function matchSides(input: {
  readonly date: string;
  readonly suspenseDays: number;
  readonly channel: SideView;
  readonly ledger: SideView;
  /** The channel side's txn ids, when the caller has them indexed (see TxnIndex). */
  readonly channelTxns?: TxnIndex;
}): CoreOutcomes {
  const { date, suspenseDays, channel, ledger } = input;
  const { ofChannel, ofLedger } = pairSides(channel, ledger, input.channelTxns);
  const out = new CoreOutcomes(channel.length + ledger.length);
  const newUntil = suspenseDays > 0 ? suspenseUntil(date, suspenseDays) : null;
  const single = (view: SideView, i: number, c: number, l: number, missing: number): void => {
    if (!view.moved(i)) return out.push(0, 0, NOTE_NO_MOVEMENT, c, l, null);
    const until = view.untilDate(i) ?? newUntil;
    if (until !== null && !suspenseExpired(until, date)) return out.push(1, 0, -1, c, l, until);
    return out.push(2, missing, -1, c, l, null);
  };
  for (let c = 0; c < channel.length; c++) {
    const l = ofChannel[c] as number;
    if (l === -1) {
      single(channel, c, c, -1, BIT.channelOnly);
      continue;
    }
    const differences = compareSides(channel, c, ledger, l);
    const late = channel.untilDate(c) !== null || ledger.untilDate(l) !== null;
    out.push(differences === 0 ? 0 : 2, differences, late ? NOTE_LATE : -1, c, l, null);
  }
  for (let l = 0; l < ledger.length; l++) if (ofLedger[l] === -1) single(ledger, l, -1, l, BIT.ledgerOnly);
  return out;
}

/** The core over item arrays (tests, small inputs): every outcome as an object. */
export function matchItems(input: { readonly date: string; readonly suspenseDays: number; readonly channel: readonly MatchItem[]; readonly ledger: readonly MatchItem[] }): CoreOutcome[] {
  const core = matchSides({ date: input.date, suspenseDays: input.suspenseDays, channel: itemsView(input.channel), ledger: itemsView(input.ledger) });
  return Array.from({ length: core.length }, (_v, i) => core.get(i));
}

// ---- statement lines and our records ----

function lineOrderKey(line: StatementLine): string | null {
  return (line.kind === 'payment' ? line.merchantOrderNo : line.merchantRefundNo) || null;
}

export interface MatchInput {
  readonly date: string;
  readonly suspenseDays: number;
  /** The channel's file for `date`, in file order. */
  readonly lines: readonly StatementLine[];
  /**
   * Our records, each once: those due on `date`, those the lines name, and (refreshed) those waiting in
   * the pool. A record that is also a pool item is matched once, as the pool item, with the fresh values.
   */
  readonly records: readonly OurRecord[];
  /** Items of earlier dates still waiting (suspense pool). */
  readonly pool: readonly SuspenseItem[];
}

export interface Outcome {
  readonly outcome: OutcomeKind;
  readonly type: DiscrepancyType | null;
  readonly differences: readonly DiscrepancyType[];
  readonly note: OutcomeNote | null;
  readonly untilDate: string | null;
  readonly kind: LineKind;
  /** The channel's side, when there is one. */
  readonly line: StatementLine | null;
  /** Where the line is: a line of the file being matched (`fileId` null, `seq` its 1-based position in `lines`), or a pool line in its own file. */
  readonly lineAt: { readonly fileId: number | null; readonly seq: number } | null;
  /** Our side, when there is one. */
  readonly record: OurRecord | null;
  /** The pool items this outcome is about (they leave the pool unless the outcome is `suspense`). */
  readonly channelSuspenseId: number | null;
  readonly ledgerSuspenseId: number | null;
  /** Names the item across runs of the same date, so a re-match can say what changed. */
  readonly identity: string;
}

/** The outcomes of one match, read one at a time (a run stores them in chunks). */
export interface MatchOutcomes {
  readonly length: number;
  at(i: number): Outcome;
  /**
   * For a matched outcome of a pair or of a lone item, only what ties it to its sides (what a run
   * stores of a matched item), built without the line and record objects; undefined for any other.
   */
  matchedAt(i: number): MatchedOutcome | undefined;
  /** When outcome `i` is a plain matched pair (see MatchedPairs), appends it to `into` and returns true; else false. */
  pushPair(i: number, into: MatchedPairs): boolean;
  readonly counts: OutcomeCounts;
}

/**
 * Matched pairs of a line of the file being matched and one of today's records, with no note and no
 * pool side: nearly every outcome of a day. A run collects them as four arrays of primitives (no object
 * per outcome) and the store writes them in bulk.
 */
export interface MatchedPairs {
  readonly kind: LineKind[];
  /** 1-based position of the line in the file being matched. */
  readonly lineSeq: number[];
  readonly recordSource: RecordSource[];
  readonly recordId: string[];
}

export function emptyPairs(): MatchedPairs {
  return { kind: [], lineSeq: [], recordSource: [], recordId: [] };
}

/** The narrow form of a matched outcome: see MatchOutcomes.matchedAt. */
export interface MatchedOutcome {
  readonly note: OutcomeNote | null;
  readonly kind: LineKind;
  readonly lineAt: { readonly fileId: number | null; readonly seq: number } | null;
  readonly recordSource: RecordSource | null;
  readonly recordId: string | null;
  readonly channelSuspenseId: number | null;
  readonly ledgerSuspenseId: number | null;
}

// ---- columns: a million lines and records without a million objects ----
// The match reads the channel's lines and our records through these narrow views, by index. Arrays of
// objects (tests, small inputs) are wrapped as they are; a run keeps a day's lines and records in
// LineTable and RecordTable, a few typed arrays and arrays of the key strings, and builds an object
// only for an outcome being stored.

/** The channel's lines, by index in file order. */
export interface LineColumns {
  readonly length: number;
  kind(i: number): LineKind;
  channelTxnId(i: number): string;
  merchantOrderNo(i: number): string | null;
  merchantRefundNo(i: number): string | null;
  amountMinor(i: number): bigint;
  currency(i: number): string;
  status(i: number): LineStatus;
  fee(i: number): string | null;
  /** The whole line as an object (for an outcome). */
  line(i: number): StatementLine;
}

/** Our records, by index. */
export interface RecordColumns {
  readonly length: number;
  source(i: number): RecordSource;
  recordId(i: number): string;
  channelTxnId(i: number): string | null;
  amountMinor(i: number): bigint;
  currency(i: number): string;
  status(i: number): string;
  costMinor(i: number): bigint;
  /** The whole record as an object (for an outcome). */
  record(i: number): OurRecord;
}

export function lineArrayColumns(lines: readonly StatementLine[]): LineColumns {
  const at = (i: number): StatementLine => lines[i] as StatementLine;
  return {
    length: lines.length,
    kind: (i) => at(i).kind,
    channelTxnId: (i) => at(i).channelTxnId,
    merchantOrderNo: (i) => at(i).merchantOrderNo,
    merchantRefundNo: (i) => at(i).merchantRefundNo,
    amountMinor: (i) => at(i).amountMinor,
    currency: (i) => at(i).currency,
    status: (i) => at(i).status,
    fee: (i) => at(i).fee,
    line: at,
  };
}

export function recordArrayColumns(records: readonly OurRecord[]): RecordColumns {
  const at = (i: number): OurRecord => records[i] as OurRecord;
  return {
    length: records.length,
    source: (i) => at(i).source,
    recordId: (i) => at(i).recordId,
    channelTxnId: (i) => at(i).channelTxnId,
    amountMinor: (i) => at(i).amountMinor,
    currency: (i) => at(i).currency,
    status: (i) => at(i).status,
    costMinor: (i) => at(i).costMinor,
    record: at,
  };
}

/**
 * A string of its own: a parser's cell is a slice of a decoded block of the file, and V8 keeps such a
 * slice as a view holding the whole block alive; a kept line would so keep every block of the file.
 */
export function detached(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

/** Values that repeat on many rows (currency, time of day, fee, status, merchant, date), each kept once. */
class StringTable {
  readonly values: string[] = [];
  private readonly index = new Map<string, number>();
  of(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(detached(s));
      this.index.set(s, i);
    }
    return i;
  }
  orNull(s: string | null): number {
    return s === null ? -1 : this.of(s);
  }
  at(i: number): string {
    return this.values[i] as string;
  }
  atOrNull(i: number): string | null {
    return i < 0 ? null : (this.values[i] as string);
  }
}

/** A column's last value and its index in a StringTable: a run of equal values costs no lookup. */
class LastValue {
  private last: string | undefined;
  private lastAt = -1;
  constructor(private readonly strings: StringTable) {}
  of(s: string): number {
    if (s !== this.last) {
      this.lastAt = this.strings.of(s);
      this.last = s;
    }
    return this.lastAt;
  }
}

/** Amounts in a BigInt64Array; the rare one outside 64 bits is kept aside. */
class AmountColumn {
  data = new BigInt64Array(1024);
  private readonly wide = new Map<number, bigint>();
  set(i: number, v: bigint): void {
    if (i >= this.data.length) {
      const grown = new BigInt64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    if (BigInt.asIntN(64, v) === v) this.data[i] = v;
    else this.wide.set(i, v);
  }
  get(i: number): bigint {
    return this.wide.size > 0 ? (this.wide.get(i) ?? (this.data[i] as bigint)) : (this.data[i] as bigint);
  }
}

/** Small integers per row in an Int32Array that grows. */
class IntColumn {
  data = new Int32Array(1024);
  set(i: number, v: number): void {
    if (i >= this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[i] = v;
  }
  get(i: number): number {
    return this.data[i] as number;
  }
}

const LINE_KINDS: readonly LineKind[] = ['payment', 'refund'];
const LINE_STATUSES: readonly LineStatus[] = ['succeeded', 'failed', 'closed', 'processing', 'revoked'];
const RECORD_SOURCES: readonly RecordSource[] = ['payment', 'refund', 'capture'];

/** A line status as its index in LINE_STATUSES (a closed set: the parsers normalise every format's statuses to it). */
function statusCode(status: LineStatus): number {
  const i = LINE_STATUSES.indexOf(status);
  if (i < 0) throw new RangeError(`unknown line status ${JSON.stringify(status)}`);
  return i;
}

/** A day's lines as columns, appended in file order (an import keeps them for the match that follows). */
export class LineTable implements LineColumns {
  length = 0;
  private readonly txn: string[] = [];
  private readonly original: (string | null)[] = [];
  private readonly orderNo: (string | null)[] = [];
  private readonly refundNo: (string | null)[] = [];
  private readonly amount = new AmountColumn();
  private readonly kindStatus = new IntColumn();
  private readonly currencyAt = new IntColumn();
  private readonly occurredAt = new IntColumn();
  private readonly feeAt = new IntColumn();
  private readonly lineNo = new IntColumn();
  private readonly strings = new StringTable();

  push(l: StatementLine): void {
    const i = this.length++;
    this.txn.push(detached(l.channelTxnId));
    this.original.push(l.originalChannelTxnId === null ? null : detached(l.originalChannelTxnId));
    this.orderNo.push(l.merchantOrderNo === null ? null : detached(l.merchantOrderNo));
    this.refundNo.push(l.merchantRefundNo === null ? null : detached(l.merchantRefundNo));
    this.amount.set(i, l.amountMinor);
    this.kindStatus.set(i, (LINE_KINDS.indexOf(l.kind) << 8) | statusCode(l.status));
    this.currencyAt.set(i, this.strings.of(l.currency));
    this.occurredAt.set(i, this.strings.of(l.occurredAt));
    this.feeAt.set(i, this.strings.orNull(l.fee));
    this.lineNo.set(i, l.line);
  }

  /** A packed block of lines (line-block.ts), appended in order: no object per line. */
  appendBlock(b: LineBlock): void {
    const dict = b.dict.map((s) => this.strings.of(s));
    for (let k = 0; k < b.n; k++) {
      const i = this.length++;
      this.txn.push(b.txn[k] as string);
      this.original.push(b.orig[k] ?? null);
      this.orderNo.push(b.order[k] ?? null);
      this.refundNo.push(b.refund[k] ?? null);
      this.amount.set(i, blockAmount(b, k));
      this.kindStatus.set(i, (b.kind.charCodeAt(k) === 0x72 ? 1 << 8 : 0) | statusCode(blockStatus(b, k)));
      this.currencyAt.set(i, dict[b.cur[k] as number] as number);
      this.occurredAt.set(i, dict[b.at[k] as number] as number);
      const fee = b.fee[k] as number;
      this.feeAt.set(i, fee < 0 ? -1 : (dict[fee] as number));
      this.lineNo.set(i, b.line[k] as number);
    }
  }

  /** A stored block's lines (binary or JSON), as a table of their own. */
  static ofStored(stored: StoredBlock): LineTable {
    return LineTable.ofRead(readStoredBlock(stored));
  }

  /** A block's lines, read, as a table of their own. */
  static ofRead(read: ReadBlock): LineTable {
    const table = new LineTable();
    table.appendRead(read);
    return table;
  }

  /** A stored block's lines, read (line-block.ts), appended in order. */
  appendRead(b: ReadBlock): void {
    if ('packed' in b) this.appendPacked(b.packed);
    else this.appendBlock(b.json);
  }

  /** Packed columns of a block (line-block.ts), appended in order. */
  appendPacked(c: PackedColumns): void {
    const dict = c.dict.map((s) => this.strings.of(s));
    const txn = c.txn.split('\n');
    const orig = c.orig.split('\n');
    const order = c.order.split('\n');
    const refund = c.refund.split('\n');
    const wide = new Map(c.wideAmounts);
    for (let k = 0; k < c.rows; k++) {
      const i = this.length++;
      const nulls = c.nulls[k] as number;
      this.txn.push(txn[k] as string);
      this.original.push((nulls & 1) !== 0 ? null : (orig[k] as string));
      this.orderNo.push((nulls & 2) !== 0 ? null : (order[k] as string));
      this.refundNo.push((nulls & 4) !== 0 ? null : (refund[k] as string));
      const w = wide.size > 0 ? wide.get(k) : undefined;
      this.amount.set(i, w === undefined ? (c.amount[k] as bigint) : BigInt(w));
      const ks = c.kindStatus[k] as number;
      this.kindStatus.set(i, (packedIsRefund(ks) ? 256 : 0) | statusCode(packedStatus(ks)));
      this.currencyAt.set(i, dict[c.cur[k] as number] as number);
      this.occurredAt.set(i, dict[c.at[k] as number] as number);
      const fee = c.fee[k] as number;
      this.feeAt.set(i, fee < 0 ? -1 : (dict[fee] as number));
      this.lineNo.set(i, c.line[k] as number);
    }
  }

  kind(i: number): LineKind {
    return LINE_KINDS[this.kindStatus.get(i) >> 8] as LineKind;
  }
  channelTxnId(i: number): string {
    return this.txn[i] as string;
  }
  merchantOrderNo(i: number): string | null {
    return this.orderNo[i] ?? null;
  }
  merchantRefundNo(i: number): string | null {
    return this.refundNo[i] ?? null;
  }
  amountMinor(i: number): bigint {
    return this.amount.get(i);
  }
  currency(i: number): string {
    return this.strings.at(this.currencyAt.get(i));
  }
  status(i: number): LineStatus {
    return LINE_STATUSES[this.kindStatus.get(i) & 0xff] as LineStatus;
  }
  fee(i: number): string | null {
    return this.strings.atOrNull(this.feeAt.get(i));
  }
  line(i: number): StatementLine {
    return {
      kind: this.kind(i),
      channelTxnId: this.channelTxnId(i),
      originalChannelTxnId: this.original[i] ?? null,
      merchantOrderNo: this.merchantOrderNo(i),
      merchantRefundNo: this.merchantRefundNo(i),
      amountMinor: this.amountMinor(i),
      currency: this.currency(i),
      status: this.status(i),
      occurredAt: this.strings.at(this.occurredAt.get(i)),
      fee: this.fee(i),
      line: this.lineNo.get(i),
    };
  }
}

/**
 * A packed block's lines read where they lie, for a streaming match (run.ts), which reads each block once:
 * a column of keys is split the first time one of its keys is read, the rest is read by index.
 */
export class PackedLines implements LineColumns {
  readonly length: number;
  private txn: string[] | undefined;
  private order: string[] | undefined;
  private orig: string[] | undefined;
  private refund: string[] | undefined;
  private readonly wide: ReadonlyMap<number, string> | undefined;

  constructor(private readonly c: PackedColumns) {
    this.length = c.rows;
    this.wide = c.wideAmounts.length > 0 ? new Map(c.wideAmounts) : undefined;
  }

  kind(i: number): LineKind {
    return packedIsRefund(this.c.kindStatus[i] as number) ? 'refund' : 'payment';
  }
  channelTxnId(i: number): string {
    this.txn ??= this.c.txn.split('\n');
    return this.txn[i] as string;
  }
  merchantOrderNo(i: number): string | null {
    if (((this.c.nulls[i] as number) & 2) !== 0) return null;
    this.order ??= this.c.order.split('\n');
    return this.order[i] as string;
  }
  merchantRefundNo(i: number): string | null {
    if (((this.c.nulls[i] as number) & 4) !== 0) return null;
    this.refund ??= this.c.refund.split('\n');
    return this.refund[i] as string;
  }
  private originalChannelTxnId(i: number): string | null {
    if (((this.c.nulls[i] as number) & 1) !== 0) return null;
    this.orig ??= this.c.orig.split('\n');
    return this.orig[i] as string;
  }
  amountMinor(i: number): bigint {
    const w = this.wide?.get(i);
    return w === undefined ? (this.c.amount[i] as bigint) : BigInt(w);
  }
  currency(i: number): string {
    return this.c.dict[this.c.cur[i] as number] as string;
  }
  status(i: number): LineStatus {
    return packedStatus(this.c.kindStatus[i] as number);
  }
  fee(i: number): string | null {
    const f = this.c.fee[i] as number;
    return f < 0 ? null : (this.c.dict[f] as string);
  }
  line(i: number): StatementLine {
    return {
      kind: this.kind(i),
      channelTxnId: this.channelTxnId(i),
      originalChannelTxnId: this.originalChannelTxnId(i),
      merchantOrderNo: this.merchantOrderNo(i),
      merchantRefundNo: this.merchantRefundNo(i),
      amountMinor: this.amountMinor(i),
      currency: this.currency(i),
      status: this.status(i),
      occurredAt: this.c.dict[this.c.at[i] as number] as string,
      fee: this.fee(i),
      line: this.c.line[i] as number,
    };
  }
}

/** Our records as columns (a run reads a day's million without a million objects). */
export class RecordTable implements RecordColumns {
  length = 0;
  private readonly id: string[] = [];
  private readonly txn: (string | null)[] = [];
  private readonly paymentId: (string | null)[] = [];
  private readonly amount = new AmountColumn();
  private readonly cost = new AmountColumn();
  private readonly sourceAt = new IntColumn();
  private readonly merchantAt = new IntColumn();
  private readonly currencyAt = new IntColumn();
  private readonly statusAt = new IntColumn();
  private readonly dateAt = new IntColumn();
  private readonly strings = new StringTable();

  // Rows come in runs of the same merchant, currency, status and date: each column remembers its last value.
  private readonly merchantOf = new LastValue(this.strings);
  private readonly currencyOf = new LastValue(this.strings);
  private readonly statusOf = new LastValue(this.strings);
  private readonly dateOf = new LastValue(this.strings);

  push(r: OurRecord): void {
    this.pushFields(r.source, r.recordId, r.merchantId, r.paymentId, r.channelTxnId, r.amountMinor, r.currency, r.status, r.costMinor, r.businessDate);
  }

  /** A record from its fields, in OurRecord order (a store reading a million rows need not build a million objects). */
  pushFields(
    source: RecordSource,
    recordId: string,
    merchantId: string,
    paymentId: string | null,
    channelTxnId: string | null,
    amountMinor: bigint,
    currency: string,
    status: string,
    costMinor: bigint,
    businessDate: string | null,
  ): void {
    const i = this.length++;
    this.id.push(recordId);
    this.txn.push(channelTxnId);
    this.paymentId.push(paymentId);
    this.amount.set(i, amountMinor);
    this.cost.set(i, costMinor);
    this.sourceAt.set(i, RECORD_SOURCES.indexOf(source));
    this.merchantAt.set(i, this.merchantOf.of(merchantId));
    this.currencyAt.set(i, this.currencyOf.of(currency));
    this.statusAt.set(i, this.statusOf.of(status));
    this.dateAt.set(i, businessDate === null ? -1 : this.dateOf.of(businessDate));
  }

  source(i: number): RecordSource {
    return RECORD_SOURCES[this.sourceAt.get(i)] as RecordSource;
  }
  recordId(i: number): string {
    return this.id[i] as string;
  }
  channelTxnId(i: number): string | null {
    return this.txn[i] ?? null;
  }
  amountMinor(i: number): bigint {
    return this.amount.get(i);
  }
  currency(i: number): string {
    return this.strings.at(this.currencyAt.get(i));
  }
  status(i: number): string {
    return this.strings.at(this.statusAt.get(i));
  }
  costMinor(i: number): bigint {
    return this.cost.get(i);
  }
  businessDate(i: number): string | null {
    return this.strings.atOrNull(this.dateAt.get(i));
  }
  record(i: number): OurRecord {
    return {
      source: this.source(i),
      recordId: this.recordId(i),
      merchantId: this.strings.at(this.merchantAt.get(i)),
      paymentId: this.paymentId[i] ?? null,
      channelTxnId: this.channelTxnId(i),
      amountMinor: this.amountMinor(i),
      currency: this.currency(i),
      status: this.status(i),
      costMinor: this.costMinor(i),
      businessDate: this.businessDate(i),
    };
  }
}

/** True for a refund row that is our void of the payment it names (the online core's void references). */
export function isVoidRow(lines: LineColumns, i: number): boolean {
  if (lines.kind(i) !== 'refund') return false;
  const order = lines.merchantOrderNo(i);
  const refund = lines.merchantRefundNo(i);
  return order !== null && refund !== null && (refund === `void.${order}` || refund === `capvoid.${order}`);
}

/** Void rows folded into the payment row they void: payment line index → void line index. */
export function foldVoids(lines: LineColumns): Map<number, number> {
  const voidAt: number[] = [];
  for (let i = 0; i < lines.length; i++) if (lines.kind(i) === 'refund' && isVoidRow(lines, i) && lines.status(i) === 'succeeded') voidAt.push(i);
  const folded = new Map<number, number>();
  if (voidAt.length === 0) return folded;
  const wanted = new Set(voidAt.map((i) => lines.merchantOrderNo(i) as string));
  const paymentAt = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    if (lines.kind(i) !== 'payment') continue;
    const order = lines.merchantOrderNo(i);
    if (order !== null && wanted.has(order) && !paymentAt.has(order)) paymentAt.set(order, i);
  }
  for (const i of voidAt) {
    const p = paymentAt.get(lines.merchantOrderNo(i) as string);
    if (p !== undefined && !folded.has(p) && lines.amountMinor(p) === lines.amountMinor(i)) folded.set(p, i);
  }
  return folded;
}

/** Fee texts repeat (a few rates, a few amounts): each distinct text is parsed once per match. */
export function feeParser(): (text: string | null) => FeeValue | null {
  const seen = new Map<string, FeeValue | null>();
  return (text) => {
    if (text === null) return null;
    let fee = seen.get(text);
    if (fee === undefined) {
      const parsed = parseFee(text);
      // Bounded: a fee in proportion to each amount may take as many texts as there are amounts.
      if (seen.size >= FEE_TEXTS_KEPT) seen.clear();
      seen.set(text, (fee = parsed === null ? null : feeValue(parsed)));
    }
    return fee;
  };
}

/** Distinct fee texts a match keeps parsed at once. */
const FEE_TEXTS_KEPT = 4_096;

/**
 * Matches one channel's file for one date. Every line, record and pool item ends in exactly one
 * outcome; outcomes are built when read (`at`), so a run can store a million in chunks.
 */
export function matchStatementColumns(input: MatchInput): MatchOutcomes {
  return matchColumns({ ...input, lines: lineArrayColumns(input.lines), records: recordArrayColumns(input.records) });
}

/** MatchInput with the lines and records as columns (a run's LineTable and RecordTable). */
export interface MatchColumnsInput {
  readonly date: string;
  readonly suspenseDays: number;
  readonly lines: LineColumns;
  readonly records: RecordColumns;
  readonly pool: readonly SuspenseItem[];
  /** false: pair by txn id with a map over our side, as matchItems does (tests compare the two). */
  readonly indexTxns?: boolean;
}

/** matchStatementColumns over columns: the same rules, the same outcomes in the same order. */
export function matchColumns(input: MatchColumnsInput): MatchOutcomes {
  const { date, suspenseDays, lines, records, pool } = input;
  const poolLines = pool.filter((p): p is Extract<SuspenseItem, { side: 'channel' }> => p.side === 'channel');
  const poolLedger = pool.filter((p): p is Extract<SuspenseItem, { side: 'ledger' }> => p.side === 'ledger');

  // The channel's side: pool lines first, then today's lines less duplicates and folded void rows.
  const voids = foldVoids(lines);
  const voidRows = [...voids.values()].sort((a, b) => a - b);
  const isVoidRowAt = new Set(voidRows);
  const duplicates: { index: number; occurrence: number }[] = [];
  const fileAt = new Int32Array(lines.length);
  let fileCount = 0;
  // The channel side's txn ids (pool lines first): finds the duplicates, and pairs by txn id in the core.
  const seen: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
  {
    const repeats = new Map<string, number>();
    poolLines.forEach((p, c) => {
      if (p.line.channelTxnId !== '' && !seen[KIND_INDEX[p.line.kind]].has(p.line.channelTxnId)) seen[KIND_INDEX[p.line.kind]].set(p.line.channelTxnId, c);
    });
    for (let i = 0; i < lines.length; i++) {
      if (isVoidRowAt.size > 0 && isVoidRowAt.has(i)) continue;
      const txn = lines.channelTxnId(i);
      if (txn !== '') {
        const kind = lines.kind(i);
        const kindSeen = seen[KIND_INDEX[kind]];
        if (kindSeen.has(txn)) {
          const key = `${kind}:${txn}`;
          const n = (repeats.get(key) ?? 1) + 1;
          repeats.set(key, n);
          duplicates.push({ index: i, occurrence: n });
          continue;
        }
        kindSeen.set(txn, poolLines.length + fileCount);
      }
      fileAt[fileCount++] = i;
    }
  }
  const poolLineCount = poolLines.length;
  const poolLineOf = (c: number): StatementLine => (poolLines[c] as (typeof poolLines)[number]).line;
  const at = (c: number): number => fileAt[c - poolLineCount] as number;
  const lineOf = (c: number): StatementLine => (c < poolLineCount ? poolLineOf(c) : lines.line(at(c)));
  const fee = feeParser();
  const channel: SideView = {
    length: poolLineCount + fileCount,
    kind: (c) => (c < poolLineCount ? poolLineOf(c).kind : lines.kind(at(c))),
    txnId: (c) => (c < poolLineCount ? poolLineOf(c).channelTxnId : lines.channelTxnId(at(c))) || null,
    orderKey: (c) => {
      if (c < poolLineCount) return lineOrderKey(poolLineOf(c));
      const i = at(c);
      return (lines.kind(i) === 'payment' ? lines.merchantOrderNo(i) : lines.merchantRefundNo(i)) || null;
    },
    amountMinor: (c) => (c < poolLineCount ? poolLineOf(c).amountMinor : lines.amountMinor(at(c))),
    currency: (c) => (c < poolLineCount ? poolLineOf(c).currency : lines.currency(at(c))),
    moved: (c) => (c < poolLineCount ? poolLineOf(c).status === 'succeeded' : lines.status(at(c)) === 'succeeded' && !voids.has(at(c))),
    fee: (c) => fee(c < poolLineCount ? poolLineOf(c).fee : lines.fee(at(c))),
    untilDate: (c) => (c < poolLineCount ? (poolLines[c] as (typeof poolLines)[number]).untilDate : null),
  };

  // Our side: pool records first (with the fresh values when the run reloaded them), then the rest.
  const poolById = new Map<string, number[]>();
  poolLedger.forEach((p, k) => {
    const ids = poolById.get(p.record.recordId);
    if (ids) ids.push(k);
    else poolById.set(p.record.recordId, [k]);
  });
  const poolRecords: OurRecord[] = poolLedger.map((p) => p.record);
  const recordAt = new Int32Array(records.length);
  let recordCount = 0;
  for (let i = 0; i < records.length; i++) {
    const inPool = poolById.size === 0 ? undefined : poolById.get(records.recordId(i))?.find((k) => (poolLedger[k] as (typeof poolLedger)[number]).record.source === records.source(i));
    if (inPool === undefined) recordAt[recordCount++] = i;
    else poolRecords[inPool] = records.record(i);
  }
  const poolRecordCount = poolRecords.length;
  const poolRecordOf = (l: number): OurRecord => poolRecords[l] as OurRecord;
  const rat = (l: number): number => recordAt[l - poolRecordCount] as number;
  const recordOf = (l: number): OurRecord => (l < poolRecordCount ? poolRecordOf(l) : records.record(rat(l)));
  const ledger: SideView = {
    length: poolRecordCount + recordCount,
    kind: (l) => recordKind(l < poolRecordCount ? poolRecordOf(l).source : records.source(rat(l))),
    txnId: (l) => (l < poolRecordCount ? poolRecordOf(l).channelTxnId : records.channelTxnId(rat(l))) || null,
    orderKey: (l) => (l < poolRecordCount ? poolRecordOf(l).recordId : records.recordId(rat(l))),
    amountMinor: (l) => (l < poolRecordCount ? poolRecordOf(l).amountMinor : records.amountMinor(rat(l))),
    currency: (l) => (l < poolRecordCount ? poolRecordOf(l).currency : records.currency(rat(l))),
    moved: (l) => (l < poolRecordCount ? recordMoved(poolRecordOf(l)) : (MOVED_STATUSES[records.source(rat(l))].has(records.status(rat(l))))),
    fee: (l) => (l < poolRecordCount ? feeValueOfMinor(poolRecordOf(l).costMinor, poolRecordOf(l).currency) : feeValueOfMinor(records.costMinor(rat(l)), records.currency(rat(l)))),
    untilDate: (l) => (l < poolRecordCount ? (poolLedger[l] as (typeof poolLedger)[number]).untilDate : null),
  };

  const core = matchSides({ date, suspenseDays, channel, ledger, ...(input.indexTxns === false ? {} : { channelTxns: seen }) });

  const fromCore = (i: number): Outcome => {
    const c = core.channel[i] as number;
    const l = core.ledger[i] as number;
    const o = core.get(i);
    const line = c < 0 ? null : lineOf(c);
    const record = l < 0 ? null : recordOf(l);
    const poolLine = c >= 0 && c < poolLineCount ? (poolLines[c] as (typeof poolLines)[number]) : undefined;
    const kind = line ? line.kind : recordKind((record as OurRecord).source);
    return {
      outcome: o.outcome,
      type: o.type,
      differences: o.differences,
      note: o.note,
      untilDate: o.untilDate,
      kind,
      line,
      lineAt: c < 0 ? null : poolLine ? { fileId: poolLine.fileId, seq: poolLine.lineSeq } : { fileId: null, seq: at(c) + 1 },
      record,
      channelSuspenseId: poolLine?.suspenseId ?? null,
      ledgerSuspenseId: l >= 0 && l < poolRecordCount ? (poolLedger[l] as (typeof poolLedger)[number]).suspenseId : null,
      identity: record ? `${record.source}:${record.recordId}` : `line:${kind}:${line?.channelTxnId ?? ''}`,
    };
  };
  const extra = (index: number, outcome: 'void' | 'duplicate', occurrence: number): Outcome => extraOutcome(lines.line(index), index, outcome === 'duplicate' ? occurrence : null);

  let matched = voidRows.length;
  let suspense = 0;
  let discrepancies = duplicates.length;
  const byType: Partial<Record<DiscrepancyType, number>> = duplicates.length > 0 ? { duplicate: duplicates.length } : {};
  for (let i = 0; i < core.length; i++) {
    const kind = core.outcome[i] as number;
    if (kind === 0) matched++;
    else if (kind === 1) suspense++;
    else {
      discrepancies++;
      const t = DISCREPANCY_TYPES[core.type[i] as number] as DiscrepancyType;
      byType[t] = (byType[t] ?? 0) + 1;
    }
  }
  const coreCount = core.length;
  return {
    length: coreCount + voidRows.length + duplicates.length,
    counts: { matched, suspense, discrepancies, byType },
    matchedAt: (i) => {
      if (i >= coreCount || core.outcome[i] !== 0) return undefined;
      const c = core.channel[i] as number;
      const l = core.ledger[i] as number;
      const note = core.note[i] as number;
      const poolLine = c >= 0 && c < poolLineCount ? (poolLines[c] as (typeof poolLines)[number]) : undefined;
      const poolRecord = l >= 0 && l < poolRecordCount;
      return {
        note: note < 0 ? null : (NOTES[note] as OutcomeNote),
        kind: c >= 0 ? channel.kind(c) : ledger.kind(l),
        lineAt: c < 0 ? null : poolLine ? { fileId: poolLine.fileId, seq: poolLine.lineSeq } : { fileId: null, seq: at(c) + 1 },
        recordSource: l < 0 ? null : poolRecord ? poolRecordOf(l).source : records.source(rat(l)),
        recordId: l < 0 ? null : poolRecord ? poolRecordOf(l).recordId : records.recordId(rat(l)),
        channelSuspenseId: poolLine?.suspenseId ?? null,
        ledgerSuspenseId: poolRecord ? (poolLedger[l] as (typeof poolLedger)[number]).suspenseId : null,
      };
    },
    pushPair: (i, into) => {
      if (i >= coreCount || core.outcome[i] !== 0 || core.note[i] !== -1) return false;
      const c = core.channel[i] as number;
      const l = core.ledger[i] as number;
      if (c < poolLineCount || l < poolRecordCount) return false;
      const line = at(c);
      const r = rat(l);
      into.kind.push(lines.kind(line));
      into.lineSeq.push(line + 1);
      into.recordSource.push(records.source(r));
      into.recordId.push(records.recordId(r));
      return true;
    },
    at: (i) => {
      if (i < coreCount) return fromCore(i);
      if (i < coreCount + voidRows.length) return extra(voidRows[i - coreCount] as number, 'void', 0);
      const d = duplicates[i - coreCount - voidRows.length];
      if (d === undefined) throw new RangeError(`match outcome ${i} of ${coreCount + voidRows.length + duplicates.length}`);
      return extra(d.index, 'duplicate', d.occurrence);
    },
  };
}

/**
 * A line of the file outside the core match: a void row folded into the payment it voids (matched, note
 * void_row), or with `duplicate` its occurrence, a row listing a transaction id again (a discrepancy).
 */
export function extraOutcome(line: StatementLine, index: number, duplicate: number | null): Outcome {
  const dup = duplicate !== null;
  return {
    outcome: dup ? 'discrepancy' : 'matched',
    type: dup ? 'duplicate' : null,
    differences: dup ? ['duplicate'] : [],
    note: dup ? null : 'void_row',
    untilDate: null,
    kind: line.kind,
    line,
    lineAt: { fileId: null, seq: index + 1 },
    record: null,
    channelSuspenseId: null,
    ledgerSuspenseId: null,
    // Two void rows may share a channel id (each folds into its own payment): the void reference tells them apart.
    identity: dup ? `dup:${line.kind}:${line.channelTxnId}:${duplicate}` : `void:${line.kind}:${line.channelTxnId}:${line.merchantRefundNo ?? ''}`,
  };
}

/** Matches one channel's file for one date; every outcome as an object (tests, small inputs). */
export function matchStatement(input: MatchInput): Outcome[] {
  const m = matchStatementColumns(input);
  return Array.from({ length: m.length }, (_v, i) => m.at(i));
}

/** Counts of a run's outcomes: matched, suspense, and discrepancies by type. */
export interface OutcomeCounts {
  readonly matched: number;
  readonly suspense: number;
  readonly discrepancies: number;
  readonly byType: Readonly<Partial<Record<DiscrepancyType, number>>>;
}
