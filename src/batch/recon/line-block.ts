// A block of a file's lines in their packed form: how an import hands lines to the store (one row of
// recon_line_blocks per block), how a parse on a worker thread hands them to the importing thread, and
// what a run reads back. One JSON object of columns per block of up to LINE_BLOCK_ROWS consecutive lines:
//
//   {"v":2,"n":3,"line":[2,3,4],"kind":"ppr","status":"ssf","amount":[1000,"123456789012345678901",250],
//    "txn":["42…",…],"orig":[null,null,"42…"],"order":["pay_1",…],"refund":[null,null,"re_1"],
//    "dict":["CNY","2026-11-26T10:15:02+08:00","0.00600",…],"cur":[0,0,0],"at":[1,…],"fee":[2,…,-1]}
//
// kind: p payment, r refund; status: s succeeded, f failed, c closed, p processing, r revoked. An amount
// is a JSON number when it is a safe integer and a decimal string otherwise (never a float beyond 2^53).
// Texts that repeat from line to line (currency, time, fee) are kept once in `dict` and referenced by
// index (-1: no fee). Blocks packed by migration 2 from the old one-row-per-line table are a JSON array
// of one array per line instead (see migrations.ts); decodeLineBlock reads both.

import type { LineKind, LineStatus, StatementLine } from './line.js';

/** Lines per block: a block is written as one row and read whole when one of its lines is asked for. */
export const LINE_BLOCK_ROWS = 2_000;

const KIND_CODES: Readonly<Record<LineKind, string>> = { payment: 'p', refund: 'r' };
const STATUS_CODES: Readonly<Record<LineStatus, string>> = { succeeded: 's', failed: 'f', closed: 'c', processing: 'p', revoked: 'r' };
const KIND_OF: Readonly<Record<string, LineKind>> = { p: 'payment', r: 'refund' };
const STATUS_OF: Readonly<Record<string, LineStatus>> = { s: 'succeeded', f: 'failed', c: 'closed', p: 'processing', r: 'revoked' };

/** A block as stored: its line count and its JSON text; from a worker thread, its columns too. */
export interface EncodedLineBlock {
  readonly rows: number;
  readonly encoded: string;
  /** The same lines as packed columns, so the importing thread need not parse the JSON (see packColumns). */
  readonly columns?: PackedColumns | undefined;
}

/**
 * A block's lines as a few typed arrays and one string per key column (the keys joined by LF, which no
 * cell of a line can hold): what a worker thread sends, cheap to receive (the typed arrays are
 * transferred, a key column is split once).
 */
export interface PackedColumns {
  readonly rows: number;
  readonly line: Int32Array;
  /** Kind (bit 4: refund) and status (low bits: index in LINE_STATUS_ORDER). */
  readonly kindStatus: Uint8Array;
  readonly amount: BigInt64Array;
  /** Amounts beyond 64 bits: [index, decimal]. */
  readonly wideAmounts: readonly (readonly [number, string])[];
  readonly txn: string;
  readonly orig: string;
  readonly order: string;
  readonly refund: string;
  /** Per line: bit 0 orig is null, bit 1 order is null, bit 2 refund is null. */
  readonly nulls: Uint8Array;
  readonly dict: readonly string[];
  readonly cur: Int32Array;
  readonly at: Int32Array;
  /** -1: no fee. */
  readonly fee: Int32Array;
}

/** The statuses in the order of PackedColumns.kindStatus's low bits. */
export const LINE_STATUS_ORDER: readonly LineStatus[] = ['succeeded', 'failed', 'closed', 'processing', 'revoked'];

