// Payout instructions for the bank (代付): a CSV for people and ISO 20022 pain.001.001.09
// (CustomerCreditTransferInitiation) for the bank, one file per currency with one PmtInf whose debtor
// is our reserve account. Pure: the same batches give the same bytes (CreDtTm is the run's first start).

import { createHash } from 'node:crypto';
import { findCurrency, toDecimalString } from '../../ledger/index.js';
import { csvLine } from '../csv.js';
import type { PayoutAccount } from './config.js';

export interface PayoutInstruction {
  readonly batchId: string;
  readonly merchantId: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly payee: PayoutAccount;
}

export const CSV_HEADER = ['batch_id', 'merchant_id', 'currency', 'amount', 'amount_minor', 'payee_name', 'payee_iban', 'payee_account', 'payee_bank', 'end_to_end_id'] as const;

/** ISO 20022 Max35Text ids: the text itself when it fits, else a prefix and a hash of the whole. */
export function max35(text: string): string {
  if (text.length <= 35) return text;
  return `${text.slice(0, 26)}-${createHash('sha256').update(text).digest('hex').slice(0, 8)}`;
}

export const endToEndId = (runDate: string, merchantId: string): string => max35(`${runDate.replaceAll('-', '')}-${merchantId}`);

function decimal(amountMinor: bigint, currency: string): string {
  const c = findCurrency(currency);
  if (c === undefined) throw new Error(`payout: unknown currency ${currency}`);
  return toDecimalString(amountMinor, c);
}

export function payoutCsv(runDate: string, instructions: readonly PayoutInstruction[]): string {
  return (
    csvLine(CSV_HEADER) +
    instructions
      .map((i) =>
        csvLine([i.batchId, i.merchantId, i.currency, decimal(i.amountMinor, i.currency), i.amountMinor, i.payee.name, i.payee.iban, i.payee.account, i.payee.bank, endToEndId(runDate, i.merchantId)]),
      )
      .join('')
  );
}

function isXmlChar(ch: string): boolean {
  const c = ch.codePointAt(0) ?? 0;
  return c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000;
}

const XML_MARKUP = new Set([0x26, 0x3c, 0x3e, 0x22, 0x27]);
/** Text with nothing to escape or drop: no markup, no control character but tab and line ends, no surrogate, no U+FFFE or U+FFFF. */
function isPlainXml(text: string): boolean {
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if ((c < 0x20 && c !== 0x9 && c !== 0xa && c !== 0xd) || XML_MARKUP.has(c) || (c >= 0xd800 && c <= 0xdfff) || c >= 0xfffe) return false;
  }
  return true;
}

/** Escapes text for XML element content and attribute values; drops characters XML 1.0 cannot hold. */
export function xmlEscape(text: string): string {
  // Most names and ids are plain: splitting them into code points was most of a payout file's time.
  if (isPlainXml(text)) return text;
  return [...text]
    .filter(isXmlChar)
    .join('')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const el = (name: string, value: string): string => `<${name}>${xmlEscape(value)}</${name}>`;
const isBic = (code: string): boolean => /^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$/.test(code);

function account(a: PayoutAccount): string {
  return a.iban !== null ? `<Id>${el('IBAN', a.iban)}</Id>` : `<Id><Othr>${el('Id', a.account ?? '')}</Othr></Id>`;
}

function agent(a: PayoutAccount): string {
  return isBic(a.bank) ? `<FinInstnId>${el('BICFI', a.bank)}</FinInstnId>` : `<FinInstnId><Othr>${el('Id', a.bank)}</Othr></FinInstnId>`;
}

export interface Pain001Input {
  readonly runDate: string;
  readonly currency: string;
  readonly createdAtMs: number;
  /** The day the bank should pay (the day after the run date). */
  readonly executionDate: string;
  readonly debtor: PayoutAccount;
  readonly instructions: readonly PayoutInstruction[];
}

/** One pain.001.001.09 document for the instructions of one currency. */
export function pain001(input: Pain001Input): string {
  const total = input.instructions.reduce((s, i) => s + i.amountMinor, 0n);
  const ctrlSum = decimal(total, input.currency);
  const msgId = max35(`SETTLE-CLR-${input.runDate}-${input.currency}`);
  const creDtTm = new Date(input.createdAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const n = String(input.instructions.length);
  const txs = input.instructions.map(
    (i) =>
      '      <CdtTrfTxInf>\n' +
      `        <PmtId>${el('EndToEndId', endToEndId(input.runDate, i.merchantId))}</PmtId>\n` +
      `        <Amt><InstdAmt Ccy="${xmlEscape(i.currency)}">${decimal(i.amountMinor, i.currency)}</InstdAmt></Amt>\n` +
      `        <CdtrAgt>${agent(i.payee)}</CdtrAgt>\n` +
      `        <Cdtr>${el('Nm', i.payee.name)}</Cdtr>\n` +
      `        <CdtrAcct>${account(i.payee)}</CdtrAcct>\n` +
      `        <RmtInf>${el('Ustrd', `Settlement ${i.batchId}`)}</RmtInf>\n` +
      '      </CdtTrfTxInf>\n',
  );
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">\n' +
    '  <CstmrCdtTrfInitn>\n' +
    `    <GrpHdr>${el('MsgId', msgId)}${el('CreDtTm', creDtTm)}${el('NbOfTxs', n)}${el('CtrlSum', ctrlSum)}<InitgPty>${el('Nm', input.debtor.name)}</InitgPty></GrpHdr>\n` +
    '    <PmtInf>\n' +
    `      ${el('PmtInfId', msgId)}<PmtMtd>TRF</PmtMtd>${el('NbOfTxs', n)}${el('CtrlSum', ctrlSum)}\n` +
    `      <ReqdExctnDt>${el('Dt', input.executionDate)}</ReqdExctnDt>\n` +
    `      <Dbtr>${el('Nm', input.debtor.name)}</Dbtr>\n` +
    `      <DbtrAcct>${account(input.debtor)}</DbtrAcct>\n` +
    `      <DbtrAgt>${agent(input.debtor)}</DbtrAgt>\n` +
    '      <ChrgBr>SLEV</ChrgBr>\n' +
    txs.join('') +
    '    </PmtInf>\n' +
    '  </CstmrCdtTrfInitn>\n' +
    '</Document>\n'
  );
}
