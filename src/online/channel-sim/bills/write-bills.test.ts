// writeBills over a real simulator file: which rows each day's file holds, the same bytes for the same
// input, every injected trouble shown in the file and reported in the manifest, and the refusals.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BillFormat } from '../config.js';
import { BILL_ERROR_CODES } from './errors.js';
import {
  at,
  billPlace,
  followUp,
  pay,
  readAlipayRows,
  readWechatRows,
  readZmRows,
  simConfig,
  type BillPlace,
  type ReadRow,
} from './test-support.js';
import { decimalText, yuanText } from './text.js';
import { parseInjectSpec } from './troubles.js';
import { type ChannelBills, writeBills, type WriteBillsOptions } from './write-bills.js';

const D = '2026-11-26';
const D_PLUS_1 = '2026-11-27';
const CHANNELS = { wallet: 'wechat-trade', bank: 'unionpay-zm', ali: 'alipay-trade' } as const satisfies Record<string, BillFormat>;
type ChannelId = keyof typeof CHANNELS;
const config = simConfig({
  channels: [
    { id: 'bank', kind: 'bank' },
    { id: 'wallet', kind: 'wallet' },
    { id: 'ali', kind: 'wallet', bill_format: 'alipay-trade' },
    { id: 'payout', kind: 'payout' },
  ],
});
const ALL_TROUBLES = parseInjectSpec('drop=1,extra=1,amount=1,status=1,fee=1,midnight=1,duplicate=1');

let place: BillPlace;

/** A day for each channel: six payments (one voided, one partly refunded), and what must stay out. */
function recordDays(p: BillPlace): void {
  for (const ch of Object.keys(CHANNELS)) {
    const product = ch === 'bank' ? 'quick' : 'wallet';
    const payment = (n: number, date: string, time: string, amountMinor: bigint, extra: Partial<Parameters<typeof pay>[1]> = {}) =>
      pay(p.store, { channelId: ch, atMs: at(date, time), reference: `pay_${ch}_${n}`, amountMinor, product, ...extra });
    payment(91, '2026-11-25', '22:00:00', 1_500n);
    payment(92, '2026-11-25', '23:59:50', 2_500n);
    const p1 = payment(1, D, '09:00:00', 10_000n, { description: '测试商品', payerId: 'U1' });
    payment(2, D, '09:30:00', 2_550n);
    const p3 = payment(3, D, '10:00:00', 777n);
    followUp(p.store, 'void', p3, { atMs: at(D, '10:05:00'), reference: `vo_${ch}_3`, amountMinor: 777n });
    payment(4, D, '11:00:00', 5_000n);
    payment(5, D, '12:00:00', 12_345n);
    payment(6, D, '13:00:00', 888n);
    followUp(p.store, 'refund', p1, { atMs: at(D, '14:00:00'), reference: `re_${ch}_1`, amountMinor: 3_000n });
    payment(7, D, '15:00:00', 4_000n, { status: 'declined' });
    payment(8, D, '16:00:00', 4_100n, { status: 'processing' });
    if (ch === 'bank') payment(9, D, '17:00:00', 4_200n, { currency: 'USD' });
    payment(10, D_PLUS_1, '01:00:00', 6_000n);
  }
}

// One day for every test: writeBills only reads the record; each call writes into a folder of its own.
beforeAll(() => {
  place = billPlace();
  recordDays(place);
});
afterAll(() => place.cleanup());

let runs = 0;
function write(options: Partial<WriteBillsOptions> = {}): ChannelBills[] {
  return writeBills(place.store, { config, date: D, outDir: join(place.outDir, String(++runs)), ...options });
}

function bill(results: readonly ChannelBills[], channel: ChannelId): ChannelBills {
  const b = results.find((r) => r.channelId === channel);
  if (!b) throw new Error(`no bill for ${channel}`);
  return b;
}

function rowsOf(b: ChannelBills): ReadRow[] {
  const bytes = readFileSync(b.files[0]?.path ?? '');
  if (b.format === 'wechat-trade') return readWechatRows(bytes).rows;
  if (b.format === 'alipay-trade') return readAlipayRows(bytes).rows;
  return readZmRows(bytes);
}

function manifestOf(b: ChannelBills): { troubles: Record<string, string | number | null>[]; skipped: { kind: string }[]; totals_broken: string | null } {
  return JSON.parse(readFileSync(b.manifestPath, 'utf8')) as never;
}

