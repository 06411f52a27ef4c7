// Alipay trade bill (业务明细, bill_type=trade): the .csv.zip as downloaded, or its 明细 CSV alone.
// In the zip the 业务明细 entry is parsed and the 业务明细(汇总) entry's 合计 row, when present, is checked too.
//
// Rows: 业务类型 交易 is a payment, 退款 a refund (written with negative amounts, which become positive).
// The amount is 商家实收 (what Alipay settles to the merchant: 订单金额 less merchant-funded discounts).
// Keys: channelTxnId is 支付宝交易号 for a payment. A refund row repeats the payment's 支付宝交易号, and one
// payment may have several partial refunds, so a refund's channelTxnId is `支付宝交易号:退款批次号/请求号`
// (the 支付宝交易号 alone when the batch number is empty); originalChannelTxnId is the 支付宝交易号 and
// merchantRefundNo the 退款批次号/请求号 (the out_request_no we sent). occurredAt is 完成时间 (for a refund,
// the refund time; 创建时间 is the payment's). The fee is 服务费 as written (sign kept).
// Totals: the footer's 交易合计 / 退款合计 counts, 商家实收 and 商家优惠 sums; the 汇总's 合计 counts,
// 订单金额 and 商家实收.

import { toDecimalString, type Currency } from '../../../ledger/index.js';
import { ReconError } from '../errors.js';
import type { StatementSummary } from '../line.js';
import { readAlipayCsv, requireFooter, type AlipayRow, type FooterTotal } from './alipay-csv.js';
import { decimalToMinor, localDateTimeToIso, readScaledDecimal } from './cells.js';
import { CHINA_OFFSET, totalsMismatch, type FormatInput, type FormatParser, type LineEmitter } from './emit.js';
import { entryChunks, looksLikeZip, readEntry, readZipDirectory, type ZipArchive, type ZipEntry } from './zip.js';

const FEE_SCALE_MAX = 6;

/** The 合计 row of the 汇总 file. */
interface SummaryTotals {
  readonly payments: number;
  readonly refunds: number;
  readonly orderAmountMinor: bigint;
  readonly receivedAmountMinor: bigint;
  readonly where: string;
}

/** Picks the entry whose base name has `word` (and, for the detail, not 汇总). */
export function findEntry(archive: ZipArchive, word: string, summary: boolean): ZipEntry | undefined {
  return archive.entries.find((e) => {
    const base = e.name.slice(e.name.lastIndexOf('/') + 1);
    return base.includes(word) && base.includes('汇总') === summary;
  });
}

