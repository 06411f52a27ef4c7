// UnionPay 全渠道 merchant reconciliation file, general transactions (ZM): `INN<yyMMdd>88ZM_<merId>`,
// GBK, one CRLF-terminated line per transaction of 42 fixed-width fields sliced by byte, one space
// between fields: 566 data bytes + 41 separators = 607 bytes. Amounts are fen, zero-padded; fee and
// settlement amounts carry C (credit to the merchant) or D (debit) before 12 digits. The file has no
// header and no totals. Layout: ../../../../../shared/formats/FORMATS.md §3 and the SYNTHETIC sample.

import { BillError } from './errors.js';
import type { BillRow } from './rows.js';
import { gbkFitted, type LocalClock, withoutControls, zeroPadded } from './text.js';

/** The 42 fields in order: key, width in bytes, and what happens when a value is too wide. */
export const ZM_FIELDS = [
  ['txnCode', 3, '交易代码'],
  ['acqInsCode', 11, '代理机构标识码'],
  ['sendInsCode', 11, '发送机构标识码'],
  ['traceNo', 6, '系统跟踪号'],
  ['txnTime', 10, '交易传输时间'],
  ['payCardNo', 19, '帐号'],
  ['txnAmt', 12, '交易金额'],
  ['merCatCode', 4, '商户类别'],
  ['termType', 2, '终端类型'],
  ['queryId', 21, '查询流水号'],
  ['oldPayType', 2, '支付方式(旧)'],
  ['orderId', 32, '商户订单号'],
  ['payCardType', 2, '支付卡类型'],
  ['origTraceNo', 6, '原始交易的系统跟踪号'],
  ['origTxnTime', 10, '原始交易日期时间'],
  ['merFee', 13, '商户手续费'],
  ['settleAmt', 13, '结算金额'],
  ['payType', 4, '支付方式'],
  ['groupMerId', 15, '集团商户代码'],
  ['txnType', 2, '交易类型'],
  ['txnSubType', 2, '交易子类'],
  ['bizType', 6, '业务类型'],
  ['accType', 2, '帐号类型'],
  ['billType', 4, '账单类型'],
  ['billNo', 32, '账单号码'],
  ['interactMode', 1, '交互方式'],
  ['origQueryId', 21, '原交易查询流水号'],
  ['merId', 15, '商户代码'],
  ['splitMode', 1, '分账入账方式'],
  ['subMerId', 15, '二级商户代码'],
  ['subMerAbbr', 32, '二级商户简称'],
  ['subMerSplitAmt', 13, '二级商户分账入账金额'],
  ['netAmt', 13, '清算净额'],
  ['termId', 8, '终端号'],
  ['merReserved', 32, '商户自定义域'],
  ['discountAmt', 13, '优惠金额'],
  ['invoiceAmt', 13, '发票金额'],
  ['instalmentFee', 12, '分期付款附加手续费'],
  ['instalments', 2, '分期付款期数'],
  ['medium', 1, '交易介质'],
  ['origOrderId', 32, '原始交易订单号'],
  ['reserved', 98, '保留使用'],
] as const satisfies readonly (readonly [string, number, string])[];

export type ZmFieldKey = (typeof ZM_FIELDS)[number][0];
export type ZmRecord = Partial<Record<ZmFieldKey, string>>;

export const ZM_LINE_BYTES = 607;

/** Free text: cut to fit (at a character boundary). Every other field must fit, or the line would lie. */
const CUT_TO_FIT: ReadonlySet<ZmFieldKey> = new Set<ZmFieldKey>(['subMerAbbr', 'merReserved']);

