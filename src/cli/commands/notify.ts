// settle notify list|show|retry: merchant notifications for an operator — what was sent, each attempt
// (time, status, error, next attempt), and re-sending failed ones. Thin: parse flags, call the
// operator functions of src/online/notify/, render.

import type { Command } from 'commander';
import { openSqlite } from '../../ledger/sqlite/database.js';
import { eventId } from '../../online/notify/event.js';
import type { NotifyStore, AttemptRecord, DeliveryRecord } from '../../online/notify/port.js';
import type { CommandContext, Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { table } from '../output.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Opens the existing database and the notification store on it, runs the work, closes. */
async function withNotifyStore<T>(ctx: CommandContext, work: (store: NotifyStore) => Promise<T>): Promise<T> {
  const { SqliteNotifyStore } = await import('../../online/sqlite/notify-store.js');
  const { NotifyError } = await import('../../online/notify/errors.js');
  const db = openSqlite(ctx.dbPath);
  try {
    const store = new SqliteNotifyStore(db);
    try {
      return await work(store);
    } finally {
      await store.drain();
    }
  } catch (e) {
    if (e instanceof NotifyError) throw new AbortError(e.code, e.message, e.hint);
    throw e;
  } finally {
    db.close();
  }
}

function deliveryJson(d: DeliveryRecord): Record<string, unknown> {
  return {
    event_id: eventId(d.eventSeq),
    merchant_id: d.merchantId,
    type: d.topic,
    aggregate_id: d.aggregateId,
    url: d.url,
    state: d.state,
    attempts: d.attempts,
    next_attempt_at: iso(d.nextAttemptAtMs),
    in_flight_until: d.claimedUntilMs !== null && d.state === 'pending' ? iso(d.claimedUntilMs) : null,
    last_http_status: d.lastHttpStatus,
    last_error: d.lastError,
    created_at: iso(d.createdAtMs),
    updated_at: iso(d.updatedAtMs),
    delivered_at: iso(d.deliveredAtMs),
  };
}

function attemptJson(a: AttemptRecord): Record<string, unknown> {
  return { attempt: a.attemptNo, started_at: iso(a.startedAtMs), ended_at: iso(a.endedAtMs), http_status: a.httpStatus, error: a.error, detail: a.detail };
}

const lastOutcome = (d: DeliveryRecord): string => [d.lastHttpStatus === null ? '' : String(d.lastHttpStatus), d.lastError ?? ''].filter((x) => x !== '').join(' ');

function listTable(rows: readonly DeliveryRecord[]): string {
  if (rows.length === 0) return 'No notifications match.';
  return table(
    ['event', 'merchant', 'type', 'state', '>attempts', 'next attempt', 'last'],
    rows.map((d) => [eventId(d.eventSeq), d.merchantId, d.topic, d.state, String(d.attempts), iso(d.nextAttemptAtMs) ?? '', lastOutcome(d)]),
  );
}

function showText(d: DeliveryRecord, attempts: readonly AttemptRecord[]): string {
  const head = [
    `${eventId(d.eventSeq)}  ${d.topic}  ${d.aggregateId}`,
    `  merchant      ${d.merchantId}`,
    `  url           ${d.url}`,
    `  state         ${d.state}${d.state === 'pending' && d.nextAttemptAtMs !== null ? ` (next attempt ${iso(d.nextAttemptAtMs)})` : ''}`,
    `  attempts      ${d.attempts}`,
    `  created       ${iso(d.createdAtMs)}`,
    ...(d.deliveredAtMs !== null ? [`  delivered     ${iso(d.deliveredAtMs)}`] : []),
  ];
  if (attempts.length === 0) return [...head, '  (no attempt recorded yet)'].join('\n');
  const rows = attempts.map((a) => [String(a.attemptNo), iso(a.startedAtMs) ?? '', `${a.endedAtMs - a.startedAtMs}`, a.httpStatus === null ? '' : String(a.httpStatus), a.error ?? 'ok', a.detail ?? '']);
  return [...head, '', table(['>#', 'started', '>ms', '>status', 'outcome', 'detail'], rows)].join('\n');
}

function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,7}$/.test(raw)) throw new AbortError('notify_input_invalid', `--limit ${raw.slice(0, 20)} is not a whole number.`, 'Give e.g. --limit 100.');
  return Number(raw);
}

export function registerNotifyCommands(program: Command, run: Run): void {
  const notify = program.command('notify').description('merchant notifications (异步通知): list them, show attempts, re-send failed ones');

  notify
    .command('list')
    .description('notifications, newest first')
    .option('--merchant <id>', 'only this merchant')
    .option('--state <state>', 'pending, succeeded or failed')
    .option('--limit <n>', 'at most this many (default 50, up to 1000)')
    .action(
      run(async (ctx, opts: { merchant?: string; state?: string; limit?: string }) => {
        const { listDeliveries } = await import('../../online/notify/operator.js');
        const limit = parseLimit(opts.limit);
        const rows = await withNotifyStore(ctx, (store) => listDeliveries(store, { merchantId: opts.merchant, state: opts.state, limit }));
        ctx.out.result({ ok: true, notifications: rows.map(deliveryJson) }, () => listTable(rows));
        return EXIT.ok;
      }),
    );

  notify
    .command('show')
    .description('one notification with its attempts (time, status code, error) and its next attempt')
    .argument('<event-id>', 'the event id, e.g. evt_0000000000000042')
    .action(
      run(async (ctx, id: string) => {
        const { showDelivery } = await import('../../online/notify/operator.js');
        const found = await withNotifyStore(ctx, (store) => showDelivery(store, id));
        ctx.out.result({ ok: true, notification: deliveryJson(found.delivery), attempts: found.attempts.map(attemptJson) }, () => showText(found.delivery, found.attempts));
        return EXIT.ok;
      }),
    );

  notify
    .command('retry')
    .description('re-send a failed notification now, with a fresh retry schedule (or --all-failed --merchant M)')
    .argument('[event-id]', 'the failed notification to re-send')
    .option('--all-failed', "re-send every failed notification of --merchant")
    .option('--merchant <id>', 'the merchant, with --all-failed')
    .action(
      run(async (ctx, id: string | undefined, opts: { allFailed?: boolean; merchant?: string }) => {
        const { retryAllFailed, retryDelivery } = await import('../../online/notify/operator.js');
        const nowMs = ctx.io.clock();
        if (opts.allFailed) {
          if (id !== undefined || opts.merchant === undefined) {
            throw new AbortError('notify_input_invalid', '--all-failed takes --merchant and no event id.', 'Run settle notify retry --all-failed --merchant M100001.');
          }
          const merchantId = opts.merchant;
          const result = await withNotifyStore(ctx, (store) => retryAllFailed(store, merchantId, nowMs));
          ctx.out.result(
            { ok: true, requeued: result.seqs.map(eventId), more_failed: result.more },
            () => `${result.seqs.length} failed notification(s) of ${merchantId} re-queued${result.more ? '; more remain, run it again' : ''}.`,
          );
          return EXIT.ok;
        }
        if (id === undefined) throw new AbortError('notify_input_invalid', 'Name the notification to re-send.', 'Run settle notify retry EVENT_ID, or --all-failed --merchant M.');
        const seq = await withNotifyStore(ctx, (store) => retryDelivery(store, id, nowMs));
        ctx.out.result({ ok: true, requeued: [eventId(seq)] }, () => `${eventId(seq)} re-queued; the dispatcher sends it at its next pass.`);
        return EXIT.ok;
      }),
    );
}
