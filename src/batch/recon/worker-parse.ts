// Parsing a channel's file on another thread while this one does the rest of an import: one worker
// (parse-worker.ts) hashes the file — so an unchanged file is known early and its parse stopped — while a
// second parses it at once and sends the lines in packed blocks, which wait here until the import asks. Meanwhile this thread is free to
// read our side of the day from the database, then stores each block as it comes. On a 2-core machine a
// million-line file's parse and our million records' read overlap instead of adding up.
//
// Small files are parsed on this thread (a worker's start-up costs more than it saves). Errors keep
// their stable codes across the thread boundary.

import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { ReconError, type ReconErrorCode } from './errors.js';
import type { ParseOptions } from './formats/index.js';
import { resolveLimits } from './formats/limits.js';
import { fileSha256, fileSource, type ByteSource } from './formats/source.js';
import { looksLikeZip, readZipDirectory } from './formats/zip.js';
import { blocksOf, type BlockSource } from './import.js';
import { decodeBlock, type EncodedLineBlock, type StoredBlock } from './line-block.js';
import type { StatementSummary } from './line.js';
import { parseStatementFile } from './formats/index.js';
import { startWorker } from '../workers.js';

export const WORKER_PARSE = {
  /**
   * Files with this many bytes to parse or more are parsed on a worker thread ('auto'); a zip's bytes to
   * parse are its entries' declared sizes, not the archive's. Counted by the archive, a 300k-row Alipay zip
   * (7.8 MiB, 60 MiB inflated) was parsed on the importing thread: 2.1-2.3 s and 204-210 MiB, against
   * 1.8 s and 190 MiB on a worker (session 13).
   */
  minBytes: 8 * 1024 * 1024,
  /**
   * Blocks the parser may be ahead of the importing thread before it waits (a block is 2,000 lines, ~0.2
   * MB, and counts until it is stored and matched): enough to even out the two threads' pace, few enough
   * that a million-line import holds no more memory than a small one. WeChat 1M, alternated (session 12):
   * 24 peaked at 209-219 MiB, 8 at 189-206 MiB in the same time (3.60-3.75 s), 4 at 203-214 MiB and
   * slower (3.88-3.98 s); at 100k, 187 MiB either way. Alipay 1M: 214, 218 against 210, 213 MiB.
   */
  blocksInFlightMax: 8,
  /** Each worker's young generation (V8 semi-spaces), MiB. */
  youngGenerationMb: 12,
} as const;

/**
 * How many bytes a parse of the file reads: its size, or for a zip the sizes its directory declares for
 * its entries (the parse refuses an entry that inflates past its declared size). A file that cannot be
 * read, or a zip whose directory is damaged, counts by its size: the parse itself reports what is wrong.
 */
export async function bytesToParse(path: string, options: Pick<ParseOptions, 'limits'>): Promise<number> {
  let source: ByteSource;
  try {
    source = await fileSource(path);
  } catch {
    return 0;
  }
  try {
    if (source.sizeBytes >= WORKER_PARSE.minBytes || !looksLikeZip(await source.read(0, 4))) return source.sizeBytes;
    const archive = await readZipDirectory(source, resolveLimits(options.limits));
    return archive.entries.reduce((sum, e) => sum + e.uncompressedBytes, 0);
  } catch {
    return source.sizeBytes;
  } finally {
    await source.close();
  }
}

/** What the worker is given (workerData). */
export interface ParseJob {
  readonly path: string;
  readonly options: Omit<ParseOptions, 'onProgress'>;
  /** What this worker does: hash the file, or parse it. */
  readonly task: 'hash' | 'parse';
  /** A SharedArrayBuffer of one Int32: blocks posted and not yet taken. */
  readonly inFlight: SharedArrayBuffer;
  readonly blocksInFlightMax: number;
  /** Tests: a SharedArrayBuffer of one Int32 the hasher waits on until it is set non-zero (a late hash). */
  readonly hashGate?: SharedArrayBuffer | undefined;
  /** The parser's: the buffers of blocks this thread is done with come back over it, to be written again. */
  readonly recycle?: MessagePort | undefined;
}

