// A CSV from a channel without a format of its own, read by a column mapping from the config
// (recon.channels[].mapping) or a --mapping file. The mapping is validated here (genericCsvMappingSchema,
// unknown keys refused); config.ts can use the same schema.
//
// Columns are named by header (or, with header_row false, by 1-based position). Amounts are minor units
// (integers) or major units (decimals of the currency's scale), optionally with a currency prefix (¥) and a
// thousands separator when the mapping says so — never guessed. Kind comes from a kind column and its
// values, or from the sign (negative_is_refund), or every row is a payment. Status comes from a status
// column through status_values (an unmapped value is status_unknown), or is default_status. The file has
// no totals of its own (totalsCheck 'absent').

import { z } from 'zod';
import { findCurrency, type Currency } from '../../../ledger/index.js';
import { ReconError } from '../errors.js';
import type { LineKind, LineStatus, StatementSummary } from '../line.js';
import { compactDateTimeToIso, decimalToMinor, localDateTimeToIso, readScaledDecimal, splitDelimited } from './cells.js';
import type { FormatInput, FormatParser, LineEmitter } from './emit.js';
import { HeaderIndex } from './header.js';
import { forEachTextLine } from './lines.js';

const LINE_STATUSES = ['succeeded', 'failed', 'closed', 'processing', 'revoked'] as const satisfies readonly LineStatus[];
export const GENERIC_DATE_FORMATS = ['yyyy-MM-dd HH:mm:ss', 'yyyy/MM/dd HH:mm:ss', 'yyyyMMddHHmmss', 'iso8601'] as const;

/** A column by header name, or by 1-based position. */
const columnRef = z.union([z.string().min(1).max(128), z.number().int().min(1).max(1024)]);

export const genericCsvMappingSchema = z
  .strictObject({
    /** One character between cells (default ","). */
    delimiter: z
      .string()
      .length(1)
      .refine((d) => d !== '"' && d !== '\n' && d !== '\r', 'not a quote or a line end')
      .default(','),
    encoding: z.enum(['utf8', 'gbk']).default('utf8'),
    /** Whether the first line (after skip_lines) names the columns. */
    header_row: z.boolean().default(true),
    /** Lines before the header (or the first row), e.g. a title. */
    skip_lines: z.number().int().min(0).max(100).default(0),
    columns: z.strictObject({
      channel_txn_id: columnRef,
      amount: columnRef,
      occurred_at: columnRef,
      merchant_order_no: columnRef.optional(),
      merchant_refund_no: columnRef.optional(),
      original_channel_txn_id: columnRef.optional(),
      currency: columnRef.optional(),
      status: columnRef.optional(),
      fee: columnRef.optional(),
      kind: columnRef.optional(),
    }),
    /** `minor`: integer minor units ("1050"); `major`: decimals of the currency's scale ("10.50"). */
    amount_unit: z.enum(['minor', 'major']),
    /** A thousands separator the file writes in amounts ("1,234.50"); none unless named. */
    thousands_separator: z.enum([',', ' ', "'"]).optional(),
    /** A currency sign written before amounts ("¥12.00"); removed when present. */
    currency_prefix: z.string().min(1).max(4).optional(),
    /** Status cell values → line status (needed with a status column). */
    status_values: z.record(z.string().max(64), z.enum(LINE_STATUSES)).optional(),
    /** The status of every row when there is no status column. */
    default_status: z.enum(LINE_STATUSES).default('succeeded'),
    /** Kind cell values (needed with a kind column). */
    kind_values: z.strictObject({ payment: z.array(z.string().max(64)).min(1).max(32), refund: z.array(z.string().max(64)).min(1).max(32) }).optional(),
    /** Without a kind column: a negative amount is a refund (else negative amounts are refused). */
    negative_is_refund: z.boolean().default(false),
    date_format: z.enum(GENERIC_DATE_FORMATS).default('yyyy-MM-dd HH:mm:ss'),
    /** The offset of local times in the file (iso8601 times carry their own). */
    utc_offset: z
      .string()
      .regex(/^[+-](0\d|1[0-4]):[0-5]\d$/)
      .default('+08:00'),
  })
  .superRefine((m, ctx) => {
    if (m.columns.status !== undefined && m.status_values === undefined) ctx.addIssue({ code: 'custom', path: ['status_values'], message: 'a status column needs status_values' });
    if (m.columns.kind !== undefined && m.kind_values === undefined) ctx.addIssue({ code: 'custom', path: ['kind_values'], message: 'a kind column needs kind_values' });
    if (!m.header_row) {
      for (const [key, ref] of Object.entries(m.columns)) {
        if (typeof ref === 'string') ctx.addIssue({ code: 'custom', path: ['columns', key], message: 'without a header row, name columns by 1-based position' });
      }
    }
  });

