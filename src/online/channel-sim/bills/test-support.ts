// Helpers for the bill tests: a simulator file with a day of transactions written straight into its
// record (the same rows the engine writes), at chosen times, so every case is exact and fast.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { applyRate } from '../../../ledger/index.js';
import { parseSimConfig, type SimConfig, type SimConfigInput } from '../config.js';
import { businessDateOf } from '../rules.js';
import { SimStore, type NewTxn, type SimTxn } from '../store.js';
import { ZM_FIELDS, ZM_LINE_BYTES, type ZmFieldKey } from './unionpay-zm.js';

export const SHANGHAI = 'Asia/Shanghai';

/** Epoch ms of a Shanghai wall-clock time: at('2026-11-26', '10:15:02'). */
export function at(date: string, time: string): number {
  return Date.parse(`${date}T${time}+08:00`);
}

export function simConfig(input: SimConfigInput = {}): SimConfig {
  const parsed = parseSimConfig(input, {});
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}

export interface BillPlace {
  readonly dir: string;
  readonly dbPath: string;
  readonly outDir: string;
  readonly store: SimStore;
  cleanup(): void;
}

export function billPlace(): BillPlace {
  const dir = mkdtempSync(join(tmpdir(), 'settle-bills-'));
  const dbPath = join(dir, 'sim.db');
  const store = SimStore.open(dbPath);
  let closed = false;
  return {
    dir,
    dbPath,
    outDir: join(dir, 'out'),
    store,
    cleanup: () => {
      if (!closed) store.close();
      closed = true;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A closed store, for tests that hand the file to another process or the CLI. */
export function closeStore(place: BillPlace): void {
  place.store.close();
}

interface TxnInput {
  readonly channelId: string;
  readonly atMs: number;
  readonly reference: string;
  readonly amountMinor: bigint;
  readonly currency?: string;
  readonly product?: NewTxn['product'];
  readonly feeRate?: string;
  readonly payerId?: string | null;
  readonly description?: string | null;
  readonly status?: SimTxn['status'];
  readonly completedAfterMs?: number;
}

function base(t: TxnInput): Omit<NewTxn, 'operation' | 'originalOperation' | 'originalReference' | 'originalChannelTxnId' | 'feeMinor'> {
  const status = t.status ?? 'succeeded';
  return {
    channelId: t.channelId,
    reference: t.reference,
    product: t.product ?? null,
    amountMinor: t.amountMinor,
    currency: t.currency ?? 'CNY',
    status,
    declineCode: status === 'declined' ? 'card_refused' : null,
    declineMessage: status === 'declined' ? 'refused' : null,
    plannedDeclineCode: null,
    feeRate: t.feeRate ?? '0.006',
    payerId: t.payerId ?? null,
    payeeName: null,
    payeeAccount: null,
    agreementToken: null,
    description: t.description ?? null,
    notifyUrl: null,
    createdAtMs: t.atMs,
    completedAtMs: status === 'processing' ? null : t.atMs + (t.completedAfterMs ?? 1_000),
    businessDate: businessDateOf(t.atMs, SHANGHAI),
  };
}

export function pay(store: SimStore, t: TxnInput): SimTxn {
  const b = base(t);
  const feeMinor = b.status === 'declined' ? 0n : applyRate(t.amountMinor, b.feeRate, 'half_up');
  return store.insert({ ...b, operation: 'pay', originalOperation: null, originalReference: null, originalChannelTxnId: null, feeMinor });
}

/** A refund (or void) of `original`, giving back its fee in proportion (or all of it). */
export function followUp(store: SimStore, operation: 'refund' | 'void', original: SimTxn, t: Omit<TxnInput, 'channelId'>): SimTxn {
  const b = base({ ...t, channelId: original.channelId, feeRate: original.feeRate, product: original.product });
  const feeMinor = operation === 'void' ? original.feeMinor : (original.feeMinor * t.amountMinor) / original.amountMinor;
  return store.insert({
    ...b,
    operation,
    originalOperation: original.operation,
    originalReference: original.reference,
    originalChannelTxnId: original.channelTxnId,
    feeMinor,
  });
}

export interface ZipEntryRead {
  readonly nameBytes: Buffer;
  readonly versionMadeBy: number;
  readonly versionNeeded: number;
  readonly flags: number;
  readonly method: number;
  readonly dosTime: number;
  readonly dosDate: number;
  readonly crc: number;
  readonly externalAttributes: number;
  readonly content: Buffer;
}

/** A tiny zip reader for the tests: the end record, the central directory, each local header, inflate. */
export function readZip(zip: Buffer): ZipEntryRead[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('no end of central directory');
  const count = zip.readUInt16LE(end + 10);
  let p = zip.readUInt32LE(end + 16);
  const entries: ZipEntryRead[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central header');
    const nameLength = zip.readUInt16LE(p + 28);
    const extraLength = zip.readUInt16LE(p + 30);
    const commentLength = zip.readUInt16LE(p + 32);
    const offset = zip.readUInt32LE(p + 42);
    const compressedBytes = zip.readUInt32LE(p + 20);
    if (zip.readUInt32LE(offset) !== 0x04034b50) throw new Error('bad local header');
    const dataStart = offset + 30 + zip.readUInt16LE(offset + 26) + zip.readUInt16LE(offset + 28);
    const method = zip.readUInt16LE(p + 10);
    const raw = zip.subarray(dataStart, dataStart + compressedBytes);
    entries.push({
      nameBytes: Buffer.from(zip.subarray(p + 46, p + 46 + nameLength)),
      versionMadeBy: zip.readUInt16LE(p + 4),
      versionNeeded: zip.readUInt16LE(p + 6),
      flags: zip.readUInt16LE(p + 8),
      method,
      dosTime: zip.readUInt16LE(p + 12),
      dosDate: zip.readUInt16LE(p + 14),
      crc: zip.readUInt32LE(p + 16),
      externalAttributes: zip.readUInt32LE(p + 38),
      content: method === 8 ? inflateRawSync(raw) : Buffer.from(raw),
    });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** A row of a written bill, read back independently of the writers (for the tests' checks). */
export interface ReadRow {
  /** Our refund id on a refund or void row, else our payment id: the one key every format carries. */
  readonly key: string;
  readonly kind: 'payment' | 'refund';
  readonly orderNo: string;
  readonly refundNo: string | null;
  readonly amountMinor: bigint;
  /** The fee as the file writes it. */
  readonly fee: string;
  /** WeChat 交易状态 (or 退款状态 on a refund); UnionPay 交易代码; Alipay 业务类型. */
  readonly status: string;
  /** The row's time as the file writes it. */
  readonly time: string;
}

const fenOf = (yuan: string): bigint => {
  const m = /^(-?)([0-9]+)\.([0-9]{2})$/.exec(yuan);
  if (!m) throw new Error(`not a yuan amount: ${yuan}`);
  const v = BigInt(`${m[2]}${m[3]}`);
  return m[1] === '-' ? -v : v;
};

export function readWechatRows(bytes: Buffer): { rows: ReadRow[]; summary: string[] } {
  const lines = bytes.toString('utf8').replace(/^\uFEFF/, '').split('\r\n');
  const summaryAt = lines.findIndex((l) => l.startsWith('总交易单数'));
  const rows = lines.slice(1, summaryAt).map((line): ReadRow => {
    const c = line.split(',').map((cell) => cell.slice(1));
    const refund = c[9] === 'REFUND';
    return {
      key: refund ? (c[15] ?? '') : (c[6] ?? ''),
      kind: refund ? 'refund' : 'payment',
      orderNo: c[6] ?? '',
      refundNo: refund ? (c[15] ?? '') : null,
      amountMinor: fenOf(refund ? (c[16] ?? '') : (c[24] ?? '')),
      fee: c[22] ?? '',
      status: refund ? (c[19] ?? '') : (c[9] ?? ''),
      time: c[0] ?? '',
    };
  });
  return { rows, summary: (lines[summaryAt + 1] ?? '').split(',').map((cell) => cell.slice(1)) };
}

export function readAlipayRows(zip: Buffer): { rows: ReadRow[]; footer: string[] } {
  const [detail] = readZip(zip);
  const lines = iconv.decode(detail?.content ?? Buffer.alloc(0), 'gbk').split('\r\n');
  const rows = lines
    .filter((l) => !l.startsWith('#') && l.includes('\t,'))
    .map((line): ReadRow => {
      const c = line.split(',').map((cell) => cell.replace(/\t$/, ''));
      const refund = c[2] === '退款';
      const amount = fenOf(c[12] ?? '');
      return {
        key: refund ? (c[21] ?? '') : (c[1] ?? ''),
        kind: refund ? 'refund' : 'payment',
        orderNo: c[1] ?? '',
        refundNo: refund ? (c[21] ?? '') : null,
        amountMinor: amount < 0n ? -amount : amount,
        fee: c[22] ?? '',
        status: c[2] ?? '',
        time: refund ? (c[5] ?? '') : (c[4] ?? ''),
      };
    });
  return { rows, footer: lines.filter((l) => l.startsWith('#交易合计') || l.startsWith('#退款合计')) };
}

export function readZmRows(bytes: Buffer): ReadRow[] {
  const offsets = new Map<string, [number, number]>();
  let offset = 0;
  for (const [key, width] of ZM_FIELDS) {
    offsets.set(key, [offset, width]);
    offset += width + 1;
  }
  const rows: ReadRow[] = [];
  for (let start = 0; start < bytes.length; start += ZM_LINE_BYTES + 2) {
    const line = bytes.subarray(start, start + ZM_LINE_BYTES + 2);
    const field = (key: ZmFieldKey): string => {
      const [at, width] = offsets.get(key) ?? [0, 0];
      return iconv.decode(line.subarray(at, at + width), 'gbk').trimEnd();
    };
    const code = field('txnCode');
    const orderId = field('orderId');
    const payment = code === 'S22';
    rows.push({
      key: orderId,
      kind: payment ? 'payment' : 'refund',
      orderNo: payment ? orderId : field('origOrderId'),
      refundNo: payment ? null : orderId,
      amountMinor: BigInt(field('txnAmt')),
      fee: field('merFee'),
      status: code,
      time: field('txnTime'),
    });
  }
  return rows;
}
