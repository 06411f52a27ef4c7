// Matching a file while it is read (a streaming hash join on our records), for `recon run`: each block
// of lines is matched as it arrives against our records looked up by the ids the lines name, so neither
// the file's lines nor the day's records are ever all in memory. The lines' transaction id hashes, checked
// for a repeat at the end, are logged 8 bytes a line into runs spilled to a temporary file (HashLog), so
// memory does not grow with the file.
//
// It gives the same outcomes, in the same order, as matchColumns (match.ts) — the rules are written
// once there; this is a second way to run them, for the shape nearly every day has:
//   - every line has a transaction id and our order (refund) number; no two name the same record or
//     have the same transaction id;
//   - the record a line names either has no transaction id or the line's own;
//   - no record that stays unmatched carries a transaction id some line has.
// Under those, a line's partner by transaction id is the record it names by order number, so one
// indexed lookup a line finds it. A day of another shape (a repeated id, a record whose transaction id
// is another line's…) is not guessed at: the matcher throws StreamFallback, and the run matches the
// stored file with matchColumns instead. Void rows (a refund row voiding a payment of the same file) are
// taken only when the file's folds are known up front (`folds`: a stored file read for them first); a file
// being read falls back at its first void row. The property test checks that every run of this matcher
// that does not fall back equals matchColumns, outcome by outcome, with and without the folds.

import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIT, compareSides, detached, differencesOf, DISCREPANCY_TYPES, extraOutcome, feeParser, feeValueOfMinor, isVoidRow, recordKind, recordMoved } from './match.js';
import type { DiscrepancyType, FeeValue, LineColumns, Outcome, OutcomeCounts, OurRecord, SideView } from './match.js';
import type { LineKind, LineStatus, StatementLine } from './line.js';
import { suspenseExpired, suspenseUntil, type SuspenseItem } from './suspense.js';

/** The day is not of the shape this matcher runs exactly: match it with matchColumns. */
export class StreamFallback extends Error {
  constructor(readonly reason: string) {
    super(`streaming match not exact for this day: ${reason}`);
  }
}

/** A record of ours found by the id a line names, with its row id when it is a payment (else null). */
export interface NamedRecord {
  readonly record: OurRecord;
  readonly paymentRowid: number | null;
}

/** Where the matcher's outcomes go, in order: plain matched pairs (a line of the file, one of today's records, no note) and every other outcome. */
export interface StreamSink {
  pair(kind: LineKind, lineSeq: number, record: OurRecord): void;
  outcome(o: Outcome): void;
}

// ---- 52-bit key hashes ----

/** Two 32-bit multiplicative hashes of the tagged string (two UTF-16 units a step), joined into one integer below 2^53 (never 0). */
export function keyHash(tag: number, s: string): number {
  let a = 0x811c9dc5 ^ tag;
  let b = 0x9747b28c ^ Math.imul(tag, 0x27d4eb2d);
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const c = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b + c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  if (i < n) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b + c, 0x5bd1e995);
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  b ^= b >>> 16;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  return (a >>> 0) * 0x200000 + ((b >>> 11) & 0x1fffff) + 1;
}

/**
 * Key hashes logged as they are seen, to tell at the end whether one repeats and which of some other
 * hashes were logged. Memory does not grow with the lines: hashes fill one run (RUN hashes, 8 bytes each);
 * a full run is sorted and spilled to a temporary file (unlinked as soon as it is opened, so nothing is
 * left behind whatever ends the process), and the run's array is filled again. `seal` merges the runs in
 * order, a page of each at a time. Where no file can be made (no writable temporary folder), the sorted runs
 * stay in memory instead: 8 bytes a line, as before. Two keys with one hash count as a repeat: a false
 * repeat makes the matcher fall back, never match wrongly.
 */
export class HashLog {
  /** Hashes a run holds (2 MiB); a file of fewer lines never touches the disk. */
  static readonly RUN = 1 << 18;
  /** Hashes of a spilled run read at a time when merging. */
  static readonly PAGE = 1 << 13;
  private readonly run: Float64Array;
  private at = 0;
  private spilled = 0;
  private fd: number | undefined;
  /** Sorted runs kept in memory, when the spill file could not be made. */
  private readonly kept: Float64Array[] = [];
  private sealed = false;

