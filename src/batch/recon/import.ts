// Importing a channel's file: its lines are stored as a new version for the channel and date, all or
// nothing. The parser streams lines before it knows whether the file's own totals agree, so lines go to
// a staging version in short chunked transactions and become visible only when the parser has
// finished cleanly; any failure removes the staging version. The same bytes (same SHA-256) for the same
// channel and date are not imported twice: the answer is `unchanged` and nothing is written.
//
// A file for another date than asked is refused (file_wrong_channel_or_date) when none of its lines
// occurred on that date: a channel's file for day D holds D's transactions (and perhaps a few that
// crossed midnight from D-1), so a file with nothing on D is the wrong file.

import type { FormatName, ReconChannelConfig } from './config.js';
import { ReconError } from './errors.js';
import { parseStatementFile, type ParseOptions } from './formats/index.js';
import { LINE_BLOCK_ROWS, LineBlockBuilder, linesOnDate, readStoredBlock, type EncodedLineBlock, type ReadBlock } from './line-block.js';
import type { StatementLine, StatementSummary } from './line.js';
import { LineTable } from './match.js';
import type { ReconFile, ReconStore } from './port.js';

export const IMPORT_LIMITS = {
  /** Lines of one file: the benchmark's million with room to spare; more is a mistake or needs a split file. */
  rowsMax: 5_000_000,
  /** A progress event after every this many lines. */
  progressEveryRows: 100_000,
} as const;

/** A parse of the file: calls onLine for each line in file order, resolves with the summary, or rejects. */
export type StatementSource = (onLine: (line: StatementLine) => void) => Promise<StatementSummary>;

/**
 * A parse that hands over the lines packed in blocks (line-block.ts), in file order: what a parse on a
 * worker thread sends (see worker-parse.ts). A throw from onBlock stops the parse. A block's bytes (and
 * the columns read off them) are onBlock's until it returns, or until the promise it returns fulfils:
 * then a worker takes the buffer back for a later block. Whatever is kept longer must be copied.
 */
export type BlockSource = (onBlock: (block: EncodedLineBlock) => void | Promise<void>) => Promise<StatementSummary>;

/** A line-by-line parse as a block source. */
export function blocksOf(read: StatementSource): BlockSource {
  return async (onBlock) => {
    const builder = new LineBlockBuilder();
    const summary = await read((line) => {
      builder.add(line);
      // On this thread the parse cannot wait for the block's import; what onBlock returns is not awaited.
      if (builder.rows >= LINE_BLOCK_ROWS) void onBlock(builder.take());
    });
    if (builder.rows > 0) void onBlock(builder.take());
    return summary;
  };
}

export interface ImportRequest {
  readonly channel: string;
  readonly businessDate: string;
  readonly format: FormatName;
  /**
   * SHA-256 of the file's bytes (hex): the idempotency key of an import. A promise (a worker still hashing):
   * the lines are staged meanwhile, and when the hash names a file imported before, the parse is stopped,
   * the staged lines removed, and the answer is `unchanged`.
   */
  readonly sha256: string | Promise<string>;
  /** The file's name, for the record (not a path to read). */
  readonly sourceName: string | null;
  /** The parse: line by line, or in packed blocks (a parse on a worker thread). */
  readonly read: StatementSource | { readonly blocks: BlockSource };
  readonly rowsMax?: number;
  /** Keep the imported lines in the result, so a match in the same process need not read them back. */
  readonly keepLines?: boolean;
  /**
   * Told of the staging version once it exists, and of each block once it is stored, in file order (a
   * streaming match, see run.ts). A throw fails the import; an import that fails removes what it wrote.
   */
  readonly observer?: ImportObserver;
}

export interface ImportObserver {
  begin(fileId: number): Promise<void>;
  /** A stored block; `first` is the 0-based index of its first line in the file. */
  block(read: ReadBlock, first: number): Promise<void>;
}

export type ImportProgress = { readonly kind: 'rows'; readonly rows: number; readonly elapsedMs: number };

export interface ImportDeps {
  readonly clock: () => number;
  readonly onProgress?: (event: ImportProgress) => void;
}

export interface ImportResult {
  /** imported: a new version · unchanged: these bytes were imported before (nothing written). */
  readonly status: 'imported' | 'unchanged';
  readonly file: ReconFile;
  /** The version this one replaces (for a new version), or undefined. */
  readonly previous: ReconFile | undefined;
  readonly elapsedMs: number;
  /** With `keepLines`, the lines of a new version in file order, as columns (undefined when unchanged). */
  readonly lines?: LineTable;
}

