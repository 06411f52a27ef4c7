// Group commit: units of work that arrive in the same moment run in one write transaction, each inside
// its own savepoint (so one unit's failure rolls back only that unit), and every caller's promise
// settles only after the shared COMMIT — with synchronous=FULL that one fsync is paid once per batch
// instead of once per request. Batch size and wait are bounded.

import type { SqliteConnection } from './database.js';

export interface GroupCommitOptions {
  /** Units per transaction; bounds how long one batch holds SQLite's single write lock. */
  readonly batchMax?: number;
  /** Extra wait for more units to join a batch; 0 = just the current turn of the event loop. */
  readonly waitMs?: number;
  /** Called after any rollback (a unit's savepoint or the whole batch), so caches can be dropped. */
  readonly onRollback?: () => void;
}

interface Pending {
  readonly work: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
}

export interface GroupCommitStats {
  batches: number;
  units: number;
  batchSizeMax: number;
}

export class GroupCommitter {
  private readonly db: SqliteConnection;
  private readonly batchMax: number;
  private readonly waitMs: number;
  private readonly onRollback: () => void;
  private queue: Pending[] = [];
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];
  readonly stats: GroupCommitStats = { batches: 0, units: 0, batchSizeMax: 0 };
  private readonly begin;
  private readonly commit;
  private readonly rollback;
  private readonly savepoint;
  private readonly release;
  private readonly rollbackTo;

  constructor(db: SqliteConnection, options: GroupCommitOptions = {}) {
    this.db = db;
    this.batchMax = options.batchMax ?? 256;
    this.waitMs = options.waitMs ?? 0;
    this.onRollback = options.onRollback ?? (() => undefined);
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT unit');
    this.release = db.prepare('RELEASE unit');
    this.rollbackTo = db.prepare('ROLLBACK TO unit');
  }

  /** Runs `work` inside the next batch's transaction; resolves with its result after COMMIT. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Resolves when every unit queued so far has been committed (graceful shutdown). */
  drain(): Promise<void> {
    if (this.queue.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.waitMs > 0) setTimeout(() => this.flush(), this.waitMs);
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0, this.batchMax);
    if (this.queue.length > 0) this.schedule();
    if (batch.length === 0) return this.notifyIdle();
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.begin.run();
      for (const unit of batch) {
        this.savepoint.run();
        try {
          const value = unit.work();
          this.release.run();
          outcomes.push({ ok: true, value });
        } catch (e) {
          this.rollbackTo.run();
          this.release.run();
          this.onRollback();
          outcomes.push({ ok: false, value: e });
        }
      }
      this.commit.run();
    } catch (e) {
      if (this.db.inTransaction) this.rollback.run();
      this.onRollback();
      for (const unit of batch) unit.reject(e);
      return this.notifyIdle();
    }
    this.stats.batches += 1;
    this.stats.units += batch.length;
    this.stats.batchSizeMax = Math.max(this.stats.batchSizeMax, batch.length);
    batch.forEach((unit, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) unit.resolve(outcome.value);
      else unit.reject(outcome?.value);
    });
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.queue.length > 0 || this.scheduled) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
