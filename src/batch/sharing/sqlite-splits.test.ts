// The splits of a date read back page by page as one text each (SplitReader) give the lines of share_lines,
// in SQLite's (payment, source kind, source) order, whatever the ids hold: a page whose ids hold the text's
// separators is read row by row instead, and ids whose UTF-16 order is not SQLite's BINARY order still pass
// the reader's order check.

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { statementCache } from '../../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { compileSharing } from './config.js';
import { clawBack, splitPayment, type DayCapState, type ShareLine, type SharePayment } from './core.js';
import type { StoredSplit } from './port.js';
import { compareRanges, SplitReader } from './sqlite-splits.js';
import { SqliteShareStore } from './sqlite.js';
import { HAND_SECTION } from './test-support.js';

const D0 = '2026-11-19';
const D = '2026-11-20';
const RULES = compileSharing(HAND_SECTION, { isMerchant: () => true, products: new Set(['wallet']) });

let open: SqliteLedgerStore[] = [];
afterEach(async () => {
  for (const s of open) await s.close();
  open = [];
});

/** Shares the payments (ids as given; those in `earlier` on D0) and claws back a third of every other one on D. */
function day(ids: readonly string[], earlier: ReadonlySet<string> = new Set()): { ledger: SqliteLedgerStore; store: SqliteShareStore } {
  const ledger = SqliteLedgerStore.open(':memory:');
  open.push(ledger);
  const store = new SqliteShareStore(ledger);
  const payments = ids.map(
    (paymentId, i): SharePayment => ({ paymentId, merchantId: i % 2 === 0 ? 'M1' : 'M2', product: 'wallet', currency: i % 3 === 0 ? 'USD' : 'CNY', amountMinor: 90_000n + BigInt(i) * 7_000n, feeMinor: 600n + BigInt(i) * 37n, costMinor: 200n }),
  );
  const sorted = (xs: readonly SharePayment[]): SharePayment[] => [...xs].sort((a, b) => Buffer.compare(Buffer.from(a.paymentId), Buffer.from(b.paymentId)));
  for (const [date, onDate] of [
    [D0, sorted(payments.filter((p) => earlier.has(p.paymentId)))],
    [D, sorted(payments.filter((p) => !earlier.has(p.paymentId)))],
  ] as const) {
    const caps: DayCapState = new Map();
    store.writeSplits(
      date,
      onDate.map((p) => splitPayment(RULES, p, 0n, caps)),
    );
  }
  const clawbacks = payments
    .filter((_, i) => i % 2 === 1)
    .flatMap((p) => clawBack({ refundId: `F-${p.paymentId}`, paymentId: p.paymentId, merchantId: p.merchantId, currency: p.currency, amountMinor: p.amountMinor / 3n, refundedBeforeMinor: 0n, paymentAmountMinor: p.amountMinor }, store.paymentLines(p.paymentId, earlier.has(p.paymentId) ? D0 : D)));
  store.writeLines(D, clawbacks);
  return { ledger, store };
}

/** The lines of a split, as the share_lines view gives them. */
function linesOf(s: StoredSplit): ShareLine[] {
  const line = (partyId: string, partyKind: ShareLine['partyKind'], rate: string, shareMinor: bigint, clippedMinor: bigint): ShareLine => ({
    paymentId: s.paymentId,
    sourceKind: 'payment',
    sourceId: s.paymentId,
    partyId,
    partyKind,
    merchantId: s.merchantId,
    currency: s.currency,
    ruleId: s.table.ruleId,
    baseMinor: s.baseMinor,
    rate,
    shareMinor,
    clippedMinor,
  });
  const out = s.table.seats.flatMap((seat, i) => {
    const share = s.sharesMinor[i] ?? 0n;
    const clipped = s.clippedMinor?.[i] ?? 0n;
    return share === 0n && clipped === 0n ? [] : [line(seat.partyId, seat.partyKind, seat.rate, share, clipped)];
  });
  if (s.platformShareMinor !== null) out.push(line('platform', 'platform', s.table.platformRate ?? '', s.platformShareMinor, 0n));
  return out;
}

