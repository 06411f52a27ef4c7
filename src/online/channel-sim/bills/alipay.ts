// Alipay trade bill (bill_type=trade): a zip, `<account>_<yyyyMMdd>.csv.zip`, holding the 业务明细 csv
// and the 业务明细(汇总) csv, both GBK with CRLF, entry names GBK without the UTF-8 flag. The detail
// file has the `#` header lines, the begin/end markers (their dash counts differ, as in real files),
// id-like cells decorated with a trailing tab, refunds as their own rows with negative amounts, and
// footer lines whose totals are the sums of the rows written. The summary file groups by store.
// Layout: ../../../../../shared/formats/FORMATS.md §2 and the samples 20880211096256330156_20190916*.

import type { BillRow } from './rows.js';
import type { TextOut } from './sinks.js';
import { chineseDateTime, cleanCell, compactDate, type LocalClock, yuanText } from './text.js';

export const ALIPAY_DETAIL_HEADER =
  '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,' +
  '支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注';
export const ALIPAY_SUMMARY_HEADER =
  '门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）';

const DETAIL_BEGIN = `#${'-'.repeat(41)}业务明细列表${'-'.repeat(40)}`;
const DETAIL_END = `#${'-'.repeat(41)}业务明细列表结束${'-'.repeat(36)}`;
const SUMMARY_BEGIN = `#${'-'.repeat(41)}业务汇总列表${'-'.repeat(40)}`;
const SUMMARY_END = `#${'-'.repeat(40)}业务汇总列表结束${'-'.repeat(37)}`;

/** Stores in the summary file; the simulator has one (online payments have no store). */
const SUMMARY_STORES_MAX = 10_000;

/** One detail row as the bill shows it; amounts in fen, negative on a refund. */
export interface AlipayTradeRow {
  readonly tradeNo: string;
  readonly outTradeNo: string;
  readonly bizType: '交易' | '退款';
  readonly subject: string;
  readonly createdAt: string;
  readonly finishedAt: string;
  readonly storeNo: string;
  readonly storeName: string;
  readonly operator: string;
  readonly terminal: string;
  readonly counterparty: string;
  readonly orderAmountMinor: bigint;
  readonly receivedMinor: bigint;
  readonly redPacketMinor: bigint;
  readonly jifenbaoMinor: bigint;
  readonly alipayDiscountMinor: bigint;
  readonly merchantDiscountMinor: bigint;
  readonly voucherMinor: bigint;
  readonly voucherName: string;
  readonly merchantRedPacketMinor: bigint;
  readonly cardMinor: bigint;
  /** 退款批次号/请求号: our refund id on a refund row, empty on a trade. */
  readonly refundBatchNo: string;
  /** The channel's fee: negative when charged (trade), positive when given back (refund). */
  readonly serviceFeeMinor: bigint;
  readonly shareMinor: bigint;
  readonly remark: string;
}

/** What the file heads and its footer say besides the rows. */
export interface AlipayBillHeading {
  readonly account: string;
  /** The bill's day, YYYY-MM-DD; the header runs from its 00:00:00 to the next day's. */
  readonly date: string;
  readonly nextDate: string;
  /** 导出时间 as "2026-11-27 09:00:00" (local). */
  readonly exportedAt: string;
}

export interface AlipayTotals {
  readonly trades: number;
  readonly tradeReceivedMinor: bigint;
  readonly tradeMerchantDiscountMinor: bigint;
  readonly refunds: number;
  readonly refundReceivedMinor: bigint;
  readonly refundMerchantDiscountMinor: bigint;
}

interface StoreSums {
  readonly storeNo: string;
  readonly storeName: string;
  trades: number;
  refunds: number;
  orderAmountMinor: bigint;
  receivedMinor: bigint;
  alipayDiscountMinor: bigint;
  merchantDiscountMinor: bigint;
  cardMinor: bigint;
  serviceFeeMinor: bigint;
  shareMinor: bigint;
}

export function alipayZipName(account: string, date: string): string {
  return `${account}_${compactDate(date)}.csv.zip`;
}

export function alipayEntryNames(account: string, date: string): { readonly detail: string; readonly summary: string } {
  const base = `${account}_${compactDate(date)}`;
  return { detail: `${base}_业务明细.csv`, summary: `${base}_业务明细(汇总).csv` };
}

