// Pre-authorisation (预授权), its void (预授权撤销), completion (预授权完成, partial allowed, at most the
// authorised amount) and completion void (预授权完成撤销: full; the pre-authorisation is valid again).
// The ledger holds the authorised amount as a two-phase hold; a capture posts part of it and releases
// the rest; a capture void reverses the capture and places a new hold.

import { postingsFor, type EntryCommand } from '../../ledger/index.js';
import type { ChannelOutcome, ChannelPort } from '../channels/port.js';
import { feeRateFor, type OnlineConfig } from '../config.js';
import { apiFailure, type ApiFailure } from '../errors.js';
import type { CaptureRecord, OnlineStore, OnlineTx, PreauthRecord } from '../port.js';
import { accounts, ensure } from './accounts.js';
import { outcomeFailure, twoStep } from './operations.js';
import { applyRate } from '../../ledger/index.js';
import { newId, postOrRefuse, Refusal, routeFor, shown, type ApiResult, type Caller, type Idem } from './service.js';
import { nextPreauthStatus } from './state.js';
import { parseBody, type RequestSchema } from './validate.js';

const REF = /^[A-Za-z0-9_.:-]{1,64}$/;

export const PREAUTH_SCHEMA = {
  merchant_order_no: { kind: 'string', required: true, pattern: REF, description: 'Your order number; unique per merchant.' },
  amount: { kind: 'amount', required: true, description: 'The amount to authorise, integer minor units.' },
  currency: { kind: 'currency', required: true, description: 'ISO 4217 code.' },
  payer_id: { kind: 'string', required: false, pattern: REF, description: 'The card holder, for your records.' },
  description: { kind: 'string', required: false, maxLength: 256, description: 'Shown to the card holder where supported.' },
} as const satisfies RequestSchema;

export const CAPTURE_SCHEMA = {
  amount: { kind: 'amount', required: false, description: 'At most the authorised amount; the whole of it when left out.' },
} as const satisfies RequestSchema;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function preauthView(p: PreauthRecord): Record<string, unknown> {
  return {
    id: p.preauthId,
    object: 'preauth',
    merchant_order_no: p.merchantOrderNo,
    amount: Number(p.amountMinor),
    currency: p.currency,
    status: p.status,
    captured_amount: Number(p.capturedMinor),
    capture_id: p.captureId,
    /** A capture or void sent to the channel and not yet answered (other operations wait for it). */
    pending_operation: p.pendingOp === null ? null : (p.pendingOp.split(':')[0] ?? null),
    channel: p.channelId,
    channel_txn_id: p.channelTxnId,
    payer_id: p.payerId,
    expires_at: iso(p.expiresAtMs),
    failure_code: p.failureCode,
    failure_message: p.failureMessage,
    created_at: iso(p.createdAtMs),
    updated_at: iso(p.updatedAtMs),
  };
}

export function captureView(c: CaptureRecord): Record<string, unknown> {
  return {
    id: c.captureId,
    object: 'capture',
    preauth_id: c.preauthId,
    amount: Number(c.amountMinor),
    currency: c.currency,
    status: c.status,
    fee: Number(c.feeMinor),
    created_at: iso(c.createdAtMs),
    updated_at: iso(c.updatedAtMs),
  };
}

function holdEntry(tx: OnlineTx, p: PreauthRecord, id: string, expiresAtMs: number): EntryCommand {
  const [receivable, payable] = ensure(tx, accounts.channelReceivable(p.channelId ?? '', p.currency), accounts.merchantPayable(p.merchantId, p.currency));
  return {
    type: 'entry',
    id,
    eventType: 'preauth.held',
    reference: p.preauthId,
    memo: `pre-authorisation ${p.merchantOrderNo}`,
    expiresAtMs,
    postings: postingsFor('preauth.held', { grossMinor: p.amountMinor }, { channel_receivable: receivable, merchant_payable: payable }, p.currency),
  };
}

