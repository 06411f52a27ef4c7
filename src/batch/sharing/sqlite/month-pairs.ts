// The month-to-date volume of each merchant and product (a routed run's tiers and routes follow from it),
// summed over the online core's payments. A large month is summed on two threads: its row id range is cut
// into slices, and this thread and a worker thread (month-pairs-worker.ts, with its own read-only connection
// to the file) each take the next slice not taken yet; the worker sends each slice's sums as it ends it. This
// thread does not wait for the worker: a slice the worker has not sent when none is left to take is summed
// here too (the worker's late sums are dropped), so a worker slow to start, or one that fails, costs at most
// the slice it holds. A small month, a database that is not a file, or a machine with no core to spare (by
// its load average, as `make -l` decides) is summed here by one query: a second thread only helps on an idle
// core, and on a busy machine it costs the other jobs its start and the slices' merging.

import { availableParallelism, loadavg } from 'node:os';
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import type { SqliteConnection } from '../../../ledger/sqlite/database.js';
import { startWorker } from '../../workers.js';

export const MONTH_PAIRS = {
  /** Below this many row ids between the month's first and last payment, one query on this thread: a worker
   *  costs ~50 ms to start (0.3-1 s under tsx), the sum of 250,000 payments about 0.2 s. */
  workerRowidsMin: 250_000,
  /** Slices of the month's row id range the two threads share out: at most one (the worker's last) is summed
   *  twice, so a small slice keeps the cost of a late worker small; each is a query and a merge of its sums. */
  slices: 16,
  /** A worker only while the machine's one-minute load average is below its cores less this (this run's own
   *  thread counts about 1): with 2 cores, below 1.5. */
  coresSpareMin: 0.5,
} as const;

/** Whether the machine has a core to spare for a worker, by its load average. */
export const coreToSpare = (): boolean => (loadavg()[0] ?? 0) < availableParallelism() - MONTH_PAIRS.coresSpareMin;

/** Statuses of a payment that succeeded (voided ones excluded). */
export const SUCCEEDED = "('succeeded', 'partially_refunded', 'refunded')";

/** A merchant's and product's volume: [merchant, product, volume in minor units]. */
export type MonthPairRow = [merchantId: string, product: string, volumeMinor: bigint];

/** Slices of a month: the payments of the dates from `fromDate` to `toDate` inclusive that succeeded, in slice
 *  i those with row ids in (bounds[i], bounds[i + 1]]. */
export interface MonthSlices {
  readonly fromDate: string;
  readonly toDate: string;
  readonly bounds: readonly bigint[];
}

/** The worker's job: its file, the slices, `state` (Int32 [slices taken by either thread, slices the worker
 *  has sent]) and the port it sends each slice's sums on. */
export interface MonthPairsJob extends MonthSlices {
  readonly path: string;
  readonly state: SharedArrayBuffer;
  readonly port: MessagePort;
}

/** What the worker sends for each slice it sums. */
export interface SliceSums {
  readonly slice: number;
  readonly rows: MonthPairRow[];
}

const TAKEN = 0;
const SENT = 1;

const MONTH_WHERE = `business_date >= @from AND business_date <= @to AND status IN ${SUCCEEDED}`;

/** The whole month in one query, in GROUP BY order. */
export function sumMonthPairs(db: SqliteConnection, fromDate: string, toDate: string): MonthPairRow[] {
  return db.prepare(`SELECT merchant_id, product, SUM(amount_minor) FROM payments WHERE ${MONTH_WHERE} GROUP BY merchant_id, product`).raw(true).all({ from: fromDate, to: toDate }) as MonthPairRow[];
}

/** The sums of one slice: a row id range, read in row id order. */
export function sumSlice(db: SqliteConnection, s: MonthSlices, slice: number): MonthPairRow[] {
  return db
    .prepare(`SELECT merchant_id, product, SUM(amount_minor) FROM payments WHERE rowid > @after AND rowid <= @last AND ${MONTH_WHERE} GROUP BY merchant_id, product`)
    .raw(true)
    .all({ from: s.fromDate, to: s.toDate, after: s.bounds[slice], last: s.bounds[slice + 1] }) as MonthPairRow[];
}

/** The sums of the month's payments outside every slice (inserted out of row id order), through the date
 *  index: `+rowid` keeps the planner off a row id range that would start at the table's first row. */
function sumOutside(db: SqliteConnection, s: MonthSlices): MonthPairRow[] {
  return db
    .prepare(`SELECT merchant_id, product, SUM(amount_minor) FROM payments WHERE ${MONTH_WHERE} AND (+rowid <= @first OR +rowid > @last) GROUP BY merchant_id, product`)
    .raw(true)
    .all({ from: s.fromDate, to: s.toDate, first: s.bounds[0], last: s.bounds[s.bounds.length - 1] }) as MonthPairRow[];
}

/** The next slice not taken by either thread, or null when none is left. */
export function takeSlice(state: Int32Array, slices: number): number | null {
  const slice = Atomics.add(state, TAKEN, 1);
  return slice < slices ? slice : null;
}

/** Tells the other thread that one more slice was sent. */
export function markSent(state: Int32Array): void {
  Atomics.add(state, SENT, 1);
  Atomics.notify(state, SENT);
}

