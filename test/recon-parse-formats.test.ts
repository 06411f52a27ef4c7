// Each format against the real-format samples in test/fixtures/formats (copied from ../shared/formats/
// samples). The expected lines and summaries are written out by hand from the samples, not produced by
// the parser.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { parseStatementBytes, parseStatementFile, type ParseOptions } from '../src/batch/recon/formats/index.js';
import type { StatementLine, StatementSummary } from '../src/batch/recon/line.js';
import { buildZip } from './fixtures/formats/build-zip.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'formats');
const fixture = (name: string): string => join(FIXTURES, name);
const fixtureBytes = (name: string): Buffer => readFileSync(fixture(name));

async function parseFile(name: string, options: ParseOptions): Promise<{ lines: StatementLine[]; summary: StatementSummary }> {
  const lines: StatementLine[] = [];
  const summary = await parseStatementFile(fixture(name), options, (l) => lines.push(l));
  return { lines, summary };
}

async function parseBytes(bytes: Uint8Array, options: ParseOptions): Promise<{ lines: StatementLine[]; summary: StatementSummary }> {
  const lines: StatementLine[] = [];
  const summary = await parseStatementBytes(bytes, options, (l) => lines.push(l));
  return { lines, summary };
}

const wechatPayment = (line: number, channelTxnId: string, merchantOrderNo: string, occurredAt: string, amountMinor = 1n): StatementLine => ({
  kind: 'payment',
  channelTxnId,
  originalChannelTxnId: null,
  merchantOrderNo,
  merchantRefundNo: null,
  amountMinor,
  currency: 'CNY',
  status: 'succeeded',
  occurredAt,
  fee: '0.00000',
  line,
});

describe('Given the WeChat Pay trade bill, ALL layout (wechat_tradebill_ALL_20210128.csv)', () => {
  it('When parsed, Then three payments and the refund come out in file order, keyed by WeChat\u2019s own ids', async () => {
    const { lines, summary } = await parseFile('wechat_tradebill_ALL_20210128.csv', { format: 'wechat-trade' });
    expect(lines).toEqual([
      wechatPayment(2, '4200000925202101284997714292', 'S20210128170702357723', '2021-01-28T17:07:11+08:00'),
      wechatPayment(3, '4200000910202101282955148400', 'S20210128153505214586', '2021-01-28T15:35:18+08:00'),
      wechatPayment(4, '4200000926202101281412639609', 'S20210128165824499930', '2021-01-28T16:59:46+08:00'),
      {
        kind: 'refund',
        channelTxnId: '50300807092021012805990201735',
        originalChannelTxnId: '4200000925202101284997714292',
        merchantOrderNo: 'S20210128170702357723',
        merchantRefundNo: 'R20210128181309277501',
        amountMinor: 1n,
        currency: 'CNY',
        status: 'succeeded',
        occurredAt: '2021-01-28T18:13:10+08:00',
        fee: '0.00000',
        line: 5,
      },
    ]);
    expect(summary).toEqual({ rows: 4, payments: 3, refunds: 1, paymentAmountMinor: 3n, refundAmountMinor: 1n, feeTotal: '0.00000', totalsCheck: 'ok' });
  });

  it('When the same bytes are parsed from memory, Then the result is the same', async () => {
    const fromFile = await parseFile('wechat_tradebill_ALL_20210128.csv', { format: 'wechat-trade' });
    const fromBytes = await parseBytes(fixtureBytes('wechat_tradebill_ALL_20210128.csv'), { format: 'wechat-trade' });
    expect(fromBytes).toEqual(fromFile);
  });
});

describe('Given the WeChat Pay trade bill, SUCCESS layout (20 columns, no refund columns)', () => {
  it('When parsed, Then its two payments come out, mapped by header name', async () => {
    const { lines, summary } = await parseFile('wechat_tradebill_SUCCESS_20191104.csv', { format: 'wechat-trade' });
    expect(lines).toEqual([
      wechatPayment(2, '4200000422201911044383886395', '1572864513058gxaivpd', '2019-11-04T18:52:59+08:00'),
      wechatPayment(3, '4200000423201911046892119860', '1572868323023nkfdudu', '2019-11-04T19:57:05+08:00'),
    ]);
    expect(summary).toEqual({ rows: 2, payments: 2, refunds: 0, paymentAmountMinor: 2n, refundAmountMinor: 0n, feeTotal: '0.00000', totalsCheck: 'ok' });
  });
});

