// The UnionPay ZM writer against the fixed-width layout: 42 fields, one space between them, 607 GBK
// bytes per line, byte for byte the SYNTHETIC sample when given its values.

import { readFileSync } from 'node:fs';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import type { BillRow } from './rows.js';
import { at, SHANGHAI } from './test-support.js';
import { LocalClock } from './text.js';
import { ZM_FIELDS, ZM_LINE_BYTES, zmFileName, zmLine, zmRecordOf, type ZmRecord } from './unionpay-zm.js';

const SAMPLE = readFileSync(new URL('../../../../test/fixtures/formats/INN15090588ZM_802310048993424.SYNTHETIC', import.meta.url));

/** Slices a line by the field table (the way a parser would), trailing spaces trimmed. */
function fieldsOf(line: Buffer): ZmRecord {
  const record: ZmRecord = {};
  let offset = 0;
  for (const [key, width] of ZM_FIELDS) {
    record[key] = iconv.decode(line.subarray(offset, offset + width), 'gbk').trimEnd();
    offset += width + 1;
  }
  return record;
}

function sampleLines(): Buffer[] {
  const lines: Buffer[] = [];
  for (let start = 0; start < SAMPLE.length; start += ZM_LINE_BYTES + 2) lines.push(SAMPLE.subarray(start, start + ZM_LINE_BYTES + 2));
  return lines;
}

const clock = new LocalClock(SHANGHAI);

function billRow(over: Partial<BillRow>): BillRow {
  return {
    kind: 'payment',
    txnNo: 1_234_567,
    channelTxnId: 'BANK2026112601234567',
    merchantOrderNo: 'pay_0mhx1k2a3b4c5d6e7f8091a2b3',
    merchantRefundNo: null,
    originalChannelTxnId: null,
    originalTxnNo: null,
    originalAtMs: null,
    atMs: at('2026-11-26', '10:30:15'),
    completedAtMs: at('2026-11-26', '10:30:15'),
    amountMinor: 10_000n,
    feeMinor: 38n,
    feeRate: '0.0038',
    currency: 'CNY',
    product: 'quick',
    payerId: 'U1',
    description: '话费充值',
    status: 'succeeded',
    ...over,
  };
}

describe('UnionPay ZM file', () => {
  it('Given the field table, Then it has 42 fields of 566 bytes, 607 with the separators', () => {
    expect(ZM_FIELDS).toHaveLength(42);
    expect(ZM_FIELDS.reduce((sum, [, width]) => sum + width, 0)).toBe(566);
    expect(ZM_LINE_BYTES).toBe(566 + 41);
  });

  it('Given the values of the sample\u2019s two lines, When written, Then the bytes are the sample\u2019s, line for line', () => {
    for (const line of sampleLines()) expect(zmLine(fieldsOf(line)).equals(line)).toBe(true);
  });

  it('Given a payment and its refund, When written, Then they are S22 and S30 lines with fen amounts, C/D signs and the original\u2019s keys', () => {
    const payment = billRow({});
    const refund = billRow({
      kind: 'refund',
      txnNo: 1_234_580,
      channelTxnId: 'BANK2026112601234580',
      merchantRefundNo: 're_0mhx1k9z3b4c5d6e7f8091a2b3',
      originalChannelTxnId: payment.channelTxnId,
      originalTxnNo: payment.txnNo,
      originalAtMs: payment.atMs,
      atMs: at('2026-11-26', '14:30:01'),
      amountMinor: 2_500n,
      feeMinor: 10n,
    });
    const p = zmLine(zmRecordOf(payment, '898310012345678', clock));
    const r = zmLine(zmRecordOf(refund, '898310012345678', clock));
    expect(p).toHaveLength(609);
    expect(p.subarray(-2).toString()).toBe('\r\n');
    expect(fieldsOf(p)).toMatchObject({
      txnCode: 'S22',
      traceNo: '234567',
      txnTime: '1126103015',
      txnAmt: '000000010000',
      queryId: 'BANK2026112601234567',
      orderId: 'pay_0mhx1k2a3b4c5d6e7f8091a2b3',
      merFee: 'D000000000038',
      settleAmt: 'C000000009962',
      txnType: '01',
      txnSubType: '01',
      merId: '898310012345678',
      netAmt: 'C000000009962',
      merReserved: '话费充值',
      origQueryId: '',
    });
    expect(fieldsOf(r)).toMatchObject({
      txnCode: 'S30',
      traceNo: '234580',
      txnTime: '1126143001',
      txnAmt: '000000002500',
      queryId: 'BANK2026112601234580',
      orderId: 're_0mhx1k9z3b4c5d6e7f8091a2b3',
      origTraceNo: '234567',
      origTxnTime: '1126103015',
      merFee: 'C000000000010',
      settleAmt: 'D000000002490',
      txnType: '04',
      txnSubType: '00',
      origQueryId: 'BANK2026112601234567',
      origOrderId: 'pay_0mhx1k2a3b4c5d6e7f8091a2b3',
    });
    expect(fieldsOf(zmLine(zmRecordOf({ ...refund, kind: 'void' }, '898310012345678', clock)))).toMatchObject({ txnCode: 'S31', txnType: '31' });
  });

  it('Given CJK text longer than its field, When written, Then it is cut at a character boundary and the line stays 607 bytes', () => {
    const line = zmLine(zmRecordOf(billRow({ description: '银联在线支付测试商品名称很长很长很长很长很长' }), '898310012345678', clock));
    expect(line).toHaveLength(609);
    const reserved = fieldsOf(line).merReserved ?? '';
    expect(iconv.encode(reserved, 'gbk').length).toBeLessThanOrEqual(32);
    expect('银联在线支付测试商品名称很长很长很长很长很长'.startsWith(reserved)).toBe(true);
    expect(reserved).toHaveLength(16);
  });

  it('Given an order number longer than 32 bytes or a channel id longer than 21, When written, Then it is refused bill_field_too_long, not cut', () => {
    expect(() => zmLine(zmRecordOf(billRow({ merchantOrderNo: 'x'.repeat(33) }), '898310012345678', clock))).toThrow(
      expect.objectContaining({ code: 'bill_field_too_long' }),
    );
    expect(() => zmLine(zmRecordOf(billRow({ channelTxnId: 'UNIONPAY2026112600000001' }), '898310012345678', clock))).toThrow(
      expect.objectContaining({ code: 'bill_field_too_long' }),
    );
    expect(() => zmLine(zmRecordOf(billRow({ amountMinor: 10n ** 12n }), '898310012345678', clock))).toThrow(expect.objectContaining({ code: 'bill_field_too_long' }));
  });

  it('Given a merchant id and a date, Then the file is named INN<yyMMdd>88ZM_<merId>', () => {
    expect(zmFileName('802310048993424', '2015-09-05')).toBe('INN15090588ZM_802310048993424');
  });
});
