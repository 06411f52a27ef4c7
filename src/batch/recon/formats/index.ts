// The reconciliation file parsers: one entry point for every channel format. Each format streams its file
// (never the whole file in memory), calls onLine for each transaction in file order, checks the file's own
// totals after the last row and resolves with the summary; bad input rejects with a ReconError whose code
// is stable (see ../errors.ts).
//
// Rolling back is the caller's job: lines reach onLine before the totals are known, so a caller that
// imports must discard everything onLine gave it when the promise rejects — file_totals_mismatch is only
// detected after the last row.

import { findCurrency } from '../../../ledger/index.js';
import { FORMAT_NAMES, type FormatName } from '../config.js';
import { ReconError } from '../errors.js';
import type { StatementLine, StatementSummary } from '../line.js';
import { parseAlipayAccount } from './alipay-account.js';
import { parseAlipayTrade } from './alipay-trade.js';
import { LineEmitter, type FormatParser } from './emit.js';
import { parseGenericCsv } from './generic-csv.js';
import { resolveLimits, type ParseLimits } from './limits.js';
import { bytesSource, fileSource, type ByteSource, type ProgressListener } from './source.js';
import { parseUnionpayZm } from './unionpay-zm.js';
import { parseWechatFundflow } from './wechat-fundflow.js';
import { parseWechatTrade } from './wechat-trade.js';

export { PARSE_LIMITS, type ParseLimits } from './limits.js';
export { genericCsvMappingSchema, type GenericCsvMapping } from './generic-csv.js';

export interface ParseOptions {
  readonly format: FormatName;
  /** Currency of the amounts when the file does not say (default 'CNY'). */
  readonly currency?: string;
  /** For generic-csv: the mapping (validated by genericCsvMappingSchema). */
  readonly mapping?: unknown;
  readonly limits?: Partial<ParseLimits>;
  /**
   * The file name for messages, and for unionpay-zm the settlement date it carries (INN{YYMMDD}88ZM_…).
   * parseStatementFile uses the path; give it to parseStatementBytes when the bytes came from a file.
   */
  readonly fileName?: string;
  /** unionpay-zm: the settlement date (YYYY-MM-DD) that gives the year of its MMDDhhmmss times, when the file name does not. */
  readonly settlementDate?: string;
  /** Called as the file is read: bytes read so far and the file's size (for progress displays). */
  readonly onProgress?: ProgressListener;
}

const PARSERS: Readonly<Record<FormatName, FormatParser>> = {
  'wechat-trade': parseWechatTrade,
  'wechat-fundflow': parseWechatFundflow,
  'alipay-trade': parseAlipayTrade,
  'alipay-account': parseAlipayAccount,
  'unionpay-zm': parseUnionpayZm,
  'generic-csv': parseGenericCsv,
};

export function isFormatName(name: string): name is FormatName {
  return (FORMAT_NAMES as readonly string[]).includes(name);
}

async function parseSource(source: ByteSource, options: ParseOptions, onLine: (line: StatementLine) => void): Promise<StatementSummary> {
  try {
    const format = options.format as string;
    if (!isFormatName(format)) throw new ReconError('format_unknown', `Format ${JSON.stringify(format.slice(0, 40))} is not one of ${FORMAT_NAMES.join(', ')}.`);
    const currencyCode = options.currency ?? 'CNY';
    const currency = findCurrency(currencyCode);
    if (currency === undefined) throw new ReconError('currency_unknown', `Currency ${JSON.stringify(currencyCode.slice(0, 12))} is not a known currency code.`);
    const limits = resolveLimits(options.limits);
    if (source.sizeBytes > limits.fileBytesMax) {
      throw new ReconError('file_too_large', `${source.name} is ${source.sizeBytes} bytes; the limit is ${limits.fileBytesMax}.`);
    }
    const emitter = new LineEmitter(source.name, limits, onLine);
    return await PARSERS[format](
      {
        source,
        name: source.name,
        currency,
        limits,
        ...(options.mapping !== undefined ? { mapping: options.mapping } : {}),
        ...(options.settlementDate !== undefined ? { settlementDate: options.settlementDate } : {}),
      },
      emitter,
    );
  } finally {
    await source.close();
  }
}

/**
 * Streams the file (never the whole file in memory); calls onLine for each transaction in file order;
 * resolves with the summary after checking the file's own totals; throws ReconError on bad input.
 */
export async function parseStatementFile(path: string, options: ParseOptions, onLine: (line: StatementLine) => void): Promise<StatementSummary> {
  return parseSource(await fileSource(path, options.onProgress), options, onLine);
}

/** The same over bytes already in memory (small files, tests, the simulator round-trip). */
export async function parseStatementBytes(bytes: Uint8Array, options: ParseOptions, onLine: (line: StatementLine) => void): Promise<StatementSummary> {
  return parseSource(bytesSource(bytes, options.fileName ?? '(bytes)', options.onProgress), options, onLine);
}
