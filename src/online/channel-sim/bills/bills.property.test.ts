// Property tests of the writers: whatever the transactions (amounts, fees, refunds, revoked payments,
// any text in any script, control characters, commas and quotes), WeChat's summary is the sum of its
// rows and every row keeps its 27 cells; Alipay's footer is the sum of its rows; every ZM line is 607
// bytes. The oracles read the bytes back here, independently of the writers.

import fc from 'fast-check';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { alipayRowOf, AlipayTradeBillWriter } from './alipay.js';
import type { BillRow } from './rows.js';
import { MemoryOut, TextOut } from './sinks.js';
import { at, readAlipayRows, readWechatRows, SHANGHAI } from './test-support.js';
import { gbk, LocalClock, utf8 } from './text.js';
import { zmLine, zmRecordOf } from './unionpay-zm.js';
import { WechatTradeBillWriter, wechatRowOf } from './wechat.js';
import { ZipWriter } from './zip.js';

const clock = new LocalClock(SHANGHAI);
const dayStartMs = at('2026-11-26', '00:00:00');

/** Text of every kind: CJK, emoji, lone surrogates, control characters, commas, quotes, backticks, tabs. */
const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('测', '试', '银', '联', ',', '"', '`', '\t', '\r', '\n', '#', ' ', '€', '😀', '\u0000'), maxLength: 60 }),
);

const billRow: fc.Arbitrary<BillRow> = fc
  .record({
    kind: fc.constantFrom('payment', 'refund', 'void'),
    txnNo: fc.integer({ min: 1, max: 99_999_999 }),
    amountMinor: fc.bigInt({ min: 1n, max: 999_999_999_999n }),
    feePerMille: fc.bigInt({ min: 0n, max: 1_000n }),
    seconds: fc.integer({ min: 0, max: 86_399 }),
    payerId: fc.option(anyText, { nil: null }),
    description: fc.option(anyText, { nil: null }),
    status: fc.constantFrom('succeeded', 'revoked', 'processing'),
    product: fc.constantFrom('wallet', 'netbank', 'quick', null),
  })
  .map((r): BillRow => {
    const payment = r.kind === 'payment';
    return {
      kind: r.kind as BillRow['kind'],
      txnNo: r.txnNo,
      channelTxnId: `BANK20261126${String(r.txnNo).padStart(8, '0')}`,
      merchantOrderNo: `pay_${r.txnNo.toString(36).padStart(9, '0')}0123456789abcdef`,
      merchantRefundNo: payment ? null : `re_${r.txnNo.toString(36).padStart(9, '0')}0123456789abcdef`,
      originalChannelTxnId: payment ? null : 'BANK2026112600000001',
      originalTxnNo: payment ? null : 1,
      originalAtMs: payment ? null : dayStartMs,
      atMs: dayStartMs + r.seconds * 1000,
      completedAtMs: dayStartMs + r.seconds * 1000,
      amountMinor: r.amountMinor,
      feeMinor: (r.amountMinor * r.feePerMille) / 1000n,
      feeRate: '0.006',
      currency: 'CNY',
      product: r.product,
      payerId: r.payerId,
      description: r.description,
      status: payment ? (r.status === 'processing' ? 'succeeded' : (r.status as BillRow['status'])) : r.status === 'revoked' ? 'succeeded' : (r.status as BillRow['status']),
    };
  });

const rowsArb = fc.array(billRow, { maxLength: 30 });

describe('Property: the writers\u2019 own totals are the sums of their rows, and no content breaks a row', () => {
  it('Given any rows, When a WeChat bill is written, Then each row has 27 cells and the summary equals the sums of the rows read back', () => {
    fc.assert(
      fc.property(rowsArb, (rows) => {
        const out = new MemoryOut();
        const writer = new WechatTradeBillWriter(new TextOut(out, utf8));
        const written = rows.filter((r) => r.kind !== 'void');
        for (const r of written) writer.add(wechatRowOf(r, '1900012345', clock));
        writer.finish();
        const bytes = out.bytes();
        const lines = bytes.toString('utf8').split('\r\n');
        expect(lines).toHaveLength(written.length + 4); // header, rows, summary header, summary, ''
        for (const line of lines.slice(1, written.length + 1)) expect(line.split(',')).toHaveLength(27);
        const { rows: read, summary } = readWechatRows(bytes);
        const fen = (s: string): bigint => BigInt(s.replace('.', ''));
        const payments = read.filter((r) => r.kind === 'payment').reduce((s, r) => s + r.amountMinor, 0n);
        const refunds = read.filter((r) => r.kind === 'refund').reduce((s, r) => s + r.amountMinor, 0n);
        const fees = read.reduce((s, r) => s + fen(r.fee), 0n);
        expect(Number(summary[0])).toBe(written.length);
        expect(fen(summary[1] ?? '')).toBe(payments);
        expect(fen(summary[2] ?? '')).toBe(refunds);
        expect(fen(summary[4] ?? '')).toBe(fees);
        expect(fen(summary[5] ?? '')).toBe(payments);
        expect(fen(summary[6] ?? '')).toBe(refunds);
      }),
      { numRuns: 150 },
    );
  });

  it('Given any rows, When an Alipay bill is written, Then each row has 25 cells and the footer equals the sums of the rows read back', () => {
    fc.assert(
      fc.property(rowsArb, (rows) => {
        const out = new MemoryOut();
        const zip = new ZipWriter(out, { year: 2026, month: 11, day: 27, hour: 9, minute: 0, second: 0 });
        const entry = zip.entry(gbk('明细.csv'));
        const writer = new AlipayTradeBillWriter(new TextOut(entry, gbk), { account: '20881234567890120156', date: '2026-11-26', nextDate: '2026-11-27', exportedAt: '2026-11-27 09:00:00' });
        for (const r of rows) writer.add(alipayRowOf(r, clock));
        writer.finish();
        entry.end();
        zip.finish();
        const { rows: read, footer } = readAlipayRows(out.bytes());
        expect(read).toHaveLength(rows.length);
        const yuan = (v: bigint): string => `${v < 0n ? '-' : ''}${(v < 0n ? -v : v) / 100n}.${String((v < 0n ? -v : v) % 100n).padStart(2, '0')}`;
        const trades = read.filter((r) => r.kind === 'payment');
        const refunds = read.filter((r) => r.kind === 'refund');
        const sum = (rs: typeof read) => rs.reduce((s, r) => s + r.amountMinor, 0n);
        expect(footer).toEqual([
          `#交易合计：${trades.length}笔，商家实收共${yuan(sum(trades))}元，商家优惠共0.00元`,
          `#退款合计：${refunds.length}笔，商家实收退款共${yuan(-sum(refunds))}元，商家优惠退款共0.00元`,
        ]);
      }),
      { numRuns: 100 },
    );
  });

  it('Given any rows with any text, When written as ZM lines, Then every line is 607 bytes and CRLF, and its amount reads back', () => {
    fc.assert(
      fc.property(rowsArb, (rows) => {
        for (const r of rows) {
          const line = zmLine(zmRecordOf(r, '898310012345678', clock));
          expect(line.length).toBe(609);
          expect(line.subarray(607).toString('latin1')).toBe('\r\n');
          expect(line.subarray(0, 607).includes(0x0a)).toBe(false);
          expect(line.subarray(0, 607).includes(0x0d)).toBe(false);
          expect(BigInt(iconv.decode(line.subarray(66, 78), 'gbk'))).toBe(r.amountMinor);
        }
      }),
      { numRuns: 150 },
    );
  });
});
