// The measured child of bench/recon.bench.ts: one `runDay` (the code of `settle recon run`) on a copy of
// the template database, its result and peak RSS (VmHWM) as one JSON line on stdout.
//
// Plain JavaScript, so that it runs on bare node like `settle`: run as TypeScript, the child needed tsx,
// whose module hooks run on a thread of their own — an isolate of ~30 MiB that `settle` does not have,
// counted in every peak (session 13). The product's modules come from the tree given: its dist/ (as
// `settle` runs them), or its src/ (BENCH_FROM=src, when the parent starts this under tsx).
//
//   node bench/recon-child.mjs ROOT DB CHANNEL_JSON DATE FILE
//
// ROOT: a tree's dist/ or src/; CHANNEL_JSON: the channel's recon config (channel, format, currency,
// suspense_days). BENCH_PARSE_ON_WORKER=always parses a small file on the worker threads too;
// BENCH_MEMORY=1 writes the heap and RSS at each step to stderr.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const [root, dbPath, channelJson, businessDate, file] = process.argv.slice(2);
if (!root || !dbPath || !channelJson || !businessDate || !file) {
  process.stderr.write('usage: node bench/recon-child.mjs ROOT DB CHANNEL_JSON DATE FILE\n');
  process.exit(64);
}
const ext = path.basename(root) === 'src' ? '.ts' : '.js';
const load = async (rel) => import(pathToFileURL(path.join(root, rel + ext)).href);

function vmHwmKiB() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

function memo(step) {
  if (process.env['BENCH_MEMORY'] !== '1') return;
  globalThis.gc?.();
  const m = process.memoryUsage();
  const mb = (n) => (n / 1048576).toFixed(0);
  process.stderr.write(`  ${step}: rss ${mb(m.rss)} heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} external ${mb(m.external)} arrayBuffers ${mb(m.arrayBuffers)} MiB\n`);
}

const [run, reconStore, ledgerStore] = await Promise.all([load('batch/recon/run'), load('batch/recon/sqlite/recon-store'), load('ledger/sqlite/store')]);
const cpu0 = process.cpuUsage();
const started = performance.now();
const ledger = ledgerStore.SqliteLedgerStore.open(dbPath, { synchronous: 'NORMAL' });
const store = new reconStore.SqliteReconStore(ledger);
const openMs = Math.round(performance.now() - started);
const phases = { importMs: 0, loadedMs: 0, matchedMs: 0, storedMs: 0 };
const result = await run.runDay(
  store,
  { channel: { ...JSON.parse(channelJson), source: undefined, mapping: undefined }, businessDate, file },
  {
    clock: () => Math.round(performance.now()),
    fetch: () => Promise.reject(new Error('bench: no fetch')),
    ...(process.env['BENCH_PARSE_ON_WORKER'] === 'always' ? { parseOnWorker: 'always' } : {}),
    onImportProgress: (e) => {
      phases.importMs = e.elapsedMs;
      memo(`import ${e.rows}`);
    },
    onProgress: (e) => {
      memo(e.kind);
      if (e.kind === 'loaded') phases.loadedMs = e.elapsedMs;
      else if (e.kind === 'matched') phases.matchedMs = e.elapsedMs;
      else phases.storedMs = e.elapsedMs;
    },
  },
);
const runMs = Math.round(performance.now() - started);
await ledger.close();
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `${JSON.stringify({
    rows: result.imported.file.rows,
    elapsedMs: Math.round(performance.now() - started),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    hwmKiB: vmHwmKiB(),
    ...phases,
    openMs,
    runMs,
    counts: result.matched.counts,
  })}\n`,
);
