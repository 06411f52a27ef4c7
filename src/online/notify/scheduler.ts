// Time for the dispatcher: the clock and delayed calls come from one place, so tests drive the whole
// retry schedule (hours of it) and the timeouts on a fake clock.

export interface Timer {
  cancel(): void;
}

export interface Scheduler {
  now(): number;
  /** Calls `fn` once, `delayMs` from now (on this scheduler's clock). */
  after(delayMs: number, fn: () => void): Timer;
}

export const realScheduler: Scheduler = {
  now: () => Date.now(),
  after(delayMs, fn) {
    const t = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(t) };
  },
};
