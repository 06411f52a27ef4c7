// Sharing by route with amounts beyond what JS numbers hold exactly: bases above 2^53 reach share_tally as
// digits, shares above 2^32 are counted per (table, part) and folded as bigints, small ones beside them are
// summed as numbers. The lines, totals and entries equal sharing payment by payment.

import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSharing } from '../src/batch/sharing/config.js';
import { shareDay, type ShareDayResult } from '../src/batch/sharing/run.js';
import { SqliteShareStore } from '../src/batch/sharing/sqlite.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { D, ReconWorld } from './recon-match-support.js';
import { shareSnapshot } from './support/share-snapshot.js';

const LARGE = {
  agents: [{ id: 'T1' }, { id: 'S1', parent: 'T1' }],
  isvs: [{ id: 'V1' }],
  merchants: { M0: { agent: 'S1', isv: 'V1' }, M1: { agent: 'T1' } },
  rules: [{ id: 'R', base: 'fee', products: ['wallet'], agent_levels: [{ rate: '0.35' }, { rate: '0.125' }], isv: { rate: '0.0333' } }],
};
/** The same shares, payment by payment: a rule that caps per day and matches no payment turns routing off. */
const ONE_BY_ONE = { ...LARGE, rules: [...LARGE.rules, { id: 'Z', base: 'fee', merchants: ['M0'], products: ['netbank'], cap_per_day_minor: '1' }] };
const KNOWN = { isMerchant: () => true, products: new Set(['wallet', 'netbank']) };

let base: string;
let dir: string;

async function share(db: string, section: unknown): Promise<ShareDayResult> {
  const ledger = SqliteLedgerStore.open(db);
  try {
    return await shareDay(new SqliteShareStore(ledger), compileSharing(section, KNOWN), D, { nowMs: Date.parse(`${D}T20:00:00Z`), pageSize: 4 });
  } finally {
    await ledger.close();
  }
}

beforeAll(async () => {
  const world = await ReconWorld.create();
  dir = world.dir;
  for (let i = 0; i < 12; i++) await world.payment(`P${String(i).padStart(3, '0')}`, 100000n + BigInt(i), { merchant: `M${i % 2}`, feeMinor: 600n + BigInt(i), costMinor: 300n });
  // Fees far above what a payment takes, set in place: sharing reads them from the payments table. Each
  // party's total stays below the ledger's 2^53 per posting.
  const fee = world.ledgerStore.db.prepare('UPDATE payments SET fee_minor = ? WHERE payment_id = ?');
  fee.run(2n ** 53n + 12345n, 'P001'); // bases above 2^53
  fee.run(2n ** 53n + 12345n, 'P004');
  fee.run(2n ** 53n + 1n, 'P007');
  fee.run(2n ** 40n + 3n, 'P010'); // above 2^32, below 2^53
  await world.ledger.cutoff(D);
  await world.ledgerStore.close();
  base = join(mkdtempSync(join(tmpdir(), 'settle-share-large-')), 'base.db');
  copyFileSync(world.dbPath, base);
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(dirname(base), { recursive: true, force: true });
});

describe('sharing by route, large amounts', () => {
  it('Given bases above 2^53 and shares above 2^32 beside small ones, When shared by route and payment by payment, Then lines, totals and entries are the same', async () => {
    const routedDb = join(dirname(base), 'routed.db');
    const oneDb = join(dirname(base), 'one.db');
    copyFileSync(base, routedDb);
    copyFileSync(base, oneDb);
    const routed = await share(routedDb, LARGE);
    const one = await share(oneDb, ONE_BY_ONE);
    expect(routed.totals).toEqual(one.totals);
    expect([routed.payments, routed.linesWritten]).toEqual([one.payments, one.linesWritten]);
    expect(routed.totals.some((t) => t.netMinor > 2n ** 52n)).toBe(true);
    const snapshot = shareSnapshot(routedDb) as { lines: { payment_id: string; base_minor: bigint }[] };
    expect(snapshot).toEqual(shareSnapshot(oneDb));
    expect(snapshot.lines.find((l) => l.payment_id === 'P001')?.base_minor).toBe(2n ** 53n + 12345n);
  }, 30_000);
});