export type WorkerMessage =
  | { readonly t: 'sha256'; readonly hex: string }
  | { readonly t: 'block'; readonly rows: number; readonly encoded: StoredBlock }
  | { readonly t: 'done'; readonly summary: StatementSummary; readonly buffersMade?: number }
  | { readonly t: 'error'; readonly code: ReconErrorCode | null; readonly message: string };

/** A file being hashed, and then parsed when `blocks` is called; `close` when it is not wanted. */
export interface FileParse {
  readonly sha256: Promise<string>;
  readonly blocks: BlockSource;
  readonly onWorker: boolean;
  /** On a worker, once the parse has ended: the block buffers it made (it reuses those given back). */
  readonly buffersMade: number | undefined;
  close(): void;
}

/**
 * The worker: parse-worker.js next to this module; run from TypeScript (tests, benchmarks, tsx), the .ts
 * file behind a loader that registers tsx in the worker first (tsx's --import does not reach workers).
 */
function startParseWorker(job: ParseJob): Worker {
  // A small young generation: the parser's garbage is short-lived (a line's cells, a block's texts), and
  // V8's default lets it take ~30 MiB more of the process's memory for no measurable speed.
  return startWorker(import.meta.url, job.task === 'hash' ? './hash-worker' : './parse-worker', {
    workerData: job,
    transferList: job.recycle ? [job.recycle] : [],
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_PARSE.youngGenerationMb },
  });
}

function onThisThread(path: string, options: Omit<ParseOptions, 'onProgress'>, knownSha256: string | undefined): FileParse {
  return {
    sha256: knownSha256 !== undefined ? Promise.resolve(knownSha256) : fileSha256(path),
    blocks: blocksOf((onLine) => parseStatementFile(path, options, onLine)),
    onWorker: false,
    buffersMade: undefined,
    close: () => undefined,
  };
}

/**
 * Starts hashing (unless `knownSha256` is given) and prepares the parse of `path`. `mode` 'auto' uses a
 * worker for files of WORKER_PARSE.minBytes and more; 'always' and 'never' force it (tests).
 */
