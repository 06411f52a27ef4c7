// Alipay account bill (账务明细, bill_type=signcustomer): every movement of the Alipay balance, as the
// bare CSV or in its .csv.zip (the 账务明细 entry, not the 汇总 one). GBK, `#` lines, tab-decorated ids.
//
// Mapping to lines: a row with 收入金额 above zero is a payment; a row with 支出金额 is a refund (money out:
// refunds, fees, withdrawals alike — the matcher sees every movement), its amount made positive (older
// exports write 支出 unsigned, newer ones negative; both are read). channelTxnId is 业务流水号 (the trade's
// number), or 账务流水号 when a row has none; merchantOrderNo is 商户订单号; no refund number or fee column
// exists. occurredAt is 发生时间. Status is succeeded (a booked movement).
// Totals: `#收入合计：N笔，共X元` and `#支出合计：N笔，共Y元` (Y compared as a magnitude).

import { ReconError } from '../errors.js';
import type { StatementSummary } from '../line.js';
import { readAlipayCsv, requireFooter } from './alipay-csv.js';
import { checkFooterAmount, checkFooterCount, findEntry } from './alipay-trade.js';
import { decimalToMinor, localDateTimeToIso } from './cells.js';
import { CHINA_OFFSET, type FormatInput, type FormatParser, type LineEmitter } from './emit.js';
import { entryChunks, looksLikeZip, readZipDirectory } from './zip.js';

export const parseAlipayAccount: FormatParser = async (input: FormatInput, emit: LineEmitter): Promise<StatementSummary> => {
  const { source, name, limits, currency } = input;
  let chunks: AsyncIterable<Uint8Array>;
  let detailName = name;
  if (looksLikeZip(await source.read(0, 4))) {
    const archive = await readZipDirectory(source, limits);
    const detail = findEntry(archive, '账务明细', false);
    if (detail === undefined) {
      throw new ReconError('header_mismatch', `${name}: the zip has no 账务明细 entry (it holds ${archive.entries.map((e) => e.name).join(', ') || 'nothing'}).`);
    }
    chunks = entryChunks(source, archive, detail);
    detailName = `${name}!${detail.name}`;
  } else {
    chunks = source.chunks(0, source.sizeBytes, { reuse: true }); // copied by the line splitter
  }

  const footer = await readAlipayCsv({ name: detailName, limits, chunks }, (header) => {
    const iEntry = header.require('账务流水号');
    const iBusiness = header.require('业务流水号');
    const iOrder = header.require('商户订单号');
    const iTime = header.require('发生时间');
    const iIncome = header.require('收入金额(+元)', '收入金额(元)');
    const iExpense = header.require('支出金额(-元)', '支出金额(元)');
    return (row, lineNo) => {
      const where = `${detailName}:${lineNo}`;
      const incomeText = row.cell(iIncome);
      const expenseText = row.cell(iExpense);
      const income = decimalToMinor(incomeText, currency.exponent, false);
      if (income === undefined) throw new ReconError('amount_invalid', `${where}: 收入金额 ${JSON.stringify(incomeText.slice(0, 40))} is not an unsigned amount with at most ${currency.exponent} decimals.`);
      const expenseSigned = decimalToMinor(expenseText, currency.exponent, true);
      if (expenseSigned === undefined) throw new ReconError('amount_invalid', `${where}: 支出金额 ${JSON.stringify(expenseText.slice(0, 40))} is not an amount with at most ${currency.exponent} decimals.`);
      const expense = expenseSigned < 0n ? -expenseSigned : expenseSigned;
      if (income > 0n && expense > 0n) throw new ReconError('row_malformed', `${where}: both 收入金额 and 支出金额 are set.`);
      const time = row.cell(iTime);
      const occurredAt = localDateTimeToIso(time, CHINA_OFFSET);
      if (occurredAt === undefined) throw new ReconError('row_malformed', `${where}: 发生时间 ${JSON.stringify(time.slice(0, 40))} is not yyyy-MM-dd HH:mm:ss.`);
      const txn = row.cell(iBusiness) || row.cell(iEntry);
      if (txn === '') throw new ReconError('row_malformed', `${where}: a row without 业务流水号 or 账务流水号.`);
      const orderNo = row.cell(iOrder);
      const out = expense > 0n;
      emit.emit({
        kind: out ? 'refund' : 'payment',
        channelTxnId: txn,
        originalChannelTxnId: null,
        merchantOrderNo: orderNo === '' ? null : orderNo,
        merchantRefundNo: null,
        amountMinor: out ? expense : income,
        currency: currency.code,
        status: 'succeeded',
        occurredAt,
        fee: null,
        line: lineNo,
      });
    };
  });

  const incomeTotal = requireFooter(footer, '收入合计', detailName);
  const expenseTotal = requireFooter(footer, '支出合计', detailName);
  checkFooterCount(incomeTotal, emit.payments, detailName);
  checkFooterAmount(incomeTotal, '', emit.paymentAmountMinor, currency, detailName);
  checkFooterCount(expenseTotal, emit.refunds, detailName);
  checkFooterAmount(expenseTotal, '', emit.refundAmountMinor, currency, detailName, true);
  return emit.summary('ok', null);
};
