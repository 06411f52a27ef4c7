// WeChat Pay trade bill (交易账单), ALL layout, as downloaded: UTF-8 with a BOM, CRLF, the 27-column
// header, one row per payment and one per refund, every value prefixed with a backtick, then the
// summary header and the summary row whose totals are the column sums of the rows written.
// Layout: ../../../../../shared/formats/FORMATS.md §1 and samples/wechat_tradebill_ALL_20210128.csv.

import { createHash } from 'node:crypto';
import { applyRate } from '../../../ledger/index.js';
import type { BillRow } from './rows.js';
import type { TextOut } from './sinks.js';
import { cleanCell, decimalText, type LocalClock, yuanText } from './text.js';

export const WECHAT_ALL_HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,' +
  '微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
export const WECHAT_SUMMARY_HEADER = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';

/** One detail row, every field as the bill shows it; amounts in fen, the fee in thousandths of a fen (5 decimals of yuan). */
export interface WechatTradeRow {
  readonly tradeTime: string;
  readonly appId: string;
  readonly mchId: string;
  readonly subMchId: string;
  readonly deviceInfo: string;
  readonly transactionId: string;
  readonly outTradeNo: string;
  readonly openId: string;
  readonly tradeType: string;
  readonly tradeState: 'SUCCESS' | 'REFUND' | 'REVOKED';
  readonly bankType: string;
  readonly currency: string;
  readonly settlementTotalMinor: bigint;
  readonly couponMinor: bigint;
  /** `0` on a payment row, as real bills show. */
  readonly refundId: string;
  readonly outRefundNo: string;
  readonly refundMinor: bigint;
  readonly rechargeRefundMinor: bigint;
  readonly refundType: string;
  readonly refundStatus: string;
  readonly body: string;
  readonly attach: string;
  /** Negative on a refund (the fee given back). */
  readonly feeMilliMinor: bigint;
  readonly feeRateText: string;
  readonly totalMinor: bigint;
  readonly requestRefundMinor: bigint;
  readonly rateRemark: string;
}

export interface WechatTotals {
  readonly rows: number;
  readonly settlementTotalMinor: bigint;
  readonly refundMinor: bigint;
  readonly rechargeRefundMinor: bigint;
  readonly feeMilliMinor: bigint;
  readonly totalMinor: bigint;
  readonly requestRefundMinor: bigint;
}

const ZERO_TOTALS: WechatTotals = {
  rows: 0,
  settlementTotalMinor: 0n,
  refundMinor: 0n,
  rechargeRefundMinor: 0n,
  feeMilliMinor: 0n,
  totalMinor: 0n,
  requestRefundMinor: 0n,
};

/** A channel has one rate and one merchant id: remember the last few of each instead of recomputing per row. */
const MEMO_MAX = 64;
const percents = new Map<string, string>();
const appIds = new Map<string, string>();

function memo(map: Map<string, string>, key: string, make: () => string): string {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    if (map.size >= MEMO_MAX) map.clear();
    map.set(key, value);
  }
  return value;
}

/** "0.006" → "0.60%" (half up to hundredths of a percent). */
export function percentText(rate: string): string {
  return memo(percents, rate, () => `${decimalText(applyRate(10_000n, rate, 'half_up'), 2)}%`);
}

/** A stable public-looking app id for a merchant: "wx" and 16 hex digits. */
export function wechatAppIdFor(mchId: string): string {
  return memo(appIds, mchId, () => `wx${createHash('sha256').update(`appid:${mchId}`).digest('hex').slice(0, 16)}`);
}

function tradeTypeOf(product: string | null): string {
  if (product === 'wallet') return 'JSAPI';
  if (product === 'netbank') return 'NATIVE';
  return 'APP';
}

