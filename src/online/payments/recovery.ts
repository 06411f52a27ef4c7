// Recovery (补单): orders left processing — the daemon died between persisting and hearing from the
// channel, or the channel timed out — are finished by asking the channel; orders that waited for the
// payer past their expiry are closed. Runs on start and then periodically.

import type { ChannelPort } from '../channels/port.js';
import type { OnlineStore } from '../port.js';
import { expirePreauth } from './preauths.js';
import { applyPaymentOutcome, applyRefundOutcome, closeExpired } from './service.js';

export interface RecoveryOptions {
  /** Only orders untouched this long are queried, so live requests are left alone. */
  readonly staleAfterMs: number;
  readonly batchMax: number;
  /** Releases expired ledger holds (pre-authorisations); returns how many. */
  readonly expireHolds?: () => Promise<number>;
}

export interface RecoveryReport {
  readonly queried: number;
  readonly finished: number;
  readonly closed: number;
  readonly holdsReleased: number;
}

export async function recoverOnce(store: OnlineStore, channels: ReadonlyMap<string, ChannelPort>, nowMs: number, options: RecoveryOptions): Promise<RecoveryReport> {
  let queried = 0;
  let finished = 0;
  let closed = 0;
  for (const id of await store.expiredWaiting(nowMs, options.batchMax)) {
    if (await store.unit((tx) => closeExpired(tx, id))) closed++;
  }
  for (const id of await store.expiredPreauths(nowMs, options.batchMax)) {
    if (await store.unit((tx) => expirePreauth(tx, id))) closed++;
  }
  const holdsReleased = options.expireHolds ? await options.expireHolds() : 0;
  for (const { id } of await store.processing('payments', nowMs - options.staleAfterMs, options.batchMax)) {
    const p = await store.unit((tx) => tx.payment(null, id));
    const port = p?.channelId ? channels.get(p.channelId) : undefined;
    if (!p || !port) continue;
    queried++;
    const answer = await port.query(id, 'pay').catch((e: Error) => ({ status: 'unknown', reason: 'protocol', message: e.message }) as const);
    if (answer.status === 'not_found') {
      // The channel never got it: nothing moved, so the order fails and the merchant can retry.
      const updated = await store.unit((tx) => applyPaymentOutcome(tx, id, { status: 'declined', declineCode: 'channel_not_received', message: 'The channel has no record of this payment.' }));
      if (updated.status !== 'processing') finished++;
      continue;
    }
    const updated = await store.unit((tx) => applyPaymentOutcome(tx, id, answer));
    if (updated.status !== 'processing') finished++;
  }
  for (const { id } of await store.processing('refunds', nowMs - options.staleAfterMs, options.batchMax)) {
    const r = await store.unit((tx) => tx.refund(null, id));
    const p = r ? await store.unit((tx) => tx.payment(null, r.paymentId)) : undefined;
    const port = p?.channelId ? channels.get(p.channelId) : undefined;
    if (!r || !port) continue;
    queried++;
    const answer = await port.query(id, 'refund').catch((e: Error) => ({ status: 'unknown', reason: 'protocol', message: e.message }) as const);
    const outcome = answer.status === 'not_found' ? ({ status: 'declined', declineCode: 'channel_not_received', message: 'The channel has no record of this refund.' } as const) : answer;
    const updated = await store.unit((tx) => applyRefundOutcome(tx, id, outcome));
    if (updated.status !== 'processing') finished++;
  }
  return { queried, finished, closed, holdsReleased };
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
