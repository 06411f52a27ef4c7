// Crash safety of settle recon run with the parse on worker threads: a child process imports and matches a
// day and kills itself with SIGKILL after a given number of line blocks were stored (mid-import), or of
// outcome chunks (mid-match). The same day run again on that file must give what an uninterrupted run
// gives on a copy of the same database: one file version, the same lines, the same outcomes, nothing of the
// killed attempt left behind.

import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../src/ledger/sqlite/database.js';
import { D, ReconWorld } from './recon-match-support.js';
import { writeWechatBill } from './support/wechat-bill.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROWS = 9_000;

let w: ReconWorld;
let pristine: string;
let bill: string;

beforeAll(async () => {
  w = await ReconWorld.create();
  // Our side: most of the file's payments, so the match has pairs, and a few the file does not have.
  for (let i = 0; i < ROWS; i += 3) if (i % 50 !== 49) await w.payment(`pay_${i}`, BigInt(100 + i), { txn: `42000010${String(i).padStart(20, '0')}`, costMinor: BigInt(Math.floor((100 + i) * 0.006)) });
  for (let i = 0; i < 5; i++) await w.payment(`pay_ours_${i}`, 700n);
  w.ledgerStore.db.pragma('wal_checkpoint(TRUNCATE)');
  pristine = join(w.dir, 'pristine.db');
  copyFileSync(w.dbPath, pristine);
  bill = join(w.dir, 'bill.csv');
  writeWechatBill(bill, D, ROWS);
}, 120_000);
afterAll(async () => {
  await w.close();
});

const CHILD = `
import { runDay } from ${JSON.stringify(join(ROOT, 'src/batch/recon/run.ts'))};
import { SqliteReconStore } from ${JSON.stringify(join(ROOT, 'src/batch/recon/sqlite/recon-store.ts'))};
import { SqliteLedgerStore } from ${JSON.stringify(join(ROOT, 'src/ledger/sqlite/store.ts'))};
const [db, file, phase, killAt] = process.argv.slice(2);
const store = new SqliteReconStore(SqliteLedgerStore.open(db));
let n = 0;
const kill = () => { if (++n >= Number(killAt)) process.kill(process.pid, 'SIGKILL'); };
const counting = new Proxy(store, {
  get(target, key) {
    const v = Reflect.get(target, key);
    if (phase === 'import' && key === 'beginImport') return async (f) => {
      const writer = await target.beginImport(f);
      return { ...writer, fileId: writer.fileId, version: writer.version, append: async (b) => { await writer.append(b); kill(); } };
    };
    if (phase === 'match' && key === 'appendItems') return async (...a) => { await target.appendItems(...a); kill(); };
    return typeof v === 'function' ? v.bind(target) : v;
  },
});
await runDay(counting, { channel: { channel: 'wallet', format: 'wechat-trade', currency: 'CNY', suspense_days: 0 }, businessDate: ${JSON.stringify(D)}, file },
  { clock: () => 1, fetch: () => Promise.reject(new Error('no fetch')), parseOnWorker: 'always' });
`;

function runChild(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((done, fail) => {
    const script = join(w.dir, 'recon-crash-child.mts');
    writeFileSync(script, CHILD);
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    // 'close', not 'exit': the child's stderr is read to its end before the result is looked at.
    child.on('close', (code, signal) => done({ code, signal, stderr }));
  });
}

function place(name: string): string {
  const dir = join(w.dir, name);
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'settle.db');
  copyFileSync(pristine, db);
  return db;
}

/** What must not differ: the file versions, every stored line, the current run's outcomes. */
function snapshot(dbPath: string): unknown {
  const db = openSqlite(dbPath, { readonly: true });
  try {
    const all = (sql: string): unknown[] => db.prepare(sql).raw(true).all();
    return {
      files: all("SELECT channel, business_date, version, status, sha256, rows, payments, refunds, payment_amount_minor, refund_amount_minor, totals_check FROM recon_files ORDER BY file_id"),
      lines: all('SELECT b.first_seq, b.rows, b.lines FROM recon_line_blocks b JOIN recon_files f ON f.file_id = b.file_id ORDER BY b.first_seq'),
      runs: all("SELECT channel, business_date, status, lines, records, counts FROM recon_runs WHERE status = 'current'"),
      outcomes: all(
        "SELECT o.outcome, o.type, o.note, o.kind, o.line_seq, o.record_source, o.record_id, o.status FROM recon_outcomes o JOIN recon_runs r ON r.run_id = o.run_id WHERE r.status = 'current' ORDER BY o.kind, o.line_seq, o.record_id",
      ),
      leftovers: all("SELECT (SELECT COUNT(*) FROM recon_files WHERE status = 'staging'), (SELECT COUNT(*) FROM recon_runs WHERE status = 'running')"),
    };
  } finally {
    db.close();
  }
}

describe('Given a day of 9,000 lines reconciled with the parse on worker threads', () => {
  let expected: unknown;
  beforeAll(async () => {
    const db = place('uninterrupted');
    const r = await runChild([db, bill, 'none', '0']);
    expect([r.code, r.signal, r.stderr]).toEqual([0, null, '']);
    expected = snapshot(db);
  }, 120_000);

  it('Then the uninterrupted run stored every line and matched our payments', () => {
    const s = expected as { files: unknown[][]; runs: unknown[][]; outcomes: unknown[][]; leftovers: unknown[][] };
    expect(s.files).toHaveLength(1);
    expect(s.files[0]?.slice(0, 6)).toEqual(['wallet', D, 1n, 'imported', expect.stringMatching(/^[0-9a-f]{64}$/), BigInt(ROWS)]);
    expect(s.leftovers).toEqual([[0n, 0n]]);
    expect(s.outcomes.filter((o) => o[0] === 'matched' && o[6] !== null).length).toBeGreaterThan(2_900);
    expect(s.runs[0]?.[5]).toMatch(/"discrepancies":\d+,"byType":\{"channel_only":\d+,"ledger_only":5\}/);
    expect(s.outcomes.filter((o) => o[1] === 'ledger_only').map((o) => o[6])).toEqual(['pay_ours_0', 'pay_ours_1', 'pay_ours_2', 'pay_ours_3', 'pay_ours_4']);
  });

  for (const [phase, killAt] of [
    ['import', 2],
    ['import', 4],
    ['match', 1],
  ] as const) {
    it(`When the run is killed with SIGKILL in the ${phase} (after ${killAt} ${phase === 'import' ? 'blocks' : 'chunks'}) and run again, Then the database equals the uninterrupted run's`, async () => {
      const db = place(`killed-${phase}-${killAt}`);
      const killed = await runChild([db, bill, phase, String(killAt)]);
      expect([killed.code, killed.signal, killed.stderr]).toEqual([null, 'SIGKILL', '']);
      const again = await runChild([db, bill, 'none', '0']);
      expect([again.code, again.signal, again.stderr]).toEqual([0, null, '']);
      expect(snapshot(db)).toEqual(expected);
    }, 120_000);
  }
});
