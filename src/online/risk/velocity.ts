// Sliding windows of recent attempts per risk dimension value, in memory (the daemon is the single
// writer, so this is exact for one process) and reloaded from the stored decisions at start. Bounded:
// entries older than the longest window are dropped, and each value keeps at most ENTRIES_PER_KEY_MAX.

import type { Dimension } from './engine.js';

export const ENTRIES_PER_KEY_MAX = 10_000;
export const KEYS_MAX = 1_000_000;

interface Attempt {
  readonly atMs: number;
  readonly amountMinor: bigint;
  readonly currency: string;
}

export class VelocityWindows {
  private readonly byKey = new Map<string, Attempt[]>();
  private readonly horizonMs: number;
  private prunedAtMs = 0;

  constructor(horizonMs: number) {
    this.horizonMs = horizonMs;
  }

  record(dimension: Dimension, value: string, atMs: number, amountMinor: bigint, currency: string): void {
    const key = `${dimension}\u0000${value}`;
    let list = this.byKey.get(key);
    if (!list) {
      if (this.byKey.size >= KEYS_MAX) this.prune(atMs);
      list = [];
      this.byKey.set(key, list);
    }
    list.push({ atMs, amountMinor, currency });
    if (list.length > ENTRIES_PER_KEY_MAX) list.splice(0, list.length - ENTRIES_PER_KEY_MAX);
    if (atMs - this.prunedAtMs > 60_000) this.prune(atMs);
  }

  /** Attempts of the value within windowMs before nowMs; the amount only in the given currency. */
  count(dimension: Dimension, value: string, windowMs: number, nowMs: number, currency: string): { count: number; amountMinor: bigint } {
    const list = this.byKey.get(`${dimension}\u0000${value}`);
    let count = 0;
    let amountMinor = 0n;
    if (!list) return { count, amountMinor };
    for (let i = list.length - 1; i >= 0; i--) {
      const a = list[i] as Attempt;
      if (a.atMs <= nowMs - windowMs) break;
      count++;
      if (a.currency === currency) amountMinor += a.amountMinor;
    }
    return { count, amountMinor };
  }

  private prune(nowMs: number): void {
    this.prunedAtMs = nowMs;
    for (const [key, list] of this.byKey) {
      const keep = list.findIndex((a) => a.atMs > nowMs - this.horizonMs);
      if (keep < 0) this.byKey.delete(key);
      else if (keep > 0) list.splice(0, keep);
    }
  }
}