/** The detail row of a bill row. A void shows as a refund of the whole payment (Alipay cancels a paid trade by refunding it). */
export function alipayRowOf(row: BillRow, clock: LocalClock): AlipayTradeRow {
  const trade = row.kind === 'payment';
  const sign = trade ? 1n : -1n;
  return {
    tradeNo: trade ? row.channelTxnId : (row.originalChannelTxnId ?? ''),
    outTradeNo: row.merchantOrderNo,
    bizType: trade ? '交易' : '退款',
    subject: cleanCell(row.description),
    createdAt: clock.dateTime(trade ? row.atMs : (row.originalAtMs ?? row.atMs)),
    finishedAt: clock.dateTime(trade ? row.completedAtMs : row.atMs),
    storeNo: '',
    storeName: '',
    operator: '',
    terminal: '',
    counterparty: cleanCell(row.payerId),
    orderAmountMinor: sign * row.amountMinor,
    receivedMinor: sign * row.amountMinor,
    redPacketMinor: 0n,
    jifenbaoMinor: 0n,
    alipayDiscountMinor: 0n,
    merchantDiscountMinor: 0n,
    voucherMinor: 0n,
    voucherName: '',
    merchantRedPacketMinor: 0n,
    cardMinor: 0n,
    refundBatchNo: trade ? '' : (row.merchantRefundNo ?? ''),
    serviceFeeMinor: -sign * row.feeMinor,
    shareMinor: 0n,
    remark: cleanCell(row.description),
  };
}

function headLines(kind: '业务明细' | '业务汇总', h: AlipayBillHeading): string {
  return [
    `#支付宝${kind}查询`,
    `#账号：[${h.account}]`,
    `#起始日期：[${chineseDateTime(h.date, '00:00:00')}]   终止日期：[${chineseDateTime(h.nextDate, '00:00:00')}]`,
  ].join('\r\n');
}

function exportLine(h: AlipayBillHeading): string {
  const [date = '', time = ''] = h.exportedAt.split(' ');
  return `#导出时间：[${chineseDateTime(date, time)}]`;
}

/** Streams the 业务明细 csv (text; encode it as GBK) and keeps the sums the 汇总 file needs. */
export class AlipayTradeBillWriter {
  private totals: AlipayTotals = {
    trades: 0,
    tradeReceivedMinor: 0n,
    tradeMerchantDiscountMinor: 0n,
    refunds: 0,
    refundReceivedMinor: 0n,
    refundMerchantDiscountMinor: 0n,
  };
  private readonly stores = new Map<string, StoreSums>();

  constructor(
    private readonly out: TextOut,
    private readonly heading: AlipayBillHeading,
  ) {
    out.push(`${headLines('业务明细', heading)}\r\n${DETAIL_BEGIN}\r\n${ALIPAY_DETAIL_HEADER}\r\n`);
  }

  add(r: AlipayTradeRow): void {
    const y = yuanText;
    this.out.push(
      `${r.tradeNo}\t,${r.outTradeNo}\t,${r.bizType}\t,${r.subject},${r.createdAt},${r.finishedAt},${r.storeNo}\t,${r.storeName}\t,` +
        `${r.operator}\t,${r.terminal}\t,${r.counterparty}\t,${y(r.orderAmountMinor)},${y(r.receivedMinor)},${y(r.redPacketMinor)},` +
        `${y(r.jifenbaoMinor)},${y(r.alipayDiscountMinor)},${y(r.merchantDiscountMinor)},${y(r.voucherMinor)},${r.voucherName},` +
        `${y(r.merchantRedPacketMinor)}\t,${y(r.cardMinor)},${r.refundBatchNo}\t,${y(r.serviceFeeMinor)},${y(r.shareMinor)},${r.remark}\r\n`,
    );
    const t = this.totals;
    const trade = r.bizType === '交易';
    this.totals = {
      trades: t.trades + (trade ? 1 : 0),
      tradeReceivedMinor: t.tradeReceivedMinor + (trade ? r.receivedMinor : 0n),
      tradeMerchantDiscountMinor: t.tradeMerchantDiscountMinor + (trade ? r.merchantDiscountMinor : 0n),
      refunds: t.refunds + (trade ? 0 : 1),
      refundReceivedMinor: t.refundReceivedMinor + (trade ? 0n : r.receivedMinor),
      refundMerchantDiscountMinor: t.refundMerchantDiscountMinor + (trade ? 0n : r.merchantDiscountMinor),
    };
    this.addToStore(r, trade);
  }

