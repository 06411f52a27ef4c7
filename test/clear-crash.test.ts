// Crash safety of settle clear: a child process clears a day in small transactions and is killed with
// SIGKILL after a random number of them, in either write phase (item rows; batches with their entries);
// `settle clear` then runs again on that file. The result must be the ledger, the batches and the payout
// files of an uninterrupted run on a copy of the same database: no batch half-written, no entry posted
// twice, no item settled twice, and no item row left of a batch that was never written.

import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../src/ledger/sqlite/database.js';
import { runCli } from './support/cli.js';
import { D, ReconWorld } from './recon-match-support.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NOW_MS = Date.parse('2026-11-27T02:00:00Z');
const MERCHANTS = 30;
const CLEARING = {
  default_cycle: 'T+0',
  rate_cards: [{ rate: '0.0055', min_minor: 3 }],
  merchants: Object.fromEntries(Array.from({ length: MERCHANTS }, (_, m) => [`M${m}`, { payout: { name: `Shop ${m}`, account: `9558800${m}`, bank: 'ICBKCNBJ' } }])),
};

let w: ReconWorld;
let pristine: string;

beforeAll(async () => {
  w = await ReconWorld.create();
  for (let m = 0; m < MERCHANTS; m++) {
    await w.payment(`pay_${m}_a`, BigInt(1000 + m * 37), { merchant: `M${m}`, feeMinor: 6n });
    await w.payment(`pay_${m}_b`, BigInt(500 + m * 11), { merchant: `M${m}`, feeMinor: 2n });
    if (m % 4 === 0) await w.refund(`re_${m}`, `pay_${m}_a`, BigInt(2000 + m), { merchant: `M${m}` }); // above the collections: carried
    else if (m % 3 === 0) await w.refund(`re_${m}`, `pay_${m}_b`, 100n, { merchant: `M${m}` });
  }
  const cut = await w.ledger.cutoff(D);
  if ('ok' in cut) throw new Error(cut.code);
  w.ledgerStore.db.pragma('wal_checkpoint(TRUNCATE)');
  pristine = join(w.dir, 'pristine.db');
  copyFileSync(w.dbPath, pristine);
}, 60_000);
afterAll(async () => {
  await w.close();
});

function place(name: string): { db: string; dir: string; config: string } {
  const dir = join(w.dir, name);
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'settle.db');
  copyFileSync(pristine, db);
  const sample = JSON.parse(readFileSync(join(ROOT, 'samples', 'settle.config.json'), 'utf8')) as Record<string, unknown>;
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ ...sample, clearing: CLEARING }));
  return { db, dir, config };
}

const CHILD = `
import { parseClearingConfig } from ${JSON.stringify(join(ROOT, 'src/batch/clearing/config.ts'))};
import { clearDay } from ${JSON.stringify(join(ROOT, 'src/batch/clearing/service.ts'))};
import { SqliteClearingStore } from ${JSON.stringify(join(ROOT, 'src/batch/clearing/sqlite.ts'))};
import { SqliteLedgerStore } from ${JSON.stringify(join(ROOT, 'src/ledger/sqlite/store.ts'))};
const [db, clearing, out, phase, killAt] = process.argv.slice(2);
const store = new SqliteClearingStore(SqliteLedgerStore.open(db));
await clearDay(store, parseClearingConfig(JSON.parse(clearing)), {
  runDate: ${JSON.stringify(D)}, includeUnreconciled: true, outDir: out, nowMs: ${NOW_MS}, itemsPerTransactionMax: 4, batchesPerTransactionMax: 3,
  afterCommit: (c) => { if (c.phase === phase && c.commits >= Number(killAt)) process.kill(process.pid, 'SIGKILL'); },
});
`;

function runChild(script: string, args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('exit', (code, signal) => done({ code, signal, stderr }));
  });
}

/** What must not differ: the batches, the clearing entries with their postings, the settled items, the files. */
function snapshot(p: { db: string; dir: string }): unknown {
  const db = openSqlite(p.db, { readonly: true });
  try {
    return {
      batches: db.prepare('SELECT batch_id, gross_minor, refunds_minor, fees_minor, adjustments_minor, net_minor, carried_in_minor, carried_out_minor, payout_minor, items, status FROM settlement_batches ORDER BY batch_id').all(),
      entries: db
        .prepare(
          `SELECT e.entry_id, a.account_id, p.side, p.amount_minor FROM entries e JOIN postings p ON p.entry_seq = e.seq JOIN accounts a ON a.account_no = p.account_no
           WHERE e.entry_id LIKE 'clear%' ORDER BY e.entry_id, a.account_id`,
        )
        .all(),
      items: db.prepare('SELECT kind, item_id, batch_id, fee_minor FROM clearing_items ORDER BY kind, item_id').all(),
      unsettledRows: db.prepare('SELECT COUNT(*) AS n FROM clearing_item_rows i WHERE NOT EXISTS (SELECT 1 FROM clearing_batch_numbers n WHERE n.batch_no = i.batch_no)').get(),
      files: Object.fromEntries(readdirSync(join(p.dir, 'out')).map((f) => [f, readFileSync(join(p.dir, 'out', f), 'utf8')])),
    };
  } finally {
    db.close();
  }
}

