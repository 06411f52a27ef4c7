// A simulated business day from the channel simulator's own record to a classified list: the simulator
// writes the wallet channel's WeChat ALL bill with every kind of injected trouble, our books hold the
// same orders as the online core would, and `recon run` (fetch skipped: --file) imports it through the
// real parser and matches it. Each trouble the simulator reports in its manifest ends as the
// classification it stands for; the row moved across midnight waits a day and matches on D+1.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReconChannelConfig } from '../src/batch/recon/config.js';
import { runDay } from '../src/batch/recon/run.js';
import { applyRate } from '../src/ledger/index.js';
import { at, billPlace, followUp, pay, simConfig, type BillPlace } from '../src/online/channel-sim/bills/test-support.js';
import type { TroubleRecord } from '../src/online/channel-sim/bills/troubles.js';
import { writeBills } from '../src/online/channel-sim/bills/write-bills.js';
import { D, D1, ReconWorld } from './recon-match-support.js';

const config = simConfig({ channels: [{ id: 'wallet', kind: 'wallet' }] });
const wallet: ReconChannelConfig = { channel: 'wallet', format: 'wechat-trade', currency: 'CNY', suspense_days: 1 };
const AMOUNTS = [10_000n, 2_550n, 777n, 5_000n, 12_345n, 888n, 4_321n, 19_900n, 600n, 73_000n];

let sim: BillPlace;
let w: ReconWorld;

beforeEach(async () => {
  sim = billPlace();
  w = await ReconWorld.create();
  // The same day on both sides: ten wallet payments, a partial refund of the first, a void of the third.
  const payments = [];
  for (const [i, amountMinor] of AMOUNTS.entries()) {
    const id = `pay_w_${i + 1}`;
    const t = pay(sim.store, { channelId: 'wallet', atMs: at(D, `${String(9 + i).padStart(2, '0')}:00:00`), reference: id, amountMinor, product: 'wallet' });
    payments.push(t);
    await w.payment(id, amountMinor, { txn: t.channelTxnId, costMinor: applyRate(amountMinor, '0.006', 'half_up'), feeMinor: 0n, status: i === 2 ? 'voided' : 'succeeded' });
  }
  const [p1, , p3] = payments;
  if (!p1 || !p3) throw new Error('setup');
  const refund = followUp(sim.store, 'refund', p1, { atMs: at(D, '20:00:00'), reference: 're_w_1', amountMinor: 3_000n });
  await w.refund('re_w_1', 'pay_w_1', 3_000n, { txn: refund.channelTxnId, costMinor: (p1.feeMinor * 3_000n) / p1.amountMinor });
  followUp(sim.store, 'void', p3, { atMs: at(D, '21:00:00'), reference: 'void.pay_w_3', amountMinor: p3.amountMinor });
});
afterEach(async () => {
  sim.cleanup();
  await w.close();
});

function bill(date: string, inject: Record<string, number>): { path: string; troubles: readonly TroubleRecord[] } {
  const [b] = writeBills(sim.store, { config, date, outDir: `${sim.outDir}/${date}`, channels: ['wallet'], inject, seed: 'recon' });
  const file = b?.files[0];
  if (!b || !file) throw new Error('no bill written');
  return { path: file.path, troubles: b.troubles };
}

const identityOf = (t: TroubleRecord): string =>
  t['row_kind'] === 'refund' ? `refund:${String(t['merchant_refund_no'])}` : t['kind'] === 'extra' ? `line:payment:${String(t['channel_txn_id'])}` : `payment:${String(t['merchant_order_no'])}`;

