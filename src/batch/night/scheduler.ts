// `settle cron`'s heart: a node-cron task that, at each tick of the configured schedule (in the config's
// time zone), works out the business date and runs the night chain for it. Ticks never overlap in one
// scheduler (node-cron's noOverlap); a second scheduler, or an operator running the chain by hand, is
// kept out by the chain's lock in the run log, and the refusal is logged, not raised.

import cron from 'node-cron';
import { businessDateFor, type NightConfig } from './config.js';

export type SchedulerEvent =
  | { readonly kind: 'scheduled'; readonly schedule: string; readonly timezone: string; readonly nextRunAt: string | null }
  | { readonly kind: 'tick'; readonly businessDate: string; readonly firedAt: string }
  | { readonly kind: 'finished'; readonly businessDate: string; readonly exitCode: number }
  | { readonly kind: 'locked'; readonly businessDate: string; readonly message: string }
  | { readonly kind: 'error'; readonly businessDate: string; readonly message: string }
  | { readonly kind: 'missed'; readonly at: string };

/** What a tick runs; a `{ locked }` answer means another run holds the chain for the date. */
export type RunNight = (businessDate: string) => Promise<{ readonly exitCode: number } | { readonly locked: string }>;

export interface NightScheduler {
  nextRunAt(): Date | null;
  /** Stops ticking and waits for a running chain to end. */
  stop(): Promise<void>;
}

export function startNightScheduler(options: {
  readonly config: Pick<NightConfig, 'schedule' | 'business_date'>;
  readonly timezone: string;
  readonly runNight: RunNight;
  readonly log: (event: SchedulerEvent) => void;
}): NightScheduler {
  const { config, timezone, runNight, log } = options;
  let running: Promise<void> | undefined;
  const task = cron.schedule(
    config.schedule,
    (ctx) => {
      const businessDate = businessDateFor(ctx.date.getTime(), timezone, config.business_date);
      log({ kind: 'tick', businessDate, firedAt: ctx.date.toISOString() });
      running = (async () => {
        try {
          const r = await runNight(businessDate);
          log('locked' in r ? { kind: 'locked', businessDate, message: r.locked } : { kind: 'finished', businessDate, exitCode: r.exitCode });
        } catch (e) {
          log({ kind: 'error', businessDate, message: e instanceof Error ? e.message : String(e) });
        }
      })();
      return running;
    },
    { timezone, name: 'settle-night-chain', noOverlap: true, suppressMissedWarning: true },
  );
  task.on('execution:missed', (ctx) => log({ kind: 'missed', at: ctx.date.toISOString() }));
  log({ kind: 'scheduled', schedule: config.schedule, timezone, nextRunAt: task.getNextRun()?.toISOString() ?? null });
  return {
    nextRunAt: () => task.getNextRun(),
    async stop() {
      await task.stop();
      await task.destroy();
      await running;
    },
  };
}