/** The fee cell a format writes for a row of this kind charging (or giving back) feeMinor. */
function feeCell(format: BillFormat, kind: string, feeMinor: bigint): string {
  const refund = kind !== 'payment';
  if (format === 'wechat-trade') return decimalText((refund ? -feeMinor : feeMinor) * 1000n, 5);
  if (format === 'alipay-trade') return yuanText(refund ? feeMinor : -feeMinor);
  return `${refund ? 'C' : 'D'}${feeMinor.toString().padStart(12, '0')}`;
}

describe('Given a simulator day with payments, a refund, a void, and rows that must stay out', () => {
  it('When the bills are written, Then each lists exactly the succeeded CNY money movements of the day, each in its format\u2019s way', () => {
    const results = write();
    expect(results.map((r) => [r.channelId, r.format])).toEqual([
      ['bank', 'unionpay-zm'],
      ['wallet', 'wechat-trade'],
      ['ali', 'alipay-trade'],
    ]);
    const keys = (ch: string, voidKey: string | null) =>
      [`pay_${ch}_1`, `pay_${ch}_2`, `pay_${ch}_3`, ...(voidKey ? [voidKey] : []), `pay_${ch}_4`, `pay_${ch}_5`, `pay_${ch}_6`, `re_${ch}_1`];
    const wallet = rowsOf(bill(results, 'wallet'));
    expect(wallet.map((r) => r.key)).toEqual(keys('wallet', null));
    expect(wallet.find((r) => r.key === 'pay_wallet_3')?.status).toBe('REVOKED');
    expect(wallet.find((r) => r.key === 're_wallet_1')).toMatchObject({ kind: 'refund', orderNo: 'pay_wallet_1', amountMinor: 3_000n, fee: '-0.18000', status: 'SUCCESS' });
    const bank = rowsOf(bill(results, 'bank'));
    expect(bank.map((r) => r.key)).toEqual(keys('bank', 'vo_bank_3'));
    expect(bank.map((r) => r.status)).toEqual(['S22', 'S22', 'S22', 'S31', 'S22', 'S22', 'S22', 'S30']);
    expect(bill(results, 'bank')).toMatchObject({ payments: 6, refunds: 1, voids: 1, leftOutOtherCurrency: 1 });
    const ali = rowsOf(bill(results, 'ali'));
    expect(ali.map((r) => r.key)).toEqual(keys('ali', 'vo_ali_3'));
    expect(ali.find((r) => r.key === 'vo_ali_3')).toMatchObject({ kind: 'refund', orderNo: 'pay_ali_3', status: '退款', amountMinor: 777n });
    expect(readdirSync(join(place.outDir, String(runs), 'wallet')).sort()).toEqual(['1900012345_tradebill_ALL_20261126.csv', 'manifest_20261126.json']);
  });

  it('When written twice (or to another folder), Then every file and manifest has the same bytes; another seed picks other rows', () => {
    const first = write({ inject: ALL_TROUBLES, seed: 'same' });
    const second = write({ inject: ALL_TROUBLES, seed: 'same', outDir: join(place.dir, 'again') });
    for (const [a, b] of first.map((r, i) => [r, second[i]] as const)) {
      expect(a.files.map((f) => f.sha256)).toEqual(b?.files.map((f) => f.sha256));
      expect(readFileSync(a.manifestPath, 'utf8')).toBe(readFileSync(b?.manifestPath ?? '', 'utf8'));
    }
    const other = write({ inject: ALL_TROUBLES, seed: 'other', outDir: join(place.dir, 'other') });
    expect(other.map((r) => r.files[0]?.sha256)).not.toEqual(first.map((r) => r.files[0]?.sha256));
  });

  describe.each(Object.entries(CHANNELS))('When channel %s (%s) is written with every trouble', (channel, format) => {
    it('Then the manifest says what changed, the file shows each change, and the file\u2019s own totals agree with its faulty rows', () => {
      const b = bill(write({ inject: ALL_TROUBLES, seed: 'troubles', channels: [channel] }), channel as ChannelId);
      const rows = rowsOf(b);
      const manifest = manifestOf(b);
      const byKind = (kind: string) => manifest.troubles.filter((t) => t.kind === kind);
      const keyOf = (t: Record<string, string | number | null>) => String(t['merchant_refund_no'] ?? t['merchant_order_no']);
      const find = (t: Record<string, string | number | null>) => rows.filter((r) => r.key === keyOf(t));

      const [drop] = byKind('drop');
      expect(drop).toBeDefined();
      expect(find(drop ?? {})).toHaveLength(0);
      const [duplicate] = byKind('duplicate');
      expect(find(duplicate ?? {})).toHaveLength(2);
      const [amount] = byKind('amount');
      expect(amount?.['amount_minor_to']).not.toBe(amount?.['amount_minor_from']);
      expect(find(amount ?? {})[0]?.amountMinor.toString()).toBe(amount?.['amount_minor_to']);
      const [fee] = byKind('fee');
      expect(find(fee ?? {})[0]?.fee).toBe(feeCell(format, String(fee?.['row_kind']), BigInt(String(fee?.['fee_minor_to']))));
      const [extra] = byKind('extra');
      expect(find(extra ?? {})).toHaveLength(1);
      expect(place.store.find(channel, 'pay', keyOf(extra ?? {}))).toBeUndefined();
      expect(String(extra?.['channel_txn_id'])).toMatch(new RegExp(`^${channel.toUpperCase()}2026112690{7}$`));

      const midnight = byKind('midnight');
      const out = midnight.find((t) => t['direction'] === 'out');
      const into = midnight.find((t) => t['direction'] === 'in');
      expect(find(out ?? {})).toHaveLength(0);
      expect(into?.['from_date']).toBe('2026-11-25');
      expect(find(into ?? {})[0]?.time).toMatch(format === 'unionpay-zm' ? /^11260000[0-5][0-9]$/ : /^2026-11-26 00:00:[0-5][0-9]$/);

      const [status] = byKind('status');
      if (format === 'wechat-trade') {
        expect(find(status ?? {})[0]?.status).toBe(status?.['row_kind'] === 'payment' ? (status['status_to'] === 'revoked' ? 'REVOKED' : 'SUCCESS') : 'PROCESSING');
      } else {
        expect(status).toBeUndefined();
        expect(manifest.skipped.map((s) => s.kind)).toEqual(['status']);
      }
      // The six picked rows are six different rows.
      const picked = manifest.troubles.filter((t) => t['kind'] !== 'extra' && t['direction'] !== 'in').map(keyOf);
      expect(new Set(picked).size).toBe(picked.length);

      // The row that left day D turns up in D+1's file (written with the same seed and trouble).
      const next = bill(write({ inject: ALL_TROUBLES, seed: 'troubles', date: D_PLUS_1, channels: [channel] }), channel as ChannelId);
      expect(rowsOf(next).filter((r) => r.key === keyOf(out ?? {}))).toHaveLength(1);
      expect(manifestOf(next).troubles.find((t) => t['kind'] === 'midnight' && t['direction'] === 'in')?.['channel_txn_id']).toBe(out?.['channel_txn_id']);

      expectTotalsAgree(b, rows);
    });
  });

  it('When --break-totals is asked, Then WeChat\u2019s summary and Alipay\u2019s footer disagree with the rows, and ZM (no totals) says it skipped', () => {
    const results = write({ breakTotals: true });
    const wallet = bill(results, 'wallet');
    const { rows, summary } = readWechatRows(readFileSync(wallet.files[0]?.path ?? ''));
    const payments = rows.filter((r) => r.kind === 'payment' && r.status !== 'REVOKED').reduce((s, r) => s + r.amountMinor, 0n);
    const revoked = rows.filter((r) => r.status === 'REVOKED').reduce((s, r) => s + r.amountMinor, 0n);
    expect(summary[1]).toBe(yuanText(payments + revoked + 1n));
    expect(manifestOf(wallet).totals_broken).toContain('应结订单总金额');
    const ali = bill(results, 'ali');
    const footer = readAlipayRows(readFileSync(ali.files[0]?.path ?? '')).footer;
    expect(footer[0]).toBe('#交易合计：6笔，商家实收共315.61元，商家优惠共0.00元');
    expect(manifestOf(bill(results, 'bank')).skipped).toEqual([{ kind: 'break_totals', reason: 'unionpay-zm carries no totals of its own.' }]);
  });

  it('When more rows are asked for than the day has, Then the manifest reports the shortfall', () => {
    const [b] = write({ channels: ['wallet'], inject: { drop: 20 } });
    expect(b?.shortfalls).toEqual([{ kind: 'drop', requested: 20, applied: 7 }]);
    expect(rowsOf(b as ChannelBills)).toHaveLength(0);
  });

  it('When a channel\u2019s format is overridden, Then that channel\u2019s day is written in the other format', () => {
    const [b] = write({ channels: ['bank'], format: 'wechat-trade' });
    expect(b?.files[0]?.name).toBe('1900012345_tradebill_ALL_20261126.csv');
    expect(readWechatRows(readFileSync(b?.files[0]?.path ?? '')).rows).toHaveLength(7);
    // WALLET2026112600000003 is 22 characters: UnionPay's 查询流水号 holds 21.
    expect(() => write({ channels: ['wallet'], format: 'unionpay-zm' })).toThrow(expect.objectContaining({ code: 'bill_field_too_long' }));
  });
});

