// The imperative shell around matching: load the newest file version's lines, our records and the
// suspense pool; call the pure matchStatement; store every outcome as the new current run of the
// channel and date; say what changed against the run it replaces. `runDay` is `settle recon run`:
// fetch (or take a file), import, match.
//
// Which of our records take part on date D:
//   - every payment, capture and refund of the channel whose journal entry is on D (due on D);
//   - records the file's lines name that never succeeded (failed, closed, processing: no business
//     date), so a line the channel calls a success meets our failed order as a status_mismatch;
//   - records waiting in the pool (refreshed, so a later change on our side counts).
// A record the lines name that is due on another date is left to that date: the line waits in the pool
// and meets it there (a row that crossed midnight), so no record is ever matched by two runs.
// Captures of pre-authorisations take part as payments, keyed by the capture id the online core sends
// the channel as the completion's order number (the simulator's bills list them so); a pre-authorisation
// itself moves no money and is not matched.
//
// `runDay` matches while it imports (StreamRun, below; stream-match.ts and due-window.ts): each stored
// block against our payments read ahead in row id order, so a day is never all in memory. A day of another
// shape than that match takes is matched here, from the stored file, after the import; the outcomes are
// the same either way.

import { basename } from 'node:path';
import type { ReconChannelConfig } from './config.js';
import { ReconError } from './errors.js';
import { importStatement, parseOptionsOf, type ImportObserver, type ImportProgress, type ImportResult } from './import.js';
import { emptyPairs, foldVoids, isVoidRow, lineArrayColumns, LineTable, matchColumns, PackedLines, RecordTable, type LineColumns, type MatchedOutcome, type OurRecord, type Outcome, type OutcomeCounts } from './match.js';
import type { ItemRow, ReconFile, ReconStore, RunInfo, StoredItem } from './port.js';
import { readStoredBlock, type ReadBlock } from './line-block.js';
import type { LineKind, StatementLine } from './line.js';
import { DueWindow, lineSubset, STREAM_LIMITS, type DueBatch } from './due-window.js';
import { StreamFallback, StreamMatcher, type NamedRecord, type StreamFolds, type StreamSink } from './stream-match.js';
import { startFileParse } from './worker-parse.js';

export const MATCH_LIMITS = {
  /** Outcomes written per transaction (short, so the daemon is never kept waiting for the write lock). */
  itemsChunkRows: 10_000,
  /** Exceptions (discrepancies and suspense) compared between a run and the one it replaces. */
  exceptionsCompareMax: 200_000,
  /** Changes listed in a result; the counts always cover all of them. */
  changesListedMax: 1_000,
} as const;

export type MatchProgress =
  | { readonly kind: 'loaded'; readonly lines: number; readonly records: number; readonly pool: number; readonly elapsedMs: number }
  | { readonly kind: 'matched'; readonly outcomes: number; readonly elapsedMs: number }
  | { readonly kind: 'stored'; readonly items: number; readonly elapsedMs: number };

export interface MatchDeps {
  readonly clock: () => number;
  readonly onProgress?: (event: MatchProgress) => void;
  /**
   * Match as a stream (stream-match.ts) when the store can (the default): `recon run` each block as it is
   * imported, `recon match` a stored file block by block. false: the whole file at once.
   */
  readonly streamMatch?: boolean;
  /** Told why a streaming match gave way to matching the whole file (tests, logs). */
  readonly onStreamFallback?: (reason: string) => void;
}

export interface Change {
  readonly identity: string;
  readonly itemId: number | null;
  readonly from: string;
  readonly to: string;
}

/** What a re-match changed against the run it replaced (null on the first match of a date). */
export interface RunChanges {
  readonly previousRunId: number;
  readonly previousFileVersion: number;
  readonly newDiscrepancies: number;
  readonly cleared: number;
  readonly retyped: number;
  /** Discrepancies resolved before that are no longer there: their adjusting entries stay posted; review them. */
  readonly resolvedGone: number;
  readonly countsBefore: OutcomeCounts;
  /** Up to MATCH_LIMITS.changesListedMax of them: `from`/`to` are `matched`, `suspense`, or a discrepancy type. */
  readonly listed: readonly Change[];
}