  constructor(
    runSize = HashLog.RUN,
    private readonly dir = tmpdir(),
    private readonly pageSize = HashLog.PAGE,
  ) {
    this.run = new Float64Array(runSize);
  }

  add(h: number): void {
    if (this.sealed) throw new Error('HashLog.add: sealed');
    if (this.at === this.run.length) this.spill();
    this.run[this.at++] = h;
  }

  /**
   * Ends the log: whether a hash was added twice, and which of `lookFor` were added. Reads back what was
   * spilled and closes the file.
   */
  seal(lookFor: readonly number[]): { readonly repeat: boolean; readonly found: ReadonlySet<number> } {
    if (this.sealed) throw new Error('HashLog.seal: sealed twice');
    this.sealed = true;
    try {
      const wanted = Float64Array.from(lookFor).sort();
      const found = new Set<number>();
      let w = 0;
      let previous = 0; // hashes are never 0
      let repeat = false;
      for (const h of this.merged()) {
        if (h === previous) repeat = true;
        previous = h;
        while (w < wanted.length && (wanted[w] as number) < h) w++;
        if (w < wanted.length && wanted[w] === h) found.add(h);
      }
      return { repeat, found };
    } finally {
      this.close();
    }
  }

  /** Closes (and so frees) the spill file, if any: a log dropped before its seal. */
  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private spill(): void {
    const run = this.run.subarray(0, this.at).sort();
    if (this.fd === undefined && this.kept.length === 0) this.fd = openSpillFile(this.dir);
    if (this.fd === undefined) {
      this.kept.push(run.slice());
      this.at = 0;
      return;
    }
    const bytes = new Uint8Array(run.buffer, run.byteOffset, run.byteLength);
    let done = 0;
    const position = this.spilled * this.run.byteLength;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, position + done);
    this.spilled++;
    this.at = 0;
  }

  /** Every hash logged, ascending: the spilled runs, those kept in memory and the one being filled, merged. */
  private *merged(): Generator<number> {
    const last = this.run.subarray(0, this.at).sort();
    if (this.spilled === 0 && this.kept.length === 0) {
      yield* last;
      return;
    }
    // Sources 0..spilled-1 are the file's runs, a page read at a time; then each run in memory, whole.
    const whole = [...this.kept, last];
    const count = this.spilled + whole.length;
    const pages: Float64Array[] = [...Array.from({ length: this.spilled }, () => new Float64Array(this.pageSize)), ...whole];
    const read = new Int32Array(this.spilled); // hashes of a file run read so far
    const ends = new Int32Array(count); // hashes in the page a source holds now
    const heads = new Int32Array(count); // its next hash
    whole.forEach((run, j) => (ends[this.spilled + j] = run.length));
    const fd = this.fd;
    const runBytes = this.run.byteLength;
    const fill = (k: number): void => {
      if (fd === undefined) throw new Error('HashLog: runs spilled without a file');
      const bytes = new Uint8Array((pages[k] as Float64Array).buffer);
      const want = Math.min(this.pageSize, this.run.length - (read[k] as number)) * 8;
      let got = 0;
      while (got < want) {
        const n = readSync(fd, bytes, got, want - got, k * runBytes + (read[k] as number) * 8 + got);
        if (n === 0) throw new Error('HashLog: the spill file ended early');
        got += n;
      }
      read[k] = (read[k] as number) + want / 8;
      ends[k] = want / 8;
      heads[k] = 0;
    };
    for (let k = 0; k < this.spilled; k++) fill(k);
    // A binary heap of the sources by their next hash.
    const heap: number[] = [];
    const value = (k: number): number => (pages[k] as Float64Array)[heads[k] as number] as number;
    const down = (i: number): void => {
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) return;
        const r = l + 1;
        const c = r < heap.length && value(heap[r] as number) < value(heap[l] as number) ? r : l;
        if (value(heap[c] as number) >= value(heap[i] as number)) return;
        [heap[c], heap[i]] = [heap[i] as number, heap[c] as number];
        i = c;
      }
    };
    for (let k = 0; k < count; k++) if ((ends[k] as number) > 0) heap.push(k);
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
    while (heap.length > 0) {
      const k = heap[0] as number;
      yield value(k);
      heads[k] = (heads[k] as number) + 1;
      if (heads[k] === ends[k]) {
        if (k < this.spilled && (read[k] as number) < this.run.length) fill(k);
        else {
          heap[0] = heap[heap.length - 1] as number;
          heap.pop();
        }
      }
      down(0);
    }
  }
}

