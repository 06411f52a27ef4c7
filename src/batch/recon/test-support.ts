// Builders of statement lines and our records for reconciliation tests (no test of its own).

import type { StatementLine } from './line.js';
import type { OurRecord } from './match.js';

export function payLine(order: string, amountMinor: bigint, over: Partial<StatementLine> = {}): StatementLine {
  return {
    kind: 'payment',
    channelTxnId: `42${order}`,
    originalChannelTxnId: null,
    merchantOrderNo: order,
    merchantRefundNo: null,
    amountMinor,
    currency: 'CNY',
    status: 'succeeded',
    occurredAt: '2026-11-26T10:00:00+08:00',
    fee: null,
    line: 2,
    ...over,
  };
}

export function refundLine(order: string, refund: string, amountMinor: bigint, over: Partial<StatementLine> = {}): StatementLine {
  return {
    kind: 'refund',
    channelTxnId: `50${refund}`,
    originalChannelTxnId: `42${order}`,
    merchantOrderNo: order,
    merchantRefundNo: refund,
    amountMinor,
    currency: 'CNY',
    status: 'succeeded',
    occurredAt: '2026-11-26T11:00:00+08:00',
    fee: null,
    line: 3,
    ...over,
  };
}

export function payment(id: string, amountMinor: bigint, over: Partial<OurRecord> = {}): OurRecord {
  return {
    source: 'payment',
    recordId: id,
    merchantId: 'M100001',
    paymentId: null,
    channelTxnId: `42${id}`,
    amountMinor,
    currency: 'CNY',
    status: 'succeeded',
    costMinor: 0n,
    businessDate: '2026-11-26',
    ...over,
  };
}

export function refund(id: string, paymentId: string, amountMinor: bigint, over: Partial<OurRecord> = {}): OurRecord {
  return {
    source: 'refund',
    recordId: id,
    merchantId: 'M100001',
    paymentId,
    channelTxnId: `50${id}`,
    amountMinor,
    currency: 'CNY',
    status: 'succeeded',
    costMinor: 0n,
    businessDate: '2026-11-26',
    ...over,
  };
}