describe('Given a simulated day whose WeChat bill carries every kind of trouble', () => {
  it('When run on D and D+1, Then each trouble ends as its classification and the row moved across midnight matches late', async () => {
    const day = bill(D, { drop: 1, extra: 1, amount: 1, status: 1, fee: 1, duplicate: 1, midnight: 1 });
    expect(day.troubles.map((t) => t['kind']).sort()).toEqual(['amount', 'drop', 'duplicate', 'extra', 'fee', 'midnight', 'status']);
    const clock = (): number => w.nowMs;

    const first = await runDay(w.store, { channel: wallet, businessDate: D, file: day.path }, { clock, fetch: () => Promise.reject(new Error('no fetch with --file')) });
    const exceptions = await w.store.runExceptions(first.matched.run.runId, 100);
    const found = new Map(exceptions.map((i) => [i.identity, i.outcome === 'discrepancy' ? i.type : i.outcome]));
    const expected: Record<string, string> = { drop: 'suspense', extra: 'suspense', midnight: 'suspense', amount: 'amount_mismatch', status: 'status_mismatch', fee: 'fee_mismatch' };
    for (const t of day.troubles) {
      if (t['kind'] === 'duplicate') continue;
      expect([t['kind'], found.get(identityOf(t))]).toEqual([t['kind'], expected[String(t['kind'])]]);
    }
    const dup = day.troubles.find((t) => t['kind'] === 'duplicate');
    expect(found.get(`dup:${dup?.['row_kind'] === 'refund' ? 'refund' : 'payment'}:${String(dup?.['channel_txn_id'])}:2`)).toBe('duplicate');
    expect(first.matched.counts).toMatchObject({ suspense: 3, discrepancies: 4 });
    // Everything else — the voided payment shown REVOKED, the refund, the untouched payments, the first
    // of the duplicated rows — matched: our eleven records less the five rows a trouble took away or changed.
    expect(first.matched.counts.matched).toBe(AMOUNTS.length + 1 - 5);

    // D+1: the simulator has nothing new; its file brings the row moved across midnight.
    const next = bill(D1, { midnight: 1 });
    const second = await runDay(w.store, { channel: wallet, businessDate: D1, file: next.path }, { clock, fetch: () => Promise.reject(new Error('no fetch with --file')) });
    const moved = day.troubles.find((t) => t['kind'] === 'midnight');
    const late = await w.store.runExceptions(second.matched.run.runId, 100);
    expect(second.matched.counts).toEqual({ matched: 1, suspense: 0, discrepancies: 2, byType: { channel_only: 1, ledger_only: 1 } });
    expect(late.map((i) => [i.type, i.identity]).sort()).toEqual(
      [
        ['channel_only', identityOf(day.troubles.find((t) => t['kind'] === 'extra') as TroubleRecord)],
        ['ledger_only', identityOf(day.troubles.find((t) => t['kind'] === 'drop') as TroubleRecord)],
      ].sort(),
    );
    expect(late.some((i) => i.identity === identityOf(moved as TroubleRecord))).toBe(false);
    expect(await w.store.items({ status: 'suspense', limit: 10 })).toEqual([]);
  });
});

describe('Given the same day as Alipay and UnionPay publish it (a void is a refund row there)', () => {
  it.each([
    ['ali', 'alipay-trade'],
    ['bank', 'unionpay-zm'],
  ] as const)('When channel %s (%s) is run without trouble, Then every row and every record is matched', async (channelId, format) => {
    const place = billPlace();
    const world = await ReconWorld.create();
    try {
      const cfg = simConfig({ channels: [{ id: channelId, kind: channelId === 'bank' ? 'bank' : 'wallet', bill_format: format }] });
      const product = channelId === 'bank' ? 'quick' : 'wallet';
      const txns = [];
      for (const [i, amountMinor] of AMOUNTS.slice(0, 4).entries()) {
        const id = `pay_${channelId}_${i + 1}`;
        const t = pay(place.store, { channelId, atMs: at(D, `1${i}:00:00`), reference: id, amountMinor, product });
        txns.push(t);
        await world.payment(id, amountMinor, { channel: channelId, txn: t.channelTxnId, costMinor: t.feeMinor, status: i === 2 ? 'voided' : 'succeeded' });
      }
      const [p1, , p3] = txns;
      if (!p1 || !p3) throw new Error('setup');
      const r = followUp(place.store, 'refund', p1, { atMs: at(D, '20:00:00'), reference: `re_${channelId}_1`, amountMinor: 1_000n });
      await world.refund(`re_${channelId}_1`, p1.reference, 1_000n, { channel: channelId, txn: r.channelTxnId, costMinor: r.feeMinor });
      followUp(place.store, 'void', p3, { atMs: at(D, '21:00:00'), reference: `void.${p3.reference}`, amountMinor: p3.amountMinor });
      const [b] = writeBills(place.store, { config: cfg, date: D, outDir: place.outDir, channels: [channelId] });
      const path = b?.files[0]?.path;
      if (!path) throw new Error('no bill');
      const result = await runDay(
        world.store,
        { channel: { channel: channelId, format, currency: 'CNY', suspense_days: 1 }, businessDate: D, file: path },
        { clock: () => world.nowMs, fetch: () => Promise.reject(new Error('no fetch with --file')) },
      );
      expect(await world.store.runExceptions(result.matched.run.runId, 100)).toEqual([]);
      expect(result.matched.counts.discrepancies + result.matched.counts.suspense).toBe(0);
    } finally {
      place.cleanup();
      await world.close();
    }
  });
});
