// The worker thread of a month's volumes (month-pairs.ts): on its own read-only connection, takes the next
// slice of the month not taken yet, sums it and sends the sums, until none is left.

import { workerData } from 'node:worker_threads';
import { openSqlite } from '../../../ledger/sqlite/database.js';
import { markSent, sumSlice, takeSlice, type MonthPairsJob, type SliceSums } from './month-pairs.js';

const job = workerData as MonthPairsJob;
const state = new Int32Array(job.state);
const slices = job.bounds.length - 1;

const db = openSqlite(job.path, { readonly: true });
try {
  for (let slice = takeSlice(state, slices); slice !== null; slice = takeSlice(state, slices)) {
    const sums: SliceSums = { slice, rows: sumSlice(db, job, slice) };
    job.port.postMessage(sums);
    markSent(state);
  }
} finally {
  db.close();
  job.port.close();
}