function addRows(into: Map<string, MonthPairRow>, rows: readonly MonthPairRow[]): void {
  for (const [merchantId, product, volumeMinor] of rows) {
    const key = `${merchantId}\u0000${product}`;
    const known = into.get(key);
    if (known === undefined) into.set(key, [merchantId, product, volumeMinor]);
    else known[2] += volumeMinor;
  }
}

/** The row ids of a payment of the first date and of one of the last date in the range (the date index: two
 *  seeks), or null when the range has no payment. Only an estimate of where the month lies. */
function rowidEnds(db: SqliteConnection, fromDate: string, toDate: string): [bigint, bigint] | null {
  const end = (order: 'ASC' | 'DESC'): bigint | undefined =>
    db
      .prepare(`SELECT rowid FROM payments WHERE business_date >= ? AND business_date <= ? ORDER BY business_date ${order} LIMIT 1`)
      .pluck(true)
      .get(fromDate, toDate) as bigint | undefined;
  const first = end('ASC');
  const last = end('DESC');
  return first === undefined || last === undefined ? null : first <= last ? [first, last] : [last, first];
}

/** The order of SQLite's BINARY collation (UTF-8 bytes) on two strings: their code points in order. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

export interface MonthPairsOptions {
  /** MONTH_PAIRS.workerRowidsMin unless given. */
  readonly workerRowidsMin?: number;
  /** Slices this thread takes at most before it looks at what the worker sent (tests: 0 leaves them to it). */
  readonly slicesHereMax?: number;
  /** How long this thread waits for the worker's slices before it sums them itself (tests; 0 unless given). */
  readonly workerWaitMs?: number;
  /** Counts the slices each thread's sums were taken from (tests). */
  readonly counted?: { here: number; worker: number };
  /** Whether a worker may start (coreToSpare unless given; tests make it always). */
  readonly spareCore?: () => boolean;
}

/** A worker summing slices of the month; its failure is left to show as slices it never sent. */
function startSlicesWorker(job: Omit<MonthPairsJob, 'port'>): { port: MessagePort; stop(): void } {
  const { port1, port2 } = new MessageChannel();
  const worker: Worker = startWorker(import.meta.url, './month-pairs-worker', { workerData: { ...job, port: port2 }, transferList: [port2] });
  worker.on('error', () => undefined);
  worker.unref();
  return {
    port: port1,
    stop: () => {
      port1.close();
      void worker.terminate();
    },
  };
}

/**
 * The month's volume per merchant and product, in the order one GROUP BY query gives. `path`: the database's
 * file, for a worker's own connection (null, '' or ':memory:': this thread only). A worker reads what is
 * committed: with a transaction open on `db`, this thread sums alone.
 */
export function monthPairsOf(db: SqliteConnection, path: string | null, fromDate: string, toDate: string, options: MonthPairsOptions = {}): MonthPairRow[] {
  if (path === null || path === '' || path === ':memory:' || db.inTransaction) return sumMonthPairs(db, fromDate, toDate);
  const ends = rowidEnds(db, fromDate, toDate);
  if (ends === null) return [];
  const [first, last] = ends;
  if (last - first < BigInt(options.workerRowidsMin ?? MONTH_PAIRS.workerRowidsMin) || !(options.spareCore ?? coreToSpare)()) return sumMonthPairs(db, fromDate, toDate);
  // Slices from just below the first payment found to the last (row id ranges: read in row id order, no
  // index); payments of the month outside them (inserted out of order) are summed here first, through the
  // date index, while the worker starts.
  const n = MONTH_PAIRS.slices;
  const bounds = Array.from({ length: n + 1 }, (_, i) => first - 1n + ((last - first + 1n) * BigInt(i)) / BigInt(n));
  const slices: MonthSlices = { fromDate, toDate, bounds };
  const state = new Int32Array(new SharedArrayBuffer(8));
  const worker = startSlicesWorker({ ...slices, path, state: state.buffer as SharedArrayBuffer });
  try {
    const sums = new Map<string, MonthPairRow>();
    addRows(sums, sumOutside(db, slices));
    const summed = new Uint8Array(n);
    let left = n;
    const add = (slice: number, rows: readonly MonthPairRow[], from: 'here' | 'worker'): void => {
      if (summed[slice] === 1) return;
      addRows(sums, rows);
      summed[slice] = 1;
      left--;
      if (options.counted !== undefined) options.counted[from]++;
    };
    const receive = (): void => {
      for (let m = receiveMessageOnPort(worker.port); m !== undefined; m = receiveMessageOnPort(worker.port)) {
        const { slice, rows } = m.message as SliceSums;
        add(slice, rows, 'worker');
      }
    };
    for (let mine = 0; mine < (options.slicesHereMax ?? n); mine++) {
      const slice = takeSlice(state, n);
      if (slice === null) break;
      add(slice, sumSlice(db, slices, slice), 'here');
      receive();
    }
    const waitUntil = performance.now() + (options.workerWaitMs ?? 0);
    for (receive(); left > 0 && performance.now() < waitUntil; receive()) Atomics.wait(state, SENT, Atomics.load(state, SENT), Math.max(1, waitUntil - performance.now()));
    // What the worker holds or never took is summed here (none is left for it to take).
    Atomics.store(state, TAKEN, n);
    receive();
    for (let slice = 0; slice < n; slice++) if (summed[slice] === 0) add(slice, sumSlice(db, slices, slice), 'here');
    return [...sums.values()].sort((x, y) => compareCodePoints(x[0], y[0]) || compareCodePoints(x[1], y[1]));
  } finally {
    worker.stop();
  }
}
