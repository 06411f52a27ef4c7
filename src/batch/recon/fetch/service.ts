// Fetching one channel's statement file for a business date: resolve where it is, poll with back-off
// while it is not there yet (until the source's deadline), download it under a size cap, keep it
// content-addressed, and log every attempt. Fetching the same bytes again writes nothing new.
// Time comes in through `clock` and `sleep`, so tests drive the polling without waiting.

import { posix } from 'node:path';
import { isIsoDate } from '../../../ledger/index.js';
import { describeZodIssue } from '../../../ledger/chart-config.js';
import type { ReconChannelConfig } from '../config.js';
import { ReconError } from '../errors.js';
import { archiveStream, prepareArchive } from './archive.js';
import type { Fetcher } from './fetcher.js';
import { FtpFetcher } from './ftp.js';
import { HttpFetcher } from './http.js';
import { LocalFetcher } from './local.js';
import { dateParts, fillTemplate, joinUnderRoot, resolvePathTemplate } from './path-template.js';
import type { FetchAttempt, FetchLogStore, FetchOutcome } from './port.js';
import { optionalSecret, readCaFile, secretFromEnv, type Env } from './secrets.js';
import { SftpFetcher } from './sftp.js';
import { describeSource, parseSource, type SourceConfig, type SourceType } from './source-config.js';

/** However the source is configured, one fetch makes at most this many attempts. */
export const FETCH_ATTEMPTS_MAX = 1000;

export interface FetchResult {
  readonly channel: string;
  readonly date: string;
  readonly sha256: string;
  readonly bytes: number;
  /** Absolute path of the kept file: `<archive>/<sha256[0..2]>/<sha256>`. */
  readonly archivedPath: string;
  /** Where it came from, without secrets. */
  readonly source: string;
  readonly sourceType: SourceType;
  readonly remotePath: string;
  /** False when this channel and date already had exactly these bytes (nothing new was written). */
  readonly newFile: boolean;
  readonly attempts: number;
}

export type FetchProgress =
  | { readonly kind: 'attempt'; readonly attempt: number; readonly remotePath: string }
  | { readonly kind: 'not_ready'; readonly attempt: number; readonly retryInMs: number }
  | { readonly kind: 'fetched'; readonly bytes: number; readonly sha256: string; readonly newFile: boolean };

export interface FetchDeps {
  readonly store: FetchLogStore;
  /** The folder of kept raw files (created when missing). */
  readonly archiveDir: string;
  readonly env: Env;
  readonly clock: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onProgress?: (event: FetchProgress) => void;
  /** Relative `dir` of a local source resolves against this (default: the process's working folder). */
  readonly cwd?: string;
}

const realSleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** The validated source of a channel; `source_invalid` when it is missing or wrong. */
export function channelSource(channel: ReconChannelConfig): SourceConfig {
  if (channel.source === undefined) throw new ReconError('source_invalid', `Channel ${channel.channel} has no source to fetch from.`);
  const parsed = parseSource(channel.source);
  if (!parsed.ok) throw new ReconError('source_invalid', describeZodIssue(parsed.error, `recon channel ${channel.channel}: source`));
  return parsed.value;
}

/** The path the file has on the source for the date (relative to the source's root or folder). */
export function remotePathFor(source: SourceConfig, date: string): string {
  const relative = resolvePathTemplate(source.path_template, date, source.date_offset_days);
  return source.type === 'sftp' || source.type === 'ftp' || source.type === 'ftps' ? joinUnderRoot(source.root, relative) : relative;
}

/** Builds the protocol's fetcher, reading its secrets now (so a missing one fails before any attempt). */
export function createFetcher(source: SourceConfig, date: string, env: Env, cwd: string): Fetcher {
  switch (source.type) {
    case 'local':
      return new LocalFetcher(source, cwd);
    case 'sftp': {
      const password = optionalSecret(env, { env: source.password_env, file: source.password_file }, 'SFTP password');
      const privateKey = optionalSecret(env, { env: source.private_key_env, file: source.private_key_file }, 'SFTP private key');
      const passphrase = source.passphrase_env === undefined ? undefined : secretFromEnv(env, source.passphrase_env, 'private key passphrase');
      return new SftpFetcher(source, {
        ...(password !== undefined ? { password } : {}),
        ...(privateKey !== undefined ? { privateKey } : {}),
        ...(passphrase !== undefined ? { passphrase } : {}),
      });
    }
    case 'ftp':
    case 'ftps':
      return new FtpFetcher(source, optionalSecret(env, { env: source.password_env, file: source.password_file }, 'FTP password'));
    case 'http':
    case 'https': {
      const headers: Record<string, string> = {};
      for (const [name, variable] of Object.entries(source.headers_env)) headers[name] = secretFromEnv(env, variable, `${name} header`);
      return new HttpFetcher({
        baseUrl: fillTemplate(source.url_template, dateParts(date, source.date_offset_days)),
        headers,
        timeoutMs: source.timeout_ms,
        ...(source.type === 'https' && source.ca_file !== undefined ? { ca: readCaFile(source.ca_file) } : {}),
      });
    }
  }
}

