// The outbox dispatcher (异步通知 and 发送消息). One loop, two stages:
//
//   ingest   the oldest undelivered outbox rows, in seq order, under the outbox lease: each is written
//            to the internal event sink, its merchant notification (if a URL resolves) is created as a
//            delivery row, and the outbox row is marked delivered — sink first, then one transaction.
//   deliver  due deliveries are claimed with a lease in a write transaction, then POSTed, signed; the
//            attempt is recorded and the delivery succeeds, waits for its next retry, or fails.
//
// Bounds: at most in_flight_max notifications in flight from this dispatcher, and at most
// in_flight_per_merchant_max per merchant across every dispatcher on the database, so a slow merchant
// holds only its own slots. Order: first attempts are made in the order the events were created, but a
// merchant's events are not serialised — up to its in-flight limit go out together, and a failed one
// waits for its retry while later ones go ahead. A receiver must not rely on arrival order (the object
// in each event carries its state and updated_at); this is what Stripe promises too.
//
// Crash safety: a claim is durable before the POST. After a kill -9, the claims of the dead process
// expire (timeout_ms + lease_margin_ms) and those deliveries are sent again: only what was in flight
// is repeated (claims taken ahead and not yet sent are only delayed), nothing is lost. Receivers
// de-duplicate by event_id.
//
// Throughput: each pass commits once — the attempts that ended since the last pass and the next claims
// share a transaction (the daemon's group commit) — and up to in_flight_max deliveries are claimed ahead
// of the free slots, so a slot is refilled without waiting for a commit.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { NOTIFY_LIMITS, type NotifyConfig } from './config.js';
import { eventId, isHttpUrl, nextStep, notificationBody, resolveNotifyUrl, signatureHeader, sinkLine, urlNeeds, type AttemptResult, type OutboxRow } from './event.js';
import type { AbortReason, Sender } from './http.js';
import type { ClaimedDelivery, NewDelivery, NotifyStore } from './port.js';
import { realScheduler, type Scheduler, type Timer } from './scheduler.js';
import type { EventSink } from './sink.js';

export type DeliveryOutcome = 'succeeded' | 'retry_scheduled' | 'failed' | 'interrupted';

export interface DispatchStats {
  /** Outbox rows written to the sink and marked delivered. */
  ingested: number;
  /** Merchant notifications created from them. */
  notificationsMade: number;
  attempts: number;
  succeeded: number;
  retryScheduled: number;
  failed: number;
  interrupted: number;
}

export type DispatchLog = (level: 'info' | 'error', message: string, fields?: Record<string, unknown>) => void;

export interface DispatcherDeps {
  readonly store: NotifyStore;
  readonly sink: EventSink;
  readonly send: Sender;
  /** The secret to sign a merchant's notifications with; undefined when there is none. */
  readonly secretOf: (merchantId: string) => string | undefined;
  readonly config: NotifyConfig;
  readonly scheduler?: Scheduler;
  /** Who holds the leases (default: host, pid and a random tag). */
  readonly owner?: string;
  readonly log?: DispatchLog;
  readonly onOutcome?: (outcome: DeliveryOutcome) => void;
}

interface InFlight {
  /** Resolves when the HTTP exchange has ended (the attempt is then being recorded). */
  readonly done: Promise<void>;
  readonly controller: AbortController;
}

export class Dispatcher {
  private readonly store: NotifyStore;
  private readonly sink: EventSink;
  private readonly send: Sender;
  private readonly secretOf: (merchantId: string) => string | undefined;
  private readonly config: NotifyConfig;
  private readonly scheduler: Scheduler;
  private readonly owner: string;
  private readonly log: DispatchLog;
  private readonly onOutcome: (outcome: DeliveryOutcome) => void;
  private readonly inFlight = new Map<number, InFlight>();
  /** Attempts that ended and are being recorded (stop() and runOnce() wait for them). */
  private readonly recording = new Set<Promise<void>>();
  /** Claimed, waiting for a free slot. */
  private readonly ready: { readonly delivery: ClaimedDelivery; readonly claimedAtMs: number }[] = [];
  readonly stats: DispatchStats = { ingested: 0, notificationsMade: 0, attempts: 0, succeeded: 0, retryScheduled: 0, failed: 0, interrupted: 0 };
  private claims = 0;
  private holdsOutboxLease = false;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private pumping: Promise<void> | undefined;
  private again = false;
  private wakeQueued = false;
  private timer: Timer | undefined;