export const parseAlipayTrade: FormatParser = async (input: FormatInput, emit: LineEmitter): Promise<StatementSummary> => {
  const { source, name, limits } = input;
  const head = await source.read(0, 4);
  let chunks: AsyncIterable<Uint8Array>;
  let detailName = name;
  let summaryTotals: SummaryTotals | undefined;
  if (looksLikeZip(head)) {
    const archive = await readZipDirectory(source, limits);
    const detail = findEntry(archive, '业务明细', false);
    if (detail === undefined) {
      throw new ReconError('header_mismatch', `${name}: the zip has no 业务明细 entry (it holds ${archive.entries.map((e) => e.name).join(', ') || 'nothing'}).`);
    }
    const summaryEntry = findEntry(archive, '业务明细', true);
    if (summaryEntry !== undefined) {
      const bytes = await readEntry(source, archive, summaryEntry, limits.zipSideEntryBytesMax);
      summaryTotals = await readSummaryTotals(bytes, `${name}!${summaryEntry.name}`, input);
    }
    chunks = entryChunks(source, archive, detail);
    detailName = `${name}!${detail.name}`;
  } else {
    chunks = source.chunks(0, source.sizeBytes, { reuse: true }); // copied by the line splitter
  }

  const { currency } = input;
  let paymentReceived = 0n;
  let refundReceived = 0n;
  let paymentDiscount = 0n;
  let refundDiscount = 0n;
  let orderTotal = 0n;

  const footer = await readAlipayCsv({ name: detailName, limits, chunks }, (header) => {
    if (header.has('交易订单总笔数')) throw new ReconError('header_mismatch', `${detailName}: this is the 汇总 (summary) file; give the 业务明细 file or the zip.`);
    const iTrade = header.require('支付宝交易号');
    const iOrder = header.require('商户订单号');
    const iType = header.require('业务类型');
    const iFinished = header.require('完成时间');
    const iOrderAmount = header.require('订单金额(元)');
    const iReceived = header.require('商家实收(元)');
    const iDiscount = header.find('商家优惠(元)');
    const iBatch = header.find('退款批次号/请求号');
    const iFee = header.find('服务费(元)');
    let lastFinished: string | undefined;
    let lastOccurredAt = '';
    // Per row: no closure and no message text unless the row is bad.
    const amount = (row: AlipayRow, at: number, column: string, refund: boolean, lineNo: number): bigint => {
      const text = row.cell(at);
      const value = decimalToMinor(text, currency.exponent, refund);
      if (value === undefined || (refund && value > 0n)) {
        throw new ReconError(
          'amount_invalid',
          `${detailName}:${lineNo}: ${column} ${JSON.stringify(text.slice(0, 40))} is not ${refund ? 'a negative or zero' : 'an unsigned'} amount with at most ${currency.exponent} decimals.`,
        );
      }
      return value;
    };
    return (row, lineNo) => {
      const type = row.cell(iType);
      if (type !== '交易' && type !== '退款') throw new ReconError('status_unknown', `${detailName}:${lineNo}: 业务类型 ${JSON.stringify(type.slice(0, 40))} is neither 交易 nor 退款.`);
      const refund = type === '退款';
      const received = amount(row, iReceived, '商家实收（元）', refund, lineNo);
      orderTotal += amount(row, iOrderAmount, '订单金额（元）', refund, lineNo);
      const discount = iDiscount >= 0 ? amount(row, iDiscount, '商家优惠（元）', refund, lineNo) : 0n;
      const feeText = row.cell(iFee);
      let feeValue: bigint | undefined;
      let feeScale: number | undefined;
      if (feeText !== '') {
        const parsed = readScaledDecimal(feeText, FEE_SCALE_MAX);
        if (parsed === undefined) throw new ReconError('amount_invalid', `${detailName}:${lineNo}: 服务费（元） ${JSON.stringify(feeText.slice(0, 40))} is not a decimal fee.`);
        feeValue = parsed.value;
        feeScale = parsed.scale;
      }
      const finished = row.cell(iFinished);
      // Rows come in time order, several a second: the last time converted is reused when it repeats.
      if (finished !== lastFinished) {
        const iso = localDateTimeToIso(finished, CHINA_OFFSET);
        if (iso === undefined) throw new ReconError('row_malformed', `${detailName}:${lineNo}: 完成时间 ${JSON.stringify(finished.slice(0, 40))} is not yyyy-MM-dd HH:mm:ss.`);
        lastFinished = finished;
        lastOccurredAt = iso;
      }
      const occurredAt = lastOccurredAt;
      const tradeNo = row.cell(iTrade);
      if (tradeNo === '') throw new ReconError('row_malformed', `${detailName}:${lineNo}: a row without 支付宝交易号.`);
      const orderNo = row.cell(iOrder);
      const batch = row.cell(iBatch);
      if (refund) {
        refundReceived += received;
        refundDiscount += discount;
      } else {
        paymentReceived += received;
        paymentDiscount += discount;
      }
      emit.emit(
        {
          kind: refund ? 'refund' : 'payment',
          channelTxnId: refund && batch !== '' ? `${tradeNo}:${batch}` : tradeNo,
          originalChannelTxnId: refund ? tradeNo : null,
          merchantOrderNo: orderNo === '' ? null : orderNo,
          merchantRefundNo: refund && batch !== '' ? batch : null,
          amountMinor: refund ? -received : received,
          currency: currency.code,
          status: 'succeeded',
          occurredAt,
          fee: iFee >= 0 ? feeText : null,
          line: lineNo,
        },
        feeValue,
        feeScale,
      );
    };
  });

  const trades = requireFooter(footer, '交易合计', detailName);
  const refunds = requireFooter(footer, '退款合计', detailName);
  checkFooterCount(trades, emit.payments, detailName);
  checkFooterAmount(trades, '商家实收', paymentReceived, currency, detailName);
  checkFooterAmount(trades, '商家优惠', paymentDiscount, currency, detailName);
  checkFooterCount(refunds, emit.refunds, detailName);
  checkFooterAmount(refunds, '商家实收退款', refundReceived, currency, detailName);
  checkFooterAmount(refunds, '商家优惠退款', refundDiscount, currency, detailName);
  if (summaryTotals !== undefined) {
    const s = summaryTotals;
    if (s.payments !== emit.payments) throw totalsMismatch(s.where, '交易订单总笔数', String(s.payments), String(emit.payments));
    if (s.refunds !== emit.refunds) throw totalsMismatch(s.where, '退款订单总笔数', String(s.refunds), String(emit.refunds));
    if (s.orderAmountMinor !== orderTotal) throw totalsMismatch(s.where, '订单金额（元）', toDecimalString(s.orderAmountMinor, currency), toDecimalString(orderTotal, currency));
    const receivedTotal = paymentReceived + refundReceived;
    if (s.receivedAmountMinor !== receivedTotal) throw totalsMismatch(s.where, '商家实收（元）', toDecimalString(s.receivedAmountMinor, currency), toDecimalString(receivedTotal, currency));
  }
  return emit.summary('ok', currency.exponent);
};

