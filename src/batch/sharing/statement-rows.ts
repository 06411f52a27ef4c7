// The rows of the share statements (statement.ts): a visitor of the date's splits and clawbacks in payment
// order that appends each row to its (party, currency) part (statement-parts.ts). A payment's cells are
// escaped once for all its rows, the cells a table's rows share once per table (statement-cells.ts). This
// thread's pass and a worker's (statement-halves.ts) use the same visitor.

import { join } from 'node:path';
import { csvCell } from '../csv.js';
import type { ShareLine } from './core.js';
import type { SplitVisitor, StoredSeat, StoredSplit } from './port.js';
import { amountCell, StatementCells } from './statement-cells.js';
import type { Part, PartFiles } from './statement-parts.js';

/** Where a party's statement of the date goes. */
export const statementPathOf =
  (dir: string, businessDate: string) =>
  (partyId: string): string =>
    join(dir, `share-${businessDate}-${partyId}.csv`);

/**
 * The visitor that appends each split's and clawback's rows to their (party, currency) parts of `files`.
 */
export function statementRows(files: PartFiles, businessDate: string): SplitVisitor {
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
  return { split, clawback };
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