export type GenericCsvMapping = z.infer<typeof genericCsvMappingSchema>;

/** Validates a mapping, or mapping_invalid naming the first problem. */
export function parseGenericCsvMapping(raw: unknown): GenericCsvMapping {
  if (raw === undefined) throw new ReconError('mapping_invalid', 'The generic-csv format needs a column mapping (--mapping FILE, or --config with --channel).');
  const parsed = genericCsvMappingSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') ?? '';
    throw new ReconError('mapping_invalid', `The generic-csv mapping is invalid${path ? ` at ${path}` : ''}: ${issue?.message ?? 'unknown problem'}.`);
  }
  return parsed.data;
}

function isoTime(text: string, mapping: GenericCsvMapping): string | undefined {
  switch (mapping.date_format) {
    case 'yyyy-MM-dd HH:mm:ss':
    case 'yyyy/MM/dd HH:mm:ss':
      return text.charAt(4) === mapping.date_format.charAt(4) ? localDateTimeToIso(text, mapping.utc_offset) : undefined;
    case 'yyyyMMddHHmmss':
      return compactDateTimeToIso(text, mapping.utc_offset);
    case 'iso8601': {
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(text)) return undefined;
      return Number.isNaN(Date.parse(text)) ? undefined : text;
    }
  }
}

