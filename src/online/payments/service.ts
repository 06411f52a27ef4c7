// Payments, refunds and voids through the seven steps: validate → route → risk → persist → call channel
// → update → publish. Steps that touch the database run as units of work (group-committed); the
// channel call happens between two units, outside any transaction. Orders left processing (a crash,
// a timeout) are finished later by the recovery loop (recovery.ts), which reuses the same `apply*` steps.

import { randomBytes } from 'node:crypto';
import { applyRate, divideRounded, postingsFor, type EntryCommand, type PostingRole } from '../../ledger/index.js';
import type { ChannelOutcome, ChannelPort } from '../channels/port.js';
import { feeRateFor, PRODUCTS, type ChannelConfig, type OnlineConfig, type Product } from '../config.js';
import { apiFailure, type ApiFailure } from '../errors.js';
import type { OnlineStore, OnlineTx, PaymentRecord, RefundRecord, RiskDecisionRecord } from '../port.js';
import { routableChannel } from '../routing/config.js';
import { expectedCost } from '../routing/router.js';
import { accounts, ensure } from './accounts.js';
import { ChannelHealth } from '../routing/health.js';
import type { RouteDecision } from '../routing/router.js';
import type { RiskAssessment, RiskSubject } from '../risk/engine.js';
import { codeMatches, issueCode, phoneHint } from '../risk/otp.js';
import { RiskRuntime } from '../risk/runtime.js';
import type { SmsPort } from '../risk/sms.js';
import { nextPaymentStatus, nextRefundStatus, type PaymentEvent } from './state.js';
import { parseEmpty, parsePaymentRequest, parseRefundRequest, parseVerifyRequest, type PaymentRequest } from './validate.js';
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
  /** Breakers and today's usage per channel (built from the config when not given). */
  readonly health?: ChannelHealth;
  /** Velocity windows and merchant day totals for the risk rules (built from the config when not given). */
  readonly risk?: RiskRuntime;
  /** Where one-time codes go; without it a challenge cannot be sent and the payment is blocked instead. */
  readonly sms?: SmsPort;
  /** Problems that must not fail a request (an SMS that could not be sent) go to the log. */
  readonly log?: (event: Record<string, unknown>) => void;
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

// ---- route and risk ----

/** The first channel that serves a product and currency, for operations not routed by cost (pre-auths, payouts). */
export function routeFor(config: OnlineConfig, product: string, currency: string): ChannelConfig | undefined {
  return config.channels.find((c) => (c.products as readonly string[]).includes(product) && c.currencies.includes(currency));
}

/** What an order keeps of its routing: every channel considered and why, and each failed attempt. */
export interface RouteRecord {
  readonly considered: RouteDecision['considered'];
  readonly rules: readonly string[];
  readonly order: readonly string[];
  readonly attempts: { readonly channel: string; readonly outcome: string; readonly atMs: number }[];
}

function riskSubject(caller: Caller, req: PaymentRequest): RiskSubject {
  const card = req.cardToken ?? req.agreementId;
  const keys: RiskSubject['keys'] = {
    ...(req.payerId !== undefined && { payer: req.payerId }),
    ...(card !== undefined && { card }),
    ...(req.deviceId !== undefined && { device: req.deviceId }),
    ...(req.clientIp !== undefined && { ip: req.clientIp }),
  };
  return { merchantId: caller.merchantId, product: req.product, currency: req.currency, amountMinor: req.amountMinor, keys };
}