export interface MatchDayResult {
  readonly run: RunInfo;
  readonly file: ReconFile;
  readonly counts: OutcomeCounts;
  /** Discrepancies of this run still open (a carried-over resolution closes one). */
  readonly openDiscrepancies: number;
  readonly changes: RunChanges | null;
  /** Current runs of later dates: they were matched against a pool this run changed; match them again. */
  readonly laterRuns: readonly RunInfo[];
  readonly elapsedMs: number;
  /** True when the lines were matched while the file was imported (recon run's streaming match). */
  readonly streamed?: boolean;
}

const recordKey = (r: Pick<OurRecord, 'source' | 'recordId'>): string => `${r.source}:${r.recordId}`;

/** The stored form of an outcome: both sides' facts, so show, report and resolve need nothing else. */
export function itemRowOf(o: Outcome, fileId: number): ItemRow {
  const l = o.line;
  const r = o.record;
  return {
    outcome: o.outcome,
    type: o.type,
    differences: o.differences,
    note: o.note,
    kind: o.kind,
    // Matched items are never compared by identity (only exceptions are), so they do not store one.
    identity: o.outcome === 'matched' ? null : o.identity,
    fileId: o.lineAt === null ? null : (o.lineAt.fileId ?? fileId),
    lineSeq: o.lineAt?.seq ?? null,
    channelTxnId: l?.channelTxnId ?? r?.channelTxnId ?? null,
    orderKey: l ? (l.kind === 'payment' ? l.merchantOrderNo : l.merchantRefundNo) : (r?.recordId ?? null),
    channelAmountMinor: l?.amountMinor ?? null,
    channelCurrency: l?.currency ?? null,
    channelStatus: l?.status ?? null,
    channelFee: l?.fee ?? null,
    occurredAt: l?.occurredAt ?? null,
    recordSource: r?.source ?? null,
    recordId: r?.recordId ?? null,
    merchantId: r?.merchantId ?? null,
    paymentId: r?.paymentId ?? null,
    ledgerTxnId: r?.channelTxnId ?? null,
    ledgerAmountMinor: r?.amountMinor ?? null,
    ledgerCurrency: r?.currency ?? null,
    ledgerStatus: r?.status ?? null,
    ledgerCostMinor: r?.costMinor ?? null,
    ledgerBusinessDate: r?.businessDate ?? null,
    channelSuspenseId: o.channelSuspenseId,
    ledgerSuspenseId: o.ledgerSuspenseId,
    untilDate: o.untilDate,
  };
}

/**
 * The stored form of a matched outcome, from its narrow form: a matched item stores only its line and
 * record (see the store's MATCHED_COLUMNS), so the other facts are left null rather than read for nothing.
 */
export function matchedRowOf(m: MatchedOutcome, fileId: number): ItemRow {
  return {
    outcome: 'matched',
    type: null,
    differences: [],
    note: m.note,
    kind: m.kind,
    identity: null,
    fileId: m.lineAt === null ? null : (m.lineAt.fileId ?? fileId),
    lineSeq: m.lineAt?.seq ?? null,
    channelTxnId: null,
    orderKey: null,
    channelAmountMinor: null,
    channelCurrency: null,
    channelStatus: null,
    channelFee: null,
    occurredAt: null,
    recordSource: m.recordSource,
    recordId: m.recordId,
    merchantId: null,
    paymentId: null,
    ledgerTxnId: null,
    ledgerAmountMinor: null,
    ledgerCurrency: null,
    ledgerStatus: null,
    ledgerCostMinor: null,
    ledgerBusinessDate: null,
    channelSuspenseId: m.channelSuspenseId,
    ledgerSuspenseId: m.ledgerSuspenseId,
    untilDate: null,
  };
}

const label = (i: Pick<StoredItem, 'outcome' | 'type'>): string => (i.outcome === 'discrepancy' ? (i.type ?? 'discrepancy') : i.outcome);

