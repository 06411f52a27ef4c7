// settle recon import | match | run | list | show | resolve | report: import a channel's file as a new
// version, match it against our orders, and work through the differences. Thin: parse flags, open the
// database, call the services in src/batch/recon/, render. Exit codes: 0 clean, 2 done with open
// discrepancies, 1 the operator must act.

import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ReconChannelConfig } from '../../batch/recon/config.js';
import { ReconError } from '../../batch/recon/errors.js';
import type { ImportResult } from '../../batch/recon/import.js';
import { DISCREPANCY_TYPES, type DiscrepancyType } from '../../batch/recon/match.js';
import type { StoredItem } from '../../batch/recon/port.js';
import type { MatchDayResult } from '../../batch/recon/run.js';
import { isIsoDate } from '../../ledger/index.js';
import type { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import type { SqliteReconStore } from '../../batch/recon/sqlite/recon-store.js';
import { BATCH_BUSY_TIMEOUT_MS, withLedger, type CommandContext, type Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { money, table } from '../output.js';
import { fetchEvents, importEvents, matchEvents, progressOf } from '../progress/bridges.js';

const LIST_LIMIT_MAX = 10_000;

/**
 * Opens the ledger and the recon store on it; reconciliation's expected failures become AbortErrors with their hint.
 * `bulk` (import, match, run: hundreds of commits of a file's lines and outcomes) opens with synchronous=NORMAL:
 * in WAL mode a power cut can then lose the last commits but never leaves the database inconsistent, and such a
 * job is re-run as it is (an import is keyed by the file's SHA-256; a run that did not finish is removed by the
 * next). Resolving, which posts ledger entries, keeps FULL.
 */
async function withRecon<T>(ctx: CommandContext, work: (store: SqliteReconStore, ledger: SqliteLedgerStore) => Promise<T>, bulk = false): Promise<T> {
  const { SqliteReconStore } = await import('../../batch/recon/sqlite/recon-store.js');
  return withLedger(
    ctx,
    async (_ledger, ledgerStore) => {
      try {
        return await work(new SqliteReconStore(ledgerStore), ledgerStore);
      } catch (e) {
        if (e instanceof ReconError) throw new AbortError(e.code, e.message, e.hint);
        throw e;
      }
    },
    bulk ? { synchronous: 'NORMAL', busyTimeoutMs: BATCH_BUSY_TIMEOUT_MS } : {},
  );
}

function checkDate(date: string): string {
  if (!isIsoDate(date)) throw new AbortError('date_invalid', `${JSON.stringify(date.slice(0, 20))} is not a YYYY-MM-DD calendar date.`, 'Give the business date as YYYY-MM-DD.');
  return date;
}

async function channelConfig(ctx: CommandContext, channel: string, configFlag: string | undefined): Promise<{ channel: ReconChannelConfig; archiveDir: string }> {
  const { loadConfig } = await import('../config.js');
  const configPath = configFlag ?? ctx.io.env['SETTLE_CONFIG'];
  const config = loadConfig(configPath === undefined ? undefined : resolve(ctx.io.cwd, configPath));
  const found = config.recon.channels.find((c) => c.channel === channel);
  if (found === undefined) {
    const known = config.recon.channels.map((c) => c.channel).join(', ') || '(none)';
    throw new AbortError('channel_not_configured', `Channel ${channel} is not in recon.channels of ${config.path} (configured: ${known}).`, 'Add it to the config or name one of those.');
  }
  return { channel: found, archiveDir: resolve(dirname(ctx.dbPath), config.recon.archive_dir) };
}

function importJson(r: ImportResult): Record<string, unknown> {
  return {
    status: r.status,
    file_id: r.file.fileId,
    version: r.file.version,
    sha256: r.file.sha256,
    format: r.file.format,
    rows: r.file.rows,
    payments: r.file.payments,
    refunds: r.file.refunds,
    payment_amount_minor: r.file.paymentAmountMinor.toString(),
    refund_amount_minor: r.file.refundAmountMinor.toString(),
    totals_check: r.file.totalsCheck,
    previous_version: r.previous?.version ?? null,
    elapsed_ms: r.elapsedMs,
  };
}

function importText(channel: string, date: string, r: ImportResult): string {
  if (r.status === 'unchanged') return `${channel} ${date}: these bytes are version ${r.file.version} already (sha256 ${r.file.sha256}); nothing imported.`;
  return `${channel} ${date}: imported version ${r.file.version} (${r.file.rows} rows: ${r.file.payments} payments, ${r.file.refunds} refunds; totals ${r.file.totalsCheck})${
    r.previous ? `, replacing version ${r.previous.version}` : ''
  }.`;
}

const countsJson = (c: MatchDayResult['counts']): Record<string, unknown> => ({ matched: c.matched, suspense: c.suspense, discrepancies: c.discrepancies, by_type: c.byType });

function matchJson(r: MatchDayResult): Record<string, unknown> {
  return {
    run_id: r.run.runId,
    file_id: r.file.fileId,
    file_version: r.file.version,
    lines: r.run.lines,
    records: r.run.records,
    counts: countsJson(r.counts),
    open_discrepancies: r.openDiscrepancies,
    changes:
      r.changes === null
        ? null
        : {
            previous_run_id: r.changes.previousRunId,
            previous_file_version: r.changes.previousFileVersion,
            counts_before: countsJson(r.changes.countsBefore),
            new_discrepancies: r.changes.newDiscrepancies,
            cleared: r.changes.cleared,
            retyped: r.changes.retyped,
            resolved_gone: r.changes.resolvedGone,
            listed: r.changes.listed.map((c) => ({ identity: c.identity, item_id: c.itemId, from: c.from, to: c.to })),
          },
    later_runs_to_rematch: r.laterRuns.map((x) => x.businessDate),
    elapsed_ms: r.elapsedMs,
  };
}

function matchText(channel: string, date: string, r: MatchDayResult): string {
  const byType = Object.entries(r.counts.byType)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
  const lines = [
    `${channel} ${date} (file version ${r.file.version}): ${r.counts.matched} matched, ${r.counts.suspense} in suspense, ${r.counts.discrepancies} discrepancies${byType ? ` (${byType})` : ''}; ${r.openDiscrepancies} open.`,
  ];
  if (r.changes) {
    const c = r.changes;
    lines.push(
      `Against version ${c.previousFileVersion}: ${c.newDiscrepancies} new, ${c.cleared} cleared, ${c.retyped} changed type${c.resolvedGone > 0 ? `; ${c.resolvedGone} resolved discrepancies are gone — their adjusting entries stay posted, review them` : ''}.`,
    );
    for (const x of c.listed.slice(0, 20)) lines.push(`  ${x.identity}: ${x.from} -> ${x.to}${x.itemId === null ? '' : ` (item ${x.itemId})`}`);
  }
  if (r.laterRuns.length > 0) lines.push(`Later dates were matched against the pool this date changes; match them again: ${r.laterRuns.map((x) => x.businessDate).join(', ')}.`);
  if (r.openDiscrepancies > 0) lines.push('Next: settle recon list --status open, then settle recon resolve ID --action … --reason ….');
  return lines.join('\n');
}

function itemAmounts(i: StoredItem): [string, string] {
  return [
    i.channelAmountMinor === null || i.channelCurrency === null ? '-' : money(i.channelAmountMinor, i.channelCurrency),
    i.ledgerAmountMinor === null || i.ledgerCurrency === null ? '-' : money(i.ledgerAmountMinor, i.ledgerCurrency),
  ];
}

function itemsTable(items: readonly StoredItem[]): string {
  if (items.length === 0) return 'No items match.';
  return table(
    ['>id', 'date', 'channel', 'type', 'status', 'kind', 'order no', '>channel', '>ours'],
    items.map((i) => [String(i.itemId), i.businessDate, i.channel, i.type ?? i.outcome, i.status ?? (i.outcome === 'suspense' ? `until ${i.untilDate ?? '?'}` : '-'), i.kind, i.orderKey ?? '-', ...itemAmounts(i)]),
  );
}

function itemText(i: StoredItem): string {
  const [channelAmount, ourAmount] = itemAmounts(i);
  const rows: [string, string | null][] = [
    ['item', `${i.itemId} (run ${i.runId})`],
    ['channel / date', `${i.channel} ${i.businessDate}`],
    ['outcome', `${i.outcome}${i.type ? ` ${i.type}` : ''}${i.differences.length > 1 ? ` (also ${i.differences.slice(1).join(', ')})` : ''}${i.note ? ` [${i.note}]` : ''}`],
    ['status', i.status],
    ['kind', i.kind],
    ['channel side', i.fileId === null ? null : `${i.channelTxnId ?? '-'} order ${i.orderKey ?? '-'} ${channelAmount} ${i.channelStatus ?? ''} fee ${i.channelFee ?? '-'} at ${i.occurredAt ?? '-'} (file ${i.fileId}, line ${i.lineSeq ?? '?'})`],
    ['our side', i.recordId === null ? null : `${i.recordSource ?? ''} ${i.recordId} of ${i.merchantId ?? '-'} ${ourAmount} ${i.ledgerStatus ?? ''} cost ${i.ledgerCostMinor ?? '-'} on ${i.ledgerBusinessDate ?? '-'}`],
    ['waits until', i.untilDate],
    ['resolution', i.resolution ? `${i.resolution.action} by ${i.resolution.by} at ${new Date(i.resolution.atMs).toISOString()}: ${i.resolution.reason}` : null],
    ['approval', i.resolution?.approval ?? null],
    ['entries', i.resolution && i.resolution.entryIds.length > 0 ? i.resolution.entryIds.join(', ') : null],
  ];
  return rows
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k.padEnd(15)} ${v ?? ''}`)
    .join('\n');
}

function parseItemId(raw: string): number {
  if (!/^[1-9][0-9]{0,14}$/.test(raw)) throw new AbortError('discrepancy_not_found', `${JSON.stringify(raw.slice(0, 20))} is not an item id.`, 'Use an id from `settle recon list`.');
  return Number(raw);
}

interface ChannelDateFlags {
  readonly channel: string;
  readonly date: string;
  readonly config?: string;
}

export function registerReconMatchCommands(recon: Command, run: Run): void {
  recon
    .command('import')
    .description('import a channel\u2019s file for a date as a new version (the same bytes again change nothing)')
    .argument('<file>', 'the statement file')
    .requiredOption('--channel <id>', 'the channel, as listed in recon.channels of the config')
    .requiredOption('--date <YYYY-MM-DD>', 'the business date the file covers')
    .option('--format <name>', 'the file\u2019s format (default: the channel\u2019s format in the config)')
    .option('--config <file>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .action(
      run(async (ctx, file: string, flags: ChannelDateFlags & { format?: string }) => {
        const date = checkDate(flags.date);
        const { channel } = await channelConfig(ctx, flags.channel, flags.config);
        const { importStatement, parseOptionsOf } = await import('../../batch/recon/import.js');
        const { startFileParse } = await import('../../batch/recon/worker-parse.js');
        const { isFormatName } = await import('../../batch/recon/formats/index.js');
        if (flags.format !== undefined && !isFormatName(flags.format)) throw new AbortError('format_unknown', `Format ${JSON.stringify(flags.format.slice(0, 40))} is not known.`, 'See settle recon parse --help.');
        const effective: ReconChannelConfig = flags.format !== undefined && isFormatName(flags.format) ? { ...channel, format: flags.format } : channel;
        const path = resolve(ctx.io.cwd, file);
        const progress = await progressOf(ctx, `recon import ${channel.channel} ${date}`);
        // A large file is hashed and parsed on a worker thread (worker-parse.ts).
        const parse = await startFileParse(path, parseOptionsOf(effective, date));
        const result = await withRecon(ctx, async (store) =>
          importStatement(
            store,
            { channel: channel.channel, businessDate: date, format: effective.format, sha256: parse.sha256, sourceName: basename(path), read: { blocks: parse.blocks } },
            { clock: ctx.io.clock, onProgress: importEvents(progress) },
          ),
          true,
        ).finally(() => {
          parse.close();
          progress.close();
        });
        ctx.out.result({ ok: true, channel: channel.channel, date, ...importJson(result) }, () => importText(channel.channel, date, result));
        return EXIT.ok;
      }),
    );

  recon
    .command('match')
    .description('match the newest imported file of a channel and date against our orders; exit 2 when discrepancies stay open')
    .requiredOption('--channel <id>', 'the channel, as listed in recon.channels of the config')
    .requiredOption('--date <YYYY-MM-DD>', 'the business date')
    .option('--config <file>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .action(
      run(async (ctx, flags: ChannelDateFlags) => {
        const date = checkDate(flags.date);
        const { channel } = await channelConfig(ctx, flags.channel, flags.config);
        const { matchDay } = await import('../../batch/recon/run.js');
        const progress = await progressOf(ctx, `recon match ${channel.channel} ${date}`);
        const result = await withRecon(ctx, (store) => matchDay(store, channel, date, { clock: ctx.io.clock, onProgress: matchEvents(progress) }), true).finally(() => progress.close());
        ctx.out.result({ ok: true, channel: channel.channel, date, ...matchJson(result) }, () => matchText(channel.channel, date, result));
        return result.openDiscrepancies > 0 ? EXIT.findings : EXIT.ok;
      }),
    );

  recon
    .command('run')
    .description('fetch the channel\u2019s file for a date (or take --file), import it and match it; exit 2 when discrepancies stay open')
    .requiredOption('--channel <id>', 'the channel, as listed in recon.channels of the config')
    .requiredOption('--date <YYYY-MM-DD>', 'the business date')
    .option('--file <path>', 'take this file instead of fetching from the channel\u2019s source')
    .option('--config <file>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .action(
      run(async (ctx, flags: ChannelDateFlags & { file?: string }) => {
        const date = checkDate(flags.date);
        const { channel, archiveDir } = await channelConfig(ctx, flags.channel, flags.config);
        const { runDay } = await import('../../batch/recon/run.js');
        const progress = await progressOf(ctx, `recon run ${channel.channel} ${date}`);
        const result = await withRecon(ctx, async (store, ledgerStore) => {
          const fetchFile = async (): Promise<{ path: string; sha256: string; name: string; source: string; newFile: boolean }> => {
            const { fetchStatement } = await import('../../batch/recon/fetch/service.js');
            const { SqliteFetchLogStore } = await import('../../batch/recon/sqlite/fetch-store.js');
            const f = await fetchStatement(channel, date, {
              store: SqliteFetchLogStore.open(ledgerStore.db),
              archiveDir,
              env: ctx.io.env,
              clock: ctx.io.clock,
              cwd: ctx.io.cwd,
              onProgress: fetchEvents(progress),
            });
            return { path: f.archivedPath, sha256: f.sha256, name: basename(f.remotePath), source: f.source, newFile: f.newFile };
          };
          return runDay(
            store,
            { channel, businessDate: date, file: flags.file === undefined ? undefined : resolve(ctx.io.cwd, flags.file) },
            { clock: ctx.io.clock, fetch: fetchFile, onImportProgress: importEvents(progress), onProgress: matchEvents(progress) },
          );
        }, true).finally(() => progress.close());
        ctx.out.result(
          {
            ok: true,
            channel: channel.channel,
            date,
            fetched: result.fetched === null ? null : { source: result.fetched.source, name: result.fetched.name, sha256: result.fetched.sha256, new_file: result.fetched.newFile },
            import: importJson(result.imported),
            match: matchJson(result.matched),
          },
          () =>
            [
              result.fetched ? `Fetched ${result.fetched.name} from ${result.fetched.source}${result.fetched.newFile ? '' : ' (already had it)'}.` : '',
              importText(channel.channel, date, result.imported),
              matchText(channel.channel, date, result.matched),
            ]
              .filter(Boolean)
              .join('\n'),
        );
        return result.matched.openDiscrepancies > 0 ? EXIT.findings : EXIT.ok;
      }),
    );

  recon
    .command('list')
    .description('discrepancies and suspense items of the current matches')
    .option('--status <status>', 'open | resolved | suspense (default open)', 'open')
    .option('--channel <id>', 'one channel')
    .option('--type <type>', `one type: ${DISCREPANCY_TYPES.join(', ')}`)
    .option('--date <YYYY-MM-DD>', 'one business date')
    .option('--limit <n>', `at most this many (up to ${LIST_LIMIT_MAX})`, '200')
    .action(
      run(async (ctx, flags: { status: string; channel?: string; type?: string; date?: string; limit: string }) => {
        if (!['open', 'resolved', 'suspense'].includes(flags.status)) throw new AbortError('input_invalid', `--status ${flags.status} is not open, resolved or suspense.`);
        if (flags.type !== undefined && !(DISCREPANCY_TYPES as readonly string[]).includes(flags.type)) {
          throw new AbortError('input_invalid', `--type ${flags.type} is not one of ${DISCREPANCY_TYPES.join(', ')}.`);
        }
        const date = flags.date === undefined ? undefined : checkDate(flags.date);
        const limit = Math.max(1, Math.min(Number.parseInt(flags.limit, 10) || 200, LIST_LIMIT_MAX));
        const { itemJson } = await import('../../batch/recon/report.js');
        const items = await withRecon(ctx, (store) =>
          store.items({ status: flags.status as 'open' | 'resolved' | 'suspense', channel: flags.channel, type: flags.type as DiscrepancyType | undefined, businessDate: date, limit }),
        );
        ctx.out.result({ ok: true, status: flags.status, items: items.map(itemJson) }, () => itemsTable(items));
        return EXIT.ok;
      }),
    );

  recon
    .command('show')
    .description('one item: both sides, its state and the decision taken on it')
    .argument('<id>', 'the item id (from settle recon list)')
    .action(
      run(async (ctx, id: string) => {
        const itemId = parseItemId(id);
        const { itemJson } = await import('../../batch/recon/report.js');
        const item = await withRecon(ctx, (store) => store.item(itemId));
        if (!item) throw new AbortError('discrepancy_not_found', `No item has id ${itemId}.`, 'Use an id from `settle recon list`.');
        ctx.out.result({ ok: true, item: itemJson(item) }, () => itemText(item));
        return EXIT.ok;
      }),
    );

  recon
    .command('resolve')
    .description('resolve a discrepancy: accept-channel (以渠道为准), accept-ledger (以平台为准), refund-out, write-off')
    .argument('<id>', 'the discrepancy id (from settle recon list)')
    .requiredOption('--action <action>', 'accept-channel | accept-ledger | refund-out | write-off')
    .requiredOption('--reason <text>', 'why (kept with the decision and in the entry)')
    .option('--by <name>', 'who decides (default: $USER)')
    .option('--approval <text>', 'the approval of a write-off (required for write-off)')
    .option('--to <account>', 'write-off target: loss (6711, default) | suspense (1901)', 'loss')
    .addHelpText(
      'after',
      `
Actions by type:
  channel_only, duplicate, amount_mismatch, status_mismatch  accept-channel, accept-ledger, refund-out, write-off
  ledger_only, fee_mismatch                                  accept-channel, accept-ledger, write-off
  currency_mismatch                                          accept-ledger
accept-channel posts the adjusting entry that makes our books agree with the channel (or reverses our entry of a
movement the channel does not have); refund-out parks in suspense what the channel holds beyond our books until it
is returned; write-off moves the difference to the loss account (or suspense). Entry ids are recon.<id>.`,
    )
    .action(
      run(async (ctx, id: string, flags: { action: string; reason: string; by?: string; approval?: string; to: string }) => {
        const itemId = parseItemId(id);
        if (flags.to !== 'loss' && flags.to !== 'suspense') throw new AbortError('input_invalid', `--to ${flags.to} is not loss or suspense.`);
        const { resolveDiscrepancy } = await import('../../batch/recon/resolve.js');
        const { itemJson } = await import('../../batch/recon/report.js');
        const by = flags.by ?? ctx.io.env['USER'] ?? ctx.io.env['LOGNAME'] ?? 'unknown';
        const result = await withRecon(ctx, (store) =>
          resolveDiscrepancy(store, { itemId, action: flags.action, reason: flags.reason, by, approval: flags.approval, writeOffTo: flags.to as 'loss' | 'suspense', nowMs: ctx.io.clock() }),
        );
        ctx.out.result(
          { ok: true, item_id: itemId, action: flags.action, entry_ids: result.entryIds, item: itemJson(result.item) },
          () => `Resolved ${itemId} (${result.item.type ?? ''}) by ${flags.action}${result.entryIds.length > 0 ? `; posted ${result.entryIds.join(', ')}` : '; nothing posted'}.`,
        );
        return EXIT.ok;
      }),
    );

  recon
    .command('report')
    .description('write the reconciliation report of a date (CSV and JSON); exit 2 when discrepancies stay open')
    .requiredOption('--date <YYYY-MM-DD>', 'the business date')
    .requiredOption('--out <dir>', 'the folder to write into (created when missing)')
    .option('--channel <id>', 'one channel (default: every channel matched for the date)')
    .action(
      run(async (ctx, flags: { date: string; out: string; channel?: string }) => {
        const date = checkDate(flags.date);
        const { buildReport, writeReport } = await import('../../batch/recon/report.js');
        const report = await withRecon(ctx, (store) => buildReport(store, { businessDate: date, channel: flags.channel, nowMs: ctx.io.clock() }));
        if (report.runs.length === 0) throw new AbortError('statement_not_imported', `No channel has been matched for ${date}${flags.channel ? ` (${flags.channel})` : ''}.`, 'Run settle recon run (or import and match) first.');
        const paths = await withRecon(ctx, () => writeReport(report, resolve(ctx.io.cwd, flags.out)));
        ctx.out.result(
          {
            ok: true,
            date,
            channel: flags.channel ?? null,
            csv: paths.csvPath,
            json: paths.jsonPath,
            items: report.items.length,
            open_discrepancies: report.openDiscrepancies,
            truncated: report.truncated,
          },
          () => `Wrote ${paths.csvPath} and ${paths.jsonPath}: ${report.items.length} item(s), ${report.openDiscrepancies} open discrepancies${report.truncated ? ' (truncated)' : ''}.`,
        );
        return report.openDiscrepancies > 0 ? EXIT.findings : EXIT.ok;
      }),
    );
}
