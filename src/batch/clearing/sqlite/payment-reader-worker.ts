// The worker thread of a clearing run's read of payments (payment-reader.ts): it opens its own read-only
// connection and claims the start; if the main thread has claimed it (it is reading the first windows), it
// says it is ready and waits to be told where to go on. It reads the spans' windows in order and posts each
// that holds payments, with its merchants numbered and its integers parsed (WindowParser; the
// typed arrays transferred, not copied). It waits on a shared counter while windowsAheadMax windows are
// not yet taken, and stops once it has posted `limit` payments (the run refuses a day of more).

import { parentPort, workerData } from 'node:worker_threads';
import { openSqlite, statementCache, type SqliteConnection } from '../../../ledger/sqlite/database.js';
import { CLAIM, CLAIMED_BY_NONE, CLAIMED_BY_WORKER, IN_FLIGHT, type PaymentReaderJob, type PaymentReaderMessage, type PaymentReaderStart } from './payment-reader.js';
import { paymentWindows, WindowParser } from './payment-windows.js';

const job = workerData as PaymentReaderJob;
const shared = new Int32Array(job.shared);

function post(m: PaymentReaderMessage): void {
  parentPort?.postMessage(m);
}

const failed = (e: unknown): void => post({ t: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });

/** Blocks while the main thread has windowsAheadMax windows not yet taken. */
function waitForRoom(): void {
  for (;;) {
    const n = Atomics.load(shared, IN_FLIGHT);
    if (n < job.windowsAheadMax) return;
    Atomics.wait(shared, IN_FLIGHT, n, 1_000);
  }
}

function read(db: SqliteConnection, { from, limit }: PaymentReaderStart): void {
  let posted = 0;
  const parser = new WindowParser();
  for (const window of paymentWindows(statementCache(db), job.spans, from)) {
    if (window.n === 0) continue;
    const w = parser.parsed(window);
    waitForRoom();
    Atomics.add(shared, IN_FLIGHT, 1);
    const p = w.parsed;
    parentPort?.postMessage({ t: 'window', w } satisfies PaymentReaderMessage, p === undefined ? [] : [p.merchantNos.buffer, p.amounts.buffer, p.bookedFees.buffer]);
    posted += window.n;
    if (posted >= limit) break;
  }
  post({ t: 'end' });
}

try {
  const db = openSqlite(job.path, { readonly: true });
  db.pragma(`cache_size = -${job.pageCacheKib}`);
  const readFrom = (start: PaymentReaderStart): void => {
    try {
      read(db, start);
    } catch (e) {
      failed(e);
    } finally {
      db.close();
    }
  };
  if (Atomics.compareExchange(shared, CLAIM, CLAIMED_BY_NONE, CLAIMED_BY_WORKER) === CLAIMED_BY_NONE) readFrom({ from: { span: 0, after: -1n }, limit: job.limit });
  else {
    parentPort?.once('message', readFrom);
    post({ t: 'ready' });
  }
} catch (e) {
  failed(e);
}
