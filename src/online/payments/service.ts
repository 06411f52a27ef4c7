// Payments, refunds and voids through the seven steps: validate → route → risk → persist → call channel
// → update → publish. Steps that touch the database run as units of work (group-committed); the
// channel call happens between two units, outside any transaction. Orders left processing (a crash,
// a timeout) are finished later by the recovery loop (recovery.ts), which reuses the same `apply*` steps.

import { randomBytes } from 'node:crypto';
import { applyRate, divideRounded, postingsFor, type EntryCommand, type PostingRole } from '../../ledger/index.js';
import type { ChannelOutcome, ChannelPort } from '../channels/port.js';
import { feeRateFor, PRODUCTS, type ChannelConfig, type OnlineConfig, type Product } from '../config.js';
import { apiFailure, type ApiFailure } from '../errors.js';
import type { OnlineStore, OnlineTx, PaymentRecord, RefundRecord } from '../port.js';
import { accounts, ensure } from './accounts.js';
import { nextPaymentStatus, nextRefundStatus, type PaymentEvent } from './state.js';
import { parseEmpty, parsePaymentRequest, parseRefundRequest, type PaymentRequest } from './validate.js';
import { paymentView, refundView } from './views.js';

/** Who is calling, after authentication. */
export interface Caller {
  readonly merchantId: string;
  readonly products: readonly string[];
}

/** The idempotency context of a POST: the key and a hash of the exact request. */
export interface Idem {
  readonly key: string;
  readonly requestHash: string;
}

export type ApiResult =
  | { readonly ok: true; readonly httpStatus: number; readonly body: string; readonly replayed: boolean }
  | ApiFailure;

/** Thrown inside a unit to refuse it: the unit's writes roll back and the failure is answered. */
export class Refusal extends Error {
  readonly failure: ApiFailure;
  constructor(failure: ApiFailure) {
    super(failure.message);
    this.failure = failure;
  }
}

