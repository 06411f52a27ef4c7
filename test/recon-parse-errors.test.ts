// Every parse error code, each triggered by a bad file crafted from a good sample: a dropped cell, a changed
// total, a cut-off download, a hostile zip. Nothing bad is ever half-accepted: the promise rejects with the
// stable code, and the message names the file and, for a row, its line.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { afterAll, describe, expect, it } from 'vitest';
import type { FormatName } from '../src/batch/recon/config.js';
import { ReconError } from '../src/batch/recon/errors.js';
import { parseStatementBytes, parseStatementFile, PARSE_LIMITS, type ParseOptions } from '../src/batch/recon/formats/index.js';
import type { StatementLine } from '../src/batch/recon/line.js';
import { buildZip } from './fixtures/formats/build-zip.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'formats');
const bytesOf = (name: string): Buffer => readFileSync(join(FIXTURES, name));
const WECHAT_ALL = bytesOf('wechat_tradebill_ALL_20210128.csv');
const WECHAT_TEXT = WECHAT_ALL.toString('utf8');
const ALIPAY_DETAIL = bytesOf('20880211096256330156_20190916_业务明细.csv');
const ALIPAY_TEXT = iconv.decode(ALIPAY_DETAIL, 'gbk');
const ALIPAY_SUMMARY = bytesOf('20880211096256330156_20190916_业务明细(汇总).csv');
const ALIPAY_ZIP = bytesOf('20880211096256330156_20190916.csv.zip');
const ZM_NAME = 'INN15090588ZM_802310048993424.SYNTHETIC';
const ZM = bytesOf(ZM_NAME);

