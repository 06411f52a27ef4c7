// Properties of matching, drawn by fast-check:
//   symmetry — swapping what the channel and we know swaps channel_only and ledger_only, nothing else;
//   totality — every line, record and pool item ends in exactly one outcome;
//   suspense — rows that crossed midnight wait in suspense on day D and match on day D+1.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LineStatus, StatementLine } from './line.js';
import { LineTable, matchColumns, matchItems, matchStatement, RecordTable, type CoreOutcome, type DiscrepancyType, type MatchItem, type OurRecord, type Outcome } from './match.js';
import type { SuspenseItem } from './suspense.js';
import { payLine, payment, refund, refundLine } from './test-support.js';

const D = '2026-11-26';
const NEXT = '2026-11-27';

// ---- symmetry, on the core both sides share ----

interface Transaction {
  readonly kind: 'payment' | 'refund';
  readonly presence: 'both' | 'channel' | 'ledger';
  readonly channel: SideDraw;
  readonly ledger: SideDraw;
}
interface SideDraw {
  readonly showTxn: boolean;
  readonly showOrder: boolean;
  readonly amountMinor: bigint;
  readonly currency: 'CNY' | 'USD';
  readonly moved: boolean;
  readonly feeUnits: bigint | null;
  readonly feeScale: number;
  readonly untilDate: string | null;
}

const sideArb: fc.Arbitrary<SideDraw> = fc.record({
  showTxn: fc.boolean(),
  showOrder: fc.boolean(),
  amountMinor: fc.bigInt({ min: 1n, max: 3n }),
  currency: fc.constantFrom('CNY' as const, 'CNY' as const, 'USD' as const),
  moved: fc.boolean(),
  feeUnits: fc.option(fc.bigInt({ min: 0n, max: 2n }), { nil: null }),
  feeScale: fc.constantFrom(2, 5),
  untilDate: fc.constantFrom(null, null, '2026-11-25', D, NEXT),
});

const transactionsArb = fc.array(
  fc.record({
    kind: fc.constantFrom('payment' as const, 'refund' as const),
    presence: fc.constantFrom('both' as const, 'both' as const, 'channel' as const, 'ledger' as const),
    channel: sideArb,
    ledger: sideArb,
  }),
  { maxLength: 30 },
);

function itemOf(t: Transaction, side: SideDraw, i: number): MatchItem {
  return {
    kind: t.kind,
    txnId: side.showTxn ? `T${i}` : null,
    orderKey: side.showOrder ? `O${i}` : null,
    amountMinor: side.amountMinor,
    currency: side.currency,
    moved: side.moved,
    fee: side.feeUnits === null ? null : { units: side.feeUnits, scale: side.feeScale },
    untilDate: side.untilDate,
  };
}

const SWAP: Partial<Record<DiscrepancyType, DiscrepancyType>> = { channel_only: 'ledger_only', ledger_only: 'channel_only' };
const swapType = (t: DiscrepancyType | null): DiscrepancyType | null => (t === null ? null : (SWAP[t] ?? t));

function canonical(outcomes: readonly CoreOutcome[], swapped: boolean): string[] {
  return outcomes
    .map((o) =>
      JSON.stringify([
        o.outcome,
        swapped ? swapType(o.type) : o.type,
        o.differences.map((d) => (swapped ? swapType(d) : d)),
        o.note,
        swapped ? o.ledger : o.channel,
        swapped ? o.channel : o.ledger,
        o.untilDate,
      ]),
    )
    .sort();
}

describe('Given any channel and ledger items with unique keys per side', () => {
  it('When the two sides are swapped, Then channel_only and ledger_only swap and every other outcome stays', () => {
    fc.assert(
      fc.property(transactionsArb, fc.integer({ min: 0, max: 3 }), (transactions, suspenseDays) => {
        const channel: MatchItem[] = [];
        const ledger: MatchItem[] = [];
        transactions.forEach((t, i) => {
          if (t.presence !== 'ledger') channel.push(itemOf(t, t.channel, i));
          if (t.presence !== 'channel') ledger.push(itemOf(t, t.ledger, i));
        });
        const forward = matchItems({ date: D, suspenseDays, channel, ledger });
        const backward = matchItems({ date: D, suspenseDays, channel: ledger, ledger: channel });
        expect(canonical(backward, true)).toEqual(canonical(forward, false));
      }),
      { numRuns: 300 },
    );
  });
});