/** Compares the exceptions of two runs of the same date by item identity. */
export function compareRuns(before: readonly StoredItem[], after: readonly StoredItem[]): Omit<RunChanges, 'previousRunId' | 'previousFileVersion' | 'countsBefore'> {
  const old = new Map(before.map((i) => [i.identity ?? `item:${i.itemId}`, i]));
  const now = new Map(after.map((i) => [i.identity ?? `item:${i.itemId}`, i]));
  const listed: Change[] = [];
  let newDiscrepancies = 0;
  let cleared = 0;
  let retyped = 0;
  let resolvedGone = 0;
  const list = (c: Change): void => {
    if (listed.length < MATCH_LIMITS.changesListedMax) listed.push(c);
  };
  for (const n of after) {
    const identity = n.identity ?? `item:${n.itemId}`;
    const o = old.get(identity);
    const from = o ? label(o) : 'matched';
    const to = label(n);
    if (from === to) continue;
    if (n.outcome === 'discrepancy' && o?.outcome === 'discrepancy') retyped++;
    else if (n.outcome === 'discrepancy') newDiscrepancies++;
    else if (o?.outcome === 'discrepancy') cleared++;
    list({ identity, itemId: n.itemId, from, to });
  }
  for (const o of before) {
    const identity = o.identity ?? `item:${o.itemId}`;
    if (now.has(identity)) continue;
    if (o.outcome === 'discrepancy') {
      cleared++;
      if (o.status === 'resolved') resolvedGone++;
    }
    list({ identity, itemId: null, from: label(o), to: 'matched' });
  }
  return { newDiscrepancies, cleared, retyped, resolvedGone, listed };
}

async function readLines(store: ReconStore, fileId: number): Promise<LineTable> {
  const lines = new LineTable();
  for await (const block of store.lineBlocks(fileId)) lines.appendRead(readStoredBlock(block));
  return lines;
}

/**
 * A store that can hand the day's records a page at a time (the SQLite adapter can), so a million of
 * them go into a RecordTable without a million objects alive at once. Optional: any ReconStore works.
 */
interface PagedRecords {
  /** recordsForDay straight into the table, with no object per record (the SQLite adapter can). */
  recordsForDayInto?(channel: string, businessDate: string, into: RecordTable): Promise<void>;
}

async function dueRecords(store: ReconStore & PagedRecords, channel: string, date: string, into: RecordTable): Promise<void> {
  if (store.recordsForDayInto !== undefined) await store.recordsForDayInto(channel, date, into);
  else for (const r of await store.recordsForDay(channel, date)) into.push(r);
}

/** Our records due on the date, and their ids by kind (payments and captures, refunds) until used once. */
export class DueRecords {
  private keys: readonly [ReadonlySet<string>, ReadonlySet<string>] | undefined;
  constructor(
    readonly records: RecordTable,
    keys: readonly [ReadonlySet<string>, ReadonlySet<string>],
  ) {
    this.keys = keys;
  }
  /** The ids, once: a million of them are not kept through the match that follows. */
  takeKeys(): readonly [ReadonlySet<string>, ReadonlySet<string>] {
    const keys = this.keys;
    if (keys === undefined) throw new Error('DueRecords.takeKeys: the keys were taken already');
    this.keys = undefined;
    return keys;
  }
}

/** Our records due on the date (read while a worker thread parses the file). */
export async function dueRecordsOf(store: ReconStore, channel: string, date: string): Promise<DueRecords> {
  const records = new RecordTable();
  await dueRecords(store, channel, date, records);
  const keys: [Set<string>, Set<string>] = [new Set(), new Set()];
  for (let i = 0; i < records.length; i++) keys[records.source(i) === 'refund' ? 1 : 0].add(records.recordId(i));
  return new DueRecords(records, keys);
}

/**
 * Our records for the date: those due on it (`due`, when read already), those the lines name that never
 * succeeded, and the pool's.
 */
async function loadRecords(store: ReconStore, channel: string, date: string, lines: LineColumns, poolRecords: readonly OurRecord[], due?: DueRecords): Promise<RecordTable> {
  const dueRecords = due ?? (await dueRecordsOf(store, channel, date));
  const records = dueRecords.records;
  const dueKeys = dueRecords.takeKeys();
  const paymentKeys = new Set<string>();
  const refundKeys = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const payment = lines.kind(i) === 'payment';
    const key = payment ? lines.merchantOrderNo(i) : lines.merchantRefundNo(i);
    if (!key) continue;
    if (payment ? !dueKeys[0].has(key) : !dueKeys[1].has(key)) (payment ? paymentKeys : refundKeys).add(key);
  }
  const poolKeys = new Set<string>();
  for (const r of poolRecords) {
    poolKeys.add(recordKey(r));
    (r.source === 'refund' ? refundKeys : paymentKeys).add(r.recordId);
  }
  const found = await store.lookupRecords(channel, [...paymentKeys], [...refundKeys]);
  for (const r of found) if (poolKeys.has(recordKey(r)) || r.businessDate === null) records.push(r);
  return records;
}