/** A temporary file for spilled runs, unlinked at once (it lives while open); undefined when none can be made. */
function openSpillFile(dir: string): number | undefined {
  const path = join(dir, `settle-txn-hashes-${process.pid}-${randomBytes(6).toString('hex')}`);
  let fd: number;
  try {
    fd = openSync(path, 'wx+', 0o600);
  } catch {
    return undefined;
  }
  try {
    unlinkSync(path);
  } catch {
    // Not removable (a folder where one may create but not delete): keep the runs in memory instead.
    closeSync(fd);
    return undefined;
  }
  return fd;
}

const TXN_TAG: Readonly<Record<LineKind, number>> = { payment: 1, refund: 2 };

// ---- one item of each side, as the core's views ----

/** The channel item being judged, as a one-item SideView (index ignored). */
class ChannelCursor implements SideView {
  readonly length = 1;
  kindValue: LineKind = 'payment';
  txn = '';
  order: string | null = null;
  amount = 0n;
  currencyValue = '';
  statusValue: LineStatus = 'succeeded';
  /** A payment row a void row of the file voids: it moved no money. */
  voided = false;
  feeValue: FeeValue | null = null;
  until: string | null = null;
  kind(): LineKind {
    return this.kindValue;
  }
  txnId(): string | null {
    return this.txn || null;
  }
  orderKey(): string | null {
    return this.order;
  }
  amountMinor(): bigint {
    return this.amount;
  }
  currency(): string {
    return this.currencyValue;
  }
  moved(): boolean {
    return this.statusValue === 'succeeded' && !this.voided;
  }
  fee(): FeeValue | null {
    return this.feeValue;
  }
  untilDate(): string | null {
    return this.until;
  }
}

/** Our record being judged, as a one-item SideView. */
class LedgerCursor implements SideView {
  readonly length = 1;
  record: OurRecord | null = null;
  until: string | null = null;
  private get r(): OurRecord {
    return this.record as OurRecord;
  }
  kind(): LineKind {
    return recordKind(this.r.source);
  }
  txnId(): string | null {
    return this.r.channelTxnId || null;
  }
  orderKey(): string | null {
    return this.r.recordId;
  }
  amountMinor(): bigint {
    return this.r.amountMinor;
  }
  currency(): string {
    return this.r.currency;
  }
  moved(): boolean {
    return recordMoved(this.r);
  }
  fee(): FeeValue | null {
    return feeValueOfMinor(this.r.costMinor, this.r.currency);
  }
  untilDate(): string | null {
    return this.until;
  }
}

const recordKey = (source: string, id: string): string => `${source}:${id}`;
/** A key kept to the end of the run: its own copy, not a view into a page of records read at once. */
const keptKey = (source: string, id: string): string => detached(recordKey(source, id));
const typeOf = (mask: number): DiscrepancyType | null => (mask === 0 ? null : (DISCREPANCY_TYPES[31 - Math.clz32(mask & -mask)] as DiscrepancyType));

type PoolLine = Extract<SuspenseItem, { side: 'channel' }>;
type PoolRecord = Extract<SuspenseItem, { side: 'ledger' }>;