/** The buffers of packed columns, to transfer with postMessage. */
export function transferablesOf(c: PackedColumns): ArrayBuffer[] {
  return [c.line, c.kindStatus, c.amount, c.nulls, c.cur, c.at, c.fee].map((a) => a.buffer as ArrayBuffer);
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** A block's columns, as JSON.parse gives them back. */
export interface LineBlock {
  readonly v: 2;
  readonly n: number;
  readonly line: readonly number[];
  readonly kind: string;
  readonly status: string;
  readonly amount: readonly (number | string)[];
  readonly txn: readonly string[];
  readonly orig: readonly (string | null)[];
  readonly order: readonly (string | null)[];
  readonly refund: readonly (string | null)[];
  readonly dict: readonly string[];
  readonly cur: readonly number[];
  readonly at: readonly number[];
  readonly fee: readonly number[];
}

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** Collects lines into blocks: `add` each line in file order, `take` the packed block when full (or at the end). */
export class LineBlockBuilder {
  private line: number[] = [];
  private kind = '';
  private status = '';
  private amount: (number | string)[] = [];
  private txn: string[] = [];
  private orig: (string | null)[] = [];
  private order: (string | null)[] = [];
  private refund: (string | null)[] = [];
  private dict: string[] = [];
  private dictIndex = new Map<string, number>();
  private cur: number[] = [];
  private at: number[] = [];
  private fee: number[] = [];

  get rows(): number {
    return this.line.length;
  }

  // Consecutive lines mostly share their currency, fee and even their second: each column remembers its last text.
  private lastCur: string | undefined;
  private lastCurAt = -1;
  private lastAt: string | undefined;
  private lastAtAt = -1;
  private lastFee: string | undefined;
  private lastFeeAt = -1;

  private ref(s: string): number {
    let i = this.dictIndex.get(s);
    if (i === undefined) {
      i = this.dict.length;
      this.dict.push(s);
      this.dictIndex.set(s, i);
    }
    return i;
  }

  add(l: StatementLine): void {
    this.line.push(l.line);
    this.kind += KIND_CODES[l.kind];
    this.status += STATUS_CODES[l.status];
    const a = l.amountMinor;
    this.amount.push(a <= SAFE_MAX && a >= -SAFE_MAX ? Number(a) : a.toString());
    this.txn.push(l.channelTxnId);
    this.orig.push(l.originalChannelTxnId);
    this.order.push(l.merchantOrderNo);
    this.refund.push(l.merchantRefundNo);
    if (l.currency !== this.lastCur) {
      this.lastCur = l.currency;
      this.lastCurAt = this.ref(l.currency);
    }
    this.cur.push(this.lastCurAt);
    if (l.occurredAt !== this.lastAt) {
      this.lastAt = l.occurredAt;
      this.lastAtAt = this.ref(l.occurredAt);
    }
    this.at.push(this.lastAtAt);
    if (l.fee === null) this.fee.push(-1);
    else {
      if (l.fee !== this.lastFee) {
        this.lastFee = l.fee;
        this.lastFeeAt = this.ref(l.fee);
      }
      this.fee.push(this.lastFeeAt);
    }
  }

  /** The block so far as packed columns (call before take); undefined when a key holds a line feed. */
  packColumns(): PackedColumns | undefined {
    const n = this.line.length;
    const joined = (values: readonly (string | null)[]): string | undefined => {
      const text = values.map((v) => v ?? '').join('\n');
      return text.split('\n').length === Math.max(n, 1) ? text : undefined;
    };
    const txn = joined(this.txn);
    const orig = joined(this.orig);
    const order = joined(this.order);
    const refund = joined(this.refund);
    if (txn === undefined || orig === undefined || order === undefined || refund === undefined) return undefined;
    const kindStatus = new Uint8Array(n);
    const nulls = new Uint8Array(n);
    const amount = new BigInt64Array(n);
    const wideAmounts: [number, string][] = [];
    for (let i = 0; i < n; i++) {
      kindStatus[i] = (this.kind.charCodeAt(i) === 0x72 ? 16 : 0) | LINE_STATUS_ORDER.indexOf(STATUS_OF[this.status.charAt(i)] as LineStatus);
      nulls[i] = (this.orig[i] === null ? 1 : 0) | (this.order[i] === null ? 2 : 0) | (this.refund[i] === null ? 4 : 0);
      const a = this.amount[i] as number | string;
      const v = typeof a === 'number' ? BigInt(a) : BigInt(a);
      if (v >= I64_MIN && v <= I64_MAX) amount[i] = v;
      else wideAmounts.push([i, v.toString()]);
    }
    return {
      rows: n,
      line: Int32Array.from(this.line),
      kindStatus,
      amount,
      wideAmounts,
      txn,
      orig,
      order,
      refund,
      nulls,
      dict: this.dict.slice(),
      cur: Int32Array.from(this.cur),
      at: Int32Array.from(this.at),
      fee: Int32Array.from(this.fee),
    };
  }

  /** The block so far as stored text, and a fresh start. */
  take(): EncodedLineBlock {
    const block: LineBlock = {
      v: 2,
      n: this.line.length,
      line: this.line,
      kind: this.kind,
      status: this.status,
      amount: this.amount,
      txn: this.txn,
      orig: this.orig,
      order: this.order,
      refund: this.refund,
      dict: this.dict,
      cur: this.cur,
      at: this.at,
      fee: this.fee,
    };
    const out = { rows: block.n, encoded: JSON.stringify(block) };
    this.line = [];
    this.kind = '';
    this.status = '';
    this.amount = [];
    this.txn = [];
    this.orig = [];
    this.order = [];
    this.refund = [];
    this.dict = [];
    this.dictIndex = new Map();
    this.lastCur = this.lastAt = this.lastFee = undefined;
    this.cur = [];
    this.at = [];
    this.fee = [];
    return out;
  }
}

/** A stored block's text as columns; a block packed by migration 2 (an array per line) is converted. */
export function parseLineBlock(encoded: string): LineBlock {
  const parsed = JSON.parse(encoded) as LineBlock | unknown[][];
  if (!Array.isArray(parsed)) return parsed;
  const b = new LineBlockBuilder();
  for (const r of parsed) {
    b.add({
      line: r[0] as number,
      kind: r[1] as LineKind,
      channelTxnId: r[2] as string,
      originalChannelTxnId: r[3] as string | null,
      merchantOrderNo: r[4] as string | null,
      merchantRefundNo: r[5] as string | null,
      amountMinor: BigInt(r[6] as string),
      currency: r[7] as string,
      status: r[8] as LineStatus,
      occurredAt: r[9] as string,
      fee: r[10] as string | null,
    });
  }
  return JSON.parse(b.take().encoded) as LineBlock;
}

export function blockAmount(b: LineBlock, i: number): bigint {
  const a = b.amount[i] as number | string;
  return typeof a === 'number' ? BigInt(a) : BigInt(a);
}

export function blockKind(b: LineBlock, i: number): LineKind {
  return KIND_OF[b.kind.charAt(i)] as LineKind;
}

export function blockStatus(b: LineBlock, i: number): LineStatus {
  return STATUS_OF[b.status.charAt(i)] as LineStatus;
}

/** Line `i` of a block as an object. */
export function blockLine(b: LineBlock, i: number): StatementLine {
  const fee = b.fee[i] as number;
  return {
    line: b.line[i] as number,
    kind: blockKind(b, i),
    channelTxnId: b.txn[i] as string,
    originalChannelTxnId: b.orig[i] ?? null,
    merchantOrderNo: b.order[i] ?? null,
    merchantRefundNo: b.refund[i] ?? null,
    amountMinor: blockAmount(b, i),
    currency: b.dict[b.cur[i] as number] as string,
    status: blockStatus(b, i),
    occurredAt: b.dict[b.at[i] as number] as string,
    fee: fee < 0 ? null : (b.dict[fee] as string),
  };
}

/** Lines of the block that occurred on the date (a file with none on its date is the wrong file). */
export function linesOnDate(b: { readonly dict: readonly string[]; readonly at: ArrayLike<number> }, date: string): number {
  const on = b.dict.map((s) => s.startsWith(date));
  let n = 0;
  for (let i = 0; i < b.at.length; i++) if (on[b.at[i] as number] === true) n++;
  return n;
}
