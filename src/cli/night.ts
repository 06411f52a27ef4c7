// The night chain's steps as settle commands — the same commands an operator types or the system
// crontab runs, so a step behaves identically whichever way it is started. By default each step runs as
// a child process of the settle binary: a step that runs out of memory or is killed does not take the
// chain (or `settle cron`) with it, and the chain's lease keeps being renewed while a step is busy.

import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChainStep, StepOutcome } from '../batch/night/chain.js';
import type { NightConfig } from '../batch/night/config.js';
import type { CliIo } from './context.js';

/** Runs `settle <argv>` and gives back its exit code and output. */
export type StepExecutor = (argv: readonly string[]) => Promise<{ readonly exitCode: number; readonly stdout: string; readonly stderr: string }>;

/** Output kept from a step (its JSON result is small; progress lines are cut to the tail). */
const STEP_OUTPUT_BYTES_MAX = 8 * 1024 * 1024;
const STDERR_TAIL_BYTES = 4096;

function keepTail(text: string, add: string, max: number): string {
  const joined = text + add;
  return joined.length > max ? joined.slice(joined.length - max) : joined;
}

/** Each step as a child process of bin/settle.js, with the parent's environment. */
export function childProcessExecutor(env: NodeJS.ProcessEnv, cwd: string, onStderr?: (text: string) => void): StepExecutor {
  const bin = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'settle.js');
  return (argv) =>
    new Promise((done, fail) => {
      const child = spawn(process.execPath, [bin, ...argv], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (t: string) => {
        if (stdout.length < STEP_OUTPUT_BYTES_MAX) stdout += t;
      });
      child.stderr.setEncoding('utf8').on('data', (t: string) => {
        stderr = keepTail(stderr, t, STDERR_TAIL_BYTES);
        onStderr?.(t);
      });
      child.once('error', fail);
      child.once('close', (code, signal) => done({ exitCode: code ?? (signal === null ? 70 : 128 + signalNumber(signal)), stdout, stderr }));
    });
}

function signalNumber(signal: NodeJS.Signals): number {
  return signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 0;
}

/** Each step inside this process through the CLI's own entry point (faster; no isolation). */
export function inProcessExecutor(invoke: (argv: readonly string[], io: CliIo) => Promise<number>, io: CliIo): StepExecutor {
  return async (argv) => {
    let stdout = '';
    let stderr = '';
    // No terminal: a step's progress goes to its captured stderr as plain lines, never as a live bar.
    const exitCode = await invoke(['node', 'settle', ...argv], {
      env: io.env,
      cwd: io.cwd,
      clock: io.clock,
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr = keepTail(stderr, t, STDERR_TAIL_BYTES)),
    });
    return { exitCode, stdout, stderr };
  };
}

const SUMMARY_FIELDS_MAX = 8;
/** Days `day status` lists when the cutoff step asks whether its day is closed (a night is rarely run for a day older than this). */
const DAY_STATUS_LIMIT = 1000;
/** Fields every step repeats (the chain's own date) or that are too long for one line. */
const SUMMARY_SKIPPED: ReadonlySet<string> = new Set(['date', 'business_date', 'closed_date', 'as_of', 'dir', 'out', 'channel', 'file_id', 'version', 'run_id', 'elapsed_ms']);

/** One line from a step's `--json` result: its refusal, or its top-level figures. */
export function summarise(exitCode: number, stdout: string, stderr: string): { summary: string; counts?: Record<string, unknown>; json?: Record<string, unknown> } {
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(stdout);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  if (json === undefined) {
    const last = stderr.trim().split('\n').slice(-3).join(' | ');
    return { summary: `exit ${exitCode}${last === '' ? '' : `: ${last}`}` };
  }
  if (json['ok'] === false) return { summary: `${String(json['code'] ?? 'refused')}: ${String(json['message'] ?? '')}`.trim(), json };
  const counts: Record<string, unknown> = {};
  const take = (k: string, v: unknown, depth: number): void => {
    if (Object.keys(counts).length >= SUMMARY_FIELDS_MAX || k === 'ok' || SUMMARY_SKIPPED.has(k)) return;
    if (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length <= 80)) counts[k] = v;
    else if (Array.isArray(v)) counts[k] = v.length;
    else if (depth === 0 && v !== null && typeof v === 'object') for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'number') take(k2, v2, 1);
  };
  // A nested `counts` object says most about a step (recon's matched / suspense / discrepancies): first.
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  const nested = Object.values(json).filter(isObject);
  for (const c of [json['counts'], ...nested.map((v) => v['counts'])]) if (isObject(c)) take('counts', c, 0);
  for (const v of nested) if (typeof v['open_discrepancies'] === 'number') take('open_discrepancies', v['open_discrepancies'], 1);
  for (const [k, v] of Object.entries(json)) if (k !== 'counts') take(k, v, 0);
  const summary = Object.entries(counts)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  return { summary: summary === '' ? (exitCode === 2 ? 'done, with findings' : 'done') : summary, counts, json };
}