/** The fee and channel cost of a capture, booked beside the posted hold (payment.succeeded minus the gross part). */
function captureFeeEntry(tx: OnlineTx, c: CaptureRecord, channelId: string): EntryCommand | undefined {
  if (c.feeMinor === 0n && c.costMinor === 0n) return undefined;
  const [payable, fee, receivable, cost] = ensure(
    tx,
    accounts.merchantPayable(c.merchantId, c.currency),
    accounts.feeIncome(c.currency),
    accounts.channelReceivable(channelId, c.currency),
    accounts.channelCost(c.currency),
  );
  const postings = [
    ...(c.feeMinor > 0n ? [{ accountId: payable, side: 'debit' as const, amountMinor: c.feeMinor, currency: c.currency }, { accountId: fee, side: 'credit' as const, amountMinor: c.feeMinor, currency: c.currency }] : []),
    ...(c.costMinor > 0n ? [{ accountId: cost, side: 'debit' as const, amountMinor: c.costMinor, currency: c.currency }, { accountId: receivable, side: 'credit' as const, amountMinor: c.costMinor, currency: c.currency }] : []),
  ];
  return { type: 'entry', id: `capfee.${c.captureId}`, eventType: 'capture.fee', reference: c.captureId, memo: 'fee and channel cost of a capture', postings };
}

export class PreauthService {
  constructor(
    private readonly store: OnlineStore,
    private readonly config: OnlineConfig,
    private readonly channels: ReadonlyMap<string, ChannelPort>,
    private readonly clock: () => number,
  ) {}

  private port(id: string | null): ChannelPort {
    const port = id === null ? undefined : this.channels.get(id);
    if (!port) throw new Refusal(apiFailure('channel_unavailable', `Channel ${String(id)} is not connected.`));
    return port;
  }

