// What a page of payments adds to each party's day (share_party_days), pure. The page's splits are summed
// per table and currency, seat by seat (PageSums), then folded into one addition per party, currency and
// kind. A routed page is not seen payment by payment: as SQLite writes the page, the store hands each payment's
// (table, part of a base, currency) to a PageTally, which adds the part's shares to its table's sums there and
// then, as exact numbers (PartAmounts), or counts the pair when an amount is too large for that; the counted
// pairs are folded as count × part, once per distinct pair (foldTally).

import type { BaseSplit, PartyKind, SplitTable } from './core.js';
import { getOrMake } from './memo.js';

/** What a page adds to a party's day. */
export interface PartyAdd {
  readonly partyId: string;
  readonly partyKind: PartyKind;
  readonly currency: string;
  lines: number;
  shareMinor: bigint;
}

/** The shares of one split: one per seat of its table, the platform's. */
export type SeatShares = Pick<BaseSplit, 'sharesMinor' | 'clippedMinor' | 'platformShareMinor'>;

/** Per seat of one table in one currency (the platform last): lines and shares. */
interface TableSums {
  readonly table: SplitTable;
  readonly currency: string;
  readonly lines: number[];
  readonly shareMinor: bigint[];
}

export class PageSums {
  private readonly byTable = new Map<SplitTable, Map<string, TableSums>>();

  /** Adds `count` payments of `currency` split as `s` at `table`; returns the lines they stand for (a seat's
   *  line only with a share or a clipped amount, the platform's always). */
  add(table: SplitTable, currency: string, s: SeatShares, count: number): number {
    const t = this.sumsOf(table, currency);
    const seats = s.sharesMinor.length;
    if (seats !== table.seats.length) throw new Error(`a split of ${seats} shares at a table of ${table.seats.length} seats (${table.key})`);
    const times = BigInt(count);
    let lines = 1;
    for (let i = 0; i < seats; i++) {
      const share = s.sharesMinor[i] ?? 0n;
      const clipped = s.clippedMinor === null ? 0n : (s.clippedMinor[i] ?? 0n);
      if (share === 0n && clipped === 0n) continue;
      lines++;
      t.lines[i] = (t.lines[i] ?? 0) + count;
      t.shareMinor[i] = (t.shareMinor[i] ?? 0n) + (count === 1 ? share : share * times);
    }
    t.lines[seats] = (t.lines[seats] ?? 0) + count;
    t.shareMinor[seats] = (t.shareMinor[seats] ?? 0n) + (count === 1 ? s.platformShareMinor : s.platformShareMinor * times);
    return lines * count;
  }

  /** Adds lines and shares seat by seat (one per seat of `table`, then the platform's), summed elsewhere. */
  addSeats(table: SplitTable, currency: string, lines: ArrayLike<number>, shareMinor: readonly bigint[]): void {
    const t = this.sumsOf(table, currency);
    for (let i = 0; i < t.lines.length; i++) {
      t.lines[i] = (t.lines[i] ?? 0) + (lines[i] ?? 0);
      t.shareMinor[i] = (t.shareMinor[i] ?? 0n) + (shareMinor[i] ?? 0n);
    }
  }

  private sumsOf(table: SplitTable, currency: string): TableSums {
    const byCurrency = getOrMake(this.byTable, table, () => new Map<string, TableSums>());
    const n = table.seats.length + 1;
    return getOrMake(byCurrency, currency, () => ({ table, currency, lines: Array<number>(n).fill(0), shareMinor: Array<bigint>(n).fill(0n) }));
  }

  /** One addition per party, currency and kind (seats without a line are left out). */
  fold(): Map<string, PartyAdd> {
    const adds = new Map<string, PartyAdd>();
    for (const byCurrency of this.byTable.values()) {
      for (const t of byCurrency.values()) {
        const n = t.table.seats.length;
        for (let i = 0; i <= n; i++) {
          if ((t.lines[i] ?? 0) === 0) continue;
          const seat = t.table.seats[i];
          const a = seat === undefined ? partyAdd(adds, 'platform', 'platform', t.currency) : partyAdd(adds, seat.partyId, seat.partyKind, t.currency);
          a.lines += t.lines[i] ?? 0;
          a.shareMinor += t.shareMinor[i] ?? 0n;
        }
      }
    }
    return adds;
  }
}

