// The JSON shapes the API answers with. Amounts are JSON integers of minor units (always below 2^53).

import type { PaymentRecord, RefundRecord } from '../port.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const int = (v: bigint): number => Number(v);

export function paymentView(p: PaymentRecord): Record<string, unknown> {
  return {
    id: p.paymentId,
    object: 'payment',
    merchant_order_no: p.merchantOrderNo,
    product: p.product,
    amount: int(p.amountMinor),
    currency: p.currency,
    status: p.status,
    fee: int(p.feeMinor),
    refunded_amount: int(p.refundedMinor),
    channel: p.channelId,
    channel_txn_id: p.channelTxnId,
    payer_id: p.payerId,
    agreement_id: p.agreementId,
    description: p.description,
    notify_url: p.notifyUrl,
    redirect_url: p.redirectUrl,
    expires_at: iso(p.expiresAtMs),
    business_date: p.businessDate,
    failure_code: p.failureCode,
    failure_message: p.failureMessage,
    /** What the payer must do next: enter the one-time code sent by SMS (POST /v1/payments/{id}/verify). */
    next_action: p.status === 'requires_verification' ? { type: 'verify_code', channel: 'sms', expires_at: iso(p.expiresAtMs) } : null,
    /** A void sent to the channel and not yet answered (refunds and voids wait for it). */
    pending_operation: p.pendingOp,
    created_at: iso(p.createdAtMs),
    updated_at: iso(p.updatedAtMs),
  };
}

export function refundView(r: RefundRecord): Record<string, unknown> {
  return {
    id: r.refundId,
    object: 'refund',
    payment_id: r.paymentId,
    merchant_refund_no: r.merchantRefundNo,
    amount: int(r.amountMinor),
    currency: r.currency,
    status: r.status,
    fee_returned: int(r.feeReturnedMinor),
    channel_txn_id: r.channelTxnId,
    failure_code: r.failureCode,
    failure_message: r.failureMessage,
    created_at: iso(r.createdAtMs),
    updated_at: iso(r.updatedAtMs),
  };
}