/** The ALL-layout row of a bill row. The row is dated by when the channel accepted it (see README). */
export function wechatRowOf(row: BillRow, mchId: string, clock: LocalClock): WechatTradeRow {
  const payment = row.kind === 'payment';
  const refundProcessing = row.status === 'processing';
  return {
    tradeTime: clock.dateTime(row.atMs),
    appId: wechatAppIdFor(mchId),
    mchId,
    subMchId: '0',
    deviceInfo: '',
    transactionId: payment ? row.channelTxnId : (row.originalChannelTxnId ?? ''),
    outTradeNo: row.merchantOrderNo,
    openId: cleanCell(row.payerId),
    tradeType: tradeTypeOf(row.product),
    tradeState: payment ? (row.status === 'revoked' ? 'REVOKED' : 'SUCCESS') : 'REFUND',
    bankType: row.product === 'wallet' ? 'CFT' : 'OTHERS',
    currency: row.currency,
    settlementTotalMinor: payment ? row.amountMinor : 0n,
    couponMinor: 0n,
    refundId: payment ? '0' : row.channelTxnId,
    outRefundNo: payment ? '0' : (row.merchantRefundNo ?? ''),
    refundMinor: payment ? 0n : row.amountMinor,
    rechargeRefundMinor: 0n,
    refundType: payment ? '' : 'ORIGINAL',
    refundStatus: payment ? '' : refundProcessing ? 'PROCESSING' : 'SUCCESS',
    body: cleanCell(row.description),
    attach: '',
    // A revoked payment gave its whole fee back.
    feeMilliMinor: payment ? (row.status === 'revoked' ? 0n : row.feeMinor * 1000n) : -row.feeMinor * 1000n,
    feeRateText: percentText(row.feeRate),
    totalMinor: payment ? row.amountMinor : 0n,
    requestRefundMinor: payment ? 0n : row.amountMinor,
    rateRemark: '',
  };
}

function cells(values: readonly string[]): string {
  return values.map((v) => `\`${v}`).join(',');
}

function fee(milliMinor: bigint): string {
  return decimalText(milliMinor, 5);
}

/** Streams one ALL-layout bill into `out` (UTF-8). */
export class WechatTradeBillWriter {
  private totals: WechatTotals = ZERO_TOTALS;

  constructor(private readonly out: TextOut) {
    out.push(`\uFEFF${WECHAT_ALL_HEADER}\r\n`);
  }

  add(r: WechatTradeRow): void {
    const line = cells([
      r.tradeTime,
      r.appId,
      r.mchId,
      r.subMchId,
      r.deviceInfo,
      r.transactionId,
      r.outTradeNo,
      r.openId,
      r.tradeType,
      r.tradeState,
      r.bankType,
      r.currency,
      yuanText(r.settlementTotalMinor),
      yuanText(r.couponMinor),
      r.refundId,
      r.outRefundNo,
      yuanText(r.refundMinor),
      yuanText(r.rechargeRefundMinor),
      r.refundType,
      r.refundStatus,
      r.body,
      r.attach,
      fee(r.feeMilliMinor),
      r.feeRateText,
      yuanText(r.totalMinor),
      yuanText(r.requestRefundMinor),
      r.rateRemark,
    ]);
    this.out.push(`${line}\r\n`);
    const t = this.totals;
    this.totals = {
      rows: t.rows + 1,
      settlementTotalMinor: t.settlementTotalMinor + r.settlementTotalMinor,
      refundMinor: t.refundMinor + r.refundMinor,
      rechargeRefundMinor: t.rechargeRefundMinor + r.rechargeRefundMinor,
      feeMilliMinor: t.feeMilliMinor + r.feeMilliMinor,
      totalMinor: t.totalMinor + r.totalMinor,
      requestRefundMinor: t.requestRefundMinor + r.requestRefundMinor,
    };
  }

  /**
   * Writes the summary block and returns the totals written. `breakTotals` adds one fen to
   * 应结订单总金额, so the file's own totals disagree with its rows (for the parser's totals check).
   */
  finish(options: { breakTotals?: boolean } = {}): WechatTotals {
    const t = options.breakTotals ? { ...this.totals, settlementTotalMinor: this.totals.settlementTotalMinor + 1n } : this.totals;
    this.out.push(`${WECHAT_SUMMARY_HEADER}\r\n`);
    this.out.push(
      `${cells([
        String(t.rows),
        yuanText(t.settlementTotalMinor),
        yuanText(t.refundMinor),
        yuanText(t.rechargeRefundMinor),
        fee(t.feeMilliMinor),
        yuanText(t.totalMinor),
        yuanText(t.requestRefundMinor),
      ])}\r\n`,
    );
    this.out.flush();
    return t;
  }
}
