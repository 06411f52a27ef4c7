// Reconciliation end to end (decode, parse, import, match, store results), rows per second and peak RSS,
// beside the bare csv-parse rate on the same WeChat file.
//
//   npm run bench:recon                      100k and 1M rows
//   BENCH_ROWS=20000 npm run bench:recon     one small size (smoke run); a comma list runs several
//   BENCH_PARSE_ON_WORKER=always              parse below 8 MiB on the worker threads too (as a large file is)
//   npm run bench:recon -- --json            one JSON object on stdout (progress goes to stderr)
//
// Inputs are generated once and cached under os.tmpdir()/settle-bench-recon-v<VERSION>/<rows>/: a WeChat
// ALL bill (UTF-8 csv) and an Alipay 业务明细 zip (GBK), written with the channel simulator's own writers,
// and a template database whose online `payments` table holds the matching orders of both channels
// (bulk INSERTs through the SQLite adapter, not the HTTP API). A few hundred differences are injected:
// an amount off by a fen, a row missing from the file, an order we failed, a fee we expected differently,
// and a file row we never had. Each measured run copies the template and runs `runDay` (the code of
// `settle recon run`) in a child process (bench/recon-child.mjs), so peak RSS (VmHWM) is that child's alone.
// The child is plain JavaScript on bare node and runs the compiled product in dist/, as `settle` does
// (`npm run bench:recon` builds it first). Until session 13 it ran under tsx, whose loader thread added
// ~30 MiB to every peak: figures before then are that much higher. BENCH_FROM=src runs the TypeScript
// through tsx instead (slower: tsx's start-up, in the worker threads too).

import { spawnSync } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse';
import type { ReconChannelConfig } from '../src/batch/recon/config.js';
import type { OutcomeCounts } from '../src/batch/recon/match.js';
import { SqliteReconStore } from '../src/batch/recon/sqlite/recon-store.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { nextDate } from '../src/ledger/index.js';
import { alipayEntryNames, alipayRowOf, AlipayTradeBillWriter, alipayZipName } from '../src/online/channel-sim/bills/alipay.js';
import type { BillRow } from '../src/online/channel-sim/bills/rows.js';
import { FileOut, TextOut } from '../src/online/channel-sim/bills/sinks.js';
import { gbk, LocalClock, utf8 } from '../src/online/channel-sim/bills/text.js';
import { WechatTradeBillWriter, wechatRowOf } from '../src/online/channel-sim/bills/wechat.js';
import { wechatFileName } from '../src/online/channel-sim/bills/write-bills.js';
import { ZipWriter } from '../src/online/channel-sim/bills/zip.js';
import { migrateOnline } from '../src/online/sqlite/store.js';

/** Bump when the generated inputs change, so a stale cache is not reused. */
const VERSION = 1;
const DATE = '2026-11-26';
const WECHAT_MCH = '1900012345';
const ALIPAY_ACCOUNT = '20881234567890120156';
const ROWS_MAX = 5_000_000;
/** Every this many orders, one of each injected difference. */
const TROUBLE_EVERY = 4999;

const here = path.dirname(fileURLToPath(import.meta.url));

type ChannelName = 'wechat' | 'alipay';
const CHANNELS: Readonly<Record<ChannelName, Pick<ReconChannelConfig, 'channel' | 'format' | 'currency' | 'suspense_days'>>> = {
  wechat: { channel: 'wechat', format: 'wechat-trade', currency: 'CNY', suspense_days: 0 },
  alipay: { channel: 'alipay', format: 'alipay-trade', currency: 'CNY', suspense_days: 0 },
};

// ---- the generated day ----

const orderId = (channel: ChannelName, i: number): string => `pay_${channel === 'wechat' ? 'w' : 'a'}${String(i).padStart(9, '0')}`;
const amountOf = (i: number): bigint => BigInt(100 + ((i * 7919) % 100_000));
const feeOf = (amountMinor: bigint): bigint => (amountMinor * 6n) / 1000n;
const txnOf = (channel: ChannelName, i: number): string => (channel === 'wechat' ? `4200001${String(i).padStart(21, '0')}` : `2026112622001${String(i).padStart(15, '0')}`);

