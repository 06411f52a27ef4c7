// The window a streaming match (run.ts, StreamRun) reads our payments due on the date through: in row id
// order, a page at a time, ahead of the file's lines.

import type { LineColumns, OurRecord } from './match.js';
import type { NamedRecord } from './stream-match.js';

export const STREAM_LIMITS = {
  /** Payments a line's own is looked for past the next one before it is looked up by id. */
  lookAhead: 64,
  /** Payments passed over and held at most; the oldest leave first (and are read again at the end if still untaken). */
  windowMax: 100_000,
} as const;

/**
 * A page of our payments as the window reads it: an id is compared where it lies and a record built only
 * when the payment is handed out or passed over (a page held as a million records would be a million
 * objects living long enough to be promoted, for most of them a few lines only).
 */
export interface DueBatch {
  readonly length: number;
  /** Whether payment k's id is `id`. */
  idIs(k: number, id: string): boolean;
  rowid(k: number): number;
  /**
   * Payment k as a record: with `id` (the id it was found by) for a record used at once, its other
   * strings views into the page; without, every string its own copy, to be kept.
   */
  named(k: number, id?: string): NamedRecord;
}

/** Records already built, as a batch (a page read row by row, tests). */
export function batchOf(records: readonly NamedRecord[]): DueBatch {
  return {
    length: records.length,
    idIs: (k, id) => (records[k] as NamedRecord).record.recordId === id,
    rowid: (k) => (records[k] as NamedRecord).paymentRowid as number,
    named: (k) => records[k] as NamedRecord,
  };
}

/**
 * Our payments due on the date, read in row id order a page at a time ahead of the file's lines. A file
 * lists the day in about the order we created it, so a line's payment is most often the next one here:
 * one comparison, no hashing. A payment passed over (a line that came late, or none) waits in a map by id,
 * the oldest leaving it (as a row id) beyond `windowMax`; only a line whose payment is further ahead costs
 * a lookup by id. After the last line, those passed over and left, and those never reached, are the day's
 * payments no line took, in row id order.
 */
export class DueWindow {
  /** Read and not reached yet, in row id order: pages, and the position in the first. */
  private readonly pages: DueBatch[] = [];
  private at = 0;
  private ahead = 0;
  private readonly passed = new Map<string, NamedRecord>();
  /** Row ids of payments that left the window untaken (a Set in row id order). */
  private readonly left = new Set<number>();
  /** Row ids taken by a lookup by id: before the window reached them (dropped when it does), or after they left it. */
  private readonly takenAhead = new Set<number>();
  private lastReached = -1;
  private done = false;
  /** Payments read in all: the day's count once the read is done. */
  read = 0;

  constructor(
    private readonly source: { next(): Promise<DueBatch>; close(): void },
    private readonly byRowid: (rowids: readonly number[]) => Promise<OurRecord[]>,
    private readonly limits: { readonly lookAhead: number; readonly windowMax: number } = STREAM_LIMITS,
  ) {}

  /** Reads until at least `count` payments wait ahead (or the day's end). */
  async fill(count: number): Promise<void> {
    while (!this.done && this.ahead < count) {
      const page = await this.source.next();
      if (page.length === 0) {
        this.done = true;
        break;
      }
      this.read += page.length;
      this.ahead += page.length;
      this.pages.push(page);
    }
  }

  close(): void {
    this.source.close();
  }

  /** The payment with this id when it was passed over or is among the next few read (taken out of the window). */
  take(id: string): NamedRecord | undefined {
    if (this.passed.size > 0) {
      const waiting = this.passed.get(id);
      if (waiting !== undefined) {
        this.passed.delete(id);
        return waiting;
      }
    }
    for (let looked = 0; looked < this.limits.lookAhead; looked++) {
      const page = this.next();
      if (page === undefined) return undefined;
      const k = this.at - 1;
      if (page.idIs(k, id)) return page.named(k, id);
      this.pass(page.named(k));
    }
    return undefined;
  }

  /**
   * A payment due on the date that a lookup by id found (the window did not hold it): not to be handed
   * out again. False when it was handed out already (two lines name it).
   */
  takenElsewhere(rowid: number): boolean {
    if (rowid > this.lastReached) {
      if (this.takenAhead.has(rowid)) return false;
      this.takenAhead.add(rowid);
      return true;
    }
    // Reached already: it left the window untaken, or it was handed out.
    return this.left.delete(rowid);
  }

  /** After the last line: the day's payments no line took, in row id order, and how many are due. */
  async untaken(): Promise<{ readonly records: OurRecord[]; readonly due: number }> {
    for (;;) {
      await this.fill(1);
      if (this.ahead === 0) break;
      for (let page = this.next(); page !== undefined; page = this.next()) this.pass(page.named(this.at - 1));
    }
    const records = await this.byRowid([...this.left]);
    for (const p of this.passed.values()) records.push(p.record);
    this.passed.clear();
    return { records, due: this.read };
  }

  /** A payment passed over (its strings its own: it may wait to the end). */
  private pass(p: NamedRecord): void {
    this.passed.set(p.record.recordId, p);
    if (this.passed.size > this.limits.windowMax) {
      const [id, oldest] = this.passed.entries().next().value as [string, NamedRecord];
      this.passed.delete(id);
      this.left.add(oldest.paymentRowid as number);
    }
  }

  /** The page holding the next payment read and not taken (at `this.at - 1`), or undefined when none is read ahead. */
  private next(): DueBatch | undefined {
    for (;;) {
      const page = this.pages[0];
      if (page === undefined) return undefined;
      if (this.at >= page.length) {
        this.pages.shift();
        this.at = 0;
        continue;
      }
      const rowid = page.rowid(this.at++);
      this.ahead--;
      this.lastReached = rowid;
      if (this.takenAhead.size > 0 && this.takenAhead.delete(rowid)) continue;
      return page;
    }
  }
}

/** Some lines of a block, by index (the ids of those a window did not find). */
export function lineSubset(lines: LineColumns, at: readonly number[]): LineColumns {
  const i = (k: number): number => at[k] as number;
  return {
    length: at.length,
    kind: (k) => lines.kind(i(k)),
    channelTxnId: (k) => lines.channelTxnId(i(k)),
    merchantOrderNo: (k) => lines.merchantOrderNo(i(k)),
    merchantRefundNo: (k) => lines.merchantRefundNo(i(k)),
    amountMinor: (k) => lines.amountMinor(i(k)),
    currency: (k) => lines.currency(i(k)),
    status: (k) => lines.status(i(k)),
    fee: (k) => lines.fee(i(k)),
    line: (k) => lines.line(i(k)),
  };
}
