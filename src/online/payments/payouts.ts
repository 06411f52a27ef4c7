// Payouts (代付: the merchant pays a payee out of its balance with us), top-ups (充值 of a user's balance
// account through a channel) and the merchant's balance at each channel (余额查询).

import { type EntryCommand } from '../../ledger/index.js';
import type { ChannelOutcome, ChannelPort } from '../channels/port.js';
import type { OnlineConfig } from '../config.js';
import { apiFailure } from '../errors.js';
import type { OnlineStore, OnlineTx, PayoutRecord, TopupRecord } from '../port.js';
import { accounts, ensure } from './accounts.js';
import { twoStep } from './operations.js';
import { newId, postOrRefuse, Refusal, routeFor, shown, type ApiResult, type Caller, type Idem } from './service.js';
import { parseBody, type RequestSchema } from './validate.js';

const REF = /^[A-Za-z0-9_.:-]{1,64}$/;

export const PAYOUT_SCHEMA = {
  merchant_payout_no: { kind: 'string', required: true, pattern: REF, description: 'Your payout number; unique per merchant.' },
  amount: { kind: 'amount', required: true, description: 'Integer minor units; at most your available balance.' },
  currency: { kind: 'currency', required: true, description: 'ISO 4217 code.' },
  payee_name: { kind: 'string', required: true, maxLength: 128, description: 'The account holder.' },
  payee_account: { kind: 'string', required: true, pattern: /^[0-9A-Za-z-]{6,34}$/, description: 'The payee bank account or IBAN.' },
} as const satisfies RequestSchema;

export const TOPUP_SCHEMA = {
  merchant_topup_no: { kind: 'string', required: true, pattern: REF, description: 'Your top-up number; unique per merchant.' },
  payer_id: { kind: 'string', required: true, pattern: REF, description: 'The user whose balance account is topped up.' },
  amount: { kind: 'amount', required: true, description: 'Integer minor units.' },
  currency: { kind: 'currency', required: true, description: 'ISO 4217 code.' },
} as const satisfies RequestSchema;

const iso = (ms: number): string => new Date(ms).toISOString();

export function payoutView(p: PayoutRecord): Record<string, unknown> {
  return {
    id: p.payoutId,
    object: 'payout',
    merchant_payout_no: p.merchantPayoutNo,
    amount: Number(p.amountMinor),
    currency: p.currency,
    status: p.status,
    channel: p.channelId,
    channel_txn_id: p.channelTxnId,
    payee_name: p.payeeName,
    payee_account: `****${p.payeeAccount.slice(-4)}`,
    failure_code: p.failureCode,
    failure_message: p.failureMessage,
    created_at: iso(p.createdAtMs),
    updated_at: iso(p.updatedAtMs),
  };
}

export function topupView(t: TopupRecord): Record<string, unknown> {
  return {
    id: t.topupId,
    object: 'topup',
    merchant_topup_no: t.merchantTopupNo,
    payer_id: t.payerId,
    amount: Number(t.amountMinor),
    currency: t.currency,
    status: t.status,
    channel: t.channelId,
    channel_txn_id: t.channelTxnId,
    failure_code: t.failureCode,
    failure_message: t.failureMessage,
    created_at: iso(t.createdAtMs),
    updated_at: iso(t.updatedAtMs),
  };
}

function payoutHold(tx: OnlineTx, p: PayoutRecord): EntryCommand {
  const [payable, reserve] = ensure(tx, accounts.merchantPayable(p.merchantId, p.currency), accounts.reserveBank(p.currency));
  return {
    type: 'entry',
    id: `payout.${p.payoutId}`,
    eventType: 'payout.held',
    reference: p.payoutId,
    memo: `payout ${p.merchantPayoutNo} reserved`,
    expiresAtMs: tx.nowMs + 30 * 24 * 3600 * 1000,
    postings: [
      { accountId: payable, side: 'debit', amountMinor: p.amountMinor, currency: p.currency },
      { accountId: reserve, side: 'credit', amountMinor: p.amountMinor, currency: p.currency },
    ],
  };
}

