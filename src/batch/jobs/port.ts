// The run log and locks of batch jobs (cutoff, clear, share, trial balance, position plan, …). A run of
// job J for business date D takes a lease: a second run of J for D while the lease is live is refused
// (`job_locked`); a run killed half way leaves its lease to lapse, and the next run takes over — at once
// when the holder was a process on this host that is gone. The work
// itself must be idempotent per date (deterministic ids), so a re-run after a crash or a success changes
// nothing that was already done.

export type RunOutcome = 'running' | 'succeeded' | 'findings' | 'failed' | 'abandoned';

export interface JobRun {
  readonly runId: number;
  readonly job: string;
  readonly businessDate: string;
  readonly outcome: RunOutcome;
  readonly startedAtMs: number;
  readonly endedAtMs: number | null;
  /** What the run counted (rows, merchants, entries …), as JSON text. */
  readonly counts: string | null;
  readonly exitCode: number | null;
  readonly error: string | null;
  readonly holder: string;
  readonly leaseUntilMs: number;
}

export type BeginResult = { readonly ok: true; readonly run: JobRun; readonly tookOver: JobRun | null } | { readonly ok: false; readonly holder: JobRun };

export interface JobRunStore {
  /** Atomically: refuses when a live run of the job and date holds the lease; else records a new running run (marking a lapsed one abandoned). */
  begin(job: string, businessDate: string, holder: string, nowMs: number, leaseMs: number): BeginResult;
  /** Marks a running run abandoned at once (its holder is known to be gone); false when it is no longer running. */
  abandon(runId: number, nowMs: number, reason: string): boolean;
  /** Extends the lease of a running run; false when it is no longer the holder. */
  heartbeat(runId: number, nowMs: number, leaseMs: number): boolean;
  finish(runId: number, outcome: Exclude<RunOutcome, 'running' | 'abandoned'>, nowMs: number, details: { counts?: Record<string, unknown>; exitCode: number; error?: string }): void;
  list(filter: { job?: string; businessDate?: string; limit: number }): JobRun[];
}
