// Throughput of the ledger's write path (entries per second), each figure beside a raw SQLite
// baseline measured in the same run on the same schema, pragmas and rows.
//
//   npm run bench:ledger                 a table for people
//   npm run bench:ledger -- --json       one JSON object on stdout (progress goes to stderr)
//   npm run bench:ledger -- --verify     also runs the ledger's own verify (hash chain, counters) at the end
//
//   BENCH_ENTRIES=100000         entries in each batch mode (batches of 100 and of 1,000)
//   BENCH_SINGLE_ENTRIES=2000    entries in the one-entry-per-transaction mode (fsync bound: keep it short)
//   BENCH_SEED=1                 seed of the random workload
//
// Two fresh database files in os.tmpdir(), both created by SqliteLedgerStore.open with
// synchronous=FULL in WAL mode: "ledger" is written through SqliteLedgerStore.postEntries (planning,
// idempotency check, hash chain, counters); "raw" gets the same entries as plain prepared statements on
// the same schema (1 INSERT entries, 2 INSERT postings, 2 UPDATE accounts per entry, constant
// hash/fingerprint): the ceiling. Modes run interleaved (ledger, raw, ledger, raw…) so both databases
// grow alike and machine noise hits both. At the end the two databases must hold identical counters.

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Statement } from 'better-sqlite3';
import { Ledger, type EntryCommand, type PostResult } from '../src/ledger/index.js';
import { parseChart, type LedgerConfigInput } from '../src/ledger/chart-config.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { machineOf } from './machine.js';

// ---- configuration ----

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

const JSON_OUT = process.argv.includes('--json');
const VERIFY = process.argv.includes('--verify');
const BATCH_ENTRIES = envInt('BENCH_ENTRIES', 100_000);
const SINGLE_ENTRIES = envInt('BENCH_SINGLE_ENTRIES', Math.min(2_000, BATCH_ENTRIES));
const SEED = envInt('BENCH_SEED', 1);
const WARMUP_ENTRIES = 2_000;
const PAIRS = 5_000; // user/merchant pairs: 10,000 accounts
const BUSINESS_DATE = '2026-11-26';
const CURRENCY = 'CNY';
const TARGET_EPS = 20_000;
const TARGET_RATIO = 0.25;

const log = (line: string): void => {
  (JSON_OUT ? process.stderr : process.stdout).write(`${line}\n`);
};

// ---- workload ----

