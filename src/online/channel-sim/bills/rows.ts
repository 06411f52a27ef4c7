// The format-neutral row of a day's bill: one money movement at the channel, as every format's
// writer (wechat.ts, alipay.ts, unionpay-zm.ts) and the injected troubles (troubles.ts) see it.
// Built from the simulator's record (store.billTransactions): pay and capture are payments, refund a
// refund, void and capture_void a void (each format shows a void its own way).

import type { BillFormat } from '../config.js';
import type { SimBillTxn } from '../store.js';

export type BillRowKind = 'payment' | 'refund' | 'void';

/** `revoked`: a payment the channel reversed (WeChat REVOKED); `processing`: a refund not yet through. */
export type BillRowStatus = 'succeeded' | 'revoked' | 'processing';

export interface BillRow {
  readonly kind: BillRowKind;
  /** The channel's sequence number (UnionPay's 系统跟踪号 is taken from it). */
  readonly txnNo: number;
  /** The channel's id of this movement (微信订单号 of a payment, 微信退款单号 of a refund). */
  readonly channelTxnId: string;
  /** Our payment id as sent to the channel (商户订单号); for a refund or void, the original payment's. */
  readonly merchantOrderNo: string;
  /** Our refund (or void) id (商户退款单号); null on a payment. */
  readonly merchantRefundNo: string | null;
  readonly originalChannelTxnId: string | null;
  readonly originalTxnNo: number | null;
  readonly originalAtMs: number | null;
  /** When the channel accepted it: this dates the row (its business date is the bill's day). */
  readonly atMs: number;
  readonly completedAtMs: number;
  /** Always positive. */
  readonly amountMinor: bigint;
  /** Always non-negative: charged on a payment, given back on a refund or void. */
  readonly feeMinor: bigint;
  /** The channel's fee rate as a decimal string ("0.006"). */
  readonly feeRate: string;
  readonly currency: string;
  readonly product: string | null;
  readonly payerId: string | null;
  readonly description: string | null;
  readonly status: BillRowStatus;
}

/** The currency every bill is in; rows in other currencies are left out and counted. */
export const BILL_CURRENCY = 'CNY';

/**
 * The bill row of a recorded transaction, or null when the format shows it another way: WeChat has no
 * void row (the payment is marked REVOKED instead), Alipay shows a void as a refund, UnionPay as a
 * 消费撤销 line.
 */
export function billRowOf(txn: SimBillTxn, format: BillFormat): BillRow | null {
  const isPayment = txn.operation === 'pay' || txn.operation === 'capture';
  const kind: BillRowKind = isPayment ? 'payment' : txn.operation === 'refund' ? 'refund' : 'void';
  if (kind === 'void' && format === 'wechat-trade') return null;
  return {
    kind,
    txnNo: txn.txnNo,
    channelTxnId: txn.channelTxnId,
    merchantOrderNo: isPayment ? txn.reference : (txn.originalReference ?? ''),
    merchantRefundNo: isPayment ? null : txn.reference,
    originalChannelTxnId: txn.originalChannelTxnId,
    originalTxnNo: txn.originalTxnNo,
    originalAtMs: txn.originalCreatedAtMs,
    atMs: txn.createdAtMs,
    completedAtMs: txn.completedAtMs ?? txn.createdAtMs,
    amountMinor: txn.amountMinor,
    feeMinor: txn.feeMinor,
    feeRate: txn.feeRate,
    currency: txn.currency ?? BILL_CURRENCY,
    product: txn.product,
    payerId: txn.payerId,
    description: txn.description,
    status: isPayment && txn.revoked && format === 'wechat-trade' ? 'revoked' : 'succeeded',
  };
}
