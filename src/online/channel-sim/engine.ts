// What a channel does with a request, apart from HTTP: parse, replay by reference, apply the business
// rules, the magic amounts and the random knobs, record the transaction, and complete asynchronous
// operations later (with a notification). The server turns an Answer into HTTP; this module decides it.

import { createHash } from 'node:crypto';
import type { ChannelOperation } from '../channels/port.js';
import { applyBehaviourPatch, type BehaviourPatch, type ChannelBehaviour, type MutatingOperation, type SimChannel, type SimConfig } from './config.js';
import { draw } from './draws.js';
import { magicEffectOf } from './magic-amounts.js';
import type { Notifier } from './notifier.js';
import { outcomeJson, parseRequest, type ParsedRequest } from './protocol.js';
import {
  businessDateOf,
  decidePay,
  decidePayout,
  decideCapture,
  decidePreauthVoid,
  decideRefund,
  decideUnsign,
  decideVoid,
  DECLINE_CODES,
  isAsync,
  ORIGINAL_OPERATIONS,
  wantsRedirect,
  type Decision,
  type DeclineCode,
} from './rules.js';
import type { NewTxn, SimStore, SimTxn } from './store.js';
import type { Timers } from './timers.js';

export type Answer =
  /** Answer with this JSON and status code. */
  | { readonly kind: 'json'; readonly statusCode: number; readonly body: Record<string, unknown> }
  /** Applied and recorded; the answer is held past the client's timeout, or the socket reset. */
  | { readonly kind: 'timeout'; readonly body: Record<string, unknown> }
  /** Applied and recorded; the answer is not JSON. */
  | { readonly kind: 'garbage' }
  /** 503, nothing recorded. */
  | { readonly kind: 'unavailable'; readonly message: string };

export interface ChannelState {
  readonly channel: SimChannel;
  behaviour: ChannelBehaviour;
}

export interface EngineOptions {
  readonly config: SimConfig;
  readonly seed: string;
  readonly store: SimStore;
  readonly timers: Timers;
  readonly notifier: Notifier;
  readonly clock: () => number;
  /** The simulator's own base URL, for cashier (redirect) links. */
  readonly publicUrl: () => string;
}

const json = (statusCode: number, body: Record<string, unknown>): Answer => ({ kind: 'json', statusCode, body });
const failure = (statusCode: number, code: string, message: string): Answer => json(statusCode, { error: { code, message } });

/** Operations where the decline_rate knob applies (a business decline of the payer's money). */
const RANDOM_DECLINE_OPERATIONS: readonly MutatingOperation[] = ['pay', 'preauth', 'payout'];

export class SimEngine {
  private readonly channels = new Map<string, ChannelState>();

  constructor(private readonly o: EngineOptions) {
    for (const channel of o.config.channels) this.channels.set(channel.id, { channel, behaviour: channel.behaviour });
  }

  channel(id: string): ChannelState | undefined {
    return this.channels.get(id);
  }

  allChannels(): ChannelState[] {
    return [...this.channels.values()];
  }

  patchBehaviour(id: string, patch: BehaviourPatch): ChannelState | undefined {
    const state = this.channels.get(id);
    if (state) state.behaviour = applyBehaviourPatch(state.behaviour, patch);
    return state;
  }

  /** Whether the channel is down now (outage knob). */
  inOutage(state: ChannelState): boolean {
    const outage = state.behaviour.outage;
    if (typeof outage === 'boolean') return outage;
    const now = this.o.clock();
    return outage.fromMs <= now && now < outage.toMs;
  }

  redirectUrlOf(t: SimTxn): string {
    return `${this.o.publicUrl()}/cashier/${encodeURIComponent(t.channelId)}/${encodeURIComponent(t.channelTxnId)}`;
  }

  private answerOf(state: ChannelState, t: SimTxn, replayed: boolean): Record<string, unknown> {
    const redirect = t.status === 'processing' && wantsRedirect(state.channel, t.operation, t.product) ? this.redirectUrlOf(t) : undefined;
    return outcomeJson(t, redirect, replayed);
  }

