// UnionPay 全渠道 (ACP) merchant reconciliation file, general transactions (INN{YYMMDD}88ZM_{merId}): GBK,
// fixed width sliced by byte, 42 fields with one space between them, 607 bytes a line (later spec
// versions append to the reserved tail, so longer lines are read by their first 607 bytes). It may come
// bare or in the zip UnionPay's fileTransfer returns (the ZM entry is read, the ZME exceptions file is not).
//
// Rows: 交易代码 S22 (消费) is a payment; S30 (退货) and S31 (消费撤销, a void) are refunds — a void is
// listed, like a refund, as its own line naming the payment it cancels. Every line is a cleared
// transaction, so its status is succeeded; other codes are status_unknown. Amounts are fen (minor units of --currency, CNY by
// default). Keys: channelTxnId is 查询流水号 (queryId; 系统跟踪号 repeats across days). A refund's
// 商户订单号 is our refund number, its 原始交易订单号 our order number and its 原交易查询流水号 the
// payment's queryId. The fee is 商户手续费 (D = charged to the merchant, written positive; C = returned,
// written negative) as a decimal in major units. 交易传输时间 is MMDDhhmmss in Beijing time with no year: the
// year comes from the settlement date (the file name's YYMMDD, or the settlementDate option), taking the
// year that puts the transaction nearest to it (a 12-31 transaction in a 01-01 file is last year's).
// The file has no totals of its own (totalsCheck 'absent').

import { isAscii } from 'node:buffer';
import { toDecimalString } from '../../../ledger/index.js';
import { ReconError } from '../errors.js';
import type { StatementSummary } from '../line.js';
import { isRealDate, readMonthDayTime } from './cells.js';
import { CHINA_OFFSET, type FormatInput, type FormatParser, type LineEmitter } from './emit.js';
import { forEachByteLine } from './lines.js';
import { entryChunks, looksLikeZip, readZipDirectory } from './zip.js';

/** Field lengths in bytes, in file order (UnionPay ACP SDK parseZMFile). */
export const ZM_FIELD_BYTES = [3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2, 6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98] as const;
export const ZM_LINE_BYTES = ZM_FIELD_BYTES.reduce((a, b) => a + b, 0) + ZM_FIELD_BYTES.length - 1;

/** Byte offsets of each field's start. */
const OFFSETS: readonly number[] = ZM_FIELD_BYTES.reduce<number[]>((acc, _len, i) => {
  acc.push(i === 0 ? 0 : (acc[i - 1] as number) + (ZM_FIELD_BYTES[i - 1] as number) + 1);
  return acc;
}, []);

const F = {
  code: 0,
  transmissionTime: 4,
  amount: 6,
  queryId: 9,
  orderId: 11,
  fee: 15,
  originalQueryId: 26,
  originalOrderId: 40,
} as const;

const KIND_BY_CODE: Readonly<Record<string, 'payment' | 'refund'>> = { S22: 'payment', S30: 'refund', S31: 'refund' };

const gbk = new TextDecoder('gbk', { fatal: true });

function field(line: Buffer, index: number): string {
  const start = OFFSETS[index] as number;
  return line.toString('latin1', start, start + (ZM_FIELD_BYTES[index] as number)).trim();
}

function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** The settlement date: the option, or the YYMMDD of INN{YYMMDD}88ZM_ in the (entry or file) name. */
function settlementDateOf(input: FormatInput, names: readonly string[]): { year: number; month: number } {
  const fromOption = input.settlementDate;
  if (fromOption !== undefined) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(fromOption);
    if (!m || !isRealDate(Number(m[1]), Number(m[2]), Number(m[3]))) {
      throw new ReconError('settlement_date_missing', `The settlement date ${JSON.stringify(fromOption.slice(0, 20))} is not YYYY-MM-DD.`);
    }
    return { year: Number(m[1]), month: Number(m[2]) };
  }
  for (const n of names) {
    const m = /INN(\d{2})(\d{2})(\d{2})\d{2}ZM_/.exec(n.slice(n.lastIndexOf('/') + 1));
    if (m && isRealDate(2000 + Number(m[1]), Number(m[2]), Number(m[3]))) return { year: 2000 + Number(m[1]), month: Number(m[2]) };
  }
  throw new ReconError('settlement_date_missing', `${input.name}: the name has no INN{YYMMDD}88ZM_ date and no settlement date was given.`);
}

