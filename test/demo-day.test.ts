// The demo's day driver (src/cli/demo/day-driver.ts) in-process against a real daemon and the channel
// simulator on loopback, with a small count: its summary must agree with the database behind the API —
// payments per state, and each merchant's payable balance in the ledger.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_LIMITS, DemoDriveError, driveDay, type DaySummary } from '../src/cli/demo/day-driver.js';
import type { DemoMerchant } from '../src/cli/demo/client.js';
import { seededPrng } from '../src/cli/demo/prng.js';
import { openSqlite } from '../src/ledger/sqlite/database.js';
import { riskSchema } from '../src/online/risk/config.js';
import { startStack, type Stack } from './support/online.js';

const CHALLENGE_OVER_MINOR = 1_000_000n;
let s: Stack;
let merchants: DemoMerchant[];
let summary: DaySummary;

beforeAll(async () => {
  s = await startStack({
    onlineConfig: { risk: riskSchema.parse({ amounts: [{ currency: 'CNY', challenge_over_minor: String(CHALLENGE_OVER_MINOR) }], otp: { sms_file: 'sms.ndjson' } }) },
  });
  await s.daemon.ledger.post({
    type: 'entry',
    id: 'coins',
    eventType: 'coin.issued',
    postings: [
      { accountId: 'platform:coin-issued:COIN', side: 'debit', amountMinor: 1_000_000n, currency: 'COIN' },
      { accountId: 'user:U0001:coin:COIN', side: 'credit', amountMinor: 1_000_000n, currency: 'COIN' },
    ],
  });
  merchants = [s.merchant, await s.addMerchant(), await s.addMerchant()];
  summary = await driveDay({
    baseUrl: s.daemon.url,
    merchants,
    seed: 'demo-day-test',
    paymentsCount: 60,
    smsFile: join(s.dir, 'sms.ndjson'),
    challengeOverMinor: CHALLENGE_OVER_MINOR,
    coinPayerId: 'U0001',
  });
}, 30_000);
afterAll(async () => s.close());

const balanceOf = async (accountId: string): Promise<bigint> => {
  const [a] = await s.daemon.ledger.accounts({ accountId });
  if (!a) return 0n;
  return a.normalSide === 'credit' ? a.creditsPosted - a.debitsPosted : a.debitsPosted - a.creditsPosted;
};

describe('Given a daemon, the simulator, three merchants and a seeded day of 60 payments', () => {
  it('When the day is driven, Then every payment in the summary is in the database with the same state', () => {
    const db = openSqlite(join(s.dir, 'settle.db'));
    try {
      const rows = db.prepare('SELECT status, count(*) AS n FROM payments GROUP BY status').all() as { status: string; n: bigint }[];
      expect(Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]))).toEqual(summary.payments.byStatus);
      // 60 ordinary payments (balance ones the plan skipped are not sent), the challenged one and the replayed one.
      expect(summary.payments.total).toBe(summary.ids.payments.length);
      expect(summary.payments.total).toBeGreaterThan(50);
      const byProduct = db.prepare('SELECT product, count(*) AS n FROM payments GROUP BY product').all() as { product: string; n: bigint }[];
      for (const { product, n } of byProduct) {
        expect(Object.values(summary.payments.byProduct[product] ?? {}).reduce((t, x) => t + x.count, 0)).toBe(Number(n));
      }
    } finally {
      db.close();
    }
  });

  it('Then every product, the challenge, the replay, refunds, voids, pre-auths and payouts took place', () => {
    expect(Object.keys(summary.payments.byProduct).sort()).toEqual(['agreement', 'balance', 'credit', 'foreign_card', 'netbank', 'phone_bill', 'quick', 'virtual_coin', 'wallet']);
    expect(summary.challenge.status).toBe('succeeded');
    expect(summary.replay.replayed).toBe(true);
    expect(summary.payments.byStatus['processing']).toBeUndefined();
    expect(summary.preauths).toEqual({ authorized: 6, captured: 3, captureAmountMinor: '114000', voided: 3 });
    expect(summary.payouts).toMatchObject({ count: 3, succeeded: 3, amountMinor: '30000' });
    expect(summary.topups).toEqual({ count: 3, amountMinor: '6000000' });
    expect(summary.voids).toBeGreaterThan(0);
    expect(summary.refunds.full + summary.refunds.partial).toBeGreaterThan(0);
    expect(summary.payments.byStatus['voided']).toBe(summary.voids);
  });

  it('Then each merchant payable in the ledger equals what the API objects imply, and the books verify', async () => {
    for (const m of merchants) {
      expect(await balanceOf(`merchant:${m.merchantId}:payable:CNY`)).toBe(BigInt(summary.merchants[m.merchantId]?.expectedPayableMinor ?? 'missing'));
    }
    expect((await s.daemon.ledger.verify()).ok).toBe(true);
  });

  it('When the same seed plans again, Then the PRNG gives the same sequence (reproducible days)', () => {
    const a = seededPrng('demo-day-test');
    const b = seededPrng('demo-day-test');
    expect(Array.from({ length: 20 }, () => a.int(1, 1000))).toEqual(Array.from({ length: 20 }, () => b.int(1, 1000)));
  });

  it('When the count is out of range, Then the driver refuses before sending anything', async () => {
    await expect(driveDay({ baseUrl: s.daemon.url, merchants, seed: 'x', paymentsCount: DAY_LIMITS.paymentsMax + 1, smsFile: 'x', challengeOverMinor: 1n })).rejects.toBeInstanceOf(DemoDriveError);
    await expect(driveDay({ baseUrl: s.daemon.url, merchants: [], seed: 'x', paymentsCount: 1, smsFile: 'x', challengeOverMinor: 1n })).rejects.toBeInstanceOf(DemoDriveError);
  });
});