export async function importStatement(store: ReconStore, req: ImportRequest, deps: ImportDeps): Promise<ImportResult> {
  const startedMs = deps.clock();
  const unchanged = (file: ReconFile): ImportResult => ({ status: 'unchanged', file, previous: undefined, elapsedMs: deps.clock() - startedMs });
  if (typeof req.sha256 === 'string') {
    const same = await store.fileBySha(req.channel, req.businessDate, req.sha256);
    if (same) return unchanged(same);
  }
  // While the hash is still coming: as soon as it names a file imported before, the parse stops.
  let sameFile: ReconFile | undefined;
  const sha256 = Promise.resolve(req.sha256).then(async (hex) => {
    sameFile = typeof req.sha256 === 'string' ? undefined : await store.fileBySha(req.channel, req.businessDate, hex);
    return hex;
  });
  sha256.catch(() => undefined);
  const previous = await store.latestFile(req.channel, req.businessDate);
  const rowsMax = req.rowsMax ?? IMPORT_LIMITS.rowsMax;

  const writer = await store.beginImport({
    channel: req.channel,
    businessDate: req.businessDate,
    sha256: typeof req.sha256 === 'string' ? req.sha256 : '',
    format: req.format,
    sourceName: req.sourceName,
    nowMs: startedMs,
  });
  const observer = req.observer;
  let rows = 0;
  let onDate = 0;
  const kept: LineTable | undefined = req.keepLines === true ? new LineTable() : undefined;
  // Blocks are written in order, one after the other; a write failure stops the import.
  let writeFailed: unknown;
  let writing: Promise<void> = (observer === undefined ? Promise.resolve() : observer.begin(writer.fileId)).catch((e: unknown) => {
    writeFailed ??= e;
  });
  const read = typeof req.read === 'function' ? blocksOf(req.read) : req.read.blocks;
  try {
    const summary = await read((block) => {
      if (writeFailed !== undefined) throw writeFailed;
      if (sameFile !== undefined) throw new SameFile();
      const before = rows;
      rows += block.rows;
      if (rows > rowsMax) throw new ReconError('too_many_rows', `The file has more than ${rowsMax} lines; one import takes at most that many.`);
      const read: ReadBlock = block.columns !== undefined ? { packed: block.columns } : readStoredBlock(block.encoded);
      onDate += linesOnDate('packed' in read ? read.packed : read.json, req.businessDate);
      kept?.appendRead(read);
      writing = writing
        .then(() => writer.append(block))
        .then(() => observer?.block(read, before))
        .catch((e: unknown) => {
          writeFailed ??= e;
        });
      const every = IMPORT_LIMITS.progressEveryRows;
      if (Math.floor(rows / every) > Math.floor(before / every)) deps.onProgress?.({ kind: 'rows', rows, elapsedMs: deps.clock() - startedMs });
      // Done when stored (and observed): a parse on a worker waits for it when too many blocks are in flight.
      return writing;
    });
    await writing;
    if (writeFailed !== undefined) throw writeFailed;
    const hex = await sha256;
    if (sameFile !== undefined) throw new SameFile();
    if (rows > 0 && onDate === 0) {
      throw new ReconError(
        'file_wrong_channel_or_date',
        `None of the ${rows} lines of ${req.sourceName ?? 'the file'} occurred on ${req.businessDate}: it is not ${req.channel}'s file for that date.`,
      );
    }
    const file = await writer.commit(summary, rows, hex);
    deps.onProgress?.({ kind: 'rows', rows, elapsedMs: deps.clock() - startedMs });
    return { status: 'imported', file, previous, elapsedMs: deps.clock() - startedMs, ...(kept ? { lines: kept } : {}) };
  } catch (e) {
    await writing;
    await writer.abort();
    if (e instanceof SameFile && sameFile !== undefined) return unchanged(sameFile);
    // A parse that failed because the bytes were imported before is no failure: say unchanged.
    const same = await sha256.then(
      () => sameFile,
      () => undefined,
    );
    if (same !== undefined) return unchanged(same);
    throw e;
  }
}

/** Thrown into a parse to stop it: the hash named a file imported before. */
class SameFile extends Error {
  constructor() {
    super('the file was imported before');
  }
}

/** The parse options of a channel's file: its format, currency and mapping from the config; the date for formats whose times have no year. */
export function parseOptionsOf(channel: Pick<ReconChannelConfig, 'format' | 'currency' | 'mapping'>, businessDate: string, fileName?: string): Omit<ParseOptions, 'onProgress'> {
  return {
    format: channel.format,
    currency: channel.currency,
    ...(channel.mapping !== undefined ? { mapping: channel.mapping } : {}),
    ...(fileName !== undefined ? { fileName } : {}),
    settlementDate: businessDate,
  };
}

/** The channel's parser over a file, line by line on this thread. */
export function statementFromFile(
  path: string,
  channel: Pick<ReconChannelConfig, 'format' | 'currency' | 'mapping'>,
  businessDate: string,
  fileName?: string,
): StatementSource {
  return (onLine) => parseStatementFile(path, parseOptionsOf(channel, businessDate, fileName), onLine);
}
