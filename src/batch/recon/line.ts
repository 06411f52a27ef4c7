// One transaction line of a channel's file, as every parser yields it and every later step (import,
// match, suspense) reads it. Amounts are bigint minor units; a fee keeps the file's own precision as a
// decimal string (WeChat fees have five decimals) and is never rounded silently.
//
// The keys, from the channel's side: `channelTxnId` is the channel's own id (WeChat 微信订单号 / 微信退款单号,
// Alipay 支付宝交易号, UnionPay 系统跟踪号+…); `merchantOrderNo` is the order number *we* sent the channel,
// which is our payment id (pay_…); `merchantRefundNo` is our refund id (re_…).

/** Payments and refunds are matched as different kinds. */
export type LineKind = 'payment' | 'refund';

/** A line's status, normalised across formats. */
export type LineStatus = 'succeeded' | 'failed' | 'closed' | 'processing' | 'revoked';

export interface StatementLine {
  readonly kind: LineKind;
  readonly channelTxnId: string;
  /** For a refund, the channel's id of the original payment when the file has it. */
  readonly originalChannelTxnId: string | null;
  readonly merchantOrderNo: string | null;
  readonly merchantRefundNo: string | null;
  /** Always positive: a refund of 30.00 is kind 'refund' with amountMinor 3000. */
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly status: LineStatus;
  /** Local date-time with the channel's offset, ISO 8601: `2021-01-28T10:15:02+08:00`. */
  readonly occurredAt: string;
  /** The fee as the file states it, a decimal string in major units (`"0.00600"`), or null when absent. */
  readonly fee: string | null;
  /** 1-based line number in the (decoded) file, for messages and for `recon show`. */
  readonly line: number;
}

/** What a parser reports after the last line; `totalsCheck` is 'ok' only when the file's own totals agree. */
export interface StatementSummary {
  readonly rows: number;
  readonly payments: number;
  readonly refunds: number;
  readonly paymentAmountMinor: bigint;
  readonly refundAmountMinor: bigint;
  readonly feeTotal: string | null;
  readonly totalsCheck: 'ok' | 'absent';
}
