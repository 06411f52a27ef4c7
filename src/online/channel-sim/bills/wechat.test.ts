// The WeChat ALL-layout writer against the official layout and the sample bill, byte for byte.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BillRow } from './rows.js';
import { MemoryOut, TextOut } from './sinks.js';
import { at, SHANGHAI } from './test-support.js';
import { LocalClock, utf8 } from './text.js';
import { percentText, WECHAT_ALL_HEADER, WechatTradeBillWriter, wechatRowOf, type WechatTradeRow } from './wechat.js';

const SAMPLE = readFileSync(new URL('../../../../test/fixtures/formats/wechat_tradebill_ALL_20210128.csv', import.meta.url));

function write(rows: readonly WechatTradeRow[], breakTotals = false): Buffer {
  const out = new MemoryOut();
  const writer = new WechatTradeBillWriter(new TextOut(out, utf8));
  for (const r of rows) writer.add(r);
  writer.finish({ breakTotals });
  return out.bytes();
}

/** The sample's detail rows, field by field (three payments VERBATIM, one refund). */
function sampleRows(): WechatTradeRow[] {
  const payment = (tradeTime: string, transactionId: string, outTradeNo: string): WechatTradeRow => ({
    tradeTime,
    appId: 'wx81be3101902f7cb2',
    mchId: '1601959334',
    subMchId: '0',
    deviceInfo: '',
    transactionId,
    outTradeNo,
    openId: 'ofyak5qR_1wYsC99CsWA6R9MJazA',
    tradeType: 'NATIVE',
    tradeState: 'SUCCESS',
    bankType: 'OTHERS',
    currency: 'CNY',
    settlementTotalMinor: 1n,
    couponMinor: 0n,
    refundId: '0',
    outRefundNo: '0',
    refundMinor: 0n,
    rechargeRefundMinor: 0n,
    refundType: '',
    refundStatus: '',
    body: 'for testing',
    attach: 'cipher code',
    feeMilliMinor: 0n,
    feeRateText: '1.00%',
    totalMinor: 1n,
    requestRefundMinor: 0n,
    rateRemark: '',
  });
  const first = payment('2021-01-28 17:07:11', '4200000925202101284997714292', 'S20210128170702357723');
  return [
    first,
    payment('2021-01-28 15:35:18', '4200000910202101282955148400', 'S20210128153505214586'),
    payment('2021-01-28 16:59:46', '4200000926202101281412639609', 'S20210128165824499930'),
    {
      ...first,
      tradeTime: '2021-01-28 18:13:10',
      tradeState: 'REFUND',
      settlementTotalMinor: 0n,
      refundId: '50300807092021012805990201735',
      outRefundNo: 'R20210128181309277501',
      refundMinor: 1n,
      refundType: 'ORIGINAL',
      refundStatus: 'SUCCESS',
      totalMinor: 0n,
      requestRefundMinor: 1n,
    },
  ];
}

const clock = new LocalClock(SHANGHAI);

function billRow(over: Partial<BillRow>): BillRow {
  return {
    kind: 'payment',
    txnNo: 1,
    channelTxnId: 'WALLET2026112600000001',
    merchantOrderNo: 'pay_a',
    merchantRefundNo: null,
    originalChannelTxnId: null,
    originalTxnNo: null,
    originalAtMs: null,
    atMs: at('2026-11-26', '10:15:02'),
    completedAtMs: at('2026-11-26', '10:15:03'),
    amountMinor: 12_345n,
    feeMinor: 74n,
    feeRate: '0.006',
    currency: 'CNY',
    product: 'wallet',
    payerId: 'U1',
    description: 'A cup, "big", of tea',
    status: 'succeeded',
    ...over,
  };
}

function lines(bytes: Buffer): string[] {
  return bytes.toString('utf8').split('\r\n');
}