export function newId(prefix: string, nowMs: number): string {
  return `${prefix}_${nowMs.toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

export interface ServiceDeps {
  readonly store: OnlineStore;
  readonly config: OnlineConfig;
  readonly channels: ReadonlyMap<string, ChannelPort>;
  /** Base URL of this daemon as channels reach it, for asynchronous notifications (known after listen). */
  readonly publicUrl: () => string;
  readonly clock: () => number;
}

/** Runs a unit; a Refusal becomes a failure value, anything else is a bug and propagates. */
export async function runUnit<T>(store: OnlineStore, work: (tx: OnlineTx) => T): Promise<T | ApiFailure> {
  try {
    return await store.unit(work);
  } catch (e) {
    if (e instanceof Refusal) return e.failure;
    throw e;
  }
}

export function isFailure(v: unknown): v is ApiFailure {
  return typeof v === 'object' && v !== null && (v as { ok?: unknown }).ok === false;
}

/** The stored answer to a repeated Idempotency-Key, or a refusal; undefined when the key is new. */
export function priorAnswer(tx: OnlineTx, caller: Caller, idem: Idem): ApiResult | undefined {
  const state = tx.idempotency(caller.merchantId, idem.key, idem.requestHash);
  switch (state.state) {
    case 'new':
      return undefined;
    case 'replay':
      return { ok: true, httpStatus: state.httpStatus, body: state.body, replayed: true };
    case 'mismatch':
      throw new Refusal(apiFailure('idempotency_key_reused', 'The Idempotency-Key was used with a different request.'));
    case 'in_flight':
      throw new Refusal(apiFailure('idempotency_key_in_flight', 'A request with this Idempotency-Key is in progress.'));
  }
}

/** The answer to a GET: the object's view, or not_found (also for another merchant's object). */
export function shown<T>(record: T | undefined, view: (r: T) => unknown, what: string): ApiResult {
  return record ? { ok: true, httpStatus: 200, body: JSON.stringify(view(record)), replayed: false } : apiFailure('not_found', `No ${what}.`);
}

export function answer(tx: OnlineTx, caller: Caller, idem: Idem, httpStatus: number, view: unknown): ApiResult {
  const body = JSON.stringify(view);
  tx.saveResponse(caller.merchantId, idem.key, idem.requestHash, httpStatus, body);
  return { ok: true, httpStatus, body, replayed: false };
}

// ---- route and risk (the next issue makes both real) ----

export function routeFor(config: OnlineConfig, product: string, currency: string): ChannelConfig | undefined {
  return config.channels.find((c) => (c.products as readonly string[]).includes(product) && c.currencies.includes(currency));
}

export type RiskDecision = { readonly decision: 'allow' } | { readonly decision: 'block'; readonly reasons: readonly string[] };

export function assessRisk(): RiskDecision {
  return { decision: 'allow' };
}

// ---- ledger entries of payments and refunds ----

function paymentRoles(p: PaymentRecord, tx: OnlineTx): Partial<Record<PostingRole, string>> {
  const [merchant, fee] = ensure(tx, accounts.merchantPayable(p.merchantId, p.currency), accounts.feeIncome(p.currency));
  const roles: Partial<Record<PostingRole, string>> = { merchant_payable: merchant, fee_income: fee };
  switch (p.product as Product) {
    case 'balance':
      roles.user_balance = accounts.userBalance(p.payerId ?? '', p.currency).accountId;
      roles.channel_receivable = roles.user_balance; // a refund goes back to the balance
      break;
    case 'virtual_coin':
      roles.user_balance = accounts.userCoin(p.payerId ?? '').accountId;
      roles.channel_receivable = roles.user_balance;
      break;
    case 'credit':
      [roles.user_credit] = ensure(tx, accounts.userCredit(p.payerId ?? '', p.currency));
      roles.channel_receivable = roles.user_credit;
      break;
    default:
      [roles.channel_receivable, roles.channel_cost] = ensure(tx, accounts.channelReceivable(p.channelId ?? '', p.currency), accounts.channelCost(p.currency));
  }
  return roles;
}

export function paymentEntryId(paymentId: string): string {
  return `pay.${paymentId}`;
}

function paymentEntry(p: PaymentRecord, tx: OnlineTx): EntryCommand {
  const roles = paymentRoles(p, tx);
  const product = p.product as Product;
  const event = product === 'balance' || product === 'virtual_coin' ? 'balance.payment' : product === 'credit' ? 'credit.payment' : 'payment.succeeded';
  return {
    type: 'entry',
    id: paymentEntryId(p.paymentId),
    eventType: event,
    reference: p.paymentId,
    memo: `${product} payment ${p.merchantOrderNo} for ${p.merchantId}`,
    postings: postingsFor(event, { grossMinor: p.amountMinor, feeMinor: p.feeMinor, costMinor: p.costMinor }, roles, p.currency),
  };
}

/** Posts to the ledger inside the unit; a refusal (insufficient funds …) refuses the whole unit. */
export function postOrRefuse(tx: OnlineTx, command: EntryCommand | Parameters<OnlineTx['post']>[0]): void {
  const result = tx.post(command);
  if (result.ok) return;
  if (result.code === 'insufficient_funds' || result.code === 'exceeds_debits') throw new Refusal(apiFailure('insufficient_funds', result.message));
  if (result.code === 'account_frozen' || result.code === 'account_closed' || result.code === 'account_not_found') {
    throw new Refusal(apiFailure('payer_account_unavailable', result.message));
  }
  throw new Error(`ledger refused ${command.id}: ${result.code}: ${result.message}`);
}

/** The share of a payment's fee (or cost) a refund returns: proportional, cumulative, exact at full refund. */
export function proportionalShare(total: bigint, amountMinor: bigint, refundedBefore: bigint, refundAmount: bigint): bigint {
  const before = divideRounded(total * refundedBefore, amountMinor, 'down');
  const after = divideRounded(total * (refundedBefore + refundAmount), amountMinor, 'down');
  return after - before;
}

// ---- the payment operations ----

export class PaymentService {
  private readonly deps: ServiceDeps;
  constructor(deps: ServiceDeps) {
    this.deps = deps;
  }

  private channel(id: string | null): ChannelPort | undefined {
    return id === null ? undefined : this.deps.channels.get(id);
  }

  async create(caller: Caller, idem: Idem, raw: unknown): Promise<ApiResult> {
    // 1. validate
    const parsed = parsePaymentRequest(raw);
    if (!parsed.ok) return parsed;
    const req = parsed.value;
    if (!caller.products.includes(req.product)) return apiFailure('product_not_enabled', `Product ${req.product} is not enabled for ${caller.merchantId}.`);
    // 2. route
    const local = PRODUCTS[req.product].local;
    const route = local ? undefined : routeFor(this.deps.config, req.product, req.currency);
    if (!local && !route) return apiFailure('channel_unavailable', `No channel serves ${req.product} in ${req.currency}.`);
    const port = route ? this.channel(route.id) : undefined;
    if (route && !port) return apiFailure('channel_unavailable', `Channel ${route.id} is not connected.`);
    // 3. risk
    const risk = assessRisk();
    if (risk.decision === 'block') return apiFailure('channel_declined', `Blocked by risk: ${risk.reasons.join('; ')}.`);
    const nowMs = this.deps.clock();
    const record = this.newPayment(caller, req, route, nowMs);
    // 4. persist (and, for local products, settle it in the same unit)
    const first = await runUnit(this.deps.store, (tx): ApiResult | { record: PaymentRecord; agreementToken: string | undefined } => {
      const prior = priorAnswer(tx, caller, idem);
      if (prior) return prior;
      const agreementToken = req.agreementId === undefined ? undefined : checkAgreement(tx, caller.merchantId, req.agreementId, req.payerId);
      if (local) return this.payLocally(tx, caller, idem, record);
      if (tx.insertPayment(record) === 'duplicate') throw new Refusal(duplicateOrder(req.merchantOrderNo));
      tx.markInFlight(caller.merchantId, idem.key, idem.requestHash, record.paymentId);
      tx.publish({ topic: 'payment.created', aggregateId: record.paymentId, merchantId: caller.merchantId, payload: paymentView(record) });
      return { record, agreementToken };
    });
    if (isFailure(first) || 'httpStatus' in first) return first;
    // 5. call the channel (outside any transaction)
    const outcome = await this.callPay(port as ChannelPort, first.record, first.agreementToken);
    // 6. update and 7. publish, and the idempotent answer
    return this.finish(caller, idem, first.record.paymentId, outcome);
  }

  private newPayment(caller: Caller, req: PaymentRequest, route: ChannelConfig | undefined, nowMs: number): PaymentRecord {
    const fee = applyRate(req.amountMinor, feeRateFor(this.deps.config, req.product), 'half_up');
    const cost = route ? applyRate(req.amountMinor, route.cost_rate, 'half_up') : 0n;
    return {
      paymentId: newId('pay', nowMs),
      merchantId: caller.merchantId,
      merchantOrderNo: req.merchantOrderNo,
      product: req.product,
      amountMinor: req.amountMinor,
      currency: req.currency,
      status: 'processing',
      channelId: route?.id ?? null,
      channelTxnId: null,
      payerId: req.payerId ?? null,
      agreementId: req.agreementId ?? null,
      description: req.description ?? null,
      notifyUrl: req.notifyUrl ?? null,
      feeMinor: fee,
      costMinor: cost > req.amountMinor - fee ? 0n : cost,
      refundedMinor: 0n,
      refundReservedMinor: 0n,
      businessDate: null,
      failureCode: null,
      failureMessage: null,
      redirectUrl: null,
      expiresAtMs: PRODUCTS[req.product].waitsForPayer ? nowMs + this.deps.config.order_expiry_s * 1000 : null,
      routeNote: route ? `first capable channel: ${route.id}` : 'local: no channel',
      pendingOp: null,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
  }

  /** balance, virtual_coin, credit: no channel; the payment and its entry commit together. */
  private payLocally(tx: OnlineTx, caller: Caller, idem: Idem, record: PaymentRecord): ApiResult {
    const payer = record.payerId ?? '';
    const product = record.product as Product;
    if (product === 'credit') {
      const line = accounts.userCredit(payer, record.currency);
      ensure(tx, line);
      const used = tx.accountBalance(line.accountId)?.balanceMinor ?? 0n;
      const limit = BigInt(this.deps.config.credit_limit_minor);
      if (used + record.amountMinor > limit) {
        throw new Refusal(apiFailure('credit_limit_exceeded', `The credit line of ${payer} has ${limit - used} minor units left.`));
      }
    } else {
      const source = product === 'virtual_coin' ? accounts.userCoin(payer) : accounts.userBalance(payer, record.currency);
      const balance = tx.accountBalance(source.accountId);
      if (!balance || balance.status !== 'active') throw new Refusal(apiFailure('payer_account_unavailable', `Payer ${payer} has no active ${product} account in ${record.currency}.`));
      if (balance.availableMinor < record.amountMinor) throw new Refusal(apiFailure('insufficient_funds', `Payer ${payer} has ${balance.availableMinor} minor units available.`));
    }
    const businessDate = tx.openDay();
    const done: PaymentRecord = { ...record, status: 'succeeded', businessDate, channelTxnId: null };
    if (tx.insertPayment(done) === 'duplicate') throw new Refusal(duplicateOrder(record.merchantOrderNo));
    postOrRefuse(tx, paymentEntry(done, tx));
    tx.publish({ topic: 'payment.succeeded', aggregateId: done.paymentId, merchantId: caller.merchantId, payload: paymentView(done) });
    return answer(tx, caller, idem, 201, paymentView(done));
  }

  private async callPay(port: ChannelPort, p: PaymentRecord, agreementToken: string | undefined): Promise<ChannelOutcome> {
    try {
      return await port.pay({
        reference: p.paymentId,
        product: p.product as Exclude<Product, 'balance' | 'virtual_coin' | 'credit'>,
        amountMinor: p.amountMinor,
        currency: p.currency,
        payerId: p.payerId ?? undefined,
        agreementToken,
        description: p.description ?? undefined,
        notifyUrl: `${this.deps.publicUrl()}/v1/channel-notifications/${p.channelId ?? ''}`,
      });
    } catch (e) {
      return { status: 'unknown', reason: 'protocol', message: (e as Error).message };
    }
  }

  private async finish(caller: Caller, idem: Idem, paymentId: string, outcome: ChannelOutcome): Promise<ApiResult> {
    const result = await runUnit(this.deps.store, (tx): ApiResult => {
      const updated = applyPaymentOutcome(tx, paymentId, outcome);
      return answer(tx, caller, idem, 201, paymentView(updated));
    });
    return result;
  }

  async get(caller: Caller, paymentId: string): Promise<ApiResult> {
    return shown(await this.deps.store.read((tx) => tx.payment(caller.merchantId, paymentId)), paymentView, `payment ${paymentId}`);
  }

  async findByOrderNo(caller: Caller, merchantOrderNo: string): Promise<ApiResult> {
    return shown(await this.deps.store.read((tx) => tx.paymentByOrderNo(caller.merchantId, merchantOrderNo)), paymentView, `payment with merchant_order_no ${merchantOrderNo}`);
  }

  // ---- refunds (退款): partial allowed, never above what remains, also under concurrency ----

  async refund(caller: Caller, idem: Idem, paymentId: string, raw: unknown): Promise<ApiResult> {
    const parsed = parseRefundRequest(raw);
    if (!parsed.ok) return parsed;
    const req = parsed.value;
    const nowMs = this.deps.clock();
    const refundId = newId('re', nowMs);
    const first = await runUnit(this.deps.store, (tx): ApiResult | { refund: RefundRecord; payment: PaymentRecord } => {
      const prior = priorAnswer(tx, caller, idem);
      if (prior) return prior;
      const p = tx.payment(caller.merchantId, paymentId);
      if (!p) throw new Refusal(apiFailure('not_found', `No payment ${paymentId}.`));
      if (p.status !== 'succeeded' && p.status !== 'partially_refunded') {
        throw new Refusal(apiFailure('payment_not_refundable', `Payment ${paymentId} is ${p.status}.`));
      }
      if (p.pendingOp !== null) throw new Refusal(apiFailure('payment_not_refundable', `Payment ${paymentId} has a ${p.pendingOp} in progress.`));
      const remaining = p.amountMinor - p.refundedMinor - p.refundReservedMinor;
      if (req.amountMinor > remaining) throw new Refusal(apiFailure('refund_exceeds_remaining', `${remaining} minor units remain refundable.`));
      const refund: RefundRecord = {
        refundId,
        paymentId,
        merchantId: caller.merchantId,
        merchantRefundNo: req.merchantRefundNo,
        amountMinor: req.amountMinor,
        currency: p.currency,
        status: 'processing',
        channelTxnId: null,
        feeReturnedMinor: 0n,
        costReturnedMinor: 0n,
        failureCode: null,
        failureMessage: null,
        createdAtMs: tx.nowMs,
        updatedAtMs: tx.nowMs,
      };
      if (tx.insertRefund(refund) === 'duplicate') {
        throw new Refusal(apiFailure('merchant_refund_no_duplicate', `merchant_refund_no ${req.merchantRefundNo} exists.`));
      }
      const reserved = tx.updatePayment(paymentId, p.status, { refundReservedMinor: p.refundReservedMinor + req.amountMinor });
      if (!reserved) throw new Error(`payment ${paymentId} changed inside the unit`);
      if (PRODUCTS[p.product as Product].local) {
        const done = applyRefundOutcome(tx, refundId, { status: 'succeeded', channelTxnId: `local-${refundId}` });
        return answer(tx, caller, idem, 201, refundView(done));
      }
      tx.markInFlight(caller.merchantId, idem.key, idem.requestHash, refundId);
      return { refund, payment: p };
    });
    if (isFailure(first) || 'httpStatus' in first) return first;
    const port = this.channel(first.payment.channelId);
    let outcome: ChannelOutcome;
    try {
      outcome = port
        ? await port.refund({ reference: refundId, originalReference: paymentId, amountMinor: req.amountMinor, currency: first.payment.currency })
        : { status: 'unknown', reason: 'unavailable', message: 'channel not connected' };
    } catch (e) {
      outcome = { status: 'unknown', reason: 'protocol', message: (e as Error).message };
    }
    return runUnit(this.deps.store, (tx): ApiResult => answer(tx, caller, idem, 201, refundView(applyRefundOutcome(tx, refundId, outcome))));
  }

  async getRefund(caller: Caller, refundId: string): Promise<ApiResult> {
    return shown(await this.deps.store.read((tx) => tx.refund(caller.merchantId, refundId)), refundView, `refund ${refundId}`);
  }

  // ---- void (撤销): full amount, same business day, before any refund or settlement ----

  async void(caller: Caller, idem: Idem, paymentId: string, raw: unknown): Promise<ApiResult> {
    const parsed = parseEmpty(raw);
    if (!parsed.ok) return parsed;
    const checked = await runUnit(this.deps.store, (tx): ApiResult | PaymentRecord => {
      const prior = priorAnswer(tx, caller, idem);
      if (prior) return prior;
      const p = voidable(tx, caller.merchantId, paymentId, null);
      if (PRODUCTS[p.product as Product].local) return answer(tx, caller, idem, 200, paymentView(applyVoid(tx, p)));
      // Refunds and other voids wait until the channel has answered this one.
      tx.updatePayment(paymentId, p.status, { pendingOp: 'void' });
      tx.markInFlight(caller.merchantId, idem.key, idem.requestHash, paymentId);
      return p;
    });
    if (isFailure(checked) || 'httpStatus' in checked) return checked;
    const port = this.channel(checked.channelId);
    let outcome: ChannelOutcome;
    try {
      outcome = port
        ? await port.void({ reference: `void.${paymentId}`, originalReference: paymentId, amountMinor: checked.amountMinor, currency: checked.currency })
        : { status: 'unknown', reason: 'unavailable', message: 'channel not connected' };
    } catch (e) {
      outcome = { status: 'unknown', reason: 'protocol', message: (e as Error).message };
    }
    return runUnit(this.deps.store, (tx): ApiResult => {
      const settled = settlePaymentVoid(tx, caller.merchantId, paymentId, outcome);
      if (!isFailure(settled)) return answer(tx, caller, idem, 200, paymentView(settled));
      // A decline is the final answer to this key; an unknown outcome keeps it in flight for recovery.
      if (settled.code !== 'channel_unavailable') {
        tx.saveResponse(caller.merchantId, idem.key, idem.requestHash, settled.httpStatus, JSON.stringify({ error: { code: settled.code, message: settled.message } }));
      }
      return settled;
    });
  }
}

/**
 * The second step of a channel void (also run by recovery). Once the channel has voided, the books
 * follow even if the business day turned meanwhile (the reversal lands on the new day). A decline frees
 * the payment for refunds again; an unknown answer keeps the void in flight until the channel is asked.
 */
export function settlePaymentVoid(tx: OnlineTx, merchantId: string | null, paymentId: string, outcome: ChannelOutcome): PaymentRecord | ApiFailure {
  if (outcome.status === 'succeeded') return applyVoid(tx, voidable(tx, merchantId, paymentId, 'void', true));
  if (outcome.status === 'declined') {
    tx.updatePayment(paymentId, 'succeeded', { pendingOp: null });
    return apiFailure('channel_declined', outcome.message);
  }
  return apiFailure('channel_unavailable', outcome.status === 'unknown' ? outcome.message : 'The channel has not confirmed the void.');
}

function duplicateOrder(no: string): ApiFailure {
  return apiFailure('merchant_order_no_duplicate', `merchant_order_no ${no} exists.`);
}

/** The channel's token of an active agreement of this merchant (and payer, when given). */
function checkAgreement(tx: OnlineTx, merchantId: string, agreementId: string, payerId: string | undefined): string | undefined {
  const a = tx.agreement(merchantId, agreementId);
  if (!a) throw new Refusal(apiFailure('agreement_not_active', `No agreement ${agreementId}.`));
  if (a.status !== 'active') throw new Refusal(apiFailure('agreement_not_active', `Agreement ${agreementId} is ${a.status}.`));
  if (payerId !== undefined && a.payerId !== payerId) throw new Refusal(apiFailure('agreement_not_active', `Agreement ${agreementId} belongs to another payer.`));
  return a.agreementToken ?? undefined;
}

/** A payment that may be voided; `channelConfirmed` when the channel already voided it (no day check). */
function voidable(tx: OnlineTx, merchantId: string | null, paymentId: string, expectedPendingOp: string | null, channelConfirmed = false): PaymentRecord {
  const p = tx.payment(merchantId, paymentId);
  if (!p) throw new Refusal(apiFailure('not_found', `No payment ${paymentId}.`));
  if (p.status !== 'succeeded') throw new Refusal(apiFailure('void_not_allowed', `Payment ${paymentId} is ${p.status}.`));
  if (p.pendingOp !== expectedPendingOp) throw new Refusal(apiFailure('void_not_allowed', `Payment ${paymentId} has a ${String(p.pendingOp)} in progress.`));
  if (p.refundedMinor > 0n || p.refundReservedMinor > 0n) throw new Refusal(apiFailure('void_not_allowed', `Payment ${paymentId} has refunds.`));
  if (!channelConfirmed && p.businessDate !== tx.openDay()) {
    throw new Refusal(apiFailure('void_not_allowed', `Payment ${paymentId} is from business day ${p.businessDate ?? '?'}.`));
  }
  return p;
}

function applyVoid(tx: OnlineTx, p: PaymentRecord): PaymentRecord {
  const to = nextPaymentStatus(p.status, 'void');
  if (!to || !tx.updatePayment(p.paymentId, p.status, { status: to, pendingOp: null })) throw new Refusal(apiFailure('illegal_transition', `Payment ${p.paymentId} is ${p.status}.`));
  postOrRefuse(tx, { type: 'reverse', id: `void.${p.paymentId}`, entryId: paymentEntryId(p.paymentId), memo: `void (撤销) of ${p.merchantOrderNo}` });
  const voided = { ...p, status: to, updatedAtMs: tx.nowMs };
  tx.publish({ topic: 'payment.voided', aggregateId: p.paymentId, merchantId: p.merchantId, payload: paymentView(voided) });
  return voided;
}

/**
 * Applies a channel's answer to a processing payment: success posts the entry, a decline fails the
 * order, anything else leaves it processing for recovery. Idempotent: an order already final is
 * returned as it is (a late success on a closed order is published for an operator to refund).
 */
export function applyPaymentOutcome(tx: OnlineTx, paymentId: string, outcome: ChannelOutcome): PaymentRecord {
  const p = tx.payment(null, paymentId);
  if (!p) throw new Error(`payment ${paymentId} vanished`);
  if (p.status !== 'processing') {
    if (outcome.status === 'succeeded' && (p.status === 'closed' || p.status === 'failed')) {
      tx.publish({ topic: 'payment.late_success', aggregateId: p.paymentId, merchantId: p.merchantId, payload: { ...paymentView(p), channel_txn_id: outcome.channelTxnId, action: 'refund_required' } });
    }
    return p;
  }
  let event: PaymentEvent | undefined;
  let changes: Partial<PaymentRecord> = {};
  switch (outcome.status) {
    case 'succeeded':
      event = 'succeed';
      changes = { channelTxnId: outcome.channelTxnId, businessDate: tx.openDay(), ...(outcome.feeMinor !== undefined && outcome.feeMinor <= p.amountMinor - p.feeMinor ? { costMinor: outcome.feeMinor } : {}) };
      break;
    case 'declined':
      event = 'fail';
      changes = { failureCode: outcome.declineCode, failureMessage: outcome.message };
      break;
    case 'processing':
      if (outcome.channelTxnId !== undefined || outcome.redirectUrl !== undefined) {
        tx.updatePayment(paymentId, 'processing', { channelTxnId: outcome.channelTxnId ?? p.channelTxnId, redirectUrl: outcome.redirectUrl ?? p.redirectUrl });
        return { ...p, channelTxnId: outcome.channelTxnId ?? p.channelTxnId, redirectUrl: outcome.redirectUrl ?? p.redirectUrl };
      }
      return p;
    case 'unknown':
      return p;
  }
  const to = nextPaymentStatus(p.status, event);
  if (!to) throw new Error(`no transition from ${p.status} on ${event}`);
  tx.updatePayment(paymentId, 'processing', { ...changes, status: to });
  const updated: PaymentRecord = { ...p, ...changes, status: to, updatedAtMs: tx.nowMs };
  if (to === 'succeeded') postOrRefuse(tx, paymentEntry(updated, tx));
  tx.publish({ topic: `payment.${to}`, aggregateId: paymentId, merchantId: p.merchantId, payload: paymentView(updated) });
  return updated;
}

/** Closes a payment that waited for the payer past its expiry (the seed's guard against cached pay URLs). */
export function closeExpired(tx: OnlineTx, paymentId: string): PaymentRecord | undefined {
  const p = tx.payment(null, paymentId);
  if (!p || p.status !== 'processing' || p.expiresAtMs === null || p.expiresAtMs > tx.nowMs) return undefined;
  const to = nextPaymentStatus(p.status, 'expire');
  if (!to || !tx.updatePayment(paymentId, 'processing', { status: to, failureCode: 'order_expired', failureMessage: 'The payer did not complete the payment in time.' })) return undefined;
  const closed: PaymentRecord = { ...p, status: to, failureCode: 'order_expired', updatedAtMs: tx.nowMs };
  tx.publish({ topic: 'payment.closed', aggregateId: paymentId, merchantId: p.merchantId, payload: paymentView(closed) });
  return closed;
}

/** Applies a channel's answer to a processing refund: success posts the refund entry. */
export function applyRefundOutcome(tx: OnlineTx, refundId: string, outcome: ChannelOutcome): RefundRecord {
  const r = tx.refund(null, refundId);
  if (!r) throw new Error(`refund ${refundId} vanished`);
  if (r.status !== 'processing' || outcome.status === 'processing' || outcome.status === 'unknown') return r;
  const p = tx.payment(null, r.paymentId);
  if (!p) throw new Error(`payment ${r.paymentId} vanished`);
  if (outcome.status === 'declined') {
    const to = nextRefundStatus(r.status, 'fail') ?? 'failed';
    tx.updateRefund(refundId, 'processing', { status: to, failureCode: outcome.declineCode, failureMessage: outcome.message });
    tx.updatePayment(p.paymentId, p.status, { refundReservedMinor: p.refundReservedMinor - r.amountMinor });
    const failed = { ...r, status: to, failureCode: outcome.declineCode, failureMessage: outcome.message };
    tx.publish({ topic: 'refund.failed', aggregateId: refundId, merchantId: r.merchantId, payload: refundView(failed) });
    return failed;
  }
  const feeReturned = proportionalShare(p.feeMinor, p.amountMinor, p.refundedMinor, r.amountMinor);
  const costReturned = proportionalShare(p.costMinor, p.amountMinor, p.refundedMinor, r.amountMinor);
  const refundedAfter = p.refundedMinor + r.amountMinor;
  const paymentTo = nextPaymentStatus(p.status, refundedAfter === p.amountMinor ? 'refund_all' : 'refund_part');
  if (!paymentTo) throw new Error(`payment ${p.paymentId} is ${p.status} with a refund in flight`);
  tx.updatePayment(p.paymentId, p.status, { status: paymentTo, refundedMinor: refundedAfter, refundReservedMinor: p.refundReservedMinor - r.amountMinor });
  tx.updateRefund(refundId, 'processing', { status: 'succeeded', channelTxnId: outcome.channelTxnId, feeReturnedMinor: feeReturned, costReturnedMinor: costReturned });
  const roles = paymentRoles(p, tx);
  postOrRefuse(tx, {
    type: 'entry',
    id: `refund.${refundId}`,
    eventType: 'refund.succeeded',
    reference: refundId,
    memo: `refund ${r.merchantRefundNo} of ${p.merchantOrderNo}`,
    postings: postingsFor('refund.succeeded', { grossMinor: r.amountMinor, feeMinor: feeReturned, costMinor: costReturned }, roles, p.currency),
  });
  const done: RefundRecord = { ...r, status: 'succeeded', channelTxnId: outcome.channelTxnId, feeReturnedMinor: feeReturned, costReturnedMinor: costReturned, updatedAtMs: tx.nowMs };
  tx.publish({ topic: 'refund.succeeded', aggregateId: refundId, merchantId: r.merchantId, payload: refundView(done) });
  return done;
}