/** Applies a payout outcome: success posts the reserved hold, a decline voids it. */
export function applyPayoutOutcome(tx: OnlineTx, payoutId: string, outcome: ChannelOutcome): PayoutRecord {
  const p = tx.payout(null, payoutId);
  if (!p) throw new Error(`payout ${payoutId} vanished`);
  if (p.status !== 'processing') return p;
  if (outcome.status === 'succeeded') {
    postOrRefuse(tx, { type: 'post_hold', id: `payout.${payoutId}.post`, holdId: `payout.${payoutId}` });
    tx.updatePayout(payoutId, 'processing', { status: 'succeeded', channelTxnId: outcome.channelTxnId });
    const done = { ...p, status: 'succeeded' as const, channelTxnId: outcome.channelTxnId, updatedAtMs: tx.nowMs };
    tx.publish({ topic: 'payout.succeeded', aggregateId: payoutId, merchantId: p.merchantId, payload: payoutView(done) });
    return done;
  }
  if (outcome.status === 'declined') {
    postOrRefuse(tx, { type: 'void_hold', id: `payout.${payoutId}.void`, holdId: `payout.${payoutId}` });
    tx.updatePayout(payoutId, 'processing', { status: 'failed', failureCode: outcome.declineCode, failureMessage: outcome.message });
    const failed = { ...p, status: 'failed' as const, failureCode: outcome.declineCode, failureMessage: outcome.message, updatedAtMs: tx.nowMs };
    tx.publish({ topic: 'payout.failed', aggregateId: payoutId, merchantId: p.merchantId, payload: payoutView(failed) });
    return failed;
  }
  return p;
}

/** Applies a top-up outcome: success credits the user's balance account. */
export function applyTopupOutcome(tx: OnlineTx, topupId: string, outcome: ChannelOutcome): TopupRecord {
  const t = tx.topup(null, topupId);
  if (!t) throw new Error(`top-up ${topupId} vanished`);
  if (t.status !== 'processing') return t;
  if (outcome.status === 'succeeded') {
    const [receivable, balance] = ensure(tx, accounts.channelReceivable(t.channelId, t.currency), accounts.userBalance(t.payerId, t.currency));
    postOrRefuse(tx, {
      type: 'entry',
      id: `topup.${topupId}`,
      eventType: 'balance.topup',
      reference: topupId,
      memo: `top-up ${t.merchantTopupNo} of ${t.payerId}`,
      postings: [
        { accountId: receivable, side: 'debit', amountMinor: t.amountMinor, currency: t.currency },
        { accountId: balance, side: 'credit', amountMinor: t.amountMinor, currency: t.currency },
      ],
    });
    tx.updateTopup(topupId, 'processing', { status: 'succeeded', channelTxnId: outcome.channelTxnId });
    return { ...t, status: 'succeeded', channelTxnId: outcome.channelTxnId, updatedAtMs: tx.nowMs };
  }
  if (outcome.status === 'declined') {
    tx.updateTopup(topupId, 'processing', { status: 'failed', failureCode: outcome.declineCode, failureMessage: outcome.message });
    return { ...t, status: 'failed', failureCode: outcome.declineCode, failureMessage: outcome.message, updatedAtMs: tx.nowMs };
  }
  return t;
}

export class PayoutService {
  constructor(
    private readonly store: OnlineStore,
    private readonly config: OnlineConfig,
    private readonly channels: ReadonlyMap<string, ChannelPort>,
    private readonly clock: () => number,
    private readonly publicUrl: () => string,
  ) {}

