// Parsing a channel's file on a second thread while this one does the rest of an import: the worker
// (parse-worker.ts) hashes the file first — so an unchanged file is known before anything is parsed —
// and then, when asked, parses it and sends the lines in packed blocks. Meanwhile this thread is free to
// read our side of the day from the database, then stores each block as it comes. On a 2-core machine a
// million-line file's parse and our million records' read overlap instead of adding up.
//
// Small files are parsed on this thread (a worker's start-up costs more than it saves). Errors keep
// their stable codes across the thread boundary.

import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ReconError, type ReconErrorCode } from './errors.js';
import type { ParseOptions } from './formats/index.js';
import { blocksOf, fileSha256, type BlockSource } from './import.js';
import type { EncodedLineBlock, PackedColumns } from './line-block.js';
import type { StatementSummary } from './line.js';
import { parseStatementFile } from './formats/index.js';

export const WORKER_PARSE = {
  /** Files from this size on are parsed on a worker thread ('auto'). */
  minBytes: 8 * 1024 * 1024,
  /** Blocks the worker may be ahead of the importing thread before it waits. */
  blocksInFlightMax: 32,
} as const;

/** What the worker is given (workerData). */
export interface ParseJob {
  readonly path: string;
  readonly options: Omit<ParseOptions, 'onProgress'>;
  /** Hash the file before parsing (false: the caller knows the hash). */
  readonly hash: boolean;
  /** A SharedArrayBuffer of one Int32: blocks posted and not yet taken. */
  readonly inFlight: SharedArrayBuffer;
  readonly blocksInFlightMax: number;
}

export type WorkerMessage =
  | { readonly t: 'sha256'; readonly hex: string }
  | { readonly t: 'block'; readonly rows: number; readonly encoded: string; readonly columns: PackedColumns | undefined }
  | { readonly t: 'done'; readonly summary: StatementSummary }
  | { readonly t: 'error'; readonly code: ReconErrorCode | null; readonly message: string };

/** A file being hashed, and then parsed when `blocks` is called; `close` when it is not wanted. */
export interface FileParse {
  readonly sha256: Promise<string>;
  readonly blocks: BlockSource;
  readonly onWorker: boolean;
  close(): void;
}

/**
 * The worker: parse-worker.js next to this module; run from TypeScript (tests, benchmarks, tsx), the .ts
 * file behind a loader that registers tsx in the worker first (tsx's --import does not reach workers).
 */
function startWorker(job: ParseJob): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./parse-worker.js', import.meta.url), { workerData: job });
  const entry = new URL('./parse-worker.ts', import.meta.url).href;
  // import.meta.resolve gives the ESM build; where it is missing (vitest), require's answer names the CJS one beside it.
  const api =
    typeof import.meta.resolve === 'function'
      ? import.meta.resolve('tsx/esm/api')
      : pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData: job });
}

function onThisThread(path: string, options: Omit<ParseOptions, 'onProgress'>, knownSha256: string | undefined): FileParse {
  return {
    sha256: knownSha256 !== undefined ? Promise.resolve(knownSha256) : fileSha256(path),
    blocks: blocksOf((onLine) => parseStatementFile(path, options, onLine)),
    onWorker: false,
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
  opts: { readonly mode?: 'auto' | 'always' | 'never'; readonly knownSha256?: string } = {},
): Promise<FileParse> {
  const mode = opts.mode ?? 'auto';
  if (mode === 'never') return onThisThread(path, options, opts.knownSha256);
  if (mode === 'auto') {
    const size = await stat(path).then(
      (s) => s.size,
      () => 0,
    );
    if (size < WORKER_PARSE.minBytes) return onThisThread(path, options, opts.knownSha256);
  }
  const inFlight = new SharedArrayBuffer(4);
  const counter = new Int32Array(inFlight);
  const job: ParseJob = { path, options, hash: opts.knownSha256 === undefined, inFlight, blocksInFlightMax: WORKER_PARSE.blocksInFlightMax };
  const worker = startWorker(job);
  worker.unref();

  let finished = false;
  let onSha: { resolve: (hex: string) => void; reject: (e: unknown) => void } | undefined;
  let onParse: { block: (b: EncodedLineBlock) => void; resolve: (s: StatementSummary) => void; reject: (e: unknown) => void } | undefined;
  let early: unknown;
  const stop = (): void => {
    if (finished) return;
    finished = true;
    void worker.terminate();
  };
  const failed = (e: unknown): void => {
    if (finished) return;
    stop();
    early = e;
    onSha?.reject(e);
    onParse?.reject(e);
  };
  const errorOf = (m: Extract<WorkerMessage, { t: 'error' }>): Error => (m.code !== null ? new ReconError(m.code, m.message) : new Error(`the parse worker failed: ${m.message}`));

  const sha256 = new Promise<string>((resolve, reject) => {
    onSha = { resolve, reject };
  });
  worker.on('message', (m: WorkerMessage) => {
    if (finished) return;
    switch (m.t) {
      case 'sha256':
        onSha?.resolve(opts.knownSha256 ?? m.hex);
        return;
      case 'block':
        try {
          onParse?.block({ rows: m.rows, encoded: m.encoded, columns: m.columns });
        } catch (e) {
          failed(e);
          return;
        }
        Atomics.sub(counter, 0, 1);
        Atomics.notify(counter, 0);
        return;
      case 'done':
        finished = true;
        onParse?.resolve(m.summary);
        return;
      case 'error':
        failed(errorOf(m));
    }
  });
  worker.on('error', (e) => failed(e));
  worker.on('exit', (code) => failed(new Error(`the parse worker exited (${code}) before it finished`)));

  return {
    sha256,
    onWorker: true,
    close: stop,
    blocks: (onBlock) =>
      new Promise<StatementSummary>((resolve, reject) => {
        if (early !== undefined) return reject(early);
        if (finished) return reject(new Error('the parse worker was closed'));
        onParse = { block: onBlock, resolve, reject };
        worker.postMessage('parse');
      }),
  };
}
