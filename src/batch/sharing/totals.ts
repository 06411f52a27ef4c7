// What a page of payments adds to each party's day (share_party_days), pure. The page's splits are summed
// per table and currency, seat by seat (PageSums), then folded into one addition per party, currency and
// kind. A routed page is not seen payment by payment: the store counts, as SQLite writes the page, how many
// payments took each (table, part of a base, currency) (PageTally), and the sums are count × part, once per
// distinct pair (foldTally).

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
    const byCurrency = getOrMake(this.byTable, table, () => new Map<string, TableSums>());
    const n = table.seats.length + 1;
    const t = getOrMake(byCurrency, currency, () => ({ table, currency, lines: Array<number>(n).fill(0), shareMinor: Array<bigint>(n).fill(0n) }));
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

/** One currency's counts: keys below dense.length in dense (the keys met listed once in touched), others in sparse. */
interface Counts {
  readonly dense: Int32Array;
  readonly touched: number[];
  readonly sparse: Map<number, number>;
}

/**
 * How many payments of a page took each (table, part, currency), counted one call per payment. A (table,
 * part) pair comes as one integer key, part id × tables + table index, the index into `tableIds`. Keys below
 * `denseKeys` (the pairs known when the page starts) are counted in a typed array: a call costs an increment.
 * A payment whose part or route is missing comes with a null key and is counted apart (`missing`).
 */
export class PageTally {
  payments = 0;
  missing = 0;
  private readonly byCurrency = new Map<string, Counts>();
  private lastCurrency: string | null = null;
  private last: Counts | null = null;

  constructor(
    private readonly tableIds: readonly number[],
    private readonly denseKeys: number = 0,
  ) {}

  /** Counts one payment; returns its table id (null for a missing key). */
  add(key: number | null, currency: string): number | null {
    if (key === null) {
      this.missing++;
      return null;
    }
    let c = this.last;
    if (currency !== this.lastCurrency || c === null) {
      c = getOrMake(this.byCurrency, currency, () => ({ dense: new Int32Array(Math.min(this.denseKeys, TALLY_DENSE_KEYS_MAX)), touched: [], sparse: new Map<number, number>() }));
      this.last = c;
      this.lastCurrency = currency;
    }
    if (key < c.dense.length) {
      const n = c.dense[key] as number;
      if (n === 0) c.touched.push(key);
      c.dense[key] = n + 1;
    } else c.sparse.set(key, (c.sparse.get(key) ?? 0) + 1);
    this.payments++;
    return this.tableIdOf(key);
  }

  forEach(visit: (tableId: number, partId: number, currency: string, count: number) => void): void {
    const tables = this.tableIds.length;
    for (const [currency, c] of this.byCurrency) {
      for (const key of c.touched) visit(this.tableIdOf(key), Math.floor(key / tables), currency, c.dense[key] as number);
      for (const [key, count] of c.sparse) visit(this.tableIdOf(key), Math.floor(key / tables), currency, count);
    }
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

/** A tally's sums, lines, clips and negative bases, given its tables and parts by id. */
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
  return { payments: tally.payments, sums, lines, clippedMinor, clippedPayments, negative };
}
