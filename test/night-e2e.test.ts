// The whole chain on a simulated day, end to end with real processes: the demo (scripts/demo.js) starts
// the channel simulator and the daemon, drives a day through the signed API, cuts off, lets the channels
// publish bills with injected trouble and runs `settle run night-chain`. This test then opens what it
// left behind and checks that the numbers agree across the daemon's orders, the ledger, reconciliation,
// settlement and the HTML report.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteConnection } from '../src/ledger/sqlite/database.js';

const ROOT = join(import.meta.dirname, '..');

let out = '';
let dbPath = '';
let reportPath = '';
let date = '';
let db: SqliteConnection;

const all = <T>(sql: string, ...params: unknown[]): T[] => db.prepare(sql).all(...params) as T[];
const one = <T>(sql: string, ...params: unknown[]): T => db.prepare(sql).get(...params) as T;
const n = (v: unknown): bigint => BigInt(v as bigint | number);

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'commands', 'night.js'))) throw new Error('dist/ is missing settle run night-chain: run npm run build');
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'demo.js')], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DEMO_PAYMENTS: '120', DEMO_SEED: process.env['DEMO_SEED'] ?? 'settle-demo-1' }, timeout: 240_000 });
  out = r.stdout;
  expect(r.status, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`).toBe(0);
  dbPath = /^database:\s+(\S+)$/m.exec(out)?.[1] ?? '';
  reportPath = /^report:\s+(\S+)/m.exec(out)?.[1] ?? '';
  date = /settle run night-chain --date (\d{4}-\d{2}-\d{2})/.exec(out)?.[1] ?? '';
  expect(existsSync(dbPath) && existsSync(reportPath) && date !== '').toBe(true);
  db = openSqlite(dbPath);
}, 300_000);

afterAll(() => {
  db?.close();
  if (dbPath !== '') rmSync(dirname(dbPath), { recursive: true, force: true });
});

describe('Given a whole simulated day run through the night chain', () => {
  it('Then every step of the chain finished (clean or with findings) and the run log says so', () => {
    const steps = all<{ job: string; outcome: string }>("SELECT job, outcome FROM job_runs WHERE job LIKE 'night-chain%' AND business_date = ?", date);
    expect(steps.find((s) => s.job === 'night-chain')?.outcome).toBe('findings');
    const stepJobs = steps.filter((s) => s.job.startsWith('night-chain:'));
    expect(stepJobs.map((s) => s.job.slice('night-chain:'.length)).sort()).toEqual(['clear', 'cutoff', 'position-plan', 'recon:bank', 'recon:wallet', 'report', 'share', 'statement', 'trial-balance']);
    expect(stepJobs.every((s) => s.outcome === 'succeeded' || s.outcome === 'findings')).toBe(true);
  });

  it("Then the daemon's orders and the ledger agree: each settled-in-the-books payment has its one entry, and the books verify", () => {
    const paid = all<{ payment_id: string }>("SELECT payment_id FROM payments WHERE status IN ('succeeded', 'partially_refunded', 'refunded')");
    expect(paid.length).toBeGreaterThan(80);
    const entries = new Set(all<{ id: string }>("SELECT entry_id AS id FROM entries WHERE entry_id LIKE 'pay.%'").map((e) => e.id));
    for (const p of paid) expect(entries.has(`pay.${p.payment_id}`), p.payment_id).toBe(true);
    const verify = spawnSync(process.execPath, [join(ROOT, 'bin', 'settle.js'), '--json', '--db', dbPath, 'ledger', 'verify'], { encoding: 'utf8' });
    expect(verify.status, verify.stdout).toBe(0);
  });

  it('Then reconciliation saw each of our channel payments of the day exactly once, and each injected trouble became the outcome it should', () => {
    const ours = all<{ payment_id: string }>(
      "SELECT payment_id FROM payments WHERE channel_id IN ('bank', 'wallet') AND status IN ('succeeded', 'partially_refunded', 'refunded') AND EXISTS (SELECT 1 FROM entries e WHERE e.entry_id = 'pay.' || payment_id AND e.business_date = ?)",
      date,
    );
    const latestRuns = all<{ run_id: bigint }>('SELECT MAX(run_id) AS run_id FROM recon_runs WHERE business_date = ? GROUP BY channel', date).map((r) => r.run_id);
    expect(latestRuns).toHaveLength(2);
    const seen = all<{ record_id: string; outcome: string }>(
      `SELECT record_id, outcome FROM recon_outcomes WHERE kind = 'payment' AND record_id IS NOT NULL AND run_id IN (${latestRuns.map(() => '?').join(',')})`,
      ...latestRuns,
    );
    const times = new Map<string, number>();
    for (const s of seen) times.set(s.record_id, (times.get(s.record_id) ?? 0) + 1);
    for (const p of ours) expect([p.payment_id, times.get(p.payment_id)]).toEqual([p.payment_id, 1]);
    // Each injected trouble, as the channels' manifests list it, ends as the outcome it should: a row of
    // ours dropped from the file or moved past midnight waits in suspense; a changed amount is an
    // amount_mismatch. (A trouble that hit a top-up's row is left out: top-ups are not reconciled yet.)
    const itemsOf = (sql: string, ...params: unknown[]): { outcome: string; type: string | null; note: string | null }[] =>
      all(`SELECT outcome, type, note FROM recon_outcomes WHERE run_id IN (${latestRuns.map(() => '?').join(',')}) AND ${sql}`, ...latestRuns, ...params);
    let checked = 0;
    for (const channel of ['bank', 'wallet']) {
      const manifest = JSON.parse(readFileSync(join(dirname(dbPath), 'bills', date.replaceAll('-', ''), channel, `manifest_${date.replaceAll('-', '')}.json`), 'utf8')) as {
        troubles: { kind: string; row_kind: string; channel_txn_id: string; merchant_order_no: string; merchant_refund_no: string | null }[];
      };
      for (const t of manifest.troubles) {
        // Ours: the refund, or the payment or capture the row is of (top-ups and payouts are not reconciled as ours yet).
        const ours = t.row_kind === 'refund' ? t.merchant_refund_no : t.merchant_order_no;
        const status =
          t.row_kind === 'refund'
            ? db.prepare('SELECT status FROM refunds WHERE refund_id = ?').pluck().get(ours)
            : (db.prepare('SELECT status FROM payments WHERE payment_id = ?').pluck().get(ours) ?? db.prepare('SELECT status FROM captures WHERE capture_id = ?').pluck().get(ours));
        if (typeof status !== 'string') continue;
        // A row of a payment that moved no money in the end (voided the same day) agrees with the file's
        // silence or its changed amount: matched. Any other row of ours that is missing waits in suspense.
        const voided = status === 'voided';
        if (t.kind === 'drop' || t.kind === 'midnight') {
          expect([t.kind, status, itemsOf('record_id = ?', ours).map((i) => [i.outcome, i.note])]).toEqual([t.kind, status, [voided ? ['matched', 'no_movement'] : ['suspense', null]]]);
        } else if (t.kind === 'amount' && !voided) {
          expect([t.kind, status, itemsOf('record_id = ?', ours).map((i) => [i.outcome, i.type])]).toEqual([t.kind, status, [['discrepancy', 'amount_mismatch']]]);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });

  it('Then settlement took only what reconciliation matched, and its batches equal its ledger entries to the cent', () => {
    const unmatched = one<{ n: bigint }>(
      // Payments on a reconciled channel (balance, coins and credit never leave our books: nothing to match).
      `SELECT COUNT(*) AS n FROM clearing_items c JOIN payments p ON p.payment_id = c.item_id
        WHERE c.kind = 'payment' AND c.business_date = ? AND p.channel_id IN ('bank', 'wallet') AND NOT EXISTS (
         SELECT 1 FROM recon_outcomes r WHERE r.record_id = c.item_id AND r.outcome = 'matched')`,
      date,
    );
    expect(Number(unmatched.n)).toBe(0);
    const settledOnChannels = one<{ n: bigint }>("SELECT COUNT(*) AS n FROM clearing_items c JOIN payments p ON p.payment_id = c.item_id WHERE p.channel_id IN ('bank', 'wallet')");
    expect(Number(settledOnChannels.n)).toBeGreaterThan(50);
    const batches = all<{ merchant_id: string; currency: string; net_minor: bigint; items: bigint; batch_id: string }>('SELECT * FROM settlement_batches WHERE business_date = ?', date);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    for (const b of batches) {
      const items = one<{ n: bigint }>('SELECT COUNT(*) AS n FROM clearing_items WHERE batch_id = ?', b.batch_id);
      expect(n(items.n)).toBe(n(b.items));
      // The batch's entry moves the net from the merchant's payable (a debit there).
      const moved = one<{ d: bigint | null }>(
        `SELECT SUM(CASE WHEN p.side = 'debit' THEN p.amount_minor ELSE -p.amount_minor END) AS d FROM postings p JOIN entries e ON e.seq = p.entry_seq JOIN accounts a ON a.account_no = p.account_no
          WHERE e.entry_id LIKE ? AND a.account_id = ?`,
        `clear.${date}.${b.merchant_id}.${b.currency}%`,
        `merchant:${b.merchant_id}:payable:${b.currency}`,
      );
      expect([b.batch_id, n(moved.d ?? 0n)]).toEqual([b.batch_id, n(b.net_minor)]);
    }
  });

  it('Then the bank gets a pain.001 for real money only: coin payouts stay in the payout CSV, with no credit transfer', () => {
    const settlements = join(dirname(dbPath), 'night', date, 'settlements');
    expect(existsSync(join(settlements, `pain001-${date}-CNY.xml`))).toBe(true);
    expect(existsSync(join(settlements, `pain001-${date}-COIN.xml`))).toBe(false);
    const coinBatches = all<{ n: bigint }>("SELECT COUNT(*) AS n FROM settlement_batches WHERE business_date = ? AND currency = 'COIN' AND status = 'paid_out'", date);
    expect(Number(coinBatches[0]?.n ?? 0n)).toBeGreaterThan(0);
    expect(readFileSync(join(settlements, `payouts-${date}.csv`), 'utf8')).toContain('COIN');
  });

  it('Then the HTML report shows the same open discrepancies, settlement total and trial balance verdict', () => {
    const html = readFileSync(reportPath, 'utf8');
    const open = one<{ n: bigint }>("SELECT COUNT(*) AS n FROM recon_items WHERE outcome = 'discrepancy' AND status = 'open'");
    expect(html).toContain(`${Number(open.n)} open discrepanc`);
    const net = one<{ s: bigint }>("SELECT SUM(net_minor) AS s FROM settlement_batches WHERE business_date = ? AND currency = 'CNY'", date);
    const cents = n(net.s);
    const formatted = `${(cents / 100n).toLocaleString('en-US')}.${(cents % 100n).toString().padStart(2, '0')} CNY`;
    expect(html).toContain(formatted);
    expect(html).toContain('All checks hold');
    expect(out).toContain('verdict: BALANCED');
  });
});
