// The Alipay trade bill writer against the sample files (GBK, `#` lines, markers, tab-decorated ids,
// footer totals, the 汇总 file) and the zip it travels in (GBK entry names, no UTF-8 flag).

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import iconv from 'iconv-lite';
import { afterEach, describe, expect, it } from 'vitest';
import { ALIPAY_DETAIL_HEADER, alipayEntryNames, alipayRowOf, AlipayTradeBillWriter, type AlipayTradeRow } from './alipay.js';
import { MemoryOut, TextOut } from './sinks.js';
import { at, billPlace, followUp, pay, readZip, SHANGHAI, simConfig, type BillPlace } from './test-support.js';
import { gbk, LocalClock } from './text.js';
import { writeBills } from './write-bills.js';

const SAMPLES = new URL('../../../../test/fixtures/formats/', import.meta.url);
const sample = (name: string): Buffer => readFileSync(new URL(name, SAMPLES));
const SAMPLE_DETAIL = sample('20880211096256330156_20190916_业务明细.csv');
const SAMPLE_SUMMARY = sample('20880211096256330156_20190916_业务明细(汇总).csv');
const SAMPLE_ZIP = sample('20880211096256330156_20190916.csv.zip');
const HEADING = { account: '20880211096256330156', date: '2019-09-16', nextDate: '2019-09-17', exportedAt: '2019-09-17 05:46:49' };

/** The sample's three rows (VERBATIM in the sample), field by field. */
function sampleRows(): AlipayTradeRow[] {
  const zero = {
    redPacketMinor: 0n,
    jifenbaoMinor: 0n,
    alipayDiscountMinor: 0n,
    merchantDiscountMinor: 0n,
    voucherMinor: 0n,
    voucherName: '',
    merchantRedPacketMinor: 0n,
    cardMinor: 0n,
    serviceFeeMinor: 0n,
    shareMinor: 0n,
  };
  const trade: AlipayTradeRow = {
    ...zero,
    tradeNo: '2019091622001458860515315453',
    outTradeNo: 'service_1568601259302',
    bizType: '交易',
    subject: '下单测试',
    createdAt: '2019-09-16 10:55:16',
    finishedAt: '2019-09-16 10:55:23',
    storeNo: 'alipay_store',
    storeName: 'alipay_store',
    operator: 'alipay',
    terminal: '',
    counterparty: '*津水(602***@qq.com)',
    orderAmountMinor: 1n,
    receivedMinor: 1n,
    refundBatchNo: '',
    remark: '下单测试',
  };
  return [
    trade,
    { ...trade, bizType: '退款', finishedAt: '2019-09-16 10:56:48', orderAmountMinor: -1n, receivedMinor: -1n, refundBatchNo: 're_test_1568602607356' },
    {
      ...zero,
      tradeNo: '2019091622001465870515233238',
      outTradeNo: '20190916165659224L3VUQRL9',
      bizType: '交易',
      subject: '千丁订单INSURANCE88100011909161658423172',
      createdAt: '2019-09-16 16:58:56',
      finishedAt: '2019-09-16 16:58:58',
      storeNo: '',
      storeName: '',
      operator: '',
      terminal: '',
      counterparty: '*庚辰(182****01)',
      orderAmountMinor: 1n,
      receivedMinor: 1n,
      refundBatchNo: '',
      remark: '',
    },
  ];
}

function writeDetail(rows: readonly AlipayTradeRow[], breakTotals = false): { detail: Buffer; summary: Buffer } {
  const out = new MemoryOut();
  const writer = new AlipayTradeBillWriter(new TextOut(out, gbk), HEADING);
  for (const r of rows) writer.add(r);
  writer.finish({ breakTotals });
  return { detail: out.bytes(), summary: gbk(writer.summaryText()) };
}

const gbkText = (b: Buffer): string => iconv.decode(b, 'gbk');

let place: BillPlace | undefined;
afterEach(() => {
  place?.cleanup();
  place = undefined;
});

