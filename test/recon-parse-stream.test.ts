// Streaming: a 200,000-row WeChat bill written by the test is parsed from disk while never being read
// more than one chunk ahead of the row being handed out — so memory stays flat however long the file is.

import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStatementFile } from '../src/batch/recon/formats/index.js';
import { READ_CHUNK_BYTES } from '../src/batch/recon/formats/source.js';

const ROWS = 200_000;
const HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,' +
  '微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';

let dir: string;
let path: string;
/** Byte offset just after each row (index 0 = the first detail row). */
const rowEnds = new Float64Array(ROWS);
let settledFen = 0n;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'settle-parse-stream-'));
  path = join(dir, 'wechat-all.csv');
  const out = createWriteStream(path);
  let offset = 0;
  let pending = '';
  const write = async (text: string): Promise<void> => {
    pending += text;
    offset += Buffer.byteLength(text);
    if (pending.length > 256 * 1024) {
      if (!out.write(pending)) await once(out, 'drain');
      pending = '';
    }
  };
  await write(`\uFEFF${HEADER}\r\n`);
  for (let i = 0; i < ROWS; i += 1) {
    const fen = BigInt(100 + (i % 9973));
    settledFen += fen;
    const yuan = `${fen / 100n}.${(fen % 100n).toString().padStart(2, '0')}`;
    const n = String(i).padStart(10, '0');
    await write(
      `\`2026-11-26 10:00:00,\`wx0123456789abcdef,\`1601959334,\`0,\`,\`420000${n},\`pay_${n},\`openid,\`NATIVE,\`SUCCESS,\`CFT,\`CNY,\`${yuan},\`0.00,\`0,\`0,\`0.00,\`0.00,\`,\`,\`商品,\`,\`0.00000,\`0.60%,\`${yuan},\`0.00,\`\r\n`,
    );
    rowEnds[i] = offset;
  }
  const total = `${settledFen / 100n}.${(settledFen % 100n).toString().padStart(2, '0')}`;
  await write(`总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n\`${ROWS},\`${total},\`0.00,\`0.00,\`0.00000,\`${total},\`0.00\r\n`);
  out.end(pending);
  await once(out, 'finish');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Given a 200,000-row WeChat bill on disk', () => {
  it('When parsed, Then each row is handed out before the reader is more than one chunk past it, and the totals agree', async () => {
    const size = statSync(path).size;
    expect(size).toBeGreaterThan(30 * READ_CHUNK_BYTES);
    let bytesRead = 0;
    let aheadMaxBytes = 0;
    let firstLineAt = -1;
    let count = 0;
    const summary = await parseStatementFile(
      path,
      { format: 'wechat-trade', onProgress: (read) => (bytesRead = read) },
      (line) => {
        if (firstLineAt < 0) firstLineAt = bytesRead;
        aheadMaxBytes = Math.max(aheadMaxBytes, bytesRead - (rowEnds[line.line - 2] ?? 0));
        count += 1;
      },
    );
    expect(firstLineAt).toBeLessThanOrEqual(READ_CHUNK_BYTES);
    expect(aheadMaxBytes).toBeLessThanOrEqual(READ_CHUNK_BYTES);
    expect(bytesRead).toBe(size);
    expect(count).toBe(ROWS);
    expect(summary).toMatchObject({ rows: ROWS, payments: ROWS, paymentAmountMinor: settledFen, totalsCheck: 'ok' });
  });
});