/** mulberry32: a small seeded PRNG, so every run (and both databases) get the same entries. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function chartConfig(): LedgerConfigInput {
  const accounts: NonNullable<LedgerConfigInput['accounts']> = [];
  for (let i = 1; i <= PAIRS; i++) {
    const n = String(i).padStart(5, '0');
    // No overdraft flags: random entries never fail for want of funds.
    accounts.push({ subject: '2241', owner_kind: 'user', owner_id: `U${n}`, currency: CURRENCY });
    accounts.push({ subject: '2202', owner_kind: 'merchant', owner_id: `M${n}`, currency: CURRENCY });
  }
  return {
    subjects: [
      { code: '1122', name: 'Channel receivable', type: 'asset' },
      { code: '2202', name: 'Merchant payable', type: 'liability' },
      { code: '2241', name: 'User balance', type: 'liability' },
      { code: '6021', name: 'Fee income', type: 'revenue' },
    ],
    accounts,
  };
}

/** Entry ids are unique across modes: `${tag}-${n}`. Debit one random account, credit another. */
function makeEntries(tag: string, count: number, accountIds: readonly string[], random: () => number): EntryCommand[] {
  const out: EntryCommand[] = [];
  const n = accountIds.length;
  for (let i = 0; i < count; i++) {
    const d = Math.floor(random() * n);
    let c = Math.floor(random() * (n - 1));
    if (c >= d) c++;
    const amountMinor = BigInt(1 + Math.floor(random() * 1_000_000));
    out.push({
      type: 'entry',
      id: `${tag}-${String(i).padStart(7, '0')}`,
      eventType: 'payment',
      postings: [
        { accountId: accountIds[d] as string, side: 'debit', amountMinor, currency: CURRENCY },
        { accountId: accountIds[c] as string, side: 'credit', amountMinor, currency: CURRENCY },
      ],
    });
  }
  return out;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ---- the two writers ----

function checkResults(results: readonly PostResult[], expected: number, where: string): void {
  if (results.length !== expected) throw new Error(`${where}: ${results.length} results for ${expected} commands`);
  for (const r of results) {
    if (!r.ok) throw new Error(`${where}: ${r.code}: ${r.message}`);
    if (r.replayed) throw new Error(`${where}: entry ${r.entryId} was a replay`);
  }
}

async function ledgerWrite(store: SqliteLedgerStore, batches: readonly EntryCommand[][], where: string): Promise<void> {
  for (const batch of batches) {
    checkResults(await store.postEntries(batch, Date.now()), batch.length, where);
  }
}

const RAW_FINGERPRINT = 'f'.repeat(64);
const RAW_HASH = 'a'.repeat(64);

interface RawWriter {
  write(batches: readonly EntryCommand[][]): void;
}

function rawWriter(store: SqliteLedgerStore): RawWriter {
  const db = store.db;
  const accountNo = new Map<string, bigint>();
  for (const row of db.prepare('SELECT account_no, account_id FROM accounts').all() as { account_no: bigint; account_id: string }[]) {
    accountNo.set(row.account_id, row.account_no);
  }
  const insertEntry: Statement = db.prepare(
    `INSERT INTO entries (seq, entry_id, kind, business_date, event_type, reference, memo, metadata, expires_at_ms,
       hold_seq, reverses_seq, fingerprint, created_at_ms, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertPosting: Statement = db.prepare(
    'INSERT INTO postings (entry_seq, idx, account_no, side, amount_minor, currency) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const addDebit: Statement = db.prepare('UPDATE accounts SET debits_posted = debits_posted + ? WHERE account_no = ?');
  const addCredit: Statement = db.prepare('UPDATE accounts SET credits_posted = credits_posted + ? WHERE account_no = ?');
  const lastSeq = db.prepare('SELECT COALESCE(MAX(seq), 0) FROM entries').pluck();
  const no = (accountId: string): bigint => {
    const n = accountNo.get(accountId);
    if (n === undefined) throw new Error(`raw: no account ${accountId}`);
    return n;
  };
  const writeBatch = db.transaction((batch: readonly EntryCommand[], nowMs: number): void => {
    let seq = Number(lastSeq.get() as bigint);
    for (const cmd of batch) {
      seq++;
      insertEntry.run(seq, cmd.id, 'posted', BUSINESS_DATE, cmd.eventType, null, null, null, null, null, null, RAW_FINGERPRINT, nowMs, RAW_HASH);
      cmd.postings.forEach((p, idx) => {
        const n = no(p.accountId);
        insertPosting.run(seq, idx, n, p.side, p.amountMinor, p.currency);
        (p.side === 'debit' ? addDebit : addCredit).run(p.amountMinor, n);
      });
    }
  });
  return {
    write(batches) {
      for (const batch of batches) writeBatch.immediate(batch, Date.now());
    },
  };
}

// ---- measuring ----

interface Figure {
  readonly mode: string;
  readonly writer: 'ledger' | 'raw';
  readonly batchSize: number;
  readonly entries: number;
  readonly seconds: number;
  readonly entriesPerSecond: number;
  readonly msPerTransaction: number;
}

async function measure(
  writer: Figure['writer'],
  batchSize: number,
  entries: readonly EntryCommand[],
  run: (batches: EntryCommand[][]) => void | Promise<void>,
): Promise<Figure> {
  const batches = chunk(entries, batchSize);
  const mode = `${writer} ${batchSize === 1 ? '1/txn' : `batch ${batchSize.toLocaleString('en-US')}`}`;
  log(`  ${mode.padEnd(18)} ${entries.length.toLocaleString('en-US').padStart(9)} entries …`);
  const t0 = performance.now();
  await run(batches);
  const seconds = (performance.now() - t0) / 1000;
  return {
    mode,
    writer,
    batchSize,
    entries: entries.length,
    seconds,
    entriesPerSecond: entries.length / seconds,
    msPerTransaction: (seconds * 1000) / batches.length,
  };
}

function counters(store: SqliteLedgerStore): string[] {
  return (
    store.db
      .prepare('SELECT account_id, debits_posted, credits_posted, debits_pending, credits_pending FROM accounts ORDER BY account_id')
      .all() as Record<string, unknown>[]
  ).map((r) => `${String(r['account_id'])} ${String(r['debits_posted'])} ${String(r['credits_posted'])} ${String(r['debits_pending'])} ${String(r['credits_pending'])}`);
}

function count(store: SqliteLedgerStore, table: 'entries' | 'postings'): number {
  return Number(store.db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as bigint);
}

// ---- main ----

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0] ?? 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'settle-ledger-bench-'));
  const stores: SqliteLedgerStore[] = [];
  try {
    const open = (name: string): SqliteLedgerStore => {
      const store = SqliteLedgerStore.open(path.join(dir, name), { create: true, synchronous: 'FULL' });
      stores.push(store);
      return store;
    };
    const chart = parseChart(chartConfig(), 'bench chart');
    const ledgerStore = open('ledger.db');
    const rawStore = open('raw.db');
    for (const store of [ledgerStore, rawStore]) {
      const init = await new Ledger(store).initialise(chart, BUSINESS_DATE);
      if (init.accountsAdded !== chart.accounts.length) throw new Error(`initialise added ${init.accountsAdded} accounts`);
    }
    const raw = rawWriter(rawStore);
    const accountIds = chart.accounts.map((a) => a.accountId);
    const random = prng(SEED);
    const workload = {
      warmup: makeEntries('warm', WARMUP_ENTRIES, accountIds, random),
      single: makeEntries('one', SINGLE_ENTRIES, accountIds, random),
      batch100: makeEntries('b100', BATCH_ENTRIES, accountIds, random),
      batch1000: makeEntries('b1000', BATCH_ENTRIES, accountIds, random),
    };
    const sqliteVersion = ledgerStore.db.prepare('SELECT sqlite_version()').pluck().get() as string;

    log(`settle ledger write benchmark: ${accountIds.length.toLocaleString('en-US')} accounts, synchronous=FULL, WAL, ${dir}`);
    // Warm-up (not reported): JIT, statement caches, page cache; both databases get the same rows.
    await ledgerWrite(ledgerStore, chunk(workload.warmup, 100), 'warm-up');
    raw.write(chunk(workload.warmup, 100));

    const figures: Figure[] = [];
    for (const [batchSize, entries] of [
      [1, workload.single],
      [100, workload.batch100],
      [1_000, workload.batch1000],
    ] as const) {
      figures.push(await measure('ledger', batchSize, entries, (b) => ledgerWrite(ledgerStore, b, `ledger batch ${batchSize}`)));
      figures.push(await measure('raw', batchSize, entries, (b) => raw.write(b)));
    }

    // Both databases received the same entries: their counters must agree, posting for posting.
    const expectedEntries = WARMUP_ENTRIES + SINGLE_ENTRIES + 2 * BATCH_ENTRIES;
    for (const [name, store] of [['ledger', ledgerStore], ['raw', rawStore]] as const) {
      const e = count(store, 'entries');
      const p = count(store, 'postings');
      if (e !== expectedEntries || p !== 2 * expectedEntries) throw new Error(`${name}: ${e} entries / ${p} postings, expected ${expectedEntries}`);
    }
    const a = counters(ledgerStore);
    const b = counters(rawStore);
    const differing = a.findIndex((line, i) => line !== b[i]);
    if (a.length !== b.length || differing !== -1) throw new Error(`ledger and raw counters differ: ${a[differing]} vs ${b[differing]}`);
    let verified: boolean | undefined;
    if (VERIFY) {
      log('  verifying the ledger (hash chain, balances, counters) …');
      const report = await new Ledger(ledgerStore).verify();
      if (!report.ok) throw new Error(`verify failed: ${JSON.stringify(report.problem)}`);
      verified = true;
    }

    const find = (writer: Figure['writer'], batchSize: number): Figure => {
      const f = figures.find((x) => x.writer === writer && x.batchSize === batchSize);
      if (!f) throw new Error(`no figure for ${writer} ${batchSize}`);
      return f;
    };
    const raw1000 = find('raw', 1_000).entriesPerSecond;
    const ratios = {
      batch1000VsRaw1000: find('ledger', 1_000).entriesPerSecond / raw1000,
      batch100VsRaw1000: find('ledger', 100).entriesPerSecond / raw1000,
      singleVsRaw1: find('ledger', 1).entriesPerSecond / find('raw', 1).entriesPerSecond,
    };
    const bestBatch = Math.max(find('ledger', 100).entriesPerSecond, find('ledger', 1_000).entriesPerSecond);
    const targets = {
      entriesPerSecond: TARGET_EPS,
      ratio: TARGET_RATIO,
      batch1000MeetsRate: find('ledger', 1_000).entriesPerSecond >= TARGET_EPS,
      batch100MeetsRate: find('ledger', 100).entriesPerSecond >= TARGET_EPS,
      batch1000MeetsRatio: ratios.batch1000VsRaw1000 >= TARGET_RATIO,
      met: bestBatch >= TARGET_EPS && ratios.batch1000VsRaw1000 >= TARGET_RATIO,
    };
    const machine = machineOf(loadBefore, sqliteVersion);
    const date = new Date().toISOString();

    if (JSON_OUT) {
      const config = { batchEntries: BATCH_ENTRIES, singleEntries: SINGLE_ENTRIES, warmupEntries: WARMUP_ENTRIES, accounts: accountIds.length, seed: SEED, synchronous: 'FULL', journalMode: 'WAL' };
      process.stdout.write(`${JSON.stringify({ benchmark: 'ledger', date, machine, config, figures, ratios, targets, verified: verified ?? null })}\n`);
      return;
    }
    const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
    const rows = figures.map((f) => [f.mode, fmt(f.entries), fmt(f.seconds, 3), fmt(f.entriesPerSecond), fmt(f.msPerTransaction, 3)]);
    const head = ['mode', 'entries', 'seconds', 'entries/s', 'ms/txn'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
    const pct = (r: number): string => `${(r * 100).toFixed(1)}%`;
    console.log('');
    console.log(`date     ${date}`);
    console.log(`machine  ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, SQLite ${machine.sqlite}, ${machine.platform}`);
    console.log(
      `load     1-min load average ${machine.loadavg.before} before, ${machine.loadavg.after} after` +
        (machine.loadavg.before > machine.cores / 2 || machine.loadavg.after > machine.cores ? ' — the machine was busy: figures are noisy' : ''),
    );
    console.log(`setup    ${fmt(accountIds.length)} accounts, 2 postings/entry, synchronous=FULL, WAL, files in ${machine.tmpdir}`);
    console.log('');
    console.log(line(head));
    console.log(line(widths.map((w) => '-'.repeat(w))));
    for (const r of rows) console.log(line(r));
    console.log('');
    console.log(`ratio    ledger batch 1,000 / raw batch 1,000 = ${ratios.batch1000VsRaw1000.toFixed(3)} (${pct(ratios.batch1000VsRaw1000)})`);
    console.log(`ratio    ledger batch 100   / raw batch 1,000 = ${ratios.batch100VsRaw1000.toFixed(3)} (${pct(ratios.batch100VsRaw1000)})`);
    console.log(`ratio    ledger 1/txn       / raw 1/txn       = ${ratios.singleVsRaw1.toFixed(3)} (${pct(ratios.singleVsRaw1)})`);
    console.log(
      `target   ≥ ${fmt(TARGET_EPS)} entries/s through the batch path and ≥ ${pct(TARGET_RATIO)} of raw: ${targets.met ? 'MET' : 'NOT MET'}` +
        ` (batch 1,000 ${targets.batch1000MeetsRate ? 'meets' : 'misses'} the rate, batch 100 ${targets.batch100MeetsRate ? 'meets' : 'misses'} it)`,
    );
    console.log(`check    ledger and raw databases hold identical counters${verified ? '; ledger verify ok' : ''}`);
  } finally {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
