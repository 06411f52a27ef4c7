// Sharing by route (rules without caps per day: the store splits each distinct base once and writes a page
// in one statement) leaves exactly what sharing payment by payment leaves: the same share lines, findings,
// clipped amounts and entries. A re-run with another page size writes nothing; SIGKILL part way (child
// src/batch/sharing/crash-child.ts) and a re-run leave what one uninterrupted run leaves. Payments of an
// earlier date sit between the day's in id order (a routed page is the day's payments among the next ids).

import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSharing } from '../src/batch/sharing/config.js';
import { routable } from '../src/batch/sharing/core.js';
import { shareDay, type ShareDayResult } from '../src/batch/sharing/run.js';
import { SqliteShareStore } from '../src/batch/sharing/sqlite.js';
import { MONTH_PAIRS, type MonthPairsOptions } from '../src/batch/sharing/sqlite/month-pairs.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { D, ReconWorld } from './recon-match-support.js';
import { shareSnapshot } from './support/share-snapshot.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHILD = join(ROOT, 'src', 'batch', 'sharing', 'crash-child.ts');
const MERCHANTS = 12;
const D0 = '2026-11-25';

/** Tiers, a cap per payment, an ISV, a rule for wallet only (quick payments match none: the platform keeps them). */
const ROUTED = {
  agents: [{ id: 'T1' }, { id: 'T2' }, { id: 'S1', parent: 'T1' }, { id: 'S2', parent: 'T2' }],
  isvs: [{ id: 'V1' }],
  merchants: Object.fromEntries(Array.from({ length: MERCHANTS }, (_, i) => [`M${i}`, { agent: ['T1', 'T2', 'S1', 'S2'][i % 4], ...(i % 3 === 0 ? { isv: 'V1' } : {}) }])),
  rules: [
    {
      id: 'R',
      base: 'fee_net',
      products: ['wallet'],
      agent_levels: [
        {
          tiers: [
            { volume_from_minor: '0', volume_to_minor: '3000000', rate: '0.35' },
            { volume_from_minor: '3000000', rate: '0.4' },
          ],
        },
        { rate: '0.125' },
      ],
      isv: { rate: '0.0333' },
      cap_per_payment_minor: '400',
    },
  ],
};
/** The same shares, payment by payment: a rule that caps per day and matches no payment turns routing off. */
const ONE_BY_ONE = { ...ROUTED, rules: [...ROUTED.rules, { id: 'Z', base: 'fee', merchants: ['M0'], products: ['netbank'], cap_per_day_minor: '1' }] };
/** Routes of two bases in one run: quick payments share on their amount. */
const MIXED = { ...ROUTED, rules: [...ROUTED.rules, { id: 'Q', base: 'amount', products: ['quick'], agent_levels: [{ rate: '0.001' }], isv: { rate: '0.0005' } }] };
const MIXED_ONE_BY_ONE = { ...MIXED, rules: [...MIXED.rules, ONE_BY_ONE.rules[ONE_BY_ONE.rules.length - 1]] };
const KNOWN = { isMerchant: () => true, products: new Set(['wallet', 'quick', 'netbank']) };

let base: string;
let dir: string;

async function share(db: string, section: unknown, pageSize: number, monthPairs?: MonthPairsOptions): Promise<ShareDayResult> {
  const ledger = SqliteLedgerStore.open(db);
  try {
    const store = new SqliteShareStore(ledger, monthPairs === undefined ? {} : { monthPairs });
    return await shareDay(store, compileSharing(section, KNOWN), D, { nowMs: Date.parse(`${D}T20:00:00Z`), pageSize });
  } finally {
    await ledger.close();
  }
}

const copy = (name: string): string => {
  const db = join(dirname(base), name);
  copyFileSync(base, db);
  return db;
};

const summary = (r: ShareDayResult): unknown => ({ payments: r.payments, refunds: r.refunds, linesWritten: r.linesWritten, clippedMinor: r.clippedMinor, clippedPayments: r.clippedPayments, findings: r.findings, totals: r.totals });

/** Shares copies of the day by route and payment by payment (the sections must be so); checks they give the same
 *  results and books, and returns the routed run, its database and its books. */
async function routedAndOneByOne(routedSection: unknown, oneSection: unknown, routedName: string, oneName: string): Promise<{ routed: ShareDayResult; routedDb: string; snapshot: unknown }> {
  expect(routable(compileSharing(routedSection, KNOWN))).toBe(true);
  expect(routable(compileSharing(oneSection, KNOWN))).toBe(false);
  const routedDb = copy(routedName);
  const oneDb = copy(oneName);
  const routed = await share(routedDb, routedSection, 25);
  const one = await share(oneDb, oneSection, 25);
  expect(summary(routed)).toEqual(summary(one));
  const snapshot = shareSnapshot(routedDb);
  expect(snapshot).toEqual(shareSnapshot(oneDb));
  return { routed, routedDb, snapshot };
}

