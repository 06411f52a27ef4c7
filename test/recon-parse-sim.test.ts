// The parsers against the channel simulator's bills (src/online/channel-sim/bills): a simulated day is
// written as each channel would publish it — WeChat ALL bill, Alipay zip, UnionPay ZM — with and without
// injected trouble, and every file parses with its own totals agreeing; a file whose totals were broken
// on purpose is refused.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStatementFile } from '../src/batch/recon/formats/index.js';
import type { StatementLine } from '../src/batch/recon/line.js';
import type { BillFormat } from '../src/online/channel-sim/config.js';
import { at, billPlace, followUp, pay, simConfig, type BillPlace } from '../src/online/channel-sim/bills/test-support.js';
import { parseInjectSpec } from '../src/online/channel-sim/bills/troubles.js';
import { writeBills, type ChannelBills, type WriteBillsOptions } from '../src/online/channel-sim/bills/write-bills.js';

const D = '2026-11-26';
const CHANNELS = { wallet: 'wechat-trade', bank: 'unionpay-zm', ali: 'alipay-trade' } as const satisfies Record<string, BillFormat>;
const config = simConfig({
  channels: [
    { id: 'bank', kind: 'bank' },
    { id: 'wallet', kind: 'wallet' },
    { id: 'ali', kind: 'wallet', bill_format: 'alipay-trade' },
  ],
});

let place: BillPlace;
let runs = 0;

beforeAll(() => {
  place = billPlace();
  for (const ch of Object.keys(CHANNELS)) {
    const product = ch === 'bank' ? 'quick' : 'wallet';
    const payments = [10_000n, 2_550n, 777n, 5_000n, 12_345n, 888n].map((amountMinor, i) =>
      pay(place.store, { channelId: ch, atMs: at(D, `${String(9 + i).padStart(2, '0')}:00:00`), reference: `pay_${ch}_${i + 1}`, amountMinor, product, description: '测试,商品' }),
    );
    const [p1, , p3] = payments;
    if (!p1 || !p3) throw new Error('setup');
    followUp(place.store, 'void', p3, { atMs: at(D, '15:05:00'), reference: `void.pay_${ch}_3`, amountMinor: 777n });
    followUp(place.store, 'refund', p1, { atMs: at(D, '16:00:00'), reference: `re_${ch}_1`, amountMinor: 3_000n });
    pay(place.store, { channelId: ch, atMs: at(D, '23:59:59'), reference: `pay_${ch}_late`, amountMinor: 4_321n, product });
  }
});
afterAll(() => place.cleanup());

function write(options: Partial<WriteBillsOptions> = {}): ChannelBills[] {
  return writeBills(place.store, { config, date: D, outDir: join(place.outDir, String(++runs)), ...options });
}

async function parseBill(b: ChannelBills): Promise<{ lines: StatementLine[]; summary: Awaited<ReturnType<typeof parseStatementFile>> }> {
  const file = b.files[0];
  if (!file) throw new Error(`no file for ${b.channelId}`);
  const lines: StatementLine[] = [];
  const summary = await parseStatementFile(file.path, { format: b.format }, (l) => lines.push(l));
  expect(lines).toHaveLength(file.rows);
  return { lines, summary };
}

describe('Given a simulated day written by the simulator as each channel publishes it', () => {
  it.each(Object.entries(CHANNELS))('When channel %s\u2019s %s file is parsed, Then every row comes back and the file\u2019s totals agree', async (channel) => {
    const [b] = write({ channels: [channel] });
    if (!b) throw new Error('no bill');
    const { lines, summary } = await parseBill(b);
    // Alipay and UnionPay list a void as a refund row; WeChat marks the payment REVOKED instead.
    const voidsAsRows = b.format === 'wechat-trade' ? 0 : b.voids;
    expect(summary).toMatchObject({ payments: b.payments, refunds: b.refunds + voidsAsRows, totalsCheck: b.format === 'unionpay-zm' ? 'absent' : 'ok' });
    const refund = lines.find((l) => l.merchantRefundNo === `re_${channel}_1`);
    expect(refund).toMatchObject({ kind: 'refund', merchantOrderNo: `pay_${channel}_1`, amountMinor: 3_000n, status: 'succeeded', currency: 'CNY' });
    expect(lines.find((l) => l.merchantOrderNo === `pay_${channel}_5` && l.kind === 'payment')).toMatchObject({ amountMinor: 12_345n, occurredAt: expect.stringMatching(/^2026-11-26T1[34]:00:0\d\+08:00$/) as unknown });
    if (b.format === 'wechat-trade') expect(lines.find((l) => l.merchantOrderNo === `pay_${channel}_3`)?.status).toBe('revoked');
    else expect(lines.find((l) => l.merchantRefundNo === `void.pay_${channel}_3`)).toMatchObject({ kind: 'refund', merchantOrderNo: `pay_${channel}_3`, amountMinor: 777n });
  });

  it.each(Object.keys(CHANNELS))('When channel %s is written with every injected trouble, Then the file still parses (the troubles are for matching)', async (channel) => {
    const [b] = write({ channels: [channel], inject: parseInjectSpec('drop=1,extra=1,amount=1,status=1,fee=1,midnight=1,duplicate=1'), seed: 'parse' });
    if (!b) throw new Error('no bill');
    const { summary } = await parseBill(b);
    expect(summary.rows).toBe(b.files[0]?.rows);
  });

  it.each(['wallet', 'ali'])('When channel %s is written with its totals broken on purpose, Then file_totals_mismatch', async (channel) => {
    const [b] = write({ channels: [channel], breakTotals: true });
    const path = b?.files[0]?.path ?? '';
    await expect(parseStatementFile(path, { format: b?.format ?? 'wechat-trade' }, () => undefined)).rejects.toMatchObject({ code: 'file_totals_mismatch' });
  });
});
