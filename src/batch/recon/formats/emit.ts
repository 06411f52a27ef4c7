// What every format shares: the input it is given, and the emitter that counts, sums and hands each line
// to the caller (and refuses the row after the row limit).

import type { Currency } from '../../../ledger/index.js';
import { ReconError, type ReconErrorCode } from '../errors.js';
import type { StatementLine, StatementSummary } from '../line.js';
import { ScaledSum } from './cells.js';
import type { ParseLimits } from './limits.js';
import type { ByteSource } from './source.js';

export interface FormatInput {
  readonly source: ByteSource;
  /** The file name for messages (and, for UnionPay, the settlement date in INN{YYMMDD}88ZM_…). */
  readonly name: string;
  /** The currency of the amounts when the file does not say. */
  readonly currency: Currency;
  readonly limits: ParseLimits;
  /** generic-csv: the column mapping, not yet validated. */
  readonly mapping?: unknown;
  /** unionpay-zm: the settlement date YYYY-MM-DD, when the file name does not carry it. */
  readonly settlementDate?: string;
}

/** A format reads its input, emits its lines, checks the file's own totals and returns the summary. */
export type FormatParser = (input: FormatInput, emit: LineEmitter) => Promise<StatementSummary>;

/** The Chinese channels write local time in Beijing. */
export const CHINA_OFFSET = '+08:00';

export class LineEmitter {
  rows = 0;
  payments = 0;
  refunds = 0;
  paymentAmountMinor = 0n;
  refundAmountMinor = 0n;
  /** The sum of the fees emitted, at the largest scale seen. */
  readonly fees = new ScaledSum();
  private feeSeen = false;

  constructor(
    private readonly name: string,
    private readonly limits: ParseLimits,
    private readonly onLine: (line: StatementLine) => void,
  ) {}

  /** `feeValue`/`feeScale`: the fee already read (line.fee is its text), to sum it without reading twice. */
  emit(line: StatementLine, feeValue?: bigint, feeScale?: number): void {
    if (this.rows >= this.limits.rowsMax) {
      throw new ReconError('too_many_rows', `${this.name}:${line.line}: more than ${this.limits.rowsMax} rows.`);
    }
    this.rows += 1;
    if (line.kind === 'payment') {
      this.payments += 1;
      this.paymentAmountMinor += line.amountMinor;
    } else {
      this.refunds += 1;
      this.refundAmountMinor += line.amountMinor;
    }
    if (feeValue !== undefined && feeScale !== undefined) {
      this.fees.add(feeValue, feeScale);
      this.feeSeen = true;
    }
    this.onLine(line);
  }

  /**
   * `feeScale`: null when the format has no fee column (the fee total is then null), else the fee's
   * usual number of decimals, so an empty file's total reads like its fees would ("0.00000" for WeChat).
   */
  summary(totalsCheck: StatementSummary['totalsCheck'], feeScale: number | null): StatementSummary {
    return {
      rows: this.rows,
      payments: this.payments,
      refunds: this.refunds,
      paymentAmountMinor: this.paymentAmountMinor,
      refundAmountMinor: this.refundAmountMinor,
      feeTotal: feeScale !== null || this.feeSeen ? this.fees.toFixed(feeScale ?? 0) : null,
      totalsCheck,
    };
  }
}

/** An error about one line: the file and line lead the message. */
export function rowError(code: ReconErrorCode, name: string, lineNo: number, message: string): ReconError {
  return new ReconError(code, `${name}:${lineNo}: ${message}`);
}

/** A totals mismatch message: what the file says against what its rows add up to. */
export function totalsMismatch(name: string, what: string, stated: string, counted: string): ReconError {
  return new ReconError('file_totals_mismatch', `${name}: the file states ${what} ${stated}, its rows add up to ${counted}.`);
}