// ---- totality, on the full statement matcher ----

const STATUSES: readonly LineStatus[] = ['succeeded', 'succeeded', 'succeeded', 'revoked', 'failed', 'closed', 'processing'];
const OUR_STATUSES = ['succeeded', 'succeeded', 'partially_refunded', 'refunded', 'voided', 'failed', 'closed', 'processing'];

const statementArb = fc.record({
  lines: fc.array(
    fc.record({
      refund: fc.boolean(),
      key: fc.integer({ min: 0, max: 12 }),
      txn: fc.integer({ min: 0, max: 15 }),
      amount: fc.bigInt({ min: 1n, max: 4n }),
      status: fc.constantFrom(...STATUSES),
      voidOf: fc.boolean(),
    }),
    { maxLength: 25 },
  ),
  records: fc.uniqueArray(
    fc.record({ refund: fc.boolean(), key: fc.integer({ min: 0, max: 12 }), amount: fc.bigInt({ min: 1n, max: 4n }), status: fc.constantFrom(...OUR_STATUSES), noTxn: fc.boolean() }),
    { selector: (r) => `${r.refund}:${r.key}`, maxLength: 20 },
  ),
  pool: fc.array(fc.record({ channelSide: fc.boolean(), key: fc.integer({ min: 0, max: 12 }), until: fc.constantFrom('2026-11-25', D, NEXT) }), { maxLength: 6 }),
  suspenseDays: fc.integer({ min: 0, max: 2 }),
});

describe('Given any lines, records and pool items', () => {
  it('When matched, Then each line, each distinct record and each pool item is in exactly one outcome', () => {
    fc.assert(
      fc.property(statementArb, (s) => {
        const lines: StatementLine[] = s.lines.map((l, i) =>
          l.refund
            ? refundLine(`pay_${l.key}`, l.voidOf ? `void.pay_${l.key}` : `re_${l.key}`, l.amount, { channelTxnId: `T${l.txn}`, status: l.status, line: i + 2 })
            : payLine(`pay_${l.key}`, l.amount, { channelTxnId: `T${l.txn}`, status: l.status, line: i + 2 }),
        );
        const records: OurRecord[] = s.records.map((r) =>
          r.refund
            ? refund(`re_${r.key}`, `pay_${r.key}`, r.amount, { status: r.status === 'voided' ? 'failed' : 'succeeded', channelTxnId: r.noTxn ? null : `T${r.key}` })
            : payment(`pay_${r.key}`, r.amount, { status: r.status, channelTxnId: r.noTxn ? null : `T${r.key}` }),
        );
        const pool: SuspenseItem[] = s.pool.map((p, i) =>
          p.channelSide
            ? { suspenseId: 100 + i, side: 'channel', sinceDate: '2026-11-24', untilDate: p.until, fileId: 1, lineSeq: i + 1, line: payLine(`pay_${p.key}`, 1n, { channelTxnId: `P${i}` }) }
            : { suspenseId: 100 + i, side: 'ledger', sinceDate: '2026-11-24', untilDate: p.until, record: payment(`old_${p.key}_${i}`, 1n) },
        );
        const out: Outcome[] = matchStatement({ date: D, suspenseDays: s.suspenseDays, lines, records, pool });

        const seq = out.flatMap((o) => (o.lineAt !== null && o.lineAt.fileId === null ? [o.lineAt.seq] : []));
        expect(seq.sort((a, b) => a - b)).toEqual(lines.map((_l, i) => i + 1));
        const recordKeys = out.flatMap((o) => (o.record ? [`${o.record.source}:${o.record.recordId}`] : []));
        const expected = new Set([...records, ...pool.flatMap((p) => (p.side === 'ledger' ? [p.record] : []))].map((r) => `${r.source}:${r.recordId}`));
        expect(recordKeys.sort()).toEqual([...expected].sort());
        const poolIds = out.flatMap((o) => [o.channelSuspenseId, o.ledgerSuspenseId].filter((x): x is number => x !== null));
        expect(poolIds.sort()).toEqual(pool.map((p) => p.suspenseId).sort());
        for (const o of out) {
          expect((o.outcome === 'discrepancy') === (o.type !== null)).toBe(true);
          expect(o.outcome === 'suspense' ? o.untilDate !== null : o.untilDate === null).toBe(true);
        }
        expect(new Set(out.map((o) => o.identity)).size).toBe(out.length);
      }),
      { numRuns: 400 },
    );
  });
});

