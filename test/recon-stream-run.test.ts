// `recon run` matches each block of the file while it is imported (stream-match.ts) and, on a day that is
// not of the shape that match takes, gives way to matching the stored file. Either way the run must be
// the one matchDay makes of the whole day at once: the same outcomes row for row, the same counts, the
// same pool on D+1. A simulated WeChat day (with the trouble the simulator injects) is run twice, once
// streaming and once with `streamMatch: false`, on two databases holding the same orders.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReconChannelConfig } from '../src/batch/recon/config.js';
import { matchDay, runDay, type RunDayResult } from '../src/batch/recon/run.js';
import { applyRate } from '../src/ledger/index.js';
import { at, billPlace, followUp, pay, simConfig, type BillPlace } from '../src/online/channel-sim/bills/test-support.js';
import { writeBills } from '../src/online/channel-sim/bills/write-bills.js';
import { D, D1, ReconWorld } from './recon-match-support.js';

const config = simConfig({ channels: [{ id: 'wallet', kind: 'wallet' }] });
const wallet: ReconChannelConfig = { channel: 'wallet', format: 'wechat-trade', currency: 'CNY', suspense_days: 1 };
const AMOUNTS = [10_000n, 2_550n, 777n, 5_000n, 12_345n, 888n, 4_321n, 19_900n, 600n, 73_000n, 1_001n, 30n];

let sim: BillPlace;
let worlds: ReconWorld[];

beforeEach(async () => {
  sim = billPlace();
  worlds = [await ReconWorld.create(), await ReconWorld.create()];
  for (const [i, amountMinor] of AMOUNTS.entries()) {
    const id = `pay_s_${i + 1}`;
    const t = pay(sim.store, { channelId: 'wallet', atMs: at(D, `${String(8 + i).padStart(2, '0')}:00:00`), reference: id, amountMinor, product: 'wallet' });
    // The last one we booked on D+1 (the channel lists it on D): its line waits in the pool for D+1.
    const businessDate = i === AMOUNTS.length - 1 ? D1 : D;
    for (const w of worlds) {
      await w.payment(id, amountMinor, { txn: t.channelTxnId, costMinor: applyRate(amountMinor, '0.006', 'half_up'), feeMinor: 0n, status: i === 2 ? 'voided' : 'succeeded', businessDate });
    }
    if (i === 0) {
      const r = followUp(sim.store, 'refund', t, { atMs: at(D, '21:00:00'), reference: 're_s_1', amountMinor: 3_000n });
      for (const w of worlds) await w.refund('re_s_1', id, 3_000n, { txn: r.channelTxnId, costMinor: (t.feeMinor * 3_000n) / t.amountMinor });
    }
  }
  // An order of ours that failed, which no file will list; and one that is due on D but the channel never had.
  for (const w of worlds) await w.payment('pay_s_failed', 500n, { status: 'failed', txn: null, businessDate: null });
  for (const w of worlds) await w.payment('pay_s_ours_only', 700n, { txn: '4200000000000000000000099999' });
});
afterEach(async () => {
  sim.cleanup();
  for (const w of worlds) await w.close();
});

function bill(date: string, inject: Record<string, number>): string {
  const [b] = writeBills(sim.store, { config, date, outDir: `${sim.outDir}/${date}`, channels: ['wallet'], inject, seed: 'stream' });
  const path = b?.files[0]?.path;
  if (!path) throw new Error('no bill written');
  return path;
}

async function run(w: ReconWorld, date: string, file: string, streamMatch: boolean, fallbacks: string[], channel: ReconChannelConfig = wallet): Promise<RunDayResult> {
  return runDay(
    w.store,
    { channel, businessDate: date, file },
    { clock: () => w.nowMs, fetch: () => Promise.reject(new Error('no fetch with --file')), parseOnWorker: 'never', streamMatch, onStreamFallback: (r) => fallbacks.push(r) },
  );
}

/** Every outcome of a run as stored (pairs and items), in a canonical order. */
function stored(w: ReconWorld, runId: number): unknown[] {
  return w.ledgerStore.db
    .prepare(
      `SELECT outcome, type, note, kind, line_seq, record_source, record_id, status FROM recon_outcomes WHERE run_id = ?
       ORDER BY line_seq IS NULL, line_seq, record_source, record_id`,
    )
    .all(runId);
}