type Trouble = 'none' | 'amount' | 'drop' | 'failed' | 'fee' | 'extra';
function troubleOf(i: number): Trouble {
  switch (i % TROUBLE_EVERY) {
    case 7:
      return 'amount';
    case 1000:
      return 'drop';
    case 2000:
      return 'failed';
    case 3000:
      return 'fee';
    case 4000:
      return 'extra';
    default:
      return 'none';
  }
}

function billRow(channel: ChannelName, i: number, rows: number, dayStartMs: number, extra: boolean): BillRow {
  const amount = amountOf(i);
  const atMs = dayStartMs + Math.floor((i * 86_000_000) / rows) + 1000;
  return {
    kind: 'payment',
    txnNo: i,
    channelTxnId: extra ? txnOf(channel, i + ROWS_MAX) : txnOf(channel, i),
    merchantOrderNo: extra ? `pay_x${String(i).padStart(9, '0')}` : orderId(channel, i),
    merchantRefundNo: null,
    originalChannelTxnId: null,
    originalTxnNo: null,
    originalAtMs: null,
    atMs,
    completedAtMs: atMs + 2000,
    amountMinor: troubleOf(i) === 'amount' && !extra ? amount + 1n : amount,
    feeMinor: feeOf(amount),
    feeRate: '0.006',
    currency: 'CNY',
    product: 'wallet',
    payerId: `o${String(i % 100_000).padStart(8, '0')}`,
    description: 'bench order',
    status: 'succeeded',
  };
}

/** The rows of the day's file in order: each order (less the dropped), and after a few an extra row we never had. */
function* dayRows(channel: ChannelName, rows: number, dayStartMs: number): Generator<BillRow> {
  for (let i = 0; i < rows; i++) {
    const t = troubleOf(i);
    if (t === 'drop') continue;
    yield billRow(channel, i, rows, dayStartMs, false);
    if (t === 'extra') yield billRow(channel, i, rows, dayStartMs, true);
  }
}

function writeWechat(dir: string, rows: number, clock: LocalClock): string {
  const name = wechatFileName(WECHAT_MCH, DATE);
  const file = new FileOut(path.join(dir, name));
  const writer = new WechatTradeBillWriter(new TextOut(file, utf8));
  for (const r of dayRows('wechat', rows, clock.startOfDayMs(DATE))) writer.add(wechatRowOf(r, WECHAT_MCH, clock));
  writer.finish();
  file.commit();
  return file.path;
}

function writeAlipay(dir: string, rows: number, clock: LocalClock): string {
  const name = alipayZipName(ALIPAY_ACCOUNT, DATE);
  const entries = alipayEntryNames(ALIPAY_ACCOUNT, DATE);
  const file = new FileOut(path.join(dir, name));
  const next = nextDate(DATE);
  const [y = 2026, mo = 1, d = 1] = next.split('-').map(Number);
  const zip = new ZipWriter(file, { year: y, month: mo, day: d, hour: 9, minute: 0, second: 0 });
  const detail = zip.entry(gbk(entries.detail));
  const writer = new AlipayTradeBillWriter(new TextOut(detail, gbk), { account: ALIPAY_ACCOUNT, date: DATE, nextDate: next, exportedAt: `${next} 09:00:00` });
  for (const r of dayRows('alipay', rows, clock.startOfDayMs(DATE))) writer.add(alipayRowOf(r, clock));
  writer.finish();
  detail.end();
  const summary = zip.entry(gbk(entries.summary));
  summary.write(gbk(writer.summaryText()));
  summary.end();
  zip.finish();
  file.commit();
  return file.path;
}

/** Our orders of both channels, as the online core leaves a succeeded (or failed) payment; bulk INSERTs. */
function writeOrders(dbPath: string, rows: number): void {
  const ledgerStore = SqliteLedgerStore.open(dbPath, { create: true, synchronous: 'OFF' });
  try {
    const db = ledgerStore.db;
    migrateOnline(db);
    new SqliteReconStore(ledgerStore);
    const perInsert = 100;
    const one = `(?, 'M100001', ?, 'wallet', ?, 'CNY', ?, ?, ?, ?, ?, ?, 0, 0)`;
    const sql = (n: number): string =>
      `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, channel_txn_id,
         fee_minor, cost_minor, business_date, created_at_ms, updated_at_ms) VALUES ${Array(n).fill(one).join(', ')}`;
    const many = db.prepare(sql(perInsert));
    const single = db.prepare(sql(1));
    const params: unknown[] = [];
    for (const channel of ['wechat', 'alipay'] as const) {
      db.transaction(() => {
        let pending = 0;
        for (let i = 0; i < rows; i++) {
          const t = troubleOf(i);
          const amount = amountOf(i);
          const cost = feeOf(amount) + (t === 'fee' ? 1n : 0n);
          const failed = t === 'failed';
          const id = orderId(channel, i);
          params.push(id, `A-${id}`, amount, failed ? 'failed' : 'succeeded', channel, failed ? null : txnOf(channel, i), (amount * 3n) / 1000n, cost, failed ? null : DATE);
          if (++pending === perInsert) {
            many.run(params);
            params.length = 0;
            pending = 0;
          }
        }
        for (let k = 0; k < pending; k++) single.run(params.slice(k * 9, k * 9 + 9));
        params.length = 0;
      })();
    }
  } finally {
    void ledgerStore.close();
  }
}