  execute(state: ChannelState, operation: ChannelOperation, raw: unknown): Answer {
    const parsed = parseRequest(operation, raw);
    if (!parsed.ok) return failure(400, parsed.code, parsed.message);
    const req = parsed.request;
    if (req.operation === 'query') {
      const t = this.o.store.find(state.channel.id, req.body.operation, req.body.reference);
      return json(200, t ? this.answerOf(state, t, true) : { status: 'not_found', reference: req.body.reference, operation: req.body.operation });
    }
    if (req.operation === 'balance') return json(200, { channel: state.channel.id, balances: this.balances(state.channel) });
    const op = req.operation;
    if (!state.channel.operations.includes(op)) {
      // Not recorded: the channel never took it on.
      const message = `${state.channel.id} (${state.channel.kind}) does not do ${op}. ${DECLINE_CODES.operation_not_supported}`;
      const reference = req.body.reference;
      return json(200, { status: 'declined', channel: state.channel.id, operation: op, reference, decline_code: 'operation_not_supported', message });
    }

    const existing = this.o.store.find(state.channel.id, op, req.body.reference);
    if (existing) return json(200, this.answerOf(state, existing, true));

    const magic = req.amountMinor === undefined ? undefined : magicEffectOf(req.amountMinor);
    if (magic?.kind === 'unavailable') return { kind: 'unavailable', message: 'The channel is unavailable (magic amount ending in 62).' };

    const magicDecline = magic?.kind === 'decline' ? magic : undefined;
    const t = this.o.store.transaction(() => this.o.store.find(state.channel.id, op, req.body.reference) ?? this.record(state, req, magicDecline));
    if (t.status === 'processing') this.scheduleCompletion(state, t);

    const body = this.answerOf(state, t, false);
    const timedOut = magic?.kind === 'timeout' || draw(this.o.seed, state.channel.id, op, t.reference, 'timeout') < state.behaviour.timeoutRate;
    if (timedOut) return { kind: 'timeout', body };
    if (magic?.kind === 'garbage') return { kind: 'garbage' };
    return json(200, body);
  }

  /** Decides and records a new operation (inside the store transaction). */
  private record(
    state: ChannelState,
    req: Exclude<ParsedRequest, { operation: 'query' | 'balance' }>,
    magicDecline: { declineCode: string; message: string } | undefined,
  ): SimTxn {
    const ch = state.channel;
    const now = this.o.clock();
    const today = businessDateOf(now, this.o.config.timeZone);
    const op = req.operation;
    let decision: Decision;
    let original: SimTxn | undefined;
    let base: Omit<NewTxn, 'status' | 'declineCode' | 'declineMessage' | 'plannedDeclineCode' | 'feeMinor' | 'completedAtMs'> = {
      channelId: ch.id,
      operation: op,
      reference: req.body.reference,
      originalOperation: null,
      originalReference: null,
      originalChannelTxnId: null,
      product: null,
      amountMinor: req.amountMinor ?? 0n,
      currency: null,
      feeRate: ch.feeRate,
      payerId: null,
      payeeName: null,
      payeeAccount: null,
      agreementToken: null,
      description: null,
      notifyUrl: null,
      createdAtMs: now,
      businessDate: today,
    };

    switch (req.operation) {
      case 'pay':
      case 'preauth': {
        const b = req.body;
        const agreement = b.agreement_token === undefined ? undefined : this.o.store.findAgreement(ch.id, b.agreement_token);
        const check = { product: b.product, currency: b.currency, payerId: b.payer_id, agreementToken: b.agreement_token };
        decision = decidePay(ch, req.operation, check, agreement, req.amountMinor);
        base = {
          ...base,
          product: b.product,
          currency: b.currency,
          payerId: b.payer_id ?? agreement?.payerId ?? null,
          agreementToken: b.agreement_token ?? null,
          description: b.description ?? null,
          notifyUrl: b.notify_url ?? null,
        };
        break;
      }
      case 'refund':
      case 'void':
      case 'capture':
      case 'preauth_void':
      case 'capture_void': {
        const b = req.body;
        const originalOps = ORIGINAL_OPERATIONS[req.operation] ?? [];
        for (const oop of originalOps) {
          original = this.o.store.find(ch.id, oop, b.original_reference);
          if (original) break;
        }
        const followUps = original ? this.o.store.followUps(ch.id, original.operation, original.reference) : [];
        const captureVoided = (capture: SimTxn): boolean =>
          this.o.store.followUps(ch.id, 'capture', capture.reference).some((f) => f.operation === 'capture_void' && f.status !== 'declined');
        decision =
          req.operation === 'refund'
            ? decideRefund(original, followUps, req.amountMinor, b.currency)
            : req.operation === 'void' || req.operation === 'capture_void'
              ? decideVoid(original, followUps, req.amountMinor, b.currency, today)
              : req.operation === 'capture'
                ? decideCapture(ch, original, followUps, captureVoided, req.amountMinor, b.currency)
                : decidePreauthVoid(original, followUps, captureVoided, req.amountMinor, b.currency);
        base = {
          ...base,
          originalOperation: original?.operation ?? originalOps[0] ?? null,
          originalReference: b.original_reference,
          originalChannelTxnId: original?.channelTxnId ?? null,
          product: original?.product ?? null,
          currency: b.currency,
          payerId: original?.payerId ?? null,
          notifyUrl: original?.notifyUrl ?? null,
        };
        break;
      }
      case 'sign': {
        const b = req.body;
        const token = `agr_${createHash('sha256').update(`${ch.id}\n${b.reference}`).digest('hex').slice(0, 24)}`;
        decision = { accept: true, feeMinor: 0n };
        base = { ...base, payerId: b.payer_id, agreementToken: token, description: b.account_hint ?? null };
        this.o.store.insertAgreement({
          channelId: ch.id,
          agreementToken: token,
          payerId: b.payer_id,
          accountHint: b.account_hint ?? null,
          status: 'active',
          signReference: b.reference,
          createdAtMs: now,
        });
        break;
      }
      case 'unsign': {
        const agreement = this.o.store.findAgreement(ch.id, req.body.agreement_token);
        decision = decideUnsign(agreement);
        if (decision.accept) this.o.store.terminateAgreement(ch.id, req.body.agreement_token, now);
        base = { ...base, agreementToken: req.body.agreement_token, payerId: agreement?.payerId ?? null };
        break;
      }
      case 'payout': {
        const b = req.body;
        decision = decidePayout(ch, b.currency, req.amountMinor, this.availableMinor(ch, b.currency));
        base = { ...base, currency: b.currency, payeeName: b.payee_name, payeeAccount: b.payee_account, notifyUrl: b.notify_url ?? null };
        break;
      }
    }

    // Magic amounts and the decline knob only matter for what the rules let through.
    let later: { declineCode: string; message: string } | undefined;
    if (decision.accept) {
      if (magicDecline) later = magicDecline;
      else if (RANDOM_DECLINE_OPERATIONS.includes(op) && draw(this.o.seed, ch.id, op, req.body.reference, 'decline') < state.behaviour.declineRate) {
        later = { declineCode: 'insufficient_funds', message: `${DECLINE_CODES.insufficient_funds} (decline_rate)` };
      }
    }
    if (decision.accept && isAsync(ch, op, base.product)) {
      // Accepted now; the decline, if any, is told by notification when the operation completes.
      return this.o.store.insert({
        ...base,
        status: 'processing',
        declineCode: null,
        declineMessage: null,
        plannedDeclineCode: later?.declineCode ?? null,
        feeMinor: decision.feeMinor,
        completedAtMs: null,
      });
    }
    const final = !decision.accept ? decision : later ? { accept: false as const, ...later } : decision;
    return this.o.store.insert({
      ...base,
      status: final.accept ? 'succeeded' : 'declined',
      declineCode: final.accept ? null : final.declineCode,
      declineMessage: final.accept ? null : final.message,
      plannedDeclineCode: null,
      feeMinor: final.accept ? final.feeMinor : 0n,
      completedAtMs: now,
    });
  }