/** The wait before retry number `attempt + 1`: doubling from retry_interval_s, capped. */
export function backoffMs(source: Pick<SourceConfig, 'retry_interval_s' | 'retry_interval_max_s'>, attempt: number): number {
  const doublings = Math.min(attempt - 1, 30);
  return Math.min(source.retry_interval_s * 1000 * 2 ** doublings, source.retry_interval_max_s * 1000);
}

type AttemptResult = { readonly ready: false } | { readonly ready: true; readonly sha256: string; readonly bytes: number; readonly relativePath: string; readonly absolutePath: string };

async function attemptOnce(fetcher: Fetcher, remotePath: string, source: SourceConfig, archiveDir: string): Promise<AttemptResult> {
  try {
    if (!(await fetcher.exists(remotePath))) return { ready: false };
    await prepareArchive(archiveDir);
    const stream = await fetcher.get(remotePath, source.bytes_max);
    const archived = await archiveStream(archiveDir, stream);
    return { ready: true, ...archived };
  } catch (e) {
    // Listed a moment ago, gone (or not yet complete) now: the same as not there yet.
    if (e instanceof ReconError && e.code === 'file_not_ready') return { ready: false };
    throw e;
  } finally {
    await fetcher.close();
  }
}

export async function fetchStatement(channel: ReconChannelConfig, date: string, deps: FetchDeps): Promise<FetchResult> {
  if (!isIsoDate(date)) throw new ReconError('date_invalid', `${JSON.stringify(date)} is not a YYYY-MM-DD calendar date.`);
  const source = channelSource(channel);
  const remotePath = remotePathFor(source, date);
  const described = describeSource(source);
  const originalName = posix.basename(remotePath);
  const sleep = deps.sleep ?? realSleep;
  const cwd = deps.cwd ?? process.cwd();
  const deadlineMs = deps.clock() + source.deadline_s * 1000;

  const record = (attempt: number, startedAtMs: number, outcome: FetchOutcome, extra: Partial<FetchAttempt> = {}): Promise<void> =>
    deps.store.recordAttempt({
      channel: channel.channel,
      businessDate: date,
      attempt,
      sourceType: source.type,
      source: described,
      remotePath,
      outcome,
      bytes: null,
      sha256: null,
      originalName: null,
      archivedPath: null,
      errorCode: null,
      errorMessage: null,
      startedAtMs,
      finishedAtMs: deps.clock(),
      ...extra,
    });

  for (let attempt = 1; ; attempt++) {
    const startedAtMs = deps.clock();
    deps.onProgress?.({ kind: 'attempt', attempt, remotePath });
    let result: AttemptResult;
    try {
      result = await attemptOnce(createFetcher(source, date, deps.env, cwd), remotePath, source, deps.archiveDir);
    } catch (e) {
      const code = e instanceof ReconError ? e.code : null;
      await record(attempt, startedAtMs, 'failed', { errorCode: code, errorMessage: (e as Error).message.slice(0, 2000) });
      throw e;
    }
    if (result.ready) {
      const newFile = (await deps.store.findFetched(channel.channel, date, result.sha256)) === undefined;
      await record(attempt, startedAtMs, newFile ? 'fetched' : 'unchanged', {
        bytes: result.bytes,
        sha256: result.sha256,
        originalName,
        archivedPath: result.relativePath,
      });
      deps.onProgress?.({ kind: 'fetched', bytes: result.bytes, sha256: result.sha256, newFile });
      return {
        channel: channel.channel,
        date,
        sha256: result.sha256,
        bytes: result.bytes,
        archivedPath: result.absolutePath,
        source: described,
        sourceType: source.type,
        remotePath,
        newFile,
        attempts: attempt,
      };
    }
    await record(attempt, startedAtMs, 'not_ready', { errorCode: 'file_not_ready' });
    const leftMs = deadlineMs - deps.clock();
    if (leftMs <= 0 || attempt >= FETCH_ATTEMPTS_MAX) {
      const waited = source.deadline_s > 0 ? ` after ${attempt} attempt(s) over ${source.deadline_s} s` : '';
      throw new ReconError('file_not_ready', `${remotePath} from ${described} for ${channel.channel} on ${date} is not there${waited}.`);
    }
    const retryInMs = Math.min(backoffMs(source, attempt), leftMs);
    deps.onProgress?.({ kind: 'not_ready', attempt, retryInMs });
    await sleep(retryInMs);
  }
}