/**
 * Matches the newest imported file of the channel for the date and stores the run. `preloaded` are the
 * lines of that file when the caller just imported them (recon run), so they are not read back.
 */
export async function matchDay(
  store: ReconStore,
  channel: Pick<ReconChannelConfig, 'channel' | 'suspense_days'>,
  businessDate: string,
  deps: MatchDeps,
  preloaded?: { readonly fileId: number; readonly lines?: LineColumns | undefined; readonly due?: DueRecords },
): Promise<MatchDayResult> {
  const startedMs = deps.clock();
  const elapsed = (): number => deps.clock() - startedMs;
  const file = await store.latestFile(channel.channel, businessDate);
  if (!file) throw new ReconError('statement_not_imported', `No file of ${channel.channel} for ${businessDate} has been imported.`);
  if (preloaded?.lines === undefined && deps.streamMatch !== false) {
    const streamed = await matchStoredAsStream(store, channel, businessDate, file, deps);
    if (streamed !== null) return streamed;
  }
  const previous = await store.currentRun(channel.channel, businessDate);
  const previousExceptions = previous ? await store.runExceptions(previous.runId, MATCH_LIMITS.exceptionsCompareMax) : [];

  const preloadedFile = preloaded !== undefined && preloaded.fileId === file.fileId;
  const lines = (preloadedFile ? preloaded.lines : undefined) ?? (await readLines(store, file.fileId));
  const pool = await store.suspensePool(channel.channel, businessDate);
  const poolRecords = pool.flatMap((p) => (p.side === 'ledger' ? [p.record] : []));
  const records = await loadRecords(store, channel.channel, businessDate, lines, poolRecords, preloadedFile ? preloaded.due : undefined);
  deps.onProgress?.({ kind: 'loaded', lines: lines.length, records: records.length, pool: pool.length, elapsedMs: elapsed() });

  const outcomes = matchColumns({ date: businessDate, suspenseDays: channel.suspense_days, lines, records, pool });
  deps.onProgress?.({ kind: 'matched', outcomes: outcomes.length, elapsedMs: elapsed() });

  const runId = await store.beginRun({ channel: channel.channel, businessDate, fileId: file.fileId, nowMs: deps.clock() });
  for (let i = 0; i < outcomes.length; i += MATCH_LIMITS.itemsChunkRows) {
    const rows: ItemRow[] = [];
    // Plain matched pairs (nearly all of a day) go as arrays of primitives; the rest as item rows.
    const pairs = emptyPairs();
    for (let j = i; j < Math.min(i + MATCH_LIMITS.itemsChunkRows, outcomes.length); j++) {
      if (outcomes.pushPair(j, pairs)) continue;
      const m = outcomes.matchedAt(j);
      rows.push(m === undefined ? itemRowOf(outcomes.at(j), file.fileId) : matchedRowOf(m, file.fileId));
    }
    await store.appendItems(runId, rows, { fileId: file.fileId, pairs });
  }
  return concludeRun(store, { runId, file, previous, previousExceptions }, { lines: lines.length, records: records.length, counts: outcomes.counts, items: outcomes.length }, deps, startedMs);
}

/** A run whose outcomes are being stored, and what it replaces. */
interface RunBeingStored {
  readonly runId: number;
  readonly file: ReconFile;
  readonly previous: RunInfo | undefined;
  readonly previousExceptions: readonly StoredItem[];
}

/** Makes a run whose outcomes are all stored the current one, and says what changed against the run it replaces. */
async function concludeRun(
  store: ReconStore,
  at: RunBeingStored,
  summary: { readonly lines: number; readonly records: number; readonly counts: OutcomeCounts; readonly items: number },
  deps: MatchDeps,
  startedMs: number,
): Promise<MatchDayResult> {
  const { previous, file } = at;
  const run = await store.finishRun(at.runId, { lines: summary.lines, records: summary.records, counts: summary.counts, nowMs: deps.clock() });
  deps.onProgress?.({ kind: 'stored', items: summary.items, elapsedMs: deps.clock() - startedMs });
  const exceptions = await store.runExceptions(run.runId, MATCH_LIMITS.exceptionsCompareMax);
  const openDiscrepancies = exceptions.filter((i) => i.outcome === 'discrepancy' && i.status === 'open').length;
  const changes: RunChanges | null = previous
    ? { previousRunId: previous.runId, previousFileVersion: previous.fileVersion, countsBefore: previous.counts, ...compareRuns(at.previousExceptions, exceptions) }
    : null;
  const laterRuns = await store.laterRuns(run.channel, run.businessDate);
  return { run, file, counts: summary.counts, openDiscrepancies, changes, laterRuns, elapsedMs: deps.clock() - startedMs };
}