beforeAll(async () => {
  const world = await ReconWorld.create();
  dir = world.dir;
  let seed = 11;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let i = 0; i < 240; i++) {
    const amount = BigInt(500 + next(900000));
    const id = `P${String(i).padStart(4, '0')}`;
    // Every 17th payment costs more than its fee (a negative base); some repeat an amount (equal bases).
    const costPerMille = i % 17 === 0 ? 9n : BigInt(2 + next(4));
    const amountMinor = i % 5 === 0 ? 100000n : amount;
    await world.payment(id, amountMinor, { merchant: `M${i % MERCHANTS}`, feeMinor: (amountMinor * 6n) / 1000n, costMinor: (amountMinor * costPerMille) / 1000n, status: i < 30 ? 'partially_refunded' : 'succeeded' });
    if (i < 30) await world.refund(`F${i}`, id, i % 2 === 0 ? amountMinor : amountMinor / 3n, { merchant: `M${i % MERCHANTS}` });
  }
  // Payments of an earlier date of the month between the day's (ids P0008e, P0016e, …): not shared, but in
  // the merchants' month volumes and in the routed pages' id ranges.
  for (let i = 0; i < 240; i += 8) await world.payment(`P${String(i).padStart(4, '0')}e`, BigInt(20_000 + i), { merchant: `M${i % MERCHANTS}`, feeMinor: 120n, costMinor: 40n, businessDate: D0 });
  // Quick payments (no rule) and a second currency.
  world.ledgerStore.db.prepare("UPDATE payments SET product = 'quick' WHERE CAST(substr(payment_id, 2) AS INTEGER) % 7 = 3").run();
  world.ledgerStore.db.prepare("UPDATE payments SET currency = 'USD' WHERE CAST(substr(payment_id, 2) AS INTEGER) % 11 = 4").run();
  await world.ledger.cutoff(D);
  await world.ledgerStore.close();
  base = join(mkdtempSync(join(tmpdir(), 'settle-share-routed-')), 'base.db');
  copyFileSync(world.dbPath, base);
  writeFileSync(join(dir, 'routed.json'), JSON.stringify(ROUTED));
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(dirname(base), { recursive: true, force: true });
});

describe('sharing by route', () => {
  let reference: unknown;

  it('Given rules without caps per day, When the day is shared by route and payment by payment, Then lines, findings, clips and entries are the same', async () => {
    const { routed, routedDb, snapshot } = await routedAndOneByOne(ROUTED, ONE_BY_ONE, 'routed.db', 'one-by-one.db');
    expect(routed.findings.filter((f) => f.code === 'base_negative').length).toBeGreaterThan(0);
    expect(routed.clippedPayments).toBeGreaterThan(0);
    reference = snapshot;
    const lines = (reference as { lines: { party_id: string; currency: string; rule_id: string }[] }).lines;
    expect(new Set(lines.map((l) => l.currency))).toEqual(new Set(['CNY', 'USD']));
    expect(lines.some((l) => l.rule_id === '-')).toBe(true);

    // A re-run with another page size writes nothing and finds the same.
    const again = await share(routedDb, ROUTED, 9);
    expect(again.linesWritten).toBe(0);
    expect(again.entries.every((e) => e.replayed)).toBe(true);
    expect({ ...(summary(again) as object), linesWritten: routed.linesWritten }).toEqual(summary(routed));
    expect(shareSnapshot(routedDb)).toEqual(reference);
  }, 30_000);

  it('Given routes on two different bases (fee net of cost, amount), When shared by route and payment by payment, Then the books are the same', async () => {
    const { snapshot } = await routedAndOneByOne(MIXED, MIXED_ONE_BY_ONE, 'mixed-routed.db', 'mixed-one-by-one.db');
    expect(new Set((snapshot as { lines: { rule_id: string }[] }).lines.map((l) => l.rule_id))).toEqual(new Set(['R', 'Q']));
  }, 30_000);

  it('Given a file database, When the month volumes are summed by a worker thread, Then the books equal the run that sums them on one thread', async () => {
    const db = copy('month-worker.db');
    const counted = { here: 0, worker: 0 };
    const routed = await share(db, ROUTED, 25, { workerRowidsMin: 0, spareCore: () => true, slicesHereMax: 0, workerWaitMs: 20_000, counted });
    expect(counted).toEqual({ here: 0, worker: MONTH_PAIRS.slices });
    expect(routed.linesWritten).toBeGreaterThan(0);
    expect(shareSnapshot(db)).toEqual(reference);
  }, 30_000);

  it('Given a routed run killed with SIGKILL after 3 pages, When it is run again in pages of another size, Then the books equal the uninterrupted run', async () => {
    const db = copy('killed.db');
    const killed = await new Promise<{ signal: NodeJS.Signals | null; stderr: string }>((done, fail) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, db, join(dir, 'routed.json'), D, '--kill-after-pages=3'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', fail);
      child.on('close', (_code, signal) => done({ signal, stderr }));
    });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const partial = SqliteLedgerStore.open(db);
    const written = (partial.db.prepare('SELECT COUNT(*) FROM share_payments').pluck(true).get() as bigint) ?? 0n;
    // 3 pages of 25 ids, committed; the 4th never began: the day's payments among the first 75 ids.
    const firstPages = partial.db.prepare('SELECT COUNT(*) FROM (SELECT business_date FROM payments ORDER BY payment_id LIMIT 75) WHERE business_date = ?').pluck(true).get(D) as bigint;
    await partial.close();
    expect(firstPages).toBeLessThan(75n);
    expect(written).toBe(firstPages);
    // Pages of 40 this time: the second (payments 41-80) is part shared (up to 75), part not.
    await share(db, ROUTED, 40);
    expect(shareSnapshot(db)).toEqual(reference);
  }, 30_000);
});
