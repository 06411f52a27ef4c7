// The store port of the online core. Work is done in units: a unit is a synchronous function over an
// OnlineTx that reads and writes orders, idempotency records, outbox rows and ledger entries; the
// adapter runs units of many requests in one transaction (group commit) and answers each after COMMIT.
// A refused unit (it throws) writes nothing. A PostgreSQL adapter would make OnlineTx async; the
// service code changes by `await`s only.

import type { LedgerCommand, PostResult } from '../ledger/index.js';
import type { AgreementStatus, PaymentStatus, PreauthStatus, RefundStatus } from './payments/state.js';

export interface PaymentRecord {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly merchantOrderNo: string;
  readonly product: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly status: PaymentStatus;
  readonly channelId: string | null;
  readonly channelTxnId: string | null;
  readonly payerId: string | null;
  readonly agreementId: string | null;
  readonly description: string | null;
  readonly notifyUrl: string | null;
  readonly feeMinor: bigint;
  readonly costMinor: bigint;
  readonly refundedMinor: bigint;
  /** Refunds accepted but not yet final: counted against what remains, so concurrent refunds never exceed. */
  readonly refundReservedMinor: bigint;
  readonly businessDate: string | null;
  readonly failureCode: string | null;
  readonly failureMessage: string | null;
  readonly redirectUrl: string | null;
  readonly expiresAtMs: number | null;
  readonly routeNote: string | null;
  /** The route decision as JSON: channels considered and why, rules applied, attempts and fallbacks. */
  readonly routeJson: string | null;
  /** The risk decision as JSON: the verdict and every rule that fired. */
  readonly riskJson: string | null;
  /** A void sent to the channel and not yet answered; refunds and other voids wait for it. */
  readonly pendingOp: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface RefundRecord {
  readonly refundId: string;
  readonly paymentId: string;
  readonly merchantId: string;
  readonly merchantRefundNo: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly status: RefundStatus;
  readonly channelTxnId: string | null;
  readonly feeReturnedMinor: bigint;
  readonly costReturnedMinor: bigint;
  readonly failureCode: string | null;
  readonly failureMessage: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface PreauthRecord {
  readonly preauthId: string;
  readonly merchantId: string;
  readonly merchantOrderNo: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly status: PreauthStatus;
  readonly channelId: string | null;
  readonly channelTxnId: string | null;
  readonly payerId: string | null;
  /** The ledger hold now reserving the amount (a capture void places a new one). */
  readonly holdEntryId: string | null;
  readonly capturedMinor: bigint;
  readonly captureId: string | null;
  /** A capture or void sent to the channel and not yet answered; competing ones are refused. */
  readonly pendingOp: string | null;
  readonly expiresAtMs: number;
  readonly failureCode: string | null;
  readonly failureMessage: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface CaptureRecord {
  readonly captureId: string;
  readonly preauthId: string;
  readonly merchantId: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly status: 'succeeded' | 'voided';
  readonly feeMinor: bigint;
  readonly costMinor: bigint;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface AgreementRecord {
  readonly agreementId: string;
  readonly merchantId: string;
  readonly payerId: string;
  readonly channelId: string;
  readonly status: AgreementStatus;
  readonly agreementToken: string | null;
  readonly accountHint: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface PayoutRecord {
  readonly payoutId: string;
  readonly merchantId: string;
  readonly merchantPayoutNo: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly status: 'processing' | 'succeeded' | 'failed';
  readonly channelId: string;
  readonly channelTxnId: string | null;
  readonly payeeName: string;
  readonly payeeAccount: string;
  readonly failureCode: string | null;
  readonly failureMessage: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface TopupRecord {
  readonly topupId: string;
  readonly merchantId: string;
  readonly merchantTopupNo: string;
  readonly payerId: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly status: 'processing' | 'succeeded' | 'failed';
  readonly channelId: string;
  readonly channelTxnId: string | null;
  readonly failureCode: string | null;
  readonly failureMessage: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

/** One risk decision, kept for audit and to rebuild the velocity windows after a restart. */
export interface RiskDecisionRecord {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly decision: 'allow' | 'challenge' | 'block';
  /** JSON array of { rule, verdict, reason }. */
  readonly hits: string;
  readonly product: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly payerId: string | null;
  readonly cardKey: string | null;
  readonly deviceId: string | null;
  readonly ip: string | null;
  readonly businessDate: string;
  readonly createdAtMs: number;
}

export interface ChallengeRecord {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly codeHash: string;
  readonly salt: string;
  readonly phoneHint: string;
  readonly expiresAtMs: number;
  readonly attempts: number;
  readonly attemptsMax: number;
  readonly status: 'pending' | 'verified' | 'failed' | 'expired';
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface ChannelHealthRecord {
  readonly channelId: string;
  readonly state: string;
  readonly sinceMs: number;
  readonly calls: number;
  readonly failures: number;
  readonly reason: string;
  readonly updatedAtMs: number;
}

export interface ChannelUsageRow {
  readonly channelId: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly count: number;
}

export type IdempotencyState =
  | { readonly state: 'new' }
  | { readonly state: 'replay'; readonly httpStatus: number; readonly body: string }
  | { readonly state: 'in_flight'; readonly resourceId: string | null; readonly sinceMs: number }
  | { readonly state: 'mismatch' };

export interface OutboxMessage {
  readonly topic: string;
  readonly aggregateId: string;
  readonly merchantId: string | null;
  readonly payload: Readonly<Record<string, unknown>>;
}

export type Table = 'payments' | 'refunds' | 'preauths' | 'captures' | 'agreements' | 'payouts' | 'topups';

/** Reads and writes inside one unit of work. Everything is scoped by merchant where a merchant reads. */
export interface OnlineTx {
  readonly nowMs: number;
  idempotency(merchantId: string, key: string, requestHash: string): IdempotencyState;
  markInFlight(merchantId: string, key: string, requestHash: string, resourceId: string): void;
  saveResponse(merchantId: string, key: string, requestHash: string, httpStatus: number, body: string): void;
  /** Stores the final answer of every request still in flight for this object (recovery finished it). */
  resolveInFlight(resourceId: string, httpStatus: number, body: string): void;

  insertPayment(p: PaymentRecord): 'ok' | 'duplicate';
  payment(merchantId: string | null, paymentId: string): PaymentRecord | undefined;
  paymentByOrderNo(merchantId: string, merchantOrderNo: string): PaymentRecord | undefined;
  /** Updates only if the stored status is `from`; false when another unit moved it first. */
  updatePayment(paymentId: string, from: PaymentStatus, changes: Partial<PaymentRecord>): boolean;

  insertRefund(r: RefundRecord): 'ok' | 'duplicate';
  refund(merchantId: string | null, refundId: string): RefundRecord | undefined;
  updateRefund(refundId: string, from: RefundStatus, changes: Partial<RefundRecord>): boolean;

  insertPreauth(p: PreauthRecord): 'ok' | 'duplicate';
  preauth(merchantId: string | null, preauthId: string): PreauthRecord | undefined;
  updatePreauth(preauthId: string, from: PreauthStatus, changes: Partial<PreauthRecord>): boolean;
  insertCapture(c: CaptureRecord): void;
  capture(merchantId: string | null, captureId: string): CaptureRecord | undefined;
  updateCapture(captureId: string, from: CaptureRecord['status'], changes: Partial<CaptureRecord>): boolean;

  insertAgreement(a: AgreementRecord): void;
  agreement(merchantId: string | null, agreementId: string): AgreementRecord | undefined;
  updateAgreement(agreementId: string, from: AgreementStatus, changes: Partial<AgreementRecord>): boolean;

  insertPayout(p: PayoutRecord): 'ok' | 'duplicate';
  payout(merchantId: string | null, payoutId: string): PayoutRecord | undefined;
  updatePayout(payoutId: string, from: PayoutRecord['status'], changes: Partial<PayoutRecord>): boolean;

  insertTopup(t: TopupRecord): 'ok' | 'duplicate';
  topup(merchantId: string | null, topupId: string): TopupRecord | undefined;
  updateTopup(topupId: string, from: TopupRecord['status'], changes: Partial<TopupRecord>): boolean;

  recordRiskDecision(d: RiskDecisionRecord): void;
  insertChallenge(c: ChallengeRecord): void;
  challenge(paymentId: string): ChallengeRecord | undefined;
  /** Updates only if the stored status is `from`. */
  updateChallenge(paymentId: string, from: ChallengeRecord['status'], changes: Partial<ChallengeRecord>): boolean;
  /** Whether the payer has any payment that succeeded (for the first-time-payer rule). */
  payerHasPaid(payerId: string): boolean;

  /** Records a channel notification id; false when it was seen before (a duplicate). */
  rememberNotification(channelId: string, notificationId: string): boolean;
  publish(message: OutboxMessage): void;

  /** Ledger writes in the same transaction; the result says whether the ledger took the command. */
  post(command: LedgerCommand): PostResult;
  openDay(): string;
  /** Opens ledger accounts the online core owns (merchant payables, channel receivables, user balances) if missing. */
  ensureAccount(spec: { accountId: string; subjectCode: string; ownerKind: string; ownerId: string; currency: string; flags: number }): void;
  accountBalance(accountId: string): { status: string; availableMinor: bigint; balanceMinor: bigint } | undefined;
}

export interface OnlineStore {
  /** Runs a unit of work in the next group-committed transaction; resolves after COMMIT. */
  unit<T>(work: (tx: OnlineTx) => T): Promise<T>;
  /** Runs reads at once, outside any write transaction (GETs); `work` must not write. */
  read<T>(work: (tx: OnlineTx) => T): Promise<T>;
  /** Orders still processing (for recovery, 补单) and orders waiting for the payer past their expiry. */
  processing(table: 'payments' | 'refunds' | 'preauths' | 'payouts' | 'topups' | 'agreements', olderThanMs: number, limit: number): Promise<{ id: string; merchantId: string }[]>;
  expiredWaiting(nowMs: number, limit: number): Promise<string[]>;
  /** Payments or pre-authorisations with a void or capture out at the channel, untouched since olderThanMs. */
  withPendingOp(table: 'payments' | 'preauths', olderThanMs: number, limit: number): Promise<{ id: string; pendingOp: string }[]>;
  /** Authorised pre-authorisations whose hold has passed its expiry. */
  expiredPreauths(nowMs: number, limit: number): Promise<string[]>;
  counts(): Promise<Record<string, number>>;
  /** Risk decisions since a time (oldest first), to rebuild the velocity windows at start. */
  riskDecisionsSince(sinceMs: number, limit: number): Promise<RiskDecisionRecord[]>;
  /** Per channel and currency, what payments of the business day have taken (not failed or closed). */
  channelUsage(businessDate: string): Promise<ChannelUsageRow[]>;
  saveChannelHealth(rows: readonly ChannelHealthRecord[]): Promise<void>;
  channelHealth(): Promise<ChannelHealthRecord[]>;
  drain(): Promise<void>;
}
