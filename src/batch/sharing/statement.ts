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

import { mkdirSync, openSync, closeSync, writeSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { csvLine } from '../csv.js';
import type { ShareLine } from './core.js';
import type { ShareStore } from './port.js';

export const STATEMENT_HEADER = ['business_date', 'party_id', 'party_kind', 'kind', 'source_id', 'payment_id', 'merchant_id', 'currency', 'rule_id', 'base_minor', 'rate', 'share_minor', 'clipped_minor'] as const;

/** Lines kept in memory before they are written out. */
const BUFFER_LINES = 10_000;

export interface StatementFile {
  readonly partyId: string;
  readonly path: string;
  readonly lines: number;
}

export function writeStatements(store: ShareStore, businessDate: string, dir: string): StatementFile[] {
  mkdirSync(dir, { recursive: true });
  const files: StatementFile[] = [];
  let current: { partyId: string; fd: number; tmp: string; path: string; lines: number; buffer: string[]; totals: Map<string, { share: bigint; clipped: bigint; kind: string }> } | null = null;
  const flush = (): void => {
    if (current && current.buffer.length > 0) {
      writeSync(current.fd, current.buffer.join(''));
      current.buffer = [];
    }
  };
  const finish = (): void => {
    if (!current) return;
    for (const [currency, t] of current.totals) current.buffer.push(csvLine([businessDate, current.partyId, t.kind, 'total', '', '', '', currency, '', '', '', t.share, t.clipped]));
    flush();
    closeSync(current.fd);
    renameSync(current.tmp, current.path); // a reader never sees half a file
    files.push({ partyId: current.partyId, path: current.path, lines: current.lines });
    current = null;
  };
  const row = (l: ShareLine): string =>
    csvLine([businessDate, l.partyId, l.partyKind, l.sourceKind, l.sourceId, l.paymentId, l.merchantId, l.currency, l.ruleId, l.baseMinor, l.rate, l.shareMinor, l.clippedMinor]);
  store.eachLine(businessDate, (line) => {
    if (current === null || current.partyId !== line.partyId) {
      finish();
      const path = join(dir, `share-${businessDate}-${line.partyId}.csv`);
      const tmp = `${path}.tmp`;
      const fd = openSync(tmp, 'w');
      current = { partyId: line.partyId, fd, tmp, path, lines: 0, buffer: [csvLine(STATEMENT_HEADER)], totals: new Map() };
    }
    current.buffer.push(row(line));
    current.lines++;
    const t = current.totals.get(line.currency) ?? { share: 0n, clipped: 0n, kind: line.partyKind };
    t.share += line.shareMinor;
    t.clipped += line.clippedMinor;
    current.totals.set(line.currency, t);
    if (current.buffer.length >= BUFFER_LINES) flush();
  });
  finish();
  return files;
}
