// A block of a file's lines in their packed form: how an import hands lines to the store (one row of
// recon_line_blocks per block), how a parse on a worker thread hands them to the importing thread, and
// what a run reads back. A block holds up to LINE_BLOCK_ROWS consecutive lines as columns (PackedColumns):
// a few typed arrays, one string per key column (the keys joined by LF), and the texts that repeat from line
// to line (currency, time, fee) once per block in `dict`, referenced by index (-1: no fee).
//
// Stored, a block is binary (recon migration 3, `encodeBlock`), little-endian:
//
//   "SLB" 3 | u32 n | i64 amount[n] | i32 line[n] | i32 cur[n] | i32 at[n] | i32 fee[n] | u8 kindStatus[n] |
//   u8 nulls[n] | txn | orig | order | refund (each: u32 byte length + UTF-8, the keys joined by LF) |
//   u32 dict count + dict (the same, joined by LF) | wide amounts (u32 length + JSON [[index, "decimal"]…])
//
// A worker thread builds it and moves its one buffer to the importing thread, which reads the columns as
// views of it and stores the same bytes: no JSON on either side. A block whose keys hold a line feed (no
// channel's id does) is stored as JSON text instead, as every block was before migration 3:
//
//   {"v":2,"n":3,"line":[2,3,4],"kind":"ppr","status":"ssf","amount":[1000,"123456789012345678901",250],
//    "txn":["42…",…],"orig":[null,null,"42…"],"order":["pay_1",…],"refund":[null,null,"re_1"],
//    "dict":["CNY","2026-11-26T10:15:02+08:00","0.00600",…],"cur":[0,0,0],"at":[1,…],"fee":[2,…,-1]}
//
// kind: p payment, r refund; status: s succeeded, f failed, c closed, p processing, r revoked. An amount
// is a JSON number when it is a safe integer and a decimal string otherwise (never a float beyond 2^53).
// Blocks packed by migration 2 from the old one-row-per-line table are a JSON array of one array per line
// (see migrations.ts). `readStoredBlock` reads all three forms.

import type { LineKind, LineStatus, StatementLine } from './line.js';

/** Lines per block: a block is written as one row and read whole when one of its lines is asked for. */
export const LINE_BLOCK_ROWS = 2_000;

const STATUS_CODES: Readonly<Record<LineStatus, string>> = { succeeded: 's', failed: 'f', closed: 'c', processing: 'p', revoked: 'r' };
const STATUS_OF: Readonly<Record<string, LineStatus>> = { s: 'succeeded', f: 'failed', c: 'closed', p: 'processing', r: 'revoked' };

/** A block as stored: binary (packed columns) or JSON text (see the top of this file). */
export type StoredBlock = string | Uint8Array;

/** A block as stored, with its line count; when binary, its columns too (views of the same bytes). */
export interface EncodedLineBlock {
  readonly rows: number;
  readonly encoded: StoredBlock;
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
const STATUS_INDEX: Readonly<Record<LineStatus, number>> = { succeeded: 0, failed: 1, closed: 2, processing: 3, revoked: 4 };

/** A line's kind and status as PackedColumns.kindStatus holds them: bit 4 set for a refund, the status's index below. */
export const packKindStatus = (kind: LineKind, status: LineStatus): number => (kind === 'refund' ? 16 : 0) | STATUS_INDEX[status];
/** Whether a packed kind and status byte is a refund's. */
export const packedIsRefund = (ks: number): boolean => (ks & 16) !== 0;
/** The status a packed kind and status byte holds. */
export const packedStatus = (ks: number): LineStatus => LINE_STATUS_ORDER[ks & 15] as LineStatus;

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
const LF = 0x0a;

/**
 * One key column of a block being built: the UTF-8 bytes of its keys joined by LF (the stored form),
 * written as each line is added. Kept as strings, each key was a slice of its parser's decoded text and
 * held that whole text (~64 KB for ~150 lines) until the block was taken, 2,000 lines later: long enough,
 * once V8 shrank the parsing thread's young generation late in a large file, for every text to reach the
 * old generation (~100 MiB over a 2M-row Alipay parse, a sampling heap profile) and grow the peak.
 */
class KeyColumn {
  private bytes = Buffer.allocUnsafeSlow(16 * 1024);
  private used = 0;
  count = 0;