export const parseUnionpayZm: FormatParser = async (input: FormatInput, emit: LineEmitter): Promise<StatementSummary> => {
  const { source, name, limits, currency } = input;
  let chunks: AsyncIterable<Uint8Array>;
  let fileName = name;
  const names = [name];
  if (looksLikeZip(await source.read(0, 4))) {
    const archive = await readZipDirectory(source, limits);
    const entry = archive.entries.find((e) => {
      const base = e.name.slice(e.name.lastIndexOf('/') + 1);
      return base.includes('ZM_') && !base.startsWith('ZME');
    });
    if (entry === undefined) throw new ReconError('header_mismatch', `${name}: the zip has no ZM entry (it holds ${archive.entries.map((e) => e.name).join(', ') || 'nothing'}).`);
    chunks = entryChunks(source, archive, entry);
    fileName = `${name}!${entry.name}`;
    names.unshift(entry.name);
  } else {
    chunks = source.chunks(0, source.sizeBytes, { reuse: true }); // copied by the line splitter
  }
  const settlement = settlementDateOf(input, names);

  await forEachByteLine(chunks, { name: fileName, limits }, (line, lineNo, terminated) => {
    if (line.length === 0) return;
    const where = `${fileName}:${lineNo}`;
    if (line.length < ZM_LINE_BYTES) {
      if (!terminated) throw new ReconError('file_truncated', `${where}: the last line has ${line.length} bytes, not ${ZM_LINE_BYTES}; the file was cut off.`);
      throw new ReconError('row_malformed', `${where}: ${line.length} bytes where a ZM line has ${ZM_LINE_BYTES}.`);
    }
    for (let i = 1; i < OFFSETS.length; i += 1) {
      if (line[(OFFSETS[i] as number) - 1] !== 0x20) throw new ReconError('row_malformed', `${where}: no space between fields ${i} and ${i + 1} (byte ${OFFSETS[i]}); not a ZM line.`);
    }
    if (!isAscii(line)) {
      try {
        gbk.decode(line);
      } catch {
        throw new ReconError('encoding_invalid', `${where}: the bytes are not valid GBK.`);
      }
    }
    const code = field(line, F.code);
    const kind = KIND_BY_CODE[code];
    if (kind === undefined) throw new ReconError('status_unknown', `${where}: 交易代码 ${JSON.stringify(code)} is not S22 (消费), S30 (退货) or S31 (消费撤销).`);
    const amountText = field(line, F.amount);
    if (amountText.length !== 12 || !isDigits(amountText)) throw new ReconError('amount_invalid', `${where}: 交易金额 ${JSON.stringify(amountText)} is not 12 digits of fen.`);
    const amountMinor = BigInt(amountText);
    const feeText = field(line, F.fee);
    let fee: string | null = null;
    let feeValue: bigint | undefined;
    if (feeText !== '') {
      const sign = feeText.charAt(0);
      const digits = feeText.slice(1);
      if ((sign !== 'C' && sign !== 'D') || digits.length !== 12 || !isDigits(digits)) {
        throw new ReconError('amount_invalid', `${where}: 商户手续费 ${JSON.stringify(feeText)} is not C or D and 12 digits.`);
      }
      feeValue = sign === 'D' ? BigInt(digits) : -BigInt(digits);
      fee = toDecimalString(feeValue, currency);
    }
    const time = readMonthDayTime(field(line, F.transmissionTime));
    if (time === undefined) throw new ReconError('row_malformed', `${where}: 交易传输时间 ${JSON.stringify(field(line, F.transmissionTime))} is not MMDDhhmmss.`);
    let year = settlement.year;
    if (time.month - settlement.month > 6) year -= 1;
    else if (settlement.month - time.month > 6) year += 1;
    if (!isRealDate(year, time.month, time.day)) throw new ReconError('row_malformed', `${where}: 交易传输时间 ${String(time.month)}-${String(time.day)} is not a date in ${year}.`);
    const occurredAt = `${String(year)}-${String(time.month).padStart(2, '0')}-${String(time.day).padStart(2, '0')}T${time.hms}${CHINA_OFFSET}`;
    const queryId = field(line, F.queryId);
    if (queryId === '') throw new ReconError('row_malformed', `${where}: a line without 查询流水号.`);
    const orderId = field(line, F.orderId);
    const refund = kind === 'refund';
    const originalQueryId = field(line, F.originalQueryId);
    const originalOrderId = field(line, F.originalOrderId);
    emit.emit(
      {
        kind,
        channelTxnId: queryId,
        originalChannelTxnId: refund && originalQueryId !== '' ? originalQueryId : null,
        merchantOrderNo: refund ? originalOrderId || null : orderId || null,
        merchantRefundNo: refund ? orderId || null : null,
        amountMinor,
        currency: currency.code,
        status: 'succeeded',
        occurredAt,
        fee,
        line: lineNo,
      },
      feeValue,
      feeValue === undefined ? undefined : currency.exponent,
    );
  });
  return emit.summary('absent', currency.exponent);
};