describe('Alipay trade bill', () => {
  it('Given the sample\u2019s rows, When written, Then the 业务明细 file is byte for byte the sample (GBK, # lines, markers, tabs, footer)', () => {
    const { detail } = writeDetail(sampleRows());
    expect(gbkText(detail)).toBe(gbkText(SAMPLE_DETAIL));
    expect(detail.equals(SAMPLE_DETAIL)).toBe(true);
  });

  it('Given the sample\u2019s rows, When the 汇总 file is written, Then it is byte for byte the sample (one line per store, then 合计)', () => {
    expect(writeDetail(sampleRows()).summary.equals(SAMPLE_SUMMARY)).toBe(true);
  });

  it('Given rows, When breakTotals is asked, Then only the 交易合计 footer is one fen more than the rows', () => {
    const text = gbkText(writeDetail(sampleRows(), true).detail);
    expect(text).toContain('#交易合计：2笔，商家实收共0.03元，商家优惠共0.00元\r\n');
    expect(text).toContain('#退款合计：1笔，商家实收退款共-0.01元，商家优惠退款共0.00元\r\n');
  });

  it('Given a day of the simulator, When its zip is written, Then it opens, its entry names are GBK without the UTF-8 flag, laid out like the sample zip, and the footer equals the rows', () => {
    place = billPlace();
    const p = place;
    const D = '2026-11-26';
    const a = pay(p.store, { channelId: 'ali', atMs: at(D, '09:00:00'), reference: 'pay_a', amountMinor: 10_000n, description: '测试商品', payerId: 'U1' });
    pay(p.store, { channelId: 'ali', atMs: at(D, '10:00:00'), reference: 'pay_b', amountMinor: 2_550n });
    const c = pay(p.store, { channelId: 'ali', atMs: at(D, '11:00:00'), reference: 'pay_c', amountMinor: 777n });
    followUp(p.store, 'refund', a, { atMs: at(D, '12:00:00'), reference: 're_a', amountMinor: 3_000n });
    followUp(p.store, 'void', c, { atMs: at(D, '11:30:00'), reference: 'vo_c', amountMinor: 777n });
    const config = simConfig({ channels: [{ id: 'ali', kind: 'wallet', bill_format: 'alipay-trade' }] });
    const [bill] = writeBills(p.store, { config, date: D, outDir: p.outDir });
    const file = bill?.files[0];
    expect(file?.name).toBe('20881234567890120156_20261126.csv.zip');
    const zip = readFileSync(file?.path ?? '');

    const names = alipayEntryNames('20881234567890120156', D);
    const entries = readZip(zip);
    const reference = readZip(SAMPLE_ZIP);
    expect(entries.map((e) => gbkText(e.nameBytes))).toEqual([names.detail, names.summary]);
    expect(entries.map((e) => e.nameBytes)).toEqual([gbk(names.detail), gbk(names.summary)]);
    for (const e of entries) {
      const r = reference[0];
      expect({ made: e.versionMadeBy, needed: e.versionNeeded, flags: e.flags, method: e.method, attrs: e.externalAttributes }).toEqual({
        made: r?.versionMadeBy,
        needed: r?.versionNeeded,
        flags: r?.flags,
        method: r?.method,
        attrs: r?.externalAttributes,
      });
      expect(e.flags & 0x0800).toBe(0);
    }

    const detail = gbkText(entries[0]?.content ?? Buffer.alloc(0));
    const lines = detail.split('\r\n');
    const sampleLines = gbkText(SAMPLE_DETAIL).split('\r\n');
    expect(lines[0]).toBe(sampleLines[0]);
    expect(lines[1]).toBe('#账号：[20881234567890120156]');
    expect(lines[2]).toBe('#起始日期：[2026年11月26日 00:00:00]   终止日期：[2026年11月27日 00:00:00]');
    expect(lines.slice(3, 5)).toEqual(sampleLines.slice(3, 5));
    expect(lines[4]).toBe(ALIPAY_DETAIL_HEADER);
    const rows = lines.filter((l) => /^[A-Z]+[0-9]{16}\t,/.test(l)).map((l) => l.split(','));
    expect(rows).toHaveLength(5);
    for (const r of rows) {
      expect(r).toHaveLength(25);
      for (const i of [0, 1, 2, 6, 7, 8, 9, 10, 19, 21]) expect(r[i]?.endsWith('\t')).toBe(true);
    }
    // Totals computed here, independently of the writer.
    const trades = rows.filter((r) => r[2] === '交易\t');
    const refunds = rows.filter((r) => r[2] === '退款\t');
    const fen = (s: string | undefined): bigint => BigInt((s ?? '').replace('.', ''));
    const sum = (rs: string[][], column = 12): bigint => rs.reduce((acc, r) => acc + fen(r[column]), 0n);
    const yuan = (v: bigint): string => `${v < 0n ? '-' : ''}${(v < 0n ? -v : v) / 100n}.${String((v < 0n ? -v : v) % 100n).padStart(2, '0')}`;
    expect(detail).toContain(`#交易合计：${trades.length}笔，商家实收共${yuan(sum(trades))}元，商家优惠共0.00元\r\n`);
    expect(detail).toContain(`#退款合计：${refunds.length}笔，商家实收退款共${yuan(sum(refunds))}元，商家优惠退款共0.00元\r\n`);
    expect(trades).toHaveLength(3);
    expect(refunds.map((r) => r[21])).toEqual(['vo_c\t', 're_a\t']); // the void shows as a refund, by time
    expect(refunds[1]?.[4]).toBe('2026-11-26 09:00:00'); // 创建时间 of a refund: the payment's
    expect(detail.endsWith('#导出时间：[2026年11月27日 09:00:00]\r\n')).toBe(true);

    const summary = gbkText(entries[1]?.content ?? Buffer.alloc(0)).split('\r\n');
    expect(summary[0]).toBe('#支付宝业务汇总查询');
    const fees = sum(rows, 22);
    expect(fees).toBe(-(60n + 15n + 5n) + 18n + 5n); // charged on the payments, given back by the refund and the void
    expect(summary.find((l) => l.startsWith('合计,'))).toBe(`合计,,3,2,${yuan(sum(rows))},${yuan(sum(rows))},0.00,0.00,0.00,${yuan(fees)},0.00,${yuan(sum(rows) + fees)}`);
  });

  it('Given the zip, When the unzip tool lists and extracts it, Then it is a valid archive whose content is the GBK csv', () => {
    if (!existsSync('/usr/bin/unzip')) {
      // The tiny reader above already proved the layout; unzip is the second opinion when installed.
      expect(readZip(SAMPLE_ZIP)).toHaveLength(2);
      return;
    }
    place = billPlace();
    pay(place.store, { channelId: 'ali', atMs: at('2026-11-26', '09:00:00'), reference: 'pay_a', amountMinor: 10_000n, description: '测试' });
    const config = simConfig({ channels: [{ id: 'ali', kind: 'wallet', bill_format: 'alipay-trade' }] });
    const path = writeBills(place.store, { config, date: '2026-11-26', outDir: place.outDir })[0]?.files[0]?.path ?? '';
    execFileSync('unzip', ['-tq', path]);
    const listing = execFileSync('unzip', ['-Z1', path]);
    expect(gbkText(listing)).toBe(`20881234567890120156_20261126_业务明细.csv\n20881234567890120156_20261126_业务明细(汇总).csv\n`);
    const extracted = gbkText(execFileSync('unzip', ['-p', path]));
    expect(extracted).toContain('pay_a\t,交易\t,测试,');
    expect(extracted).toContain('#支付宝业务汇总查询');
  });

  it('Given a refund row, When mapped, Then its amounts are negative and its service fee positive (the fee given back)', () => {
    const clock = new LocalClock(SHANGHAI);
    const r = alipayRowOf(
      {
        kind: 'refund',
        txnNo: 2,
        channelTxnId: 'ALI2026112600000002',
        merchantOrderNo: 'pay_a',
        merchantRefundNo: 're_a',
        originalChannelTxnId: 'ALI2026112600000001',
        originalTxnNo: 1,
        originalAtMs: at('2026-11-26', '09:00:00'),
        atMs: at('2026-11-26', '12:00:00'),
        completedAtMs: at('2026-11-26', '12:00:01'),
        amountMinor: 3_000n,
        feeMinor: 18n,
        feeRate: '0.006',
        currency: 'CNY',
        product: 'wallet',
        payerId: null,
        description: null,
        status: 'succeeded',
      },
      clock,
    );
    expect(r).toMatchObject({ tradeNo: 'ALI2026112600000001', bizType: '退款', orderAmountMinor: -3_000n, receivedMinor: -3_000n, serviceFeeMinor: 18n, refundBatchNo: 're_a' });
  });
});