  /**
   * Writes the end marker and the footer lines and returns the totals written. `breakTotals` adds one
   * fen to 交易合计's 商家实收, so the footer disagrees with the rows (for the parser's totals check).
   */
  finish(options: { breakTotals?: boolean } = {}): AlipayTotals {
    const t = options.breakTotals ? { ...this.totals, tradeReceivedMinor: this.totals.tradeReceivedMinor + 1n } : this.totals;
    this.out.push(
      [
        DETAIL_END,
        `#交易合计：${t.trades}笔，商家实收共${yuanText(t.tradeReceivedMinor)}元，商家优惠共${yuanText(t.tradeMerchantDiscountMinor)}元`,
        `#退款合计：${t.refunds}笔，商家实收退款共${yuanText(t.refundReceivedMinor)}元，商家优惠退款共${yuanText(t.refundMerchantDiscountMinor)}元`,
        exportLine(this.heading),
      ].join('\r\n') + '\r\n',
    );
    this.out.flush();
    return t;
  }

  /** The 业务明细(汇总) csv (text; encode it as GBK): one line per store in order of first appearance, then 合计. */
  summaryText(): string {
    const y = yuanText;
    const line = (s: StoreSums, storeNo: string, storeName: string): string =>
      `${storeNo},${storeName},${s.trades},${s.refunds},${y(s.orderAmountMinor)},${y(s.receivedMinor)},${y(s.alipayDiscountMinor)},` +
      `${y(s.merchantDiscountMinor)},${y(s.cardMinor)},${y(s.serviceFeeMinor)},${y(s.shareMinor)},${y(s.receivedMinor + s.serviceFeeMinor + s.shareMinor)}`;
    const all = emptySums('合计', '');
    const lines: string[] = [];
    for (const s of this.stores.values()) {
      lines.push(line(s, `${s.storeNo}\t`, `${s.storeName}\t`));
      all.trades += s.trades;
      all.refunds += s.refunds;
      all.orderAmountMinor += s.orderAmountMinor;
      all.receivedMinor += s.receivedMinor;
      all.alipayDiscountMinor += s.alipayDiscountMinor;
      all.merchantDiscountMinor += s.merchantDiscountMinor;
      all.cardMinor += s.cardMinor;
      all.serviceFeeMinor += s.serviceFeeMinor;
      all.shareMinor += s.shareMinor;
    }
    lines.push(line(all, '合计', ''));
    return [headLines('业务汇总', this.heading), SUMMARY_BEGIN, ALIPAY_SUMMARY_HEADER, ...lines, SUMMARY_END, exportLine(this.heading)].join('\r\n') + '\r\n';
  }

  private addToStore(r: AlipayTradeRow, trade: boolean): void {
    const key = `${r.storeNo}\u0000${r.storeName}`;
    let s = this.stores.get(key);
    if (!s) {
      if (this.stores.size >= SUMMARY_STORES_MAX) throw new RangeError(`alipay: more than ${SUMMARY_STORES_MAX} stores in one bill`);
      s = emptySums(r.storeNo, r.storeName);
      this.stores.set(key, s);
    }
    s.trades += trade ? 1 : 0;
    s.refunds += trade ? 0 : 1;
    s.orderAmountMinor += r.orderAmountMinor;
    s.receivedMinor += r.receivedMinor;
    s.alipayDiscountMinor += r.alipayDiscountMinor;
    s.merchantDiscountMinor += r.merchantDiscountMinor;
    s.cardMinor += r.cardMinor;
    s.serviceFeeMinor += r.serviceFeeMinor;
    s.shareMinor += r.shareMinor;
  }
}

function emptySums(storeNo: string, storeName: string): StoreSums {
  return {
    storeNo,
    storeName,
    trades: 0,
    refunds: 0,
    orderAmountMinor: 0n,
    receivedMinor: 0n,
    alipayDiscountMinor: 0n,
    merchantDiscountMinor: 0n,
    cardMinor: 0n,
    serviceFeeMinor: 0n,
    shareMinor: 0n,
  };
}