export interface NightPlan {
  readonly businessDate: string;
  readonly dbPath: string;
  /** The config file the steps read (passed on as --config), or undefined for their default. */
  readonly configPath?: string;
  readonly night: NightConfig;
  /** Channels to reconcile (the night section's, or every channel in recon.channels). */
  readonly channels: readonly string[];
  readonly exec: StepExecutor;
}

/** Where a night's files go: <out_dir>/<date>/ beside the database. */
export function nightOutDir(dbPath: string, night: NightConfig, businessDate: string): string {
  return resolve(dirname(dbPath), night.out_dir, businessDate);
}

export function nightSteps(plan: NightPlan): ChainStep[] {
  const d = plan.businessDate;
  const out = nightOutDir(plan.dbPath, plan.night, d);
  const cfg = plan.configPath === undefined ? [] : ['--config', plan.configPath];
  const step = (
    name: string,
    dependsOn: readonly string[],
    argv: readonly string[],
    interpret?: (r: StepOutcome, json: Record<string, unknown> | undefined) => StepOutcome,
    after: readonly string[] = [],
  ): ChainStep => ({
    name,
    dependsOn,
    after,
    async run() {
      const r = await plan.exec(['--json', '--db', plan.dbPath, ...argv]);
      const s = summarise(r.exitCode, r.stdout, r.stderr);
      const outcome: StepOutcome = { exitCode: r.exitCode, summary: s.summary, ...(s.counts && { counts: s.counts }) };
      return interpret ? interpret(outcome, s.json) : outcome;
    },
  });
  const closedAlready = (cutoff: ChainStep): ChainStep => ({
    ...cutoff,
    async run() {
      const status = await plan.exec(['--json', '--db', plan.dbPath, 'day', 'status', '--limit', String(DAY_STATUS_LIMIT)]);
      const days = (summarise(status.exitCode, status.stdout, status.stderr).json?.['days'] ?? []) as { business_date?: string; status?: string }[];
      if (status.exitCode === 0 && days.some((x) => x.business_date === d && x.status === 'closed')) return { exitCode: 0, summary: `${d} was closed already` };
      return cutoff.run();
    },
  });
  const recon = plan.channels.map((c) => `recon:${c}`);
  const head = [
    // A day found closed already (by an earlier run cut short after its cutoff, or by hand) is done: the
    // day's status is asked first, so no refused cutoff run is left in the log for the report to count.
    closedAlready(step('cutoff', [], ['day', 'cutoff', '--date', d], (r, json) =>
      r.exitCode === 1 && json?.['code'] === 'cutoff_out_of_order' && json['day_status'] === 'closed' ? { exitCode: 0, summary: `${d} was closed already` } : r,
    )),
    // Each channel waits for its file (the fetch retries until the source's deadline) and reconciles.
    ...plan.channels.map((c, i) => step(recon[i] ?? c, ['cutoff'], ['recon', 'run', '--channel', c, '--date', d, ...cfg])),
    // Clearing settles only what reconciliation matched; a channel whose file is late only holds its
    // items back to a later batch, so clearing waits on the cutoff, not on every channel. It runs after
    // every channel's reconciliation, whatever their outcome, to settle what they matched.
    step('clear', ['cutoff'], ['clear', '--date', d, '--out', join(out, 'settlements'), ...cfg], undefined, recon),
    ...(plan.night.statements ? [step('statement', ['clear'], ['statement', '--date', d, ...cfg])] : []),
    // When steps run at once (night.parallel_steps), share runs beside the reconciliations and clearing.
    step('share', ['cutoff'], ['share', '--date', d, '--out', join(out, 'shares'), ...cfg]),
  ];
  // The tail runs each step after every step listed before it, as one at a time would: the trial balance,
  // the position plan (which counts clearing's settlements due), and the report, which always runs: a
  // night with a failed step is the one the team most needs to read about.
  const tail: [name: string, dependsOn: readonly string[], argv: readonly string[]][] = [
    ['trial-balance', ['cutoff'], ['trial-balance', '--date', d, ...cfg]],
    ['position-plan', ['cutoff'], ['position', 'plan', '--date', d, '--out', join(out, 'position-plan.json'), ...cfg]],
    ['report', [], ['report', '--date', d, '--out', join(out, `report-${d}.html`), ...cfg]],
  ];
  const steps = [...head];
  for (const [name, dependsOn, argv] of tail) steps.push(step(name, dependsOn, argv, undefined, steps.map((s) => s.name)));
  return steps;
}