  constructor(deps: DispatcherDeps) {
    this.store = deps.store;
    this.sink = deps.sink;
    this.send = deps.send;
    this.secretOf = deps.secretOf;
    this.config = deps.config;
    this.scheduler = deps.scheduler ?? realScheduler;
    this.owner = deps.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.log = deps.log ?? (() => undefined);
    this.onOutcome = deps.onOutcome ?? (() => undefined);
  }

  /** Notifications in flight now (for tests and metrics). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** No pass running or queued and nothing in flight (tests wait for this before moving a fake clock). */
  get idle(): boolean {
    return this.pumping === undefined && !this.wakeQueued && this.inFlight.size === 0 && this.ready.length === 0 && this.recording.size === 0;
  }

  /** Runs until stop(): polls every poll_interval_ms, sooner when a retry is due or a slot frees. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.wake();
  }

  /**
   * Moves the whole outbox and delivers every delivery due now, waits for those attempts, and returns
   * (for cron and tests). Deliveries that fail wait for their retry time: a later run sends them.
   */
  async runOnce(): Promise<DispatchStats> {
    if (this.started) throw new Error('runOnce() is for a dispatcher that was not started');
    try {
      for (;;) {
        const ingested = await this.ingestBatch();
        const launched = await this.claimAndLaunch();
        if (ingested === 0 && launched === 0 && this.inFlight.size === 0 && this.ready.length === 0) break;
        if (ingested === 0 && launched === 0) await Promise.race([...this.inFlight.values()].map((f) => f.done));
      }
    } finally {
      await this.stop(0);
    }
    return { ...this.stats };
  }

