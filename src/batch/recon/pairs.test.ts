// The bulk path of a run's store: plain matched pairs are collected as arrays of primitives
// (MatchOutcomes.pushPair) and written by the SQLite adapter four values a row. They must be exactly
// the matched outcomes of a line of the file and one of today's records with no note, and store the
// same line and record as the narrow form they replace.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import type { StatementLine } from './line.js';
import { emptyPairs, matchStatementColumns, type MatchInput, type OurRecord } from './match.js';
import { matchedRowOf } from './run.js';
import { SqliteReconStore } from './sqlite/recon-store.js';
import type { SuspenseItem } from './suspense.js';
import { payLine, payment, refund, refundLine } from './test-support.js';

const D = '2026-11-26';

describe('Given a day with a plain pair, a late pair, a lone voided payment and a discrepancy', () => {
  const pool: SuspenseItem[] = [{ suspenseId: 7, side: 'channel', sinceDate: '2026-11-25', untilDate: '2026-11-28', fileId: 1, lineSeq: 4, line: payLine('pay_9', 900n) }];
  const input: MatchInput = {
    date: D,
    suspenseDays: 0,
    lines: [payLine('pay_1', 1000n), refundLine('pay_1', 'ref_1', 300n), payLine('pay_2', 2000n)],
    records: [payment('pay_1', 1000n), refund('ref_1', 'pay_1', 300n), payment('pay_2', 2001n), payment('pay_9', 900n), payment('pay_3', 500n, { status: 'voided' })],
    pool,
  };

  it('When pairs are collected, Then only the two plain pairs go, with their line seq and record, and the rest is left to item rows', () => {
    const m = matchStatementColumns(input);
    const pairs = emptyPairs();
    const taken: number[] = [];
    for (let i = 0; i < m.length; i++) if (m.pushPair(i, pairs)) taken.push(i);
    expect(pairs).toEqual({ kind: ['payment', 'refund'], lineSeq: [1, 2], recordSource: ['payment', 'refund'], recordId: ['pay_1', 'ref_1'] });
    // The late pair (pool line pay_9), the lone voided payment and the amount_mismatch are not plain.
    const rest = Array.from({ length: m.length }, (_v, i) => i).filter((i) => !taken.includes(i));
    expect(rest.map((i) => [m.at(i).outcome, m.at(i).note, m.at(i).type])).toEqual(
      expect.arrayContaining([
        ['matched', 'late', null],
        ['matched', 'no_movement', null],
        ['discrepancy', null, 'amount_mismatch'],
      ]),
    );
    expect(m.length).toBe(5);
  });
});

const lineArb = fc.record({
  order: fc.constantFrom('pay_1', 'pay_2', 'pay_3', 'pay_4'),
  amount: fc.constantFrom(100n, 200n),
  status: fc.constantFrom('succeeded' as const, 'revoked' as const),
});
const recordArb = fc.record({
  id: fc.constantFrom('pay_1', 'pay_2', 'pay_3', 'pay_5'),
  amount: fc.constantFrom(100n, 200n),
  status: fc.constantFrom('succeeded', 'voided'),
});

describe('Property: pushPair takes exactly the plain matched pairs', () => {
  it('Given any small day, When pairs are collected, Then each is a matched outcome with no note whose narrow form has the same line and record, and every other outcome is left', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 6 }), fc.uniqueArray(recordArb, { maxLength: 4, selector: (r) => r.id }), (ls, rs) => {
        const lines: StatementLine[] = ls.map((l, k) => payLine(l.order, l.amount, { status: l.status, channelTxnId: `42${l.order}-${k % 2}`, line: k + 2 }));
        const records: OurRecord[] = rs.map((r) => payment(r.id, r.amount, { status: r.status, channelTxnId: null }));
        const m = matchStatementColumns({ date: D, suspenseDays: 0, lines, records, pool: [] });
        for (let i = 0; i < m.length; i++) {
          const pairs = emptyPairs();
          const taken = m.pushPair(i, pairs);
          const o = m.at(i);
          const plain = o.outcome === 'matched' && o.note === null && o.line !== null && o.record !== null;
          expect(taken).toBe(plain);
          if (!taken) continue;
          const narrow = matchedRowOf(m.matchedAt(i) as NonNullable<ReturnType<typeof m.matchedAt>>, 1);
          expect([pairs.kind[0], pairs.lineSeq[0], pairs.recordSource[0], pairs.recordId[0]]).toEqual([narrow.kind, narrow.lineSeq, narrow.recordSource, narrow.recordId]);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('Given a SQLite store', () => {
  it('When pairs and item rows are appended to a run, Then the pairs are stored as matched items of the file with their line and record', async () => {
    const ledger = SqliteLedgerStore.open(':memory:', { create: true });
    try {
      const store = new SqliteReconStore(ledger);
      const writer = await store.beginImport({ channel: 'wechat', businessDate: D, sha256: 'ab', format: 'wechat-trade', sourceName: null, nowMs: 1 });
      const file = await writer.commit({ rows: 0, payments: 0, refunds: 0, paymentAmountMinor: 0n, refundAmountMinor: 0n, feeTotal: null, totalsCheck: 'absent' }, 0);
      const runId = await store.beginRun({ channel: 'wechat', businessDate: D, fileId: file.fileId, nowMs: 1 });
      await store.appendItems(runId, [], { fileId: 3, pairs: { kind: ['payment', 'refund'], lineSeq: [1, 2], recordSource: ['capture', 'refund'], recordId: ['cap_1', 'ref_1'] } });
      const rows = ledger.db
        .prepare('SELECT outcome, note, kind, file_id, line_seq, record_source, record_id, status FROM recon_outcomes WHERE run_id = ?')
        .all(runId);
      expect(rows).toEqual([
        { outcome: 'matched', note: null, kind: 'payment', file_id: 3n, line_seq: 1n, record_source: 'capture', record_id: 'cap_1', status: null },
        { outcome: 'matched', note: null, kind: 'refund', file_id: 3n, line_seq: 2n, record_source: 'refund', record_id: 'ref_1', status: null },
      ]);
    } finally {
      await ledger.close();
    }
  });
});