export interface StreamMatchInput {
  readonly date: string;
  readonly suspenseDays: number;
  readonly pool: readonly SuspenseItem[];
  /** The pool's records as our tables hold them now (looked up by id); a pool record not among them keeps its stored values. */
  readonly poolFresh: readonly OurRecord[];
  /**
   * The file's void rows folded into the payment rows they void (foldVoids over the whole file: a stored
   * file is read for them first). Without it, a void row makes the matcher fall back.
   */
  readonly folds?: StreamFolds;
}

/** Line indexes (0-based, in the file) of folded void rows and of the payment rows they void. */
export interface StreamFolds {
  readonly voidRows: ReadonlySet<number>;
  readonly payments: ReadonlySet<number>;
}

/**
 * The matcher's state through one run: call `poolLines` once (with the records the pool lines name),
 * `lines` for each block in file order (with the records its lines name), then `finish` with our
 * records due on the date that no line took.
 */
export class StreamMatcher {
  private readonly date: string;
  private readonly newUntil: string | null;
  private readonly fee = feeParser();
  /** Hashes of the transaction ids of every line seen (pool lines too), by kind: a repeat is found at the end. */
  private readonly txnSeen = new HashLog();
  private readonly poolLinesList: readonly PoolLine[];
  private readonly poolRecords: PoolRecord[];
  private readonly poolValues: OurRecord[];
  private readonly poolIndex = new Map<string, number>();
  private readonly poolTaken: Uint8Array;
  private readonly othersTaken = new Set<string>();
  /** Records not due today that lines took, or pool lines named (never-succeeded ones): few. */
  private readonly namedElse = new Set<string>();
  private readonly channel = new ChannelCursor();
  private readonly ledger = new LedgerCursor();
  /** Records the run counts beyond those due: the pool's found again, and never-succeeded ones the lines name. */
  private extraRecords = 0;
  private matched = 0;
  private suspense = 0;
  private discrepancies = 0;
  private readonly byType: Partial<Record<DiscrepancyType, number>> = {};
  private poolLinesDone = false;
  private readonly folds: StreamFolds | undefined;
  /** The folded void rows met, in file order: matched with the note void_row after everything else. */
  private readonly voidLines: { readonly line: StatementLine; readonly index: number }[] = [];

  constructor(input: StreamMatchInput) {
    this.date = input.date;
    this.folds = input.folds;
    this.newUntil = input.suspenseDays > 0 ? suspenseUntil(input.date, input.suspenseDays) : null;
    this.poolLinesList = input.pool.filter((p): p is PoolLine => p.side === 'channel');
    this.poolRecords = input.pool.filter((p): p is PoolRecord => p.side === 'ledger');
    this.poolValues = this.poolRecords.map((p) => p.record);
    this.poolTaken = new Uint8Array(this.poolRecords.length);
    this.poolRecords.forEach((p, k) => {
      const key = recordKey(p.record.source, p.record.recordId);
      if (this.poolIndex.has(key)) throw new StreamFallback('a record waits in the pool twice');
      this.poolIndex.set(key, k);
    });
    for (const r of input.poolFresh) {
      const k = this.poolIndex.get(recordKey(r.source, r.recordId));
      if (k === undefined) continue;
      this.poolValues[k] = r;
      this.extraRecords++;
    }
  }

  /** Items in the pool, both sides. */
  get poolSize(): number {
    return this.poolLinesList.length + this.poolRecords.length;
  }

  /** The ids the pool's lines name, by kind (look them up and pass them to poolLines). */
  poolLineKeys(): { readonly payment: string[]; readonly refund: string[] } {
    const keys = { payment: [] as string[], refund: [] as string[] };
    for (const p of this.poolLinesList) {
      const order = orderKeyOfLine(p.line);
      if (order !== null) keys[p.line.kind].push(order);
    }
    return keys;
  }

  poolLines(found: readonly NamedRecord[], sink: StreamSink): void {
    if (this.poolLinesDone) throw new Error('StreamMatcher.poolLines: called twice');
    this.poolLinesDone = true;
    const named = byName(found);
    for (const p of this.poolLinesList) {
      const l = p.line;
      const order = orderKeyOfLine(l);
      this.item(l.kind, l.channelTxnId, order, l.status, l.amountMinor, l.currency, l.fee, p, -1, nameOf(named, l.kind, order), sink, null, 0);
    }
  }