export async function startFileParse(
  path: string,
  options: Omit<ParseOptions, 'onProgress'>,
  opts: {
    readonly mode?: 'auto' | 'always' | 'never';
    readonly knownSha256?: string;
    readonly hashGate?: SharedArrayBuffer;
    /** Tests: blocks the parser may run ahead (default WORKER_PARSE.blocksInFlightMax). */
    readonly blocksInFlightMax?: number;
  } = {},
): Promise<FileParse> {
  const mode = opts.mode ?? 'auto';
  if (mode === 'never') return onThisThread(path, options, opts.knownSha256);
  if (mode === 'auto' && (await bytesToParse(path, options)) < WORKER_PARSE.minBytes) return onThisThread(path, options, opts.knownSha256);
  const inFlight = new SharedArrayBuffer(4);
  const counter = new Int32Array(inFlight);
  const base = { path, options, inFlight, blocksInFlightMax: opts.blocksInFlightMax ?? WORKER_PARSE.blocksInFlightMax };
  const recycle = new MessageChannel();
  recycle.port1.unref();
  const parser = startParseWorker({ ...base, task: 'parse', recycle: recycle.port2 });
  const hasher = opts.knownSha256 === undefined ? startParseWorker({ ...base, task: 'hash', hashGate: opts.hashGate }) : undefined;
  // Not unref'd: while this thread awaits only a worker's message (the hash, the next block), the workers
  // are what keep the process alive. Each ends by itself after its last message, or at close().
  const workers = hasher ? [parser, hasher] : [parser];

  let closed = false;
  let parseEnded = false;
  let early: unknown;
  let onSha: { resolve: (hex: string) => void; reject: (e: unknown) => void } | undefined;
  let onParse: { block: (b: EncodedLineBlock) => void | Promise<void>; resolve: (s: StatementSummary) => void; reject: (e: unknown) => void } | undefined;
  // Blocks that came before anyone asked for them (the importing thread waits for the hash first).
  let waiting: Extract<WorkerMessage, { t: 'block' }>[] = [];
  let summary: StatementSummary | undefined;
  let buffersMade: number | undefined;

  const stop = (): void => {
    if (closed) return;
    closed = true;
    for (const w of workers) void w.terminate();
    recycle.port1.close();
  };
  let hashEnded = opts.knownSha256 !== undefined;
  const failed = (e: unknown): void => {
    if (closed || (parseEnded && hashEnded)) return;
    early ??= e;
    stop();
    if (!hashEnded) onSha?.reject(e);
    if (!parseEnded) onParse?.reject(e);
  };
  const errorOf = (m: Extract<WorkerMessage, { t: 'error' }>): Error => (m.code !== null ? new ReconError(m.code, m.message) : new Error(`the parse worker failed: ${m.message}`));
  const take = (m: Extract<WorkerMessage, { t: 'block' }>): boolean => {
    let done: void | Promise<void>;
    try {
      done = onParse?.block({ rows: m.rows, encoded: m.encoded, columns: typeof m.encoded === 'string' ? undefined : decodeBlock(m.encoded) });
    } catch (e) {
      failed(e);
      return false;
    }
    const release = (): void => {
      Atomics.sub(counter, 0, 1);
      Atomics.notify(counter, 0);
    };
    // Once the importer is done with a block (stored, matched: nothing keeps a view of its bytes), its
    // buffer goes back to the parser to hold a later block. Moving it leaves this thread's views empty.
    // It is posted before the release, so the parser, woken by the release, finds it.
    const reuse = (): void => {
      if (typeof m.encoded !== 'string' && !closed) recycle.port1.postMessage(m.encoded.buffer, [m.encoded.buffer as ArrayBuffer]);
      release();
    };
    // A block the importer is still working on counts as in flight, so the parser never runs far ahead.
    if (done instanceof Promise) done.then(reuse, release);
    else reuse();
    return true;
  };
  // The parse ending does not stop the hasher: the import still waits for the hash (a small file is parsed
  // before it is hashed). The parser ends by itself after its last message.
  const finish = (): void => {
    if (onParse === undefined || summary === undefined || waiting.length > 0) return;
    parseEnded = true;
    onParse.resolve(summary);
  };

  const sha256 = new Promise<string>((resolve, reject) => {
    onSha = { resolve, reject };
    if (opts.knownSha256 !== undefined) resolve(opts.knownSha256);
  });
  hasher?.on('message', (m: WorkerMessage) => {
    if (closed) return;
    if (m.t === 'sha256') {
      hashEnded = true;
      onSha?.resolve(m.hex);
    } else if (m.t === 'error') failed(errorOf(m));
  });
  parser.on('message', (m: WorkerMessage) => {
    if (closed) return;
    switch (m.t) {
      case 'block':
        if (onParse === undefined) waiting.push(m);
        else take(m);
        return;
      case 'done':
        summary = m.summary;
        buffersMade = m.buffersMade;
        finish();
        return;
      case 'error':
        failed(errorOf(m));
        return;
      case 'sha256':
        return;
    }
  });
  for (const w of workers) {
    w.on('error', (e) => failed(e));
    w.on('exit', (code) => {
      // Messages the worker posted before it ended are handled first; only then is a missing end a failure.
      if (w === parser) setImmediate(() => summary === undefined && failed(new Error(`the parse worker exited (${code}) before it finished`)));
      else setImmediate(() => !hashEnded && failed(new Error(`the hash worker exited (${code}) before it finished`)));
    });
  }

  return {
    sha256,
    onWorker: true,
    get buffersMade() {
      return buffersMade;
    },
    close: stop,
    blocks: (onBlock) =>
      new Promise<StatementSummary>((resolve, reject) => {
        if (early !== undefined) return reject(early);
        if (closed) return reject(new Error('the parse worker was closed'));
        onParse = { block: onBlock, resolve, reject };
        const before = waiting;
        waiting = [];
        for (const m of before) if (!take(m)) return;
        finish();
      }),
  };
}
