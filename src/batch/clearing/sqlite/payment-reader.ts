// The windows of payments a clearing run reads (payment-windows.ts), taken in order: on this thread, or,
// for a large day in a database file, on a worker thread (payment-reader-worker.ts) with its own read-only
// connection. The worker runs the SQL, numbers the merchants and parses the amounts (WindowParser); this
// thread splits the ids, checks what is reconciled and fills the columns, beside it instead of after it
// (1M payments: this thread's CPU for the read ≈ 1.3 s instead of ≈ 2.7 s, the process's ≈ 0.2 s more).
//
// A worker takes ~50 ms to start (~0.5 s when it runs as TypeScript through tsx). Whichever thread claims
// the first window (a shared flag) reads from the start: the worker, when it is ready before this thread
// asks for windows (start(): this thread meanwhile indexes what reconciliation settled); else this thread,
// which reads windows itself until the worker is ready and then hands it the position reached. next()
// gives the windows read here, then the worker's: the same windows in the same order either way.

import type { Worker } from 'node:worker_threads';
import type { SqliteStatement } from '../../../ledger/sqlite/database.js';
import { startWorker } from '../../workers.js';
import { paymentWindows, type PaymentSpan, type PaymentWindow, type WindowsFrom } from './payment-windows.js';

export const PAYMENT_READER = {
  /**
   * Rowids a day's spans cover from which the read goes to a worker. Below, the read (~0.3 s per 100,000
   * payments) gains little, and under tsx (a worker ready after ~0.4 s) it is over before the worker is.
   */
  rowidsOnWorkerMin: 150_000,
  /** Windows (≤ 5,000 payments each on a dense day, ~0.15 MB) the worker may read ahead of those taken: enough for it to go on while this thread indexes what reconciliation settled. */
  windowsAheadMax: 64,
  /** The worker connection's page cache (KiB): each payment's settled check looks up clearing_item_rows. */
  pageCacheKib: 64 * 1024,
} as const;

/** The windows in order; undefined is the end. */
export interface PaymentWindows {
  /** Gets the read going (on a worker: once it has taken over, this thread is free while it reads ahead). */
  start(): Promise<void>;
  next(): Promise<PaymentWindow | undefined>;
  /** Stops the read (also before its end). */
  close(): void;
}

export interface PaymentReaderJob {
  readonly path: string;
  readonly spans: readonly PaymentSpan[];
  readonly windowsAheadMax: number;
  readonly pageCacheKib: number;
  /** The run's limit: payments after which a worker reading from the start stops. */
  readonly limit: number;
  /** Two Int32s: windows posted and not yet taken (IN_FLIGHT), and who reads from the start (CLAIM). */
  readonly shared: SharedArrayBuffer;
}

/** Indices into the job's shared Int32s, and the claim's values. */
export const IN_FLIGHT = 0;
export const CLAIM = 1;
export const CLAIMED_BY_NONE = 0;
export const CLAIMED_HERE = 1;
export const CLAIMED_BY_WORKER = 2;

/** What the worker is told once it is ready when this thread read the first windows: where to go on, and the payments after which it stops (the run's limit less those taken). */
export interface PaymentReaderStart {
  readonly from: WindowsFrom;
  readonly limit: number;
}

export type PaymentReaderMessage =
  | { readonly t: 'ready' }
  | { readonly t: 'window'; readonly w: PaymentWindow }
  | { readonly t: 'end' }
  | { readonly t: 'error'; readonly message: string };

/** On this thread, through the caller's statements. */
export function paymentWindowsHere(stmt: (sql: string) => SqliteStatement, spans: readonly PaymentSpan[]): PaymentWindows {
  const windows = paymentWindows(stmt, spans);
  return {
    start: async () => undefined,
    next: async () => windows.next().value ?? undefined,
    close: () => void windows.return(),
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * On a worker thread with its own read-only connection to the file at `path`; while it starts, at most
 * `windowsHereMax` windows on this thread (tests choose where the worker takes over).
 */
export function paymentWindowsOnWorker(stmt: (sql: string) => SqliteStatement, path: string, spans: readonly PaymentSpan[], limit: number, windowsHereMax = Infinity): PaymentWindows {
  const shared = new SharedArrayBuffer(8);
  const counter = new Int32Array(shared);
  const job: PaymentReaderJob = { path, spans, windowsAheadMax: PAYMENT_READER.windowsAheadMax, pageCacheKib: PAYMENT_READER.pageCacheKib, limit, shared };
  const worker: Worker = startWorker(import.meta.url, './payment-reader-worker', { workerData: job, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
  const queue: PaymentReaderMessage[] = [];
  let ready = false;
  let waiting: (() => void) | undefined;
  const arrived = (m: PaymentReaderMessage): void => {
    if (m.t === 'ready') ready = true;
    else queue.push(m);
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  const message = (): Promise<void> => new Promise<void>((resolve) => (waiting = resolve));
  worker.on('message', arrived);
  worker.on('error', (e) => arrived({ t: 'error', message: e.stack ?? e.message }));
  // Messages posted before the exit come first; an exit without 'end' is a failure.
  worker.on('exit', (code) => setImmediate(() => arrived({ t: 'error', message: `the payment reader exited (${code}) before the end` })));
  const here = paymentWindows(stmt, spans);
  /** Windows read on this thread while the worker started, not yet taken. */
  const readHere: PaymentWindow[] = [];
  let started: Promise<void> | undefined;
  /** The worker is asked for nothing (this thread read every window, or the read was closed). */
  let workerDone = false;
  /** Unless the worker reads from the start, reads here until it is ready (or has failed), then hands it the position reached. */
  const start = async (): Promise<void> => {
    let from: WindowsFrom = { span: 0, after: -1n };
    let takenHere = 0;
    let claimed = false;
    for (;;) {
      if (readHere.length >= windowsHereMax) while (!ready && queue.length === 0) await message();
      else await turn();
      if (ready || queue.length > 0 || workerDone) break;
      if (!claimed) {
        if (Atomics.compareExchange(counter, CLAIM, CLAIMED_BY_NONE, CLAIMED_HERE) !== CLAIMED_BY_NONE) break;
        claimed = true;
      }
      const r = here.next();
      if (r.done === true || takenHere + r.value.n >= limit) {
        if (r.done !== true) readHere.push(r.value);
        workerDone = true;
        void worker.terminate();
        return;
      }
      readHere.push(r.value);
      from = { span: r.value.span, after: r.value.upTo };
      takenHere += r.value.n;
    }
    // The worker waits for this only when this thread claimed the start (it reads from the start otherwise).
    if (claimed && !workerDone) worker.postMessage({ from, limit: limit - takenHere } satisfies PaymentReaderStart);
  };
  return {
    start: () => (started ??= start()),
    next: async () => {
      await (started ??= start());
      const w = readHere.shift();
      if (w !== undefined) return w;
      while (!workerDone) {
        const m = queue.shift();
        if (m === undefined) {
          await message();
          continue;
        }
        if (m.t === 'window') {
          Atomics.sub(counter, IN_FLIGHT, 1);
          Atomics.notify(counter, IN_FLIGHT);
          return m.w;
        }
        workerDone = true;
        if (m.t === 'error') throw new Error(`clearing: the read of payments failed: ${m.message}`);
      }
      return undefined;
    },
    close: () => {
      workerDone = true;
      void here.return();
      void worker.terminate();
    },
  };
}