// ---- suspense resolves when the late row arrives ----

describe('Given a day of payments and refunds where some rows crossed midnight', () => {
  it('When day D is matched and then day D+1 with the pool D left, Then D has only matches and suspense, and D+1 matches everything, late ones from the pool', () => {
    const txArb = fc.uniqueArray(
      fc.record({
        id: fc.integer({ min: 1, max: 10_000 }),
        refund: fc.boolean(),
        amount: fc.bigInt({ min: 1n, max: 1_000_000n }),
        // where the row is: both on D, channel on D and ours on D+1, ours on D and channel on D+1, both on D+1
        placement: fc.constantFrom('D', 'D', 'channel-early', 'ledger-early', 'D+1'),
      }),
      { selector: (t) => t.id, maxLength: 40 },
    );
    fc.assert(
      fc.property(txArb, fc.integer({ min: 1, max: 3 }), (txs, suspenseDays) => {
        const lineOf = (t: (typeof txs)[number], day: string): StatementLine =>
          t.refund
            ? refundLine(`pay_${t.id}`, `re_${t.id}`, t.amount, { occurredAt: `${day}T23:59:59+08:00` })
            : payLine(`pay_${t.id}`, t.amount, { occurredAt: `${day}T23:59:59+08:00` });
        const recordOf = (t: (typeof txs)[number], day: string): OurRecord =>
          t.refund ? refund(`re_${t.id}`, `pay_${t.id}`, t.amount, { businessDate: day }) : payment(`pay_${t.id}`, t.amount, { businessDate: day });
        const channelDay = (t: (typeof txs)[number]): string => (t.placement === 'D' || t.placement === 'channel-early' ? D : NEXT);
        const ledgerDay = (t: (typeof txs)[number]): string => (t.placement === 'D' || t.placement === 'ledger-early' ? D : NEXT);

        const dayD = matchStatement({
          date: D,
          suspenseDays,
          lines: txs.filter((t) => channelDay(t) === D).map((t) => lineOf(t, D)),
          records: txs.filter((t) => ledgerDay(t) === D).map((t) => recordOf(t, D)),
          pool: [],
        });
        expect(dayD.every((o) => o.outcome !== 'discrepancy')).toBe(true);
        const waiting = txs.filter((t) => t.placement === 'channel-early' || t.placement === 'ledger-early').length;
        expect(dayD.filter((o) => o.outcome === 'suspense')).toHaveLength(waiting);

        const pool: SuspenseItem[] = dayD.flatMap((o, i): SuspenseItem[] => {
          if (o.outcome !== 'suspense') return [];
          const base = { suspenseId: i + 1, sinceDate: D, untilDate: o.untilDate as string };
          return o.line ? [{ ...base, side: 'channel', fileId: 1, lineSeq: o.lineAt?.seq ?? 0, line: o.line }] : [{ ...base, side: 'ledger', record: o.record as OurRecord }];
        });
        const dayNext = matchStatement({
          date: NEXT,
          suspenseDays,
          lines: txs.filter((t) => channelDay(t) === NEXT).map((t) => lineOf(t, NEXT)),
          records: txs.filter((t) => ledgerDay(t) === NEXT).map((t) => recordOf(t, NEXT)),
          pool,
        });
        expect(dayNext.every((o) => o.outcome === 'matched')).toBe(true);
        expect(dayNext.filter((o) => o.note === 'late')).toHaveLength(waiting);
        const closed = dayNext.flatMap((o) => [o.channelSuspenseId, o.ledgerSuspenseId].filter((x) => x !== null));
        expect(closed.sort()).toEqual(pool.map((p) => p.suspenseId).sort());
      }),
      { numRuns: 200 },
    );
  });
});

