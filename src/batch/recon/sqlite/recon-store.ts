// The SQLite adapter of the reconciliation store port. It shares the ledger's connection (opened by
// src/ledger/sqlite/database.ts), so a resolution's journal entry and its decision commit together.
// Our orders are read from the online core's tables (payments, refunds, captures, preauths) and the
// ledger's journal, by SQL only: src/batch never imports src/online.
//
// Writes of a long job go in short transactions (a chunk of lines or items each), so the daemon on the
// same file is never kept waiting for the write lock; readers only see a file once it is committed and
// a run once it is finished.

import { existsSync } from 'node:fs';
import type { AccountSpec, LedgerCommand, LedgerFailure } from '../../../ledger/index.js';
import type { SqliteConnection, SqliteStatement } from '../../../ledger/sqlite/database.js';
import { migrateModule, statementCache } from '../../../ledger/sqlite/database.js';
import type { SqliteLedgerStore } from '../../../ledger/sqlite/store.js';
import type { FormatName } from '../config.js';
import type { EncodedLineBlock, StoredBlock } from '../line-block.js';
import type { LineKind, StatementLine, StatementSummary } from '../line.js';
import { LineTable, type DiscrepancyType, type MatchedPairs, type OurRecord, type OutcomeCounts, type OutcomeKind, type OutcomeNote, type RecordSource, type RecordTable } from '../match.js';
import type {
  ImportWriter,
  ItemFilter,
  ItemRow,
  ItemStatus,
  NewFile,
  NewRun,
  OrderFacts,
  ReconFile,
  ReconStore,
  Resolution,
  ResolveOutcome,
  RunInfo,
  StoredItem,
} from '../port.js';
import type { NamedRecord } from '../stream-match.js';
import { batchOf } from '../due-window.js';
import { DAY_PAYMENTS_JOINED_PAGE, DAY_PAYMENTS_PAGE, integerToBigint, paymentRecord, UNIT_SEPARATOR } from './due-pages.js';
import { duePaymentsHere, duePaymentsOnWorker, type DuePayments } from './due-reader.js';
import type { SuspenseItem } from '../suspense.js';
import { RECON_MIGRATIONS } from './migrations.js';

type Row = Record<string, unknown>;

/** Rows per multi-row INSERT statement: fewer statement runs, far below SQLite's 32766 parameters. */
const ROWS_PER_INSERT = 50;
const ITEMS_PER_INSERT = 25;
/** Plain matched pairs per packed block (recon_pair_blocks). */
const PAIRS_PER_BLOCK = 10_000;
/** Keys per `IN (…)` lookup. */
const KEYS_PER_LOOKUP = 500;
/**
 * The connection's page cache while a file is imported (KiB). The blocks are written once and not read
 * again by the import, so a larger cache only fills with them: at better-sqlite3's default (16 MiB) it
 * held ~9 MiB more at the end of a 1M-row import than of a 100k one, with no run faster for it (WeChat
 * and Alipay, 100k and 1M). The connection's own size is put back when the import ends.
 */
export const IMPORT_PAGE_CACHE_KIB = 1024;

/** Blocks deleted per transaction when an aborted import is removed. */
const DELETE_CHUNK_BLOCKS = 100;

const num = (v: unknown): number => Number(v as bigint);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v as bigint));
const big = (v: unknown): bigint => v as bigint;
const bigOrNull = (v: unknown): bigint | null => (v === null || v === undefined ? null : (v as bigint));
const str = (v: unknown): string => v as string;
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : (v as string));
/**
 * An INTEGER column's decimal text (from group_concat) as a bigint: through a number while it is exact
 * (15 digits), which is ~3× cheaper than BigInt's own parse of the text.
 */
/** recon_line_blocks.lines: a blob (binary block) or a text (JSON, before migration 3). */
const storedBlock = (v: unknown): StoredBlock => (typeof v === 'string' ? v : (v as Uint8Array));

export function migrateRecon(db: SqliteConnection): void {
  migrateModule(db, 'recon', RECON_MIGRATIONS);
}

const ITEM_COLUMNS = [
  'run_id',
  'outcome',
  'type',
  'differences',
  'note',
  'kind',
  'identity',
  'file_id',
  'line_seq',
  'channel_txn_id',
  'order_key',
  'channel_amount_minor',
  'channel_currency',
  'channel_status',
  'channel_fee',
  'occurred_at',
  'record_source',
  'record_id',
  'merchant_id',
  'payment_id',
  'ledger_txn_id',
  'ledger_amount_minor',
  'ledger_currency',
  'ledger_status',
  'ledger_cost_minor',
  'ledger_business_date',
  'channel_suspense_id',
  'ledger_suspense_id',
  'until_date',
  'status',
] as const;

/**
 * A matched item keeps only what ties the two sides together and what the pool needs: the line (file,
 * sequence) and our record (source, id). Both agree, so amounts and statuses are in recon_lines and our
 * tables; a million matched rows stay narrow.
 */
const MATCHED_COLUMNS = ['run_id', 'outcome', 'note', 'kind', 'file_id', 'line_seq', 'record_source', 'record_id', 'channel_suspense_id', 'ledger_suspense_id'] as const;

function matchedParams(runId: number, i: ItemRow, out: unknown[]): void {
  out.push(runId, i.outcome, i.note, i.kind, i.fileId, i.lineSeq, i.recordSource, i.recordId, i.channelSuspenseId, i.ledgerSuspenseId);
}

