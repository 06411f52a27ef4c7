// The worker thread of a large date's statements (statement-halves.ts): on its own read-only connection,
// writes the rows of the second half of the date's payments into its own part files and hands them over.

import { workerData } from 'node:worker_threads';
import { openSqlite, statementCache } from '../../../ledger/sqlite/database.js';
import { SplitReader } from '../sqlite-splits.js';
import { writeStatementHalf, type StatementHalfJob } from '../statement-halves.js';

/** The job, the database's file, and the payments per page the store reads (sqlite.ts). */
export interface StatementWorkerData extends StatementHalfJob {
  readonly path: string;
  readonly splitPagePayments: number | undefined;
}

const job = workerData as StatementWorkerData;

writeStatementHalf(job, (visit, range) => {
  const db = openSqlite(job.path, { readonly: true });
  try {
    new SplitReader(statementCache(db), job.splitPagePayments).each(job.businessDate, visit, range);
  } finally {
    db.close();
  }
});
