// Crash safety of settle clear: a child process clears a day in small transactions and is killed with
// SIGKILL after a random number of them; `settle clear` then runs again on that file. The result must be
// the ledger, the batches and the payout files of an uninterrupted run on a copy of the same database:
// no batch half-written, no entry posted twice, no item settled twice.

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
const [db, clearing, out, killAt] = process.argv.slice(2);
const store = new SqliteClearingStore(SqliteLedgerStore.open(db));
await clearDay(store, parseClearingConfig(JSON.parse(clearing)), {
  runDate: ${JSON.stringify(D)}, includeUnreconciled: true, outDir: out, nowMs: ${NOW_MS}, itemsPerTransactionMax: 4,
  afterCommit: (n) => { if (n >= Number(killAt)) process.kill(process.pid, 'SIGKILL'); },
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
      files: Object.fromEntries(readdirSync(join(p.dir, 'out')).map((f) => [f, readFileSync(join(p.dir, 'out', f), 'utf8')])),
    };
  } finally {
    db.close();
  }
}

describe('Given a day of 30 merchants cleared 4 items per transaction', () => {
  it('When the run is killed with SIGKILL part way and run again, Then the ledger, batches and files equal an uninterrupted run', async () => {
    const clean = place('clean');
    const cleanRun = await runCli({ db: clean.db, cwd: clean.dir, nowMs: () => NOW_MS }, '--json', 'clear', '--date', D, '--config', clean.config, '--out', join(clean.dir, 'out'), '--include-unreconciled');
    expect(cleanRun.code).toBe(2); // some merchants carry a negative net
    const expected = snapshot(clean);

    const crashed = place('crashed');
    const script = join(crashed.dir, 'child.mts');
    writeFileSync(script, CHILD);
    const killAt = 1 + Math.floor(Math.random() * 10);
    const child = await runChild(script, [crashed.db, JSON.stringify(CLEARING), join(crashed.dir, 'out'), String(killAt)]);
    expect({ signal: child.signal, stderr: child.stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });
    const written = openSqlite(crashed.db, { readonly: true });
    const partial = Number((written.prepare('SELECT COUNT(*) AS n FROM settlement_batches').get() as { n: bigint }).n);
    written.close();
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(MERCHANTS);

    const rerun = await runCli({ db: crashed.db, cwd: crashed.dir, nowMs: () => NOW_MS }, '--json', 'clear', '--date', D, '--config', crashed.config, '--out', join(crashed.dir, 'out'), '--include-unreconciled');
    expect(rerun.code).toBe(2);
    expect(rerun.json).toMatchObject({ status: 'cleared', batches_written: MERCHANTS - partial });
    expect(snapshot(crashed)).toEqual(expected);
  }, 60_000);
});
