// The two-step shape every channel operation shares: a first unit checks the Idempotency-Key and
// persists the order as processing; the channel is called outside any transaction; a second unit
// applies the outcome and stores the answer. Local work and refusals finish in the first unit.

import type { ChannelOutcome } from '../channels/port.js';
import { apiFailure, type ApiFailure } from '../errors.js';
import type { OnlineStore, OnlineTx } from '../port.js';
import { answer, isFailure, priorAnswer, runUnit, type ApiResult, type Caller, type Idem } from './service.js';

export interface TwoStep<R> {
  /** Inside the first unit (after the idempotency check): persist, or finish at once with `done`. */
  readonly prepare: (tx: OnlineTx) => { readonly resourceId: string; readonly record: R } | { readonly done: { readonly httpStatus: number; readonly view: unknown } };
  /** Outside any transaction. Exceptions become an `unknown` outcome. */
  readonly call: (record: R) => Promise<ChannelOutcome>;
  /** Inside the second unit: apply the outcome and say what to answer. */
  readonly complete: (tx: OnlineTx, outcome: ChannelOutcome, record: R) => { readonly httpStatus: number; readonly view: unknown } | ApiFailure;
}

export async function twoStep<R>(store: OnlineStore, caller: Caller, idem: Idem, steps: TwoStep<R>): Promise<ApiResult> {
  const first = await runUnit(store, (tx): ApiResult | { resourceId: string; record: R } => {
    const prior = priorAnswer(tx, caller, idem);
    if (prior) return prior;
    const prepared = steps.prepare(tx);
    if ('done' in prepared) return answer(tx, caller, idem, prepared.done.httpStatus, prepared.done.view);
    tx.markInFlight(caller.merchantId, idem.key, idem.requestHash, prepared.resourceId);
    return prepared;
  });
  if (isFailure(first) || 'httpStatus' in first) return first;
  let outcome: ChannelOutcome;
  try {
    outcome = await steps.call(first.record);
  } catch (e) {
    outcome = { status: 'unknown', reason: 'protocol', message: (e as Error).message };
  }
  return runUnit(store, (tx): ApiResult => {
    const done = steps.complete(tx, outcome, first.record);
    if (isFailure(done)) {
      // An unknown outcome keeps the key in flight: recovery asks the channel and stores the final answer.
      if (done.code !== 'channel_unavailable') {
        tx.saveResponse(caller.merchantId, idem.key, idem.requestHash, done.httpStatus, JSON.stringify({ error: { code: done.code, message: done.message } }));
      }
      return done;
    }
    return answer(tx, caller, idem, done.httpStatus, done.view);
  });
}

/** What a non-success outcome of a synchronous follow-up (void, capture …) answers. */
export function outcomeFailure(outcome: Exclude<ChannelOutcome, { status: 'succeeded' }>, what: string): ApiFailure {
  if (outcome.status === 'declined') return apiFailure('channel_declined', `${what}: ${outcome.message}`);
  if (outcome.status === 'unknown') return apiFailure('channel_unavailable', `${what}: ${outcome.message}`);
  return apiFailure('channel_unavailable', `${what}: the channel has not confirmed it yet.`);
}
