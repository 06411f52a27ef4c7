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
import type { LineKind, StatementLine } from './line.js';
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
function feeValueOfMinor(amountMinor: bigint, currency: string): bigint {
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
const BIT = {
  currency: bit('currency_mismatch'),
  amount: bit('amount_mismatch'),
  status: bit('status_mismatch'),
  fee: bit('fee_mismatch'),
  channelOnly: bit('channel_only'),
  ledgerOnly: bit('ledger_only'),
} as const;

/** Differences as a bit set over DISCREPANCY_TYPES, in precedence order. */
function differencesOf(mask: number): DiscrepancyType[] {
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

/** Pairs items by channel txn id, then by order key: one hash map per kind and key, built over our side. */
function pairSides(channel: SideView, ledger: SideView): { ofChannel: Int32Array; ofLedger: Int32Array } {
  const ofChannel = new Int32Array(channel.length).fill(-1);
  const ofLedger = new Int32Array(ledger.length).fill(-1);
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
  join((v, i) => v.txnId(i));
  join((v, i) => v.orderKey(i));
  return { ofChannel, ofLedger };
}

/** The differences of a pair as a bit set; none when neither side moved money. */
function compareSides(channel: SideView, c: number, ledger: SideView, l: number): number {
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
export function matchSides(input: { readonly date: string; readonly suspenseDays: number; readonly channel: SideView; readonly ledger: SideView }): CoreOutcomes {
  const { date, suspenseDays, channel, ledger } = input;
  const { ofChannel, ofLedger } = pairSides(channel, ledger);
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
  readonly counts: OutcomeCounts;
}

/** True for a refund row that is our void of the payment it names (the online core's void references). */
function isVoidRow(line: StatementLine): boolean {
  const order = line.merchantOrderNo;
  const refund = line.merchantRefundNo;
  return line.kind === 'refund' && order !== null && refund !== null && (refund === `void.${order}` || refund === `capvoid.${order}`);
}

/** Void rows folded into the payment row they void: payment line index → void line index. */
function foldVoids(lines: readonly StatementLine[]): Map<number, number> {
  const voidAt: number[] = [];
  for (let i = 0; i < lines.length; i++) if (isVoidRow(lines[i] as StatementLine) && (lines[i] as StatementLine).status === 'succeeded') voidAt.push(i);
  const folded = new Map<number, number>();
  if (voidAt.length === 0) return folded;
  const wanted = new Set(voidAt.map((i) => (lines[i] as StatementLine).merchantOrderNo as string));
  const paymentAt = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as StatementLine;
    if (l.kind === 'payment' && l.merchantOrderNo !== null && wanted.has(l.merchantOrderNo) && !paymentAt.has(l.merchantOrderNo)) paymentAt.set(l.merchantOrderNo, i);
  }
  for (const i of voidAt) {
    const l = lines[i] as StatementLine;
    const p = paymentAt.get(l.merchantOrderNo as string);
    if (p !== undefined && !folded.has(p) && (lines[p] as StatementLine).amountMinor === l.amountMinor) folded.set(p, i);
  }
  return folded;
}

/** Fee texts repeat (a few rates, a few amounts): each distinct text is parsed once per match. */
function feeParser(): (text: string | null) => FeeValue | null {
  const seen = new Map<string, FeeValue | null>();
  return (text) => {
    if (text === null) return null;
    let fee = seen.get(text);
    if (fee === undefined) {
      const parsed = parseFee(text);
      seen.set(text, (fee = parsed === null ? null : feeValue(parsed)));
    }
    return fee;
  };
}

/**
 * Matches one channel's file for one date. Every line, record and pool item ends in exactly one
 * outcome; outcomes are built when read (`at`), so a run can store a million in chunks.
 */
export function matchStatementColumns(input: MatchInput): MatchOutcomes {
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
  {
    const seen: [Set<string>, Set<string>] = [new Set(), new Set()];
    const repeats = new Map<string, number>();
    for (const p of poolLines) if (p.line.channelTxnId !== '') seen[KIND_INDEX[p.line.kind]].add(p.line.channelTxnId);
    for (let i = 0; i < lines.length; i++) {
      if (isVoidRowAt.size > 0 && isVoidRowAt.has(i)) continue;
      const line = lines[i] as StatementLine;
      const txn = line.channelTxnId;
      if (txn !== '') {
        const kindSeen = seen[KIND_INDEX[line.kind]];
        if (kindSeen.has(txn)) {
          const key = `${line.kind}:${txn}`;
          const n = (repeats.get(key) ?? 1) + 1;
          repeats.set(key, n);
          duplicates.push({ index: i, occurrence: n });
          continue;
        }
        kindSeen.add(txn);
      }
      fileAt[fileCount++] = i;
    }
  }
  const poolLineCount = poolLines.length;
  const lineOf = (c: number): StatementLine => (c < poolLineCount ? (poolLines[c] as (typeof poolLines)[number]).line : (lines[fileAt[c - poolLineCount] as number] as StatementLine));
  const fee = feeParser();
  const channel: SideView = {
    length: poolLineCount + fileCount,
    kind: (c) => lineOf(c).kind,
    txnId: (c) => lineOf(c).channelTxnId || null,
    orderKey: (c) => lineOrderKey(lineOf(c)),
    amountMinor: (c) => lineOf(c).amountMinor,
    currency: (c) => lineOf(c).currency,
    moved: (c) => lineOf(c).status === 'succeeded' && (c < poolLineCount || !voids.has(fileAt[c - poolLineCount] as number)),
    fee: (c) => fee(lineOf(c).fee),
    untilDate: (c) => (c < poolLineCount ? (poolLines[c] as (typeof poolLines)[number]).untilDate : null),
  };

  // Our side: pool records first (with the fresh values when the run reloaded them), then the rest.
  const poolById = new Map<string, number[]>();
  poolLedger.forEach((p, k) => {
    const at = poolById.get(p.record.recordId);
    if (at) at.push(k);
    else poolById.set(p.record.recordId, [k]);
  });
  const poolRecords: OurRecord[] = poolLedger.map((p) => p.record);
  const recordAt = new Int32Array(records.length);
  let recordCount = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as OurRecord;
    const inPool = poolById.size === 0 ? undefined : poolById.get(r.recordId)?.find((k) => (poolLedger[k] as (typeof poolLedger)[number]).record.source === r.source);
    if (inPool === undefined) recordAt[recordCount++] = i;
    else poolRecords[inPool] = r;
  }
  const poolRecordCount = poolRecords.length;
  const recordOf = (l: number): OurRecord => (l < poolRecordCount ? (poolRecords[l] as OurRecord) : (records[recordAt[l - poolRecordCount] as number] as OurRecord));
  const ledger: SideView = {
    length: poolRecordCount + recordCount,
    kind: (l) => recordKind(recordOf(l).source),
    txnId: (l) => recordOf(l).channelTxnId || null,
    orderKey: (l) => recordOf(l).recordId,
    amountMinor: (l) => recordOf(l).amountMinor,
    currency: (l) => recordOf(l).currency,
    moved: (l) => recordMoved(recordOf(l)),
    fee: (l) => feeValueOfMinor(recordOf(l).costMinor, recordOf(l).currency),
    untilDate: (l) => (l < poolRecordCount ? (poolLedger[l] as (typeof poolLedger)[number]).untilDate : null),
  };

  const core = matchSides({ date, suspenseDays, channel, ledger });

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
      lineAt: c < 0 ? null : poolLine ? { fileId: poolLine.fileId, seq: poolLine.lineSeq } : { fileId: null, seq: (fileAt[c - poolLineCount] as number) + 1 },
      record,
      channelSuspenseId: poolLine?.suspenseId ?? null,
      ledgerSuspenseId: l >= 0 && l < poolRecordCount ? (poolLedger[l] as (typeof poolLedger)[number]).suspenseId : null,
      identity: record ? `${record.source}:${record.recordId}` : `line:${kind}:${line?.channelTxnId ?? ''}`,
    };
  };
  const extra = (index: number, outcome: 'void' | 'duplicate', occurrence: number): Outcome => {
    const line = lines[index] as StatementLine;
    const dup = outcome === 'duplicate';
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
      identity: dup ? `dup:${line.kind}:${line.channelTxnId}:${occurrence}` : `void:${line.kind}:${line.channelTxnId}`,
    };
  };

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
    at: (i) => {
      if (i < coreCount) return fromCore(i);
      if (i < coreCount + voidRows.length) return extra(voidRows[i - coreCount] as number, 'void', 0);
      const d = duplicates[i - coreCount - voidRows.length];
      if (d === undefined) throw new RangeError(`match outcome ${i} of ${coreCount + voidRows.length + duplicates.length}`);
      return extra(d.index, 'duplicate', d.occurrence);
    },
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