/** Lines grouped by source in the order given, each group's parties sorted (they come in no set order). */
function bySource(lines: readonly ShareLine[]): ShareLine[][] {
  const groups: ShareLine[][] = [];
  for (const l of lines) {
    const last = groups[groups.length - 1]?.[0];
    if (last !== undefined && last.paymentId === l.paymentId && last.sourceKind === l.sourceKind && last.sourceId === l.sourceId) groups[groups.length - 1]?.push(l);
    else groups.push([l]);
  }
  return groups.map((g) => [...g].sort((a, b) => (a.partyId < b.partyId ? -1 : a.partyId > b.partyId ? 1 : 0)));
}

/** What SplitReader gives, and share_lines in SQLite's (payment, kind, source) order. */
function readBoth(ledger: SqliteLedgerStore, store: SqliteShareStore, pagePayments: number): { read: ShareLine[][]; view: ShareLine[][]; reader: SplitReader } {
  const reader = new SplitReader(statementCache(ledger.db), pagePayments);
  const read: ShareLine[] = [];
  reader.each(D, { split: (s) => read.push(...linesOf(s)), clawback: (l) => read.push(l) });
  const view: ShareLine[] = [];
  store.eachLine(D, (l) => view.push(l));
  const order = new Map(
    (ledger.db.prepare('SELECT DISTINCT payment_id, source_kind, source_id FROM share_lines WHERE business_date = ? ORDER BY 1, 2, 3').raw(true).all(D) as string[][]).map((k, i) => [k.join('\u0000'), i]),
  );
  const rank = (l: ShareLine): number => order.get([l.paymentId, l.sourceKind, l.sourceId].join('\u0000')) ?? -1;
  view.sort((a, b) => rank(a) - rank(b));
  return { read: bySource(read), view: bySource(view), reader };
}

describe('SplitReader: a page of splits as one text', () => {
  it('Given plain ids over several pages (clawbacks of the day and of D0), When read, Then every page is read as text and gives the view lines in order', () => {
    const ids = Array.from({ length: 23 }, (_, i) => `P${String(i).padStart(3, '0')}`);
    const { ledger, store } = day(ids, new Set(['P005', 'P011']));
    const { read, view, reader } = readBoth(ledger, store, 4);
    expect(read).toEqual(view);
    expect(view.some((g) => g[0]?.sourceKind === 'refund' && g[0].paymentId === 'P011')).toBe(true); // a clawback of a D0 payment
    expect(reader.pages).toEqual({ packed: 6, rows: 0 });
  });

  it('Given ids holding the separators, When read, Then their pages are read row by row, the others as text, with the same lines', () => {
    const ids = ['A1', 'A2', 'A3', 'B\u001e1', 'B2', 'B3', 'C1', 'C\u001f2', 'C3', 'D1'];
    const { ledger, store } = day(ids);
    const { read, view, reader } = readBoth(ledger, store, 3);
    expect(read).toEqual(view);
    expect(reader.pages).toEqual({ packed: 2, rows: 2 });
  });

  it('Given ids that UTF-16 orders otherwise than SQLite (a code point above U+FFFF against one from U+E000), When read, Then the page passes the order check as text', () => {
    const ids = ['P1\u{1F600}', 'P1\uE000', 'P1\uFFFF', 'P1é', 'P1'];
    const { ledger, store } = day(ids);
    const { read, view, reader } = readBoth(ledger, store, 100);
    expect(read).toEqual(view);
    expect([...new Set(read.map((g) => g[0]?.paymentId))]).toEqual(['P1', 'P1é', 'P1\uE000', 'P1\uFFFF', 'P1\u{1F600}']);
    expect(reader.pages).toEqual({ packed: 1, rows: 0 });
  });

  it('Given any two strings, When compared by compareRanges, Then the sign is that of their UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const text = `${a}|${b}`;
        const sign = Math.sign(compareRanges(text, 0, a.length, a.length + 1, text.length));
        expect(sign).toBe(Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))));
      }),
      { numRuns: 2000 },
    );
  });
});