  /** The ids a block's lines name, by kind. */
  static lineKeys(lines: LineColumns): { readonly payment: string[]; readonly refund: string[] } {
    const keys = { payment: [] as string[], refund: [] as string[] };
    for (let i = 0; i < lines.length; i++) {
      const kind = lines.kind(i);
      const order = (kind === 'payment' ? lines.merchantOrderNo(i) : lines.merchantRefundNo(i)) || null;
      if (order !== null) keys[kind].push(order);
    }
    return keys;
  }

  /** The record each line of a block names, from the records found by the block's ids (lines with no id, or naming nothing: null). */
  static align(lines: LineColumns, found: readonly NamedRecord[]): (NamedRecord | null)[] {
    const named = byName(found);
    const out: (NamedRecord | null)[] = new Array<NamedRecord | null>(lines.length);
    for (let i = 0; i < lines.length; i++) {
      const kind = lines.kind(i);
      out[i] = nameOf(named, kind, (kind === 'payment' ? lines.merchantOrderNo(i) : lines.merchantRefundNo(i)) || null);
    }
    return out;
  }

  /**
   * A block of the file's lines; `first` is the 0-based index of its first line in the file, `named[i]`
   * the record line i names (StreamMatcher.align, or found by the caller line by line).
   */
  lines(lines: LineColumns, first: number, named: readonly (NamedRecord | null)[], sink: StreamSink): void {
    if (!this.poolLinesDone) throw new Error('StreamMatcher.lines: the pool lines come first');
    const folds = this.folds;
    for (let i = 0; i < lines.length; i++) {
      let voided = false;
      if (folds === undefined) {
        if (isVoidRow(lines, i)) throw new StreamFallback('a void row');
      } else if (folds.voidRows.has(first + i)) {
        this.voidLines.push({ line: lines.line(i), index: first + i });
        continue;
      } else voided = folds.payments.has(first + i);
      const kind = lines.kind(i);
      const order = (kind === 'payment' ? lines.merchantOrderNo(i) : lines.merchantRefundNo(i)) || null;
      this.item(kind, lines.channelTxnId(i), order, lines.status(i), lines.amountMinor(i), lines.currency(i), lines.fee(i), null, first + i, named[i] ?? null, sink, lines, i, voided);
    }
  }

