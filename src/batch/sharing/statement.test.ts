// Share statements written in one pass over the day's splits in payment order (store.eachSplitByPayment) are
// byte for byte the files the view-based writer gave (every line of share_lines read sorted by party,
// currency, payment, source), kept here only as the reference: same names, rows, order and totals, on days
// with several parties, two currencies, capped (clipped) shares, clawbacks of refunds of the day's and an
// earlier day's payments, and a configured party with no line (no file for it, as before).

import { mkdtempSync, openSync, closeSync, writeSync, renameSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { csvLine } from '../csv.js';
import { compileSharing } from './config.js';
import { clawBack, splitPayment, type DayCapState, type ShareLine, type SharePayment } from './core.js';
import type { ShareStore } from './port.js';
import { SqliteShareStore } from './sqlite.js';
import { STATEMENT_HEADER, STATEMENT_LIMITS, writeStatements, type StatementFile, type StatementLimits } from './statement.js';

const D0 = '2026-11-19';
const D = '2026-11-20';

/** Two agent levels, an ISV, a cap per payment (clips), a merchant on another rule, and agent A9 with no merchant. */
const SECTION = {
  agents: [{ id: 'A1' }, { id: 'A2', parent: 'A1' }, { id: 'A9' }],
  isvs: [{ id: 'I1' }],
  merchants: { M1: { agent: 'A2', isv: 'I1' }, M2: { agent: 'A1' }, M3: { agent: 'A2' } },
  rules: [
    { id: 'R1', base: 'fee_net', agent_levels: [{ rate: '0.30' }, { rate: '0.10' }], isv: { rate: '0.05' }, cap_per_payment_minor: '300', merchants: ['M1', 'M2'] },
    { id: 'R2', base: 'amount', agent_levels: [{ rate: '0.002' }, { rate: '0.001' }], merchants: ['M3'] },
  ],
};
const RULES = compileSharing(SECTION, { isMerchant: () => true, products: new Set(['wallet']) });

/** The writer before this one: the stored lines sorted by party, currency, payment, source (the reference). */
function viewStatements(store: ShareStore, businessDate: string, dir: string): StatementFile[] {
  mkdirSync(dir, { recursive: true });
  const files: StatementFile[] = [];
  let current: { partyId: string; fd: number; tmp: string; path: string; lines: number; buffer: string[]; totals: Map<string, { share: bigint; clipped: bigint; kind: string }> } | null = null;
  const finish = (): void => {
    if (!current) return;
    for (const [currency, t] of current.totals) current.buffer.push(csvLine([businessDate, current.partyId, t.kind, 'total', '', '', '', currency, '', '', '', t.share, t.clipped]));
    writeSync(current.fd, current.buffer.join(''));
    closeSync(current.fd);
    renameSync(current.tmp, current.path);
    files.push({ partyId: current.partyId, path: current.path, lines: current.lines });
    current = null;
  };
  store.eachLine(businessDate, (l: ShareLine) => {
    if (current === null || current.partyId !== l.partyId) {
      finish();
      const path = join(dir, `share-${businessDate}-${l.partyId}.csv`);
      current = { partyId: l.partyId, fd: openSync(`${path}.tmp`, 'w'), tmp: `${path}.tmp`, path, lines: 0, buffer: [csvLine(STATEMENT_HEADER)], totals: new Map() };
    }
    current.buffer.push(csvLine([businessDate, l.partyId, l.partyKind, l.sourceKind, l.sourceId, l.paymentId, l.merchantId, l.currency, l.ruleId, l.baseMinor, l.rate, l.shareMinor, l.clippedMinor]));
    current.lines++;
    const t = current.totals.get(l.currency) ?? { share: 0n, clipped: 0n, kind: l.partyKind };
    t.share += l.shareMinor;
    t.clipped += l.clippedMinor;
    current.totals.set(l.currency, t);
  });
  finish();
  return files;
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});
/** A store, and one on the same database that reads splits in pages of 3 payments (most pages end in the middle of the day). */
function fixture(): { store: SqliteShareStore; paged: SqliteShareStore; dir: string } {
  const ledger = SqliteLedgerStore.open(':memory:');
  const dir = mkdtempSync(join(tmpdir(), 'share-stmt-'));
  cleanup.push(async () => {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store: new SqliteShareStore(ledger), paged: new SqliteShareStore(ledger, { splitPagePayments: 3 }), dir };
}

interface DayPayment {
  readonly id: number;
  /** After the id's digits: ids a CSV cell must escape, with the separators of the packed read, or non-ASCII (the
   *  last two order differently in UTF-16 and in SQLite's BINARY collation). */
  readonly suffix?: string;
  readonly merchant: 'M1' | 'M2' | 'M3';
  readonly currency: 'CNY' | 'USD';
  readonly feeMinor: bigint;
  readonly earlier: boolean;
  /** Parts of the amount (fee × 100) refunded on D, in order (cut to what is left). */
  readonly refundsMinor: readonly bigint[];
}

/** Shares the payments (on D0 when `earlier`, else D) and writes on D the clawbacks of their refunds. */
function shareDayOf(store: SqliteShareStore, payments: readonly DayPayment[]): void {
  const asPayment = (p: DayPayment): SharePayment => ({
    paymentId: `P${String(p.id).padStart(4, '0')}${p.suffix ?? ''}`,
    merchantId: p.merchant,
    product: 'wallet',
    currency: p.currency,
    amountMinor: p.feeMinor * 100n,
    feeMinor: p.feeMinor,
    costMinor: p.feeMinor / 3n,
  });
  for (const [date, earlier] of [[D0, true], [D, false]] as const) {
    const caps: DayCapState = new Map();
    const day = payments.filter((p) => p.earlier === earlier).sort((a, b) => a.id - b.id);
    store.writeSplits(
      date,
      day.map((p) => splitPayment(RULES, asPayment(p), 0n, caps)),
    );
  }
  const clawbacks: ShareLine[] = [];
  for (const p of payments) {
    const sp = asPayment(p);
    const lines = store.paymentLines(sp.paymentId, p.earlier ? D0 : D);
    let before = 0n;
    p.refundsMinor.forEach((askedMinor, i) => {
      const amountMinor = askedMinor < sp.amountMinor - before ? askedMinor : sp.amountMinor - before; // never more than is left
      if (amountMinor <= 0n) return;
      const refund = { refundId: `F${sp.paymentId}-${i}`, paymentId: sp.paymentId, merchantId: sp.merchantId, currency: sp.currency, amountMinor, refundedBeforeMinor: before, paymentAmountMinor: sp.amountMinor };
      clawbacks.push(...clawBack(refund, lines));
      before += amountMinor;
    });
  }
  store.writeLines(D, clawbacks);
}

/** Every file of a directory: name → bytes. */
const contents = (dir: string): Map<string, string> => new Map(readdirSync(dir).sort().map((name) => [name, readFileSync(join(dir, name), 'latin1')]));

const TINY: StatementLimits = { partBufferBytes: 300, totalBufferBytes: 900, copyChunkBytes: 7, openPartsMax: 2 };

/** Id endings: plain, escaped by csvCell (formula start, comma, quote), the packed read's separators, non-ASCII. */
const SUFFIXES = ['', '', '', '=1+1', ',x', '"q"', '\u001f', '\u001e', 'é', '\u{1F600}', '\uE000'] as const;

const dayPayment = fc.record({
  id: fc.integer({ min: 1, max: 40 }),
  suffix: fc.constantFrom(...SUFFIXES),
  merchant: fc.constantFrom('M1' as const, 'M2' as const, 'M3' as const),
  currency: fc.constantFrom('CNY' as const, 'USD' as const),
  feeMinor: fc.bigInt({ min: 1n, max: 20_000n }),
  earlier: fc.boolean(),
  refundsMinor: fc.array(fc.bigInt({ min: 1n, max: 40_000n }), { maxLength: 2 }),
});

describe('share statements in one pass over the lines in payment order', () => {
  it('Given a hand-made day (two currencies, clipped caps, clawbacks of the day and of D0, agent A9 without lines), When written, Then the files equal the view-based writer byte for byte, and a re-run writes the same bytes', () => {
    const { store, dir } = fixture();
    const day: DayPayment[] = [
      { id: 1, merchant: 'M1', currency: 'CNY', feeMinor: 600n, earlier: false, refundsMinor: [20_000n] },
      { id: 2, merchant: 'M2', currency: 'USD', feeMinor: 12_000n, earlier: false, refundsMinor: [] },
      { id: 3, merchant: 'M1', currency: 'USD', feeMinor: 9_000n, earlier: false, refundsMinor: [100_000n, 800_000n] },
      { id: 4, merchant: 'M3', currency: 'CNY', feeMinor: 5n, earlier: true, refundsMinor: [300n] },
      { id: 5, merchant: 'M2', currency: 'CNY', feeMinor: 0n, earlier: false, refundsMinor: [] },
      { id: 6, merchant: 'M3', currency: 'USD', feeMinor: 70n, earlier: false, refundsMinor: [] },
      { id: 7, merchant: 'M1', currency: 'CNY', feeMinor: 1_500n, earlier: true, refundsMinor: [150_000n] },
    ];
    shareDayOf(store, day);
    const reference = viewStatements(store, D, join(dir, 'view'));
    const files = writeStatements(store, D, join(dir, 'pass'));
    expect(files.map((f) => [f.partyId, f.lines])).toEqual(reference.map((f) => [f.partyId, f.lines]));
    expect(files.map((f) => f.partyId)).toEqual(['A1', 'A2', 'I1', 'platform']);
    expect(contents(join(dir, 'pass'))).toEqual(contents(join(dir, 'view')));
    const a2 = readFileSync(join(dir, 'pass', `share-${D}-A2.csv`), 'utf8');
    expect(a2).toContain(',refund,');
    expect(a2).toMatch(/,total,,,,CNY,.*\r\n.*,total,,,,USD,/);
    expect(a2.split('\r\n').some((row) => row.startsWith(`${D},A2,agent,payment,`) && !row.endsWith(',0'))).toBe(true); // a clipped share

    const again = writeStatements(store, D, join(dir, 'pass'), TINY);
    expect(again).toEqual(files);
    expect(contents(join(dir, 'pass'))).toEqual(contents(join(dir, 'view')));
  });

  it('Given random days (ids to escape, with the packed read separators, non-ASCII), When written with the default limits and with tiny buffers and pages (parts spilled, most reopened for each spill, copied in pieces; splits read 3 payments a page), Then the files equal the view-based writer byte for byte', () => {
    fc.assert(
      fc.property(fc.uniqueArray(dayPayment, { selector: (p) => `${p.id}${p.suffix}`, maxLength: 40 }), (day) => {
        const { store, paged, dir } = fixture();
        shareDayOf(store, day);
        const reference = viewStatements(store, D, join(dir, 'view'));
        const expected = contents(join(dir, 'view'));
        for (const [name, limits, reader] of [
          ['pass', STATEMENT_LIMITS, store],
          ['tiny', TINY, paged],
        ] as const) {
          const files = writeStatements(reader, D, join(dir, name), limits);
          expect(files.map((f) => [f.partyId, f.lines, f.path.replace(`/${name}/`, '/view/')])).toEqual(reference.map((f) => [f.partyId, f.lines, f.path]));
          expect(contents(join(dir, name))).toEqual(expected);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('Given a day with no share line, When written, Then no file is written (as before)', () => {
    const { store, dir } = fixture();
    expect(writeStatements(store, D, dir)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });
});