describe('Given any lines, records and pool items kept as columns (LineTable, RecordTable), as a run keeps a day', () => {
  it('When matched over the columns, Then every outcome equals the one over the arrays (whichever side the txn ids are indexed on), and a matched one read narrow agrees with it', () => {
    fc.assert(
      fc.property(statementArb, (s) => {
        const lines: StatementLine[] = s.lines.map((l, i) =>
          l.refund
            ? refundLine(`pay_${l.key}`, l.voidOf ? `void.pay_${l.key}` : `re_${l.key}`, l.amount, { channelTxnId: `T${l.txn}`, status: l.status, line: i + 2, fee: i % 3 === 0 ? null : `0.0${i % 3}000` })
            : payLine(`pay_${l.key}`, l.amount, { channelTxnId: `T${l.txn}`, status: l.status, line: i + 2 }),
        );
        const records: OurRecord[] = s.records.map((r) =>
          r.refund
            ? refund(`re_${r.key}`, `pay_${r.key}`, r.amount, { status: r.status === 'voided' ? 'failed' : 'succeeded', channelTxnId: r.noTxn ? null : `T${r.key}` })
            : payment(`pay_${r.key}`, r.amount, { status: r.status, channelTxnId: r.noTxn ? null : `T${r.key}`, businessDate: r.noTxn ? null : D }),
        );
        const pool: SuspenseItem[] = s.pool.map((p, i) =>
          p.channelSide
            ? { suspenseId: 100 + i, side: 'channel', sinceDate: '2026-11-24', untilDate: p.until, fileId: 1, lineSeq: i + 1, line: payLine(`pay_${p.key}`, 1n, { channelTxnId: `P${i}` }) }
            : { suspenseId: 100 + i, side: 'ledger', sinceDate: '2026-11-24', untilDate: p.until, record: payment(p.key % 2 === 0 ? `pay_${p.key}` : `old_${p.key}_${i}`, 1n) },
        );
        const lineTable = new LineTable();
        for (const l of lines) lineTable.push(l);
        const recordTable = new RecordTable();
        for (const r of records) recordTable.push(r);
        const overArrays = matchStatement({ date: D, suspenseDays: s.suspenseDays, lines, records, pool });
        const overColumns = matchColumns({ date: D, suspenseDays: s.suspenseDays, lines: lineTable, records: recordTable, pool });
        // Pairing by txn id with the channel side's index (the default) or a map over our side: the same.
        const mapOverOurs = matchColumns({ date: D, suspenseDays: s.suspenseDays, lines: lineTable, records: recordTable, pool, indexTxns: false });
        expect(overColumns.length).toBe(overArrays.length);
        expect(mapOverOurs.length).toBe(overArrays.length);
        for (let i = 0; i < overColumns.length; i++) {
          const o = overColumns.at(i);
          expect(o).toEqual(overArrays[i]);
          expect(mapOverOurs.at(i)).toEqual(o);
          const narrow = overColumns.matchedAt(i);
          if (narrow === undefined) continue;
          expect(o.outcome).toBe('matched');
          expect(narrow).toEqual({
            note: o.note,
            kind: o.kind,
            lineAt: o.lineAt,
            recordSource: o.record?.source ?? null,
            recordId: o.record?.recordId ?? null,
            channelSuspenseId: o.channelSuspenseId,
            ledgerSuspenseId: o.ledgerSuspenseId,
          });
        }
      }),
      { numRuns: 300 },
    );
  });
});