interface Inputs {
  readonly wechat: string;
  readonly alipay: string;
  readonly db: string;
}

function inputsFor(rows: number): Inputs {
  const dir = path.join(os.tmpdir(), `settle-bench-recon-v${VERSION}`, String(rows));
  const done = path.join(dir, 'done.json');
  if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as Inputs;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const clock = new LocalClock('Asia/Shanghai');
  const started = Date.now();
  process.stderr.write(`generating ${rows} rows in ${dir} …\n`);
  const wechat = writeWechat(dir, rows, clock);
  const alipay = writeAlipay(dir, rows, clock);
  const db = path.join(dir, 'template.db');
  writeOrders(`${db}.tmp`, rows);
  renameSync(`${db}.tmp`, db);
  for (const suffix of ['-wal', '-shm']) rmSync(`${db}.tmp${suffix}`, { force: true });
  const inputs: Inputs = { wechat, alipay, db };
  writeFileSync(done, JSON.stringify(inputs));
  process.stderr.write(`generated in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return inputs;
}

// ---- the child: one run of `settle recon run`'s code ----

interface ChildResult {
  readonly rows: number;
  readonly elapsedMs: number;
  readonly cpuMs: number;
  readonly hwmKiB: number;
  readonly importMs: number;
  readonly loadedMs: number;
  readonly matchedMs: number;
  readonly storedMs: number;
  /** Opening the database (and migrating it), and runDay's end, from the child's start. */
  readonly openMs: number;
  readonly runMs: number;
  readonly counts: OutcomeCounts;
}

/**
 * BENCH_BASELINE=DIR: also run each size with the bench child of another checkout of settle (e.g.
 * `git archive HEAD src bench package.json tsconfig.json tsconfig.build.json | tar -x -C DIR`, node_modules
 * linked, dist built with `npx tsc -p tsconfig.build.json` there), so a change is compared with what it
 * replaces under the same load, in the same run.
 */
const baselineDir = process.env['BENCH_BASELINE'] ?? '';

function runChild(inputs: Inputs, channel: ChannelName, tree = path.join(here, '..')): ChildResult {
  const work = path.join(os.tmpdir(), `settle-bench-recon-run-${process.pid}.db`);
  const clean = (): void => {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${work}${suffix}`, { force: true });
  };
  clean();
  copyFileSync(inputs.db, work);
  try {
    // This tree's child, on the given tree's modules: a baseline is measured by the same harness.
    const fromSrc = process.env['BENCH_FROM'] === 'src';
    const root = path.join(tree, fromSrc ? 'src' : 'dist');
    if (!fromSrc && !existsSync(path.join(root, 'batch', 'recon', 'run.js'))) {
      throw new Error(`${tree} has no dist/: build it (npx tsc -p tsconfig.build.json there), or run with BENCH_FROM=src`);
    }
    const args = [path.join(here, 'recon-child.mjs'), root, work, JSON.stringify(CHANNELS[channel]), DATE, channel === 'wechat' ? inputs.wechat : inputs.alipay];
    const r = spawnSync(process.execPath, fromSrc ? ['--import', 'tsx', ...args] : args, {
      cwd: tree,
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`bench child (${channel}) exited ${String(r.status ?? r.signal)}`);
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    return JSON.parse(last) as ChildResult;
  } finally {
    clean();
  }
}

