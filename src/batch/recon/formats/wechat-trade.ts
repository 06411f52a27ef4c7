// WeChat Pay trade bill (交易账单): the ALL, SUCCESS and REFUND layouts, and the pre-2018 one, mapped by
// header name. A refund is its own row (交易状态 REFUND). The summary row's totals must equal the rows'.
//
// Keys: a payment's channelTxnId is 微信订单号; a refund's is 微信退款单号, with 微信订单号 as
// originalChannelTxnId. Amounts: a payment is 应结订单金额 (what WeChat settles: 订单金额 less merchant-funded
// coupons; 总金额 in the old layout), a refund is 退款金额 (申请退款金额 less coupon refunds). The fee is the
// 手续费 cell as written, five decimals, sign kept: WeChat writes the fee it returns on a refund as negative.
// Times: 交易时间, Beijing time.

import { findCurrency, toDecimalString, type Currency } from '../../../ledger/index.js';
import { ReconError } from '../errors.js';
import type { LineKind, LineStatus, StatementSummary } from '../line.js';
import { decimalToMinor, localDateTimeToIso, readCount, readScaledDecimal, type CellSpans } from './cells.js';
import { CHINA_OFFSET, rowError, totalsMismatch, type FormatInput, type FormatParser, type LineEmitter } from './emit.js';
import type { HeaderIndex } from './header.js';
import { readWechatBill } from './wechat-bill.js';

/** WeChat writes fees with five decimals; six leaves room without accepting nonsense. */
const WECHAT_FEE_SCALE = 5;
const FEE_SCALE_MAX = 6;

const TRADE_STATUS: Readonly<Record<string, { kind: LineKind; status: LineStatus } | 'refund'>> = {
  SUCCESS: { kind: 'payment', status: 'succeeded' },
  REFUND: 'refund',
  REVOKED: { kind: 'payment', status: 'revoked' },
  NOTPAY: { kind: 'payment', status: 'closed' },
  CLOSED: { kind: 'payment', status: 'closed' },
  PAYERROR: { kind: 'payment', status: 'failed' },
};

const SUCCEEDED_PAYMENT = { kind: 'payment', status: 'succeeded' } as const;

/** 退款状态: v2 names (SUCCESS, PROCESSING, FAIL, CHANGE 退款异常, REFUNDCLOSE) and v3 ones (CLOSED, ABNORMAL). */
const REFUND_STATUS: Readonly<Record<string, LineStatus>> = {
  SUCCESS: 'succeeded',
  PROCESSING: 'processing',
  FAIL: 'failed',
  CHANGE: 'failed',
  ABNORMAL: 'failed',
  REFUNDCLOSE: 'closed',
  CLOSED: 'closed',
};

/** Amount columns summed for the summary check, by their header names (new layout first, then old). */
const AMOUNT_COLUMNS = {
  settled: ['应结订单金额', '总金额'],
  refund: ['退款金额'],
  rechargeRefund: ['充值券退款金额'],
  order: ['订单金额'],
  refundRequested: ['申请退款金额'],
} as const;
type AmountColumn = keyof typeof AMOUNT_COLUMNS;

/**
 * Summary header names → what they total. The old layout's 总代金券或立减优惠退款金额 is left unchecked: which
 * column it sums is not documented.
 */
const SUMMARY: Readonly<Record<string, AmountColumn | 'count' | 'fee'>> = {
  总交易单数: 'count',
  应结订单总金额: 'settled',
  总交易额: 'settled',
  退款总金额: 'refund',
  总退款金额: 'refund',
  充值券退款总金额: 'rechargeRefund',
  手续费总金额: 'fee',
  订单总金额: 'order',
  申请退款总金额: 'refundRequested',
};

const isBlankId = (cell: string | undefined): boolean => cell === undefined || cell === '' || cell === '0';