  /** One line: its partner is the record it names, when that record takes part in the day (see the head of the file). */
  private item(
    kind: LineKind,
    txn: string,
    order: string | null,
    status: LineStatus,
    amount: bigint,
    currency: string,
    feeText: string | null,
    pool: PoolLine | null,
    index: number,
    found: NamedRecord | null,
    sink: StreamSink,
    block: LineColumns | null,
    local: number,
    voided = false,
  ): void {
    if (txn === '' || order === null) throw new StreamFallback('a line without a transaction id or an order number');
    this.txnSeen.add(keyHash(TXN_TAG[kind], txn));

    let partner: OurRecord | null = null;
    let poolAt = -1;
    if (found !== null) {
      const r = found.record;
      if (this.poolRecords.length > 0) poolAt = this.poolIndex.get(recordKey(r.source, r.recordId)) ?? -1;
      // A never-succeeded record a pool line names takes part only if a line of the file names it too, and
      // then the reference pairs it with the pool line, which has passed: that later line falls back.
      if (pool !== null && poolAt < 0 && r.businessDate === null) this.namedElse.add(keptKey(r.source, r.recordId));
      // A record that never succeeded takes part when a line of the file names it (not a pool line alone).
      if (poolAt >= 0 || r.businessDate === this.date || (r.businessDate === null && pool === null)) {
        if (r.channelTxnId && r.channelTxnId !== txn) throw new StreamFallback('a record whose transaction id is not its line’s');
        if (poolAt >= 0) {
          if (this.poolTaken[poolAt] === 1) throw new StreamFallback('a pool record named twice');
          this.poolTaken[poolAt] = 1;
          partner = this.poolValues[poolAt] as OurRecord;
        } else {
          partner = r;
          // A record two lines name (the reference pairs it once): the caller's window tells of today's
          // payments named twice; the rest are kept here.
          if (r.businessDate !== this.date) {
            if (this.namedElse.has(recordKey(r.source, r.recordId))) throw new StreamFallback('a record named twice');
            this.namedElse.add(keptKey(r.source, r.recordId));
            this.extraRecords++;
          } else if (found.paymentRowid === null) {
            if (this.othersTaken.has(recordKey(r.source, r.recordId))) throw new StreamFallback('a record named twice');
            this.othersTaken.add(keptKey(r.source, r.recordId));
          }
        }
      }
    }

    const ch = this.channel;
    ch.kindValue = kind;
    ch.txn = txn;
    ch.order = order;
    ch.amount = amount;
    ch.currencyValue = currency;
    ch.statusValue = status;
    ch.voided = voided;
    ch.feeValue = this.fee(feeText);
    ch.until = pool?.untilDate ?? null;
    let differences = 0;
    let late = ch.until !== null;
    if (partner !== null) {
      const led = this.ledger;
      led.record = partner;
      led.until = poolAt >= 0 ? (this.poolRecords[poolAt] as PoolRecord).untilDate : null;
      differences = compareSides(ch, 0, led, 0);
      late ||= led.until !== null;
      if (differences === 0 && !late && pool === null) {
        this.matched++;
        sink.pair(kind, index + 1, partner);
        return;
      }
    }

    const line = pool !== null ? pool.line : (block as LineColumns).line(local);
    const lineAt = pool !== null ? { fileId: pool.fileId, seq: pool.lineSeq } : { fileId: null, seq: index + 1 };
    const channelSuspenseId = pool?.suspenseId ?? null;
    if (partner === null) {
      this.single(ch, 0, BIT.channelOnly, sink, (o) => ({ ...o, kind, line, lineAt, record: null, channelSuspenseId, ledgerSuspenseId: null, identity: `line:${kind}:${txn}` }));
      return;
    }
    this.count(differences === 0 ? 'matched' : 'discrepancy', differences);
    sink.outcome({
      outcome: differences === 0 ? 'matched' : 'discrepancy',
      type: typeOf(differences),
      differences: differencesOf(differences),
      note: late ? 'late' : null,
      untilDate: null,
      kind,
      line,
      lineAt,
      record: partner,
      channelSuspenseId,
      ledgerSuspenseId: poolAt >= 0 ? (this.poolRecords[poolAt] as PoolRecord).suspenseId : null,
      identity: `${partner.source}:${partner.recordId}`,
    });
  }

  /** An item with no partner: no money moved (matched), waiting (suspense), or a discrepancy of its side. */
  private single(view: SideView, i: number, missing: number, sink: StreamSink, complete: (o: Pick<Outcome, 'outcome' | 'type' | 'differences' | 'note' | 'untilDate'>) => Outcome): void {
    if (!view.moved(i)) {
      this.count('matched', 0);
      sink.outcome(complete({ outcome: 'matched', type: null, differences: [], note: 'no_movement', untilDate: null }));
      return;
    }
    const until = view.untilDate(i) ?? this.newUntil;
    if (until !== null && !suspenseExpired(until, this.date)) {
      this.count('suspense', 0);
      sink.outcome(complete({ outcome: 'suspense', type: null, differences: [], note: null, untilDate: until }));
      return;
    }
    this.count('discrepancy', missing);
    sink.outcome(complete({ outcome: 'discrepancy', type: typeOf(missing), differences: differencesOf(missing), note: null, untilDate: null }));
  }

  private count(outcome: Outcome['outcome'], differences: number): void {
    if (outcome === 'matched') this.matched++;
    else if (outcome === 'suspense') this.suspense++;
    else {
      this.discrepancies++;
      const t = typeOf(differences) as DiscrepancyType;
      this.byType[t] = (this.byType[t] ?? 0) + 1;
    }
  }