  add(key: string): void {
    const n = key.length;
    if (this.used + 1 + 3 * n > this.bytes.length) {
      const more = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.used + 1 + 3 * n));
      this.bytes.copy(more, 0, 0, this.used);
      this.bytes = more;
    }
    const b = this.bytes;
    let at = this.used;
    if (this.count++ > 0) b[at++] = LF;
    // Ids are ASCII: byte by byte, without a call into the encoder per key; anything else from there on is encoded.
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) {
        at += b.write(key.slice(i), at, 'utf8');
        break;
      }
      b[at++] = c;
    }
    this.used = at;
  }

  /** The column's bytes: valid until the next add or reset. */
  get view(): Uint8Array {
    return this.bytes.subarray(0, this.used);
  }

  /** The keys, for a block stored as JSON (valid only while no key holds a line feed). */
  keys(): string[] {
    return this.count === 0 ? [] : this.bytes.toString('utf8', 0, this.used).split('\n');
  }

  reset(): void {
    this.used = 0;
    this.count = 0;
  }
}

/** Packed columns whose key columns are already their stored bytes (the keys' UTF-8 joined by LF). */
export type EncodableColumns = Omit<PackedColumns, 'txn' | 'orig' | 'order' | 'refund'> & {
  readonly txn: Uint8Array;
  readonly orig: Uint8Array;
  readonly order: Uint8Array;
  readonly refund: Uint8Array;
};

/**
 * Collects lines into blocks: `add` each line in file order, `take` the block when full (or at the end).
 * The columns are typed arrays from the start, so taking a block is one copy into its stored bytes.
 */
export class LineBlockBuilder {
  private n = 0;
  private capacity = LINE_BLOCK_ROWS;
  private line = new Int32Array(LINE_BLOCK_ROWS);
  private kindStatus = new Uint8Array(LINE_BLOCK_ROWS);
  private nulls = new Uint8Array(LINE_BLOCK_ROWS);
  private amount = new BigInt64Array(LINE_BLOCK_ROWS);
  private cur = new Int32Array(LINE_BLOCK_ROWS);
  private at = new Int32Array(LINE_BLOCK_ROWS);
  private fee = new Int32Array(LINE_BLOCK_ROWS);
  private wideAmounts: [number, string][] = [];
  // Keys with '' for null (the nulls column says which), as bytes; once a key holds a line feed the block
  // will be JSON, and from then on its keys are kept as strings (`keyStrings`).
  private readonly keyColumns = [new KeyColumn(), new KeyColumn(), new KeyColumn(), new KeyColumn()] as const;
  private keyStrings: [string[], string[], string[], string[]] | undefined;
  private dict: string[] = [];
  private dictIndex = new Map<string, number>();

