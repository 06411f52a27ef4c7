// WeChat Pay fund flow bill (资金账单, account_type BASIC): every movement of the merchant's balance.
// Same block layout as the trade bill (wechat-bill.ts); the summary is 资金流水总笔数,收入笔数,收入金额,
// 支出笔数,支出金额 (counts may be written as floats: `20.0`).
//
// Mapping to lines: 收入 (money in) is a payment, 支出 (money out) is a refund; every row is a line, so the
// summary's counts and amounts are the lines' (fee deductions and withdrawals are 支出 rows too — the
// matcher sees every movement of money). Amounts are unsigned. channelTxnId is 微信支付业务单号 (the
// 微信订单号 of a payment, the 微信退款单号 of a refund); 业务凭证号 is our number: merchantOrderNo on a
// 收入 row, merchantRefundNo on a 支出 row (in the public refund rows it is a fresh number created seconds
// before the refund, not the order's). Status is succeeded (a booked movement); there is no fee column.
// Header amount names are accepted with half-width (v3) or full-width (v2) brackets.

import { toDecimalString } from '../../../ledger/index.js';
import type { StatementSummary } from '../line.js';
import { decimalToMinor, localDateTimeToIso, readCount, readScaledDecimal } from './cells.js';
import { CHINA_OFFSET, rowError, totalsMismatch, type FormatInput, type FormatParser, type LineEmitter } from './emit.js';
import { readWechatBill } from './wechat-bill.js';

export const parseWechatFundflow: FormatParser = async (input: FormatInput, emit: LineEmitter): Promise<StatementSummary> => {
  const { name, currency } = input;
  await readWechatBill(input, {
    summaryFirstName: '资金流水总笔数',
    onHeader(header) {
      const iTime = header.require('记账时间');
      const iTxn = header.require('微信支付业务单号');
      const iDirection = header.require('收支类型');
      const iAmount = header.require('收支金额(元)');
      const iVoucher = header.find('业务凭证号');
      return (cells, lineNo) => {
        const direction = cells.cell(iDirection);
        if (direction !== '收入' && direction !== '支出') {
          throw rowError('status_unknown', name, lineNo, `收支类型 ${JSON.stringify(direction.slice(0, 40))} is neither 收入 nor 支出.`);
        }
        const amountMinor = decimalToMinor(cells.line, currency.exponent, false, cells.starts[iAmount], cells.ends[iAmount]);
        if (amountMinor === undefined) {
          const amountText = cells.cell(iAmount);
          throw rowError('amount_invalid', name, lineNo, `收支金额 ${JSON.stringify(amountText.slice(0, 40))} is not an unsigned amount with at most ${currency.exponent} decimals.`);
        }
        const timeText = cells.cell(iTime);
        const occurredAt = localDateTimeToIso(timeText, CHINA_OFFSET);
        if (occurredAt === undefined) throw rowError('row_malformed', name, lineNo, `记账时间 ${JSON.stringify(timeText.slice(0, 40))} is not yyyy-MM-dd HH:mm:ss.`);
        const txn = cells.cell(iTxn);
        if (txn === '') throw rowError('row_malformed', name, lineNo, `a row without 微信支付业务单号.`);
        const voucher = iVoucher >= 0 ? cells.cell(iVoucher) : '';
        const income = direction === '收入';
        emit.emit({
          kind: income ? 'payment' : 'refund',
          channelTxnId: txn,
          originalChannelTxnId: null,
          merchantOrderNo: income && voucher !== '' ? voucher : null,
          merchantRefundNo: !income && voucher !== '' ? voucher : null,
          amountMinor,
          currency: currency.code,
          status: 'succeeded',
          occurredAt,
          fee: null,
          line: lineNo,
        });
      };
    },
    onSummary(names, values, lineNo) {
      const stated = (summaryName: string): string => {
        const i = names.indexOf(summaryName);
        if (i < 0) throw rowError('header_mismatch', name, lineNo, `the summary has no ${summaryName} column.`);
        return values[i] ?? '';
      };
      const checkCount = (summaryName: string, counted: number): void => {
        const text = stated(summaryName);
        const value = readCount(text);
        if (value < 0) throw rowError('row_malformed', name, lineNo, `${summaryName} ${JSON.stringify(text.slice(0, 40))} is not a count.`);
        if (value !== counted) throw totalsMismatch(name, summaryName, text, String(counted));
      };
      const checkAmount = (summaryName: string, counted: bigint): void => {
        const text = stated(summaryName);
        const value = readScaledDecimal(text, currency.exponent);
        if (value === undefined) throw rowError('amount_invalid', name, lineNo, `${summaryName} ${JSON.stringify(text.slice(0, 40))} is not an amount.`);
        if (value.value * 10n ** BigInt(currency.exponent - value.scale) !== counted) throw totalsMismatch(name, summaryName, text, toDecimalString(counted, currency));
      };
      checkCount('资金流水总笔数', emit.rows);
      checkCount('收入笔数', emit.payments);
      checkAmount('收入金额', emit.paymentAmountMinor);
      checkCount('支出笔数', emit.refunds);
      checkAmount('支出金额', emit.refundAmountMinor);
    },
  });
  return emit.summary('ok', null);
};