export function partyAdd(adds: Map<string, PartyAdd>, partyId: string, partyKind: PartyKind, currency: string): PartyAdd {
  const key = `${partyId}\u0000${currency}\u0000${partyKind}`;
  let a = adds.get(key);
  if (a === undefined) {
    a = { partyId, partyKind, currency, lines: 0, shareMinor: 0n };
    adds.set(key, a);
  }
  return a;
}

/** Tally keys counted in a typed array per currency (4 bytes each); keys above go to a map. */
export const TALLY_DENSE_KEYS_MAX = 1 << 22;

/** One currency's counts: keys below dense.length in dense (the keys met listed once in touched), others in
 *  sparse; and the sums of the payments whose part is in PartAmounts, per table index and seat (width
 *  PartAmounts.width, the platform's last), with the table indexes met listed once in tables. */
interface Counts {
  /** Made at the first key counted (with PartAmounts, most pages count none). */
  dense: Int32Array | null;
  readonly touched: number[];
  readonly sparse: Map<number, number>;
  readonly lines: Float64Array;
  readonly shares: Float64Array;
  readonly tables: number[];
}

/** Amounts up to this size are summed as numbers: at most SUMMED_PAYMENTS_MAX of them sum to at most
 *  2^20 × 2^32 = 2^52 in magnitude, below 2^53, so every sum is exact. */
const SUMMED_MINOR_MAX = 2n ** 32n;
/** Payments a tally sums as numbers; those after are counted by key (see SUMMED_MINOR_MAX). */
export const SUMMED_PAYMENTS_MAX = 2 ** 20;

const summable = (x: bigint): boolean => x <= SUMMED_MINOR_MAX && x >= -SUMMED_MINOR_MAX;

/**
 * The parts of a routed run as numbers, in part id order, so a tally can add a payment's shares as it counts
 * it (a few additions in arrays that stay in the CPU's cache) instead of counting its (table, part) key and
 * folding each key apart: a page's payments nearly all have keys of their own. Per part: its seats' shares
 * and the platform's in a row of `width` (the platform's last), which seats have a line, its lines, clipped
 * total, sign; a part with an amount above SUMMED_MINOR_MAX is not summable (its payments are counted).
 */
export class PartAmounts {
  /** Seats of the widest table, plus the platform's. */
  readonly width: number;
  private count = 0;
  private shares = new Float64Array(0);
  private lineSeats = new Uint8Array(0);
  private lineCounts = new Int32Array(0);
  private seats = new Int32Array(0);
  private clippedTotals = new Float64Array(0);
  private flags = new Uint8Array(0);

  /** `tableSeats`: the seats of each table, by its index in the run. */
  constructor(readonly tableSeats: readonly number[]) {
    this.width = tableSeats.reduce((a, b) => Math.max(a, b), 0) + 1;
  }

  get size(): number {
    return this.count;
  }

  /** Appends the next part (its id is the number of parts before it). */
  push(part: BaseSplit): void {
    const id = this.count++;
    if (id === this.flags.length) this.grow(Math.max(1024, id * 2));
    const n = part.sharesMinor.length;
    const w = this.width;
    const amounts = [...part.sharesMinor, ...(part.clippedMinor ?? []), part.platformShareMinor, part.clippedTotalMinor];
    if (n >= w || !amounts.every(summable)) return; // flags 0: counted by key
    let lines = 1;
    for (let i = 0; i < n; i++) {
      const share = part.sharesMinor[i] ?? 0n;
      this.shares[id * w + i] = Number(share);
      if (share !== 0n || (part.clippedMinor?.[i] ?? 0n) !== 0n) {
        this.lineSeats[id * w + i] = 1;
        lines++;
      }
    }
    this.shares[id * w + w - 1] = Number(part.platformShareMinor);
    this.lineSeats[id * w + w - 1] = 1;
    this.lineCounts[id] = lines;
    this.seats[id] = n;
    this.clippedTotals[id] = Number(part.clippedTotalMinor);
    this.flags[id] = 1 | (part.baseMinor < 0n ? 2 : 0);
  }