  get rows(): number {
    return this.n;
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

  private grow(): void {
    const capacity = this.capacity * 2;
    const more = <T extends Int32Array | Uint8Array | BigInt64Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a as never);
      return b;
    };
    this.line = more(this.line, (k) => new Int32Array(k));
    this.kindStatus = more(this.kindStatus, (k) => new Uint8Array(k));
    this.nulls = more(this.nulls, (k) => new Uint8Array(k));
    this.amount = more(this.amount, (k) => new BigInt64Array(k));
    this.cur = more(this.cur, (k) => new Int32Array(k));
    this.at = more(this.at, (k) => new Int32Array(k));
    this.fee = more(this.fee, (k) => new Int32Array(k));
    this.capacity = capacity;
  }

  add(l: StatementLine): void {
    if (this.n === this.capacity) this.grow();
    const i = this.n++;
    this.line[i] = l.line;
    this.kindStatus[i] = packKindStatus(l.kind, l.status);
    const a = l.amountMinor;
    if (a >= I64_MIN && a <= I64_MAX) this.amount[i] = a;
    else {
      this.amount[i] = 0n;
      this.wideAmounts.push([i, a.toString()]);
    }
    const orig = l.originalChannelTxnId;
    const order = l.merchantOrderNo;
    const refund = l.merchantRefundNo;
    this.nulls[i] = (orig === null ? 1 : 0) | (order === null ? 2 : 0) | (refund === null ? 4 : 0);
    const txn = l.channelTxnId;
    if (this.keyStrings === undefined && (txn.includes('\n') || orig?.includes('\n') === true || order?.includes('\n') === true || refund?.includes('\n') === true)) {
      const [txnKeys, origKeys, orderKeys, refundKeys] = this.keyColumns;
      this.keyStrings = [txnKeys.keys(), origKeys.keys(), orderKeys.keys(), refundKeys.keys()];
    }
    if (this.keyStrings !== undefined) {
      const [txnKeys, origKeys, orderKeys, refundKeys] = this.keyStrings;
      txnKeys.push(txn);
      origKeys.push(orig ?? '');
      orderKeys.push(order ?? '');
      refundKeys.push(refund ?? '');
    } else {
      const [txnKeys, origKeys, orderKeys, refundKeys] = this.keyColumns;
      txnKeys.add(txn);
      origKeys.add(orig ?? '');
      orderKeys.add(order ?? '');
      refundKeys.add(refund ?? '');
    }
    if (l.currency !== this.lastCur) {
      this.lastCur = l.currency;
      this.lastCurAt = this.ref(l.currency);
    }
    this.cur[i] = this.lastCurAt;
    if (l.occurredAt !== this.lastAt) {
      this.lastAt = l.occurredAt;
      this.lastAtAt = this.ref(l.occurredAt);
    }
    this.at[i] = this.lastAtAt;
    if (l.fee === null) this.fee[i] = -1;
    else {
      if (l.fee !== this.lastFee) {
        this.lastFee = l.fee;
        this.lastFeeAt = this.ref(l.fee);
      }
      this.fee[i] = this.lastFeeAt;
    }
  }

  /**
   * The block so far as packed columns, the key columns as their stored bytes — views of this builder's
   * arrays, valid until the next add or take — or undefined when a key or a dict text holds a line feed
   * (such a block is stored as JSON).
   */
  packColumns(): EncodableColumns | undefined {
    if (this.keyStrings !== undefined || this.dict.some((t) => t.includes('\n'))) return undefined;
    const n = this.n;
    const [txn, orig, order, refund] = this.keyColumns;
    return {
      rows: n,
      line: this.line.subarray(0, n),
      kindStatus: this.kindStatus.subarray(0, n),
      amount: this.amount.subarray(0, n),
      wideAmounts: this.wideAmounts,
      txn: txn.view,
      orig: orig.view,
      order: order.view,
      refund: refund.view,
      nulls: this.nulls.subarray(0, n),
      dict: this.dict,
      cur: this.cur.subarray(0, n),
      at: this.at.subarray(0, n),
      fee: this.fee.subarray(0, n),
    };
  }

  /**
   * The block so far as stored (binary, or JSON when it cannot be packed), and a fresh start. `bufferFor`
   * gives the memory the binary form is written into (see encodeBlock).
   */
  take(bufferFor?: BlockBufferSource): EncodedLineBlock {
    const columns = this.packColumns();
    if (columns === undefined) return this.takeJson();
    const encoded = encodeBlock(columns, bufferFor);
    this.reset();
    return { rows: columns.rows, encoded };
  }

  /** The block so far as JSON text (the form of blocks that cannot be packed, and of every block before migration 3), and a fresh start. */
  takeJson(): EncodedLineBlock {
    const n = this.n;
    const wide = new Map(this.wideAmounts);
    const kinds: string[] = [];
    const statuses: string[] = [];
    const amounts: (number | string)[] = [];
    for (let i = 0; i < n; i++) {
      const ks = this.kindStatus[i] as number;
      kinds.push(packedIsRefund(ks) ? 'r' : 'p');
      statuses.push(STATUS_CODES[packedStatus(ks)]);
      const a = wide.get(i) ?? (this.amount[i] as bigint);
      amounts.push(typeof a === 'bigint' && a <= SAFE_MAX && a >= -SAFE_MAX ? Number(a) : a.toString());
    }
    const nullable = (keys: readonly string[], bit: number): (string | null)[] => keys.map((k, i) => (((this.nulls[i] as number) & bit) !== 0 ? null : k));
    const [txn, orig, order, refund] = this.keyStrings ?? this.keyColumns.map((c) => c.keys());
    const block: LineBlock = {
      v: 2,
      n,
      line: Array.from(this.line.subarray(0, n)),
      kind: kinds.join(''),
      status: statuses.join(''),
      amount: amounts,
      txn: txn as string[],
      orig: nullable(orig as string[], 1),
      order: nullable(order as string[], 2),
      refund: nullable(refund as string[], 4),
      dict: this.dict,
      cur: Array.from(this.cur.subarray(0, n)),
      at: Array.from(this.at.subarray(0, n)),
      fee: Array.from(this.fee.subarray(0, n)),
    };
    const out = { rows: n, encoded: JSON.stringify(block) };
    this.reset();
    return out;
  }

  private reset(): void {
    this.n = 0;
    this.wideAmounts = [];
    for (const c of this.keyColumns) c.reset();
    this.keyStrings = undefined;
    this.dict = [];
    this.dictIndex = new Map();
    this.lastCur = this.lastAt = this.lastFee = undefined;
  }
}

// ---- the binary form (recon migration 3) ----

/** "SLB" and version 3, as the first four bytes read as a little-endian u32. */
const BLOCK_MAGIC = 0x03424c53;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkEndianness(): void {
  // The typed arrays are written and read in the platform's byte order; every platform Node runs on is little-endian.
  if (!LITTLE_ENDIAN) throw new Error('packed line blocks need a little-endian platform');
}

