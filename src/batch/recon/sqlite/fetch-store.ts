// The SQLite adapter of the fetch log port: one row per attempt, in migration module 'recon_fetch'.
// It receives the shared connection (opened by src/ledger/sqlite/database.ts) and never opens one itself.

import type { SqliteConnection, SqliteStatement } from '../../../ledger/sqlite/database.js';
import { migrateModule } from '../../../ledger/sqlite/database.js';
import type { FetchAttempt, FetchLogStore, FetchOutcome } from '../fetch/port.js';
import type { SourceType } from '../fetch/source-config.js';

export const RECON_FETCH_MIGRATIONS: readonly string[] = [
  `CREATE TABLE recon_fetch_log (
     fetch_id INTEGER PRIMARY KEY,
     channel TEXT NOT NULL,
     business_date TEXT NOT NULL,
     attempt INTEGER NOT NULL CHECK (attempt >= 1),
     source_type TEXT NOT NULL,
     source TEXT NOT NULL,
     remote_path TEXT NOT NULL,
     outcome TEXT NOT NULL CHECK (outcome IN ('fetched', 'unchanged', 'not_ready', 'failed')),
     bytes INTEGER CHECK (bytes IS NULL OR bytes >= 0),
     sha256 TEXT CHECK (sha256 IS NULL OR length(sha256) = 64),
     original_name TEXT,
     archived_path TEXT,
     error_code TEXT,
     error_message TEXT,
     started_at_ms INTEGER NOT NULL,
     finished_at_ms INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX recon_fetch_log_by_day ON recon_fetch_log (channel, business_date, outcome, sha256);`,
];

interface Row {
  channel: string;
  business_date: string;
  attempt: bigint;
  source_type: string;
  source: string;
  remote_path: string;
  outcome: string;
  bytes: bigint | null;
  sha256: string | null;
  original_name: string | null;
  archived_path: string | null;
  error_code: string | null;
  error_message: string | null;
  started_at_ms: bigint;
  finished_at_ms: bigint;
}

function toAttempt(row: Row): FetchAttempt {
  return {
    channel: row.channel,
    businessDate: row.business_date,
    attempt: Number(row.attempt),
    sourceType: row.source_type as SourceType,
    source: row.source,
    remotePath: row.remote_path,
    outcome: row.outcome as FetchOutcome,
    bytes: row.bytes === null ? null : Number(row.bytes),
    sha256: row.sha256,
    originalName: row.original_name,
    archivedPath: row.archived_path,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    startedAtMs: Number(row.started_at_ms),
    finishedAtMs: Number(row.finished_at_ms),
  };
}

const COLUMNS = `channel, business_date, attempt, source_type, source, remote_path, outcome, bytes, sha256, original_name,
  archived_path, error_code, error_message, started_at_ms, finished_at_ms`;

export class SqliteFetchLogStore implements FetchLogStore {
  private readonly insert: SqliteStatement;
  private readonly byContent: SqliteStatement;
  private readonly latest: SqliteStatement;
  private readonly list: SqliteStatement;

  private constructor(db: SqliteConnection) {
    this.insert = db.prepare(
      `INSERT INTO recon_fetch_log (${COLUMNS}) VALUES (@channel, @business_date, @attempt, @source_type, @source, @remote_path, @outcome,
         @bytes, @sha256, @original_name, @archived_path, @error_code, @error_message, @started_at_ms, @finished_at_ms)`,
    );
    this.byContent = db.prepare(
      `SELECT ${COLUMNS} FROM recon_fetch_log WHERE channel = ? AND business_date = ? AND outcome = 'fetched' AND sha256 = ? ORDER BY fetch_id LIMIT 1`,
    );
    this.latest = db.prepare(
      `SELECT ${COLUMNS} FROM recon_fetch_log WHERE channel = ? AND business_date = ? AND outcome IN ('fetched', 'unchanged') ORDER BY fetch_id DESC LIMIT 1`,
    );
    this.list = db.prepare(`SELECT ${COLUMNS} FROM recon_fetch_log WHERE channel = ? AND business_date = ? ORDER BY fetch_id DESC LIMIT ?`);
  }

  /** Brings the schema up to date (module 'recon_fetch') and prepares the statements. */
  static open(db: SqliteConnection): SqliteFetchLogStore {
    migrateModule(db, 'recon_fetch', RECON_FETCH_MIGRATIONS);
    return new SqliteFetchLogStore(db);
  }

  async recordAttempt(a: FetchAttempt): Promise<void> {
    this.insert.run({
      channel: a.channel,
      business_date: a.businessDate,
      attempt: a.attempt,
      source_type: a.sourceType,
      source: a.source,
      remote_path: a.remotePath,
      outcome: a.outcome,
      bytes: a.bytes,
      sha256: a.sha256,
      original_name: a.originalName,
      archived_path: a.archivedPath,
      error_code: a.errorCode,
      error_message: a.errorMessage,
      started_at_ms: a.startedAtMs,
      finished_at_ms: a.finishedAtMs,
    });
  }

  async findFetched(channel: string, businessDate: string, sha256: string): Promise<FetchAttempt | undefined> {
    const row = this.byContent.get(channel, businessDate, sha256) as Row | undefined;
    return row === undefined ? undefined : toAttempt(row);
  }

  async latestFetched(channel: string, businessDate: string): Promise<FetchAttempt | undefined> {
    const row = this.latest.get(channel, businessDate) as Row | undefined;
    return row === undefined ? undefined : toAttempt(row);
  }

  async listAttempts(channel: string, businessDate: string, limit: number): Promise<FetchAttempt[]> {
    const capped = Math.max(1, Math.min(Math.trunc(limit), 10_000));
    return (this.list.all(channel, businessDate, capped) as Row[]).map(toAttempt);
  }
}
