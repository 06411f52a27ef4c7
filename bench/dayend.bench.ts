// Day end on a big ledger: cutoff (日切) + trial balance (试算平衡) on 1,000,000 entries over 10,000
// accounts, beside the ledger's raw posting rate measured in the same run.
//
//   npm run bench:dayend              a table for people
//   npm run bench:dayend -- --json    one JSON object on stdout (progress goes to stderr)
//
//   BENCH_ENTRIES=1000000   entries in the ledger
//   BENCH_DAYS=10           business days they are spread over (the last one is the day cut and checked)
//   BENCH_RATE_ENTRIES=100000  entries posted to measure the raw posting rate
//
// The ledger is built once through the batch path (SqliteLedgerStore.postEntries, 8,190 commands per
// transaction, synchronous=NORMAL) with days 1..N-1 closed, and cached under os.tmpdir() keyed by
// CACHE_VERSION and the sizes; each run copies it to a scratch file and times, on that copy, the
// cutoff of day N (the CLI's path: under the job run log) and the trial balance of day N (snapshot read,
// journal recomputation, every check). The posting rate is measured in the same run on a fresh file
// with the same accounts (synchronous=FULL, like production).

import { copyFileSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { runJob } from '../src/batch/jobs/runner.js';
import { SqliteJobRunStore } from '../src/batch/jobs/sqlite/job-store.js';
import { parseTrialBalanceConfig } from '../src/batch/trial-balance/config.js';
import { runTrialBalance } from '../src/batch/trial-balance/service.js';
import { sqliteTrialBalanceReader } from '../src/batch/trial-balance/sqlite/reader.js';
import { parseChart } from '../src/ledger/chart-config.js';
import { Ledger, LIMITS, type EntryCommand } from '../src/ledger/index.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

const CACHE_VERSION = 1;
const JSON_OUT = process.argv.includes('--json');
const ENTRIES = envInt('BENCH_ENTRIES', 1_000_000);
const DAYS = envInt('BENCH_DAYS', 10);
const RATE_ENTRIES = envInt('BENCH_RATE_ENTRIES', 100_000);
const CHANNELS = 100;
const MERCHANTS = 9_900; // + 100 channels = 10,000 accounts
const FIRST_DATE = '2026-11-01';
const TARGET_MS = 2_000;

const log = (line: string): void => void process.stderr.write(`${line}\n`);

const CHART = parseChart({
  subjects: [
    { code: '1122', name: 'Channel receivable', type: 'asset' },
    { code: '2202', name: 'Merchant payable', type: 'liability' },
  ],
  accounts: [
    ...Array.from({ length: CHANNELS }, (_, i) => ({ account_id: `channel:C${i}:receivable:CNY`, subject: '1122', owner_kind: 'channel' as const, owner_id: `C${i}`, currency: 'CNY' })),
    ...Array.from({ length: MERCHANTS }, (_, i) => ({ account_id: `merchant:M${i}:payable:CNY`, subject: '2202', owner_kind: 'merchant' as const, owner_id: `M${i}`, currency: 'CNY' })),
  ],
});

/** Entry n: channel n % 100 receives, merchant (n * 7919) % 9,900 is owed; amounts 1..100,000 fen. */
function command(n: number): EntryCommand {
  const amountMinor = BigInt(1 + ((n * 2_654_435_761) % 100_000));
  return {
    type: 'entry',
    id: `b.${n}`,
    eventType: 'payment.succeeded',
    postings: [
      { accountId: `channel:C${n % CHANNELS}:receivable:CNY`, side: 'debit', amountMinor, currency: 'CNY' },
      { accountId: `merchant:M${(n * 7_919) % MERCHANTS}:payable:CNY`, side: 'credit', amountMinor, currency: 'CNY' },
    ],
  };
}

async function post(store: SqliteLedgerStore, from: number, to: number, nowMs: number): Promise<void> {
  for (let i = from; i < to; i += LIMITS.commandsPerBatchMax) {
    const batch = Array.from({ length: Math.min(LIMITS.commandsPerBatchMax, to - i) }, (_, k) => command(i + k));
    const results = await store.postEntries(batch, nowMs);
    const bad = results.find((r) => !r.ok);
    if (bad && !bad.ok) throw new Error(`${bad.code}: ${bad.message}`);
  }
}

async function buildCache(file: string): Promise<{ entriesPerSecond: number }> {
  const building = `${file}.building`;
  for (const f of [building, `${building}-wal`, `${building}-shm`]) rmSync(f, { force: true });
  const store = SqliteLedgerStore.open(building, { create: true, synchronous: 'NORMAL' });
  const ledger = new Ledger(store);
  await ledger.initialise(CHART, FIRST_DATE);
  const perDay = Math.ceil(ENTRIES / DAYS);
  const started = performance.now();
  for (let day = 0; day < DAYS; day++) {
    await post(store, day * perDay, Math.min(ENTRIES, (day + 1) * perDay), Date.now());
    if (day < DAYS - 1) {
      const r = await ledger.cutoff();
      if ('ok' in r) throw new Error(r.message);
    }
    log(`built day ${day + 1}/${DAYS}: ${Math.min(ENTRIES, (day + 1) * perDay)} entries`);
  }
  const seconds = (performance.now() - started) / 1000;
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  await store.close();
  renameSync(building, file);
  return { entriesPerSecond: Math.round(ENTRIES / seconds) };
}

async function postingRate(dir: string): Promise<number> {
  const store = SqliteLedgerStore.open(path.join(dir, 'rate.db'), { create: true });
  await new Ledger(store).initialise(CHART, FIRST_DATE);
  await post(store, 0, 2_000, Date.now()); // warm-up
  const started = performance.now();
  await post(store, 2_000, 2_000 + RATE_ENTRIES, Date.now());
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  return Math.round(RATE_ENTRIES / seconds);
}

async function main(): Promise<void> {
  const cache = path.join(os.tmpdir(), `settle-dayend-v${CACHE_VERSION}-${ENTRIES}e-${DAYS}d.db`);
  let build: { entriesPerSecond: number } | null = null;
  if (!existsSync(cache)) {
    log(`building ${cache} (once; later runs reuse it)…`);
    build = await buildCache(cache);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'settle-dayend-'));
  try {
    const work = path.join(dir, 'work.db');
    copyFileSync(cache, work);
    const store = SqliteLedgerStore.open(work);
    const open = await store.openDay();
    if (open === undefined) throw new Error('the cached ledger has no open day');
    const config = parseTrialBalanceConfig({});
    if (!config.success) throw new Error('trial balance defaults');

    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const cut = await runJob({ store: new SqliteJobRunStore(store.db), clock: Date.now }, 'cutoff', open, async () => {
      const r = await new Ledger(store).cutoff(open);
      if ('ok' in r) throw new Error(r.message);
      return { result: r, outcome: 'succeeded' };
    });
    const t1 = performance.now();
    const tb = await runJob({ store: new SqliteJobRunStore(store.db), clock: Date.now }, 'trial-balance', open, async () => {
      const out = await runTrialBalance(sqliteTrialBalanceReader(store.db), open, config.data);
      if (!out.ok) throw new Error(out.message);
      return { result: out.report, outcome: out.report.findingsTotal === 0 ? 'succeeded' : 'findings' };
    });
    const t2 = performance.now();
    const cpu = process.cpuUsage(c0);
    const dayEntries = Number((store.db.prepare('SELECT COUNT(*) AS n FROM entries WHERE business_date = ?').get(open) as { n: bigint }).n);
    await store.close();
    if (tb.result.findingsTotal !== 0) throw new Error(`trial balance found ${tb.result.findingsTotal} problem(s): ${JSON.stringify(tb.result.findings.slice(0, 3), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);

    log('measuring the raw posting rate…');
    const rate = await postingRate(dir);
    const result = {
      entries: ENTRIES,
      accounts: CHANNELS + MERCHANTS,
      days: DAYS,
      day_cut: open,
      day_entries: dayEntries,
      accounts_snapshotted: cut.result.accountsSnapshotted,
      cutoff_ms: Math.round(t1 - t0),
      trial_balance_ms: Math.round(t2 - t1),
      cutoff_plus_trial_balance_ms: Math.round(t2 - t0),
      /** CPU time of this process over both (user + system): what a busy, shared machine cannot inflate. */
      cutoff_plus_trial_balance_cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
      load_average_1m: Number(os.loadavg()[0]?.toFixed(2)),
      target_ms: TARGET_MS,
      within_target: t2 - t0 <= TARGET_MS,
      posting_rate_entries_per_s: rate,
      posting_rate_note: `SqliteLedgerStore.postEntries, ${LIMITS.commandsPerBatchMax} per transaction, synchronous=FULL, ${RATE_ENTRIES} entries`,
      build_entries_per_s: build?.entriesPerSecond ?? null,
    };
    if (JSON_OUT) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(
        [
          `day end on ${ENTRIES.toLocaleString('en')} entries over ${(CHANNELS + MERCHANTS).toLocaleString('en')} accounts (${DAYS} days; day ${open} holds ${dayEntries.toLocaleString('en')})`,
          `  cutoff                 ${result.cutoff_ms} ms  (${result.accounts_snapshotted} accounts snapshotted)`,
          `  trial balance          ${result.trial_balance_ms} ms  (all checks hold)`,
          `  cutoff + trial balance ${result.cutoff_plus_trial_balance_ms} ms  (target ≤ ${TARGET_MS} ms: ${result.within_target ? 'met' : 'MISSED'}); CPU ${result.cutoff_plus_trial_balance_cpu_ms} ms; load average ${result.load_average_1m} on ${os.cpus().length} CPUs`,
          `  ledger posting rate    ${rate.toLocaleString('en')} entries/s  (${result.posting_rate_note})`,
          ...(build ? [`  cache build            ${build.entriesPerSecond.toLocaleString('en')} entries/s (synchronous=NORMAL)`] : []),
        ].join('\n') + '\n',
      );
    }
    if (!result.within_target) process.exitCode = 2;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