  /**
   * Adds part `partId` of table index `t` into the rows of `c` and to `s`; false when the part is not summable.
   * Throws when the part's seats are not its table's (a broken invariant).
   */
  addTo(c: Counts, s: SummedTotals, partId: number, t: number): boolean {
    const flags = partId < this.count ? (this.flags[partId] as number) : 0;
    if ((flags & 1) === 0) return false;
    if (this.seats[partId] !== this.tableSeats[t]) throw new Error(`a part of ${this.seats[partId]} shares at a table of ${this.tableSeats[t]} seats`);
    const w = this.width;
    const row = t * w;
    if (c.lines[row + w - 1] === 0) c.tables.push(t);
    for (let i = 0, from = partId * w; i < w; i++) {
      c.lines[row + i] = (c.lines[row + i] as number) + (this.lineSeats[from + i] as number);
      c.shares[row + i] = (c.shares[row + i] as number) + (this.shares[from + i] as number);
    }
    s.lines += this.lineCounts[partId] as number;
    const clipped = this.clippedTotals[partId] as number;
    if (clipped !== 0) {
      s.clipped += clipped;
      if (clipped > 0) s.clippedPayments++;
    }
    if ((flags & 2) !== 0) s.negative = true;
    return true;
  }

  private grow(capacity: number): void {
    const w = this.width;
    const grown = <T extends Float64Array | Uint8Array | Int32Array>(a: T, make: (n: number) => T, per: number): T => {
      const b = make(capacity * per);
      b.set(a);
      return b;
    };
    this.shares = grown(this.shares, (n) => new Float64Array(n), w);
    this.lineSeats = grown(this.lineSeats, (n) => new Uint8Array(n), w);
    this.lineCounts = grown(this.lineCounts, (n) => new Int32Array(n), 1);
    this.seats = grown(this.seats, (n) => new Int32Array(n), 1);
    this.clippedTotals = grown(this.clippedTotals, (n) => new Float64Array(n), 1);
    this.flags = grown(this.flags, (n) => new Uint8Array(n), 1);
  }
}

/** What a tally summed as numbers (exact: see SUMMED_MINOR_MAX): lines, clipped total and payments, a negative base. */
interface SummedTotals {
  lines: number;
  clipped: number;
  clippedPayments: number;
  negative: boolean;
}

/**
 * How many payments of a page took each (table, part, currency), counted one call per payment. A (table,
 * part) pair comes as one integer key, part id × tables + table index, the index into `tableIds`. With
 * `amounts`, a payment whose part is summable is added there and then (its shares into its table's row);
 * other keys below `denseKeys` (the pairs known when the page starts) are counted in a typed array, the rest
 * in a map, and folded once per key. A payment whose part or route is missing comes with a null key and is
 * counted apart (`missing`).
 */
export class PageTally {
  payments = 0;
  missing = 0;
  private readonly byCurrency = new Map<string, Counts>();
  private lastCurrency: string | null = null;
  private last: Counts | null = null;
  private readonly summed: SummedTotals = { lines: 0, clipped: 0, clippedPayments: 0, negative: false };
  private summedLeft = SUMMED_PAYMENTS_MAX;

  constructor(
    private readonly tableIds: readonly number[],
    private readonly denseKeys: number = 0,
    private readonly amounts: PartAmounts | null = null,
  ) {
    if (amounts !== null && amounts.tableSeats.length !== tableIds.length) throw new Error(`part amounts of ${amounts.tableSeats.length} tables for ${tableIds.length}`);
  }