  /** Frees what the log of transaction ids holds on disk, if the run ends before `finish`. */
  close(): void {
    this.txnSeen.close();
  }

  /** Today's captures and refunds the lines took, as `source:id`. */
  takenOthers(): ReadonlySet<string> {
    return this.othersTaken;
  }

  /**
   * The records no line took: the pool's, then `untaken` — our records due on the date that no line
   * took, in the order recordsForDay gives them — of the `due` records due on the date in all.
   */
  finish(untaken: readonly OurRecord[], due: number, sink: StreamSink): { readonly counts: OutcomeCounts; readonly records: number } {
    // Two lines with one transaction id, or a record left unmatched with a line's transaction id: the
    // reference (matchColumns) pairs these otherwise. Asked before any of these outcomes is written.
    const txnHash = (r: OurRecord, txn: string): number => keyHash(TXN_TAG[recordKind(r.source)], txn);
    const left: number[] = [];
    this.poolRecords.forEach((_, k) => {
      const r = this.poolValues[k] as OurRecord;
      if (this.poolTaken[k] !== 1 && r.channelTxnId) left.push(txnHash(r, r.channelTxnId));
    });
    for (const r of untaken) if (r.channelTxnId && !this.poolIndex.has(recordKey(r.source, r.recordId))) left.push(txnHash(r, r.channelTxnId));
    const seen = this.txnSeen.seal(left);
    if (seen.repeat) throw new StreamFallback('a transaction id twice');
    if (seen.found.size > 0) throw new StreamFallback('an unmatched record has the transaction id of a line');
    this.poolRecords.forEach((p, k) => {
      if (this.poolTaken[k] === 1) return;
      const r = this.poolValues[k] as OurRecord;
      this.ledgerSingle(r, p.untilDate, p.suspenseId, sink);
    });
    for (const r of untaken) {
      if (this.poolIndex.has(recordKey(r.source, r.recordId))) continue;
      this.ledgerSingle(r, null, null, sink);
    }
    for (const { line, index } of this.voidLines) {
      this.count('matched', 0);
      sink.outcome(extraOutcome(line, index, null));
    }
    return {
      counts: { matched: this.matched, suspense: this.suspense, discrepancies: this.discrepancies, byType: { ...this.byType } },
      records: due + this.extraRecords,
    };
  }

  private ledgerSingle(r: OurRecord, until: string | null, suspenseId: number | null, sink: StreamSink): void {
    const led = this.ledger;
    led.record = r;
    led.until = until;
    const kind = recordKind(r.source);
    this.single(led, 0, BIT.ledgerOnly, sink, (o) => ({
      ...o,
      kind,
      line: null,
      lineAt: null,
      record: r,
      channelSuspenseId: null,
      ledgerSuspenseId: suspenseId,
      identity: `${r.source}:${r.recordId}`,
    }));
  }
}

function orderKeyOfLine(line: StatementLine): string | null {
  return (line.kind === 'payment' ? line.merchantOrderNo : line.merchantRefundNo) || null;
}

/** The record a line of this kind and id names; StreamFallback when two records have the id (a payment and a capture). */
function nameOf(named: ReadonlyMap<string, readonly NamedRecord[]>, kind: LineKind, order: string | null): NamedRecord | null {
  if (order === null) return null;
  const list = named.get(`${kind}:${order}`);
  if (list === undefined) return null;
  if (list.length > 1) throw new StreamFallback('two records with one id');
  return list[0] as NamedRecord;
}

/** Found records by `kind:id` (a payment line names a payment or a capture). */
function byName(found: readonly NamedRecord[]): Map<string, NamedRecord[]> {
  const map = new Map<string, NamedRecord[]>();
  for (const f of found) {
    const key = `${recordKind(f.record.source)}:${f.record.recordId}`;
    const list = map.get(key);
    if (list) list.push(f);
    else map.set(key, [f]);
  }
  return map;
}