/** The message a merchant sees for a blocked payment: which rules, not their thresholds. */
function blockedMessage(risk: RiskAssessment): string {
  return `Blocked by risk rules: ${[...new Set(risk.hits.filter((h) => h.verdict === 'block').map((h) => h.rule))].join(', ')}.`;
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

  /** The open business day, read at most once a second (routing usage and risk day totals key on it). */
  private async businessDay(): Promise<string> {
    const nowMs = this.deps.clock();
    if (this.day === '' || nowMs - this.dayReadAtMs > 1000) {
      this.day = await this.deps.store.read((tx) => tx.openDay());
      this.dayReadAtMs = nowMs;
    }
    return this.day;
  }
  private day = '';
  private dayReadAtMs = 0;

  private get health(): ChannelHealth {
    this.healthRuntime ??= this.deps.health ?? new ChannelHealth(this.deps.config, this.deps.clock);
    return this.healthRuntime;
  }
  private healthRuntime: ChannelHealth | undefined;

  private get risk(): RiskRuntime {
    this.riskRuntime ??= this.deps.risk ?? new RiskRuntime(this.deps.config);
    return this.riskRuntime;
  }
  private riskRuntime: RiskRuntime | undefined;

  async create(caller: Caller, idem: Idem, raw: unknown): Promise<ApiResult> {
    // 1. validate
    const parsed = parsePaymentRequest(raw);
    if (!parsed.ok) return parsed;
    const req = parsed.value;
    if (!caller.products.includes(req.product)) return apiFailure('product_not_enabled', `Product ${req.product} is not enabled for ${caller.merchantId}.`);
    const day = await this.businessDay();
    // A repeated Idempotency-Key gets its stored answer, whatever routing and risk would say by now.
    const early = await this.deps.store.read((tx) => tx.idempotency(caller.merchantId, idem.key, idem.requestHash));
    if (early.state === 'replay') return { ok: true, httpStatus: early.httpStatus, body: early.body, replayed: true };
    if (early.state === 'mismatch') return apiFailure('idempotency_key_reused', 'The Idempotency-Key was used with a different request.');
    if (early.state === 'in_flight') return apiFailure('idempotency_key_in_flight', 'A request with this Idempotency-Key is in progress.');
    const local = PRODUCTS[req.product].local;
    // Reads first; routing and risk then decide and count this attempt with no await in between, so
    // concurrent requests cannot all pass a limit on the same old counts.
    const bound = local || req.agreementId === undefined ? undefined : await this.deps.store.read((tx) => tx.agreement(caller.merchantId, req.agreementId ?? '')?.channelId);
    const payerHasPaid = this.risk.needsPayerHistory && req.payerId !== undefined ? await this.deps.store.read((tx) => tx.payerHasPaid(req.payerId ?? '')) : undefined;
    // 2. route: the cheapest healthy channel that can take it; the others stay as fallbacks
    let decision: RouteDecision | undefined;
    if (!local) {
      // An agreement was signed at one channel: only that channel can charge it.
      const routeReq = { merchantId: caller.merchantId, product: req.product, currency: req.currency, amountMinor: req.amountMinor };
      decision = this.health.decide(routeReq, day, (id) => this.deps.channels.has(id), bound);
      if (decision.order.length === 0) {
        const why = decision.considered.map((c) => `${c.channel}: ${c.reason}`).join('; ');
        return apiFailure('channel_unavailable', `No channel can take this ${req.product} payment in ${req.currency} now (${why || 'no channels configured'}).`);
      }
    }
    // 3. risk
    const subject = riskSubject(caller, req);
    const nowMs = this.deps.clock();
    let risk = this.risk.assess(subject, day, payerHasPaid, nowMs);
    if (risk.decision === 'challenge' && (req.phone === undefined || this.deps.sms === undefined)) {
      const why = req.phone === undefined ? 'a one-time code is required and the request has no phone' : 'a one-time code is required and no SMS port is configured';
      risk = { decision: 'block', hits: [{ rule: 'challenge_undeliverable', verdict: 'block', reason: why }, ...risk.hits] };
    }
    const chosen = decision?.order[0];
    const route = chosen === undefined ? undefined : this.deps.config.channels.find((c) => c.id === chosen);
    const record = this.newPayment(caller, req, route, nowMs, decision, risk);
    const otp = risk.decision === 'challenge' ? issueCode(record.paymentId, this.deps.config.risk.otp.digits) : undefined;
    let reserved: string | undefined;
    if (risk.decision !== 'block') {
      this.risk.record(subject, day, nowMs);
      if (record.channelId !== null) this.health.addUsage(day, (reserved = record.channelId), record.currency, record.amountMinor);
    }
    // 4. persist (and, for local products, settle it in the same unit)
    const first = await runUnit(this.deps.store, (tx): ApiResult | { record: PaymentRecord; agreementToken: string | undefined } => {
      const prior = priorAnswer(tx, caller, idem);
      if (prior) return prior;
      const agreementToken = req.agreementId === undefined ? undefined : checkAgreement(tx, caller.merchantId, req.agreementId, req.payerId);
      tx.recordRiskDecision(riskRecord(record, subject, risk, day));
      if (risk.decision === 'block') return this.refuseForRisk(tx, caller, idem, record, risk);
      if (otp) return this.challenge(tx, caller, idem, record, otp, req.phone ?? '');
      if (local) return this.payLocally(tx, caller, idem, record, 'insert');
      if (tx.insertPayment(record) === 'duplicate') throw new Refusal(duplicateOrder(req.merchantOrderNo));
      tx.markInFlight(caller.merchantId, idem.key, idem.requestHash, record.paymentId);
      tx.publish({ topic: 'payment.created', aggregateId: record.paymentId, merchantId: caller.merchantId, payload: paymentView(record) });
      return { record, agreementToken };
    });
    const replayed = !isFailure(first) && 'httpStatus' in first && first.replayed;
    // What this attempt reserved goes back when nothing was stored for it (the attempt still counts for velocity).
    if ((isFailure(first) || replayed) && reserved) this.health.addUsage(day, reserved, record.currency, record.amountMinor, -1);
    if (isFailure(first)) return first;
    if (otp && !replayed) await this.sendCode(record, otp.code, req.phone ?? '');
    if ('httpStatus' in first) return first;
    // 5. call the channel (outside any transaction), falling back on technical failures
    const outcome = await this.payRouted(first.record, first.agreementToken);
    // 6. update and 7. publish, and the idempotent answer
    return this.finish(caller, idem, first.record.paymentId, outcome);
  }

  /** Block: the order is stored failed with the reasons; the channel is never called. */
  private refuseForRisk(tx: OnlineTx, caller: Caller, idem: Idem, record: PaymentRecord, risk: RiskAssessment): ApiResult {
    const failed: PaymentRecord = { ...record, status: 'failed', channelId: null, costMinor: 0n, failureCode: 'risk_blocked', failureMessage: blockedMessage(risk), expiresAtMs: null };
    if (tx.insertPayment(failed) === 'duplicate') throw new Refusal(duplicateOrder(record.merchantOrderNo));
    tx.publish({ topic: 'payment.failed', aggregateId: failed.paymentId, merchantId: caller.merchantId, payload: paymentView(failed) });
    tx.publish({ topic: 'risk.blocked', aggregateId: failed.paymentId, merchantId: caller.merchantId, payload: { payment_id: failed.paymentId, hits: risk.hits } });
    return answer(tx, caller, idem, 201, paymentView(failed));
  }

  /** Challenge: the order waits for the payer's one-time code; the code is stored only hashed. */
  private challenge(tx: OnlineTx, caller: Caller, idem: Idem, record: PaymentRecord, otp: { salt: string; codeHash: string }, phone: string): ApiResult {
    const otpConfig = this.deps.config.risk.otp;
    const expiresAtMs = tx.nowMs + otpConfig.ttl_s * 1000;
    const waiting: PaymentRecord = { ...record, status: 'requires_verification', expiresAtMs };
    if (tx.insertPayment(waiting) === 'duplicate') throw new Refusal(duplicateOrder(record.merchantOrderNo));
    tx.insertChallenge({
      paymentId: record.paymentId,
      merchantId: caller.merchantId,
      codeHash: otp.codeHash,
      salt: otp.salt,
      phoneHint: phoneHint(phone),
      expiresAtMs,
      attempts: 0,
      attemptsMax: otpConfig.attempts_max,
      status: 'pending',
      createdAtMs: tx.nowMs,
      updatedAtMs: tx.nowMs,
    });
    tx.publish({ topic: 'payment.requires_verification', aggregateId: record.paymentId, merchantId: caller.merchantId, payload: paymentView(waiting) });
    return answer(tx, caller, idem, 201, paymentView(waiting));
  }

  private async sendCode(record: PaymentRecord, code: string, phone: string): Promise<void> {
    const minutes = Math.ceil(this.deps.config.risk.otp.ttl_s / 60);
    try {
      await this.deps.sms?.send({ to: phone, reference: record.paymentId, text: `Your verification code is ${code}, valid for ${minutes} min. Payment ${record.merchantOrderNo}.` });
    } catch (e) {
      this.deps.log?.({ event: 'sms_failed', payment_id: record.paymentId, error: (e as Error).message });
    }
  }

  /** POST /v1/payments/{id}/verify: the payer's one-time code continues a challenged payment. */
  async verify(caller: Caller, idem: Idem, paymentId: string, raw: unknown): Promise<ApiResult> {
    const parsed = parseVerifyRequest(raw);
    if (!parsed.ok) return parsed;
    const checked = await runUnit(this.deps.store, (tx): ApiResult | { record: PaymentRecord; agreementToken: string | undefined } => {
      const prior = priorAnswer(tx, caller, idem);
      if (prior) return prior;
      const p = tx.payment(caller.merchantId, paymentId);
      const c = p ? tx.challenge(paymentId) : undefined;
      if (!p || !c) throw new Refusal(apiFailure('not_found', `No challenged payment ${paymentId}.`));
      // Every outcome below is the final answer to this key, and a wrong code counts even though it is refused.
      const refuse = (failure: ApiFailure): ApiFailure => {
        tx.saveResponse(caller.merchantId, idem.key, idem.requestHash, failure.httpStatus, JSON.stringify({ error: { code: failure.code, message: failure.message } }));
        return failure;
      };
      if (p.status !== 'requires_verification' || c.status !== 'pending') return refuse(apiFailure('challenge_not_pending', `Payment ${paymentId} is ${p.status}; its challenge is ${c.status}.`));
      if (tx.nowMs >= c.expiresAtMs) {
        this.endChallenge(tx, p, 'expired');
        return refuse(apiFailure('challenge_expired', `The code for ${paymentId} expired; the payment is closed. Create a new payment.`));
      }
      const attempts = c.attempts + 1;
      if (!codeMatches(paymentId, c.salt, c.codeHash, parsed.value.code)) {
        tx.updateChallenge(paymentId, 'pending', { attempts });
        if (attempts >= c.attemptsMax) {
          this.endChallenge(tx, p, 'failed');
          return refuse(apiFailure('challenge_attempts_exceeded', `Wrong code ${attempts} times; payment ${paymentId} failed. Create a new payment.`));
        }
        return refuse(apiFailure('challenge_code_invalid', `Wrong code; ${c.attemptsMax - attempts} attempt(s) left.`));
      }
      tx.updateChallenge(paymentId, 'pending', { attempts, status: 'verified' });
      const expiresAtMs = PRODUCTS[p.product as Product].waitsForPayer ? tx.nowMs + this.deps.config.order_expiry_s * 1000 : null;
      if (!tx.updatePayment(paymentId, 'requires_verification', { status: 'processing', expiresAtMs })) throw new Error(`payment ${paymentId} moved inside the unit`);
      const verified: PaymentRecord = { ...p, status: 'processing', expiresAtMs };
      if (PRODUCTS[p.product as Product].local) return this.payLocally(tx, caller, idem, verified, 'update', 200);
      const agreementToken = p.agreementId === null ? undefined : checkAgreement(tx, caller.merchantId, p.agreementId, p.payerId ?? undefined);
      tx.markInFlight(caller.merchantId, idem.key, idem.requestHash, paymentId);
      tx.publish({ topic: 'payment.verified', aggregateId: paymentId, merchantId: p.merchantId, payload: paymentView(verified) });
      return { record: verified, agreementToken };
    });
    if (isFailure(checked) || 'httpStatus' in checked) return checked;
    const outcome = await this.payRouted(checked.record, checked.agreementToken);
    return runUnit(this.deps.store, (tx): ApiResult => answer(tx, caller, idem, 200, paymentView(applyPaymentOutcome(tx, paymentId, outcome))));
  }

  private endChallenge(tx: OnlineTx, p: PaymentRecord, how: 'expired' | 'failed'): void {
    tx.updateChallenge(p.paymentId, 'pending', { status: how });
    endChallengedPayment(tx, p, how);
  }

  /**
   * Calls the order's channel; on a technical failure, moves the order to the next healthy channel of
   * its route and tries again. A business decline is final. A timeout or a garbled answer may mean the
   * channel took the payment: it is asked first, and only when it has no record does the order move —
   * otherwise the payer could be charged twice.
   */
  private async payRouted(p: PaymentRecord, agreementToken: string | undefined): Promise<ChannelOutcome> {
    let current = p;
    const route = p.routeJson === null ? undefined : (JSON.parse(p.routeJson) as RouteRecord);
    for (;;) {
      const channelId = current.channelId ?? '';
      const port = this.channel(channelId);
      // The breaker is asked again right before the call: the route was decided earlier (before a
      // challenge, or before another request's failures opened it), and half-open lets one probe through.
      const kind = port ? this.health.tryBegin(channelId) : undefined;
      let outcome: ChannelOutcome;
      if (!port || kind === undefined) {
        outcome = { status: 'unknown', reason: 'unavailable', message: `channel ${channelId} is ${port ? 'refused by its circuit breaker' : 'not connected'}; not called`, notReceived: true };
      } else {
        outcome = await this.callPay(port, current, agreementToken);
        this.health.record(channelId, outcome.status !== 'unknown', kind);
      }
      if (outcome.status !== 'unknown') return outcome;
      const at = route ? route.order.indexOf(channelId) : -1;
      const next = route?.order.slice(at + 1).find((id) => this.deps.channels.has(id) && this.health.allows(id));
      // With nowhere to fall back to, the order stays processing and recovery asks the channel later (补单).
      if (!route || next === undefined || !port) return outcome;
      // Only a request that never reached the channel may go elsewhere at once; after a timeout, a 5xx or a
      // garbled answer the channel may have taken it, so it is asked first (else the payer pays twice).
      if (outcome.notReceived !== true) {
        const found = await this.queryOnce(port, current.paymentId);
        if (found.status !== 'not_found') return found.status === 'unknown' ? outcome : found;
        outcome = { ...outcome, message: `${outcome.message}; the channel has no record of it` };
      }
      const moved = await this.moveToChannel(current, route, next, `${outcome.reason}: ${outcome.message}`);
      if (!moved) return outcome;
      const day = await this.businessDay();
      this.health.addUsage(day, channelId, current.currency, current.amountMinor, -1);
      this.health.addUsage(day, next, current.currency, current.amountMinor);
      current = moved;
    }
  }

  private async queryOnce(port: ChannelPort, paymentId: string): Promise<ChannelOutcome | { readonly status: 'not_found' }> {
    try {
      return await port.query(paymentId, 'pay');
    } catch (e) {
      return { status: 'unknown', reason: 'protocol', message: (e as Error).message };
    }
  }

  /** Records the failed attempt and points the order at the next channel, if it is still processing at the old one. */
  private async moveToChannel(p: PaymentRecord, route: RouteRecord, next: string, why: string): Promise<PaymentRecord | undefined> {
    const nextConfig = this.deps.config.channels.find((c) => c.id === next);
    if (!nextConfig) return undefined;
    const moved = await runUnit(this.deps.store, (tx): PaymentRecord | undefined => {
      const now = tx.payment(null, p.paymentId);
      if (!now || now.status !== 'processing' || now.channelId !== p.channelId) return undefined;
      route.attempts.push({ channel: p.channelId ?? '', outcome: why.slice(0, 300), atMs: tx.nowMs });
      const changes = {
        channelId: next,
        costMinor: channelCost(nextConfig, p.amountMinor, p.feeMinor),
        routeJson: JSON.stringify(route),
        routeNote: `${next}: fallback after ${p.channelId ?? '?'} failed`,
      };
      if (!tx.updatePayment(p.paymentId, 'processing', changes)) return undefined;
      return { ...now, ...changes };
    });
    return isFailure(moved) ? undefined : moved;
  }

  private newPayment(caller: Caller, req: PaymentRequest, route: ChannelConfig | undefined, nowMs: number, decision: RouteDecision | undefined, risk: RiskAssessment): PaymentRecord {
    const fee = applyRate(req.amountMinor, feeRateFor(this.deps.config, req.product), 'half_up');
    const routeRecord: RouteRecord | undefined = decision && { considered: decision.considered, rules: decision.rulesApplied, order: decision.order, attempts: [] };
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
      costMinor: route ? channelCost(route, req.amountMinor, fee) : 0n,
      refundedMinor: 0n,
      refundReservedMinor: 0n,
      businessDate: null,
      failureCode: null,
      failureMessage: null,
      redirectUrl: null,
      expiresAtMs: PRODUCTS[req.product].waitsForPayer ? nowMs + this.deps.config.order_expiry_s * 1000 : null,
      routeNote: route ? `${route.id}: ${decision?.considered.find((c) => c.channel === route.id)?.reason ?? 'chosen'}` : 'local: no channel',
      routeJson: routeRecord ? JSON.stringify(routeRecord) : null,
      riskJson: JSON.stringify({ decision: risk.decision, hits: risk.hits }),
      pendingOp: null,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
  }

  /** balance, virtual_coin, credit: no channel; the payment and its entry commit together. */
  private payLocally(tx: OnlineTx, caller: Caller, idem: Idem, record: PaymentRecord, write: 'insert' | 'update', httpStatus = 201): ApiResult {
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
    if (write === 'insert') {
      if (tx.insertPayment(done) === 'duplicate') throw new Refusal(duplicateOrder(record.merchantOrderNo));
    } else if (!tx.updatePayment(done.paymentId, 'processing', { status: 'succeeded', businessDate })) {
      throw new Error(`payment ${done.paymentId} moved inside the unit`);
    }
    postOrRefuse(tx, paymentEntry(done, tx));
    tx.publish({ topic: 'payment.succeeded', aggregateId: done.paymentId, merchantId: caller.merchantId, payload: paymentView(done) });
    return answer(tx, caller, idem, httpStatus, paymentView(done));
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

/** Our expected cost at a channel; never more than what is left of the amount after our fee. */
function channelCost(channel: ChannelConfig, amountMinor: bigint, feeMinor: bigint): bigint {
  const cost = expectedCost(routableChannel(channel).cost, amountMinor);
  return cost > amountMinor - feeMinor ? 0n : cost;
}

function riskRecord(p: PaymentRecord, subject: RiskSubject, risk: RiskAssessment, businessDate: string): RiskDecisionRecord {
  return {
    paymentId: p.paymentId,
    merchantId: p.merchantId,
    decision: risk.decision,
    hits: JSON.stringify(risk.hits),
    product: p.product,
    amountMinor: p.amountMinor,
    currency: p.currency,
    payerId: subject.keys.payer ?? null,
    cardKey: subject.keys.card ?? null,
    deviceId: subject.keys.device ?? null,
    ip: subject.keys.ip ?? null,
    businessDate,
    createdAtMs: p.createdAtMs,
  };
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

/** Ends a challenged payment whose code expired (closed) or was guessed wrong too often (failed). */
export function endChallengedPayment(tx: OnlineTx, p: PaymentRecord, how: 'expired' | 'failed'): PaymentRecord | undefined {
  const to = nextPaymentStatus(p.status, how === 'expired' ? 'expire' : 'fail');
  const failureCode = how === 'expired' ? 'challenge_expired' : 'challenge_failed';
  const failureMessage = how === 'expired' ? 'The payer did not enter the one-time code in time.' : 'The payer entered a wrong one-time code too many times.';
  if (!to || !tx.updatePayment(p.paymentId, p.status, { status: to, failureCode, failureMessage })) return undefined;
  const ended: PaymentRecord = { ...p, status: to, failureCode, failureMessage, updatedAtMs: tx.nowMs };
  tx.publish({ topic: `payment.${to}`, aggregateId: p.paymentId, merchantId: p.merchantId, payload: paymentView(ended) });
  return ended;
}

/** Closes a payment that waited past its expiry: for the payer (the seed's guard against cached pay URLs) or for its one-time code. */
export function closeExpired(tx: OnlineTx, paymentId: string): PaymentRecord | undefined {
  const p = tx.payment(null, paymentId);
  if (!p || p.expiresAtMs === null || p.expiresAtMs > tx.nowMs) return undefined;
  if (p.status === 'requires_verification') {
    tx.updateChallenge(paymentId, 'pending', { status: 'expired' });
    return endChallengedPayment(tx, p, 'expired');
  }
  if (p.status !== 'processing') return undefined;
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