export const parseGenericCsv: FormatParser = async (input: FormatInput, emit: LineEmitter): Promise<StatementSummary> => {
  const mapping = parseGenericCsvMapping(input.mapping);
  const { name, limits, source } = input;
  const statusValues = new Map(Object.entries(mapping.status_values ?? {}));
  const kindValues = new Map<string, LineKind>();
  for (const v of mapping.kind_values?.payment ?? []) kindValues.set(v, 'payment');
  for (const v of mapping.kind_values?.refund ?? []) kindValues.set(v, 'refund');

  let skipped = 0;
  let width = -1;
  let cells: string[] = [];
  let positions: Record<keyof GenericCsvMapping['columns'], number> | undefined;
  let hasFee = false;

  const resolve = (header: HeaderIndex | undefined, where: string): void => {
    const at = (ref: string | number | undefined): number => {
      if (ref === undefined) return -1;
      if (typeof ref === 'number') {
        if (ref > width) throw new ReconError('header_mismatch', `${where}: column ${ref} is beyond the ${width} cells of the first line.`);
        return ref - 1;
      }
      return header === undefined ? -1 : header.require(ref);
    };
    const c = mapping.columns;
    positions = {
      channel_txn_id: at(c.channel_txn_id),
      amount: at(c.amount),
      occurred_at: at(c.occurred_at),
      merchant_order_no: at(c.merchant_order_no),
      merchant_refund_no: at(c.merchant_refund_no),
      original_channel_txn_id: at(c.original_channel_txn_id),
      currency: at(c.currency),
      status: at(c.status),
      fee: at(c.fee),
      kind: at(c.kind),
    };
    hasFee = positions.fee >= 0;
  };

  const amountOf = (raw: string, currency: Currency, where: string): bigint => {
    let text = raw.trim();
    if (mapping.currency_prefix !== undefined) {
      const negative = text.startsWith('-');
      const body = negative ? text.slice(1) : text;
      if (body.startsWith(mapping.currency_prefix)) text = (negative ? '-' : '') + body.slice(mapping.currency_prefix.length);
    }
    if (mapping.thousands_separator !== undefined) text = withoutThousands(text, mapping.thousands_separator) ?? '\u0000';
    const value = decimalToMinor(text, mapping.amount_unit === 'minor' ? 0 : currency.exponent, true);
    if (value === undefined) {
      throw new ReconError('amount_invalid', `${where}: amount ${JSON.stringify(raw.slice(0, 40))} is not ${mapping.amount_unit === 'minor' ? 'an integer of minor units' : `a decimal with at most ${currency.exponent} decimals`}.`);
    }
    return value;
  };

  const onRow = (row: readonly string[], lineNo: number): void => {
    const p = positions;
    if (p === undefined) return;
    const where = `${name}:${lineNo}`;
    const cell = (at: number): string => (at < 0 ? '' : (row[at] ?? '').trim());
    const currencyCell = cell(p.currency);
    const currency = currencyCell === '' ? input.currency : findCurrency(currencyCell.toUpperCase());
    if (currency === undefined) throw new ReconError('currency_unknown', `${where}: currency ${JSON.stringify(currencyCell.slice(0, 12))} is not known.`);
    const signed = amountOf(cell(p.amount), currency, where);
    let kind: LineKind;
    if (p.kind >= 0) {
      const kindCell = cell(p.kind);
      const mapped = kindValues.get(kindCell);
      if (mapped === undefined) throw new ReconError('status_unknown', `${where}: kind ${JSON.stringify(kindCell.slice(0, 40))} is not in kind_values.`);
      kind = mapped;
      if (kind === 'payment' && signed < 0n) throw new ReconError('amount_invalid', `${where}: a payment with a negative amount.`);
    } else if (signed < 0n) {
      if (!mapping.negative_is_refund) throw new ReconError('amount_invalid', `${where}: a negative amount, and the mapping does not say negative_is_refund.`);
      kind = 'refund';
    } else {
      kind = 'payment';
    }
    let status: LineStatus = mapping.default_status;
    if (p.status >= 0) {
      const statusCell = cell(p.status);
      const mapped = statusValues.get(statusCell);
      if (mapped === undefined) throw new ReconError('status_unknown', `${where}: status ${JSON.stringify(statusCell.slice(0, 40))} is not in status_values.`);
      status = mapped;
    }
    const timeCell = cell(p.occurred_at);
    const occurredAt = isoTime(timeCell, mapping);
    if (occurredAt === undefined) throw new ReconError('row_malformed', `${where}: time ${JSON.stringify(timeCell.slice(0, 40))} is not ${mapping.date_format}.`);
    const txn = cell(p.channel_txn_id);
    if (txn === '') throw new ReconError('row_malformed', `${where}: a row without a channel transaction id.`);
    const feeText = cell(p.fee);
    let feeValue: bigint | undefined;
    let feeScale: number | undefined;
    if (feeText !== '') {
      const parsed = readScaledDecimal(feeText, mapping.amount_unit === 'minor' ? 0 : 6);
      if (parsed === undefined) throw new ReconError('amount_invalid', `${where}: fee ${JSON.stringify(feeText.slice(0, 40))} is not a decimal.`);
      feeValue = parsed.value;
      feeScale = parsed.scale;
    }
    const optional = (at: number): string | null => cell(at) || null;
    emit.emit(
      {
        kind,
        channelTxnId: txn,
        originalChannelTxnId: optional(p.original_channel_txn_id),
        merchantOrderNo: optional(p.merchant_order_no),
        merchantRefundNo: optional(p.merchant_refund_no),
        amountMinor: signed < 0n ? -signed : signed,
        currency: currency.code,
        status,
        occurredAt,
        fee: hasFee ? feeText || null : null,
        line: lineNo,
      },
      feeValue,
      feeScale,
    );
  };

  await forEachTextLine(source.chunks(0, source.sizeBytes, { reuse: true }), mapping.encoding, { name, limits }, (text, lineNo, terminated) => {
    if (skipped < mapping.skip_lines) {
      skipped += 1;
      return;
    }
    if (text.trim().length === 0) return;
    if (width < 0) {
      const names = new Array<string>(1024).fill('');
      width = splitDelimited(text, mapping.delimiter, names);
      if (width < 0 || width > names.length) throw new ReconError('header_mismatch', `${name}:${lineNo}: the first line cannot be read.`);
      cells = new Array<string>(width).fill('');
      if (mapping.header_row) {
        resolve(new HeaderIndex(names.slice(0, width), `${name}:${lineNo}`), `${name}:${lineNo}`);
        return;
      }
      resolve(undefined, `${name}:${lineNo}`);
    }
    const count = splitDelimited(text, mapping.delimiter, cells);
    if (count !== width) {
      const what = count < 0 ? 'a quote is not closed on its line' : `${count} cells where the first line has ${width}`;
      if (!terminated) throw new ReconError('file_truncated', `${name}:${lineNo}: the last line is incomplete (${what}); the file was cut off.`);
      throw new ReconError('row_malformed', `${name}:${lineNo}: ${what}.`);
    }
    onRow(cells, lineNo);
  });
  if (width < 0) throw new ReconError('header_mismatch', `${name}: the file has no lines.`);
  return emit.summary('absent', hasFee ? 0 : null);
};

/** "1,234,567.89" → "1234567.89" when every group after the first has three digits; undefined otherwise. */
function withoutThousands(text: string, separator: string): string | undefined {
  if (!text.includes(separator)) return text;
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  const dot = body.indexOf('.');
  const whole = dot < 0 ? body : body.slice(0, dot);
  const groups = whole.split(separator);
  const [first, ...rest] = groups;
  if (first === undefined || first.length < 1 || first.length > 3 || rest.some((g) => g.length !== 3)) return undefined;
  return (negative ? '-' : '') + groups.join('') + (dot < 0 ? '' : body.slice(dot));
}
