// Our payments due on a date, page by page in row id order, for a streaming match: read on a worker
// thread (due-reader-worker.ts) with its own read-only connection when the database is a file, so the
// read runs beside the match instead of before each block; on this thread otherwise.

import type { Worker } from 'node:worker_threads';
import type { SqliteConnection } from '../../../ledger/sqlite/database.js';
import { batchOf, type DueBatch } from '../due-window.js';
import { startWorker } from '../../workers.js';
import { batchOfPage, readDuePage, type DuePage } from './due-pages.js';

export const DUE_READER = {
  /**
   * Payments a page: few enough that a page's joined columns stay below V8's large-object size (128 KiB),
   * so they die young instead of piling up in the old generation (5,000 a page held ~25 MiB more at 1M).
   */
  pageRows: 2_000,
  /** Pages the worker may read ahead of those taken. */
  pagesAheadMax: 4,
} as const;

/** The day's payments a page at a time; an empty page is the end. */
export interface DuePayments {
  next(): Promise<DueBatch>;
  close(): void;
}

export interface DueReaderJob {
  readonly path: string;
  readonly channel: string;
  readonly businessDate: string;
  readonly pageRows: number;
  readonly pagesAheadMax: number;
  readonly inFlight: SharedArrayBuffer;
}

export type DueReaderMessage = { readonly t: 'page'; readonly page: DuePage } | { readonly t: 'error'; readonly message: string };

/** On this thread, through the given connection. */
export function duePaymentsHere(db: SqliteConnection, channel: string, businessDate: string, pageRows: number = DUE_READER.pageRows): DuePayments {
  let after = -1;
  let done = false;
  return {
    next: async () => {
      if (done) return batchOf([]);
      const page = readDuePage(db, channel, businessDate, after, pageRows);
      if (page.n < pageRows) done = true;
      after = page.last;
      return batchOfPage(page, businessDate);
    },
    close: () => undefined,
  };
}

/** On a worker thread with its own read-only connection to the file at `path`. */
export function duePaymentsOnWorker(path: string, channel: string, businessDate: string): DuePayments {
  const inFlight = new SharedArrayBuffer(4);
  const counter = new Int32Array(inFlight);
  const job: DueReaderJob = { path, channel, businessDate, pageRows: DUE_READER.pageRows, pagesAheadMax: DUE_READER.pagesAheadMax, inFlight };
  const worker: Worker = startWorker(import.meta.url, './due-reader-worker', { workerData: job, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
  const pages: DuePage[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  worker.on('message', (m: DueReaderMessage) => {
    if (m.t === 'page') {
      pages.push(m.page);
      if (m.page.n < DUE_READER.pageRows) ended = true;
    } else failure = new Error(`the read of our payments failed: ${m.message}`);
    notify();
  });
  worker.on('error', (e) => {
    failure = e;
    notify();
  });
  worker.on('exit', () => {
    // Pages posted before the exit are handled first; a missing end is then a failure.
    setImmediate(() => {
      if (!ended && failure === undefined) failure = new Error('the read of our payments stopped before the end');
      notify();
    });
  });
  let finished = false;
  return {
    next: async () => {
      for (;;) {
        const page = pages.shift();
        if (page !== undefined) {
          Atomics.sub(counter, 0, 1);
          Atomics.notify(counter, 0);
          if (page.n === 0) finished = true;
          return batchOfPage(page, businessDate);
        }
        if (failure !== undefined) throw failure;
        if (ended || finished) return batchOf([]);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    close: () => void worker.terminate(),
  };
}