export const parseWechatTrade: FormatParser = async (input: FormatInput, emit: LineEmitter): Promise<StatementSummary> => {
  const { name } = input;
  let fileCurrency: Currency | undefined;
  /** The amount columns this layout has, their positions, and their running sums over every row. */
  let amountColumns: AmountColumn[] = [];
  let sums: bigint[] = [];

  const onHeader = (header: HeaderIndex): ((cells: CellSpans, lineNo: number) => void) => {
    const iTime = header.require('交易时间');
    const iTxn = header.require('微信订单号');
    const iOrder = header.require('商户订单号');
    const iStatus = header.require('交易状态');
    const iCurrency = header.find('货币种类');
    const iFee = header.require('手续费');
    const iRefundTxn = header.find('微信退款单号');
    const iRefundNo = header.find('商户退款单号');
    const iRefundStatus = header.find('退款状态');
    header.require(...AMOUNT_COLUMNS.settled);
    const positions: number[] = [];
    for (const column of Object.keys(AMOUNT_COLUMNS) as AmountColumn[]) {
      const at = header.find(...AMOUNT_COLUMNS[column]);
      if (at < 0) continue;
      amountColumns.push(column);
      positions.push(at);
    }
    sums = positions.map(() => 0n);
    const rowAmounts: bigint[] = positions.map(() => 0n);
    const kSettled = amountColumns.indexOf('settled');
    const kRefund = amountColumns.indexOf('refund');
    let lastCurrencyCell = '';
    let lastCurrency: Currency | undefined;
    // Rows come in time order, several a second: the last time converted is compared in place first.
    let lastTimeCell = '';
    let lastOccurredAt = '';

    return (cells, lineNo) => {
      const { line, starts, ends } = cells;
      // The currency cell is the same on every row of a bill: compare before looking it up.
      let currency: Currency | undefined = input.currency;
      if (iCurrency >= 0 && (starts[iCurrency] as number) < (ends[iCurrency] as number)) {
        if (lastCurrency !== undefined && cells.is(iCurrency, lastCurrencyCell)) currency = lastCurrency;
        else {
          lastCurrencyCell = cells.cell(iCurrency);
          currency = lastCurrency = findCurrency(lastCurrencyCell);
          if (currency === undefined) throw rowError('currency_unknown', name, lineNo, `货币种类 ${JSON.stringify(lastCurrencyCell.slice(0, 40))} is not a known currency.`);
        }
      }
      if (fileCurrency === undefined) fileCurrency = currency;
      else if (currency !== fileCurrency) throw rowError('row_malformed', name, lineNo, `货币种类 ${currency.code} in a ${fileCurrency.code} bill.`);

      for (let k = 0; k < positions.length; k += 1) {
        const at = positions[k] as number;
        const value = cells.is(at, '0.00') ? 0n : decimalToMinor(line, currency.exponent, false, starts[at], ends[at]);
        if (value === undefined) {
          const column = AMOUNT_COLUMNS[amountColumns[k] as AmountColumn][0];
          throw rowError('amount_invalid', name, lineNo, `${column} ${JSON.stringify(cells.cell(at).slice(0, 40))} is not an amount with at most ${currency.exponent} decimals.`);
        }
        rowAmounts[k] = value;
        if (value !== 0n) sums[k] = (sums[k] as bigint) + value;
      }

      let fee: string | null = null;
      let feeValue: bigint | undefined;
      let feeScale: number | undefined;
      if ((starts[iFee] as number) < (ends[iFee] as number)) {
        const feeText = cells.cell(iFee);
        const parsed = readScaledDecimal(line, FEE_SCALE_MAX, starts[iFee], ends[iFee]);
        if (parsed === undefined) throw rowError('amount_invalid', name, lineNo, `手续费 ${JSON.stringify(feeText.slice(0, 40))} is not a decimal fee.`);
        fee = feeText;
        feeValue = parsed.value;
        feeScale = parsed.scale;
      }

      let occurredAt = lastOccurredAt;
      if (lastOccurredAt === '' || !cells.is(iTime, lastTimeCell)) {
        const timeText = cells.cell(iTime);
        const iso = localDateTimeToIso(timeText, CHINA_OFFSET);
        if (iso === undefined) throw rowError('row_malformed', name, lineNo, `交易时间 ${JSON.stringify(timeText.slice(0, 40))} is not yyyy-MM-dd HH:mm:ss.`);
        lastTimeCell = timeText;
        occurredAt = lastOccurredAt = iso;
      }
      // Most rows are SUCCESS: compare in place before slicing and looking the status up.
      const mapped = cells.is(iStatus, 'SUCCESS') ? SUCCEEDED_PAYMENT : TRADE_STATUS[cells.cell(iStatus)];
      if (mapped === undefined) {
        throw rowError('status_unknown', name, lineNo, `交易状态 ${JSON.stringify(cells.cell(iStatus).slice(0, 40))} is not one of ${Object.keys(TRADE_STATUS).join(', ')}.`);
      }
      const wxTxn = cells.cell(iTxn);
      const merchantOrderNo = cells.cell(iOrder);

      if (mapped === 'refund') {
        if (kRefund < 0 || iRefundTxn < 0 || iRefundStatus < 0) {
          throw rowError('row_malformed', name, lineNo, `a REFUND row in a bill without the refund columns (微信退款单号, 退款金额, 退款状态).`);
        }
        const refundStatusText = cells.cell(iRefundStatus);
        const status = REFUND_STATUS[refundStatusText];
        if (status === undefined) {
          throw rowError('status_unknown', name, lineNo, `退款状态 ${JSON.stringify(refundStatusText.slice(0, 40))} is not one of ${Object.keys(REFUND_STATUS).join(', ')}.`);
        }
        const refundTxn = cells.cell(iRefundTxn);
        if (isBlankId(refundTxn)) throw rowError('row_malformed', name, lineNo, `a refund row without 微信退款单号.`);
        const refundNo = iRefundNo >= 0 ? cells.cell(iRefundNo) : '';
        emit.emit(
          {
            kind: 'refund',
            channelTxnId: refundTxn,
            originalChannelTxnId: wxTxn === '' ? null : wxTxn,
            merchantOrderNo: merchantOrderNo === '' ? null : merchantOrderNo,
            merchantRefundNo: isBlankId(refundNo) ? null : refundNo,
            amountMinor: rowAmounts[kRefund] as bigint,
            currency: currency.code,
            status,
            occurredAt,
            fee,
            line: lineNo,
          },
          feeValue,
          feeScale,
        );
        return;
      }
      if (wxTxn === '') throw rowError('row_malformed', name, lineNo, `a payment row without 微信订单号.`);
      emit.emit(
        {
          kind: 'payment',
          channelTxnId: wxTxn,
          originalChannelTxnId: null,
          merchantOrderNo: merchantOrderNo === '' ? null : merchantOrderNo,
          merchantRefundNo: null,
          amountMinor: rowAmounts[kSettled] as bigint,
          currency: currency.code,
          status: mapped.status,
          occurredAt,
          fee,
          line: lineNo,
        },
        feeValue,
        feeScale,
      );
    };
  };

  const checkSummary = (names: readonly string[], values: readonly string[], where: string): void => {
    const currency = fileCurrency ?? input.currency;
    const seen = new Set<string>();
    names.forEach((summaryName, i) => {
      const meaning = SUMMARY[summaryName];
      if (meaning === undefined) return; // a column we do not know is not ours to check
      const text = values[i] ?? '';
      seen.add(meaning);
      if (meaning === 'count') {
        const stated = readCount(text);
        if (stated < 0) throw new ReconError('row_malformed', `${where}: ${summaryName} ${JSON.stringify(text.slice(0, 40))} is not a count.`);
        if (stated !== emit.rows) throw totalsMismatch(name, summaryName, String(stated), String(emit.rows));
        return;
      }
      if (meaning === 'fee') {
        const stated = readScaledDecimal(text, FEE_SCALE_MAX);
        if (stated === undefined) throw new ReconError('amount_invalid', `${where}: ${summaryName} ${JSON.stringify(text.slice(0, 40))} is not a decimal.`);
        if (!emit.fees.equals(stated.value, stated.scale)) throw totalsMismatch(name, summaryName, text, emit.fees.toFixed(stated.scale));
        return;
      }
      const stated = readScaledDecimal(text, currency.exponent);
      if (stated === undefined) throw new ReconError('amount_invalid', `${where}: ${summaryName} ${JSON.stringify(text.slice(0, 40))} is not an amount.`);
      const k = amountColumns.indexOf(meaning);
      const counted = k < 0 ? 0n : (sums[k] as bigint);
      if (stated.value * 10n ** BigInt(currency.exponent - stated.scale) !== counted) {
        throw totalsMismatch(name, summaryName, text, toDecimalString(counted, currency));
      }
    });
    const required: readonly [string, string][] = [
      ['count', '总交易单数'],
      ['settled', '应结订单总金额'],
      ['fee', '手续费总金额'],
    ];
    for (const [meaning, summaryName] of required) {
      if (!seen.has(meaning)) throw new ReconError('header_mismatch', `${where}: the summary has no ${summaryName} column.`);
    }
  };

  await readWechatBill(input, {
    summaryFirstName: '总交易单数',
    onHeader: (header) => {
      amountColumns = [];
      return onHeader(header);
    },
    onSummary: (names, values, lineNo) => checkSummary(names, values, `${name}:${lineNo}`),
  });
  return emit.summary('ok', WECHAT_FEE_SCALE);
};
