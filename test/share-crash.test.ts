// SIGKILL in the middle of settle share, then a re-run, leaves exactly what one uninterrupted run leaves:
// the same share lines, the same share.* entries with the same postings, the same agent balances.
// A child process (src/batch/sharing/crash-child.ts) shares a day of 200 payments and 40 refunds in
// pages of 25 and kills itself after N pages, or after the lines and before the entries.

import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSharing } from '../src/batch/sharing/config.js';
import { shareDay } from '../src/batch/sharing/run.js';
import { SqliteShareStore } from '../src/batch/sharing/sqlite.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { D, ReconWorld } from './recon-match-support.js';
import { shareSnapshot } from './support/share-snapshot.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHILD = join(ROOT, 'src', 'batch', 'sharing', 'crash-child.ts');
const MERCHANTS = 12;

const SHARING = {
  agents: [{ id: 'T1' }, { id: 'T2' }, { id: 'S1', parent: 'T1' }, { id: 'S2', parent: 'T2' }],
  isvs: [{ id: 'V1' }],
  merchants: Object.fromEntries(Array.from({ length: MERCHANTS }, (_, i) => [`M${i}`, { agent: ['T1', 'T2', 'S1', 'S2'][i % 4], ...(i % 3 === 0 ? { isv: 'V1' } : {}) }])),
  rules: [{ id: 'R', base: 'fee_net', agent_levels: [{ rate: '0.35' }, { rate: '0.125' }], isv: { rate: '0.0333' }, cap_per_day_minor: '20000' }],
};

let base: string;
let dir: string;

function runChild(db: string, args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, db, join(dir, 'sharing.json'), D, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

/** The same run as the child's, in this process (spawning costs seconds; the kill needs the child). */
async function shareInProcess(db: string): Promise<void> {
  const ledger = SqliteLedgerStore.open(db);
  try {
    const rules = compileSharing(SHARING, { isMerchant: () => true, products: new Set(['wallet']) });
    await shareDay(new SqliteShareStore(ledger), rules, D, { nowMs: Date.parse(`${D}T20:00:00Z`), pageSize: 25 });
  } finally {
    await ledger.close();
  }
}

beforeAll(async () => {
  const world = await ReconWorld.create();
  dir = world.dir;
  let seed = 7;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let i = 0; i < 200; i++) {
    const amount = BigInt(1000 + next(500000));
    const id = `P${String(i).padStart(4, '0')}`;
    await world.payment(id, amount, { merchant: `M${i % MERCHANTS}`, feeMinor: (amount * 6n) / 1000n, costMinor: (amount * BigInt(2 + next(5))) / 1000n, status: i < 40 ? 'partially_refunded' : 'succeeded' });
    if (i < 40) await world.refund(`F${i}`, id, i % 2 === 0 ? amount : amount / 3n, { merchant: `M${i % MERCHANTS}` });
  }
  await world.ledger.cutoff(D);
  await world.ledgerStore.close();
  base = join(mkdtempSync(join(tmpdir(), 'settle-share-crash-')), 'base.db');
  copyFileSync(world.dbPath, base);
  writeFileSync(join(dir, 'sharing.json'), JSON.stringify(SHARING));
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(dirname(base), { recursive: true, force: true });
});

describe('settle share survives SIGKILL', () => {
  let reference: unknown;

  it('Given the day, When it is shared without interruption, Then it posts one entry per party', async () => {
    const db = join(dirname(base), 'reference.db');
    copyFileSync(base, db);
    await shareInProcess(db);
    reference = shareSnapshot(db);
    expect((reference as { entries: unknown[] }).entries.length).toBe(10); // 5 parties × 2 postings
  }, 30_000);

  it.each([['--kill-after-pages=5'], ['--kill-before-entries']])(
    'Given a run killed with %s, When it is run again, Then the books equal the uninterrupted run',
    async (flag) => {
      const db = join(dirname(base), `killed${flag.replace(/[^a-z0-9]/g, '')}.db`);
      copyFileSync(base, db);
      const killed = await runChild(db, [flag]);
      expect(killed.signal).toBe('SIGKILL');
      await shareInProcess(db);
      expect(shareSnapshot(db)).toEqual(reference);
    },
    30_000,
  );
});