function insertSql(table: string, columns: readonly string[], rows: number): string {
  const one = `(${columns.map(() => '?').join(', ')})`;
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array.from({ length: rows }, () => one).join(', ')}`;
}

// ---- packed blocks (migration 2) ----

/** A line with its repeating texts shared (a million lines read back keep one copy of each). */
function internLine(l: StatementLine, intern: Interner): StatementLine {
  return { ...l, currency: intern.of(l.currency), occurredAt: intern.of(l.occurredAt), fee: intern.orNull(l.fee) };
}

const PAIR_KIND: Readonly<Record<LineKind, number>> = { payment: 0x70, refund: 0x72 }; // p r
const PAIR_SOURCE: Readonly<Record<RecordSource, number>> = { payment: 0x70, refund: 0x72, capture: 0x63 }; // p r c

/** A character JSON must escape in a string (quote, backslash, a control, a surrogate): rare in an id. */
// eslint-disable-next-line no-control-regex -- the control characters are what it looks for
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Where encodePairs writes a block's bytes, grown when a block needs more: one buffer for every block. */
let pairBytes = Buffer.allocUnsafeSlow(128 * 1024);

/**
 * Pairs `from` to `to` as a stored block: [kind p|r, line_seq, record_source p|r|c, record_id] each (the view
 * recon_matched reads it), exactly as JSON.stringify writes it. The bytes go into one reused buffer and make
 * one string at the end: concatenating the pieces made ~365 bytes of garbage a pair (365 MiB at 1M lines),
 * the import's largest. An id is quoted as it is unless JSON must escape it.
 */
export function encodePairs(pairs: MatchedPairs, from: number, to: number): string {
  let out = pairBytes;
  let at = 0;
  out[at++] = 0x5b; // [
  for (let j = from; j < to; j++) {
    const id = pairs.recordId[j] as string;
    const quoted = JSON_ESCAPED.test(id) ? JSON.stringify(id) : undefined;
    const room = at + 48 + 3 * (quoted ?? id).length;
    if (room > out.length) {
      const larger = Buffer.allocUnsafeSlow(Math.max(out.length * 2, room));
      out.copy(larger, 0, 0, at);
      out = pairBytes = larger;
    }
    if (j !== from) out[at++] = 0x2c; // ,
    out[at++] = 0x5b; // [
    out[at++] = 0x22;
    out[at++] = PAIR_KIND[pairs.kind[j] as LineKind];
    out[at++] = 0x22;
    out[at++] = 0x2c;
    at = writeCount(out, at, pairs.lineSeq[j] as number);
    out[at++] = 0x2c;
    out[at++] = 0x22;
    out[at++] = PAIR_SOURCE[pairs.recordSource[j] as RecordSource];
    out[at++] = 0x22;
    out[at++] = 0x2c;
    if (quoted !== undefined) at += out.write(quoted, at, 'utf8');
    else {
      out[at++] = 0x22;
      at = writeText(out, at, id);
      out[at++] = 0x22;
    }
    out[at++] = 0x5d; // ]
  }
  out[at++] = 0x5d;
  return out.toString('utf8', 0, at);
}

/** A line number's digits at `at` (as JSON writes a non-negative integer); the position after them. */
function writeCount(out: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return at + out.write(JSON.stringify(n), at, 'latin1');
  let digits = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
  for (let i = at + digits - 1, v = n; i >= at; i--, v = Math.floor(v / 10)) out[i] = 0x30 + (v % 10);
  return at + digits;
}

/** A text JSON need not escape, as UTF-8 at `at`: ASCII byte by byte, else by the buffer's encoder. */
function writeText(out: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return at + out.write(text, at, 'utf8');
    out[at + i] = c;
  }
  return at + text.length;
}

function toFile(r: Row): ReconFile {
  return {
    fileId: num(r['file_id']),
    channel: str(r['channel']),
    businessDate: str(r['business_date']),
    version: num(r['version']),
    sha256: str(r['sha256']),
    format: str(r['format']) as FormatName,
    sourceName: strOrNull(r['source_name']),
    rows: num(r['rows']),
    payments: num(r['payments']),
    refunds: num(r['refunds']),
    paymentAmountMinor: big(r['payment_amount_minor']),
    refundAmountMinor: big(r['refund_amount_minor']),
    feeTotal: strOrNull(r['fee_total']),
    totalsCheck: str(r['totals_check']) === 'ok' ? 'ok' : 'absent',
    importedAtMs: num(r['imported_at_ms']),
  };
}

/**
 * Values that repeat on every row (kind, status, currency, fee, time of day, merchant, date) are shared
 * instead of kept once per row: a million rows read for a match would otherwise hold a million copies
 * of "payment" and "CNY". Bounded, so a file of all-distinct values cannot grow it without limit.
 */
class Interner {
  private readonly seen = new Map<string, string>();
  constructor(private readonly sizeMax = 100_000) {}
  of(s: string): string {
    const have = this.seen.get(s);
    if (have !== undefined) return have;
    if (this.seen.size < this.sizeMax) this.seen.set(s, s);
    return s;
  }
  orNull(v: unknown): string | null {
    return v === null || v === undefined ? null : this.of(v as string);
  }
}

/** A record from a raw row of the record queries below (all select the same columns in the same order). */
function toRecord(r: readonly unknown[], source: RecordSource, intern: Interner): OurRecord {
  return {
    source,
    recordId: str(r[0]),
    merchantId: intern.of(str(r[1])),
    paymentId: strOrNull(r[2]),
    channelTxnId: strOrNull(r[3]),
    amountMinor: big(r[4]),
    currency: intern.of(str(r[5])),
    status: intern.of(str(r[6])),
    costMinor: big(r[7]),
    businessDate: intern.orNull(r[8]),
  };
}

function toCounts(text: unknown): OutcomeCounts {
  if (typeof text !== 'string') return { matched: 0, suspense: 0, discrepancies: 0, byType: {} };
  return JSON.parse(text) as OutcomeCounts;
}

function toRun(r: Row): RunInfo {
  return {
    runId: num(r['run_id']),
    channel: str(r['channel']),
    businessDate: str(r['business_date']),
    fileId: num(r['file_id']),
    fileVersion: num(r['version']),
    status: str(r['status']) as RunInfo['status'],
    startedAtMs: num(r['started_at_ms']),
    finishedAtMs: numOrNull(r['finished_at_ms']),
    lines: num(r['lines']),
    records: num(r['records']),
    counts: toCounts(r['counts']),
  };
}

function toItem(r: Row): StoredItem {
  const status = strOrNull(r['status']) as ItemStatus | null;
  const action = strOrNull(r['action']);
  return {
    itemId: num(r['item_id']),
    runId: num(r['run_id']),
    channel: str(r['channel']),
    businessDate: str(r['business_date']),
    outcome: str(r['outcome']) as OutcomeKind,
    type: strOrNull(r['type']) as DiscrepancyType | null,
    differences: r['differences'] === null ? [] : (JSON.parse(str(r['differences'])) as DiscrepancyType[]),
    note: strOrNull(r['note']) as OutcomeNote | null,
    kind: str(r['kind']) as LineKind,
    identity: strOrNull(r['identity']),
    fileId: numOrNull(r['file_id']),
    lineSeq: numOrNull(r['line_seq']),
    channelTxnId: strOrNull(r['channel_txn_id']),
    orderKey: strOrNull(r['order_key']),
    channelAmountMinor: bigOrNull(r['channel_amount_minor']),
    channelCurrency: strOrNull(r['channel_currency']),
    channelStatus: strOrNull(r['channel_status']),
    channelFee: strOrNull(r['channel_fee']),
    occurredAt: strOrNull(r['occurred_at']),
    recordSource: strOrNull(r['record_source']) as RecordSource | null,
    recordId: strOrNull(r['record_id']),
    merchantId: strOrNull(r['merchant_id']),
    paymentId: strOrNull(r['payment_id']),
    ledgerTxnId: strOrNull(r['ledger_txn_id']),
    ledgerAmountMinor: bigOrNull(r['ledger_amount_minor']),
    ledgerCurrency: strOrNull(r['ledger_currency']),
    ledgerStatus: strOrNull(r['ledger_status']),
    ledgerCostMinor: bigOrNull(r['ledger_cost_minor']),
    ledgerBusinessDate: strOrNull(r['ledger_business_date']),
    channelSuspenseId: numOrNull(r['channel_suspense_id']),
    ledgerSuspenseId: numOrNull(r['ledger_suspense_id']),
    untilDate: strOrNull(r['until_date']),
    status,
    resolution:
      action === null
        ? null
        : {
            action,
            by: str(r['resolved_by']),
            atMs: num(r['resolved_at_ms']),
            reason: str(r['reason']),
            approval: strOrNull(r['approval']),
            entryIds: r['entry_ids'] === null ? [] : (JSON.parse(str(r['entry_ids'])) as string[]),
            carriedFromItemId: numOrNull(r['carried_from_item_id']),
          },
  };
}

function itemParams(runId: number, i: ItemRow, out: unknown[]): void {
  out.push(
    runId,
    i.outcome,
    i.type,
    i.differences.length === 0 ? null : JSON.stringify(i.differences),
    i.note,
    i.kind,
    i.identity,
    i.fileId,
    i.lineSeq,
    i.channelTxnId,
    i.orderKey,
    i.channelAmountMinor,
    i.channelCurrency,
    i.channelStatus,
    i.channelFee,
    i.occurredAt,
    i.recordSource,
    i.recordId,
    i.merchantId,
    i.paymentId,
    i.ledgerTxnId,
    i.ledgerAmountMinor,
    i.ledgerCurrency,
    i.ledgerStatus,
    i.ledgerCostMinor,
    i.ledgerBusinessDate,
    i.channelSuspenseId,
    i.ledgerSuspenseId,
    i.untilDate,
    i.outcome === 'discrepancy' ? 'open' : null,
  );
}

const ITEM_SELECT = 'SELECT i.*, r.channel, r.business_date FROM recon_items i JOIN recon_runs r ON r.run_id = i.run_id';
const RUN_SELECT = 'SELECT r.*, f.version FROM recon_runs r JOIN recon_files f ON f.file_id = r.file_id';

// Our records: a payment's business date is on its row (set when it succeeded, the day of its pay.<id>
// entry); refunds and captures have none, so theirs is the day of their journal entry, by the online
// core's entry ids refund.<refund_id> and cap.<capture_id>.
/** DAY_PAYMENTS_PAGE less what every row of it has the same (no payment_id; the date asked): rowid is column 7. */
const DAY_PAYMENTS_NARROW_PAGE = `
  SELECT p.payment_id, p.merchant_id, p.channel_txn_id, p.amount_minor, p.currency, p.status, p.cost_minor, p.rowid
  FROM payments p WHERE p.business_date = ? AND p.channel_id = ? AND p.rowid > ? ORDER BY p.rowid LIMIT ?`;
/** Rows of our records read per page: a page of raw rows dies young (20,000 outlived the young generation). */
const RECORDS_PAGE_ROWS = 5_000;
const DAY_REFUNDS = `
  SELECT r.refund_id AS record_id, r.merchant_id, r.payment_id, r.channel_txn_id, r.amount_minor, r.currency, r.status,
         r.cost_returned_minor AS cost_minor, e.business_date
  FROM entries e JOIN refunds r ON r.refund_id = substr(e.entry_id, 8) JOIN payments p ON p.payment_id = r.payment_id
  WHERE e.business_date = ? AND substr(e.entry_id, 1, 7) = 'refund.' AND p.channel_id = ?`;
const DAY_CAPTURES = `
  SELECT c.capture_id AS record_id, c.merchant_id, NULL AS payment_id, NULL AS channel_txn_id, c.amount_minor, c.currency, c.status,
         c.cost_minor, e.business_date
  FROM entries e JOIN captures c ON c.capture_id = substr(e.entry_id, 5) JOIN preauths a ON a.preauth_id = c.preauth_id
  WHERE e.business_date = ? AND substr(e.entry_id, 1, 4) = 'cap.' AND a.channel_id = ?`;

const lookupPayments = (n: number): string => `
  SELECT p.payment_id AS record_id, p.merchant_id, NULL AS payment_id, p.channel_txn_id, p.amount_minor, p.currency, p.status,
         p.cost_minor, p.business_date
  FROM payments p WHERE p.channel_id = ? AND p.payment_id IN (${Array(n).fill('?').join(', ')})`;
const lookupCaptures = (n: number): string => `
  SELECT c.capture_id AS record_id, c.merchant_id, NULL AS payment_id, NULL AS channel_txn_id, c.amount_minor, c.currency, c.status,
         c.cost_minor, e.business_date
  FROM captures c JOIN preauths a ON a.preauth_id = c.preauth_id LEFT JOIN entries e ON e.entry_id = 'cap.' || c.capture_id
  WHERE a.channel_id = ? AND c.capture_id IN (${Array(n).fill('?').join(', ')})`;
const lookupRefunds = (n: number): string => `
  SELECT r.refund_id AS record_id, r.merchant_id, r.payment_id, r.channel_txn_id, r.amount_minor, r.currency, r.status,
         r.cost_returned_minor AS cost_minor, e.business_date
  FROM refunds r JOIN payments p ON p.payment_id = r.payment_id LEFT JOIN entries e ON e.entry_id = 'refund.' || r.refund_id
  WHERE p.channel_id = ? AND r.refund_id IN (${Array(n).fill('?').join(', ')})`;

/**
 * The payments a block of lines names, as one row of columns joined by U+001F (see DAY_PAYMENTS_JOINED_PAGE),
 * with their row ids; NULLs as '' (no payment id, merchant, amount, currency, status or cost is ever '').
 */
const NAMED_PAYMENTS_JOINED = `
  SELECT count(*), group_concat(p.payment_id, char(31)), group_concat(p.merchant_id, char(31)), group_concat(ifnull(p.channel_txn_id, ''), char(31)),
         group_concat(p.amount_minor, char(31)), group_concat(p.currency, char(31)), group_concat(p.status, char(31)), group_concat(p.cost_minor, char(31)),
         group_concat(ifnull(p.business_date, ''), char(31)), group_concat(p.rowid, char(31))
  FROM json_each(?) j JOIN payments p ON p.payment_id = j.value WHERE p.channel_id = ?`;
/** The same, a row each (a page whose values hold the separator). */
const NAMED_PAYMENTS_ROWS = `
  SELECT p.payment_id AS record_id, p.merchant_id, NULL AS payment_id, p.channel_txn_id, p.amount_minor, p.currency, p.status,
         p.cost_minor, p.business_date, p.rowid
  FROM json_each(?) j JOIN payments p ON p.payment_id = j.value WHERE p.channel_id = ?`;
const paymentsByRowid = (n: number): string => `
  SELECT p.payment_id AS record_id, p.merchant_id, NULL AS payment_id, p.channel_txn_id, p.amount_minor, p.currency, p.status,
         p.cost_minor, p.business_date
  FROM payments p WHERE p.rowid IN (${Array(n).fill('?').join(', ')}) ORDER BY p.rowid`;

class LedgerRefused extends Error {
  readonly failure: LedgerFailure;
  constructor(failure: LedgerFailure) {
    super(failure.message);
    this.failure = failure;
  }
}

export class SqliteReconStore implements ReconStore {
  private readonly db: SqliteConnection;
  private readonly ledger: SqliteLedgerStore;
  private readonly stmt: (sql: string) => SqliteStatement;
  private onlineTables: boolean | undefined;

  /** On the ledger store's connection: a resolution posts through the ledger in the same transaction. */
  constructor(ledger: SqliteLedgerStore) {
    this.db = ledger.db;
    this.ledger = ledger;
    this.stmt = statementCache(this.db);
    migrateRecon(this.db);
  }

  /** The online core creates its tables the first time it opens the file; until then we have no orders. */
  private hasOnlineTables(): boolean {
    if (this.onlineTables === true) return true;
    const row = this.db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('payments', 'refunds', 'captures', 'preauths')").get() as Row;
    this.onlineTables = num(row['n']) === 4;
    return this.onlineTables;
  }

  // ---- files ----

  async fileBySha(channel: string, businessDate: string, sha256: string): Promise<ReconFile | undefined> {
    const r = this.stmt(
      "SELECT * FROM recon_files WHERE channel = ? AND business_date = ? AND sha256 = ? AND status = 'imported' ORDER BY version LIMIT 1",
    ).get(channel, businessDate, sha256) as Row | undefined;
    return r ? toFile(r) : undefined;
  }

  async latestFile(channel: string, businessDate: string): Promise<ReconFile | undefined> {
    const r = this.stmt("SELECT * FROM recon_files WHERE channel = ? AND business_date = ? AND status = 'imported' ORDER BY version DESC LIMIT 1").get(
      channel,
      businessDate,
    ) as Row | undefined;
    return r ? toFile(r) : undefined;
  }

  async file(fileId: number): Promise<ReconFile | undefined> {
    const r = this.stmt("SELECT * FROM recon_files WHERE file_id = ? AND status = 'imported'").get(fileId) as Row | undefined;
    return r ? toFile(r) : undefined;
  }

  async beginImport(file: NewFile): Promise<ImportWriter> {
    // A staging version left by an import that died half way is removed first.
    const stale = this.stmt("SELECT file_id FROM recon_files WHERE channel = ? AND business_date = ? AND status = 'staging'").all(file.channel, file.businessDate) as Row[];
    for (const s of stale) this.removeFile(num(s['file_id']));
    const { fileId, version } = this.db
      .transaction(() => {
        const v = this.stmt('SELECT COALESCE(MAX(version), 0) + 1 AS v FROM recon_files WHERE channel = ? AND business_date = ?').get(file.channel, file.businessDate) as Row;
        const info = this.stmt(
          `INSERT INTO recon_files (channel, business_date, version, status, sha256, format, source_name, imported_at_ms)
           VALUES (?, ?, ?, 'staging', ?, ?, ?, ?)`,
        ).run(file.channel, file.businessDate, v['v'], file.sha256, file.format, file.sourceName, file.nowMs);
        return { fileId: Number(info.lastInsertRowid), version: num(v['v']) };
      })
      .immediate();
    return this.importWriter(fileId, version);
  }

  private importWriter(fileId: number, version: number): ImportWriter {
    const cacheBefore = this.db.pragma('cache_size', { simple: true }) as bigint;
    this.db.pragma(`cache_size = -${IMPORT_PAGE_CACHE_KIB}`);
    const restoreCache = (): void => void this.db.pragma(`cache_size = ${cacheBefore}`);
    let seq = 0;
    const insert = this.stmt('INSERT INTO recon_line_blocks (file_id, first_seq, rows, lines) VALUES (?, ?, ?, ?)');
    const write = (block: EncodedLineBlock): void => {
      this.db
        .transaction(() => {
          insert.run(fileId, seq + 1, block.rows, block.encoded);
        })
        .immediate();
      seq += block.rows;
    };
    return {
      fileId,
      version,
      append: async (block) => {
        write(block);
      },
      commit: async (summary: StatementSummary, rows: number, sha256?: string) => {
        restoreCache();
        this.stmt(
          `UPDATE recon_files SET status = 'imported', rows = ?, payments = ?, refunds = ?, payment_amount_minor = ?, refund_amount_minor = ?,
             fee_total = ?, totals_check = ?, sha256 = COALESCE(?, sha256) WHERE file_id = ? AND status = 'staging'`,
        ).run(rows, summary.payments, summary.refunds, summary.paymentAmountMinor, summary.refundAmountMinor, summary.feeTotal, summary.totalsCheck, sha256 ?? null, fileId);
        const r = this.stmt('SELECT * FROM recon_files WHERE file_id = ?').get(fileId) as Row;
        return toFile(r);
      },
      abort: async () => {
        restoreCache();
        this.removeFile(fileId);
      },
    };
  }

  /** Removes a staged file and its lines, in chunks so no single transaction holds the lock for long. */
  private removeFile(fileId: number): void {
    for (;;) {
      const edge = this.stmt(`SELECT first_seq FROM recon_line_blocks WHERE file_id = ? ORDER BY first_seq LIMIT 1 OFFSET ${DELETE_CHUNK_BLOCKS - 1}`).get(fileId) as Row | undefined;
      if (!edge) break;
      this.stmt('DELETE FROM recon_line_blocks WHERE file_id = ? AND first_seq <= ?').run(fileId, edge['first_seq']);
    }
    this.db.transaction(() => {
      this.stmt('DELETE FROM recon_line_blocks WHERE file_id = ?').run(fileId);
      // A streaming match runs on the file while it is staged: its unfinished run goes with the file.
      for (const run of this.stmt("SELECT run_id FROM recon_runs WHERE file_id = ? AND status = 'running'").all(fileId) as Row[]) this.deleteRun(num(run['run_id']));
      this.stmt("DELETE FROM recon_files WHERE file_id = ? AND status = 'staging'").run(fileId);
    }).immediate();
  }

  async *lines(fileId: number, chunkRows: number): AsyncIterable<readonly StatementLine[]> {
    const intern = new Interner();
    let page: StatementLine[] = [];
    for await (const stored of this.lineBlocks(fileId)) {
      const block = LineTable.ofStored(stored);
      for (let i = 0; i < block.length; i++) {
        const l = internLine(block.line(i), intern);
        page.push(l);
        if (page.length >= chunkRows) {
          yield page;
          page = [];
        }
      }
    }
    if (page.length > 0) yield page;
  }

  async *lineBlocks(fileId: number): AsyncIterable<StoredBlock> {
    const block = this.stmt('SELECT first_seq, lines FROM recon_line_blocks WHERE file_id = ? AND first_seq > ? ORDER BY first_seq LIMIT 1').raw(true);
    for (let after = 0; ; ) {
      const r = block.get(fileId, after) as unknown[] | undefined;
      if (r === undefined) return;
      after = num(r[0]);
      yield storedBlock(r[1]);
    }
  }

  async line(fileId: number, lineSeq: number): Promise<StatementLine | undefined> {
    const r = this.stmt('SELECT first_seq, rows, lines FROM recon_line_blocks WHERE file_id = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1')
      .raw(true)
      .get(fileId, lineSeq) as unknown[] | undefined;
    if (r === undefined || lineSeq >= num(r[0]) + num(r[1])) return undefined;
    return LineTable.ofStored(storedBlock(r[2])).line(lineSeq - num(r[0]));
  }

  // ---- our side ----

  async recordsForDay(channel: string, businessDate: string): Promise<OurRecord[]> {
    const out: OurRecord[] = [];
    for await (const page of this.recordsForDayPages(channel, businessDate)) for (const r of page) out.push(r);
    return out;
  }

  /**
   * recordsForDay straight into a run's table (payments, then captures, then refunds), read a page of raw
   * rows at a time: no object per record, no page of them alive for long.
   */
  async recordsForDayInto(channel: string, businessDate: string, into: RecordTable, pageRows = RECORDS_PAGE_ROWS): Promise<void> {
    if (!this.hasOnlineTables()) return;
    const add = (r: readonly unknown[], source: RecordSource): void =>
      into.pushFields(source, str(r[0]), str(r[1]), strOrNull(r[2]), strOrNull(r[3]), big(r[4]), str(r[5]), str(r[6]), big(r[7]), strOrNull(r[8]));
    const joined = this.stmt(DAY_PAYMENTS_JOINED_PAGE).raw(true);
    const page = this.stmt(DAY_PAYMENTS_NARROW_PAGE).raw(true);
    for (let after = -1n; ; ) {
      const j = joined.get(businessDate, channel, after, pageRows) as unknown[];
      const n = num(j[0]);
      if (n === 0) break;
      const cols = j.slice(2).map((v) => str(v).split(UNIT_SEPARATOR));
      if (cols.every((c) => c.length === n)) {
        const [ids, merchants, txns, amounts, currencies, statuses, costs] = cols as [string[], string[], string[], string[], string[], string[], string[]];
        for (let i = 0; i < n; i++) {
          into.pushFields('payment', ids[i] as string, merchants[i] as string, null, (txns[i] as string) || null, integerToBigint(amounts[i] as string), currencies[i] as string, statuses[i] as string, integerToBigint(costs[i] as string), businessDate);
        }
      } else {
        // A value holds the separator: this page row by row.
        for (const r of page.all(businessDate, channel, after, pageRows) as unknown[][]) {
          into.pushFields('payment', str(r[0]), str(r[1]), null, strOrNull(r[2]), big(r[3]), str(r[4]), str(r[5]), big(r[6]), businessDate);
        }
      }
      if (n < pageRows) break;
      after = j[1] as bigint;
      // Let other work of this thread in between pages (a parse on a worker thread posts its lines meanwhile).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    for (const r of this.stmt(DAY_CAPTURES).raw(true).iterate(businessDate, channel) as Iterable<unknown[]>) add(r, 'capture');
    for (const r of this.stmt(DAY_REFUNDS).raw(true).iterate(businessDate, channel) as Iterable<unknown[]>) add(r, 'refund');
  }

  /** recordsForDay a page at a time (payments, then captures, then refunds), so a run need not hold them all as objects. */
  async *recordsForDayPages(channel: string, businessDate: string, pageRows = RECORDS_PAGE_ROWS): AsyncIterable<OurRecord[]> {
    if (!this.hasOnlineTables()) return;
    const intern = new Interner();
    // Payments in pages by rowid (the index on (business_date, channel_id) keeps rowid order): `all` on a
    // page is cheaper a row than `iterate`, and a page bounds the rows held at once.
    const page = this.stmt(DAY_PAYMENTS_PAGE).raw(true);
    for (let after = -1n; ; ) {
      const rows = page.all(businessDate, channel, after, pageRows) as unknown[][];
      if (rows.length > 0) yield rows.map((r) => toRecord(r, 'payment', intern));
      if (rows.length < pageRows) break;
      after = (rows[rows.length - 1] as unknown[])[9] as bigint;
    }
    const rest: OurRecord[] = [];
    for (const r of this.stmt(DAY_CAPTURES).raw(true).iterate(businessDate, channel) as Iterable<unknown[]>) rest.push(toRecord(r, 'capture', intern));
    for (const r of this.stmt(DAY_REFUNDS).raw(true).iterate(businessDate, channel) as Iterable<unknown[]>) rest.push(toRecord(r, 'refund', intern));
    if (rest.length > 0) yield rest;
  }

  async lookupRecords(channel: string, paymentKeys: readonly string[], refundKeys: readonly string[]): Promise<OurRecord[]> {
    if (!this.hasOnlineTables()) return [];
    const out: OurRecord[] = [];
    const intern = new Interner();
    this.lookupInChunks(channel, paymentKeys, 'payment', intern, out);
    this.lookupInChunks(channel, paymentKeys, 'capture', intern, out);
    this.lookupInChunks(channel, refundKeys, 'refund', intern, out);
    return out;
  }

  private lookupInChunks(channel: string, keys: readonly string[], source: RecordSource, intern: Interner, out: OurRecord[]): void {
    const sql = source === 'payment' ? lookupPayments : source === 'capture' ? lookupCaptures : lookupRefunds;
    for (let i = 0; i < keys.length; i += KEYS_PER_LOOKUP) {
      const part = keys.slice(i, i + KEYS_PER_LOOKUP);
      for (const r of this.stmt(sql(part.length)).raw(true).all(channel, ...part) as unknown[][]) out.push(toRecord(r, source, intern));
    }
  }

  /** lookupRecords for a streaming match: each payment with its row id (so the window over the day's payments knows it was taken). */
  async recordsNamed(channel: string, keys: { readonly payment: readonly string[]; readonly refund: readonly string[]; readonly captureOnly?: readonly string[] }): Promise<NamedRecord[]> {
    if (!this.hasOnlineTables()) return [];
    const out: NamedRecord[] = [];
    if (keys.payment.length > 0) {
      const json = JSON.stringify(keys.payment);
      const j = this.stmt(NAMED_PAYMENTS_JOINED).raw(true).get(json, channel) as unknown[];
      const n = num(j[0]);
      const cols = n === 0 ? [] : j.slice(1).map((v) => str(v).split(UNIT_SEPARATOR));
      if (cols.every((c) => c.length === n)) {
        const [ids, merchants, txns, amounts, currencies, statuses, costs, dates, rowids] = cols as string[][] as [string[], string[], string[], string[], string[], string[], string[], string[], string[]];
        for (let i = 0; i < n; i++) {
          const record = paymentRecord(
            ids[i] as string,
            merchants[i] as string,
            (txns[i] as string) || null,
            integerToBigint(amounts[i] as string),
            currencies[i] as string,
            statuses[i] as string,
            integerToBigint(costs[i] as string),
            (dates[i] as string) || null,
          );
          out.push({ record, paymentRowid: Number(rowids[i]) });
        }
      } else {
        const intern = new Interner();
        for (const r of this.stmt(NAMED_PAYMENTS_ROWS).raw(true).all(json, channel) as unknown[][]) out.push({ record: toRecord(r, 'payment', intern), paymentRowid: num(r[9]) });
      }
    }
    const others: OurRecord[] = [];
    const intern = new Interner();
    this.lookupInChunks(channel, keys.captureOnly === undefined ? keys.payment : [...keys.payment, ...keys.captureOnly], 'capture', intern, others);
    this.lookupInChunks(channel, keys.refund, 'refund', intern, others);
    for (const record of others) out.push({ record, paymentRowid: null });
    return out;
  }

  /**
   * Our payments due on the date in row id order, a page at a time (a streaming match reads the day
   * ahead of the file): on a worker thread with its own read-only connection when the database is a
   * file and `onWorker` is not false, else on this connection.
   */
  openDuePayments(channel: string, businessDate: string, onWorker = true): DuePayments {
    if (!this.hasOnlineTables()) return { next: async () => batchOf([]), close: () => undefined };
    const path = this.ledger.path;
    if (onWorker && path !== ':memory:' && path !== '' && existsSync(path)) return duePaymentsOnWorker(path, channel, businessDate);
    return duePaymentsHere(this.db, channel, businessDate);
  }

  /** Whether the channel has any capture (of a pre-authorisation) at all: a line may name one only then. */
  async hasCaptures(channel: string): Promise<boolean> {
    if (!this.hasOnlineTables()) return false;
    return this.stmt('SELECT 1 FROM captures c JOIN preauths a ON a.preauth_id = c.preauth_id WHERE a.channel_id = ? LIMIT 1').get(channel) !== undefined;
  }

  /** Payments by row id, in row id order. */
  async paymentsByRowid(rowids: readonly number[]): Promise<OurRecord[]> {
    const intern = new Interner();
    const out: OurRecord[] = [];
    for (let i = 0; i < rowids.length; i += KEYS_PER_LOOKUP) {
      const part = rowids.slice(i, i + KEYS_PER_LOOKUP);
      for (const r of this.stmt(paymentsByRowid(part.length)).raw(true).all(...part) as unknown[][]) out.push(toRecord(r, 'payment', intern));
    }
    return out;
  }

  /** Our captures and refunds due on the date, as recordsForDay lists them after the payments. */
  async dueCapturesAndRefunds(channel: string, businessDate: string): Promise<OurRecord[]> {
    if (!this.hasOnlineTables()) return [];
    const intern = new Interner();
    const out: OurRecord[] = [];
    for (const r of this.stmt(DAY_CAPTURES).raw(true).iterate(businessDate, channel) as Iterable<unknown[]>) out.push(toRecord(r, 'capture', intern));
    for (const r of this.stmt(DAY_REFUNDS).raw(true).iterate(businessDate, channel) as Iterable<unknown[]>) out.push(toRecord(r, 'refund', intern));
    return out;
  }

  async orderFacts(kind: 'payment' | 'refund', orderKey: string): Promise<OrderFacts | undefined> {
    if (!this.hasOnlineTables()) return undefined;
    const moved = (status: string, set: readonly string[]): boolean => set.includes(status);
    if (kind === 'refund') {
      const r = this.stmt('SELECT refund_id, merchant_id, status FROM refunds WHERE refund_id = ?').get(orderKey) as Row | undefined;
      return r ? { source: 'refund', recordId: str(r['refund_id']), merchantId: str(r['merchant_id']), moved: moved(str(r['status']), ['succeeded']) } : undefined;
    }
    const p = this.stmt('SELECT payment_id, merchant_id, status FROM payments WHERE payment_id = ?').get(orderKey) as Row | undefined;
    if (p) {
      return { source: 'payment', recordId: str(p['payment_id']), merchantId: str(p['merchant_id']), moved: moved(str(p['status']), ['succeeded', 'partially_refunded', 'refunded']) };
    }
    const c = this.stmt('SELECT capture_id, merchant_id, status FROM captures WHERE capture_id = ?').get(orderKey) as Row | undefined;
    return c ? { source: 'capture', recordId: str(c['capture_id']), merchantId: str(c['merchant_id']), moved: moved(str(c['status']), ['succeeded']) } : undefined;
  }

  async entryExists(entryId: string): Promise<boolean> {
    return this.stmt('SELECT 1 FROM entries WHERE entry_id = ?').get(entryId) !== undefined;
  }

  // ---- runs ----

  async suspensePool(channel: string, businessDate: string): Promise<SuspenseItem[]> {
    const rows = this.stmt(
      `SELECT s.suspense_id, s.side, s.since_date, s.until_date, i.*
       FROM recon_suspense s JOIN recon_items i ON i.item_id = s.opened_item_id
       WHERE s.channel = ? AND s.since_date < ? AND (s.closed_date IS NULL OR s.closed_date >= ?)
       ORDER BY s.suspense_id`,
    ).all(channel, businessDate, businessDate) as Row[];
    const out: SuspenseItem[] = [];
    for (const r of rows) {
      const base = { suspenseId: num(r['suspense_id']), sinceDate: str(r['since_date']), untilDate: str(r['until_date']) };
      if (r['side'] === 'channel') {
        const fileId = num(r['file_id']);
        const lineSeq = num(r['line_seq']);
        const line = await this.line(fileId, lineSeq);
        if (line) out.push({ ...base, side: 'channel', fileId, lineSeq, line });
      } else {
        out.push({
          ...base,
          side: 'ledger',
          record: {
            source: str(r['record_source']) as RecordSource,
            recordId: str(r['record_id']),
            merchantId: str(r['merchant_id']),
            paymentId: strOrNull(r['payment_id']),
            channelTxnId: strOrNull(r['ledger_txn_id']),
            amountMinor: big(r['ledger_amount_minor']),
            currency: str(r['ledger_currency']),
            status: str(r['ledger_status']),
            costMinor: big(r['ledger_cost_minor']),
            businessDate: strOrNull(r['ledger_business_date']),
          },
        });
      }
    }
    return out;
  }

  async currentRun(channel: string, businessDate: string): Promise<RunInfo | undefined> {
    const r = this.stmt(`${RUN_SELECT} WHERE r.channel = ? AND r.business_date = ? AND r.status = 'current'`).get(channel, businessDate) as Row | undefined;
    return r ? toRun(r) : undefined;
  }

  async currentRuns(businessDate: string, channel?: string): Promise<RunInfo[]> {
    const rows = this.stmt(`${RUN_SELECT} WHERE r.business_date = ? AND (? IS NULL OR r.channel = ?) AND r.status = 'current' ORDER BY r.channel`).all(
      businessDate,
      channel ?? null,
      channel ?? null,
    ) as Row[];
    return rows.map(toRun);
  }

  async laterRuns(channel: string, businessDate: string): Promise<RunInfo[]> {
    const rows = this.stmt(`${RUN_SELECT} WHERE r.channel = ? AND r.business_date > ? AND r.status = 'current' ORDER BY r.business_date`).all(channel, businessDate) as Row[];
    return rows.map(toRun);
  }

  async beginRun(run: NewRun): Promise<number> {
    return this.db
      .transaction(() => {
        // A run that died before it finished left items nobody reads: remove them.
        for (const dead of this.stmt("SELECT run_id FROM recon_runs WHERE channel = ? AND business_date = ? AND status = 'running'").all(run.channel, run.businessDate) as Row[]) {
          this.deleteRun(num(dead['run_id']));
        }
        const info = this.stmt("INSERT INTO recon_runs (channel, business_date, file_id, status, started_at_ms) VALUES (?, ?, ?, 'running', ?)").run(
          run.channel,
          run.businessDate,
          run.fileId,
          run.nowMs,
        );
        return Number(info.lastInsertRowid);
      })
      .immediate();
  }

  /** An unfinished run and what it wrote (inside the caller's transaction). */
  private deleteRun(runId: number): void {
    this.stmt('DELETE FROM recon_items WHERE run_id = ?').run(runId);
    this.stmt('DELETE FROM recon_pair_blocks WHERE run_id = ?').run(runId);
    this.stmt("DELETE FROM recon_runs WHERE run_id = ? AND status = 'running'").run(runId);
  }

  async appendItems(runId: number, items: readonly ItemRow[], matched?: { readonly fileId: number; readonly pairs: MatchedPairs }): Promise<void> {
    const insert = (columns: readonly string[], perInsert: number, rows: readonly ItemRow[], params: (runId: number, i: ItemRow, out: unknown[]) => void): void => {
      const many = this.stmt(insertSql('recon_items', columns, perInsert));
      const one = this.stmt(insertSql('recon_items', columns, 1));
      const values: unknown[] = [];
      let i = 0;
      for (; i + perInsert <= rows.length; i += perInsert) {
        values.length = 0;
        for (let j = i; j < i + perInsert; j++) params(runId, rows[j] as ItemRow, values);
        many.run(values);
      }
      for (; i < rows.length; i++) {
        values.length = 0;
        params(runId, rows[i] as ItemRow, values);
        one.run(values);
      }
    };
    const matchedRows = items.filter((i) => i.outcome === 'matched');
    const others = items.filter((i) => i.outcome !== 'matched');
    this.db
      .transaction(() => {
        if (matched !== undefined) this.insertPairs(runId, matched.fileId, matched.pairs);
        insert(MATCHED_COLUMNS, ROWS_PER_INSERT, matchedRows, matchedParams);
        insert(ITEM_COLUMNS, ITEMS_PER_INSERT, others, itemParams);
      })
      .immediate();
  }

  /** Plain matched pairs, packed: a block per PAIRS_PER_BLOCK (read back through the view recon_matched). */
  private insertPairs(runId: number, fileId: number, pairs: MatchedPairs): void {
    const insert = this.stmt('INSERT INTO recon_pair_blocks (run_id, file_id, rows, pairs) VALUES (?, ?, ?, ?)');
    const n = pairs.lineSeq.length;
    for (let i = 0; i < n; i += PAIRS_PER_BLOCK) {
      const to = Math.min(i + PAIRS_PER_BLOCK, n);
      insert.run(runId, fileId, to - i, encodePairs(pairs, i, to));
    }
  }

  async finishRun(runId: number, summary: { readonly lines: number; readonly records: number; readonly counts: OutcomeCounts; readonly nowMs: number }): Promise<RunInfo> {
    this.db
      .transaction(() => {
        const run = this.stmt("SELECT channel, business_date FROM recon_runs WHERE run_id = ? AND status = 'running'").get(runId) as Row | undefined;
        if (!run) throw new Error(`recon run ${runId} is not running`);
        const channel = str(run['channel']);
        const date = str(run['business_date']);
        const previous = this.stmt("SELECT run_id FROM recon_runs WHERE channel = ? AND business_date = ? AND status = 'current'").get(channel, date) as Row | undefined;
        if (previous) {
          this.stmt("UPDATE recon_runs SET status = 'superseded' WHERE run_id = ?").run(previous['run_id']);
          this.stmt("UPDATE recon_items SET status = 'superseded' WHERE run_id = ? AND outcome = 'discrepancy' AND status = 'open'").run(previous['run_id']);
        }
        // The pool as this date left it is rebuilt: items it opened go, items it closed reopen.
        this.stmt('DELETE FROM recon_suspense WHERE channel = ? AND since_date = ?').run(channel, date);
        this.stmt('UPDATE recon_suspense SET closed_date = NULL, closed_item_id = NULL WHERE channel = ? AND closed_date = ?').run(channel, date);
        const close = this.stmt('UPDATE recon_suspense SET closed_date = ?, closed_item_id = ? WHERE suspense_id = ?');
        const touched = this.stmt(
          'SELECT item_id, outcome, channel_suspense_id, ledger_suspense_id FROM recon_items WHERE run_id = ? AND (channel_suspense_id IS NOT NULL OR ledger_suspense_id IS NOT NULL)',
        ).all(runId) as Row[];
        for (const t of touched) {
          if (t['outcome'] === 'suspense') continue;
          for (const id of [t['channel_suspense_id'], t['ledger_suspense_id']]) if (id !== null) close.run(date, t['item_id'], id);
        }
        this.stmt(
          `INSERT INTO recon_suspense (channel, side, since_date, until_date, opened_item_id)
           SELECT ?, CASE WHEN record_id IS NULL THEN 'channel' ELSE 'ledger' END, ?, until_date, item_id
           FROM recon_items WHERE run_id = ? AND outcome = 'suspense' AND channel_suspense_id IS NULL AND ledger_suspense_id IS NULL
           ORDER BY item_id`,
        ).run(channel, date, runId);
        if (previous) {
          // The same discrepancy (same item, same type) keeps the decision an operator already took on it.
          this.stmt(
            `UPDATE recon_items SET status = 'resolved', action = o.action, resolved_by = o.resolved_by, resolved_at_ms = o.resolved_at_ms,
               reason = o.reason, approval = o.approval, entry_ids = o.entry_ids, carried_from_item_id = o.item_id
             FROM (SELECT * FROM recon_items WHERE run_id = ? AND outcome = 'discrepancy' AND status = 'resolved') AS o
             WHERE recon_items.run_id = ? AND recon_items.outcome = 'discrepancy' AND recon_items.identity = o.identity AND recon_items.type = o.type`,
          ).run(previous['run_id'], runId);
        }
        this.stmt("UPDATE recon_runs SET status = 'current', finished_at_ms = ?, lines = ?, records = ?, counts = ? WHERE run_id = ?").run(
          summary.nowMs,
          summary.lines,
          summary.records,
          JSON.stringify(summary.counts),
          runId,
        );
      })
      .immediate();
    return toRun(this.stmt(`${RUN_SELECT} WHERE r.run_id = ?`).get(runId) as Row);
  }

  async runExceptions(runId: number, limit: number): Promise<StoredItem[]> {
    const rows = this.stmt(`${ITEM_SELECT} WHERE i.run_id = ? AND i.outcome != 'matched' ORDER BY i.item_id LIMIT ?`).all(runId, limit) as Row[];
    return rows.map(toItem);
  }

  // ---- items ----

  async item(itemId: number): Promise<StoredItem | undefined> {
    const r = this.stmt(`${ITEM_SELECT} WHERE i.item_id = ?`).get(itemId) as Row | undefined;
    return r ? toItem(r) : undefined;
  }

  async items(filter: ItemFilter): Promise<StoredItem[]> {
    const where: string[] = ["r.status = 'current'"];
    const params: unknown[] = [];
    let from = ITEM_SELECT;
    if (filter.status === 'suspense') {
      from = `SELECT i.*, r.channel, r.business_date FROM recon_suspense s JOIN recon_items i ON i.item_id = s.opened_item_id JOIN recon_runs r ON r.run_id = i.run_id`;
      where.push('s.closed_date IS NULL');
    } else {
      where.push("i.outcome = 'discrepancy'");
      if (filter.status !== undefined) {
        where.push('i.status = ?');
        params.push(filter.status);
      } else {
        where.push("i.status IN ('open', 'resolved')");
      }
    }
    if (filter.channel !== undefined) {
      where.push('r.channel = ?');
      params.push(filter.channel);
    }
    if (filter.type !== undefined) {
      where.push('i.type = ?');
      params.push(filter.type);
    }
    if (filter.businessDate !== undefined) {
      where.push('r.business_date = ?');
      params.push(filter.businessDate);
    }
    params.push(filter.limit);
    const rows = this.stmt(`${from} WHERE ${where.join(' AND ')} ORDER BY i.item_id LIMIT ?`).all(...params) as Row[];
    return rows.map(toItem);
  }

  async resolve(itemId: number, resolution: Omit<Resolution, 'carriedFromItemId'>, accounts: readonly AccountSpec[], commands: readonly LedgerCommand[]): Promise<ResolveOutcome> {
    try {
      return this.db
        .transaction((): ResolveOutcome => {
          const r = this.stmt(`${ITEM_SELECT} WHERE i.item_id = ?`).get(itemId) as Row | undefined;
          if (!r || r['outcome'] !== 'discrepancy') return { ok: false, code: 'discrepancy_not_found', message: `No discrepancy has id ${itemId}.` };
          if (r['status'] === 'superseded') {
            return { ok: false, code: 'discrepancy_superseded', message: `Discrepancy ${itemId} belongs to a run a newer match of ${str(r['channel'])} ${str(r['business_date'])} replaced.` };
          }
          if (r['status'] !== 'open') {
            const by = strOrNull(r['resolved_by']);
            return { ok: false, code: 'discrepancy_already_resolved', message: `Discrepancy ${itemId} was resolved (${String(r['action'])}${by ? ` by ${by}` : ''}).` };
          }
          if (accounts.length > 0) this.ledger.ensureAccountsSync(accounts, resolution.atMs);
          if (commands.length > 0) {
            const results = this.ledger.postEntriesSync(commands, resolution.atMs);
            for (const result of results) if (!result.ok) throw new LedgerRefused(result);
          }
          this.stmt(
            `UPDATE recon_items SET status = 'resolved', action = ?, resolved_by = ?, resolved_at_ms = ?, reason = ?, approval = ?, entry_ids = ?
             WHERE item_id = ? AND status = 'open'`,
          ).run(resolution.action, resolution.by, resolution.atMs, resolution.reason, resolution.approval, JSON.stringify(resolution.entryIds), itemId);
          return { ok: true, item: toItem(this.stmt(`${ITEM_SELECT} WHERE i.item_id = ?`).get(itemId) as Row) };
        })
        .immediate();
    } catch (e) {
      if (e instanceof LedgerRefused) {
        this.ledger.invalidateAccountCache();
        return e.failure;
      }
      throw e;
    }
  }
}
