// Runs a batch job under the run log: takes the lease, keeps it alive while the work runs, records the
// outcome, counts and exit code, and releases it. A thrown error is recorded as `failed` and rethrown.

import { hostname } from 'node:os';
import type { JobRun, JobRunStore } from './port.js';

/** How long a lease lasts without a heartbeat; a killed run blocks its job and date at most this long. */
export const JOB_LEASE_MS = 30_000;
/** How often a running job renews its lease. */
export const JOB_HEARTBEAT_MS = 5_000;

export class JobLockedError extends Error {
  readonly code = 'job_locked';
  readonly holder: JobRun;
  constructor(holder: JobRun) {
    super(`${holder.job} for ${holder.businessDate} is running (run ${holder.runId} by ${holder.holder}, since ${new Date(holder.startedAtMs).toISOString()}).`);
    this.name = 'JobLockedError';
    this.holder = holder;
  }
}

export interface JobOutcome<T> {
  readonly result: T;
  /** 'findings' for a run that completed and found something for an operator (exit 2). */
  readonly outcome: 'succeeded' | 'findings';
  readonly counts?: Record<string, unknown>;
}

export interface RunnerDeps {
  readonly store: JobRunStore;
  readonly clock: () => number;
  /** Who holds the lease (host:pid by default), for `settle runs` and the locked message. */
  readonly holder?: string;
  readonly leaseMs?: number;
  readonly heartbeatMs?: number;
  /** True when the holder named is certainly gone (default: a process of this host that no longer exists). */
  readonly holderGone?: (holder: string) => boolean;
}

/** The default holder name: host and process id. */
export function thisHolder(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * True when `holder` names a process on this host that no longer runs. A pid reused by another process
 * reads as alive, which only means waiting for the lease to lapse — the safe side.
 */
export function localHolderGone(holder: string): boolean {
  const at = holder.lastIndexOf(':');
  if (at < 0 || holder.slice(0, at) !== hostname()) return false;
  const pid = Number(holder.slice(at + 1));
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export async function runJob<T>(
  deps: RunnerDeps,
  job: string,
  businessDate: string,
  work: (run: JobRun & { readonly tookOver: JobRun | null }) => Promise<JobOutcome<T>>,
): Promise<{ readonly run: JobRun; readonly result: T; readonly outcome: 'succeeded' | 'findings' }> {
  const leaseMs = deps.leaseMs ?? JOB_LEASE_MS;
  const holder = deps.holder ?? thisHolder();
  let begun = deps.store.begin(job, businessDate, holder, deps.clock(), leaseMs);
  if (!begun.ok && (deps.holderGone ?? localHolderGone)(begun.holder.holder)) {
    deps.store.abandon(begun.holder.runId, deps.clock(), `holder ${begun.holder.holder} is gone: the run stopped without finishing`);
    const dead = begun.holder;
    begun = deps.store.begin(job, businessDate, holder, deps.clock(), leaseMs);
    if (begun.ok) begun = { ...begun, tookOver: dead };
  }
  if (!begun.ok) throw new JobLockedError(begun.holder);
  const { run } = begun;
  // A beat that fails (the database busy past its timeout while other jobs write) is let go: the lease
  // lasts several beats, and the next one tries again. Thrown from a timer it would end the process.
  const beat = (): void => {
    try {
      deps.store.heartbeat(run.runId, deps.clock(), leaseMs);
    } catch {
      // the next beat renews the lease
    }
  };
  const timer = setInterval(beat, deps.heartbeatMs ?? JOB_HEARTBEAT_MS);
  timer.unref();
  try {
    const done = await work({ ...run, tookOver: begun.tookOver });
    deps.store.finish(run.runId, done.outcome, deps.clock(), { ...(done.counts && { counts: done.counts }), exitCode: done.outcome === 'findings' ? 2 : 0 });
    return { run, result: done.result, outcome: done.outcome };
  } catch (e) {
    deps.store.finish(run.runId, 'failed', deps.clock(), { exitCode: 1, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    throw e;
  } finally {
    clearInterval(timer);
  }
}