/** csv-parse with default options over the decoded WeChat file: records per second (baseline). */
async function csvParseBare(file: string): Promise<{ rows: number; elapsedMs: number }> {
  const started = performance.now();
  let rows = 0;
  const parser = createReadStream(file).pipe(parse({ relax_column_count: true, bom: true }));
  for await (const record of parser) if (record !== undefined) rows++;
  return { rows, elapsedMs: performance.now() - started };
}

// ---- the parent ----

function sizes(): number[] {
  const text = process.env['BENCH_ROWS'];
  if (text === undefined || text === '') return [100_000, 1_000_000];
  const list = text.split(',').map((s) => Number(s.trim()));
  for (const n of list) if (!Number.isInteger(n) || n < 10 || n > ROWS_MAX) throw new Error(`BENCH_ROWS: ${text} is not a list of row counts in 10..${ROWS_MAX}`);
  return list;
}

const mib = (kib: number): string => (kib / 1024).toFixed(0);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const load = (): string =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const say = (s: string): void => void (json ? process.stderr : process.stdout).write(`${s}\n`);
  const cpu = os.cpus();
  const machine = `${cpu[0]?.model ?? 'unknown cpu'}, ${cpu.length} cores, Node ${process.version}, ${os.platform()} ${os.arch()}`;
  const loadBefore = load();
  say(`machine: ${machine}`);
  say(`load average before: ${loadBefore}`);
  const results: { size: number; channel: ChannelName | `${ChannelName} baseline` | 'csv-parse'; rows: number; elapsedMs: number; cpuMs: number | null; hwmKiB: number | null; child?: ChildResult; load1?: string }[] = [];
  for (const size of sizes()) {
    const inputs = inputsFor(size);
    const bare = await csvParseBare(inputs.wechat);
    results.push({ size, channel: 'csv-parse', rows: bare.rows, elapsedMs: bare.elapsedMs, cpuMs: null, hwmKiB: null });
    for (const channel of ['wechat', 'alipay'] as const) {
      // The baseline first and then this tree, one after the other, so both see much the same load.
      if (baselineDir !== '') {
        const load1 = load();
        const b = runChild(inputs, channel, path.resolve(baselineDir));
        results.push({ size, channel: `${channel} baseline`, rows: b.rows, elapsedMs: b.elapsedMs, cpuMs: b.cpuMs, hwmKiB: b.hwmKiB, child: b, load1 });
      }
      const load1 = load();
      const r = runChild(inputs, channel);
      results.push({ size, channel, rows: r.rows, elapsedMs: r.elapsedMs, cpuMs: r.cpuMs, hwmKiB: r.hwmKiB, child: r, load1 });
    }
  }
  const loadAfter = load();
  if (json) {
    process.stdout.write(`${JSON.stringify({ machine, loadBefore, loadAfter, results })}\n`);
    return;
  }
  say('');
  say('| size | run | rows | seconds | CPU s | rows/s | peak RSS MiB | vs csv-parse | import / +load / +match / +store s |');
  say('|--:|---|--:|--:|--:|--:|--:|--:|---|');
  for (const r of results) {
    const bare = results.find((b) => b.size === r.size && b.channel === 'csv-parse');
    const rate = (r.rows * 1000) / r.elapsedMs;
    const bareRate = bare ? (bare.rows * 1000) / bare.elapsedMs : NaN;
    const c = r.child;
    const phases = c ? [c.importMs, c.loadedMs, c.matchedMs, c.storedMs].map((ms) => (ms / 1000).toFixed(1)).join(' / ') : 'parse only';
    say(
      `| ${fmt(r.size)} | ${r.channel === 'csv-parse' ? 'csv-parse bare (wechat file)' : `${r.channel} end to end`} | ${fmt(r.rows)} | ${(r.elapsedMs / 1000).toFixed(1)} | ${r.cpuMs === null ? '–' : (r.cpuMs / 1000).toFixed(1)} | ${fmt(rate)} | ${r.hwmKiB === null ? '–' : mib(r.hwmKiB)} | ${(rate / bareRate).toFixed(2)} | ${phases} |`,
    );
  }
  say('');
  for (const r of results) {
    if (!r.child) continue;
    const c = r.child.counts;
    const types = Object.entries(c.byType)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    say(`${fmt(r.size)} ${r.channel} (load before it ${r.load1 ?? '?'}): matched ${fmt(c.matched)}, suspense ${c.suspense}, discrepancies ${c.discrepancies} (${types})`);
  }
  say(`load average after: ${loadAfter}`);
}

await main();
