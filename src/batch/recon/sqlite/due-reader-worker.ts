// The worker thread of a streaming match's read of our payments due on a date (due-reader.ts): its own
// read-only connection reads the pages in row id order and posts them as SQLite gave them; it waits on a
// shared counter while DUE_READER.pagesAheadMax pages are not yet taken, so the read never runs far ahead.

import { parentPort, workerData } from 'node:worker_threads';
import { openSqlite } from '../../../ledger/sqlite/database.js';
import { readDuePage } from './due-pages.js';
import type { DueReaderJob, DueReaderMessage } from './due-reader.js';

const job = workerData as DueReaderJob;
const inFlight = new Int32Array(job.inFlight);

function post(m: DueReaderMessage): void {
  parentPort?.postMessage(m);
}

try {
  const db = openSqlite(job.path, { readonly: true });
  try {
    for (let after = -1; ; ) {
      const page = readDuePage(db, job.channel, job.businessDate, after, job.pageRows);
      Atomics.add(inFlight, 0, 1);
      post({ t: 'page', page });
      if (page.n < job.pageRows) break;
      after = page.last;
      for (;;) {
        const n = Atomics.load(inFlight, 0);
        if (n < job.pagesAheadMax) break;
        Atomics.wait(inFlight, 0, n, 1_000);
      }
    }
  } finally {
    db.close();
  }
} catch (e) {
  post({ t: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
}
