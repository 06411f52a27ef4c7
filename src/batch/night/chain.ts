// The night chain: cutoff → reconcile each channel → clear → statements → share → trial balance →
// position plan → daily report, as steps with dependencies. A step that fails stops every step that
// depends on it (directly or through another) and raises an alert; steps that do not depend on it still
// run, so one late channel file does not keep the trial balance or the report from the operator.
//
// Steps that do not wait for each other may run at once (`parallel`): a step starts when every step it
// depends on or runs after has finished, taking the ready steps in the listed order. With one at a time
// the chain runs strictly in the listed order.
//
// Every step is idempotent per business date (the commands are), so a chain killed half way can be run
// again: steps the run log shows finished for the date are passed over (`done_earlier`) unless the
// operator asks to re-run them, and a step that was cut short runs again from the start.
//
// Pure orchestration: the steps themselves, the record of each step and the alerts are passed in.

/** What one step reports: its exit code in the CLI's terms (0 clean, 2 findings, anything else failed). */
export interface StepOutcome {
  readonly exitCode: number;
  /** One line for the operator. */
  readonly summary: string;
  readonly counts?: Record<string, unknown>;
}

export interface ChainStep {
  readonly name: string;
  /** Steps whose failure blocks this one. */
  readonly dependsOn: readonly string[];
  /** Steps it waits for whatever their outcome: work it should see when there is any, but can do without. */
  readonly after?: readonly string[];
  run(): Promise<StepOutcome>;
}

export type StepState = 'succeeded' | 'findings' | 'failed' | 'blocked' | 'done_earlier';

export interface StepReport {
  readonly name: string;
  readonly state: StepState;
  readonly exitCode: number | null;
  readonly summary: string;
  readonly startedAtMs: number | null;
  readonly endedAtMs: number | null;
  readonly counts?: Record<string, unknown>;
  /** For a blocked step: the failed steps it waited on. */
  readonly blockedBy?: readonly string[];
}

export interface ChainReport {
  readonly businessDate: string;
  readonly steps: readonly StepReport[];
  /** 0 every step clean, 2 findings but nothing failed, 1 a step failed or was blocked. */
  readonly exitCode: 0 | 1 | 2;
}

export interface Alert {
  readonly businessDate: string;
  readonly step: string;
  readonly exitCode: number | null;
  readonly message: string;
  /** Steps that will not run because of it. */
  readonly blocks: readonly string[];
  readonly atMs: number;
}

/** Where alerts go (built in: a webhook POST and a log line — see alert.ts). Must not throw. */
export interface AlertPort {
  send(alert: Alert): Promise<void>;
}

export interface ChainDeps {
  readonly clock: () => number;
  readonly alert: AlertPort;
  /** How the step finished for the date in an earlier run, per the run log; undefined when it did not. */
  readonly finishedEarlier: (step: string) => 'succeeded' | 'findings' | undefined;
  /** Runs one step under its own run record and lock; the default runs it bare. */
  readonly record?: (step: string, work: () => Promise<StepOutcome>) => Promise<StepOutcome>;
  /** Called as each step starts and ends, for progress lines. */
  readonly onStep?: (event: { readonly kind: 'start'; readonly step: string } | { readonly kind: 'end'; readonly report: StepReport }) => void;
}

export class ChainDefinitionError extends Error {
  readonly code = 'chain_invalid';
}

/** Steps running at once at most. */
export const CHAIN_PARALLEL_MAX = 8;

/** Checks names are unique, and that dependencies and `after` steps exist and come earlier (so the given order is a valid order). */
export function checkChain(steps: readonly ChainStep[]): void {
  const seen = new Set<string>();
  for (const step of steps) {
    if (seen.has(step.name)) throw new ChainDefinitionError(`Step ${step.name} is listed twice.`);
    for (const d of step.dependsOn) if (!seen.has(d)) throw new ChainDefinitionError(`Step ${step.name} depends on ${d}, which is not an earlier step.`);
    for (const d of step.after ?? []) if (!seen.has(d)) throw new ChainDefinitionError(`Step ${step.name} runs after ${d}, which is not an earlier step.`);
    seen.add(step.name);
  }
}

/** The steps that depend on `name`, directly or through others. */
export function dependentsOf(steps: readonly ChainStep[], name: string): string[] {
  const out = new Set<string>([name]);
  for (const step of steps) if (step.dependsOn.some((d) => out.has(d))) out.add(step.name);
  out.delete(name);
  return [...out];
}

