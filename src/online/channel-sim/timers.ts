// Sleeps and timers the simulator can cancel all at once on close, so a held request or a scheduled
// completion never keeps a closing server (or a test) waiting.

export class Timers {
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; resolve: (completed: boolean) => void }>();
  private readonly scheduled = new Set<NodeJS.Timeout>();
  private closed = false;

  /** Resolves true after ms, or false at once if cancelAll() runs first. */
  sleep(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleeps.delete(entry);
          resolve(true);
        }, ms),
        resolve,
      };
      this.sleeps.add(entry);
    });
  }

  /** Runs work after ms unless cancelAll() runs first. */
  schedule(ms: number, work: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.scheduled.delete(timer);
      work();
    }, Math.max(0, ms));
    this.scheduled.add(timer);
  }

  cancelAll(): void {
    this.closed = true;
    for (const s of this.sleeps) {
      clearTimeout(s.timer);
      s.resolve(false);
    }
    this.sleeps.clear();
    for (const t of this.scheduled) clearTimeout(t);
    this.scheduled.clear();
  }
}
