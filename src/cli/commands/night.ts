// settle run night-chain --date D: the nightly chain once, by hand or from the system crontab.
// settle cron: the same chain on the node-cron schedule of the config's `night` section, until stopped.
//
// The chain holds the lock `night-chain` for its date in the run log, so a second scheduler or a second
// manual run of the same date is refused politely (job_locked); each step is recorded as
// `night-chain:<step>` and, as a command, under its own job as well. A chain killed half way is run again
// with the same command: finished steps are passed over, the rest run (every step is idempotent per date).

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { fanOut, logAlerts, webhookAlerts } from '../../batch/night/alert.js';
import { NIGHT_ERROR_CODES } from '../../batch/night/errors.js';
import { CHAIN_PARALLEL_MAX, runChain, type ChainReport, type StepOutcome, type StepReport } from '../../batch/night/chain.js';
import { businessDateFor, parseNightConfig, type NightConfig } from '../../batch/night/config.js';
import { startNightScheduler, type SchedulerEvent } from '../../batch/night/scheduler.js';
import { JobLockedError, runJob } from '../../batch/jobs/runner.js';
import { SqliteJobRunStore } from '../../batch/jobs/sqlite/job-store.js';
import { describeZodIssue } from '../../ledger/chart-config.js';
import { openSqlite } from '../../ledger/sqlite/database.js';
import { loadConfig, type SettleConfig } from '../config.js';
import { BATCH_BUSY_TIMEOUT_MS, type CliIo, type CommandContext, type Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { childProcessExecutor, inProcessExecutor, nightOutDir, nightSteps, type StepExecutor } from '../night.js';
import { table } from '../output.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
export const NIGHT_JOB = 'night-chain';


type Invoke = (argv: readonly string[], io: CliIo) => Promise<number>;

interface NightSetup {
  readonly config: SettleConfig;
  readonly configPath: string | undefined;
  readonly night: NightConfig;
  readonly channels: readonly string[];
}

function setup(ctx: CommandContext, configFlag: string | undefined): NightSetup {
  const given = configFlag ?? ctx.io.env['SETTLE_CONFIG'];
  const configPath = given === undefined ? undefined : resolve(ctx.io.cwd, given);
  const config = loadConfig(configPath);
  const parsed = parseNightConfig(config.sections.night);
  if (!parsed.ok) throw new AbortError('config_invalid', describeZodIssue(parsed.error, `${config.path}: night`), 'Fix the night section of the config (see src/batch/night/config.ts).');
  const night = parsed.value;
  const known = config.recon.channels.map((c) => c.channel);
  const unknown = (night.channels ?? []).filter((c) => !known.includes(c));
  if (unknown.length > 0) throw new AbortError('channel_unknown', `night.channels lists ${unknown.join(', ')}, which recon.channels does not configure.`, NIGHT_ERROR_CODES.channel_unknown);
  if (night.alert.secret_env !== undefined && (ctx.io.env[night.alert.secret_env] ?? '') === '') {
    throw new AbortError('alert_secret_missing', `night.alert.secret_env is ${night.alert.secret_env}, which is not set.`, NIGHT_ERROR_CODES.alert_secret_missing);
  }
  return { config, configPath, night, channels: night.channels ?? known };
}

class StepFailed extends Error {
  constructor(readonly outcome: StepOutcome) {
    super(outcome.summary);
  }
}

class ChainFailed extends Error {
  constructor(readonly report: ChainReport) {
    const failed = report.steps.filter((s) => s.state === 'failed').map((s) => s.name);
    const blocked = report.steps.filter((s) => s.state === 'blocked').map((s) => s.name);
    super(`failed: ${failed.join(', ')}${blocked.length > 0 ? `; not run: ${blocked.join(', ')}` : ''}`);
  }
}

function stepLine(r: StepReport, json: boolean): string {
  const seconds = r.startedAtMs !== null && r.endedAtMs !== null ? (r.endedAtMs - r.startedAtMs) / 1000 : null;
  if (json) return `${JSON.stringify({ event: 'step', step: r.name, state: r.state, exit_code: r.exitCode, seconds, summary: r.summary })}\n`;
  return `night: ${r.name} ${r.state}${seconds === null ? '' : ` in ${seconds.toFixed(1)} s`}: ${r.summary}\n`;
}

/** Runs the chain for a date under its lock; `{ locked }` when another run holds it. */
export async function runNight(
  ctx: CommandContext,
  s: NightSetup,
  businessDate: string,
  options: { readonly exec: StepExecutor; readonly rerun: boolean; readonly json: boolean; readonly parallel: number },
): Promise<{ readonly report: ChainReport } | { readonly locked: string }> {
  // The chain records each step's run while other steps write: it waits for the lock as a batch job does.
  const db = openSqlite(ctx.dbPath, { busyTimeoutMs: BATCH_BUSY_TIMEOUT_MS });
  try {
    const store = new SqliteJobRunStore(db);
    const deps = { store, clock: ctx.io.clock };
    const secret = s.night.alert.secret_env === undefined ? undefined : ctx.io.env[s.night.alert.secret_env];
    const alert = fanOut([
      logAlerts(ctx.io.stderr),
      ...(s.night.alert.webhook_url === undefined
        ? []
        : [webhookAlerts({ url: s.night.alert.webhook_url, timeoutMs: s.night.alert.timeout_ms, ...(secret !== undefined && { secret }), onError: (m) => ctx.io.stderr(`night: ${m}\n`), clock: ctx.io.clock })]),
    ]);
    const steps = nightSteps({ businessDate, dbPath: ctx.dbPath, ...(s.configPath !== undefined && { configPath: s.configPath }), night: s.night, channels: s.channels, exec: options.exec });
    try {
      const { result } = await runJob(deps, NIGHT_JOB, businessDate, async () => {
        const report = await runChain(
          businessDate,
          steps,
          {
            clock: ctx.io.clock,
            alert,
            finishedEarlier: (step) => {
              const last = store.list({ job: `${NIGHT_JOB}:${step}`, businessDate, limit: 1 })[0];
              return last?.outcome === 'succeeded' || last?.outcome === 'findings' ? last.outcome : undefined;
            },
            record: async (step, work) => {
              try {
                const r = await runJob(deps, `${NIGHT_JOB}:${step}`, businessDate, async () => {
                  const o = await work();
                  if (o.exitCode !== 0 && o.exitCode !== 2) throw new StepFailed(o);
                  return { result: o, outcome: o.exitCode === 0 ? 'succeeded' : 'findings', counts: { ...o.counts, summary: o.summary } };
                });
                return r.result;
              } catch (e) {
                if (e instanceof StepFailed) return e.outcome;
                throw e;
              }
            },
            onStep: (event) => {
              if (event.kind === 'start') ctx.io.stderr(options.json ? `${JSON.stringify({ event: 'step_started', step: event.step })}\n` : `night: ${event.step} started\n`);
              else ctx.io.stderr(stepLine(event.report, options.json));
            },
          },
          { rerun: options.rerun, parallel: options.parallel },
        );
        if (report.exitCode === 1) throw new ChainFailed(report);
        const counts = Object.fromEntries(report.steps.map((r) => [r.name, r.state]));
        return { result: report, outcome: report.exitCode === 2 ? 'findings' : 'succeeded', counts };
      });
      return { report: result };
    } catch (e) {
      if (e instanceof ChainFailed) return { report: e.report };
      if (e instanceof JobLockedError) return { locked: e.message };
      throw e;
    }
  } finally {
    db.close();
  }
}

/**
 * Steps the chain runs at once: the flag's, else the config's. Inside this process, one: steps share its
 * one thread, and a step waiting for SQLite's write lock would hold up the step that has it.
 */
function stepsAtOnce(night: NightConfig, inProcess: boolean, flag?: number): number {
  return inProcess ? 1 : (flag ?? night.parallel_steps);
}

function reportJson(report: ChainReport): Record<string, unknown> {
  return {
    business_date: report.businessDate,
    exit_code: report.exitCode,
    steps: report.steps.map((r) => ({
      step: r.name,
      state: r.state,
      exit_code: r.exitCode,
      started_at: r.startedAtMs === null ? null : new Date(r.startedAtMs).toISOString(),
      ended_at: r.endedAtMs === null ? null : new Date(r.endedAtMs).toISOString(),
      summary: r.summary,
      ...(r.blockedBy && { blocked_by: r.blockedBy }),
    })),
  };
}

export function registerNightCommands(program: Command, run: Run, invoke: Invoke): void {
  const runCommand = program.command('run').description('run a chain of batch jobs once, by hand or from the system crontab');
  runCommand
    .command('night-chain')
    .description('cutoff → reconcile each channel → clear → statements → share → trial balance → position plan → report, for one business date; finished steps of an earlier run are passed over')
    .option('--date <YYYY-MM-DD>', 'the business date to close and process (default: per night.business_date, yesterday in the config time zone)')
    .option('--config <file>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .option('--rerun', 'run every step again, even those an earlier run finished (each is idempotent)')
    .option('--parallel <n>', `steps run at once at most, 1 to ${CHAIN_PARALLEL_MAX} (default: night.parallel_steps, 2); 1 runs them one after another`)
    .option('--in-process', 'run the steps inside this process, one at a time, instead of one child process each (faster to start; no isolation, and a step that blocks longer than the 30 s lease lets another run take the lock)')
    .action(
      run(async (ctx, flags: { date?: string; config?: string; rerun?: boolean; parallel?: string; inProcess?: boolean }) => {
        if (flags.date !== undefined && !DATE.test(flags.date)) throw new AbortError('usage', `--date ${flags.date} is not YYYY-MM-DD.`);
        const parallel = flags.parallel === undefined ? undefined : Number(flags.parallel);
        if (parallel !== undefined && !(/^\d+$/.test(flags.parallel ?? '') && parallel >= 1 && parallel <= CHAIN_PARALLEL_MAX)) {
          throw new AbortError('usage', `--parallel ${flags.parallel ?? ''} is not a whole number from 1 to ${CHAIN_PARALLEL_MAX}.`);
        }
        if (parallel !== undefined && parallel > 1 && flags.inProcess === true) throw new AbortError('usage', '--in-process runs one step at a time: leave out --parallel, or the --in-process flag.');
        const s = setup(ctx, flags.config);
        const date = flags.date ?? businessDateFor(ctx.io.clock(), s.config.timezone, s.night.business_date);
        const json = ctx.out.json;
        const exec = flags.inProcess === true ? inProcessExecutor(invoke, ctx.io) : childProcessExecutor(ctx.io.env, ctx.io.cwd);
        const r = await runNight(ctx, s, date, { exec, rerun: flags.rerun === true, json, parallel: stepsAtOnce(s.night, flags.inProcess === true, parallel) });
        if ('locked' in r) throw new AbortError('job_locked', r.locked, 'Another run of the chain holds this date: wait for it (settle runs --date D), or, if its process is gone, run again.');
        const { report } = r;
        const body = reportJson(report);
        const human = (): string =>
          [
            table(
              ['step', 'state', '>exit', '>seconds', 'summary'],
              report.steps.map((x) => [x.name, x.state, x.exitCode === null ? '' : String(x.exitCode), x.startedAtMs !== null && x.endedAtMs !== null ? ((x.endedAtMs - x.startedAtMs) / 1000).toFixed(1) : '', x.summary]),
            ),
            `Files: ${nightOutDir(ctx.dbPath, s.night, date)}`,
            report.exitCode === 0 ? `Night ${date}: every step clean.` : report.exitCode === 2 ? `Night ${date}: done, with findings.` : `Night ${date}: a step failed — ${NIGHT_ERROR_CODES.night_step_failed}`,
          ].join('\n');
        if (report.exitCode === 1) {
          const failed = report.steps.filter((x) => x.state === 'failed').map((x) => x.name);
          ctx.out.result({ ok: false, code: 'night_step_failed', message: `${failed.join(', ')} failed for ${date}.`, ...body }, human);
          return EXIT.abort;
        }
        ctx.out.result({ ok: true, ...body, out_dir: nightOutDir(ctx.dbPath, s.night, date) }, human);
        return report.exitCode === 2 ? EXIT.findings : EXIT.ok;
      }),
    );

  program
    .command('cron')
    .description('run the night chain on the schedule of the config’s night section (node-cron, in the config time zone) until SIGINT/SIGTERM')
    .option('--config <file>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .option('--in-process', 'run the steps inside this process instead of one child process each (for small days; see run night-chain --help)')
    .action(
      run(async (ctx, flags: { config?: string; inProcess?: boolean }) => {
        const s = setup(ctx, flags.config);
        openSqlite(ctx.dbPath).close(); // a missing database is refused now, not at 00:30
        const json = ctx.out.json;
        const log = (e: SchedulerEvent): void => {
          const { kind, ...rest } = e;
          ctx.io.stderr(json ? `${JSON.stringify({ event: `cron_${kind}`, ...rest })}\n` : `cron: ${kind} ${Object.values(rest).join(' ')}\n`);
        };
        const exec = flags.inProcess === true ? inProcessExecutor(invoke, ctx.io) : childProcessExecutor(ctx.io.env, ctx.io.cwd);
        const scheduler = startNightScheduler({
          config: s.night,
          timezone: s.config.timezone,
          log,
          runNight: async (date) => {
            const r = await runNight(ctx, s, date, { exec, rerun: false, json, parallel: stepsAtOnce(s.night, flags.inProcess === true) });
            return 'locked' in r ? r : { exitCode: r.report.exitCode };
          },
        });
        await new Promise<void>((done) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            done();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        ctx.io.stderr(json ? `${JSON.stringify({ event: 'cron_stopping' })}\n` : 'cron: stopping; a running chain is let finish\n');
        await scheduler.stop();
        ctx.out.result({ ok: true, stopped: true }, () => 'cron: stopped.');
        return EXIT.ok;
      }),
    );
}