export interface RunDayRequest {
  readonly channel: ReconChannelConfig;
  readonly businessDate: string;
  /** A file to take instead of fetching. */
  readonly file?: string | undefined;
}

/** Where the file came from when it was fetched. */
export interface FetchedFile {
  readonly path: string;
  readonly sha256: string;
  readonly name: string;
  readonly source: string;
  readonly newFile: boolean;
}

export interface RunDayDeps extends MatchDeps {
  /** Fetches the channel's file for the date (settle recon fetch); used when no file is given. */
  readonly fetch: () => Promise<FetchedFile>;
  readonly onImportProgress?: (event: ImportProgress) => void;
  /** Parse on a worker thread: 'auto' (large files; the default), 'always' or 'never'. */
  readonly parseOnWorker?: 'auto' | 'always' | 'never';
}

export interface RunDayResult {
  readonly fetched: FetchedFile | null;
  readonly imported: ImportResult;
  readonly matched: MatchDayResult;
}

/**
 * settle recon run: fetch (or take the given file), import, match. The file is hashed and parsed on a
 * worker thread when it is large (worker-parse.ts) while this thread reads our records due on the date.
 */
export async function runDay(store: ReconStore, req: RunDayRequest, deps: RunDayDeps): Promise<RunDayResult> {
  const fetched = req.file === undefined ? await deps.fetch() : null;
  const path = fetched?.path ?? (req.file as string);
  const parse = await startFileParse(path, parseOptionsOf(req.channel, req.businessDate, fetched?.name), {
    mode: deps.parseOnWorker ?? 'auto',
    ...(fetched ? { knownSha256: fetched.sha256 } : {}),
  });
  let stream: StreamRun | null = null;
  try {
    stream = deps.streamMatch === false ? null : await StreamRun.start(store, req.channel, req.businessDate, deps);
    // Without a streaming match, our records are read while the file is parsed, and the lines kept for the match.
    const due = stream === null ? dueRecordsOf(store, req.channel.channel, req.businessDate) : undefined;
    // A failed import must not leave the read of our records unobserved.
    due?.catch(() => undefined);
    const imported = await importStatement(
      store,
      {
        channel: req.channel.channel,
        businessDate: req.businessDate,
        format: req.channel.format,
        // Still being hashed on a worker: the import stages the lines meanwhile (and stops if the file is unchanged).
        sha256: parse.sha256,
        sourceName: fetched?.name ?? basename(path),
        read: { blocks: parse.blocks },
        keepLines: stream === null,
        ...(stream !== null ? { observer: stream } : {}),
      },
      { clock: deps.clock, ...(deps.onImportProgress ? { onProgress: deps.onImportProgress } : {}) },
    );
    const streamed = stream !== null && imported.status === 'imported' ? await stream.conclude(imported.file) : null;
    if (streamed !== null) return { fetched, imported, matched: streamed };
    // The bytes were imported before, or the day is not of the shape a streaming match of a file being read
    // takes (a void row…): match the stored file (as a stream, its void rows read first, when it can).
    stream?.close();
    const matched = await matchDay(
      store,
      req.channel,
      req.businessDate,
      deps,
      imported.lines === undefined ? undefined : { fileId: imported.file.fileId, lines: imported.lines, ...(due !== undefined ? { due: await due } : {}) },
    );
    return { fetched, imported, matched };
  } finally {
    parse.close();
    stream?.close();
  }
}

// ---- matching while importing ----

/** A store that can serve a streaming match (the SQLite adapter can). */
interface StreamingStore extends ReconStore {
  /** Our records by the ids lines name (lookupRecords), each payment with its row id. */
  recordsNamed(channel: string, keys: { readonly payment: readonly string[]; readonly refund: readonly string[]; readonly captureOnly?: readonly string[] }): Promise<NamedRecord[]>;
  /** Whether the channel has any capture at all. */
  hasCaptures(channel: string): Promise<boolean>;
  /** Our payments due on the date, a page at a time in row id order (an empty page: the end). */
  openDuePayments(channel: string, businessDate: string): { next(): Promise<DueBatch>; close(): void };
  paymentsByRowid(rowids: readonly number[]): Promise<OurRecord[]>;
  /** Our captures and refunds due on the date, in recordsForDay's order. */
  dueCapturesAndRefunds(channel: string, businessDate: string): Promise<OurRecord[]>;
}