/**
 * Where a binary block's bytes are written: an ArrayBuffer of at least `size` bytes, used from offset 0
 * (the block is the first `size` bytes). The parse worker hands back buffers the importing thread is done
 * with (parse-worker.ts); by default each block gets a new one.
 */
export type BlockBufferSource = (size: number) => ArrayBuffer;

const newBlockBuffer: BlockBufferSource = (size) => Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer;

/**
 * Buffers for binary blocks that come back once their reader is done with them (parse-worker.ts): a block
 * is written into one that fits, else into a new one with room to spare, as block sizes vary a little.
 */
export class BlockBufferPool {
  private readonly spare: ArrayBuffer[] = [];
  /** Buffers made rather than reused. */
  made = 0;

  /** `max`: buffers kept at most (more given back are let go). `headroom`: a new buffer's size over the block's. */
  constructor(
    private readonly max: number,
    private readonly headroom = 1.25,
  ) {}

  give(buffer: ArrayBuffer): void {
    if (this.spare.length < this.max) this.spare.push(buffer);
  }

  readonly bufferFor: BlockBufferSource = (size) => {
    const fits = this.spare.findIndex((b) => b.byteLength >= size);
    if (fits >= 0) return this.spare.splice(fits, 1)[0] as ArrayBuffer;
    // None fits: the new one takes the place of the largest of those too small, so they do not pile up.
    if (this.spare.length > 0) this.spare.splice(this.spare.indexOf(this.spare.reduce((a, b) => (b.byteLength > a.byteLength ? b : a))), 1);
    this.made++;
    return newBlockBuffer(Math.ceil(size * this.headroom));
  };
}

/**
 * Packed columns as the stored bytes: the start of a buffer of its own (offset 0), so a worker thread can
 * move it.
 */
export function encodeBlock(c: PackedColumns | EncodableColumns, bufferFor: BlockBufferSource = newBlockBuffer): Uint8Array {
  checkEndianness();
  const n = c.rows;
  const texts = [c.txn, c.orig, c.order, c.refund, c.dict.join('\n'), c.wideAmounts.length === 0 ? '' : JSON.stringify(c.wideAmounts)];
  const lengths = texts.map((t) => (typeof t === 'string' ? Buffer.byteLength(t, 'utf8') : t.byteLength));
  const fixed = 8 + 26 * n;
  const size = fixed + 4 + lengths.reduce((sum, l) => sum + 4 + l, 0);
  const buf = bufferFor(size);
  if (buf.byteLength < size) throw new Error(`encodeBlock: a buffer of ${buf.byteLength} bytes for a block of ${size}`);
  const out = Buffer.from(buf, 0, size);
  const view = new DataView(buf, 0, size);
  view.setUint32(0, BLOCK_MAGIC, true);
  view.setUint32(4, n, true);
  new BigInt64Array(buf, 8, n).set(c.amount);
  new Int32Array(buf, 8 + 8 * n, n).set(c.line);
  new Int32Array(buf, 8 + 12 * n, n).set(c.cur);
  new Int32Array(buf, 8 + 16 * n, n).set(c.at);
  new Int32Array(buf, 8 + 20 * n, n).set(c.fee);
  out.set(c.kindStatus, 8 + 24 * n);
  out.set(c.nulls, 8 + 25 * n);
  let pos = fixed;
  texts.forEach((t, k) => {
    if (k === 4) {
      view.setUint32(pos, c.dict.length, true);
      pos += 4;
    }
    const length = lengths[k] as number;
    view.setUint32(pos, length, true);
    if (typeof t === 'string') out.write(t, pos + 4, length, 'utf8');
    else out.set(t, pos + 4);
    pos += 4 + length;
  });
  return new Uint8Array(buf, 0, size);
}

/** Whether stored bytes are a binary block (and not, say, a JSON text stored as a blob). */
export function isBinaryBlock(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 8 && new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(0, true) === BLOCK_MAGIC;
}

/**
 * The columns of a binary block: views of its bytes (copied first when they do not start 8-aligned). The
 * key columns' text is decoded the first time it is read, not here: a block waits its turn behind up to
 * WORKER_PARSE.blocksInFlightMax others, and text decoded on arrival outlived the young generation's
 * collections and reached the old one as garbage: ~30 MiB of it over a 1M-row import (a sampling heap
 * profile of objects a mark-compact collected). A column read after its block's callback is over (its bytes
 * gone back to the parser) would be wrong: BlockSource's contract already rules that out.
 */
