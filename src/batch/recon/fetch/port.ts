// The fetch log port: what the fetch service needs from storage, and nothing more. One SQLite adapter
// implements it (src/batch/recon/sqlite/fetch-store.ts); a PostgreSQL one could, without changing the service.

import type { SourceType } from './source-config.js';

/**
 * fetched: a new file for the channel and date · unchanged: the same bytes as an earlier fetch (nothing
 * written) · not_ready: the file was not there yet · failed: any other error (see error_code).
 */
export type FetchOutcome = 'fetched' | 'unchanged' | 'not_ready' | 'failed';

export interface FetchAttempt {
  readonly channel: string;
  readonly businessDate: string;
  /** 1 for the first attempt of a fetch, 2 for the first retry, … */
  readonly attempt: number;
  readonly sourceType: SourceType;
  /** Where from, without secrets (`sftp://bills@10.0.0.5:22/outgoing`). */
  readonly source: string;
  readonly remotePath: string;
  readonly outcome: FetchOutcome;
  readonly bytes: number | null;
  readonly sha256: string | null;
  /** The file's own name (the last segment of the remote path). */
  readonly originalName: string | null;
  /** Relative to the archive folder: `<sha256[0..2]>/<sha256>`. */
  readonly archivedPath: string | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
}

export interface FetchLogStore {
  recordAttempt(attempt: FetchAttempt): Promise<void>;
  /** The first fetch of exactly these bytes for the channel and date, if there was one. */
  findFetched(channel: string, businessDate: string, sha256: string): Promise<FetchAttempt | undefined>;
  /** The newest successful fetch (fetched or unchanged) for the channel and date. */
  latestFetched(channel: string, businessDate: string): Promise<FetchAttempt | undefined>;
  /** Attempts for the channel and date, newest first, at most `limit`. */
  listAttempts(channel: string, businessDate: string, limit: number): Promise<FetchAttempt[]>;
}