function counts(dbPath: string): { batches: number; settledItems: number; itemRows: number } {
  const db = openSqlite(dbPath, { readonly: true });
  try {
    const n = (sql: string): number => Number((db.prepare(sql).get() as { n: bigint }).n);
    return {
      batches: n('SELECT COUNT(*) AS n FROM settlement_batches'),
      settledItems: n('SELECT COUNT(*) AS n FROM clearing_items'),
      itemRows: n('SELECT COUNT(*) AS n FROM clearing_item_rows'),
    };
  } finally {
    db.close();
  }
}

type Kill = { readonly phase: 'items' | 'batches'; readonly at: number };

describe('Given a day of 30 merchants cleared 4 item rows and 3 batches per transaction', () => {
  let expected: unknown;
  beforeAll(async () => {
    const clean = place('clean');
    const cleanRun = await runCli({ db: clean.db, cwd: clean.dir, nowMs: () => NOW_MS }, '--json', 'clear', '--date', D, '--config', clean.config, '--out', join(clean.dir, 'out'), '--include-unreconciled');
    expect(cleanRun.code).toBe(2); // some merchants carry a negative net
    expected = snapshot(clean);
  }, 60_000);

  /**
   * Runs the child once per kill (each must die by it), shows the file after the kills to `check`, then
   * runs settle clear to the end and compares it with the uninterrupted run.
   */
  async function killThenRerun(name: string, kills: readonly Kill[], check?: (c: ReturnType<typeof counts>) => void): Promise<void> {
    const crashed = place(name);
    const script = join(crashed.dir, 'child.mts');
    writeFileSync(script, CHILD);
    for (const kill of kills) {
      const child = await runChild(script, [crashed.db, JSON.stringify(CLEARING), join(crashed.dir, 'out'), kill.phase, String(kill.at)]);
      expect({ signal: child.signal, stderr: child.stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });
    }
    const partial = counts(crashed.db);
    check?.(partial);
    const rerun = await runCli({ db: crashed.db, cwd: crashed.dir, nowMs: () => NOW_MS }, '--json', 'clear', '--date', D, '--config', crashed.config, '--out', join(crashed.dir, 'out'), '--include-unreconciled');
    expect(rerun.code).toBe(2);
    expect(rerun.json).toMatchObject({ status: 'cleared', batches_written: MERCHANTS - partial.batches });
    expect(snapshot(crashed)).toEqual(expected);
  }

  it('When the run is killed while writing item rows and run again, Then nothing was settled before and the result equals an uninterrupted run', async () => {
    const at = 1 + Math.floor(Math.random() * 15);
    // Item rows are written, none settled: no batch holds them yet.
    await killThenRerun('items', [{ phase: 'items', at }], (c) => expect(c).toEqual({ batches: 0, settledItems: 0, itemRows: 4 * at }));
  }, 60_000);

  it('When the run is killed while writing batches and run again, Then the result equals an uninterrupted run', async () => {
    const at = 1 + Math.floor(Math.random() * 9);
    await killThenRerun('batches', [{ phase: 'batches', at }], (c) => {
      expect(c.batches).toBe(3 * at);
      expect(c.settledItems).toBeGreaterThan(0);
      expect(c.settledItems).toBeLessThan(c.itemRows);
    });
  }, 60_000);

  it('When a resumed run is killed again while replacing the rows of the first, Then the third run still equals an uninterrupted run', async () => {
    await killThenRerun('twice', [
      { phase: 'batches', at: 1 + Math.floor(Math.random() * 8) },
      { phase: 'items', at: 1 },
    ]);
  }, 90_000);

  it('When the first run dies in its item rows and the second in its batches, Then the third run equals an uninterrupted run', async () => {
    await killThenRerun('items-then-batches', [
      { phase: 'items', at: 1 + Math.floor(Math.random() * 15) },
      { phase: 'batches', at: 1 + Math.floor(Math.random() * 9) },
    ]);
  }, 90_000);
});
