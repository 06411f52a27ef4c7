// What the router needs to know at run time, kept by the daemon: a circuit breaker per channel and
// today's usage of each channel against its limits. Usage is loaded from the orders at start and kept
// in memory after that (the daemon is the single writer); it counts what was sent to a channel, so a
// decline still counts against the day's limit — the safe side of a limit.

import type { OnlineConfig } from '../config.js';
import type { ChannelHealthRecord, ChannelUsageRow } from '../port.js';
import { CircuitBreaker, type BreakerSnapshot } from './breaker.js';
import { breakerConfig, routableChannel, routingRules } from './config.js';
import { route, type RouteDecision, type RouteRequest, type RoutableChannel, type RoutingRule } from './router.js';

export class ChannelHealth {
  readonly channels: readonly RoutableChannel[];
  readonly rules: readonly RoutingRule[];
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly clock: () => number;
  private usageDay = '';
  private readonly usage = new Map<string, { amountMinor: bigint; count: number }>();
  private readonly onTransition: ((rows: ChannelHealthRecord[]) => void) | undefined;

  constructor(config: OnlineConfig, clock: () => number, onTransition?: (rows: ChannelHealthRecord[]) => void) {
    this.channels = config.channels.map(routableChannel);
    this.rules = routingRules(config.routing);
    this.clock = clock;
    this.onTransition = onTransition;
    const nowMs = clock();
    for (const c of config.channels) this.breakers.set(c.id, new CircuitBreaker(breakerConfig(config.routing), nowMs));
  }

  decide(req: RouteRequest, businessDate: string, connected: (channelId: string) => boolean, onlyChannel?: string): RouteDecision {
    const nowMs = this.clock();
    // An agreement binds the payment to its channel: that pin replaces any configured one, with no fallback.
    const rules: readonly RoutingRule[] =
      onlyChannel === undefined ? this.rules : [{ kind: 'pin', channel: onlyChannel, fallback: false }, ...this.rules.filter((r) => r.kind !== 'pin')];
    return route(req, {
      channels: this.channels,
      rules,
      usage: (id) => this.usageOf(businessDate, id, req.currency),
      healthy: (id) => this.breakers.get(id)?.allows(nowMs) ?? false,
      connected,
    });
  }

  /** Whether a call may go to the channel now (a fallback checks again just before calling). */
  allows(channelId: string): boolean {
    return this.breakers.get(channelId)?.allows(this.clock()) ?? false;
  }

  /** Takes a call slot at the channel (the probe in half-open); undefined when its breaker refuses now. */
  tryBegin(channelId: string): 'normal' | 'probe' | undefined {
    return this.breakers.get(channelId)?.tryBegin(this.clock());
  }

  /** ok: the channel answered (a success or a business decline); not ok: timeout, 5xx, outage, garbage. */
  record(channelId: string, ok: boolean, kind: 'normal' | 'probe' = 'normal'): void {
    const b = this.breakers.get(channelId);
    if (!b) return;
    const nowMs = this.clock();
    const before = b.snapshot(nowMs).state;
    b.record(ok, nowMs, kind);
    if (b.snapshot(nowMs).state !== before) this.onTransition?.(this.snapshot());
  }

  snapshot(): ChannelHealthRecord[] {
    const nowMs = this.clock();
    return [...this.breakers].map(([channelId, b]) => {
      const s: BreakerSnapshot = b.snapshot(nowMs);
      return { channelId, state: s.state, sinceMs: s.sinceMs, calls: s.calls, failures: s.failures, reason: s.reason, updatedAtMs: nowMs };
    });
  }

  seedUsage(businessDate: string, rows: readonly ChannelUsageRow[]): void {
    this.rollDay(businessDate);
    for (const r of rows) this.usage.set(`${r.channelId}\u0000${r.currency}`, { amountMinor: r.amountMinor, count: r.count });
  }

  addUsage(businessDate: string, channelId: string, currency: string, amountMinor: bigint, sign: 1 | -1 = 1): void {
    this.rollDay(businessDate);
    const key = `${channelId}\u0000${currency}`;
    const u = this.usage.get(key) ?? { amountMinor: 0n, count: 0 };
    this.usage.set(key, { amountMinor: u.amountMinor + BigInt(sign) * amountMinor, count: u.count + sign });
  }

  usageOf(businessDate: string, channelId: string, currency: string): { amountMinor: bigint; count: number } {
    this.rollDay(businessDate);
    return this.usage.get(`${channelId}\u0000${currency}`) ?? { amountMinor: 0n, count: 0 };
  }

  private rollDay(businessDate: string): void {
    if (businessDate === this.usageDay) return;
    this.usageDay = businessDate;
    this.usage.clear();
  }
}