export function zmFileName(merId: string, date: string): string {
  return `INN${date.slice(2, 4)}${date.slice(5, 7)}${date.slice(8, 10)}88ZM_${merId}`;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * One line: 607 bytes of GBK and CRLF. Throws bill_field_too_long when an id or amount does not fit.
 * Built as a string of one character per byte (latin1) and encoded once: ASCII fields are already
 * their GBK bytes; a field with other characters is GBK-encoded and carried byte for byte.
 */
export function zmLine(record: ZmRecord): Buffer {
  const parts: string[] = [];
  for (const [key, width, label] of ZM_FIELDS) {
    const value = record[key] ?? '';
    let field: string;
    let cut: boolean;
    if (PRINTABLE_ASCII.test(value)) {
      cut = value.length > width;
      field = cut ? value.slice(0, width) : value.padEnd(width, ' ');
    } else {
      const fitted = gbkFitted(value, width);
      cut = fitted.cut;
      field = fitted.bytes.toString('latin1');
    }
    if (cut && !CUT_TO_FIT.has(key)) {
      throw new BillError('bill_field_too_long', `UnionPay ZM ${label} is ${width} bytes; ${JSON.stringify(value)} does not fit.`);
    }
    parts.push(field);
  }
  return Buffer.from(`${parts.join(' ')}\r\n`, 'latin1');
}

/** C or D and 12 digits: the direction of money for the merchant and its magnitude in fen. */
function directed(credit: boolean, minor: bigint, label: string): string {
  const magnitude = minor < 0n ? -minor : minor;
  const toMerchant = minor < 0n ? !credit : credit;
  return `${toMerchant ? 'C' : 'D'}${digits(magnitude, 12, label)}`;
}

function digits(value: bigint | number, width: number, label: string): string {
  const text = zeroPadded(value, width);
  if (text === undefined) throw new BillError('bill_field_too_long', `UnionPay ZM ${label} is ${width} digits; ${value} does not fit.`);
  return text;
}

/** A masked card number that stays the same for the same payer: 621483******NNNN (FNV-1a of the payer, cheap per row). */
function maskedCard(key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return `621483******${String(h % 10_000).padStart(4, '0')}`;
}

const INSTITUTION = '00049992';

/**
 * The ZM line of a bill row: a payment is 消费 (S22, 交易类型 01), a refund 退货 (S30, 04), a void
 * 消费撤销 (S31, 31; the code is our choice, not seen in a public file). Refunds and voids carry the
 * original's trace number, time, query id and order id.
 */
export function zmRecordOf(row: BillRow, merId: string, clock: LocalClock): ZmRecord {
  const payment = row.kind === 'payment';
  const settleMinor = row.amountMinor - row.feeMinor;
  const followUp: ZmRecord = payment
    ? {}
    : {
        origTraceNo: row.originalTxnNo === null ? '' : digits(row.originalTxnNo % 1_000_000, 6, '原始交易的系统跟踪号'),
        origTxnTime: row.originalAtMs === null ? '' : clock.monthDayTime(row.originalAtMs),
        origQueryId: row.originalChannelTxnId ?? '',
        origOrderId: row.merchantOrderNo,
      };
  return {
    txnCode: payment ? 'S22' : row.kind === 'refund' ? 'S30' : 'S31',
    acqInsCode: INSTITUTION,
    sendInsCode: INSTITUTION,
    traceNo: digits(row.txnNo % 1_000_000, 6, '系统跟踪号'),
    txnTime: clock.monthDayTime(row.atMs),
    payCardNo: maskedCard(row.payerId ?? row.merchantOrderNo),
    txnAmt: digits(row.amountMinor, 12, '交易金额'),
    merCatCode: '5999',
    termType: '07',
    queryId: row.channelTxnId,
    orderId: payment ? row.merchantOrderNo : (row.merchantRefundNo ?? ''),
    payCardType: '01',
    merFee: directed(!payment, row.feeMinor, '商户手续费'),
    settleAmt: directed(payment, settleMinor, '结算金额'),
    payType: '0001',
    txnType: payment ? '01' : row.kind === 'refund' ? '04' : '31',
    txnSubType: payment ? '01' : '00',
    bizType: '000201',
    accType: '01',
    interactMode: '0',
    merId,
    netAmt: directed(payment, settleMinor, '清算净额'),
    merReserved: withoutControls(row.description ?? ''),
    ...followUp,
  };
}
