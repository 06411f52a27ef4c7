// What every command gets: where the database is, how to print, and the clock.

import { resolve } from 'node:path';
import { Ledger } from '../ledger/index.js';
import { JobLockedError, runJob, type JobOutcome } from '../batch/jobs/runner.js';
import { SqliteJobRunStore } from '../batch/jobs/sqlite/job-store.js';
import { openSqlite, type SqliteConnection } from '../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../ledger/sqlite/store.js';
import { SqliteOnlineStore } from '../online/sqlite/store.js';
import { AbortError } from './errors.js';
import type { Output } from './output.js';
import type { CliProgress } from './progress/index.js';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly clock: () => number;
  /** The process's own streams when run from a shell; absent in tests. Progress bars and `recon review` need a TTY. */
  readonly terminal?: CliTerminal;
}

export interface CliTerminal {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
}

export interface GlobalOptions {
  readonly db?: string;
  readonly json?: boolean;
}

export interface CommandContext {
  readonly io: CliIo;
  readonly out: Output;
  readonly dbPath: string;
  /** Progress of a long command (src/cli/progress): an ink bar on a terminal, log lines otherwise. */
  readonly progress?: (label: string) => Promise<CliProgress>;
}

export const DEFAULT_DB_FILE = 'settle.db';

/**
 * How long a batch job waits for SQLite's write lock before failing with SQLITE_BUSY (the connection's
 * busy timeout; other commands keep the default 5 s). The daemon, or another step of the night chain
 * running at once, holds the lock one transaction at a time, and each may start its next transaction
 * before a waiting job wakes up to try. Kept under the job's 30 s lease (JOB_LEASE_MS): while SQLite
 * waits, the thread that renews the lease waits too.
 */
export const BATCH_BUSY_TIMEOUT_MS = 20_000;

export function resolveDbPath(options: GlobalOptions, io: CliIo): string {
  return resolve(io.cwd, options.db ?? io.env['SETTLE_DB'] ?? DEFAULT_DB_FILE);
}

/**
 * Opens the ledger on an existing database, runs the work, and always closes the file. `synchronous` is the
 * connection's SQLite mode: FULL (the default) syncs every commit; a re-runnable bulk job may take NORMAL,
 * and a batch job BATCH_BUSY_TIMEOUT_MS as its busy timeout.
 */
export async function withLedger<T>(
  ctx: CommandContext,
  work: (ledger: Ledger, store: SqliteLedgerStore) => Promise<T>,
  options: { readonly synchronous?: 'FULL' | 'NORMAL'; readonly busyTimeoutMs?: number } = {},
): Promise<T> {
  const store = SqliteLedgerStore.open(ctx.dbPath, options);
  try {
    return await work(new Ledger(store, ctx.io.clock), store);
  } finally {
    await store.close();
  }
}

/** Wraps a command's action: builds its context and records its exit code. */
export type Run = (action: (ctx: CommandContext, ...args: never[]) => Promise<number>) => (...args: unknown[]) => Promise<void>;

/**
 * Opens the online core's store on an existing database (ledger attached, online schema migrated), runs
 * the work, and always closes the file. A missing file is db_not_found (openSqlite), not a new empty database.
 */
export async function withOnlineStore<T>(ctx: CommandContext, work: (store: SqliteOnlineStore) => Promise<T>): Promise<T> {
  const db = openSqlite(ctx.dbPath);
  try {
    const store = new SqliteOnlineStore(db, SqliteLedgerStore.attach(db, ctx.dbPath));
    return await work(store);
  } finally {
    db.close();
  }
}

/**
 * Runs a batch job's work under the run log and its lock (src/batch/jobs): a second run of the same job
 * and date while one is live is `job_locked` (exit 1); the run's outcome, counts and exit code are kept.
 * The work gets the open database connection; it must be idempotent per date.
 */
export async function withJobRun<T>(
  ctx: CommandContext,
  job: string,
  businessDate: string,
  work: (db: SqliteConnection) => Promise<JobOutcome<T>>,
): Promise<{ result: T; outcome: 'succeeded' | 'findings' }> {
  const db = openSqlite(ctx.dbPath, { busyTimeoutMs: BATCH_BUSY_TIMEOUT_MS });
  try {
    return await runJob({ store: new SqliteJobRunStore(db), clock: ctx.io.clock }, job, businessDate, () => work(db));
  } catch (e) {
    if (e instanceof JobLockedError) throw new AbortError('job_locked', e.message, 'Wait for it to finish (settle runs lists runs), or, if its process is gone, retry after its lease lapses (30 s).');
    throw e;
  } finally {
    db.close();
  }
}
