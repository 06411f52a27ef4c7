// Delivery of the simulator's notifications (异步通知) to the daemon's notify_url: signed like every
// simulator message, POSTed as JSON, retried after each delay in the config when the answer is not 2xx
// or does not come in time, then marked failed. Each attempt is recorded in sim_notifications; pending
// ones are picked up again when the simulator restarts.

import { notificationJson } from './protocol.js';
import { SIM_HEADERS, signedHeaders } from './signature.js';
import type { SimStore, SimTxn } from './store.js';
import type { Timers } from './timers.js';

export interface NotifierOptions {
  readonly store: SimStore;
  readonly timers: Timers;
  readonly clock: () => number;
  readonly secretOf: (channelId: string) => string | undefined;
  readonly timeoutMs: number;
  readonly retryDelaysMs: readonly number[];
  readonly log: (event: Record<string, unknown>) => void;
}

export function notificationIdOf(t: SimTxn): string {
  return `ntf_${t.channelTxnId}`;
}

export class Notifier {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly closing = new AbortController();

  constructor(private readonly o: NotifierOptions) {}

  /** Records the notification of a completed transaction and sends its first attempt now. */
  enqueue(t: SimTxn): void {
    if (t.notifyUrl === null) return;
    const id = notificationIdOf(t);
    this.o.store.addNotification(id, t.txnNo, t.notifyUrl);
    this.attempt(id, t.txnNo, t.notifyUrl, 0);
  }

  /** Sends again what was pending when the simulator stopped. */
  resume(): void {
    for (const p of this.o.store.pendingNotifications()) this.attempt(p.notificationId, p.txnNo, p.notifyUrl, p.attempts);
  }

  /** Lets attempts on the wire finish for up to graceMs, then aborts the rest (they stay pending for resume()). */
  async close(graceMs: number): Promise<void> {
    const settled = Promise.allSettled([...this.inFlight]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.closing.abort();
    await settled;
  }

  private attempt(id: string, txnNo: number, url: string, attemptsBefore: number): void {
    const p = this.send(id, txnNo, url, attemptsBefore).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async send(id: string, txnNo: number, url: string, attemptsBefore: number): Promise<void> {
    const t = this.o.store.byTxnNo(txnNo);
    const secret = t ? this.o.secretOf(t.channelId) : undefined;
    if (!t || secret === undefined) {
      this.o.store.recordAttempt(id, { delivered: false, error: 'transaction or channel gone', final: true }, this.o.clock());
      return;
    }
    const body = JSON.stringify(notificationJson(t, id));
    let error: string | null = null;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIM_HEADERS.channel]: t.channelId, ...signedHeaders(secret, body, this.o.clock()) },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(this.o.timeoutMs), this.closing.signal]),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) error = `HTTP ${res.status}`;
    } catch (e) {
      error = (e as Error).message;
    }
    if (this.closing.signal.aborted) return; // the simulator is stopping; resume() sends it next time
    const attempts = attemptsBefore + 1;
    const delay = this.o.retryDelaysMs[attempts - 1];
    const final = error !== null && delay === undefined;
    this.o.store.recordAttempt(id, { delivered: error === null, error, final }, this.o.clock());
    if (error === null) {
      this.o.log({ event: 'notification_delivered', notification_id: id, url, attempts });
      return;
    }
    this.o.log({ event: final ? 'notification_failed' : 'notification_retry', notification_id: id, url, attempts, error });
    if (delay !== undefined) this.o.timers.schedule(delay, () => this.attempt(id, txnNo, url, attempts));
  }
}