export function checkFooterCount(total: FooterTotal, counted: number, name: string): void {
  if (total.count !== counted) throw totalsMismatch(name, `#${total.label} (line ${total.lineNo})`, `${total.count}笔`, `${counted}笔`);
}

/** Checks one amount of a footer line when the line states it; `absolute` compares magnitudes. */
export function checkFooterAmount(total: FooterTotal, label: string, counted: bigint, currency: Currency, name: string, absolute = false): void {
  const text = total.amounts.get(label);
  if (text === undefined) return;
  const stated = readScaledDecimal(text, currency.exponent);
  if (stated === undefined) throw new ReconError('amount_invalid', `${name}:${total.lineNo}: ${label} ${JSON.stringify(text.slice(0, 40))} is not an amount.`);
  let value = stated.value * 10n ** BigInt(currency.exponent - stated.scale);
  let expected = counted;
  if (absolute) {
    value = value < 0n ? -value : value;
    expected = expected < 0n ? -expected : expected;
  }
  if (value !== expected) throw totalsMismatch(name, `#${total.label} ${label}`, `${text}元`, `${toDecimalString(counted, currency)}元`);
}

/** The 合计 row of a 业务明细(汇总) entry (small, read whole). */
async function readSummaryTotals(bytes: Buffer, where: string, input: FormatInput): Promise<SummaryTotals> {
  const { currency } = input;
  let totals: SummaryTotals | undefined;
  await readAlipayCsv(
    {
      name: where,
      limits: input.limits,
      chunks: (async function* () {
        yield bytes;
      })(),
    },
    (header) => {
      const iCount = header.require('交易订单总笔数');
      const iRefunds = header.require('退款订单总笔数');
      const iOrder = header.require('订单金额(元)');
      const iReceived = header.require('商家实收(元)');
      return (row, lineNo) => {
        if (row.cell(0) !== '合计') return;
        const count = (at: number): number => {
          const text = row.cell(at);
          const value = decimalToMinor(text, 0, false);
          if (value === undefined) throw new ReconError('row_malformed', `${where}:${lineNo}: ${JSON.stringify(text.slice(0, 40))} is not a count.`);
          return Number(value);
        };
        const amount = (at: number): bigint => {
          const text = row.cell(at);
          const value = decimalToMinor(text, currency.exponent, true) ?? (text === '-0.00' ? 0n : undefined);
          if (value === undefined) throw new ReconError('amount_invalid', `${where}:${lineNo}: ${JSON.stringify(text.slice(0, 40))} is not an amount.`);
          return value;
        };
        totals = { payments: count(iCount), refunds: count(iRefunds), orderAmountMinor: amount(iOrder), receivedAmountMinor: amount(iReceived), where: `${where}:${lineNo}` };
      };
    },
  );
  if (totals === undefined) throw new ReconError('file_truncated', `${where}: the 汇总 file has no 合计 row.`);
  return totals;
}

