// Round trip: for generated payments and refunds, a tiny WeChat ALL-layout writer (here, independent of
// the parser and of the simulator's writer) produces the bill with its summary; parsing it gives back the
// same lines and totals. Changing any one amount or fee of any row breaks the file's own totals.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStatementBytes } from '../src/batch/recon/formats/index.js';
import type { LineStatus, StatementLine } from '../src/batch/recon/line.js';

const HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,' +
  '微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
const SUMMARY_HEADER = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';

interface Row {
  readonly refund: boolean;
  readonly tradeState: 'SUCCESS' | 'REVOKED' | 'CLOSED' | 'REFUND';
  readonly refundState: 'SUCCESS' | 'PROCESSING' | 'FAIL';
  readonly txnId: string;
  readonly orderNo: string;
  readonly refundId: string;
  readonly refundNo: string;
  readonly amountFen: bigint;
  /** The fee in 1e-5 yuan (WeChat's five decimals); negative on a refund. */
  readonly feeUnits: bigint;
  readonly secondOfDay: number;
  readonly body: string;
}

const id = (prefix: string): fc.Arbitrary<string> => fc.stringMatching(/^[0-9A-Za-z_]{4,28}$/).map((s) => prefix + s);

const rowArb: fc.Arbitrary<Row> = fc
  .record({
    refund: fc.boolean(),
    paidState: fc.constantFrom('SUCCESS' as const, 'SUCCESS' as const, 'REVOKED' as const, 'CLOSED' as const),
    refundState: fc.constantFrom('SUCCESS' as const, 'PROCESSING' as const, 'FAIL' as const),
    txnId: id('42'),
    orderNo: id('pay_'),
    refundId: id('50'),
    refundNo: id('re_'),
    amountFen: fc.bigInt({ min: 1n, max: 99_999_999_99n }),
    feeUnits: fc.bigInt({ min: 0n, max: 9_999_999_999n }),
    secondOfDay: fc.integer({ min: 0, max: 86_399 }),
    // Free text with commas, Chinese and spaces; never the ",`" cell separator or a line end.
    body: fc.string({ unit: fc.constantFrom('a', 'b', '1', ' ', ',', '中', '文', '-', '(', ')'), maxLength: 16 }).filter((s) => !s.endsWith(',')),
  })
  .map((r) => ({ ...r, tradeState: r.refund ? ('REFUND' as const) : r.paidState, feeUnits: r.refund ? -r.feeUnits : r.feeUnits }));

const yuan = (fen: bigint): string => `${fen / 100n}.${(fen % 100n).toString().padStart(2, '0')}`;
const fee5 = (units: bigint): string => {
  const m = units < 0n ? -units : units;
  return `${units < 0n ? '-' : ''}${m / 100000n}.${(m % 100000n).toString().padStart(5, '0')}`;
};
const time = (s: number): string => {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `2026-11-26 ${p(Math.floor(s / 3600))}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}`;
};

/** The 27 cells of a row, in the ALL layout's order. */
function cellsOf(r: Row): string[] {
  return [
    time(r.secondOfDay),
    'wx0123456789abcdef',
    '1601959334',
    '0',
    '',
    r.txnId,
    r.orderNo,
    'openid',
    'NATIVE',
    r.tradeState,
    'OTHERS',
    'CNY',
    r.refund ? '0.00' : yuan(r.amountFen),
    '0.00',
    r.refund ? r.refundId : '0',
    r.refund ? r.refundNo : '0',
    r.refund ? yuan(r.amountFen) : '0.00',
    '0.00',
    r.refund ? 'ORIGINAL' : '',
    r.refund ? r.refundState : '',
    r.body,
    '',
    fee5(r.feeUnits),
    '0.60%',
    r.refund ? '0.00' : yuan(r.amountFen),
    r.refund ? yuan(r.amountFen) : '0.00',
    '',
  ];
}

const backticked = (cells: readonly string[]): string => cells.map((c) => `\`${c}`).join(',');

