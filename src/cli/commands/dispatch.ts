// settle dispatch: the outbox dispatcher alone (merchant notifications and internal events), until
// Ctrl-C / SIGTERM, or with --once: move the outbox, deliver what is due, wait for those attempts, exit.
// Set online.notify.in_daemon to false when this runs beside `settle serve` — though both may run:
// claims are leases, so no delivery attempt is made twice.

import type { Command } from 'commander';
import { openSqlite } from '../../ledger/sqlite/database.js';
import type { DispatchStats } from '../../online/notify/dispatcher.js';
import type { Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';

function statsJson(s: DispatchStats): Record<string, number> {
  return {
    ingested: s.ingested,
    notifications_made: s.notificationsMade,
    attempts: s.attempts,
    succeeded: s.succeeded,
    retry_scheduled: s.retryScheduled,
    failed: s.failed,
    interrupted: s.interrupted,
  };
}

function statsLine(s: DispatchStats): string {
  return `${s.ingested} outbox rows moved (${s.notificationsMade} notifications made); ${s.attempts} attempts: ${s.succeeded} delivered, ${s.retryScheduled} to retry, ${s.failed} failed, ${s.interrupted} interrupted`;
}

export function registerDispatchCommand(program: Command, run: Run): void {
  program
    .command('dispatch')
    .description('deliver the outbox: signed merchant notifications with retries, and internal events to the sink (Ctrl-C stops it)')
    .option('--config <path>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .option('--once', 'move the outbox, deliver what is due now, wait for those attempts and exit (cron, tests)')
    .action(
      run(async (ctx, opts: { config?: string; once?: boolean }) => {
        const { loadConfig } = await import('../config.js');
        const { MerchantStore } = await import('../../online/merchants/store.js');
        const { OnlineError } = await import('../../online/merchants/errors.js');
        const { NotifyError } = await import('../../online/notify/errors.js');
        const { createNotifications } = await import('../../online/notify/wiring.js');
        const config = loadConfig(opts.config ?? ctx.io.env['SETTLE_CONFIG']);
        // synchronous=NORMAL on this connection only: notification bookkeeping (claims, attempts, the
        // outbox mark) that a power failure takes back can only make a notification be sent again, never
        // lose one (WAL drops a suffix of transactions, in order). The daemon's own dispatcher shares the
        // payments' connection and its FULL commits.
        const db = openSqlite(ctx.dbPath, { synchronous: 'NORMAL' });
        try {
          let notifications;
          try {
            const merchants = MerchantStore.open(db, { env: ctx.io.env, dbPath: ctx.dbPath });
            notifications = createNotifications({
              db,
              merchants,
              config: config.online.notify,
              dbPath: ctx.dbPath,
              env: ctx.io.env,
              stdout: ctx.io.stdout,
              strictSecrets: true,
              log: (level, message, fields) => ctx.io.stderr(`${JSON.stringify({ level, time: new Date(ctx.io.clock()).toISOString(), msg: message, ...fields })}\n`),
            });
          } catch (e) {
            if (e instanceof NotifyError) throw new AbortError(e.code, e.message, e.hint);
            if (e instanceof OnlineError) throw new AbortError(e.code, e.message);
            throw e;
          }
          if (opts.once) {
            let stats: DispatchStats;
            try {
              stats = await notifications.dispatcher.runOnce();
            } catch (e) {
              if (e instanceof NotifyError) throw new AbortError(e.code, e.message, e.hint);
              throw e;
            } finally {
              await notifications.close();
            }
            ctx.out.result({ ok: true, ...statsJson(stats) }, () => statsLine(stats));
            return EXIT.ok;
          }
          notifications.dispatcher.start();
          ctx.io.stderr(`settle dispatch running (database ${ctx.dbPath}); Ctrl-C stops it\n`);
          await new Promise<void>((resolve) => {
            const stop = (): void => {
              process.off('SIGINT', stop);
              process.off('SIGTERM', stop);
              resolve();
            };
            process.on('SIGINT', stop);
            process.on('SIGTERM', stop);
          });
          await notifications.close();
          const stats = notifications.dispatcher.stats;
          ctx.out.result({ ok: true, ...statsJson(stats) }, () => `settle dispatch stopped: ${statsLine(stats)}`);
          return EXIT.ok;
        } finally {
          db.close();
        }
      }),
    );
}