export function decodeBlock(stored: Uint8Array): PackedColumns {
  checkEndianness();
  if (!isBinaryBlock(stored)) throw new Error('a stored line block is neither JSON nor a packed block (SLB 3)');
  const bytes = stored.byteOffset % 8 === 0 ? stored : Uint8Array.prototype.slice.call(stored);
  return new DecodedBlock(bytes);
}

/** decodeBlock's columns: the numbers as views, each text column decoded once, when first read. */
class DecodedBlock implements PackedColumns {
  readonly rows: number;
  readonly amount: BigInt64Array;
  readonly line: Int32Array;
  readonly cur: Int32Array;
  readonly at: Int32Array;
  readonly fee: Int32Array;
  readonly kindStatus: Uint8Array;
  readonly nulls: Uint8Array;
  private readonly text: Buffer;
  /** Where each text column starts (after its length), and its length: txn, orig, order, refund, dict, wide. */
  private readonly starts: Int32Array;
  private readonly lengths: Int32Array;
  private readonly dictCount: number;
  private readonly decoded: (string | undefined)[] = [];
  private dictValue: readonly string[] | undefined;
  private wideValue: readonly (readonly [number, string])[] | undefined;

  constructor(bytes: Uint8Array) {
    const buf = bytes.buffer;
    const o = bytes.byteOffset;
    const view = new DataView(buf, o, bytes.byteLength);
    this.text = Buffer.from(buf, o, bytes.byteLength);
    const n = view.getUint32(4, true);
    this.rows = n;
    this.amount = new BigInt64Array(buf, o + 8, n);
    this.line = new Int32Array(buf, o + 8 + 8 * n, n);
    this.cur = new Int32Array(buf, o + 8 + 12 * n, n);
    this.at = new Int32Array(buf, o + 8 + 16 * n, n);
    this.fee = new Int32Array(buf, o + 8 + 20 * n, n);
    this.kindStatus = new Uint8Array(buf, o + 8 + 24 * n, n);
    this.nulls = new Uint8Array(buf, o + 8 + 25 * n, n);
    this.starts = new Int32Array(6);
    this.lengths = new Int32Array(6);
    let pos = 8 + 26 * n;
    let dictCount = 0;
    for (let k = 0; k < 6; k++) {
      if (k === 4) {
        dictCount = view.getUint32(pos, true);
        pos += 4;
      }
      const length = view.getUint32(pos, true);
      this.starts[k] = pos + 4;
      this.lengths[k] = length;
      pos += 4 + length;
    }
    this.dictCount = dictCount;
  }

  private column(k: number): string {
    let t = this.decoded[k];
    if (t === undefined) {
      const start = this.starts[k] as number;
      t = this.text.toString('utf8', start, start + (this.lengths[k] as number));
      this.decoded[k] = t;
    }
    return t;
  }
  get txn(): string {
    return this.column(0);
  }
  get orig(): string {
    return this.column(1);
  }
  get order(): string {
    return this.column(2);
  }
  get refund(): string {
    return this.column(3);
  }
  get dict(): readonly string[] {
    this.dictValue ??= this.dictCount === 0 ? [] : this.column(4).split('\n');
    return this.dictValue;
  }
  get wideAmounts(): readonly (readonly [number, string])[] {
    if (this.wideValue === undefined) {
      const wideText = this.column(5);
      this.wideValue = wideText === '' ? [] : (JSON.parse(wideText) as [number, string][]);
    }
    return this.wideValue;
  }
}

/** A stored block, read: its columns when binary, its JSON columns otherwise. */
export type ReadBlock = { readonly packed: PackedColumns } | { readonly json: LineBlock };

export function readStoredBlock(stored: StoredBlock): ReadBlock {
  return typeof stored === 'string' ? { json: parseLineBlock(stored) } : { packed: decodeBlock(stored) };
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
  return JSON.parse(b.takeJson().encoded as string) as LineBlock;
}

export function blockAmount(b: LineBlock, i: number): bigint {
  const a = b.amount[i] as number | string;
  return typeof a === 'number' ? BigInt(a) : BigInt(a);
}


export function blockStatus(b: LineBlock, i: number): LineStatus {
  return STATUS_OF[b.status.charAt(i)] as LineStatus;
}

/** Lines of the block that occurred on the date (a file with none on its date is the wrong file). */
export function linesOnDate(b: { readonly dict: readonly string[]; readonly at: ArrayLike<number> }, date: string): number {
  const on = b.dict.map((s) => s.startsWith(date));
  let n = 0;
  for (let i = 0; i < b.at.length; i++) if (on[b.at[i] as number] === true) n++;
  return n;
}
