// Per party, the CSV statement of a business date, written from the stored share lines (so a re-run
// writes the same bytes). UTF-8, CRLF, cells escaped against formula injection (csvCell).
//
// File: <dir>/share-<D>-<party>.csv. Columns:
//   business_date  the date shared
//   party_id       agent, ISV or "platform"
//   party_kind     agent | isv | platform
//   kind           payment (a share) | refund (a clawback) | total (one row per currency, last)
//   source_id      the payment or refund id
//   payment_id     the payment shared (for a refund, its payment)
//   merchant_id    the payment's merchant
//   currency       ISO 4217 code
//   rule_id        the sharing rule applied ("-": none matched)
//   base_minor     the base in minor units (a refund's is the refunded part, negative)
//   rate           the party's rate as a decimal ("0.3")
//   share_minor    the share in minor units (negative for a clawback); on the total row, their sum
//   clipped_minor  what a cap kept from the party on that payment; on the total row, their sum
//
// Rows are in (party, currency, payment, source kind, source) order, totals last in currency order. They
// are written from ONE pass over the date's splits and clawbacks in payment order (store.eachSplitByPayment,
// no sort of the day's millions of lines): each row is appended to its (party, currency) part, which
// spills to a part file; at the end the parts become the party's file (statement-parts.ts). A payment's
// cells are escaped once for all its rows, the cells a table's rows share once per table (statement-rows.ts,
// statement-cells.ts). A large date's pass is cut in two, the second half written by a worker thread into
// its own parts, joined after this thread's: the same bytes (statement-halves.ts).

import { mkdirSync } from 'node:fs';
import { csvLine } from '../csv.js';
import type { ShareStore } from './port.js';
import { startSecondHalf, type StatementWorkerOptions } from './statement-halves.js';
import { PartFiles, type Part, type PartLimits } from './statement-parts.js';
import { statementPathOf, statementRows } from './statement-rows.js';

export const STATEMENT_HEADER = ['business_date', 'party_id', 'party_kind', 'kind', 'source_id', 'payment_id', 'merchant_id', 'currency', 'rule_id', 'base_minor', 'rate', 'share_minor', 'clipped_minor'] as const;

export const STATEMENT_LIMITS = {
  /** Bytes of rows a (party, currency) part keeps before it spills to its file. */
  partBufferBytes: 64 << 10,
  /** Bytes of buffers all parts hold together before every part spills and lets its buffer go. */
  totalBufferBytes: 32 << 20,
  /** Bytes read at a time when a part is copied into its party's file. */
  copyChunkBytes: 1 << 20,
  /** Part files kept open between spills (the others are opened for each spill). */
  openPartsMax: 256,
} as const satisfies PartLimits;

export interface StatementFile {
  readonly partyId: string;
  readonly path: string;
  readonly lines: number;
}

/** SQLite's BINARY order (UTF-8 bytes), which orders the parties and currencies of the view-based files. */
const binaryOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

export type StatementLimits = { readonly [K in keyof typeof STATEMENT_LIMITS]: number };

export function writeStatements(store: ShareStore, businessDate: string, dir: string, limits: StatementLimits = STATEMENT_LIMITS, options: StatementWorkerOptions = {}): StatementFile[] {
  mkdirSync(dir, { recursive: true });
  const pathOf = statementPathOf(dir, businessDate);
  const files = new PartFiles(csvLine(STATEMENT_HEADER), limits, pathOf);
  const visit = statementRows(files, businessDate);
  const half = startSecondHalf(store, { businessDate, dir, header: csvLine(STATEMENT_HEADER), limits }, options);
  try {
    // One pass; or this thread's half, then the worker's parts (or, when it failed, the rest of the pass here).
    let theirs: ReadonlyMap<string, ReadonlyMap<string, Part>> = new Map();
    if (half === null) store.eachSplitByPayment(businessDate, visit);
    else {
      store.eachSplitByPayment(businessDate, visit, { after: null, last: half.cutId });
      theirs = half.finish(() => store.eachSplitByPayment(businessDate, visit, { after: half.cutId, last: null }));
    }
    const written: StatementFile[] = [];
    for (const partyId of [...new Set([...files.parties.keys(), ...theirs.keys()])].sort(binaryOrder)) {
      const mine = files.parties.get(partyId) ?? new Map<string, Part>();
      const other = theirs.get(partyId) ?? new Map<string, Part>();
      // Per currency, this thread's rows then the worker's (later payments); the totals of both.
      const currencies = [...new Set([...mine.keys(), ...other.keys()])].sort(binaryOrder);
      if (currencies.length === 0) continue;
      const parts: Part[] = [];
      const totals = currencies.map((currency) => {
        const pair = [mine.get(currency), other.get(currency)].filter((p): p is Part => p !== undefined);
        parts.push(...pair);
        const [first] = pair as [Part];
        const sum = (amountOf: (p: Part) => bigint): bigint => pair.reduce((n, p) => n + amountOf(p), 0n);
        return csvLine([businessDate, partyId, first.partyKind, 'total', '', '', '', currency, '', '', '', sum((p) => p.shareMinor), sum((p) => p.clippedMinor)]);
      });
      const path = pathOf(partyId);
      files.assemble(parts, totals.join(''), path);
      written.push({ partyId, path, lines: parts.reduce((n, p) => n + p.lines, 0) });
    }
    return written;
  } finally {
    files.closeAll();
    half?.stop();
  }
}