function canStream(store: ReconStore): store is StreamingStore {
  const s = store as Partial<StreamingStore>;
  return typeof s.recordsNamed === 'function' && typeof s.hasCaptures === 'function' && typeof s.openDuePayments === 'function' && typeof s.paymentsByRowid === 'function' && typeof s.dueCapturesAndRefunds === 'function';
}

/** Outcomes of a run written in chunks as they come (plain matched pairs packed, the rest as item rows). */
class RunWriter implements StreamSink {
  private rows: ItemRow[] = [];
  private pairs = emptyPairs();
  private pending = 0;
  items = 0;
  constructor(
    private readonly store: ReconStore,
    private readonly runId: number,
    private readonly fileId: number,
  ) {}
  pair(kind: LineKind, lineSeq: number, record: OurRecord): void {
    this.pairs.kind.push(kind);
    this.pairs.lineSeq.push(lineSeq);
    this.pairs.recordSource.push(record.source);
    this.pairs.recordId.push(record.recordId);
    this.pending++;
  }
  outcome(o: Outcome): void {
    this.rows.push(
      o.outcome === 'matched'
        ? matchedRowOf(
            { note: o.note, kind: o.kind, lineAt: o.lineAt, recordSource: o.record?.source ?? null, recordId: o.record?.recordId ?? null, channelSuspenseId: o.channelSuspenseId, ledgerSuspenseId: o.ledgerSuspenseId },
            this.fileId,
          )
        : itemRowOf(o, this.fileId),
    );
    this.pending++;
  }
  /** Writes what is pending when a chunk is full, or (`all`) whatever is pending. */
  async flush(all: boolean): Promise<void> {
    if (this.pending === 0 || (!all && this.pending < MATCH_LIMITS.itemsChunkRows)) return;
    await this.store.appendItems(this.runId, this.rows, { fileId: this.fileId, pairs: this.pairs });
    this.items += this.pending;
    this.rows = [];
    this.pairs = emptyPairs();
    this.pending = 0;
  }
}

/**
 * `recon run`'s match while the file is imported: a run is begun on the staging version and each stored
 * block is matched (StreamMatcher) and its outcomes written; after the import, our records due that no
 * line took are matched and the run concluded. An import that fails removes the unfinished run with the
 * staging version. When the day is not of the shape the streaming matcher takes, it stops matching
 * (StreamFallback) and `conclude` answers null: the caller matches the stored file (matchDay), whose
 * new run replaces the unfinished one.
 */
class StreamRun implements ImportObserver {
  private fallback: string | null = null;
  private writer: RunWriter | undefined;
  private runId: number | undefined;
  private window: DueWindow | undefined;
  private captures = true;

  private constructor(
    private readonly store: StreamingStore,
    private readonly channel: Pick<ReconChannelConfig, 'channel' | 'suspense_days'>,
    private readonly businessDate: string,
    private readonly deps: MatchDeps,
    private readonly matcher: StreamMatcher,
    private readonly previous: RunInfo | undefined,
    private readonly previousExceptions: readonly StoredItem[],
    private readonly startedMs: number,
  ) {}

  /** Whether the day turned out not to be of a shape the stream takes (the file must be matched whole). */
  get stopped(): boolean {
    return this.fallback !== null;
  }

  /** Stops the read of our payments (its worker thread), when the run ends however it ends. */
  close(): void {
    this.window?.close();
    this.matcher.close();
  }