/** Writes the bill, summary computed here from the cells as written. */
function writeBill(rows: readonly (readonly string[])[]): Buffer {
  const sum = (col: number, scale: number): string => {
    let total = 0n;
    for (const cells of rows) {
      const text = cells[col] ?? '0';
      const negative = text.startsWith('-');
      const [whole = '0', frac = ''] = text.replace('-', '').split('.');
      const v = BigInt(whole + frac.padEnd(scale, '0'));
      total += negative ? -v : v;
    }
    return scale === 2 ? yuan(total) : fee5(total);
  };
  const summary = [String(rows.length), sum(12, 2), sum(16, 2), sum(17, 2), sum(22, 5), sum(24, 2), sum(25, 2)];
  const text = `\uFEFF${HEADER}\r\n${rows.map((c) => `${backticked(c)}\r\n`).join('')}${SUMMARY_HEADER}\r\n${backticked(summary)}\r\n`;
  return Buffer.from(text, 'utf8');
}

const STATUS: Record<string, LineStatus> = { SUCCESS: 'succeeded', REVOKED: 'revoked', CLOSED: 'closed', PROCESSING: 'processing', FAIL: 'failed' };

function expectedLine(r: Row, index: number): StatementLine {
  return {
    kind: r.refund ? 'refund' : 'payment',
    channelTxnId: r.refund ? r.refundId : r.txnId,
    originalChannelTxnId: r.refund ? r.txnId : null,
    merchantOrderNo: r.orderNo,
    merchantRefundNo: r.refund ? r.refundNo : null,
    amountMinor: r.amountFen,
    currency: 'CNY',
    status: STATUS[r.refund ? r.refundState : r.tradeState] as LineStatus,
    occurredAt: `${time(r.secondOfDay).replace(' ', 'T')}+08:00`,
    fee: fee5(r.feeUnits),
    line: index + 2,
  };
}

async function parse(bytes: Buffer): Promise<{ lines: StatementLine[]; summary: Awaited<ReturnType<typeof parseStatementBytes>> }> {
  const lines: StatementLine[] = [];
  const summary = await parseStatementBytes(bytes, { format: 'wechat-trade' }, (l) => lines.push(l));
  return { lines, summary };
}

describe('Given generated payments and refunds written as a WeChat ALL bill', () => {
  it('When parsed, Then the same lines come back in order and the totals agree', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { maxLength: 40 }), async (rows) => {
        const { lines, summary } = await parse(writeBill(rows.map(cellsOf)));
        expect(lines).toEqual(rows.map(expectedLine));
        const payments = rows.filter((r) => !r.refund);
        const refunds = rows.filter((r) => r.refund);
        expect(summary).toEqual({
          rows: rows.length,
          payments: payments.length,
          refunds: refunds.length,
          paymentAmountMinor: payments.reduce((a, r) => a + r.amountFen, 0n),
          refundAmountMinor: refunds.reduce((a, r) => a + r.amountFen, 0n),
          feeTotal: fee5(rows.reduce((a, r) => a + r.feeUnits, 0n)),
          totalsCheck: 'ok',
        });
      }),
      { numRuns: 150 },
    );
  });

  it('When any one amount or fee of any row is changed after the summary was written, Then file_totals_mismatch', async () => {
    const AMOUNT_COLUMNS = [12, 16, 17, 22, 24, 25]; // 应结订单金额, 退款金额, 充值券退款金额, 手续费, 订单金额, 申请退款金额
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 1, maxLength: 20 }), fc.nat(), fc.constantFrom(...AMOUNT_COLUMNS), async (rows, pick, column) => {
        const written = rows.map(cellsOf);
        const honest = writeBill(written);
        const target = written[pick % written.length] as string[];
        const old = target[column] as string;
        // One unit more in the cell's last place: 0.01 yuan, or 0.00001 for the fee.
        const scale = column === 22 ? 5 : 2;
        const units = BigInt(old.replace('-', '').replace('.', '')) * (old.startsWith('-') ? -1n : 1n) + 1n;
        target[column] = scale === 2 ? yuan(units) : fee5(units);
        const text = honest.toString('utf8');
        const lines = text.split('\r\n');
        lines[(pick % written.length) + 1] = backticked(target);
        await expect(parse(Buffer.from(lines.join('\r\n')))).rejects.toMatchObject({ code: 'file_totals_mismatch' });
      }),
      { numRuns: 150 },
    );
  });
});