describe('Given the WeChat Pay trade bill, REFUND layout (verbatim from WxJava, 29 columns)', () => {
  it('When parsed as published, Then it is refused: its summary counts 4 rows and 2.02 refunded for one row of 0.01', async () => {
    await expect(parseFile('wechat_tradebill_REFUND_wxjava.csv', { format: 'wechat-trade' })).rejects.toMatchObject({
      code: 'file_totals_mismatch',
      message: expect.stringContaining('总交易单数 4') as unknown,
    });
  });

  it('When its summary is corrected to its one row, Then the refund is read from the columns that moved (退款申请时间 shifts them)', async () => {
    const text = fixtureBytes('wechat_tradebill_REFUND_wxjava.csv').toString('utf8').replace('`4,`0.00,`2.02,`0.00,`-0.02000,`0.00,`2.02', '`1,`0.00,`0.01,`0.00,`0.00000,`0.00,`0.01');
    const { lines, summary } = await parseBytes(Buffer.from(text), { format: 'wechat-trade' });
    expect(lines).toEqual([
      {
        kind: 'refund',
        channelTxnId: 'xxxx',
        originalChannelTxnId: 'xxx',
        merchantOrderNo: 'xxxx',
        merchantRefundNo: 'xxx',
        amountMinor: 1n,
        currency: 'CNY',
        status: 'succeeded',
        occurredAt: '2019-07-23T20:53:36+08:00',
        fee: '0.00000',
        line: 2,
      },
    ]);
    expect(summary).toMatchObject({ rows: 1, payments: 0, refunds: 1, refundAmountMinor: 1n, totalsCheck: 'ok' });
  });
});

describe('Given the WeChat Pay fund flow bill (BASIC, v3 half-width headers)', () => {
  it('When parsed as published (trimmed: its summary counts a 收入 row that is not there), Then it is refused', async () => {
    await expect(parseFile('wechat_fundflowbill_BASIC_20210201.csv', { format: 'wechat-fundflow' })).rejects.toMatchObject({ code: 'file_totals_mismatch' });
  });

  it('When the missing 收入 row is put back, Then 收入 is a payment, 支出 a refund, and 业务凭证号 our number', async () => {
    const text = fixtureBytes('wechat_fundflowbill_BASIC_20210201.csv').toString('utf8');
    const income = '`2021-02-01 10:00:00,`4200000901202102010000000001,`1000000000202102010000000001,`交易,`交易,`收入,`0.01,`0.23,`1601959334API,`,`S20210201095959000001\r\n';
    const at = text.indexOf('\n') + 1;
    const { lines, summary } = await parseBytes(Buffer.from(text.slice(0, at) + income + text.slice(at)), { format: 'wechat-fundflow' });
    const refund = (line: number, channelTxnId: string, merchantRefundNo: string, occurredAt: string): StatementLine => ({
      kind: 'refund',
      channelTxnId,
      originalChannelTxnId: null,
      merchantOrderNo: null,
      merchantRefundNo,
      amountMinor: 1n,
      currency: 'CNY',
      status: 'succeeded',
      occurredAt,
      fee: null,
      line,
    });
    expect(lines).toEqual([
      {
        kind: 'payment',
        channelTxnId: '4200000901202102010000000001',
        originalChannelTxnId: null,
        merchantOrderNo: 'S20210201095959000001',
        merchantRefundNo: null,
        amountMinor: 1n,
        currency: 'CNY',
        status: 'succeeded',
        occurredAt: '2021-02-01T10:00:00+08:00',
        fee: null,
        line: 2,
      },
      refund(3, '50300806962021020105978994968', 'S20210201135356381941', '2021-02-01T13:54:01+08:00'),
      refund(4, '50300907032021020105978998710', 'S20210201140044552846', '2021-02-01T14:00:45+08:00'),
    ]);
    expect(summary).toEqual({ rows: 3, payments: 1, refunds: 2, paymentAmountMinor: 1n, refundAmountMinor: 2n, feeTotal: null, totalsCheck: 'ok' });
  });

  it('When the v2 full-width header （元） is used, Then it reads the same', async () => {
    const text = fixtureBytes('wechat_fundflowbill_BASIC_20210201.csv').toString('utf8').replace('收支金额(元)', '收支金额（元）').replace('`3,`1,`0.01,`2,`0.02', '`2.0,`0.0,`0.00,`2.0,`0.02');
    const { summary } = await parseBytes(Buffer.from(text), { format: 'wechat-fundflow' });
    expect(summary).toMatchObject({ rows: 2, refunds: 2, refundAmountMinor: 2n, totalsCheck: 'ok' });
  });
});

