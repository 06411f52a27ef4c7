// settle recon parse --format F FILE: read a channel's statement file without touching the database and
// print its transactions (NDJSON with --json, streamed as parsed) and the summary. Thin: resolve the
// format and mapping, call the parser, render.

import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { FORMAT_NAMES } from '../../batch/recon/config.js';
import { ReconError } from '../../batch/recon/errors.js';
import type { StatementLine } from '../../batch/recon/line.js';
import type { CommandContext, Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { money, table } from '../output.js';
import { byteEvents, progressOf } from '../progress/bridges.js';

interface ParseFlags {
  readonly format?: string;
  readonly currency?: string;
  readonly config?: string;
  readonly channel?: string;
  readonly mapping?: string;
  readonly settlementDate?: string;
  readonly head: string;
}

/** A mapping file is a small JSON object; anything bigger is not a mapping. */
const MAPPING_FILE_BYTES_MAX = 64 * 1024;
/** Lines shown in the human table (the rest are counted). */
const HEAD_LINES_MAX = 1000;

const HELP = `
Formats:
  wechat-trade     WeChat Pay trade bill (ALL, SUCCESS or REFUND layout; the summary row is checked)
  wechat-fundflow  WeChat Pay fund flow bill (BASIC): 收入 rows are payments, 支出 rows refunds
  alipay-trade     Alipay 业务明细: the .csv.zip (the 汇总 entry is checked too) or the 明细 CSV
  alipay-account   Alipay 账务明细 (signcustomer), CSV or zip: 收入 rows are payments, 支出 rows refunds
  unionpay-zm      UnionPay ZM fixed-width file (or its zip); the year comes from INN{YYMMDD}88ZM_ in
                   the name, or --settlement-date
  generic-csv      any CSV, by a column mapping: --mapping FILE (a JSON object), or --config with
                   --channel (that channel's recon.channels[].mapping). Mapping keys: delimiter,
                   encoding (utf8|gbk), header_row, skip_lines, columns {channel_txn_id, amount,
                   occurred_at, merchant_order_no, merchant_refund_no, original_channel_txn_id, currency,
                   status, fee, kind} (header names, or 1-based positions), amount_unit (minor|major),
                   thousands_separator, currency_prefix, status_values, default_status, kind_values
                   {payment:[…], refund:[…]}, negative_is_refund, date_format, utc_offset.

With --json: one object per transaction, in file order, as it is read:
  {"kind","channel_txn_id","merchant_order_no","merchant_refund_no","amount_minor","currency","status",
   "occurred_at","line","fee"}
then {"summary":{"rows","payments","refunds","payment_amount_minor","refund_amount_minor","totals_check"}}.
A file that fails (its own totals disagree, a bad row, …) ends with {"ok":false,"code",…} instead of the
summary and exits 1: discard the lines printed before it.`;

function lineJson(l: StatementLine): Record<string, unknown> {
  return {
    kind: l.kind,
    channel_txn_id: l.channelTxnId,
    merchant_order_no: l.merchantOrderNo,
    merchant_refund_no: l.merchantRefundNo,
    amount_minor: l.amountMinor.toString(),
    currency: l.currency,
    status: l.status,
    occurred_at: l.occurredAt,
    line: l.line,
    fee: l.fee,
  };
}

function readMappingFile(path: string): unknown {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new AbortError('file_unreadable', `Cannot read the mapping file ${path}.`, 'Check the path given to --mapping.');
  }
  if (size > MAPPING_FILE_BYTES_MAX) throw new AbortError('mapping_invalid', `${path} is ${size} bytes; a mapping file is at most ${MAPPING_FILE_BYTES_MAX}.`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new AbortError('mapping_invalid', `${path} is not valid JSON (${(e as Error).message}).`, 'Write the mapping as one JSON object.');
  }
}

interface Resolved {
  readonly format: string;
  readonly currency?: string;
  readonly mapping?: unknown;
}

/** The format, currency and mapping: from the flags, and from the config's channel when --channel is given. */
async function resolveFormat(ctx: CommandContext, flags: ParseFlags): Promise<Resolved> {
  let format = flags.format;
  let currency = flags.currency;
  let mapping: unknown = flags.mapping === undefined ? undefined : readMappingFile(resolve(ctx.io.cwd, flags.mapping));
  if (flags.channel !== undefined) {
    const { loadConfig } = await import('../config.js');
    const configPath = flags.config ?? ctx.io.env['SETTLE_CONFIG'];
    const config = loadConfig(configPath === undefined ? undefined : resolve(ctx.io.cwd, configPath));
    const channel = config.recon.channels.find((c) => c.channel === flags.channel);
    if (channel === undefined) {
      const known = config.recon.channels.map((c) => c.channel).join(', ') || '(none)';
      throw new AbortError('channel_not_configured', `Channel ${flags.channel} is not in recon.channels of ${config.path} (configured: ${known}).`, 'Add it to the config or name one of those.');
    }
    format ??= channel.format;
    currency ??= channel.currency;
    mapping ??= channel.mapping;
  } else if (flags.config !== undefined) {
    throw new AbortError('usage', '--config is read for a channel: give --channel too.', 'Add --channel C, or use --mapping FILE for a generic CSV.');
  }
  if (format === undefined) throw new AbortError('usage', 'No format: give --format, or --channel to take it from the config.', `Formats: ${FORMAT_NAMES.join(', ')}.`);
  return { format, ...(currency !== undefined ? { currency } : {}), ...(mapping !== undefined ? { mapping } : {}) };
}