  /**
   * Stops claiming, lets notifications in flight finish for up to `waitMs` (default the smaller of
   * timeout_ms and 5 s), then interrupts the rest: they are due again at once for the next dispatcher.
   */
  stop(waitMs: number = Math.min(this.config.timeout_ms, NOTIFY_LIMITS.stopWaitMsMax)): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      this.timer?.cancel();
      this.timer = undefined;
      await this.pumping;
      if (this.inFlight.size > 0 && waitMs > 0) {
        let graceTimer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all([...this.inFlight.values()].map((f) => f.done)),
          new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, waitMs))),
        ]);
        clearTimeout(graceTimer);
      }
      const unsent = this.ready.splice(0).map((r) => r.delivery);
      if (unsent.length > 0) this.release(unsent);
      for (const f of this.inFlight.values()) f.controller.abort('stopped' satisfies AbortReason);
      await Promise.all([...this.inFlight.values()].map((f) => f.done));
      await Promise.all([...this.recording]);
      if (this.holdsOutboxLease) await this.store.releaseOutboxLease(this.owner).catch((e: unknown) => this.log('error', 'releasing the outbox lease failed', { err: String(e) }));
      await this.sink.close();
    })();
    return this.stopping;
  }

  // ---- the loop ----

  private wake(): void {
    if (this.stopped || !this.started) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    if (this.wakeQueued) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      if (this.pumping || this.stopped) return;
      this.pumping = this.pump().finally(() => {
        this.pumping = undefined;
        // A slot freed while the pass was arming its timer: go again now rather than at the next poll.
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
    });
  }

  private async pump(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    try {
      let ingestFailed = false;
      do {
        this.again = false;
        // A sink or outbox failure must not stop deliveries already made: it is logged and retried at
        // the next poll while notifications go on.
        try {
          for (let i = 0; i < NOTIFY_LIMITS.ingestBatchesPerPumpMax && !this.stopped && !ingestFailed; i++) {
            if ((await this.ingestBatch()) < NOTIFY_LIMITS.ingestBatchMax) break;
            this.again = true; // more outbox waits: come back after delivering
          }
        } catch (e) {
          ingestFailed = true;
          this.log('error', 'moving the outbox failed; trying again at the next poll', { err: (e as Error).stack ?? String(e) });
        }
        await this.claimAndLaunch();
      } while (this.again && !this.stopped);
      if (ingestFailed) this.arm(this.config.poll_interval_ms);
      else await this.armNext();
    } catch (e) {
      this.log('error', 'dispatcher pass failed; trying again at the next poll', { err: (e as Error).stack ?? String(e) });
      if (!this.stopped) this.arm(this.config.poll_interval_ms);
    }
  }

  /** The next pass: at the next retry time if it comes before the next poll. */
  private async armNext(): Promise<void> {
    if (this.stopped) return;
    const nowMs = this.scheduler.now();
    const next = await this.store.nextAttemptAfter(nowMs);
    this.arm(next === undefined ? this.config.poll_interval_ms : Math.min(this.config.poll_interval_ms, Math.max(1, next - nowMs)));
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.scheduler.after(delayMs, () => {
      this.timer = undefined;
      this.wake();
    });
  }

  // ---- ingest ----

  /** One batch of the outbox to the sink and to deliveries; the number of rows moved. */
  private async ingestBatch(): Promise<number> {
    if (this.stopped || !(await this.store.hasUndelivered())) return 0;
    const rows = await this.store.takeOutbox(this.owner, this.scheduler.now(), NOTIFY_LIMITS.ingestLeaseMs, NOTIFY_LIMITS.ingestBatchMax);
    if (rows === null || rows.length === 0) return 0;
    this.holdsOutboxLease = true;
    await this.sink.write(rows.map((r) => ({ line: sinkLine(r, NOTIFY_LIMITS.sinkLineBytesMax), createdAtMs: r.createdAtMs })));
    const deliveries = await this.plan(rows);
    await this.store.commitIngest(
      rows.map((r) => r.seq),
      deliveries,
      this.scheduler.now(),
    );
    this.stats.ingested += rows.length;
    this.stats.notificationsMade += deliveries.length;
    return rows.length;
  }

  private async plan(rows: readonly OutboxRow[]): Promise<NewDelivery[]> {
    const needs = rows.map((r) => {
      try {
        return urlNeeds(r);
      } catch (e) {
        throw new Error(`outbox row ${r.seq} has a payload that is not JSON (${(e as Error).message})`, { cause: e });
      }
    });
    const paymentIds = needs.flatMap((n) => (n?.paymentId !== undefined && n.ownUrl === undefined ? [n.paymentId] : []));
    const merchantIds = needs.flatMap((n) => (n && n.ownUrl === undefined ? [n.merchantId] : []));
    const urls = paymentIds.length + merchantIds.length > 0 ? await this.store.notifyUrls(paymentIds, merchantIds) : { payments: new Map(), merchants: new Map() };
    const book = { paymentUrls: urls.payments, merchantUrls: urls.merchants };
    const out: NewDelivery[] = [];
    for (const row of rows) {
      const url = resolveNotifyUrl(row, book);
      if (url === undefined || row.merchantId === null) continue;
      out.push({ eventSeq: row.seq, merchantId: row.merchantId, topic: row.topic, aggregateId: row.aggregateId, url, body: notificationBody(row) });
    }
    return out;
  }

  // ---- deliver ----

  /**
   * Claims due deliveries and sends them. Up to in_flight_max more than are in flight are claimed ahead
   * (the ready queue), so a freed slot is refilled at once instead of after a commit; claims are made in
   * batches of at least an eighth of the slots, one write transaction each. Returns how many were claimed.
   */
  private async claimAndLaunch(): Promise<number> {
    if (this.stopped) return 0;
    this.launchReady();
    const want = 2 * this.config.in_flight_max - this.inFlight.size - this.ready.length;
    if (want <= 0) return 0;
    if (this.inFlight.size + this.ready.length > 0 && want < Math.max(1, Math.floor(this.config.in_flight_max / 8))) return 0;
    const nowMs = this.scheduler.now();
    const claimed = await this.store.claimDue({
      nowMs,
      leaseUntilMs: nowMs + this.config.timeout_ms + this.config.lease_margin_ms,
      tokenPrefix: `${this.owner}:${++this.claims}`,
      limit: want,
      perMerchantMax: this.config.in_flight_per_merchant_max,
    });
    for (const d of claimed) this.ready.push({ delivery: d, claimedAtMs: nowMs });
    this.launchReady();
    return claimed.length;
  }

  /**
   * Sends claimed deliveries while slots are free. One that waited too long for a slot is released
   * instead: its lease must still cover a whole attempt, or another dispatcher could send it too.
   */
  private launchReady(): void {
    const stale: ClaimedDelivery[] = [];
    while (!this.stopped && this.inFlight.size < this.config.in_flight_max) {
      const next = this.ready.shift();
      if (!next) break;
      if (this.scheduler.now() - next.claimedAtMs > this.config.lease_margin_ms / 2) stale.push(next.delivery);
      else this.launch(next.delivery);
    }
    if (stale.length > 0) this.release(stale);
  }

  /** Gives claims back unsent (they are due again at once, for any dispatcher). */
  private release(claims: readonly ClaimedDelivery[]): void {
    const releasing: Promise<void> = this.store
      .releaseClaims(claims.map((c) => ({ eventSeq: c.eventSeq, claimToken: c.claimToken })))
      .catch((e: unknown) => this.log('error', 'releasing unsent claims failed; they are sent when their leases expire', { err: String(e) }))
      .finally(() => this.recording.delete(releasing));
    this.recording.add(releasing);
  }

  /**
   * Sends one claimed delivery. Its slot frees as soon as the HTTP exchange ends; recording the attempt
   * is queued at once and commits with the next claim (a claim queued after it sees it), so a cycle of
   * the dispatcher costs one commit, not two.
   */
  private launch(d: ClaimedDelivery): void {
    const controller = new AbortController();
    const startedAtMs = this.scheduler.now();
    this.stats.attempts += 1;
    const sent = this.attempt(d, startedAtMs, controller)
      .catch((e: unknown): AttemptResult => {
        this.log('error', 'a notification attempt threw; it counts as unreachable', { event_id: eventId(d.eventSeq), err: String(e) });
        return { ok: false, error: 'endpoint_unreachable', httpStatus: null, detail: null };
      })
      .then((result) => {
        this.inFlight.delete(d.eventSeq);
        const recording: Promise<void> = this.record(d, startedAtMs, result)
          .catch((e: unknown) => this.log('error', 'recording a notification attempt failed; it is sent again when its claim expires', { event_id: eventId(d.eventSeq), err: String(e) }))
          .finally(() => this.recording.delete(recording));
        this.recording.add(recording);
        this.launchReady();
        this.wake();
      });
    this.inFlight.set(d.eventSeq, { done: sent, controller });
  }

  private async record(d: ClaimedDelivery, startedAtMs: number, result: AttemptResult): Promise<void> {
    const endedAtMs = this.scheduler.now();
    const step = nextStep(result, d.roundFailures, this.config.retry_schedule_s, endedAtMs);
    await this.store.finishAttempt({
      eventSeq: d.eventSeq,
      claimToken: d.claimToken,
      attemptNo: d.attemptNo,
      startedAtMs,
      endedAtMs,
      httpStatus: result.httpStatus,
      error: result.ok ? null : result.error,
      detail: result.ok ? null : result.detail,
      state: step.state,
      nextAttemptAtMs: step.state === 'pending' ? step.nextAttemptAtMs : null,
      roundFailures: step.state === 'succeeded' ? d.roundFailures : step.roundFailures,
    });
    const outcome: DeliveryOutcome =
      step.state === 'succeeded' ? 'succeeded' : step.state === 'failed' ? 'failed' : !result.ok && result.error === 'dispatcher_stopped' ? 'interrupted' : 'retry_scheduled';
    if (outcome === 'succeeded') this.stats.succeeded += 1;
    else if (outcome === 'failed') this.stats.failed += 1;
    else if (outcome === 'interrupted') this.stats.interrupted += 1;
    else this.stats.retryScheduled += 1;
    this.onOutcome(outcome);
    if (outcome === 'failed') {
      this.log('error', 'notification failed for good; an operator can re-send it (settle notify retry)', {
        event_id: eventId(d.eventSeq),
        merchant_id: d.merchantId,
        error: result.ok ? null : result.error,
        http_status: result.httpStatus,
      });
    }
  }

  private async attempt(d: ClaimedDelivery, startedAtMs: number, controller: AbortController): Promise<AttemptResult> {
    if (!isHttpUrl(d.url)) return { ok: false, error: 'notify_url_invalid', httpStatus: null, detail: null };
    if (Buffer.byteLength(d.body) > NOTIFY_LIMITS.bodyBytesMax) return { ok: false, error: 'notify_body_too_large', httpStatus: null, detail: null };
    let secret: string | undefined;
    try {
      secret = this.secretOf(d.merchantId);
    } catch (e) {
      // e.g. the master key does not decrypt the key secret: say so on the attempt, never the secret.
      return { ok: false, error: 'notify_secret_missing', httpStatus: null, detail: (e as { code?: string }).code ?? (e as Error).name };
    }
    if (secret === undefined || secret === '') return { ok: false, error: 'notify_secret_missing', httpStatus: null, detail: null };
    const id = eventId(d.eventSeq);
    const headers = {
      'content-type': 'application/json',
      'settle-event-id': id,
      'settle-signature': signatureHeader(secret, Math.floor(startedAtMs / 1000), d.body),
    };
    const timeout = this.scheduler.after(this.config.timeout_ms, () => controller.abort('timeout' satisfies AbortReason));
    try {
      return await this.send({ url: d.url, headers, body: d.body }, controller.signal);
    } finally {
      timeout.cancel();
    }
  }
}
