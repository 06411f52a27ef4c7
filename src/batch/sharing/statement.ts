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
// cells are escaped once for all its rows, the cells a table's rows share once per table (statement-cells.ts).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { csvCell, csvLine } from '../csv.js';
import type { ShareLine } from './core.js';
import type { ShareStore, StoredSeat, StoredSplit } from './port.js';
import { amountCell, StatementCells } from './statement-cells.js';
import { PartFiles, type Part, type PartLimits } from './statement-parts.js';

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

export function writeStatements(store: ShareStore, businessDate: string, dir: string, limits: StatementLimits = STATEMENT_LIMITS): StatementFile[] {
  mkdirSync(dir, { recursive: true });
  const pathOf = (partyId: string): string => join(dir, `share-${businessDate}-${partyId}.csv`);
  const files = new PartFiles(csvLine(STATEMENT_HEADER), limits, pathOf);
  const cells = new StatementCells(csvCell(businessDate));
  const partOf = (partyId: string, partyKind: string, currency: string): Part => files.part(partyId, partyKind, currency, () => utf8(cells.prefix(partyId, partyKind)));

  // A clawback's row: csvLine's cells, those its source's lines share (its middle cells) escaped once.
  let last: ShareLine | null = null;
  let middle = '';
  const clawback = (l: ShareLine): void => {
    const part = partOf(l.partyId, l.partyKind, l.currency);
    if (last === null || !sameSource(last, l)) middle = [l.sourceKind, l.sourceId, l.paymentId, l.merchantId, l.currency, l.ruleId, l.baseMinor].map(csvCell).join(',');
    last = l;
    const prefix = l.partyKind === part.partyKind ? part.prefix : utf8(cells.prefix(l.partyId, l.partyKind));
    const rest = utf8(`${middle},${cells.text(l.rate)},${amountCell(l.shareMinor)},${amountCell(l.clippedMinor)}\r\n`);
    files.append(part, prefix, rest, NOTHING, l.shareMinor, l.clippedMinor);
  };
  // A payment's rows: a seat's when it has a share or a clipped amount, in seat order, then the platform's.
  // Its middle cells are encoded once; the first cells per party and the last per (seat, shares) are cached.
  const middleBytes = new Scratch();
  const split = (s: StoredSplit): void => {
    last = null;
    const t = cells.table(s.table, s.currency);
    const id = cells.text(s.paymentId);
    const mid = middleBytes.encode(`payment,${id},${id},${cells.text(s.merchantId)}${t.currencyRule}${amountCell(s.baseMinor)},`);
    const tails = cells.seatTails(t, s.sharesMinor, s.clippedMinor);
    const seats = s.table.seats;
    for (let i = 0; i < seats.length; i++) {
      const tail = tails[i];
      if (tail === null || tail === undefined) continue;
      const seat = seats[i] as StoredSeat;
      const part = (t.parts[i] ??= partOf(seat.partyId, seat.partyKind, s.currency));
      files.append(part, t.prefixes[i] as Uint8Array, mid, tail, s.sharesMinor[i] ?? 0n, s.clippedMinor?.[i] ?? 0n);
    }
    const platformShareMinor = s.platformShareMinor;
    if (platformShareMinor === null) return;
    const part = (t.platformPart ??= partOf('platform', 'platform', s.currency));
    files.append(part, t.platformPrefix, mid, cells.platformTail(t, platformShareMinor), platformShareMinor, 0n);
  };

  try {
    store.eachSplitByPayment(businessDate, { split, clawback });
    const written: StatementFile[] = [];
    for (const partyId of [...files.parties.keys()].sort(binaryOrder)) {
      const parts = [...(files.parties.get(partyId)?.values() ?? [])].sort((a, b) => binaryOrder(a.currency, b.currency));
      if (parts.length === 0) continue;
      const totals = parts.map((t) => csvLine([businessDate, partyId, t.partyKind, 'total', '', '', '', t.currency, '', '', '', t.shareMinor, t.clippedMinor])).join('');
      const path = pathOf(partyId);
      files.assemble(parts, totals, path);
      written.push({ partyId, path, lines: parts.reduce((n, p) => n + p.lines, 0) });
    }
    return written;
  } finally {
    files.closeAll();
  }
}

const NOTHING = new Uint8Array(0);
const utf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');

/** Encodes one text at a time into a reused buffer (the view is good until the next encode). */
class Scratch {
  private bytes = Buffer.allocUnsafe(4096);

  encode(text: string): Uint8Array {
    if (text.length * 3 > this.bytes.length) this.bytes = Buffer.allocUnsafe(text.length * 3);
    return this.bytes.subarray(0, this.bytes.write(text, 0));
  }
}

/** Whether two lines have the same cells but those of their party (then their middle cells are the same). */
const sameSource = (a: ShareLine, b: ShareLine): boolean =>
  a.sourceId === b.sourceId && a.sourceKind === b.sourceKind && a.paymentId === b.paymentId && a.merchantId === b.merchantId && a.currency === b.currency && a.ruleId === b.ruleId && a.baseMinor === b.baseMinor;