/** WeChat's summary and Alipay's footer, recomputed here from the rows read back. */
function expectTotalsAgree(b: ChannelBills, rows: readonly ReadRow[]): void {
  const bytes = readFileSync(b.files[0]?.path ?? '');
  if (b.format === 'wechat-trade') {
    const { summary } = readWechatRows(bytes);
    const payments = rows.filter((r) => r.kind === 'payment');
    const refunds = rows.filter((r) => r.kind === 'refund');
    const sum = (rs: readonly ReadRow[]) => rs.reduce((s, r) => s + r.amountMinor, 0n);
    const fees = rows.reduce((s, r) => s + BigInt(r.fee.replace('.', '')), 0n);
    expect(summary).toEqual([String(rows.length), yuanText(sum(payments)), yuanText(sum(refunds)), '0.00', decimalText(fees, 5), yuanText(sum(payments)), yuanText(sum(refunds))]);
  } else if (b.format === 'alipay-trade') {
    const { footer } = readAlipayRows(bytes);
    const trades = rows.filter((r) => r.kind === 'payment');
    const refunds = rows.filter((r) => r.kind === 'refund');
    const sum = (rs: readonly ReadRow[]) => rs.reduce((s, r) => s + r.amountMinor, 0n);
    expect(footer).toEqual([
      `#交易合计：${trades.length}笔，商家实收共${yuanText(sum(trades))}元，商家优惠共0.00元`,
      `#退款合计：${refunds.length}笔，商家实收退款共${yuanText(-sum(refunds))}元，商家优惠退款共0.00元`,
    ]);
  }
}

