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
// are written from ONE pass over the date's lines in payment order (store.eachLineByPayment, no sort of the
// day's millions of lines): each row is appended to its (party, currency) part, buffered and spilled to a
// part file (<file>.<n>.tmp, the header first) when large; at the end a party's file is its first currency's
// part with the other currencies' parts and the totals appended, renamed into place (never half a file).

import { closeSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { csvCell, csvLine } from '../csv.js';
import type { ShareLine } from './core.js';
import type { ShareStore } from './port.js';

export const STATEMENT_HEADER = ['business_date', 'party_id', 'party_kind', 'kind', 'source_id', 'payment_id', 'merchant_id', 'currency', 'rule_id', 'base_minor', 'rate', 'share_minor', 'clipped_minor'] as const;

export const STATEMENT_LIMITS = {
  /** Characters of rows a (party, currency) part keeps before it spills to its file. */
  partBufferChars: 32 << 10,
  /** Characters of rows all parts keep in memory together before every part spills. */
  totalBufferChars: 16 << 20,
  /** Bytes read at a time when a part is copied into its party's file. */
  copyChunkBytes: 1 << 20,
  /** Part files kept open between spills (the others are opened for each spill). */
  openPartsMax: 256,
} as const;

/** Escaped rate cells kept (the rules' rates: a few). */
const RATE_CELLS_MAX = 10_000;

export interface StatementFile {
  readonly partyId: string;
  readonly path: string;
  readonly lines: number;
}

/** The rows of one party in one currency: buffered, spilled to its part file. */
interface Part {
  readonly currency: string;
  readonly tmp: string;
  /** Whether the part file exists yet (created with the header at the first spill). */
  created: boolean;
  /** Its file, while kept open. */
  fd: number | null;
  buffer: string[];
  chars: number;
  lines: number;
  readonly partyKind: string;
  /** The escaped first cells of its rows (date, party, kind) and a comma. */
  readonly prefix: string;
  shareMinor: bigint;
  clippedMinor: bigint;
}

/** SQLite's BINARY order (UTF-8 bytes), which orders the parties and currencies of the view-based files. */
const binaryOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

export type StatementLimits = { readonly [K in keyof typeof STATEMENT_LIMITS]: number };

export function writeStatements(store: ShareStore, businessDate: string, dir: string, limits: StatementLimits = STATEMENT_LIMITS): StatementFile[] {
  mkdirSync(dir, { recursive: true });
  const header = csvLine(STATEMENT_HEADER);
  const parties = new Map<string, Map<string, Part>>();
  let partsMade = 0;
  let buffered = 0;
  let openParts = 0;
  const pathOf = (partyId: string): string => join(dir, `share-${businessDate}-${partyId}.csv`);
  const spill = (part: Part): void => {
    if (part.buffer.length === 0 && part.created) return;
    const text = (part.created ? '' : header) + part.buffer.join('');
    if (part.fd === null && !part.created && openParts < limits.openPartsMax) {
      part.fd = openSync(part.tmp, 'w');
      openParts++;
    }
    if (part.fd !== null) writeSync(part.fd, text);
    else {
      const fd = openSync(part.tmp, part.created ? 'a' : 'w');
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
    }
    part.created = true;
    buffered -= part.chars;
    part.buffer = [];
    part.chars = 0;
  };
  // A row is csvLine's: cells escaped by csvCell. What the lines of one source share (its middle cells) is
  // escaped once for all its parties, a party's first cells once per part, each rate once.
  const dateCell = csvCell(businessDate);
  const rates = new Map<string, string>();
  let last: ShareLine | null = null;
  let middle = '';
  // A non-negative integer's digits are what csvCell gives for it (no formula start, nothing to quote).
  const amountCell = (x: bigint): string => (x >= 0n ? String(x) : csvCell(x));
  const close = (part: Part): void => {
    if (part.fd === null) return;
    closeSync(part.fd);
    part.fd = null;
    openParts--;
  };
  try {
    store.eachLineByPayment(businessDate, (l: ShareLine) => {
      let currencies = parties.get(l.partyId);
      if (currencies === undefined) {
        currencies = new Map();
        parties.set(l.partyId, currencies);
      }
      let part = currencies.get(l.currency);
      if (part === undefined) {
        // Numbered in the order met, which a re-run repeats: a killed run's part files are overwritten.
        const prefix = `${dateCell},${csvCell(l.partyId)},${csvCell(l.partyKind)},`;
        part = { currency: l.currency, tmp: `${pathOf(l.partyId)}.${partsMade++}.tmp`, created: false, fd: null, buffer: [], chars: 0, lines: 0, partyKind: l.partyKind, prefix, shareMinor: 0n, clippedMinor: 0n };
        currencies.set(l.currency, part);
      }
      if (last === null || !sameSource(last, l)) middle = [l.sourceKind, l.sourceId, l.paymentId, l.merchantId, l.currency, l.ruleId, l.baseMinor].map(csvCell).join(',');
      last = l;
      let rate = rates.get(l.rate);
      if (rate === undefined) {
        if (rates.size >= RATE_CELLS_MAX) rates.clear();
        rate = csvCell(l.rate);
        rates.set(l.rate, rate);
      }
      const prefix = l.partyKind === part.partyKind ? part.prefix : `${dateCell},${csvCell(l.partyId)},${csvCell(l.partyKind)},`;
      const row = `${prefix}${middle},${rate},${amountCell(l.shareMinor)},${amountCell(l.clippedMinor)}\r\n`;
      part.buffer.push(row);
      part.chars += row.length;
      buffered += row.length;
      part.lines++;
      part.shareMinor += l.shareMinor;
      part.clippedMinor += l.clippedMinor;
      if (part.chars >= limits.partBufferChars) spill(part);
      else if (buffered >= limits.totalBufferChars) for (const ps of parties.values()) for (const p of ps.values()) spill(p);
    });

    const files: StatementFile[] = [];
    for (const partyId of [...parties.keys()].sort(binaryOrder)) {
      const parts = [...(parties.get(partyId)?.values() ?? [])].sort((a, b) => binaryOrder(a.currency, b.currency));
      const [first, ...rest] = parts;
      if (first === undefined) continue;
      for (const part of parts) {
        spill(part);
        if (part !== first) close(part);
      }
      if (first.fd === null) {
        first.fd = openSync(first.tmp, 'a');
        openParts++;
      }
      let lines = first.lines;
      for (const part of rest) {
        appendPart(first.fd, part.tmp, Buffer.byteLength(header), limits.copyChunkBytes);
        unlinkSync(part.tmp);
        lines += part.lines;
      }
      writeSync(first.fd, parts.map((t) => csvLine([businessDate, partyId, t.partyKind, 'total', '', '', '', t.currency, '', '', '', t.shareMinor, t.clippedMinor])).join(''));
      close(first);
      const path = pathOf(partyId);
      renameSync(first.tmp, path); // a reader never sees half a file
      files.push({ partyId, path, lines });
    }
    return files;
  } finally {
    for (const ps of parties.values()) for (const p of ps.values()) close(p);
  }
}

/** Whether two lines have the same cells but those of their party (then their middle cells are the same). */
const sameSource = (a: ShareLine, b: ShareLine): boolean =>
  a.sourceId === b.sourceId && a.sourceKind === b.sourceKind && a.paymentId === b.paymentId && a.merchantId === b.merchantId && a.currency === b.currency && a.ruleId === b.ruleId && a.baseMinor === b.baseMinor;

/** Appends a part file to `fd`, all but its first `skipBytes` (its header). */
function appendPart(fd: number, tmp: string, skipBytes: number, chunkBytes: number): void {
  const from = openSync(tmp, 'r');
  try {
    const chunk = Buffer.allocUnsafe(chunkBytes);
    let position = skipBytes;
    for (;;) {
      const n = readSync(from, chunk, 0, chunk.length, position);
      if (n === 0) break;
      writeSync(fd, chunk, 0, n);
      position += n;
    }
  } finally {
    closeSync(from);
  }
}