const dir = mkdtempSync(join(tmpdir(), 'settle-parse-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Parses and returns the rejection (failing the test if it resolves). */
async function failure(bytes: Uint8Array | string, options: ParseOptions): Promise<ReconError> {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  try {
    await parseStatementBytes(data, { fileName: 'bill.csv', ...options }, () => undefined);
  } catch (e) {
    expect(e).toBeInstanceOf(ReconError);
    return e as ReconError;
  }
  throw new Error('expected the parse to fail');
}

const wechat = (text: string): Promise<ReconError> => failure(text, { format: 'wechat-trade' });
const alipay = (text: string): Promise<ReconError> => failure(iconv.encode(text, 'gbk'), { format: 'alipay-trade' });
/** The first detail row of the WeChat sample, and the sample with that row replaced. */
const WECHAT_ROW = WECHAT_TEXT.split('\r\n')[1] ?? '';
const withWechatRow = (row: string): string => WECHAT_TEXT.replace(WECHAT_ROW, row);
/** The WeChat row with its 13th cell (应结订单金额) set. */
const withSettled = (amount: string): string => {
  const cells = WECHAT_ROW.split(',`');
  cells[12] = amount;
  return withWechatRow(cells.join(',`'));
};

describe('Given a format name or options that are wrong', () => {
  it('When the format is not one settle knows, Then format_unknown', async () => {
    const e = await failure(WECHAT_ALL, { format: 'mt940' as FormatName });
    expect(e.code).toBe('format_unknown');
  });

  it('When the currency option is not a known code, Then currency_unknown', async () => {
    expect((await failure(WECHAT_ALL, { format: 'wechat-trade', currency: 'XXX' })).code).toBe('currency_unknown');
  });

  it('When the file does not exist, Then file_unreadable', async () => {
    await expect(parseStatementFile(join(dir, 'missing.csv'), { format: 'wechat-trade' }, () => undefined)).rejects.toMatchObject({ code: 'file_unreadable' });
  });
});

describe('Given files over the limits', () => {
  it('When the file is larger than fileBytesMax, Then file_too_large before a byte is parsed', async () => {
    const path = join(dir, 'big.csv');
    writeFileSync(path, WECHAT_ALL);
    const lines: StatementLine[] = [];
    await expect(parseStatementFile(path, { format: 'wechat-trade', limits: { fileBytesMax: 1000 } }, (l) => lines.push(l))).rejects.toMatchObject({ code: 'file_too_large' });
    expect(lines).toEqual([]);
  });

  it('When the file has more rows than rowsMax, Then too_many_rows naming the line', async () => {
    const e = await failure(WECHAT_ALL, { format: 'wechat-trade', limits: { rowsMax: 2 } });
    expect(e.code).toBe('too_many_rows');
    expect(e.message).toContain('bill.csv:4');
  });

  it('When a line is longer than lineBytesMax, Then row_malformed', async () => {
    const e = await failure(withWechatRow(`${WECHAT_ROW}${'x'.repeat(2000)}`), { format: 'wechat-trade', limits: { lineBytesMax: 1024 } });
    expect(e.code).toBe('row_malformed');
  });
});

describe('Given a WeChat bill damaged in its structure', () => {
  it('When the header lacks 微信订单号 (a fund flow bill given as a trade bill), Then header_mismatch', async () => {
    const e = await failure(bytesOf('wechat_fundflowbill_BASIC_20210201.csv'), { format: 'wechat-trade' });
    expect(e.code).toBe('header_mismatch');
    expect(e.message).toContain('交易时间');
  });

  it('When a row lost a cell, Then row_malformed at its line', async () => {
    const e = await wechat(withWechatRow(WECHAT_ROW.replace(',`wx81be3101902f7cb2', '')));
    expect(e.code).toBe('row_malformed');
    expect(e.message).toContain('bill.csv:2: 26 cells where the header has 27');
  });

  it('When a time is not a real time, Then row_malformed', async () => {
    expect((await wechat(withWechatRow(WECHAT_ROW.replace('2021-01-28 17:07:11', '2021-02-30 17:07:11')))).code).toBe('row_malformed');
  });

  it('When the download stops before the summary, Then file_truncated', async () => {
    const cut = WECHAT_TEXT.slice(0, WECHAT_TEXT.indexOf('总交易单数'));
    expect((await wechat(cut)).code).toBe('file_truncated');
  });

  it('When the download stops inside a row, Then file_truncated (not a malformed row)', async () => {
    const cut = WECHAT_TEXT.slice(0, WECHAT_TEXT.indexOf('`0.00000,`1.00%') + 3);
    const e = await wechat(cut);
    expect(e.code).toBe('file_truncated');
    expect(e.message).toContain('bill.csv:2');
  });

  it('When the download stops inside a multi-byte character, Then file_truncated', async () => {
    const cut = WECHAT_ALL.subarray(0, WECHAT_ALL.indexOf(Buffer.from('总交易单数')) + 2);
    expect((await failure(cut, { format: 'wechat-trade' })).code).toBe('file_truncated');
  });

  it('When a byte is not UTF-8, Then encoding_invalid naming the line', async () => {
    const bad = Buffer.from(WECHAT_ALL);
    bad[bad.indexOf(Buffer.from('for testing'))] = 0xff;
    const e = await failure(bad, { format: 'wechat-trade' });
    expect(e.code).toBe('encoding_invalid');
    expect(e.message).toContain('bill.csv:2');
  });

  it('When a line follows the summary row, Then row_malformed', async () => {
    expect((await wechat(`${WECHAT_TEXT}${WECHAT_ROW}\r\n`)).code).toBe('row_malformed');
  });
});

describe('Given amounts that are not plain decimals of the right scale', () => {
  it.each([
    ['-0', 'a sign where none belongs'],
    ['-0.01', 'a negative payment'],
    ['1e3', 'an exponent'],
    ['0.001', 'too many decimals'],
    ['', 'an empty cell'],
    ['¥0.01', 'a currency sign'],
    ['1,000.00', 'a thousands separator'],
    ['01.00', 'a leading zero'],
    [' 0.01', 'a space'],
    ['0x10', 'hex'],
  ])('When 应结订单金额 is %j (%s), Then amount_invalid with the file and line', async (amount) => {
    const e = await wechat(withSettled(amount));
    expect(e.code).toBe('amount_invalid');
    expect(e.message).toContain('bill.csv:2: 应结订单金额');
  });

  it('When a fee has more than six decimals, Then amount_invalid', async () => {
    expect((await wechat(withWechatRow(WECHAT_ROW.replace('`0.00000,', '`0.0000001,')))).code).toBe('amount_invalid');
  });

  it('When an Alipay refund row has a positive amount, Then amount_invalid', async () => {
    expect((await alipay(ALIPAY_TEXT.replace(',-0.01,-0.01,', ',0.01,0.01,'))).code).toBe('amount_invalid');
  });

  it('When a UnionPay amount is not 12 digits, Then amount_invalid', async () => {
    const bad = Buffer.from(ZM);
    bad.write('00000000010X', 66, 'latin1'); // 交易金额 of line 1 (byte 66)
    expect((await failure(bad, { format: 'unionpay-zm', fileName: ZM_NAME })).code).toBe('amount_invalid');
  });
});

describe('Given statuses the parser does not know', () => {
  it('When 交易状态 is USERPAYING, Then status_unknown', async () => {
    const e = await wechat(withWechatRow(WECHAT_ROW.replace('`SUCCESS', '`USERPAYING')));
    expect(e.code).toBe('status_unknown');
    expect(e.message).toContain('USERPAYING');
  });

  it('When a refund\u2019s 退款状态 is unknown, Then status_unknown', async () => {
    expect((await wechat(WECHAT_TEXT.replace('`ORIGINAL,`SUCCESS', '`ORIGINAL,`MAYBE'))).code).toBe('status_unknown');
  });

  it('When Alipay\u2019s 业务类型 is neither 交易 nor 退款, Then status_unknown', async () => {
    expect((await alipay(ALIPAY_TEXT.replace(',交易\t,', ',冻结\t,'))).code).toBe('status_unknown');
  });

  it('When a UnionPay 交易代码 is not S22/S30/S31, Then status_unknown', async () => {
    const bad = Buffer.from(ZM);
    bad.write('S99', 0, 'latin1');
    expect((await failure(bad, { format: 'unionpay-zm', fileName: ZM_NAME })).code).toBe('status_unknown');
  });

  it('When 货币种类 is not a known currency, Then currency_unknown', async () => {
    expect((await wechat(withWechatRow(WECHAT_ROW.replace('`CNY', '`XYZ')))).code).toBe('currency_unknown');
  });
});

describe('Given files whose own totals disagree with their rows', () => {
  it('When one WeChat amount is changed, Then file_totals_mismatch — after the rows were handed out, so the caller must roll back', async () => {
    const lines: StatementLine[] = [];
    const changed = withSettled('0.02');
    await expect(parseStatementBytes(Buffer.from(changed), { format: 'wechat-trade' }, (l) => lines.push(l))).rejects.toMatchObject({
      code: 'file_totals_mismatch',
      message: expect.stringContaining('应结订单总金额 0.03') as unknown,
    });
    expect(lines).toHaveLength(4);
  });

  it('When a WeChat fee is changed, Then file_totals_mismatch on 手续费总金额', async () => {
    const e = await wechat(withWechatRow(WECHAT_ROW.replace('`0.00000,', '`0.00600,')));
    expect(e.code).toBe('file_totals_mismatch');
    expect(e.message).toContain('手续费总金额');
  });

  it('When the Alipay footer states another 商家实收, Then file_totals_mismatch', async () => {
    expect((await alipay(ALIPAY_TEXT.replace('商家实收共0.02元', '商家实收共0.03元'))).code).toBe('file_totals_mismatch');
  });

  it('When a row is dropped from an Alipay file, Then its 交易合计 count disagrees', async () => {
    const row = ALIPAY_TEXT.split('\r\n').find((l) => l.startsWith('2019091622001465870515233238')) ?? '';
    expect((await alipay(ALIPAY_TEXT.replace(`${row}\r\n`, ''))).code).toBe('file_totals_mismatch');
  });

  it('When the WeChat fund flow summary counts another 支出, Then file_totals_mismatch', async () => {
    const text = bytesOf('wechat_fundflowbill_BASIC_20210201.csv').toString('utf8').replace('`3,`1,`0.01,`2,`0.02', '`2,`0,`0.00,`2,`0.03');
    expect((await failure(text, { format: 'wechat-fundflow' })).code).toBe('file_totals_mismatch');
  });
});

describe('Given Alipay files cut short or damaged', () => {
  it('When the footer lines are missing, Then file_truncated', async () => {
    expect((await alipay(ALIPAY_TEXT.slice(0, ALIPAY_TEXT.indexOf('#交易合计')))).code).toBe('file_truncated');
  });

  it('When the table has no end marker, Then file_truncated', async () => {
    expect((await alipay(ALIPAY_TEXT.slice(0, ALIPAY_TEXT.indexOf('#---', ALIPAY_TEXT.indexOf('支付宝交易号'))))).code).toBe('file_truncated');
  });

  it('When a GBK byte pair is invalid, Then encoding_invalid', async () => {
    const bad = Buffer.from(ALIPAY_DETAIL);
    const at = bad.indexOf(Buffer.from('service_'));
    bad[at] = 0x81;
    bad[at + 1] = 0x20;
    expect((await failure(bad, { format: 'alipay-trade' })).code).toBe('encoding_invalid');
  });

  it('When a row has a cell too many, Then row_malformed', async () => {
    expect((await alipay(ALIPAY_TEXT.replace(',下单测试\r\n', ',下单测试,extra\r\n'))).code).toBe('row_malformed');
  });

  it('When 完成时间 is empty or not a time, on the first row or after a good one, Then row_malformed naming the cell', async () => {
    const TIME = /(?<=,)\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?=,)/g;
    const finished = [...new Set(ALIPAY_TEXT.match(TIME))];
    expect(finished.length).toBeGreaterThan(0);
    for (const bad of ['', '2019-09-16 25:00:00', 'yesterday']) {
      // Every 完成时间 (and 创建时间) bad: the first row fails.
      const first = await alipay(ALIPAY_TEXT.replace(TIME, bad));
      expect([first.code, first.message]).toEqual(['row_malformed', expect.stringContaining('完成时间')]);
    }
    // Only the last row's 完成时间 bad, after good ones.
    const last = finished[finished.length - 1] as string;
    const at = ALIPAY_TEXT.lastIndexOf(`,${last},`);
    const tail = await alipay(`${ALIPAY_TEXT.slice(0, at)},2019-09-16 24:61:00,${ALIPAY_TEXT.slice(at + last.length + 2)}`);
    expect([tail.code, tail.message]).toEqual(['row_malformed', expect.stringContaining('完成时间')]);
  });
});

describe('Given UnionPay ZM lines that are not 607 bytes of fields', () => {
  it('When a field separator is not a space, Then row_malformed', async () => {
    const bad = Buffer.from(ZM);
    bad[3] = 0x30;
    expect((await failure(bad, { format: 'unionpay-zm', fileName: ZM_NAME })).code).toBe('row_malformed');
  });

  it('When a middle line is short, Then row_malformed; when the last line is cut, Then file_truncated', async () => {
    const short = Buffer.concat([ZM.subarray(0, 500), Buffer.from('\r\n'), ZM.subarray(609)]);
    expect((await failure(short, { format: 'unionpay-zm', fileName: ZM_NAME })).code).toBe('row_malformed');
    expect((await failure(ZM.subarray(0, 609 + 300), { format: 'unionpay-zm', fileName: ZM_NAME })).code).toBe('file_truncated');
  });

  it('When neither the name nor the options give the settlement date, Then settlement_date_missing', async () => {
    expect((await failure(ZM, { format: 'unionpay-zm', fileName: 'zm.txt' })).code).toBe('settlement_date_missing');
  });
});

describe('Given a generic CSV without a usable mapping', () => {
  it('When no mapping is given, Then mapping_invalid', async () => {
    expect((await failure('a,b\r\n1,2\r\n', { format: 'generic-csv' })).code).toBe('mapping_invalid');
  });

  it('When the mapping has an unknown key, Then mapping_invalid naming it', async () => {
    const e = await failure('a,b\r\n1,2\r\n', { format: 'generic-csv', mapping: { columns: { channel_txn_id: 'a', amount: 'b', occurred_at: 'a' }, amount_unit: 'minor', colour: 'red' } });
    expect(e.code).toBe('mapping_invalid');
  });

  it('When a mapped column is not in the header, Then header_mismatch', async () => {
    const e = await failure('a,b\r\n1,2\r\n', { format: 'generic-csv', mapping: { columns: { channel_txn_id: 'id', amount: 'b', occurred_at: 'a' }, amount_unit: 'minor' } });
    expect(e.code).toBe('header_mismatch');
  });
});

describe('Given hostile or broken zip archives', () => {
  const detail = { name: '20880211096256330156_20190916_业务明细.csv', data: ALIPAY_DETAIL };
  const zipFailure = (zip: Buffer, limits?: ParseOptions['limits']): Promise<ReconError> =>
    failure(zip, { format: 'alipay-trade', fileName: 'bill.csv.zip', ...(limits ? { limits } : {}) });

  it('When the sample zip is cut short (any tail lost), Then zip_invalid', async () => {
    for (const cut of [1, 10, 30, 200]) expect((await zipFailure(ALIPAY_ZIP.subarray(0, ALIPAY_ZIP.length - cut))).code).toBe('zip_invalid');
  });

  it('When an entry\u2019s CRC does not match its bytes, Then zip_invalid', async () => {
    const e = await zipFailure(buildZip([{ ...detail, crc: 12345 }]));
    expect(e.code).toBe('zip_invalid');
    expect(e.message).toContain('CRC');
  });

  it('When the deflated data is corrupt, Then zip_invalid', async () => {
    const zip = buildZip([detail]);
    zip.fill(0xff, 100, 140);
    expect((await zipFailure(zip)).code).toBe('zip_invalid');
  });

  it('When an entry inflates past the size it declares, Then zip_invalid', async () => {
    expect((await zipFailure(buildZip([{ ...detail, declaredBytes: 100 }]))).code).toBe('zip_invalid');
  });

  it('When a 1 KB zip expands to 1 MiB (ratio above the limit), Then zip_limits_exceeded before inflating', async () => {
    const bomb = buildZip([{ name: '20880211096256330156_20190916_业务明细.csv', data: Buffer.alloc(1024 * 1024, 0x30) }]);
    expect(bomb.length).toBeLessThan(2048);
    const e = await zipFailure(bomb);
    expect(e.code).toBe('zip_limits_exceeded');
    expect(e.message).toContain(`${PARSE_LIMITS.zipCompressionRatioMax}:1`);
  });

  it('When the zip has more entries than the limit, Then zip_limits_exceeded', async () => {
    const many = Array.from({ length: PARSE_LIMITS.zipEntriesMax + 1 }, (_, i) => ({ name: `part${i}.csv`, data: Buffer.from('x') }));
    expect((await zipFailure(buildZip([detail, ...many]))).code).toBe('zip_limits_exceeded');
  });

  it('When the entries expand past the total limit, Then zip_limits_exceeded', async () => {
    expect((await zipFailure(buildZip([detail]), { zipUncompressedBytesMax: 1000 })).code).toBe('zip_limits_exceeded');
  });

  it.each([
    ['../evil.csv', 'climbs out'],
    ['a/../../evil.csv', 'climbs out'],
    ['/etc/passwd', 'absolute'],
    ['C:/Windows/evil.csv', 'absolute'],
    ['dir\\evil.csv', 'backslash'],
    ['inner.zip', 'nested zip'],
  ])('When an entry is named %j, Then zip_entry_unsafe (%s)', async (name, why) => {
    const e = await zipFailure(buildZip([detail, { name, data: Buffer.from('x') }]));
    expect(e.code).toBe('zip_entry_unsafe');
    expect(e.message).toContain(why);
  });

  it('When the 明细 entry is itself a zip under a .csv name, Then zip_entry_unsafe', async () => {
    const e = await zipFailure(buildZip([{ name: detail.name, data: ALIPAY_ZIP, method: 0 }]));
    expect(e.code).toBe('zip_entry_unsafe');
    expect(e.message).toContain('nested');
  });

  it('When an entry is encrypted, Then zip_entry_unsafe', async () => {
    expect((await zipFailure(buildZip([{ ...detail, encrypted: true }]))).code).toBe('zip_entry_unsafe');
  });

  it('When the zip holds no 业务明细 entry, Then header_mismatch listing what it holds', async () => {
    const e = await zipFailure(buildZip([{ name: 'readme.txt', data: Buffer.from('hi') }]));
    expect(e.code).toBe('header_mismatch');
    expect(e.message).toContain('readme.txt');
  });

  it('When the entries are stored (not deflated) and UTF-8 named, Then the zip is read all the same', async () => {
    const zip = buildZip([
      { ...detail, method: 0, utf8Name: true },
      { name: '20880211096256330156_20190916_业务明细(汇总).csv', data: ALIPAY_SUMMARY, utf8Name: true },
    ]);
    const lines: StatementLine[] = [];
    const summary = await parseStatementBytes(zip, { format: 'alipay-trade' }, (l) => lines.push(l));
    expect(summary).toMatchObject({ rows: 3, totalsCheck: 'ok' });
  });

  it('When a deflate stream is cut inside the entry (directory intact), Then zip_invalid', async () => {
    const body = deflateRawSync(ALIPAY_DETAIL);
    const zip = buildZip([detail]);
    const at = zip.indexOf(body);
    expect(at).toBeGreaterThan(0);
    zip.fill(0, at + body.length - 8, at + body.length);
    expect((await zipFailure(zip)).code).toBe('zip_invalid');
  });
});