  /** null when the store cannot serve a streaming match or the pool is not of its shape. */
  static async start(
    store: ReconStore,
    channel: Pick<ReconChannelConfig, 'channel' | 'suspense_days'>,
    businessDate: string,
    deps: MatchDeps,
    folds?: StreamFolds,
  ): Promise<StreamRun | null> {
    if (!canStream(store)) return null;
    const startedMs = deps.clock();
    const previous = await store.currentRun(channel.channel, businessDate);
    const previousExceptions = previous ? await store.runExceptions(previous.runId, MATCH_LIMITS.exceptionsCompareMax) : [];
    const pool = await store.suspensePool(channel.channel, businessDate);
    const poolRecords = pool.flatMap((p) => (p.side === 'ledger' ? [p.record] : []));
    const poolFresh =
      poolRecords.length === 0
        ? []
        : await store.lookupRecords(
            channel.channel,
            poolRecords.filter((r) => r.source !== 'refund').map((r) => r.recordId),
            poolRecords.filter((r) => r.source === 'refund').map((r) => r.recordId),
          );
    try {
      const matcher = new StreamMatcher({ date: businessDate, suspenseDays: channel.suspense_days, pool, poolFresh, ...(folds !== undefined ? { folds } : {}) });
      return new StreamRun(store, channel, businessDate, deps, matcher, previous, previousExceptions, startedMs);
    } catch (e) {
      if (!(e instanceof StreamFallback)) throw e;
      deps.onStreamFallback?.(e.reason);
      return null;
    }
  }

  async begin(fileId: number): Promise<void> {
    this.captures = await this.store.hasCaptures(this.channel.channel);
    this.window = new DueWindow(this.store.openDuePayments(this.channel.channel, this.businessDate), (rowids) => this.store.paymentsByRowid(rowids));
    this.runId = await this.store.beginRun({ channel: this.channel.channel, businessDate: this.businessDate, fileId, nowMs: this.deps.clock() });
    this.writer = new RunWriter(this.store, this.runId, fileId);
    const found = await this.store.recordsNamed(this.channel.channel, this.matcher.poolLineKeys());
    // A pool line takes its payment when it is due today: the window must not hand it out again.
    for (const f of found) {
      if (f.paymentRowid !== null && f.record.businessDate === this.businessDate && !this.window.takenElsewhere(f.paymentRowid)) return this.stop('a payment named twice');
    }
    await this.matching((writer) => this.matcher.poolLines(found, writer));
  }

  async block(read: ReadBlock, first: number): Promise<void> {
    if (this.fallback !== null) return;
    const lines = blockLines(read);
    const window = this.window as DueWindow;
    const named: (NamedRecord | null)[] = new Array<NamedRecord | null>(lines.length).fill(null);
    // Payments from the window; what it does not hold (and refunds, and captures) by a lookup by id.
    const missing: number[] = [];
    const captureOnly: string[] = [];
    await window.fill(lines.length + STREAM_LIMITS.lookAhead);
    for (let i = 0; i < lines.length; i++) {
      const id = lines.kind(i) === 'payment' ? lines.merchantOrderNo(i) : null;
      const p = id ? window.take(id) : undefined;
      if (p === undefined) missing.push(i);
      else {
        named[i] = p;
        // An id found among the day's payments may still be a capture's too (the matcher refuses that day).
        if (this.captures) captureOnly.push(p.record.recordId);
      }
    }
    if (missing.length > 0 || captureOnly.length > 0) {
      const subset = lineSubset(lines, missing);
      const rest = StreamMatcher.lineKeys(subset);
      const found = await this.store.recordsNamed(this.channel.channel, { payment: rest.payment, refund: rest.refund, captureOnly });
      const captured = new Set(captureOnly);
      for (const f of found) {
        if (f.paymentRowid !== null && f.record.businessDate === this.businessDate && !window.takenElsewhere(f.paymentRowid)) return this.stop('a payment named twice');
        if (f.record.source === 'capture' && captured.has(f.record.recordId)) return this.stop('two records with one id');
      }
      try {
        const aligned = StreamMatcher.align(subset, found);
        missing.forEach((at, k) => (named[at] = aligned[k] ?? null));
      } catch (e) {
        if (!(e instanceof StreamFallback)) throw e;
        return this.stop(e.reason);
      }
    }
    await this.matching((writer) => this.matcher.lines(lines, first, named, writer));
  }

  private stop(reason: string): void {
    this.fallback = reason;
    this.deps.onStreamFallback?.(reason);
  }

  /** Runs a step of the matcher and writes full chunks; a StreamFallback ends the streaming match. */
  private async matching(step: (writer: RunWriter) => void): Promise<void> {
    if (this.fallback !== null) return;
    const writer = this.writer as RunWriter;
    try {
      step(writer);
    } catch (e) {
      if (!(e instanceof StreamFallback)) throw e;
      this.stop(e.reason);
      return;
    }
    await writer.flush(false);
  }

