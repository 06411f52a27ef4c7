// The share statements of a large date on two threads (statement.ts). The date's payments (in id order, the
// order of eachSplitByPayment) are cut in two: this thread visits the first half into its parts while a
// worker thread, with its own read-only access to the store, visits the second half (its payments and their
// clawbacks) into its own part files (<file>.w.<n>.tmp) and hands them over. Each (party, currency) part of
// the file is then this thread's rows followed by the worker's (rows are in payment order, so that is the
// one-pass order) and totals summed over both, exact bigints: the same bytes as one pass.
//
// Who writes the second half is decided once, through a shared word (OWNER): the worker claims it when it
// starts; this thread, done with its half, claims it when the worker has not started (then it never will).
// A worker that fails, or makes no progress for `stallMs`, gives it back (or has it taken back): this thread
// then goes on with the second half itself into its own parts, exactly the one-pass path; the worker removes
// its part files. A date below `workerPaymentsMin` payments, a store with no worker, or a machine with no
// core to spare (by its load average, as month-pairs decides) is written here in one pass.

import { rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { PaymentRange, ShareStore, SplitVisitor } from './port.js';
import { PartFiles, type Part, type PartLimits } from './statement-parts.js';
import { statementPathOf, statementRows } from './statement-rows.js';

export const STATEMENT_WORKER = {
  /** Below this many payments of the date, one pass here: a worker costs ~50 ms to start (0.3-1 s under
   *  tsx) and the handed-over rows a copy; 200,000 payments take ~1 s to write. */
  workerPaymentsMin: 200_000,
  /** The share of the date's payments this thread writes: less than half, as it also finds the cut (~0.1 s
   *  for a million), starts the worker and copies the worker's rows into the files (~0.1 s). */
  shareHere: 0.45,
  /** A worker only while the one-minute load average is below the cores less this (this run counts ~1). */
  coresSpareMin: 0.5,
  /** How long this thread waits for a started worker to make progress before it writes the half itself. */
  stallMs: 10_000,
  /** How long `stop` waits, after taking the half back from a worker that had begun it, for the worker to
   *  remove its part files (it looks every PROGRESS_MASK + 1 payments): the process may end right after. */
  cleanupWaitMs: 5_000,
} as const;

export interface StatementWorkerOptions {
  /** STATEMENT_WORKER.workerPaymentsMin unless given (tests lower it). */
  readonly workerPaymentsMin?: number;
  /** Whether a worker may start (by the load average unless given; tests make it always). */
  readonly spareCore?: () => boolean;
  /** How long this thread, done with its half, waits for the worker to start (tests; 0 unless given). */
  readonly workerStartWaitMs?: number;
  /** STATEMENT_WORKER.stallMs unless given. */
  readonly stallMs?: number;
  /** STATEMENT_WORKER.cleanupWaitMs unless given. */
  readonly cleanupWaitMs?: number;
  /** Counts which thread wrote the second half (tests). */
  readonly counted?: { here: number; worker: number };
  /** Told why, when the worker failed and this thread wrote the second half instead (the files are whole). */
  readonly onWorkerFailed?: (reason: string) => void;
}

/** What the worker needs: the date, the statements' directory, header and limits, where its half starts,
 *  `state` (Int32 [OWNER, payments visited, DONE]) and the port it hands its parts over on. */
export interface StatementHalfJob {
  readonly businessDate: string;
  readonly dir: string;
  readonly header: string;
  readonly limits: PartLimits;
  readonly afterId: string;
  readonly state: SharedArrayBuffer;
  readonly port: MessagePort;
}

/** A worker's part, as handed over: its file holds the header and its rows. */
type HalfPart = Pick<Part, 'partyId' | 'partyKind' | 'currency' | 'tmp' | 'lines' | 'shareMinor' | 'clippedMinor'>;

const OWNER = 0;
const PROGRESS = 1;
/** Set to 1 by the worker once it is done with the job, its part files removed unless handed over. */
const DONE = 2;
/** OWNER: nobody yet, the worker (writing), this thread (or taken back), handed over, the worker failed. */
const FREE = 0;
const WORKER = 1;
const HERE = 2;
const HANDED = 3;
const FAILED = 4;
/** The slots and owners of `state`, for a test's stand-in worker. */
export const HALF_STATE = { OWNER, PROGRESS, DONE, FREE, WORKER, HERE } as const;
/** The worker shows progress (and looks whether it was taken back) every this many payments (+1, a mask). */
const PROGRESS_MASK = 4095;

/** Whether the machine has a core to spare for a worker, by its load average. */
const coreToSpare = (): boolean => (loadavg()[0] ?? 0) < availableParallelism() - STATEMENT_WORKER.coresSpareMin;

export interface SecondHalf {
  /** The last payment id of this thread's half. */
  readonly cutId: string;
  /** After this thread's half: the worker's parts by party and currency, or none when `writeHere` wrote the
   *  second half here (the worker never started, failed or stalled). */
  finish(writeHere: () => void): ReadonlyMap<string, ReadonlyMap<string, Part>>;
  /** Lets the worker go: takes the half back if it still runs, removes handed-over files not assembled. */
  stop(): void;
}

/** A worker writing the second half of the date, or null: one pass here. */
export function startSecondHalf(store: ShareStore, job: Pick<StatementHalfJob, 'businessDate' | 'dir' | 'header' | 'limits'>, options: StatementWorkerOptions): SecondHalf | null {
  if (store.paymentsCut === undefined || store.startStatementWorker === undefined || !(options.spareCore ?? coreToSpare)()) return null;
  const cutId = store.paymentsCut(job.businessDate, options.workerPaymentsMin ?? STATEMENT_WORKER.workerPaymentsMin, STATEMENT_WORKER.shareHere);
  if (cutId === null) return null;
  const state = new Int32Array(new SharedArrayBuffer(12));
  const { port1, port2 } = new MessageChannel();
  if (!store.startStatementWorker({ ...job, afterId: cutId, state: state.buffer as SharedArrayBuffer, port: port2 })) {
    port1.close();
    return null;
  }
  let handed: readonly HalfPart[] = [];
  /** Whether this thread took the half from a worker that had begun it (whose part files may still exist). */
  let takenBack = false;
  return {
    cutId,
    finish(writeHere) {
      const startBy = performance.now() + (options.workerStartWaitMs ?? 0);
      while (Atomics.load(state, OWNER) === FREE && performance.now() < startBy) Atomics.wait(state, OWNER, FREE, Math.max(1, startBy - performance.now()));
      Atomics.compareExchange(state, OWNER, FREE, HERE);
      const stallMs = options.stallMs ?? STATEMENT_WORKER.stallMs;
      while (Atomics.load(state, OWNER) === WORKER) {
        const progress = Atomics.load(state, PROGRESS);
        Atomics.wait(state, OWNER, WORKER, stallMs);
        if (Atomics.load(state, PROGRESS) === progress && Atomics.compareExchange(state, OWNER, WORKER, HERE) === WORKER) takenBack = true; // stalled
      }
      if (Atomics.load(state, OWNER) === HANDED) {
        const message = receiveMessageOnPort(port1)?.message as { parts: readonly HalfPart[] } | undefined;
        if (message === undefined) throw new Error('the statement worker handed its half over without its parts');
        handed = message.parts;
        if (options.counted !== undefined) options.counted.worker++;
        return partsByParty(handed);
      }
      if (Atomics.load(state, OWNER) === FAILED) {
        const message = receiveMessageOnPort(port1)?.message as { failed?: string } | undefined;
        options.onWorkerFailed?.(message?.failed ?? 'no reason given');
      }
      if (options.counted !== undefined) options.counted.here++;
      writeHere();
      return new Map();
    },
    stop() {
      Atomics.compareExchange(state, OWNER, FREE, HERE);
      if (Atomics.compareExchange(state, OWNER, WORKER, HERE) === WORKER) takenBack = true;
      // The worker removes its part files when it sees the take-back; the process may end right after this
      // (the worker does not keep it alive), so wait for that, a bounded time.
      if (takenBack) {
        const until = performance.now() + (options.cleanupWaitMs ?? STATEMENT_WORKER.cleanupWaitMs);
        while (Atomics.load(state, DONE) === 0 && performance.now() < until) Atomics.wait(state, DONE, 0, Math.max(1, until - performance.now()));
      }
      port1.close();
      // After a failure before they were joined (joined ones were renamed or removed already).
      for (const part of handed) rmSync(part.tmp, { force: true });
    },
  };
}

function partsByParty(handed: readonly HalfPart[]): Map<string, Map<string, Part>> {
  const parties = new Map<string, Map<string, Part>>();
  for (const h of handed) {
    let currencies = parties.get(h.partyId);
    if (currencies === undefined) parties.set(h.partyId, (currencies = new Map()));
    currencies.set(h.currency, { ...h, prefix: new Uint8Array(0), created: true, fd: null, bytes: null, used: 0 });
  }
  return parties;
}

/**
 * The worker's side: claims the second half (unless this thread has), visits it through `each` into its own
 * part files, and hands them over; on a failure, or when taken back, removes them.
 */
export function writeStatementHalf(job: StatementHalfJob, each: (visit: SplitVisitor, range: PaymentRange) => void): void {
  const state = new Int32Array(job.state);
  try {
    if (Atomics.compareExchange(state, OWNER, FREE, WORKER) !== FREE) return;
    const path = statementPathOf(job.dir, job.businessDate);
    const files = new PartFiles(job.header, job.limits, (partyId) => `${path(partyId)}.w`);
    try {
      const rows = statementRows(files, job.businessDate);
      let visited = 0;
      const split: SplitVisitor['split'] = (s) => {
        if ((++visited & PROGRESS_MASK) === 0) {
          if (Atomics.load(state, OWNER) !== WORKER) throw new Error('taken back');
          Atomics.store(state, PROGRESS, visited);
        }
        rows.split(s);
      };
      each({ split, clawback: rows.clawback }, { after: job.afterId, last: null });
      const parts: HalfPart[] = files.finish().map(({ partyId, partyKind, currency, tmp, lines, shareMinor, clippedMinor }) => ({ partyId, partyKind, currency, tmp, lines, shareMinor, clippedMinor }));
      job.port.postMessage({ parts });
      if (Atomics.compareExchange(state, OWNER, WORKER, HANDED) !== WORKER) files.discard();
    } catch (e) {
      // This thread writes the half itself, and says why (posted before FAILED, so it is there when seen).
      files.discard();
      if (Atomics.load(state, OWNER) === WORKER) job.port.postMessage({ failed: e instanceof Error ? e.message : String(e) });
      Atomics.compareExchange(state, OWNER, WORKER, FAILED);
    }
  } finally {
    Atomics.store(state, DONE, 1);
    Atomics.notify(state, DONE);
    Atomics.notify(state, OWNER);
    job.port.close();
  }
}