function exceptions(w: ReconWorld, runId: number): unknown[] {
  return w.ledgerStore.db
    .prepare(
      `SELECT outcome, type, differences, note, identity, line_seq, channel_txn_id, order_key, channel_amount_minor, channel_status, channel_fee,
              record_source, record_id, merchant_id, ledger_amount_minor, ledger_status, ledger_cost_minor, until_date, status
       FROM recon_items WHERE run_id = ? AND outcome <> 'matched' ORDER BY item_id`,
    )
    .all(runId);
}

function pool(w: ReconWorld): unknown[] {
  return w.ledgerStore.db.prepare('SELECT side, since_date, until_date, closed_date FROM recon_suspense ORDER BY suspense_id').all();
}

async function both(date: string, file: string, channel: ReconChannelConfig = wallet): Promise<{ streamed: RunDayResult; whole: RunDayResult; fallbacks: string[] }> {
  const [a, b] = worlds as [ReconWorld, ReconWorld];
  const fallbacks: string[] = [];
  const streamed = await run(a, date, file, true, fallbacks, channel);
  const whole = await run(b, date, file, false, [], channel);
  expect(streamed.matched.counts).toEqual(whole.matched.counts);
  expect([streamed.matched.run.lines, streamed.matched.run.records]).toEqual([whole.matched.run.lines, whole.matched.run.records]);
  expect(stored(a, streamed.matched.run.runId)).toEqual(stored(b, whole.matched.run.runId));
  expect(exceptions(a, streamed.matched.run.runId)).toEqual(exceptions(b, whole.matched.run.runId));
  expect(streamed.matched.openDiscrepancies).toBe(whole.matched.openDiscrepancies);
  expect(pool(a)).toEqual(pool(b));
  // Nothing of an unfinished run is left behind.
  for (const w of worlds) expect(w.ledgerStore.db.prepare("SELECT count(*) AS n FROM recon_runs WHERE status = 'running'").get()).toEqual({ n: 0n });
  return { streamed, whole, fallbacks };
}

describe('Given a simulated day with a dropped, an extra, a changed and a late row', () => {
  it('When run streaming on D and D+1, Then it never falls back and stores what matching the whole day stores', async () => {
    const day = await both(D, bill(D, { drop: 1, extra: 1, amount: 1, status: 1, fee: 1, midnight: 1 }));
    expect(day.fallbacks).toEqual([]);
    expect([day.streamed.matched.streamed, day.whole.matched.streamed]).toEqual([true, undefined]);
    expect(day.streamed.matched.counts.suspense).toBeGreaterThan(0);
    // status: the injected one, and our voided pay_s_3 unless the channel's status trouble fell on it.
    expect(day.streamed.matched.counts.byType).toMatchObject({ amount_mismatch: 1, fee_mismatch: 1 });
    expect(day.streamed.matched.counts.byType.status_mismatch).toBeGreaterThanOrEqual(1);
    // D+1 meets the pool D left: the late row matches, the rest becomes channel_only / ledger_only.
    const next = await both(D1, bill(D1, { midnight: 1 }));
    expect(next.fallbacks).toEqual([]);
    expect(next.streamed.matched.streamed).toBe(true);
    expect(next.streamed.matched.counts.matched).toBeGreaterThan(0);
  });

  it('When a line waits in the pool for our payment booked on D+1, Then D+1 pairs it from the pool with nothing left over', async () => {
    const day = await both(D, bill(D, {}));
    expect(day.fallbacks).toEqual([]);
    // Its line, and pay_s_ours_only that no file lists.
    expect(day.streamed.matched.counts.suspense).toBe(2);
    const next = await both(D1, bill(D1, {}));
    expect(next.fallbacks).toEqual([]);
    expect(next.streamed.matched.streamed).toBe(true);
    expect(next.streamed.matched.counts).toMatchObject({ matched: 1, suspense: 0 });
  });

  it('When the same file is run again, Then nothing changes (the import is unchanged and the match is the same)', async () => {
    const file = bill(D, { drop: 1, extra: 1 });
    await both(D, file);
    const again = await both(D, file);
    expect(again.streamed.imported.status).toBe('unchanged');
    expect(again.streamed.matched.changes?.newDiscrepancies).toBe(0);
  });
});

