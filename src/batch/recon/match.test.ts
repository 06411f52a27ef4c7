// Table tests of the pure matcher: one per classification, the precedence of differences, the keys
// pairs are found by, suspense and voids.

import { describe, expect, it } from 'vitest';
import type { StatementLine } from './line.js';
import { feesEqual, LineTable, matchStatement, parseFee, RecordTable, type MatchInput, type OurRecord, type Outcome } from './match.js';
import type { SuspenseItem } from './suspense.js';
import { payLine, payment, refund, refundLine } from './test-support.js';

const D = '2026-11-26';

function match(over: Partial<MatchInput>): Outcome[] {
  return matchStatement({ date: D, suspenseDays: 0, lines: [], records: [], pool: [], ...over });
}

function only(outcomes: Outcome[]): Outcome {
  expect(outcomes).toHaveLength(1);
  return outcomes[0] as Outcome;
}

describe('Given one line and one record of the same payment', () => {
  it('When everything agrees, Then it is matched', () => {
    const o = only(match({ lines: [payLine('pay_1', 1000n, { fee: '0.06000' })], records: [payment('pay_1', 1000n, { costMinor: 6n })] }));
    expect(o).toMatchObject({ outcome: 'matched', type: null, note: null, identity: 'payment:pay_1' });
  });

  it.each([
    ['amount_mismatch', payLine('pay_1', 1001n), payment('pay_1', 1000n)],
    ['currency_mismatch', payLine('pay_1', 1000n, { currency: 'USD' }), payment('pay_1', 1000n)],
    ['status_mismatch', payLine('pay_1', 1000n, { status: 'revoked' }), payment('pay_1', 1000n)],
    ['status_mismatch', payLine('pay_1', 1000n), payment('pay_1', 1000n, { status: 'failed', businessDate: null })],
    ['fee_mismatch', payLine('pay_1', 1000n, { fee: '0.00600' }), payment('pay_1', 1000n, { costMinor: 1n })],
  ] as const)('When they differ by %s, Then that is the discrepancy', (type, line, record) => {
    expect(only(match({ lines: [line], records: [record] }))).toMatchObject({ outcome: 'discrepancy', type, differences: [type] });
  });

  it('When amount and fee both differ, Then amount_mismatch wins and both are kept', () => {
    const o = only(match({ lines: [payLine('pay_1', 1001n, { fee: '0.07000' })], records: [payment('pay_1', 1000n, { costMinor: 6n })] }));
    expect(o).toMatchObject({ type: 'amount_mismatch', differences: ['amount_mismatch', 'fee_mismatch'] });
  });

  it.each([
    ['0.01000', 1n, 'matched'],
    ['0.01', 1n, 'matched'],
    ['0.00600', 1n, 'discrepancy'],
    ['-0.06000', 6n, 'matched'],
    ['0', 0n, 'matched'],
  ] as const)('When the channel fee is %s and we expected %s fen, Then it is %s (exact, at the file precision)', (fee, costMinor, outcome) => {
    expect(only(match({ lines: [payLine('pay_1', 1000n, { fee })], records: [payment('pay_1', 1000n, { costMinor })] })).outcome).toBe(outcome);
  });

  it('When the file states no fee, Then fees are not compared', () => {
    expect(only(match({ lines: [payLine('pay_1', 1000n, { fee: null })], records: [payment('pay_1', 1000n, { costMinor: 9n })] })).outcome).toBe('matched');
  });

  it('When our record has no channel txn id, Then it pairs by the merchant order number', () => {
    const o = only(match({ lines: [payLine('pay_1', 1000n)], records: [payment('pay_1', 1000n, { channelTxnId: null })] }));
    expect(o.outcome).toBe('matched');
  });

  it('When the order numbers differ but the channel txn id is the same, Then they pair by the txn id', () => {
    const o = only(match({ lines: [payLine('pay_X', 1000n, { channelTxnId: '4200T' })], records: [payment('pay_1', 1000n, { channelTxnId: '4200T' })] }));
    expect(o).toMatchObject({ outcome: 'matched', identity: 'payment:pay_1' });
  });
});

