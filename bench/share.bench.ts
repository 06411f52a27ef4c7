// Profit sharing of one business date: 1,000,000 payments across 10,000 merchants brought by 100 agents
// (20 at the top, 80 under them; every third merchant also has an ISV), shared by `shareDay` on a real
// SQLite file (synchronous FULL, as `settle share` opens it). The rule caps per payment, not per day, so the day
// is split by route (one INSERT … SELECT a page, each distinct base allocated once). Printed beside it, in the same run:
//   - the bare allocation loop: sharePayment over the same payments in memory (no SQLite), the ceiling
//     of the pure core;
//   - the bare read: paging through the payments of the date as shareDay does, and nothing else.
//
//   npx tsx bench/share.bench.ts            (BENCH_PAYMENTS=100000 for a smoke run)

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSharing } from '../src/batch/sharing/config.js';
import { sharePayment, type DayCapState, type SharePayment } from '../src/batch/sharing/core.js';
import { SHARE_RUN_LIMITS, shareDay } from '../src/batch/sharing/run.js';
import { SqliteShareStore } from '../src/batch/sharing/sqlite.js';
import { writeStatements } from '../src/batch/sharing/statement.js';
import { loadConfig } from '../src/cli/config.js';
import { shareEvents } from '../src/cli/progress/bridges.js';
import { sharingSection } from './day-setup.js';
import { benchProgress } from './progress.js';
import { Ledger } from '../src/ledger/index.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { migrateOnline } from '../src/online/sqlite/store.js';

const PAYMENTS = Number(process.env['BENCH_PAYMENTS'] ?? 1_000_000);
const MERCHANTS = 10_000;
const AGENTS = 100;
const D = '2026-11-26';

const ms = (t0: bigint): number => Number((process.hrtime.bigint() - t0) / 1_000_000n);
const log = (s: string): void => void process.stderr.write(`${s}\n`);

const sharing = sharingSection(MERCHANTS, AGENTS);
const rules = compileSharing(sharing, { isMerchant: () => true, products: new Set(['wallet']) });

function paymentOf(i: number): SharePayment {
  const amountMinor = BigInt(100 + ((i * 7919) % 500_000));
  return { paymentId: `pay_${String(i).padStart(8, '0')}`, merchantId: `M${i % MERCHANTS}`, product: 'wallet', currency: 'CNY', amountMinor, feeMinor: (amountMinor * 6n) / 1000n, costMinor: (amountMinor * 38n) / 10000n };
}

const dir = mkdtempSync(join(tmpdir(), 'settle-share-bench-'));
try {
  const dbPath = join(dir, 'settle.db');
  const ledgerStore = SqliteLedgerStore.open(dbPath, { create: true });
  await new Ledger(ledgerStore).initialise(loadConfig().chart, D);
  migrateOnline(ledgerStore.db);
  let t0 = process.hrtime.bigint();
  const insert = ledgerStore.db.prepare(
    `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, fee_minor, cost_minor, business_date, created_at_ms, updated_at_ms)
     VALUES (?, ?, ?, 'wallet', ?, 'CNY', 'succeeded', 'bank', ?, ?, ?, 0, 0)`,
  );
  const fill = ledgerStore.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const p = paymentOf(i);
      insert.run(p.paymentId, p.merchantId, p.paymentId, p.amountMinor, p.feeMinor, p.costMinor, D);
    }
  });
  for (let i = 0; i < PAYMENTS; i += 50_000) fill(i, Math.min(PAYMENTS, i + 50_000));
  await ledgerStore.cutoff(D, Date.now());
  log(`setup: ${PAYMENTS} payments inserted and ${D} closed in ${ms(t0)} ms`);

  // Baseline 1: the bare allocation loop, in memory.
  t0 = process.hrtime.bigint();
  const caps: DayCapState = new Map();
  let lines = 0;
  for (let i = 0; i < PAYMENTS; i++) {
    const p = paymentOf(i);
    lines += sharePayment(rules, p, 1n, caps).lines.length;
  }
  const bareMs = ms(t0);

  // Baseline 2: the bare read of the day's payments in pages.
  const store = new SqliteShareStore(ledgerStore);
  t0 = process.hrtime.bigint();
  let read = 0;
  for (let after = ''; ; ) {
    const page = store.paymentsPage(D, after, SHARE_RUN_LIMITS.pageSize);
    if (page.length === 0) break;
    read += page.length;
    after = page[page.length - 1]?.paymentId ?? after;
  }
  const readMs = ms(t0);

  t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const progress = await benchProgress('bench share');
  const result = await shareDay(store, rules, D, { nowMs: Date.now(), onProgress: shareEvents(progress) });
  progress.close();
  const shareMs = ms(t0);
  const cpu = process.cpuUsage(cpu0);
  const shareCpuMs = Math.round((cpu.user + cpu.system) / 1000);

  t0 = process.hrtime.bigint();
  const rerun = await shareDay(store, rules, D, { nowMs: Date.now() });
  const rerunMs = ms(t0);

  t0 = process.hrtime.bigint();
  const stmtCpu0 = process.cpuUsage();
  const files = writeStatements(store, D, join(dir, 'statements'));
  const statementsMs = ms(t0);
  const stmtCpu = process.cpuUsage(stmtCpu0);
  const statementsCpuMs = Math.round((stmtCpu.user + stmtCpu.system) / 1000);
  await ledgerStore.close();

  const rate = (n: number, t: number): string => `${Math.round((n * 1000) / Math.max(t, 1)).toLocaleString('en')}/s`;
  console.log(`share bench: ${PAYMENTS.toLocaleString('en')} payments, ${MERCHANTS} merchants, ${AGENTS} agents (load ${(await import('node:os')).loadavg()[0]?.toFixed(1)})`);
  console.log(`  bare allocation loop (in memory)   ${String(bareMs).padStart(7)} ms  ${rate(PAYMENTS, bareMs)}  (${lines.toLocaleString('en')} lines)`);
  console.log(`  bare paged read of the payments    ${String(readMs).padStart(7)} ms  ${rate(read, readMs)}`);
  console.log(`  shareDay (lines + entries)         ${String(shareMs).padStart(7)} ms  ${rate(PAYMENTS, shareMs)}  (${result.linesWritten.toLocaleString('en')} lines, ${result.entries.length} entries; CPU ${shareCpuMs} ms)`);
  console.log(`  shareDay re-run (no-op)            ${String(rerunMs).padStart(7)} ms  (${rerun.linesWritten} lines written, ${rerun.entries.filter((e) => e.replayed).length} entries replayed)`);
  console.log(`  statements (${files.length} CSV files)         ${String(statementsMs).padStart(7)} ms  (CPU ${statementsCpuMs} ms)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