describe('Given a WeChat bill in the pre-2018 layout (总金额, 企业红包…; summary 总交易额, 总退款金额)', () => {
  it('When parsed, Then 总金额 is the payment amount and 总交易额 / 总退款金额 are checked against the rows', async () => {
    const header = '交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,企业红包金额,微信退款单号,商户退款单号,退款金额,企业红包退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率';
    const pay = '`2017-03-01 10:00:00,`wx1,`100,`,`,`4001,`A1,`o1,`JSAPI,`SUCCESS,`CFT,`CNY,`1.50,`0.00,`0,`0,`0.00,`0.00,`,`,`x,`,`0.01000,`0.60%';
    const refund = '`2017-03-01 11:00:00,`wx1,`100,`,`,`4001,`A1,`o1,`JSAPI,`REFUND,`CFT,`CNY,`0.00,`0.00,`5001,`R1,`0.50,`0.00,`ORIGINAL,`SUCCESS,`x,`,`-0.00300,`0.60%';
    const summary = (total: string): string => `总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额\r\n\`2,\`${total},\`0.50,\`0.00,\`0.00700\r\n`;
    const bill = (total: string): Buffer => Buffer.from(`${header}\r\n${pay}\r\n${refund}\r\n${summary(total)}`);
    const { lines, summary: s } = await parseBytes(bill('1.50'), { format: 'wechat-trade' });
    expect(lines.map((l) => [l.kind, l.channelTxnId, l.amountMinor, l.fee])).toEqual([
      ['payment', '4001', 150n, '0.01000'],
      ['refund', '5001', 50n, '-0.00300'],
    ]);
    expect(s).toMatchObject({ rows: 2, feeTotal: '0.00700', totalsCheck: 'ok' });
    await expect(parseBytes(bill('1.49'), { format: 'wechat-trade' })).rejects.toMatchObject({ code: 'file_totals_mismatch', message: expect.stringContaining('总交易额') as unknown });
  });
});

const ALIPAY_LINES: StatementLine[] = [
  {
    kind: 'payment',
    channelTxnId: '2019091622001458860515315453',
    originalChannelTxnId: null,
    merchantOrderNo: 'service_1568601259302',
    merchantRefundNo: null,
    amountMinor: 1n,
    currency: 'CNY',
    status: 'succeeded',
    occurredAt: '2019-09-16T10:55:23+08:00',
    fee: '0.00',
    line: 6,
  },
  {
    kind: 'refund',
    channelTxnId: '2019091622001458860515315453:re_test_1568602607356',
    originalChannelTxnId: '2019091622001458860515315453',
    merchantOrderNo: 'service_1568601259302',
    merchantRefundNo: 're_test_1568602607356',
    amountMinor: 1n,
    currency: 'CNY',
    status: 'succeeded',
    occurredAt: '2019-09-16T10:56:48+08:00',
    fee: '0.00',
    line: 7,
  },
  {
    kind: 'payment',
    channelTxnId: '2019091622001465870515233238',
    originalChannelTxnId: null,
    merchantOrderNo: '20190916165659224L3VUQRL9',
    merchantRefundNo: null,
    amountMinor: 1n,
    currency: 'CNY',
    status: 'succeeded',
    occurredAt: '2019-09-16T16:58:58+08:00',
    fee: '0.00',
    line: 8,
  },
];
const ALIPAY_SUMMARY: StatementSummary = { rows: 3, payments: 2, refunds: 1, paymentAmountMinor: 2n, refundAmountMinor: 1n, feeTotal: '0.00', totalsCheck: 'ok' };