describe('Given items without a partner', () => {
  it('When suspense days are 0, Then a line alone is channel_only and a record alone is ledger_only', () => {
    const out = match({ lines: [payLine('pay_1', 1000n)], records: [payment('pay_2', 500n)] });
    expect(out.map((o) => [o.type, o.identity])).toEqual([
      ['channel_only', 'line:payment:42pay_1'],
      ['ledger_only', 'payment:pay_2'],
    ]);
  });

  it('When suspense days are 2, Then both wait in suspense until D+2', () => {
    const out = match({ suspenseDays: 2, lines: [payLine('pay_1', 1000n)], records: [payment('pay_2', 500n)] });
    expect(out.map((o) => [o.outcome, o.untilDate])).toEqual([
      ['suspense', '2026-11-28'],
      ['suspense', '2026-11-28'],
    ]);
  });

  it('When a revoked line or a voided payment stands alone, Then no money moved: matched (no_movement)', () => {
    const out = match({ lines: [payLine('pay_1', 1000n, { status: 'revoked' })], records: [payment('pay_2', 500n, { status: 'voided' })] });
    expect(out.map((o) => [o.outcome, o.note])).toEqual([
      ['matched', 'no_movement'],
      ['matched', 'no_movement'],
    ]);
  });

  it('When a refund line names a payment id as its refund number, Then kinds never pair: channel_only and ledger_only', () => {
    const out = match({ lines: [refundLine('pay_0', 'pay_1', 1000n, { channelTxnId: 'R1' })], records: [payment('pay_1', 1000n, { channelTxnId: null })] });
    expect(out.map((o) => o.type)).toEqual(['channel_only', 'ledger_only']);
  });

  it('When a refund line meets our refund, Then they match as refunds', () => {
    expect(only(match({ lines: [refundLine('pay_1', 're_1', 300n)], records: [refund('re_1', 'pay_1', 300n)] }))).toMatchObject({ outcome: 'matched', kind: 'refund' });
  });
});

describe('Given the same channel key twice in one file', () => {
  it('When matched, Then the first pairs and the second is a duplicate', () => {
    const line = payLine('pay_1', 1000n);
    const out = match({ lines: [line, { ...line, line: 9 }], records: [payment('pay_1', 1000n)] });
    expect(out.map((o) => [o.outcome, o.type, o.lineAt?.seq])).toEqual([
      ['matched', null, 1],
      ['discrepancy', 'duplicate', 2],
    ]);
    expect(out[1]?.identity).toBe('dup:payment:42pay_1:2');
  });
});

describe('Given the suspense pool', () => {
  const channelItem = (untilDate: string): SuspenseItem => ({ suspenseId: 7, side: 'channel', sinceDate: '2026-11-25', untilDate, fileId: 3, lineSeq: 4, line: payLine('pay_1', 1000n) });
  const ledgerItem = (untilDate: string): SuspenseItem => ({ suspenseId: 8, side: 'ledger', sinceDate: '2026-11-25', untilDate, record: payment('pay_2', 500n, { businessDate: '2026-11-25' }) });

  it('When the late partners arrive, Then both pool items match (late) and name their suspense ids', () => {
    const out = match({ pool: [channelItem(D), ledgerItem(D)], lines: [payLine('pay_2', 500n)], records: [payment('pay_1', 1000n)] });
    expect(out.map((o) => [o.outcome, o.note, o.channelSuspenseId, o.ledgerSuspenseId])).toEqual([
      ['matched', 'late', 7, null],
      ['matched', 'late', null, 8],
    ]);
    expect(out[0]?.lineAt).toEqual({ fileId: 3, seq: 4 });
  });

  it('When the wait is over and no partner came, Then they become channel_only and ledger_only', () => {
    const out = match({ pool: [channelItem(D), ledgerItem(D)] });
    expect(out.map((o) => [o.type, o.channelSuspenseId ?? o.ledgerSuspenseId])).toEqual([
      ['channel_only', 7],
      ['ledger_only', 8],
    ]);
  });

  it('When the wait is not over, Then they stay in suspense', () => {
    const out = match({ pool: [channelItem('2026-11-27'), ledgerItem('2026-11-27')] });
    expect(out.map((o) => o.outcome)).toEqual(['suspense', 'suspense']);
  });

  it('When a pool record is also given fresh, Then it is matched once with the fresh values', () => {
    const out = match({ pool: [ledgerItem(D)], records: [payment('pay_2', 500n, { status: 'voided', businessDate: '2026-11-25' })] });
    expect(out.map((o) => [o.outcome, o.note, o.record?.status])).toEqual([['matched', 'no_movement', 'voided']]);
  });

  it('When the pool holds a line and today\u2019s file repeats it, Then today\u2019s row is a duplicate', () => {
    const out = match({ pool: [channelItem('2026-11-27')], lines: [payLine('pay_1', 1000n)] });
    expect(out.map((o) => [o.outcome, o.type])).toEqual([
      ['suspense', null],
      ['discrepancy', 'duplicate'],
    ]);
  });
});

