// Recovery (补单): orders left processing — the daemon died between persisting and hearing from the
// channel, or the channel timed out — are finished by asking the channel; so are voids and captures whose
// answer never came. Orders that waited for the payer past their expiry are closed. Requests still in
// flight for a finished object get their final answer stored, so a retry with the same Idempotency-Key
// sees it. Runs on start and then periodically.

import type { ChannelOperation, ChannelOutcome, ChannelPort } from '../channels/port.js';
import type { OnlineConfig } from '../config.js';
import type { ApiFailure } from '../errors.js';
import type { OnlineStore, OnlineTx } from '../port.js';
import { expirePreauth, settleCapture, settleCaptureVoid, settlePreauthVoid } from './preauths.js';
import { applyPaymentOutcome, applyRefundOutcome, closeExpired, isFailure, settlePaymentVoid } from './service.js';
import { paymentView, refundView } from './views.js';

export interface RecoveryOptions {
  /** Only orders untouched this long are queried, so live requests are left alone. */
  readonly staleAfterMs: number;
  readonly batchMax: number;
  readonly config: OnlineConfig;
  /** Releases expired ledger holds (pre-authorisations); returns how many. */
  readonly expireHolds?: () => Promise<number>;
}

export interface RecoveryReport {
  readonly queried: number;
  readonly finished: number;
  readonly closed: number;
  readonly holdsReleased: number;
}

type Answer = ChannelOutcome | { readonly status: 'not_found' };

async function ask(port: ChannelPort, reference: string, operation: ChannelOperation): Promise<Answer> {
  try {
    return await port.query(reference, operation);
  } catch (e) {
    return { status: 'unknown', reason: 'protocol', message: (e as Error).message };
  }
}

/** "The channel never got it" is a decline for a first operation: nothing moved. */
function notReceived(answer: Answer, what: string): ChannelOutcome {
  return answer.status === 'not_found' ? { status: 'declined', declineCode: 'channel_not_received', message: `The channel has no record of this ${what}.` } : answer;
}

function settleInUnit(store: OnlineStore, work: (tx: OnlineTx) => unknown): Promise<boolean> {
  return store.unit((tx) => {
    const r = work(tx);
    return !isFailure(r);
  });
}

export async function recoverOnce(store: OnlineStore, channels: ReadonlyMap<string, ChannelPort>, nowMs: number, options: RecoveryOptions): Promise<RecoveryReport> {
  let queried = 0;
  let finished = 0;
  let closed = 0;
  const stale = nowMs - options.staleAfterMs;
  for (const id of await store.expiredWaiting(nowMs, options.batchMax)) {
    if (await store.unit((tx) => closeExpired(tx, id))) closed++;
  }
  for (const id of await store.expiredPreauths(nowMs, options.batchMax)) {
    if (await store.unit((tx) => expirePreauth(tx, id))) closed++;
  }
  const holdsReleased = options.expireHolds ? await options.expireHolds() : 0;

  for (const { id } of await store.processing('payments', stale, options.batchMax)) {
    const p = await store.read((tx) => tx.payment(null, id));
    const port = p?.channelId ? channels.get(p.channelId) : undefined;
    if (!p || !port) continue;
    queried++;
    const outcome = notReceived(await ask(port, id, 'pay'), 'payment');
    const done = await store.unit((tx) => {
      const updated = applyPaymentOutcome(tx, id, outcome);
      if (updated.status !== 'processing') tx.resolveInFlight(id, 201, JSON.stringify(paymentView(updated)));
      return updated.status !== 'processing';
    });
    if (done) finished++;
  }
  for (const { id } of await store.processing('refunds', stale, options.batchMax)) {
    const r = await store.read((tx) => tx.refund(null, id));
    const p = r ? await store.read((tx) => tx.payment(null, r.paymentId)) : undefined;
    const port = p?.channelId ? channels.get(p.channelId) : undefined;
    if (!r || !port) continue;
    queried++;
    const outcome = notReceived(await ask(port, id, 'refund'), 'refund');
    const done = await store.unit((tx) => {
      const updated = applyRefundOutcome(tx, id, outcome);
      if (updated.status !== 'processing') tx.resolveInFlight(id, 201, JSON.stringify(refundView(updated)));
      return updated.status !== 'processing';
    });
    if (done) finished++;
  }
  // Voids and captures whose channel answer never came: the object stays blocked until the channel says.
  for (const { id, pendingOp } of await store.withPendingOp('payments', stale, options.batchMax)) {
    const p = await store.read((tx) => tx.payment(null, id));
    const port = p?.channelId ? channels.get(p.channelId) : undefined;
    if (!p || !port || pendingOp !== 'void') continue;
    queried++;
    const outcome = notReceived(await ask(port, `void.${id}`, 'void'), 'void');
    const settled = (tx: OnlineTx) => {
      const r = settlePaymentVoid(tx, null, id, outcome);
      return isFailure(r) ? r : { httpStatus: 200, view: paymentView(r) };
    };
    if (await settleInUnit(store, (tx) => resolveAnswer(tx, id, settled(tx)))) finished++;
  }
  for (const { id, pendingOp } of await store.withPendingOp('preauths', stale, options.batchMax)) {
    const p = await store.read((tx) => tx.preauth(null, id));
    const port = p?.channelId ? channels.get(p.channelId) : undefined;
    if (!p || !port) continue;
    queried++;
    const [op, captureId, amount] = pendingOp.split(':');
    if (op === 'capture' && captureId && amount) {
      const outcome = notReceived(await ask(port, captureId, 'capture'), 'capture');
      if (await settleInUnit(store, (tx) => resolveAnswer(tx, captureId, settleCapture(tx, options.config, null, id, captureId, BigInt(amount), outcome)))) finished++;
    } else if (op === 'void') {
      const outcome = notReceived(await ask(port, `pavoid.${p.holdEntryId ?? id}`, 'preauth_void'), 'void');
      if (await settleInUnit(store, (tx) => resolveAnswer(tx, id, settlePreauthVoid(tx, null, id, outcome)))) finished++;
    } else if (op === 'capture_void' && p.captureId) {
      const cap = p.captureId;
      const outcome = notReceived(await ask(port, `capvoid.${cap}`, 'capture_void'), 'capture void');
      if (await settleInUnit(store, (tx) => resolveAnswer(tx, cap, settleCaptureVoid(tx, null, cap, outcome)))) finished++;
    }
  }
  return { queried, finished, closed, holdsReleased };
}

/**
 * Stores the final answer for the requests in flight on this object. An unknown outcome
 * (channel_unavailable) is not final: the object stays blocked and is asked about again.
 */
function resolveAnswer(tx: OnlineTx, resourceId: string, settled: { readonly httpStatus: number; readonly view: unknown } | ApiFailure): unknown {
  if (!isFailure(settled)) tx.resolveInFlight(resourceId, settled.httpStatus, JSON.stringify(settled.view));
  else if (settled.code !== 'channel_unavailable') tx.resolveInFlight(resourceId, settled.httpStatus, JSON.stringify({ error: { code: settled.code, message: settled.message } }));
  return settled;
}

/** Runs recovery now and every `intervalMs`; returns a stop function. Errors are logged, never fatal. */
export function startRecoveryLoop(
  run: () => Promise<RecoveryReport>,
  intervalMs: number,
  log: (report: RecoveryReport | Error) => void,
): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = (): void => {
    running = run().then(
      (r) => {
        if (r.queried + r.closed + r.holdsReleased > 0) log(r);
      },
      (e: Error) => log(e),
    );
  };
  tick();
  const timer = setInterval(() => {
    if (!stopped) tick();
  }, intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