describe('Given wrong options, When bills are asked, Then each is refused with its code and nothing half-written stays', () => {
  it('Then an unknown channel is channel_unknown, a channel without a format bill_format_missing, an unknown format bill_format_unknown', () => {
    expect(() => write({ channels: ['nope'] })).toThrow(expect.objectContaining({ code: 'channel_unknown' }));
    expect(() => write({ channels: ['payout'] })).toThrow(expect.objectContaining({ code: 'bill_format_missing' }));
    expect(() => write({ channels: ['bank'], format: 'csv' as BillFormat })).toThrow(expect.objectContaining({ code: 'bill_format_unknown' }));
  });

  it('Then a bad date is date_invalid, a bad seed seed_invalid, a ZM account over 15 characters bill_account_invalid', () => {
    expect(() => write({ date: '2026-02-30' })).toThrow(expect.objectContaining({ code: 'date_invalid' }));
    expect(() => write({ seed: 'no spaces' })).toThrow(expect.objectContaining({ code: 'seed_invalid' }));
    const wide = simConfig({ channels: [{ id: 'bank', kind: 'bank', bill_account: '8983100123456789' }] });
    expect(() => writeBills(place.store, { config: wide, date: D, outDir: join(place.outDir, 'wide') })).toThrow(expect.objectContaining({ code: 'bill_account_invalid' }));
  });

  it('Then an output folder that is a file is out_dir_unwritable, and a day over the row limit is bill_rows_limit with no file left', () => {
    writeFileSync(join(place.dir, 'a-file'), 'x');
    expect(() => write({ outDir: join(place.dir, 'a-file') })).toThrow(expect.objectContaining({ code: 'out_dir_unwritable' }));
    expect(() => write({ channels: ['ali'], rowsPerFileMax: 3 })).toThrow(expect.objectContaining({ code: 'bill_rows_limit' }));
    expect(readdirSync(join(place.outDir, String(runs), 'ali'))).toEqual([]);
    expect(existsSync(join(place.outDir, String(runs), 'ali', '20881234567890120156_20261126.csv.zip.part'))).toBe(false);
  });

  it('Then an --inject spec with an unknown kind, a duplicate, a count over 100 or an empty item is inject_invalid', () => {
    for (const bad of ['', 'drop', 'drop=1,', 'oops=1', 'drop=1,drop=2', 'drop=101', 'drop=-1', 'drop=1.5']) {
      expect(() => parseInjectSpec(bad), bad).toThrow(expect.objectContaining({ code: 'inject_invalid' }));
    }
    expect(parseInjectSpec('drop=2, extra=0')).toEqual({ drop: 2, extra: 0 });
  });

  it('Then every code of the table has a hint that says what to do', () => {
    for (const { hint } of Object.values(BILL_ERROR_CODES)) expect(hint.length).toBeGreaterThan(25);
  });
});