describe('Given voids (撤销)', () => {
  it('When WeChat marks the payment REVOKED and we voided it, Then it is matched', () => {
    expect(only(match({ lines: [payLine('pay_1', 1000n, { status: 'revoked' })], records: [payment('pay_1', 1000n, { status: 'voided' })] })).outcome).toBe('matched');
  });

  it('When the file lists the payment and its void as a refund row, Then both rows end matched with our voided payment', () => {
    const lines = [payLine('pay_1', 1000n), refundLine('pay_1', 'void.pay_1', 1000n)];
    const out = match({ lines, records: [payment('pay_1', 1000n, { status: 'voided' })] });
    expect(out.map((o) => [o.outcome, o.note, o.kind])).toEqual([
      ['matched', null, 'payment'],
      ['matched', 'void_row', 'refund'],
    ]);
  });

  it('When two void rows share the channel id (each voids its own payment), Then each outcome keeps an identity of its own', () => {
    // Found by the totality property (seed 820620923): both void rows were named `void:refund:T0`.
    const lines = [
      refundLine('pay_10', 'void.pay_10', 1n, { channelTxnId: 'T0' }),
      refundLine('pay_2', 'void.pay_2', 1n, { channelTxnId: 'T0' }),
      payLine('pay_10', 1n, { channelTxnId: 'T0' }),
      payLine('pay_2', 1n, { channelTxnId: 'T0' }),
    ];
    const out = match({ lines, records: [] });
    expect(out).toHaveLength(4);
    expect(new Set(out.map((o) => o.identity)).size).toBe(4);
  });

  it('When the channel voided a payment we think succeeded, Then status_mismatch', () => {
    const lines = [payLine('pay_1', 1000n), refundLine('pay_1', 'void.pay_1', 1000n)];
    expect(match({ lines, records: [payment('pay_1', 1000n)] })[0]?.type).toBe('status_mismatch');
  });
});

describe('Given fee texts', () => {
  it('Then they compare by value at any precision, and anything else is invalid', () => {
    expect(feesEqual(parseFee('0.60') as never, parseFee('0.60000') as never)).toBe(true);
    expect(parseFee('1e-3')).toBe('invalid');
    expect(parseFee(null)).toBe(null);
    expect(feesEqual('invalid', { units: 0n, scale: 0 })).toBe(false);
  });
});

describe('Given lines and records kept as columns', () => {
  it('When a line has an amount beyond 64 bits, a null fee and long ids, Then the LineTable gives the same line back', () => {
    const table = new LineTable();
    const wide: StatementLine = {
      kind: 'refund',
      channelTxnId: '50300000000000000000000000000001',
      originalChannelTxnId: '4200000000000000000000000000001',
      merchantOrderNo: 'pay_0000000000000001',
      merchantRefundNo: 're_0000000000000001',
      amountMinor: 123456789012345678901234567890n,
      currency: 'CNY',
      status: 'processing',
      occurredAt: '2026-11-26T23:59:59+08:00',
      fee: null,
      line: 7,
    };
    const small: StatementLine = { ...wide, kind: 'payment', amountMinor: 1n, merchantRefundNo: null, originalChannelTxnId: null, status: 'succeeded', fee: '0.00600', line: 8 };
    table.push(wide);
    table.push(small);
    expect(table.length).toBe(2);
    expect(table.line(0)).toEqual(wide);
    expect(table.line(1)).toEqual(small);
    expect(table.amountMinor(0)).toBe(123456789012345678901234567890n);
  });

  it('When a record is kept in a RecordTable, Then the same record comes back', () => {
    const table = new RecordTable();
    const r: OurRecord = { source: 'capture', recordId: 'cap_1', merchantId: 'M100001', paymentId: null, channelTxnId: null, amountMinor: 2500n, currency: 'CNY', status: 'succeeded', costMinor: -3n, businessDate: null };
    table.push(r);
    table.push({ ...r, source: 'refund', recordId: 're_1', paymentId: 'pay_1', businessDate: '2026-11-26' });
    expect(table.record(0)).toEqual(r);
    expect(table.record(1)).toEqual({ ...r, source: 'refund', recordId: 're_1', paymentId: 'pay_1', businessDate: '2026-11-26' });
  });
});