describe('Given the Alipay trade bill (业务明细)', () => {
  it('When the zip as downloaded is parsed (GBK entry names, no UTF-8 flag), Then the 明细 entry is read, tabs trimmed, refunds made positive', async () => {
    const { lines, summary } = await parseFile('20880211096256330156_20190916.csv.zip', { format: 'alipay-trade' });
    expect(lines).toEqual(ALIPAY_LINES);
    expect(summary).toEqual(ALIPAY_SUMMARY);
  });

  it('When the bare 明细 CSV is parsed, Then the same lines come out', async () => {
    const { lines, summary } = await parseFile('20880211096256330156_20190916_业务明细.csv', { format: 'alipay-trade' });
    expect(lines).toEqual(ALIPAY_LINES);
    expect(summary).toEqual(ALIPAY_SUMMARY);
  });

  it('When the 汇总 entry of the zip disagrees with the 明细 (one more trade), Then the zip is refused', async () => {
    const detail = fixtureBytes('20880211096256330156_20190916_业务明细.csv');
    const summaryText = iconv.decode(fixtureBytes('20880211096256330156_20190916_业务明细(汇总).csv'), 'gbk').replace('合计,,2,1,', '合计,,3,1,');
    const zip = buildZip([
      { name: '20880211096256330156_20190916_业务明细.csv', data: detail },
      { name: '20880211096256330156_20190916_业务明细(汇总).csv', data: iconv.encode(summaryText, 'gbk') },
    ]);
    await expect(parseBytes(zip, { format: 'alipay-trade', fileName: 'a.csv.zip' })).rejects.toMatchObject({ code: 'file_totals_mismatch', message: expect.stringContaining('交易订单总笔数') as unknown });
  });

  it('When only the 汇总 file is given, Then it is refused as the wrong file', async () => {
    await expect(parseFile('20880211096256330156_20190916_业务明细(汇总).csv', { format: 'alipay-trade' })).rejects.toMatchObject({ code: 'header_mismatch' });
  });
});

