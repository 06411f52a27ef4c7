// A circuit breaker per channel (熔断), driven by a rolling window of call outcomes. Pure: the caller
// passes the time in, so transitions are tested on a fake clock.
//
//   closed ──(≥ min_calls in the window and failure ratio ≥ threshold)──▶ open
//   open ──(open_ms elapsed)──▶ half_open: the next call is a probe, others are refused
//   half_open ──probe succeeds──▶ closed (window cleared) · probe fails──▶ open again
//
// Only technical failures count (timeout, 5xx, outage, garbled answer): a business decline means the
// channel works.

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerConfig {
  readonly windowMs: number;
  /** Fewer calls than this in the window never open the breaker (one timeout is not an outage). */
  readonly minCalls: number;
  /** Failures ÷ calls in the window at or above which the breaker opens, in per mille (500 = 50%). */
  readonly failurePerMilleOpen: number;
  readonly openMs: number;
}

export interface BreakerSnapshot {
  readonly state: BreakerState;
  readonly sinceMs: number;
  readonly calls: number;
  readonly failures: number;
  /** Why it last changed state, for `settle channel status` and the route record. */
  readonly reason: string;
}

/** Outcomes are kept in one-second buckets so the window costs O(window seconds), not O(calls). */
interface Bucket {
  second: number;
  calls: number;
  failures: number;
}

/** A bound on memory: a window longer than this many seconds is refused by the config schema. */
export const BREAKER_WINDOW_SECONDS_MAX = 3600;

export class CircuitBreaker {
  private readonly config: BreakerConfig;
  private readonly buckets: Bucket[] = [];
  private state: BreakerState = 'closed';
  private sinceMs: number;
  private reason = 'started';
  private probeInFlight = false;

  constructor(config: BreakerConfig, nowMs: number) {
    this.config = config;
    this.sinceMs = nowMs;
  }

  /** May a call go to this channel now? In half-open, only one probe at a time. */
  allows(nowMs: number): boolean {
    this.tick(nowMs);
    if (this.state === 'closed') return true;
    if (this.state === 'open') return false;
    return !this.probeInFlight;
  }

  /**
   * Takes a call slot if the breaker lets one through now: in half-open the one probe, marked in the
   * same step so concurrent requests cannot all become probes. Returns what kind of call it is, or
   * undefined when refused; pass that kind to record().
   */
  tryBegin(nowMs: number): 'normal' | 'probe' | undefined {
    if (!this.allows(nowMs)) return undefined;
    if (this.state === 'half_open') {
      this.probeInFlight = true;
      return 'probe';
    }
    return 'normal';
  }

  /** Records a call's end: ok = the channel answered (success or business decline). */
  record(ok: boolean, nowMs: number, kind: 'normal' | 'probe' = 'normal'): void {
    this.tick(nowMs);
    if (this.state === 'half_open') {
      // Only the probe decides; a call that began before the breaker opened says nothing about now.
      if (kind !== 'probe') return;
      this.probeInFlight = false;
      if (ok) this.move('closed', nowMs, 'probe succeeded');
      else this.move('open', nowMs, 'probe failed');
      return;
    }
    if (this.state === 'open' || kind === 'probe') return; // a stale call, or a probe whose breaker moved on
    const second = Math.floor(nowMs / 1000);
    let last = this.buckets.at(-1);
    if (!last || last.second !== second) {
      last = { second, calls: 0, failures: 0 };
      this.buckets.push(last);
    }
    last.calls++;
    if (!ok) last.failures++;
    const { calls, failures } = this.totals();
    if (calls >= this.config.minCalls && failures * 1000 >= this.config.failurePerMilleOpen * calls) {
      this.move('open', nowMs, `${failures} of ${calls} calls failed within ${Math.round(this.config.windowMs / 1000)} s`);
    }
  }

  snapshot(nowMs: number): BreakerSnapshot {
    this.tick(nowMs);
    const { calls, failures } = this.totals();
    return { state: this.state, sinceMs: this.sinceMs, calls, failures, reason: this.reason };
  }

  private totals(): { calls: number; failures: number } {
    let calls = 0;
    let failures = 0;
    for (const b of this.buckets) {
      calls += b.calls;
      failures += b.failures;
    }
    return { calls, failures };
  }

  private tick(nowMs: number): void {
    const oldest = Math.floor((nowMs - this.config.windowMs) / 1000);
    while (this.buckets.length > 0 && (this.buckets[0]?.second ?? 0) <= oldest) this.buckets.shift();
    if (this.state === 'open' && nowMs - this.sinceMs >= this.config.openMs) this.move('half_open', nowMs, 'open period over: next call is a probe');
  }

  private move(to: BreakerState, nowMs: number, reason: string): void {
    this.state = to;
    this.sinceMs = nowMs;
    this.reason = reason;
    this.probeInFlight = false;
    if (to !== 'open') this.buckets.length = 0;
  }
}