  /** After the import: our records no line took, and the run made current; null when the stored file must be matched instead. */
  async conclude(file: ReconFile): Promise<MatchDayResult | null> {
    const writer = this.writer;
    if (this.fallback !== null || writer === undefined || this.runId === undefined) return null;
    const { channel, businessDate, deps, startedMs } = this;
    const elapsed = (): number => deps.clock() - startedMs;
    const payments = await (this.window as DueWindow).untaken();
    const taken = this.matcher.takenOthers();
    const others = await this.store.dueCapturesAndRefunds(channel.channel, businessDate);
    const untaken = [...payments.records, ...others.filter((r) => !taken.has(`${r.source}:${r.recordId}`))];
    const due = payments.due + others.length;
    deps.onProgress?.({ kind: 'loaded', lines: file.rows, records: due, pool: this.matcher.poolSize, elapsedMs: elapsed() });
    let done: ReturnType<StreamMatcher['finish']>;
    try {
      done = this.matcher.finish(untaken, due, writer);
    } catch (e) {
      if (!(e instanceof StreamFallback)) throw e;
      deps.onStreamFallback?.(e.reason);
      return null;
    }
    await writer.flush(true);
    deps.onProgress?.({ kind: 'matched', outcomes: writer.items, elapsedMs: elapsed() });
    const result = await concludeRun(
      this.store,
      { runId: this.runId, file, previous: this.previous, previousExceptions: this.previousExceptions },
      { lines: file.rows, records: done.records, counts: done.counts, items: writer.items },
      deps,
      startedMs,
    );
    return { ...result, streamed: true };
  }
}

/** A block's lines to match: a packed block read where it lies, an older JSON one as a table. */
function blockLines(read: ReadBlock): LineColumns {
  return 'packed' in read ? new PackedLines(read.packed) : LineTable.ofRead(read);
}

/**
 * The void rows of a stored file folded into the payment rows they void, as matchColumns folds them
 * (foldVoids), read in two passes over the blocks that keep only the few lines concerned: the void rows,
 * then the payment rows of the orders they name.
 */
async function foldsOfStored(store: ReconStore, fileId: number): Promise<StreamFolds> {
  const concerned: { readonly index: number; readonly line: StatementLine }[] = [];
  const wanted = new Set<string>();
  let first = 0;
  for await (const stored of store.lineBlocks(fileId)) {
    const lines = blockLines(readStoredBlock(stored));
    for (let i = 0; i < lines.length; i++) {
      if (lines.kind(i) === 'refund' && lines.status(i) === 'succeeded' && isVoidRow(lines, i)) {
        concerned.push({ index: first + i, line: lines.line(i) });
        wanted.add(lines.merchantOrderNo(i) as string);
      }
    }
    first += lines.length;
  }
  if (wanted.size === 0) return { voidRows: new Set(), payments: new Set() };
  first = 0;
  for await (const stored of store.lineBlocks(fileId)) {
    const lines = blockLines(readStoredBlock(stored));
    for (let i = 0; i < lines.length; i++) {
      const order = lines.kind(i) === 'payment' ? lines.merchantOrderNo(i) : null;
      if (order !== null && wanted.has(order)) concerned.push({ index: first + i, line: lines.line(i) });
    }
    first += lines.length;
  }
  concerned.sort((a, b) => a.index - b.index);
  const folded = foldVoids(lineArrayColumns(concerned.map((c) => c.line)));
  const indexOf = (k: number): number => (concerned[k] as (typeof concerned)[number]).index;
  return { payments: new Set([...folded.keys()].map(indexOf)), voidRows: new Set([...folded.values()].map(indexOf)) };
}

/** Matches a stored file as a stream (recon match, or recon run on a file imported before); null when the day is not of a shape the stream takes. */
async function matchStoredAsStream(
  store: ReconStore,
  channel: Pick<ReconChannelConfig, 'channel' | 'suspense_days'>,
  businessDate: string,
  file: ReconFile,
  deps: MatchDeps,
): Promise<MatchDayResult | null> {
  if (!canStream(store)) return null;
  const stream = await StreamRun.start(store, channel, businessDate, deps, await foldsOfStored(store, file.fileId));
  if (stream === null) return null;
  try {
    await stream.begin(file.fileId);
    let first = 0;
    for await (const stored of store.lineBlocks(file.fileId)) {
      const read = readStoredBlock(stored);
      await stream.block(read, first);
      if (stream.stopped) return null;
      first += 'packed' in read ? read.packed.rows : read.json.n;
    }
    return await stream.conclude(file);
  } finally {
    stream.close();
  }
}