const FAILED: ReadonlySet<StepState> = new Set(['failed', 'blocked']);

export interface ChainOptions {
  /** Run every step again, even those an earlier run finished. */
  readonly rerun?: boolean;
  /** Steps running at once at most (1 to CHAIN_PARALLEL_MAX; default 1: one after another, in the listed order). */
  readonly parallel?: number;
}

export async function runChain(businessDate: string, steps: readonly ChainStep[], deps: ChainDeps, options: ChainOptions = {}): Promise<ChainReport> {
  checkChain(steps);
  const parallel = options.parallel ?? 1;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > CHAIN_PARALLEL_MAX) {
    throw new ChainDefinitionError(`A chain runs 1 to ${CHAIN_PARALLEL_MAX} steps at once, not ${String(parallel)}.`);
  }
  const states = new Map<string, StepState>();
  const byName = new Map<string, StepReport>();
  const record = deps.record ?? ((_step: string, work: () => Promise<StepOutcome>) => work());
  const finish = (report: StepReport): void => {
    states.set(report.name, report.state);
    byName.set(report.name, report);
    deps.onStep?.({ kind: 'end', report });
  };

  const runStep = async (step: ChainStep): Promise<void> => {
    deps.onStep?.({ kind: 'start', step: step.name });
    const startedAtMs = deps.clock();
    let outcome: StepOutcome;
    try {
      outcome = await record(step.name, () => step.run());
    } catch (e) {
      outcome = { exitCode: 70, summary: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    }
    const state: StepState = outcome.exitCode === 0 ? 'succeeded' : outcome.exitCode === 2 ? 'findings' : 'failed';
    finish({ name: step.name, state, exitCode: outcome.exitCode, summary: outcome.summary, startedAtMs, endedAtMs: deps.clock(), ...(outcome.counts && { counts: outcome.counts }) });
    if (state === 'failed') {
      await deps.alert.send({
        businessDate,
        step: step.name,
        exitCode: outcome.exitCode,
        message: outcome.summary,
        blocks: dependentsOf(steps, step.name),
        atMs: deps.clock(),
      });
    }
  };

  /** Settles a step whose waits are over without running it (blocked, or done earlier); false when it has to run. */
  const settled = (step: ChainStep): boolean => {
    const failedDeps = step.dependsOn.filter((d) => FAILED.has(states.get(d) ?? 'failed'));
    if (failedDeps.length > 0) {
      finish({ name: step.name, state: 'blocked', exitCode: null, summary: `not run: ${failedDeps.join(', ')} did not finish`, startedAtMs: null, endedAtMs: null, blockedBy: failedDeps });
      return true;
    }
    const earlier = options.rerun === true ? undefined : deps.finishedEarlier(step.name);
    if (earlier === undefined) return false;
    // Its exit code is the earlier one, so a resumed night still reports the findings it had.
    finish({ name: step.name, state: 'done_earlier', exitCode: earlier === 'findings' ? 2 : 0, summary: `finished in an earlier run for this date${earlier === 'findings' ? ', with findings' : ''}`, startedAtMs: null, endedAtMs: null });
    return true;
  };

  const waiting = [...steps];
  const running = new Map<string, Promise<string>>();
  while (waiting.length > 0 || running.size > 0) {
    // The ready steps in the listed order: settled at once, or started while a place is free. One at a
    // time, nothing is looked at past the step started, so the chain keeps the listed order exactly.
    for (let i = 0; i < waiting.length && !(parallel === 1 && running.size > 0); ) {
      const step = waiting[i] as ChainStep;
      const ready = step.dependsOn.every((d) => states.has(d)) && (step.after ?? []).every((d) => states.has(d));
      if (ready && settled(step)) {
        waiting.splice(i, 1);
      } else if (ready && running.size < parallel) {
        waiting.splice(i, 1);
        running.set(step.name, runStep(step).then(() => step.name));
      } else {
        i += 1;
      }
    }
    // Nothing running and nothing ready cannot happen: checkChain puts every wait on an earlier step.
    if (running.size === 0) break;
    running.delete(await Promise.race(running.values()));
  }
  const reports = steps.map((s) => byName.get(s.name)).filter((r): r is StepReport => r !== undefined);

  const exitCode = reports.some((r) => FAILED.has(r.state)) ? 1 : reports.some((r) => r.exitCode === 2) ? 2 : 0;
  return { businessDate, steps: reports, exitCode };
}