describe('Given a day the streaming match does not take (a row listed twice)', () => {
  it('When run, Then it gives way to matching the stored file whole, and stores the same as that', async () => {
    const day = await both(D, bill(D, { duplicate: 1, amount: 1 }));
    // The repeated row names its payment a second time (or, first, repeats its transaction id): while the
    // file is read, and again as the stored file is read as a stream.
    expect(day.fallbacks).toHaveLength(2);
    for (const reason of day.fallbacks) expect(['a payment named twice', 'a transaction id twice']).toContain(reason);
    expect(day.streamed.matched.streamed).toBeUndefined();
    expect(day.streamed.matched.counts.byType).toMatchObject({ duplicate: 1, amount_mismatch: 1 });
  });
});

describe('Given a file for another date than asked', () => {
  it('When run streaming, Then it is refused and neither the file nor any outcome of its run is left', async () => {
    const [a] = worlds as [ReconWorld];
    const file = bill(D, {});
    await expect(run(a, '2026-12-03', file, true, [])).rejects.toMatchObject({ code: 'file_wrong_channel_or_date' });
    const count = (sql: string): unknown => a.ledgerStore.db.prepare(sql).get();
    expect(count('SELECT count(*) AS n FROM recon_runs')).toEqual({ n: 0n });
    expect(count('SELECT count(*) AS n FROM recon_items')).toEqual({ n: 0n });
    expect(count('SELECT count(*) AS n FROM recon_pair_blocks')).toEqual({ n: 0n });
    expect(count('SELECT count(*) AS n FROM recon_files')).toEqual({ n: 0n });
  });
});

describe('Given an Alipay day whose void is a refund row (void.<payment>), as Alipay publishes it', () => {
  it('When run, Then the stream gives way at the void row and the stored file is matched as a stream, its voids read first, storing what matching it whole stores', async () => {
    const cfg = simConfig({ channels: [{ id: 'ali', kind: 'wallet', bill_format: 'alipay-trade' }] });
    const ali: ReconChannelConfig = { channel: 'ali', format: 'alipay-trade', currency: 'CNY', suspense_days: 1 };
    const txns = [];
    for (const [i, amountMinor] of AMOUNTS.slice(0, 6).entries()) {
      const id = `pay_ali_${i + 1}`;
      const t = pay(sim.store, { channelId: 'ali', atMs: at(D, `1${i}:00:00`), reference: id, amountMinor, product: 'wallet' });
      txns.push(t);
      // pay_ali_3 voided on both sides; pay_ali_5 voided by the channel only (ours still succeeded).
      for (const w of worlds) await w.payment(id, amountMinor, { channel: 'ali', txn: t.channelTxnId, costMinor: t.feeMinor, status: i === 2 ? 'voided' : 'succeeded' });
    }
    for (const k of [2, 4]) {
      const t = txns[k];
      if (!t) throw new Error('setup');
      followUp(sim.store, 'void', t, { atMs: at(D, `2${k / 2}:00:00`), reference: `void.${t.reference}`, amountMinor: t.amountMinor });
    }
    const [b] = writeBills(sim.store, { config: cfg, date: D, outDir: `${sim.outDir}/ali`, channels: ['ali'] });
    const path = b?.files[0]?.path;
    if (!path) throw new Error('no bill written');
    const day = await both(D, path, ali);
    expect(day.fallbacks).toEqual(['a void row']);
    expect([day.streamed.matched.streamed, day.whole.matched.streamed]).toEqual([true, undefined]);
    // The void rows are matched (void_row); pay_ali_5, voided by the channel alone, is a status_mismatch.
    expect(day.streamed.matched.counts.byType).toEqual({ status_mismatch: 1 });
    const [a] = worlds as [ReconWorld];
    const voidRows = a.ledgerStore.db.prepare("SELECT count(*) AS n FROM recon_outcomes WHERE run_id = ? AND note = 'void_row'").get(day.streamed.matched.run.runId);
    expect(voidRows).toEqual({ n: 2n });
    // recon match of the same stored file: a stream from the start, the same outcomes again.
    const again = await matchDay(a.store, ali, D, { clock: () => a.nowMs });
    expect(again.streamed).toBe(true);
    expect(again.counts).toEqual(day.streamed.matched.counts);
    // The same outcomes; the first run's open discrepancy is now superseded by the second's.
    const withoutStatus = (rows: unknown[]): unknown[] => rows.map((r) => ({ ...(r as Record<string, unknown>), status: undefined }));
    expect(withoutStatus(stored(a, again.run.runId))).toEqual(withoutStatus(stored(a, day.streamed.matched.run.runId)));
    expect(again.changes).toMatchObject({ newDiscrepancies: 0, cleared: 0 });
  });
});