  /** Counts one payment; returns its table id (null for a missing key). */
  add(key: number | null, currency: string): number | null {
    if (key === null) {
      this.missing++;
      return null;
    }
    let c = this.last;
    if (currency !== this.lastCurrency || c === null) {
      c = getOrMake(this.byCurrency, currency, () => this.newCounts());
      this.last = c;
      this.lastCurrency = currency;
    }
    const t = key % this.tableIds.length;
    this.payments++;
    if (this.amounts !== null && this.summedLeft > 0 && this.amounts.addTo(c, this.summed, (key - t) / this.tableIds.length, t)) {
      this.summedLeft--;
      return this.tableIdOf(key);
    }
    c.dense ??= new Int32Array(Math.min(this.denseKeys, TALLY_DENSE_KEYS_MAX));
    if (key < c.dense.length) {
      const n = c.dense[key] as number;
      if (n === 0) c.touched.push(key);
      c.dense[key] = n + 1;
    } else c.sparse.set(key, (c.sparse.get(key) ?? 0) + 1);
    return this.tableIdOf(key);
  }

  /** Visits each key counted (not those summed). */
  forEach(visit: (tableId: number, partId: number, currency: string, count: number) => void): void {
    const tables = this.tableIds.length;
    for (const [currency, c] of this.byCurrency) {
      for (const key of c.touched) visit(this.tableIdOf(key), Math.floor(key / tables), currency, c.dense?.[key] as number);
      for (const [key, count] of c.sparse) visit(this.tableIdOf(key), Math.floor(key / tables), currency, count);
    }
  }

  /** Adds what was summed into `sums` (once per table and currency, as bigints); returns its lines, clips, sign. */
  foldSummed(sums: PageSums, tableOf: (tableId: number) => SplitTable): Readonly<SummedTotals> {
    const w = this.amounts?.width ?? 0;
    for (const [currency, c] of this.byCurrency) {
      for (const t of c.tables) {
        const table = tableOf(this.tableIds[t] as number);
        const n = table.seats.length;
        const seat = (i: number): number => t * w + (i < n ? i : w - 1);
        const lines = Array.from({ length: n + 1 }, (_, i) => c.lines[seat(i)] as number);
        sums.addSeats(table, currency, lines, lines.map((_, i) => BigInt(c.shares[seat(i)] as number)));
      }
    }
    return this.summed;
  }

  private newCounts(): Counts {
    const rows = this.amounts === null ? 0 : this.tableIds.length * this.amounts.width;
    return { dense: null, touched: [], sparse: new Map<number, number>(), lines: new Float64Array(rows), shares: new Float64Array(rows), tables: [] };
  }

  private tableIdOf(key: number): number {
    const id = this.tableIds[key % this.tableIds.length];
    if (id === undefined) throw new Error(`tally key ${key} names no table`);
    return id;
  }
}

export interface TallyTotals {
  /** The payments counted (those missing excluded). */
  readonly payments: number;
  readonly sums: PageSums;
  readonly lines: number;
  readonly clippedMinor: bigint;
  readonly clippedPayments: number;
  /** Whether some payment has a negative base. */
  readonly negative: boolean;
}

/** A tally's sums, lines, clips and negative bases, given its tables and parts by id: the pairs it counted,
 *  folded once each, and what it summed as it counted (PartAmounts). */
export function foldTally(tally: PageTally, tableOf: (tableId: number) => SplitTable, partOf: (partId: number) => BaseSplit): TallyTotals {
  const sums = new PageSums();
  let lines = 0;
  let clippedMinor = 0n;
  let clippedPayments = 0;
  let negative = false;
  tally.forEach((tableId, partId, currency, count) => {
    const part = partOf(partId);
    lines += sums.add(tableOf(tableId), currency, part, count);
    if (part.clippedTotalMinor !== 0n) {
      clippedMinor += part.clippedTotalMinor * BigInt(count);
      if (part.clippedTotalMinor > 0n) clippedPayments += count;
    }
    if (part.baseMinor < 0n) negative = true;
  });
  const summed = tally.foldSummed(sums, tableOf);
  return {
    payments: tally.payments,
    sums,
    lines: lines + summed.lines,
    clippedMinor: clippedMinor + BigInt(summed.clipped),
    clippedPayments: clippedPayments + summed.clippedPayments,
    negative: negative || summed.negative,
  };
}
