// The order state machines. Every operation names an event; a transition not in the table is an
// error (illegal_transition), never a silent no-op.

export const PAYMENT_STATUSES = ['requires_verification', 'processing', 'succeeded', 'failed', 'closed', 'voided', 'partially_refunded', 'refunded'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];
export type PaymentEvent = 'verify' | 'succeed' | 'fail' | 'expire' | 'void' | 'refund_part' | 'refund_all';

const PAYMENT: Record<PaymentStatus, Partial<Record<PaymentEvent, PaymentStatus>>> = {
  // Risk asked for a one-time code (增强验证): the channel is not called until the payer proves it.
  requires_verification: { verify: 'processing', fail: 'failed', expire: 'closed' },
  processing: { succeed: 'succeeded', fail: 'failed', expire: 'closed' },
  succeeded: { void: 'voided', refund_part: 'partially_refunded', refund_all: 'refunded' },
  partially_refunded: { refund_part: 'partially_refunded', refund_all: 'refunded' },
  failed: {},
  closed: {},
  voided: {},
  refunded: {},
};

export const REFUND_STATUSES = ['processing', 'succeeded', 'failed'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];
const REFUND: Record<RefundStatus, Partial<Record<'succeed' | 'fail', RefundStatus>>> = {
  processing: { succeed: 'succeeded', fail: 'failed' },
  succeeded: {},
  failed: {},
};

export const PREAUTH_STATUSES = ['processing', 'authorized', 'captured', 'voided', 'expired', 'failed'] as const;
export type PreauthStatus = (typeof PREAUTH_STATUSES)[number];
export type PreauthEvent = 'authorize' | 'fail' | 'capture' | 'void' | 'expire' | 'capture_voided';
const PREAUTH: Record<PreauthStatus, Partial<Record<PreauthEvent, PreauthStatus>>> = {
  processing: { authorize: 'authorized', fail: 'failed' },
  authorized: { capture: 'captured', void: 'voided', expire: 'expired' },
  // A capture void (预授权完成撤销) makes the pre-authorisation valid again.
  captured: { capture_voided: 'authorized' },
  voided: {},
  expired: {},
  failed: {},
};

export const AGREEMENT_STATUSES = ['processing', 'active', 'terminated', 'failed'] as const;
export type AgreementStatus = (typeof AGREEMENT_STATUSES)[number];
const AGREEMENT: Record<AgreementStatus, Partial<Record<'activate' | 'terminate' | 'fail', AgreementStatus>>> = {
  processing: { activate: 'active', fail: 'failed' },
  active: { terminate: 'terminated' },
  terminated: {},
  failed: {},
};

export function nextPaymentStatus(from: PaymentStatus, event: PaymentEvent): PaymentStatus | undefined {
  return PAYMENT[from][event];
}

export function nextRefundStatus(from: RefundStatus, event: 'succeed' | 'fail'): RefundStatus | undefined {
  return REFUND[from][event];
}

export function nextPreauthStatus(from: PreauthStatus, event: PreauthEvent): PreauthStatus | undefined {
  return PREAUTH[from][event];
}

export function nextAgreementStatus(from: AgreementStatus, event: 'activate' | 'terminate' | 'fail'): AgreementStatus | undefined {
  return AGREEMENT[from][event];
}

/** Final states take no further events. */
export function isFinalPayment(status: PaymentStatus): boolean {
  return Object.keys(PAYMENT[status]).length === 0;
}