describe('Given the Alipay account bill (账务明细, signcustomer)', () => {
  it('When parsed, Then each 收入 row is a payment keyed by 业务流水号 and the footer totals agree', async () => {
    const { lines, summary } = await parseFile('20888011365400330156_20121229_账务明细.csv', { format: 'alipay-account' });
    const payment = (line: number, channelTxnId: string, merchantOrderNo: string, amountMinor: bigint, occurredAt: string): StatementLine => ({
      kind: 'payment',
      channelTxnId,
      originalChannelTxnId: null,
      merchantOrderNo,
      merchantRefundNo: null,
      amountMinor,
      currency: 'CNY',
      status: 'succeeded',
      occurredAt,
      fee: null,
      line,
    });
    expect(lines).toEqual([payment(6, '2012122923922029', '3226563', 227400n, '2012-12-29T21:02:06+08:00'), payment(7, '2012122948927762', '3226533', 39300n, '2012-12-29T20:31:32+08:00')]);
    expect(summary).toEqual({ rows: 2, payments: 2, refunds: 0, paymentAmountMinor: 266700n, refundAmountMinor: 0n, feeTotal: null, totalsCheck: 'ok' });
  });

  it('When a 支出 row is added (written negative, as newer exports do) and the footer says so, Then it is a refund of the magnitude', async () => {
    const text = iconv
      .decode(fixtureBytes('20888011365400330156_20121229_账务明细.csv'), 'gbk')
      .replace(/#-+账务明细列表结束/, (marker) => `54632446537999\t,2012122923922029\t,3226563\t,海航机票\t,2012-12-29 22:00:00,陈晶 (kuangzhe@126.com)\t,0.00,-100.00,14433.03,支付宝,交易退款,\r\n${marker}`)
      .replace('#支出合计：0笔，共0.00元', '#支出合计：1笔，共100.00元');
    const { lines, summary } = await parseBytes(iconv.encode(text, 'gbk'), { format: 'alipay-account' });
    expect(lines[2]).toMatchObject({ kind: 'refund', channelTxnId: '2012122923922029', merchantOrderNo: '3226563', amountMinor: 10000n, occurredAt: '2012-12-29T22:00:00+08:00', line: 8 });
    expect(summary).toMatchObject({ payments: 2, refunds: 1, refundAmountMinor: 10000n, totalsCheck: 'ok' });
  });
});

const ZM_NAME = 'INN15090588ZM_802310048993424.SYNTHETIC';
const ZM_LINES: StatementLine[] = [
  {
    kind: 'payment',
    channelTxnId: '201509051030152345678',
    originalChannelTxnId: null,
    merchantOrderNo: '20150905103015001',
    merchantRefundNo: null,
    amountMinor: 100n,
    currency: 'CNY',
    status: 'succeeded',
    occurredAt: '2015-09-05T10:30:15+08:00',
    fee: '0.01',
    line: 1,
  },
  {
    kind: 'refund',
    channelTxnId: '201509051430012345679',
    originalChannelTxnId: '201509051030152345678',
    merchantOrderNo: '20150905103015001',
    merchantRefundNo: 'R20150905143001001',
    amountMinor: 100n,
    currency: 'CNY',
    status: 'succeeded',
    occurredAt: '2015-09-05T14:30:01+08:00',
    fee: '-0.01',
    line: 2,
  },
];

describe('Given the UnionPay ZM file (GBK, 42 fixed-width fields, 607 bytes a line)', () => {
  it('When parsed, Then S22 is a payment, S30 a refund pointing at it, fen are minor units and the year comes from the file name', async () => {
    const { lines, summary } = await parseFile(ZM_NAME, { format: 'unionpay-zm' });
    expect(lines).toEqual(ZM_LINES);
    expect(summary).toEqual({ rows: 2, payments: 1, refunds: 1, paymentAmountMinor: 100n, refundAmountMinor: 100n, feeTotal: '0.00', totalsCheck: 'absent' });
  });

  it('When a 商户自定义域 holds Chinese (two GBK bytes a character), Then the fields after it still line up by byte', async () => {
    const bytes = Buffer.from(fixtureBytes(ZM_NAME));
    // 商户自定义域 is field 35 (32 bytes) at byte 397 of the line: write 4 Chinese characters (8 bytes) into it.
    iconv.encode('测试商户', 'gbk').copy(bytes, 397);
    const { lines } = await parseBytes(bytes, { format: 'unionpay-zm', fileName: ZM_NAME });
    expect(lines).toEqual(ZM_LINES);
  });

  it('When it comes inside the fileTransfer zip beside its ZME file, Then the ZM entry is read and its name gives the year', async () => {
    const zip = buildZip([
      { name: 'ZME_802310048993424', data: Buffer.from('') },
      { name: 'INN15090588ZM_802310048993424', data: fixtureBytes(ZM_NAME) },
    ]);
    const { lines } = await parseBytes(zip, { format: 'unionpay-zm', fileName: '802310048993424_20150905.zip' });
    expect(lines.map((l) => [l.channelTxnId, l.occurredAt])).toEqual(ZM_LINES.map((l) => [l.channelTxnId, l.occurredAt]));
  });

  it('When the settlement date is 2016-01-01, Then a 12-31 line is of 2015 and a 09-05 line too (the nearest year, not the file\u2019s)', async () => {
    const bytes = Buffer.from(fixtureBytes(ZM_NAME));
    bytes.write('1231235959', 35, 'latin1'); // 交易传输时间 of the first line
    const { lines } = await parseBytes(bytes, { format: 'unionpay-zm', settlementDate: '2016-01-01' });
    expect(lines[0]?.occurredAt).toBe('2015-12-31T23:59:59+08:00');
    expect(lines[1]?.occurredAt).toBe('2015-09-05T14:30:01+08:00');
  });

  it('When a line is a 消费撤销 (S31), Then it is a refund row of the payment it voids', async () => {
    const bytes = Buffer.from(fixtureBytes(ZM_NAME));
    bytes.write('S31', 609, 'latin1');
    const { lines } = await parseBytes(bytes, { format: 'unionpay-zm', fileName: ZM_NAME });
    expect(lines[1]).toMatchObject({ kind: 'refund', originalChannelTxnId: '201509051030152345678', merchantOrderNo: '20150905103015001' });
  });
});

describe('Given a generic CSV (a Stripe payout reconciliation report) and a column mapping', () => {
  const mapping = {
    columns: {
      channel_txn_id: 'balance_transaction_id',
      amount: 'gross',
      occurred_at: 'created_utc',
      merchant_order_no: 'description',
      original_channel_txn_id: 'source_id',
      currency: 'currency',
      fee: 'fee',
      kind: 'reporting_category',
    },
    amount_unit: 'major',
    kind_values: { payment: ['charge'], refund: ['refund'] },
    utc_offset: '+00:00',
  };

  it('When parsed, Then the kind comes from reporting_category, the negative refund is made positive and the currency upper-cased', async () => {
    const { lines, summary } = await parseFile('stripe_payout_reconciliation.itemized.5.SYNTHETIC.csv', { format: 'generic-csv', mapping });
    expect(lines).toEqual([
      {
        kind: 'payment',
        channelTxnId: 'txn_3OZxYzABcdEFgh1A',
        originalChannelTxnId: 'ch_3OZxYzABcdEFgh1A',
        merchantOrderNo: 'Order 1001',
        merchantRefundNo: null,
        amountMinor: 10000n,
        currency: 'USD',
        status: 'succeeded',
        occurredAt: '2024-01-15T09:12:44+00:00',
        fee: '3.20',
        line: 2,
      },
      {
        kind: 'refund',
        channelTxnId: 'txn_3OZyABCdefGHij2B',
        originalChannelTxnId: 're_3OZyABCdefGHij2B',
        merchantOrderNo: 'Refund for order 0990',
        merchantRefundNo: null,
        amountMinor: 2500n,
        currency: 'USD',
        status: 'succeeded',
        occurredAt: '2024-01-15T11:03:10+00:00',
        fee: '0.00',
        line: 3,
      },
    ]);
    expect(summary).toEqual({ rows: 2, payments: 1, refunds: 1, paymentAmountMinor: 10000n, refundAmountMinor: 2500n, feeTotal: '3.20', totalsCheck: 'absent' });
  });

  it('When a GBK file without a header names columns by position, with ¥, thousands separators, quotes and a status map, Then each is read as mapped', async () => {
    // GBK has no ¥ (U+00A5): Chinese exports write the full-width ￥.
    const text = '交易流水\r\n"T001","￥1,234.50",2026-11-26 10:00:00,成功,"订单,1"\r\nT002,-￥12.00,2026-11-26 11:00:00,处理中,订单2\r\n';
    const gbkMapping = {
      encoding: 'gbk',
      header_row: false,
      skip_lines: 1,
      delimiter: ',',
      columns: { channel_txn_id: 1, amount: 2, occurred_at: 3, status: 4, merchant_order_no: 5 },
      amount_unit: 'major',
      currency_prefix: '￥',
      thousands_separator: ',',
      status_values: { 成功: 'succeeded', 处理中: 'processing' },
      negative_is_refund: true,
    };
    const { lines } = await parseBytes(iconv.encode(text, 'gbk'), { format: 'generic-csv', mapping: gbkMapping });
    expect(lines.map((l) => [l.kind, l.channelTxnId, l.amountMinor, l.status, l.merchantOrderNo, l.occurredAt, l.line])).toEqual([
      ['payment', 'T001', 123450n, 'succeeded', '订单,1', '2026-11-26T10:00:00+08:00', 2],
      ['refund', 'T002', 1200n, 'processing', '订单2', '2026-11-26T11:00:00+08:00', 3],
    ]);
  });

  it('When amounts are minor units, Then "1050" is 1050 and a decimal point is refused', async () => {
    const csv = 'id,amt,at\r\nA,1050,20261126101500\r\n';
    const m = { columns: { channel_txn_id: 'id', amount: 'amt', occurred_at: 'at' }, amount_unit: 'minor', date_format: 'yyyyMMddHHmmss' };
    const { lines } = await parseBytes(Buffer.from(csv), { format: 'generic-csv', mapping: m });
    expect(lines[0]).toMatchObject({ amountMinor: 1050n, occurredAt: '2026-11-26T10:15:00+08:00', kind: 'payment', status: 'succeeded' });
    await expect(parseBytes(Buffer.from(csv.replace('1050', '10.50')), { format: 'generic-csv', mapping: m })).rejects.toMatchObject({ code: 'amount_invalid' });
  });
});