export function registerReconParseCommands(recon: Command, run: Run): void {
  recon
    .command('parse')
    .description('read a channel\u2019s statement file (no database): its transactions, and its own totals checked')
    .argument('<file>', 'the statement file as the channel sent it')
    .option('--format <name>', `the file's format: ${FORMAT_NAMES.join(', ')}`)
    .option('--currency <code>', 'the currency of the amounts when the file does not say (default CNY)')
    .option('--channel <id>', 'take the format, currency and generic-csv mapping from this channel in the config')
    .option('--config <file>', 'config file for --channel (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .option('--mapping <file>', 'generic-csv: the column mapping, a JSON file')
    .option('--settlement-date <YYYY-MM-DD>', 'unionpay-zm: the settlement date, when the file name does not carry it')
    .option('--head <n>', 'without --json: how many lines to show', '10')
    .addHelpText('after', HELP)
    .action(
      run(async (ctx, file: string, flags: ParseFlags) => {
        const { parseStatementFile } = await import('../../batch/recon/formats/index.js');
        const resolved = await resolveFormat(ctx, flags);
        const headMax = Math.max(0, Math.min(Number.parseInt(flags.head, 10) || 0, HEAD_LINES_MAX));
        const head: StatementLine[] = [];
        let summary;
        const progress = await progressOf(ctx, `recon parse ${file}`);
        try {
          summary = await parseStatementFile(
            resolve(ctx.io.cwd, file),
            {
              format: resolved.format as (typeof FORMAT_NAMES)[number],
              ...(resolved.currency !== undefined ? { currency: resolved.currency } : {}),
              ...(resolved.mapping !== undefined ? { mapping: resolved.mapping } : {}),
              ...(flags.settlementDate !== undefined ? { settlementDate: flags.settlementDate } : {}),
              onProgress: byteEvents(progress, 'parse (bytes)'),
            },
            (line) => {
              if (ctx.out.json) ctx.out.result(lineJson(line), () => '');
              else if (head.length < headMax) head.push(line);
            },
          );
        } catch (e) {
          if (e instanceof ReconError) throw new AbortError(e.code, e.message, e.hint);
          throw e;
        } finally {
          progress.close();
        }
        const s = summary;
        const currency = head[0]?.currency ?? resolved.currency ?? 'CNY';
        ctx.out.result(
          {
            summary: {
              rows: s.rows,
              payments: s.payments,
              refunds: s.refunds,
              payment_amount_minor: s.paymentAmountMinor.toString(),
              refund_amount_minor: s.refundAmountMinor.toString(),
              totals_check: s.totalsCheck,
            },
          },
          () =>
            [
              `${file} (${resolved.format}): ${s.rows} transaction(s)`,
              `  payments  ${s.payments}  ${money(s.paymentAmountMinor, currency)}`,
              `  refunds   ${s.refunds}  ${money(s.refundAmountMinor, currency)}`,
              ...(s.feeTotal === null ? [] : [`  fees      ${s.feeTotal}`]),
              `  totals    ${s.totalsCheck === 'ok' ? 'ok: the file\u2019s own totals agree with its rows' : 'absent: this format states no totals'}`,
              ...(head.length === 0
                ? []
                : [
                    '',
                    table(
                      ['>line', 'kind', 'status', 'channel txn id', 'merchant no', '>amount', 'fee', 'occurred at'],
                      head.map((l) => [
                        String(l.line),
                        l.kind,
                        l.status,
                        l.channelTxnId,
                        (l.kind === 'refund' ? l.merchantRefundNo : l.merchantOrderNo) ?? '-',
                        money(l.amountMinor, l.currency),
                        l.fee ?? '-',
                        l.occurredAt,
                      ]),
                    ),
                    ...(s.rows > head.length ? [`(${s.rows - head.length} more; --json prints them all)`] : []),
                  ]),
            ].join('\n'),
        );
        return EXIT.ok;
      }),
    );
}