describe('WeChat trade bill (ALL layout)', () => {
  it('Given the sample bill\u2019s rows, When written, Then the file is byte for byte the sample (BOM, header, backticks, CRLF, summary)', () => {
    expect(write(sampleRows()).equals(SAMPLE)).toBe(true);
  });

  it('Given any rows, When written, Then the file starts with the BOM and the sample\u2019s header bytes and every line ends in CRLF', () => {
    const bytes = write([wechatRowOf(billRow({}), '1900012345', clock)]);
    const headerEnd = SAMPLE.indexOf('\r\n');
    expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(bytes.subarray(0, headerEnd + 2).equals(SAMPLE.subarray(0, headerEnd + 2))).toBe(true);
    expect(bytes.subarray(3, headerEnd).toString('utf8')).toBe(WECHAT_ALL_HEADER);
    expect(bytes.subarray(-2).toString()).toBe('\r\n');
    expect(bytes.toString('utf8').replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('Given a payment, a refund and a revoked payment, When written, Then each row has 27 backticked cells with the refund columns, five-decimal fees and the right states', () => {
    const rows = [
      billRow({}),
      billRow({
        kind: 'refund',
        channelTxnId: 'WALLET2026112600000002',
        merchantRefundNo: 're_a',
        originalChannelTxnId: 'WALLET2026112600000001',
        amountMinor: 2_000n,
        feeMinor: 12n,
        atMs: at('2026-11-26', '11:00:00'),
      }),
      billRow({ channelTxnId: 'WALLET2026112600000003', merchantOrderNo: 'pay_b', status: 'revoked', amountMinor: 500n, feeMinor: 3n }),
    ];
    const [, payment = '', refund = '', revoked = ''] = lines(write(rows.map((r) => wechatRowOf(r, '1900012345', clock))));
    for (const line of [payment, refund, revoked]) {
      const cells = line.split(',');
      expect(cells).toHaveLength(27);
      for (const c of cells) expect(c.startsWith('`')).toBe(true);
    }
    const p = payment.split(',').map((c) => c.slice(1));
    expect(p.slice(0, 3)).toEqual(['2026-11-26 10:15:02', expect.stringMatching(/^wx[0-9a-f]{16}$/), '1900012345']);
    expect([p[5], p[6], p[9], p[12], p[14], p[15], p[16]]).toEqual(['WALLET2026112600000001', 'pay_a', 'SUCCESS', '123.45', '0', '0', '0.00']);
    expect([p[20], p[22], p[23], p[24], p[25]]).toEqual(['A cup\uff0c \uff02big\uff02\uff0c of tea', '0.74000', '0.60%', '123.45', '0.00']);
    const r = refund.split(',').map((c) => c.slice(1));
    expect([r[5], r[6], r[9], r[12], r[14], r[15], r[16], r[18], r[19], r[22], r[24], r[25]]).toEqual([
      'WALLET2026112600000001',
      'pay_a',
      'REFUND',
      '0.00',
      'WALLET2026112600000002',
      're_a',
      '20.00',
      'ORIGINAL',
      'SUCCESS',
      '-0.12000',
      '0.00',
      '20.00',
    ]);
    const v = revoked.split(',').map((c) => c.slice(1));
    expect([v[6], v[9], v[22]]).toEqual(['pay_b', 'REVOKED', '0.00000']);
  });

  it('Given rows, When the summary is written, Then it is the column sums; with breakTotals 应结订单总金额 is one fen more', () => {
    const rows = [billRow({}), billRow({ kind: 'refund', merchantRefundNo: 're_a', amountMinor: 345n, feeMinor: 2n })].map((r) => wechatRowOf(r, '1900012345', clock));
    const summary = (bytes: Buffer): string => lines(bytes).at(-2) ?? '';
    expect(summary(write(rows))).toBe('`2,`123.45,`3.45,`0.00,`0.72000,`123.45,`3.45');
    expect(summary(write(rows, true))).toBe('`2,`123.46,`3.45,`0.00,`0.72000,`123.45,`3.45');
    expect(lines(write(rows)).at(-3)).toBe('总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额');
  });

  it('Given fee rates, When shown as 费率, Then they are percentages with two decimals, half up', () => {
    expect(percentText('0.006')).toBe('0.60%');
    expect(percentText('0.0038')).toBe('0.38%');
    expect(percentText('0.00125')).toBe('0.13%');
    expect(percentText('0')).toBe('0.00%');
  });
});