  async payout(caller: Caller, idem: Idem, raw: unknown): Promise<ApiResult> {
    const parsed = parseBody(PAYOUT_SCHEMA, raw);
    if (!parsed.ok) return parsed;
    const f = parsed.value;
    const route = routeFor(this.config, 'payout', f.currency);
    const port = route ? this.channels.get(route.id) : undefined;
    if (!route || !port) return apiFailure('channel_unavailable', `No channel pays out in ${f.currency}.`);
    const nowMs = this.clock();
    const record: PayoutRecord = {
      payoutId: newId('po', nowMs),
      merchantId: caller.merchantId,
      merchantPayoutNo: f.merchant_payout_no,
      amountMinor: f.amount,
      currency: f.currency,
      status: 'processing',
      channelId: route.id,
      channelTxnId: null,
      payeeName: f.payee_name,
      payeeAccount: f.payee_account,
      failureCode: null,
      failureMessage: null,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    return twoStep(this.store, caller, idem, {
      prepare: (tx) => {
        const payable = accounts.merchantPayable(caller.merchantId, f.currency);
        ensure(tx, payable);
        const available = tx.accountBalance(payable.accountId)?.availableMinor ?? 0n;
        if (available < f.amount) throw new Refusal(apiFailure('insufficient_funds', `${caller.merchantId} has ${available} minor units available to pay out.`));
        if (tx.insertPayout(record) === 'duplicate') throw new Refusal(apiFailure('merchant_order_no_duplicate', `merchant_payout_no ${f.merchant_payout_no} exists.`));
        postOrRefuse(tx, payoutHold(tx, record));
        return { resourceId: record.payoutId, record };
      },
      call: (p) =>
        port.payout({
          reference: p.payoutId,
          amountMinor: p.amountMinor,
          currency: p.currency,
          payeeName: p.payeeName,
          payeeAccount: p.payeeAccount,
          notifyUrl: `${this.publicUrl()}/v1/channel-notifications/${p.channelId}`,
        }),
      complete: (tx, outcome, p) => ({ httpStatus: 201, view: payoutView(applyPayoutOutcome(tx, p.payoutId, outcome)) }),
    });
  }

  async getPayout(caller: Caller, payoutId: string): Promise<ApiResult> {
    const p = await this.store.read((tx) => tx.payout(caller.merchantId, payoutId));
    return shown(p, payoutView, `payout ${payoutId}`);
  }

  async topup(caller: Caller, idem: Idem, raw: unknown): Promise<ApiResult> {
    const parsed = parseBody(TOPUP_SCHEMA, raw);
    if (!parsed.ok) return parsed;
    const f = parsed.value;
    const route = routeFor(this.config, 'foreign_card', f.currency) ?? routeFor(this.config, 'quick', f.currency);
    const port = route ? this.channels.get(route.id) : undefined;
    if (!route || !port) return apiFailure('channel_unavailable', `No channel takes top-ups in ${f.currency}.`);
    const nowMs = this.clock();
    const record: TopupRecord = {
      topupId: newId('tu', nowMs),
      merchantId: caller.merchantId,
      merchantTopupNo: f.merchant_topup_no,
      payerId: f.payer_id,
      amountMinor: f.amount,
      currency: f.currency,
      status: 'processing',
      channelId: route.id,
      channelTxnId: null,
      failureCode: null,
      failureMessage: null,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    return twoStep(this.store, caller, idem, {
      prepare: (tx) => {
        if (tx.insertTopup(record) === 'duplicate') throw new Refusal(apiFailure('merchant_order_no_duplicate', `merchant_topup_no ${f.merchant_topup_no} exists.`));
        return { resourceId: record.topupId, record };
      },
      call: (t) => port.pay({ reference: t.topupId, product: 'foreign_card', amountMinor: t.amountMinor, currency: t.currency, payerId: t.payerId, description: 'balance top-up' }),
      complete: (tx, outcome, t) => ({ httpStatus: 201, view: topupView(applyTopupOutcome(tx, t.topupId, outcome)) }),
    });
  }

  async getTopup(caller: Caller, topupId: string): Promise<ApiResult> {
    const t = await this.store.read((tx) => tx.topup(caller.merchantId, topupId));
    return shown(t, topupView, `top-up ${topupId}`);
  }

  /** The balance at each channel, asked of the channels themselves (余额查询). */
  async channelBalances(): Promise<ApiResult> {
    const rows: Record<string, unknown>[] = [];
    for (const [channelId, port] of this.channels) {
      try {
        for (const b of await port.balance()) rows.push({ channel: channelId, currency: b.currency, available: Number(b.availableMinor) });
      } catch (e) {
        rows.push({ channel: channelId, error: (e as Error).message });
      }
    }
    return { ok: true, httpStatus: 200, body: JSON.stringify({ object: 'list', data: rows }), replayed: false };
  }
}