  async create(caller: Caller, idem: Idem, raw: unknown): Promise<ApiResult> {
    const parsed = parseBody(PREAUTH_SCHEMA, raw);
    if (!parsed.ok) return parsed;
    const f = parsed.value;
    if (!caller.products.includes('foreign_card') && !caller.products.includes('quick')) {
      return apiFailure('product_not_enabled', `Pre-authorisation is not enabled for ${caller.merchantId}.`);
    }
    const route = routeFor(this.config, 'preauth', f.currency);
    if (!route || !this.channels.get(route.id)) return apiFailure('channel_unavailable', `No channel serves pre-authorisation in ${f.currency}.`);
    const nowMs = this.clock();
    const record: PreauthRecord = {
      preauthId: newId('pa', nowMs),
      merchantId: caller.merchantId,
      merchantOrderNo: f.merchant_order_no,
      amountMinor: f.amount,
      currency: f.currency,
      status: 'processing',
      channelId: route.id,
      channelTxnId: null,
      payerId: f.payer_id ?? null,
      holdEntryId: null,
      capturedMinor: 0n,
      captureId: null,
      pendingOp: null,
      expiresAtMs: nowMs + this.config.preauth_expiry_s * 1000,
      failureCode: null,
      failureMessage: null,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    return twoStep(this.store, caller, idem, {
      prepare: (tx) => {
        if (tx.insertPreauth(record) === 'duplicate') throw new Refusal(apiFailure('merchant_order_no_duplicate', `merchant_order_no ${record.merchantOrderNo} exists.`));
        return { resourceId: record.preauthId, record };
      },
      call: (p) => this.port(p.channelId).preauth({ reference: p.preauthId, product: 'preauth', amountMinor: p.amountMinor, currency: p.currency, payerId: p.payerId ?? undefined }),
      complete: (tx, outcome, p) => ({ httpStatus: 201, view: preauthView(applyPreauthOutcome(tx, p.preauthId, outcome)) }),
    });
  }

  async capture(caller: Caller, idem: Idem, preauthId: string, raw: unknown): Promise<ApiResult> {
    const parsed = parseBody(CAPTURE_SCHEMA, raw ?? {});
    if (!parsed.ok) return parsed;
    const captureId = newId('cap', this.clock());
    return twoStep(this.store, caller, idem, {
      prepare: (tx) => {
        const p = authorized(tx, caller.merchantId, preauthId, null);
        const amount = parsed.value.amount ?? p.amountMinor;
        if (amount > p.amountMinor) throw new Refusal(apiFailure('preauth_capture_exceeds', `At most ${p.amountMinor} minor units were authorised.`));
        tx.updatePreauth(preauthId, p.status, { pendingOp: `capture:${captureId}:${amount}` });
        return { resourceId: captureId, record: { preauth: p, amount } };
      },
      call: ({ preauth, amount }) => this.port(preauth.channelId).capture({ reference: captureId, originalReference: preauthId, amountMinor: amount, currency: preauth.currency }),
      complete: (tx, outcome, { amount }) => settleCapture(tx, this.config, caller.merchantId, preauthId, captureId, amount, outcome),
    });
  }

  async void(caller: Caller, idem: Idem, preauthId: string, raw: unknown): Promise<ApiResult> {
    const parsed = parseBody({}, raw ?? {});
    if (!parsed.ok) return parsed;
    return twoStep(this.store, caller, idem, {
      prepare: (tx) => {
        const p = authorized(tx, caller.merchantId, preauthId, null);
        tx.updatePreauth(preauthId, p.status, { pendingOp: 'void' });
        return { resourceId: preauthId, record: p };
      },
      call: (p) => this.port(p.channelId).preauthVoid({ reference: `pavoid.${p.holdEntryId ?? preauthId}`, originalReference: preauthId, amountMinor: p.amountMinor, currency: p.currency }),
      complete: (tx, outcome) => settlePreauthVoid(tx, caller.merchantId, preauthId, outcome),
    });
  }

  async voidCapture(caller: Caller, idem: Idem, captureId: string, raw: unknown): Promise<ApiResult> {
    const parsed = parseBody({}, raw ?? {});
    if (!parsed.ok) return parsed;
    return twoStep(this.store, caller, idem, {
      prepare: (tx) => {
        const record = capturedBy(tx, caller.merchantId, captureId, null);
        tx.updatePreauth(record.preauth.preauthId, 'captured', { pendingOp: 'capture_void' });
        return { resourceId: captureId, record };
      },
      call: ({ capture, preauth }) =>
        this.port(preauth.channelId).captureVoid({ reference: `capvoid.${captureId}`, originalReference: captureId, amountMinor: capture.amountMinor, currency: capture.currency }),
      complete: (tx, outcome) => settleCaptureVoid(tx, caller.merchantId, captureId, outcome),
    });
  }

  async get(caller: Caller, preauthId: string): Promise<ApiResult> {
    const p = await this.store.read((tx) => tx.preauth(caller.merchantId, preauthId));
    return shown(p, preauthView, `pre-authorisation ${preauthId}`);
  }

  async getCapture(caller: Caller, captureId: string): Promise<ApiResult> {
    const c = await this.store.read((tx) => tx.capture(caller.merchantId, captureId));
    return shown(c, captureView, `capture ${captureId}`);
  }
}

/** An authorised pre-authorisation; `channelConfirmed` when the channel already acted (no expiry check). */
function authorized(tx: OnlineTx, merchantId: string | null, preauthId: string, expectedPendingOp: string | null, channelConfirmed = false): PreauthRecord {
  const p = tx.preauth(merchantId, preauthId);
  if (!p) throw new Refusal(apiFailure('not_found', `No pre-authorisation ${preauthId}.`));
  if (p.status !== 'authorized') throw new Refusal(apiFailure('illegal_transition', `Pre-authorisation ${preauthId} is ${p.status}.`));
  if (p.pendingOp !== expectedPendingOp) throw new Refusal(apiFailure('illegal_transition', `Pre-authorisation ${preauthId} has a ${String(p.pendingOp)} in progress.`));
  if (!channelConfirmed && p.expiresAtMs <= tx.nowMs) throw new Refusal(apiFailure('illegal_transition', `Pre-authorisation ${preauthId} expired.`));
  return p;
}

/** Applies the channel's answer to a processing pre-authorisation: success places the ledger hold. */
export function applyPreauthOutcome(tx: OnlineTx, preauthId: string, outcome: Parameters<typeof outcomeFailure>[0] | { status: 'succeeded'; channelTxnId: string }): PreauthRecord {
  const p = tx.preauth(null, preauthId);
  if (!p) throw new Error(`pre-authorisation ${preauthId} vanished`);
  if (p.status !== 'processing') return p;
  if (outcome.status === 'succeeded') {
    const holdId = `auth.${preauthId}`;
    postOrRefuse(tx, holdEntry(tx, p, holdId, p.expiresAtMs));
    tx.updatePreauth(preauthId, 'processing', { status: 'authorized', channelTxnId: outcome.channelTxnId, holdEntryId: holdId });
    const done = { ...p, status: 'authorized' as const, channelTxnId: outcome.channelTxnId, holdEntryId: holdId, updatedAtMs: tx.nowMs };
    tx.publish({ topic: 'preauth.authorized', aggregateId: preauthId, merchantId: p.merchantId, payload: preauthView(done) });
    return done;
  }
  if (outcome.status === 'declined') {
    tx.updatePreauth(preauthId, 'processing', { status: 'failed', failureCode: outcome.declineCode, failureMessage: outcome.message });
    return { ...p, status: 'failed', failureCode: outcome.declineCode, failureMessage: outcome.message };
  }
  return p;
}

/** Marks authorised pre-authorisations past their expiry as expired (the ledger sweep releases the holds). */
export function expirePreauth(tx: OnlineTx, preauthId: string): boolean {
  const p = tx.preauth(null, preauthId);
  // Not while a capture or void is out at the channel: its answer decides.
  if (!p || p.status !== 'authorized' || p.expiresAtMs > tx.nowMs || p.pendingOp !== null) return false;
  return tx.updatePreauth(preauthId, 'authorized', { status: 'expired' });
}

type Settled = { readonly httpStatus: number; readonly view: unknown } | ApiFailure;

/**
 * What a follow-up operation leaves when the channel did not confirm it: a decline frees the object for
 * other operations; an unknown answer keeps it blocked (the operation may have happened at the channel)
 * until recovery asks the channel.
 */
function unconfirmed(tx: OnlineTx, preauthId: string, from: PreauthRecord['status'], outcome: Exclude<ChannelOutcome, { status: 'succeeded' }>, what: string): ApiFailure {
  if (outcome.status === 'declined') tx.updatePreauth(preauthId, from, { pendingOp: null });
  return outcomeFailure(outcome, what);
}

/** The second step of a capture (also run by recovery): books the capture once the channel confirmed it. */
export function settleCapture(tx: OnlineTx, config: OnlineConfig, merchantId: string | null, preauthId: string, captureId: string, amount: bigint, outcome: ChannelOutcome): Settled {
  if (outcome.status !== 'succeeded') return unconfirmed(tx, preauthId, 'authorized', outcome, 'The capture was not confirmed');
  // The channel has captured: book it even if the hold expired meanwhile.
  const p = authorized(tx, merchantId, preauthId, `capture:${captureId}:${amount}`, true);
  const to = nextPreauthStatus(p.status, 'capture');
  if (!to || p.holdEntryId === null) throw new Refusal(apiFailure('illegal_transition', `Pre-authorisation ${preauthId} is ${p.status}.`));
  const capture: CaptureRecord = {
    captureId,
    preauthId,
    merchantId: p.merchantId,
    amountMinor: amount,
    currency: p.currency,
    status: 'succeeded',
    feeMinor: applyRate(amount, feeRateFor(config, 'foreign_card'), 'half_up'),
    costMinor: applyRate(amount, config.channels.find((c) => c.id === p.channelId)?.cost_rate ?? '0', 'half_up'),
    createdAtMs: tx.nowMs,
    updatedAtMs: tx.nowMs,
  };
  tx.insertCapture(capture);
  tx.updatePreauth(preauthId, p.status, { status: to, capturedMinor: amount, captureId, pendingOp: null });
  const posted = tx.post({ type: 'post_hold', id: `cap.${captureId}`, holdId: p.holdEntryId, amountMinor: amount, memo: `capture of ${p.merchantOrderNo}` });
  if (!posted.ok && posted.code === 'hold_expired') {
    // The hold ran out while the channel worked (the expiry sweep releases it): book the capture as a
    // plain entry instead, with the same id, so a capture void can still reverse it.
    const [receivable, payable] = ensure(tx, accounts.channelReceivable(p.channelId ?? '', p.currency), accounts.merchantPayable(p.merchantId, p.currency));
    postOrRefuse(tx, {
      type: 'entry',
      id: `cap.${captureId}`,
      eventType: 'preauth.captured',
      reference: captureId,
      memo: `capture of ${p.merchantOrderNo} after its hold expired`,
      postings: postingsFor('preauth.held', { grossMinor: amount }, { channel_receivable: receivable, merchant_payable: payable }, p.currency),
    });
  } else if (!posted.ok) {
    throw new Error(`ledger refused the capture ${captureId}: ${posted.code}: ${posted.message}`);
  }
  const fee = captureFeeEntry(tx, capture, p.channelId ?? '');
  if (fee) postOrRefuse(tx, fee);
  tx.publish({ topic: 'preauth.captured', aggregateId: preauthId, merchantId: p.merchantId, payload: captureView(capture) });
  return { httpStatus: 201, view: captureView(capture) };
}

/** The second step of a pre-authorisation void (also run by recovery). */
export function settlePreauthVoid(tx: OnlineTx, merchantId: string | null, preauthId: string, outcome: ChannelOutcome): Settled {
  if (outcome.status !== 'succeeded') return unconfirmed(tx, preauthId, 'authorized', outcome, 'The pre-authorisation void was not confirmed');
  const p = authorized(tx, merchantId, preauthId, 'void', true);
  const to = nextPreauthStatus(p.status, 'void');
  if (!to || p.holdEntryId === null) throw new Refusal(apiFailure('illegal_transition', `Pre-authorisation ${preauthId} is ${p.status}.`));
  tx.updatePreauth(preauthId, p.status, { status: to, pendingOp: null });
  const released = tx.post({ type: 'void_hold', id: `void.${p.holdEntryId}`, holdId: p.holdEntryId, memo: `pre-authorisation void of ${p.merchantOrderNo}` });
  // A hold that expired meanwhile is released by the expiry sweep; nothing else to undo.
  if (!released.ok && released.code !== 'hold_expired') throw new Error(`ledger refused the void of ${p.holdEntryId}: ${released.code}`);
  const voided = { ...p, status: to, updatedAtMs: tx.nowMs };
  tx.publish({ topic: 'preauth.voided', aggregateId: preauthId, merchantId: p.merchantId, payload: preauthView(voided) });
  return { httpStatus: 200, view: preauthView(voided) };
}

/** A succeeded capture whose pre-authorisation is captured by it, with the expected operation in flight. */
function capturedBy(tx: OnlineTx, merchantId: string | null, captureId: string, expectedPendingOp: string | null): { capture: CaptureRecord; preauth: PreauthRecord } {
  const c = tx.capture(merchantId, captureId);
  if (!c) throw new Refusal(apiFailure('not_found', `No capture ${captureId}.`));
  const p = tx.preauth(merchantId, c.preauthId);
  if (c.status !== 'succeeded' || !p || p.status !== 'captured' || p.captureId !== captureId || p.pendingOp !== expectedPendingOp) {
    throw new Refusal(apiFailure('illegal_transition', `Capture ${captureId} is ${c.status}${p?.pendingOp ? `, with a ${p.pendingOp} in progress` : ''}.`));
  }
  return { capture: c, preauth: p };
}

/** The second step of a capture void (also run by recovery): the pre-authorisation is valid again. */
export function settleCaptureVoid(tx: OnlineTx, merchantId: string | null, captureId: string, outcome: ChannelOutcome): Settled {
  if (outcome.status !== 'succeeded') {
    const c = tx.capture(merchantId, captureId);
    return unconfirmed(tx, c?.preauthId ?? '', 'captured', outcome, 'The capture void was not confirmed');
  }
  const { capture, preauth } = capturedBy(tx, merchantId, captureId, 'capture_void');
  const to = nextPreauthStatus(preauth.status, 'capture_voided');
  if (!to) throw new Refusal(apiFailure('illegal_transition', `Pre-authorisation ${preauth.preauthId} is ${preauth.status}.`));
  postOrRefuse(tx, { type: 'reverse', id: `capvoid.${captureId}`, entryId: `cap.${captureId}`, memo: 'capture void (预授权完成撤销)' });
  if (capture.feeMinor > 0n || capture.costMinor > 0n) postOrRefuse(tx, { type: 'reverse', id: `capfeevoid.${captureId}`, entryId: `capfee.${captureId}` });
  // The pre-authorisation is valid again: a new hold for the authorised amount, until its original expiry.
  const newHold = `auth.${captureId}.renewed`;
  postOrRefuse(tx, holdEntry(tx, preauth, newHold, Math.max(preauth.expiresAtMs, tx.nowMs + 60_000)));
  tx.updateCapture(captureId, 'succeeded', { status: 'voided' });
  tx.updatePreauth(preauth.preauthId, preauth.status, { status: to, capturedMinor: 0n, captureId: null, holdEntryId: newHold, pendingOp: null });
  const voided: CaptureRecord = { ...capture, status: 'voided', updatedAtMs: tx.nowMs };
  tx.publish({ topic: 'capture.voided', aggregateId: captureId, merchantId: capture.merchantId, payload: captureView(voided) });
  return { httpStatus: 200, view: captureView(voided) };
}
