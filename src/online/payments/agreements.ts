// Agreements (签约 / 解约 / 查询签约状态): quick pay and withholding need the payer's agreement with the
// channel; the token the channel returns is what later payments carry.

import type { ChannelPort } from '../channels/port.js';
import type { OnlineConfig } from '../config.js';
import { apiFailure } from '../errors.js';
import type { AgreementRecord, OnlineStore, OnlineTx } from '../port.js';
import { outcomeFailure, twoStep } from './operations.js';
import { newId, Refusal, routeFor, shown, type ApiResult, type Caller, type Idem } from './service.js';
import { nextAgreementStatus } from './state.js';
import { parseBody, type RequestSchema } from './validate.js';

const REF = /^[A-Za-z0-9_.:-]{1,64}$/;

export const AGREEMENT_SCHEMA = {
  payer_id: { kind: 'string', required: true, pattern: REF, description: 'The payer who signs.' },
  account_hint: { kind: 'string', required: false, pattern: /^[0-9*]{4,19}$/, description: 'A masked card or account number (e.g. 6222****1234); never a full number.' },
} as const satisfies RequestSchema;

const iso = (ms: number): string => new Date(ms).toISOString();

export function agreementView(a: AgreementRecord): Record<string, unknown> {
  return {
    id: a.agreementId,
    object: 'agreement',
    payer_id: a.payerId,
    channel: a.channelId,
    status: a.status,
    account_hint: a.accountHint,
    created_at: iso(a.createdAtMs),
    updated_at: iso(a.updatedAtMs),
  };
}

export class AgreementService {
  constructor(
    private readonly store: OnlineStore,
    private readonly config: OnlineConfig,
    private readonly channels: ReadonlyMap<string, ChannelPort>,
    private readonly clock: () => number,
  ) {}

  async sign(caller: Caller, idem: Idem, raw: unknown): Promise<ApiResult> {
    const parsed = parseBody(AGREEMENT_SCHEMA, raw);
    if (!parsed.ok) return parsed;
    const route = routeFor(this.config, 'quick', 'CNY') ?? routeFor(this.config, 'agreement', 'CNY');
    const port = route ? this.channels.get(route.id) : undefined;
    if (!route || !port) return apiFailure('channel_unavailable', 'No channel signs agreements.');
    const nowMs = this.clock();
    const record: AgreementRecord = {
      agreementId: newId('agr', nowMs),
      merchantId: caller.merchantId,
      payerId: parsed.value.payer_id,
      channelId: route.id,
      status: 'processing',
      agreementToken: null,
      accountHint: parsed.value.account_hint ?? null,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    return twoStep(this.store, caller, idem, {
      prepare: (tx) => {
        tx.insertAgreement(record);
        return { resourceId: record.agreementId, record };
      },
      // The agreement token travels as the outcome's channelTxnId.
      call: async (a) => {
        const signed = await port.sign({ reference: a.agreementId, payerId: a.payerId, accountHint: a.accountHint ?? undefined });
        return signed.status === 'succeeded' ? { status: 'succeeded', channelTxnId: signed.agreementToken } : signed;
      },
      complete: (tx, outcome, a) => {
        if (outcome.status === 'succeeded') {
          const token = outcome.channelTxnId;
          tx.updateAgreement(a.agreementId, 'processing', { status: 'active', agreementToken: token });
          return { httpStatus: 201, view: agreementView({ ...a, status: 'active', agreementToken: token, updatedAtMs: tx.nowMs }) };
        }
        if (outcome.status === 'declined') {
          tx.updateAgreement(a.agreementId, 'processing', { status: 'failed' });
          return outcomeFailure(outcome, 'The channel refused the agreement');
        }
        return { httpStatus: 202, view: agreementView(a) };
      },
    });
  }

  async terminate(caller: Caller, idem: Idem, agreementId: string, raw: unknown): Promise<ApiResult> {
    const parsed = parseBody({}, raw ?? {});
    if (!parsed.ok) return parsed;
    const active = (tx: OnlineTx): AgreementRecord => {
      const a = tx.agreement(caller.merchantId, agreementId);
      if (!a) throw new Refusal(apiFailure('not_found', `No agreement ${agreementId}.`));
      if (a.status !== 'active') throw new Refusal(apiFailure('illegal_transition', `Agreement ${agreementId} is ${a.status}.`));
      return a;
    };
    return twoStep(this.store, caller, idem, {
      prepare: (tx) => ({ resourceId: agreementId, record: active(tx) }),
      call: (a) => {
        const port = this.channels.get(a.channelId);
        return port ? port.unsign(`unsign.${a.agreementId}`, a.agreementToken ?? '') : Promise.resolve({ status: 'unknown', reason: 'unavailable', message: 'channel not connected' } as const);
      },
      complete: (tx, outcome) => {
        if (outcome.status !== 'succeeded') return outcomeFailure(outcome, 'The channel did not confirm the termination');
        const a = active(tx);
        const to = nextAgreementStatus(a.status, 'terminate');
        if (!to) throw new Refusal(apiFailure('illegal_transition', `Agreement ${agreementId} is ${a.status}.`));
        tx.updateAgreement(agreementId, 'active', { status: to });
        return { httpStatus: 200, view: agreementView({ ...a, status: to, updatedAtMs: tx.nowMs }) };
      },
    });
  }

  async get(caller: Caller, agreementId: string): Promise<ApiResult> {
    const a = await this.store.read((tx) => tx.agreement(caller.merchantId, agreementId));
    return shown(a, agreementView, `agreement ${agreementId}`);
  }
}
