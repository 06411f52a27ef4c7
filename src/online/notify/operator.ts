// What an operator can do with notifications (`settle notify list|show|retry`): see them, and re-send
// failed ones. A re-sent delivery is due at once and gets a fresh retry schedule; its event id (and so
// its body) stays the same, so a merchant that got it before can recognise it.

import { NOTIFY_LIMITS } from './config.js';
import { NotifyError } from './errors.js';
import { parseEventId } from './event.js';
import type { AttemptRecord, DeliveryRecord, DeliveryState, NotifyStore } from './port.js';

export const DELIVERY_STATES: readonly DeliveryState[] = ['pending', 'succeeded', 'failed'];

function seqOf(eventIdText: string): number {
  const seq = parseEventId(eventIdText.trim());
  if (seq === undefined) throw new NotifyError('notify_input_invalid', `${JSON.stringify(eventIdText.slice(0, 40))} is not an event id (evt_ and digits).`);
  return seq;
}

export async function listDeliveries(
  store: NotifyStore,
  filter: { merchantId?: string | undefined; state?: string | undefined; limit?: number | undefined },
): Promise<readonly DeliveryRecord[]> {
  if (filter.state !== undefined && !(DELIVERY_STATES as readonly string[]).includes(filter.state)) {
    throw new NotifyError('notify_input_invalid', `--state ${JSON.stringify(filter.state.slice(0, 20))} is not one of ${DELIVERY_STATES.join(', ')}.`);
  }
  const limit = filter.limit ?? 50;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > NOTIFY_LIMITS.listRowsMax) {
    throw new NotifyError('notify_input_invalid', `--limit must be 1–${NOTIFY_LIMITS.listRowsMax}.`);
  }
  return store.listDeliveries({ merchantId: filter.merchantId, state: filter.state as DeliveryState | undefined, limit });
}

export async function showDelivery(store: NotifyStore, eventIdText: string): Promise<{ delivery: DeliveryRecord; attempts: readonly AttemptRecord[] }> {
  const found = await store.delivery(seqOf(eventIdText));
  if (!found) throw new NotifyError('delivery_not_found', `No notification ${eventIdText.slice(0, 40)}.`);
  return found;
}

/** Re-queues one failed delivery now. */
export async function retryDelivery(store: NotifyStore, eventIdText: string, nowMs: number): Promise<number> {
  const seq = seqOf(eventIdText);
  const found = await store.delivery(seq);
  if (!found) throw new NotifyError('delivery_not_found', `No notification ${eventIdText.slice(0, 40)}.`);
  if (found.delivery.state !== 'failed') throw new NotifyError('delivery_not_failed', `Notification ${eventIdText.slice(0, 40)} is ${found.delivery.state}.`);
  const done = await store.requeueFailed({ eventSeq: seq, nowMs, limit: 1 });
  // Another operator (or process) may have re-queued it between the read and the write.
  if (done.length === 0) throw new NotifyError('delivery_not_failed', `Notification ${eventIdText.slice(0, 40)} is no longer failed.`);
  return seq;
}

/** Re-queues a merchant's failed deliveries now, oldest first, at most retryAllMax per call. */
export async function retryAllFailed(store: NotifyStore, merchantId: string, nowMs: number): Promise<{ readonly seqs: readonly number[]; readonly more: boolean }> {
  const seqs = await store.requeueFailed({ merchantId, nowMs, limit: NOTIFY_LIMITS.retryAllMax });
  const more = seqs.length === NOTIFY_LIMITS.retryAllMax && (await store.listDeliveries({ merchantId, state: 'failed', limit: 1 })).length > 0;
  return { seqs, more };
}
