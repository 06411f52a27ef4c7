// Time to clear a day (settle clear's service): 1,000,000 payments across 10,000 merchants, each batch
// written with its entries (fee adjustment + settlement), and the payout files. Beside it, as the
// baseline, the ledger's raw batch posting rate measured in the same run on the same file.
//
//   npx tsx bench/clear.bench.ts            a few lines for people
//   npx tsx bench/clear.bench.ts --json     one JSON object on stdout
//
//   BENCH_PAYMENTS=1000000   payments on the day (product quick; settled via --include-unreconciled unless BENCH_RECONCILED=1)
//   BENCH_MERCHANTS=10000    merchants (T+0, one rate card with a tier)
//   BENCH_BASELINE=100000    entries in the baseline posting loop (batches of 1,000)
//   BENCH_ITEMS_PER_TX=…     items per write transaction (default: the service's itemsPerTransactionMax)
//   BENCH_RECONCILED=1       the day has a current recon run matching every payment (packed pair blocks, as
//                            recon run writes them) and the run clears without --include-unreconciled
//
// The payments are inserted as rows only (their pay.* entries are not posted: the clearing run reads
// the payments table, and its own entries open the accounts they need), so the figure is clearing's.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseClearingConfig } from '../src/batch/clearing/config.js';
import { clearDay } from '../src/batch/clearing/service.js';
import { SqliteClearingStore } from '../src/batch/clearing/sqlite.js';
import { loadConfig } from '../src/cli/config.js';
import { clearEvents } from '../src/cli/progress/bridges.js';
import { benchProgress } from './progress.js';
import { Ledger } from '../src/ledger/index.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { migrateOnline } from '../src/online/sqlite/store.js';
import { clearingSection, dayFigures, envInt, insertMatchedReconRun, insertPayments, postingBaseline } from './day-setup.js';

const JSON_OUT = process.argv.includes('--json');
const PAYMENTS = envInt('BENCH_PAYMENTS', 1_000_000);
const MERCHANTS = envInt('BENCH_MERCHANTS', 10_000);
const BASELINE = envInt('BENCH_BASELINE', 100_000);
const ITEMS_PER_TX = process.env['BENCH_ITEMS_PER_TX'] ? envInt('BENCH_ITEMS_PER_TX', 1) : undefined;
const RECONCILED = process.env['BENCH_RECONCILED'] === '1';
const D = '2026-11-26';
const log = (line: string): void => void (JSON_OUT ? process.stderr : process.stdout).write(`${line}\n`);
/**
 * CPU ms of this process's main thread (Linux: /proc; undefined elsewhere). process.cpuUsage counts every
 * thread, and clearing reads a large day on a worker: the main thread's time is the run's critical path
 * when a second core is free.
 */
function mainThreadCpuMs(): number | undefined {
  const stat = `/proc/self/task/${process.pid}/stat`;
  if (!existsSync(stat)) return undefined;
  // Fields after the command's closing parenthesis: utime and stime are the 14th and 15th of the line, in clock ticks (100 a second).
  const line = readFileSync(stat, 'utf8');
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'settle-clear-bench-'));
try {
  const dbPath = path.join(dir, 'settle.db');
  const ledgerStore = SqliteLedgerStore.open(dbPath, { create: true });
  let nowMs = Date.parse('2026-11-26T01:00:00Z');
  const ledger = new Ledger(ledgerStore, () => nowMs);
  await ledger.initialise(loadConfig().chart, D);
  migrateOnline(ledgerStore.db);

  const t0 = performance.now();
  insertPayments(ledgerStore.db, {
    date: D,
    payments: PAYMENTS,
    merchants: MERCHANTS,
    product: 'quick',
    figuresOf: dayFigures(0n),
  });
  log(`inserted ${PAYMENTS} payments across ${MERCHANTS} merchants in ${Math.round(performance.now() - t0)} ms`);
  if (RECONCILED) {
    const blocks = insertMatchedReconRun(ledgerStore.db, D, PAYMENTS);
    log(`a current recon run matches every payment (${blocks} pair blocks)`);
  }
  const cut = await ledger.cutoff(D);
  if ('ok' in cut) throw new Error(cut.code);

  const config = parseClearingConfig(clearingSection(MERCHANTS));
  const store = new SqliteClearingStore(ledgerStore);
  nowMs = Date.parse('2026-11-27T02:00:00Z');
  const t1 = performance.now();
  const cpu1 = process.cpuUsage();
  const main1 = mainThreadCpuMs();
  const progress = await benchProgress('bench clear');
  const toBar = clearEvents(progress);
  const result = await clearDay(store, config, {
    runDate: D,
    includeUnreconciled: !RECONCILED,
    outDir: path.join(dir, 'out'),
    nowMs,
    ...(ITEMS_PER_TX === undefined ? {} : { itemsPerTransactionMax: ITEMS_PER_TX }),
    onProgress: (e) => {
      toBar(e);
      if (e.kind === 'loaded') log(`loaded ${e.candidates} items in ${e.elapsedMs} ms`);
    },
  });
  progress.close();
  if (RECONCILED && result.heldItems !== 0) throw new Error(`bench: ${result.heldItems} payments held as unreconciled`);
  const clearMs = performance.now() - t1;
  const cpu = process.cpuUsage(cpu1);
  const clearCpuMs = Math.round((cpu.user + cpu.system) / 1000);
  const main2 = mainThreadCpuMs();
  const mainCpuMs = main1 === undefined || main2 === undefined ? undefined : main2 - main1;
  log(
    `cleared ${PAYMENTS} payments${RECONCILED ? ' (reconciled)' : ''} into ${result.batches.length} batches (${result.entriesPosted} entries) in ${Math.round(clearMs)} ms (CPU ${clearCpuMs} ms${mainCpuMs === undefined ? '' : `, main thread ${mainCpuMs} ms`}): ${Math.round((PAYMENTS * 1000) / clearMs)} items/s; load ${os.loadavg()[0]?.toFixed(1)}`,
  );

  // Baseline: the ledger's batch path on the same file, 1,000 entries per transaction.
  const { ms: baselineMs, entriesPerS } = await postingBaseline(ledgerStore, BASELINE, MERCHANTS, nowMs);
  log(`ledger baseline: ${BASELINE} entries in batches of 1,000 in ${Math.round(baselineMs)} ms: ${entriesPerS} entries/s`);
  await ledgerStore.close();
  if (JSON_OUT) {
    process.stdout.write(
      `${JSON.stringify({ payments: PAYMENTS, merchants: MERCHANTS, batches: result.batches.length, entries: result.entriesPosted, clear_ms: Math.round(clearMs), clear_cpu_ms: clearCpuMs, clear_main_thread_cpu_ms: mainCpuMs ?? null, clear_items_per_s: Math.round((PAYMENTS * 1000) / clearMs), baseline_entries_per_s: entriesPerS })}\n`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