  private availableMinor(ch: SimChannel, currency: string): bigint {
    const net = this.o.store.nets(ch.id).find((n) => n.currency === currency)?.netMinor ?? 0n;
    return (ch.openingBalanceMinor[currency] ?? 0n) + net;
  }

  balances(ch: SimChannel): { currency: string; available_minor: string }[] {
    const nets = this.o.store.nets(ch.id);
    const currencies = [...new Set([...ch.currencies, ...Object.keys(ch.openingBalanceMinor), ...nets.map((n) => n.currency)])].sort();
    return currencies.map((currency) => ({ currency, available_minor: this.availableMinor(ch, currency).toString() }));
  }

  /** Completes a processing transaction after the channel's notify delay (none if the delay is null). */
  scheduleCompletion(state: ChannelState, t: SimTxn): void {
    const delay = state.behaviour.notifyDelayMs;
    if (delay === null) return;
    this.o.timers.schedule(Math.max(0, t.createdAtMs + delay - this.o.clock()), () => this.complete(t.txnNo, 'auto'));
  }

  /** Completes (if still processing) and notifies. `payer` choices come from the cashier page. */
  complete(txnNo: number, how: 'auto' | 'payer_paid' | 'payer_cancelled'): SimTxn | undefined {
    const t = this.o.store.byTxnNo(txnNo);
    if (!t || t.status !== 'processing') return t;
    const planned = how === 'payer_cancelled' ? 'payer_cancelled' : t.plannedDeclineCode;
    const outcome =
      planned === null
        ? { status: 'succeeded' as const }
        : { status: 'declined' as const, declineCode: planned, declineMessage: DECLINE_CODES[planned as DeclineCode] ?? 'Declined.' };
    const done = this.o.store.complete(txnNo, outcome, this.o.clock());
    if (done) this.o.notifier.enqueue(done);
    return done ?? this.o.store.byTxnNo(txnNo);
  }

  /** After a restart: schedule what was processing, resend pending notifications. */
  resume(): void {
    for (const t of this.o.store.processing()) {
      const state = this.channels.get(t.channelId);
      if (state) this.scheduleCompletion(state, t);
    }
    this.o.notifier.resume();
  }
}
