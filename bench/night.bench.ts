// Clearing and sharing of one business date as the night chain runs them: `settle clear` and `settle share`
// as child processes of bin/settle.js (the compiled dist, `--json --db F --config C`), on 1,000,000 payments
// across 10,000 merchants brought by 100 agents — the day-end issue's target is clear + share ≤ 10 s.
// The two steps depend only on the cutoff, so the chain may run them at once: each round times them one
// after the other (sequential) and then both spawned together on one database file (at once, SQLite's WAL
// letting one process write while the other reads), each on a fresh copy of the same prepared day.
// Beside the figures, as clear.bench does, the ledger's raw batch posting rate measured in the same run.
//
//   npm run bench:night                      a table for people (builds dist first)
//   npm run bench:night -- --json            one JSON object on stdout (progress goes to stderr)
//
//   BENCH_PAYMENTS=1000000   payments on the day (product quick, channel bank; fee 0.6 %, channel cost 0.38 %)
//   BENCH_ROUNDS=2           rounds of (sequential, at once), alternating so machine noise hits both
//   BENCH_BASELINE=100000    entries in the baseline posting loop (batches of 1,000)
//   BENCH_KEEP_DAY=DIR       prepare the day in DIR and keep it (settle.db, the config), to profile the commands
//
// The day is prepared once in os.tmpdir(): the payments as rows only, a current recon run matching every
// one (so clearing settles without --include-unreconciled), the merchants, the cutoff; the WAL is
// checkpointed and the file closed before it is copied. Copying is not timed; a command's wall is spawn to
// exit, so it includes starting node and loading settle. Beside the pair's wall, its CPU (both children's
// user + system): a pair at once that is no faster than sequential on the same CPU lacked a free core if
// the CPU kept both cores busy, and waited on SQLite's write lock if it did not.
// After every run its end state must equal the first sequential run's — settlement batches, clearing item
// sums, share payments and party days, ledger entries by entry_id with their postings, account counters
// (not seq or hash: interleaved entries get other ones) — and pass PRAGMA integrity_check; any
// difference fails the bench.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { loadConfig } from '../src/cli/config.js';
import { Ledger } from '../src/ledger/index.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { migrateMerchants } from '../src/online/merchants/store.js';
import { migrateOnline } from '../src/online/sqlite/store.js';
import { clearingSection, dayFigures, envInt, insertMatchedReconRun, insertPayments, merchantIdOf, postingBaseline, sharingSection } from './day-setup.js';
import { load1, machineOf } from './machine.js';

const JSON_OUT = process.argv.includes('--json');
const PAYMENTS = envInt('BENCH_PAYMENTS', 1_000_000);
const ROUNDS = envInt('BENCH_ROUNDS', 2);
const BASELINE = envInt('BENCH_BASELINE', 100_000);
const MERCHANTS = 10_000;
const AGENTS = 100;
const D = '2026-11-26';
/** The day-end issue's target for clearing + sharing of the day. */
const TARGET_MS = 10_000;
/** Output kept from a command: its JSON result (clear's lists every batch: a few MiB) and a tail of its stderr. */
const STDOUT_BYTES_MAX = 64 * 1024 * 1024;
const STDERR_TAIL_BYTES = 4096;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'settle.js');
const SAMPLE_CONFIG = path.join(ROOT, 'samples', 'settle.config.json');

const log = (line: string): void => void (JSON_OUT ? process.stderr : process.stdout).write(`${line}\n`);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
/**
 * CPU ms of this process's finished children (Linux: /proc; undefined elsewhere): both commands' CPU, so a
 * pair run at once that is as slow as one after the other shows whether it lacked a core or waited on a lock.
 */
function childrenCpuMs(): number | undefined {
  const stat = '/proc/self/stat';
  if (!existsSync(stat)) return undefined;
  // Fields after the command's closing parenthesis: cutime and cstime are the 16th and 17th of the line, in clock ticks (100 a second).
  const line = readFileSync(stat, 'utf8');
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

// ---- the day ----

interface PreparedDay {
  readonly dbPath: string;
  readonly configPath: string;
  readonly sqliteVersion: string;
  readonly prepareMs: number;
}

/** One closed business date, every payment matched by a current recon run, and the CLI's config file. */
async function prepareDay(dir: string): Promise<PreparedDay> {
  const t0 = performance.now();
  const dbPath = path.join(dir, 'day.db');
  const store = SqliteLedgerStore.open(dbPath, { create: true });
  const ledger = new Ledger(store, () => Date.parse('2026-11-26T01:00:00Z'));
  await ledger.initialise(loadConfig().chart, D);
  migrateOnline(store.db);
  // `settle share` checks that every merchant its rules name is in the merchants table.
  migrateMerchants(store.db);
  const addMerchant = store.db.prepare("INSERT INTO merchants (merchant_id, name, status, legacy_md5, products, created_at_ms) VALUES (?, ?, 'active', 0, 'quick', 0)");
  store.db.transaction(() => {
    for (let m = 0; m < MERCHANTS; m++) addMerchant.run(merchantIdOf(m, MERCHANTS), `Shop ${m}`);
  })();
  // A fee and a channel cost on every payment, so sharing's base (fee net of cost) is positive.
  insertPayments(store.db, {
    date: D,
    payments: PAYMENTS,
    merchants: MERCHANTS,
    product: 'quick',
    figuresOf: dayFigures(38n),
  });
  const blocks = insertMatchedReconRun(store.db, D, PAYMENTS);
  const cut = await ledger.cutoff(D);
  if ('ok' in cut) throw new Error(`bench: cutoff refused: ${cut.code}`);
  const sqliteVersion = store.db.prepare('SELECT sqlite_version()').pluck().get() as string;
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  await store.close();

  const sample = JSON.parse(readFileSync(SAMPLE_CONFIG, 'utf8')) as Record<string, unknown>;
  const configPath = path.join(dir, 'settle.config.json');
  writeFileSync(configPath, JSON.stringify({ ...sample, clearing: clearingSection(MERCHANTS), sharing: sharingSection(MERCHANTS, AGENTS) }));
  const prepareMs = performance.now() - t0;
  log(`prepared ${fmt(PAYMENTS)} payments across ${fmt(MERCHANTS)} merchants, a recon run matching them (${blocks} pair blocks) and the cutoff of ${D} in ${fmt(prepareMs)} ms`);
  return { dbPath, configPath, sqliteVersion, prepareMs };
}

// ---- the commands ----

interface CommandRun {
  readonly command: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderrTail: string;
}

/** `node bin/settle.js --json --db <db> <argv> --config <config>`, as the night chain spawns a step. */
function runSettle(dbPath: string, configPath: string, argv: readonly string[]): Promise<CommandRun> {
  return new Promise((done, fail) => {
    const startMs = performance.now();
    let endMs = startMs;
    const child = spawn(process.execPath, [BIN, '--json', '--db', dbPath, ...argv, '--config', configPath], { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderrTail = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      if (stdout.length < STDOUT_BYTES_MAX) stdout += t;
    });
    child.stderr.setEncoding('utf8').on('data', (t: string) => {
      stderrTail = (stderrTail + t).slice(-STDERR_TAIL_BYTES);
    });
    child.once('error', fail);
    child.once('exit', () => void (endMs = performance.now()));
    child.once('close', (code, signal) => done({ command: argv[0] ?? '', startMs, endMs, exitCode: code ?? (signal === null ? 70 : 128), stdout, stderrTail }));
  });
}

type Mode = 'sequential' | 'at_once';

interface PairRun {
  readonly round: number;
  readonly mode: Mode;
  readonly clearMs: number;
  readonly shareMs: number;
  readonly pairMs: number;
  /** CPU ms both commands used (user + system), when the platform tells. */
  readonly pairCpuMs: number | undefined;
  readonly loadBefore: number;
  readonly clear: Record<string, unknown>;
  readonly share: Record<string, unknown>;
}

function resultOf(r: CommandRun): Record<string, unknown> {
  if (r.exitCode !== 0) throw new Error(`bench: settle ${r.command} exited ${r.exitCode}; its stderr ends:\n${r.stderrTail}\n${r.stdout.slice(0, 2000)}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

async function runPair(round: number, mode: Mode, dbPath: string, configPath: string, outDir: string): Promise<PairRun> {
  const clearArgv = ['clear', '--date', D, '--out', path.join(outDir, 'settlements')];
  const shareArgv = ['share', '--date', D, '--out', path.join(outDir, 'shares')];
  const loadBefore = load1();
  const cpuBefore = childrenCpuMs();
  let clear: CommandRun;
  let share: CommandRun;
  if (mode === 'sequential') {
    clear = await runSettle(dbPath, configPath, clearArgv);
    if (clear.exitCode !== 0) resultOf(clear);
    share = await runSettle(dbPath, configPath, shareArgv);
  } else {
    [clear, share] = await Promise.all([runSettle(dbPath, configPath, clearArgv), runSettle(dbPath, configPath, shareArgv)]);
  }
  return {
    round,
    mode,
    clearMs: clear.endMs - clear.startMs,
    shareMs: share.endMs - share.startMs,
    pairMs: Math.max(clear.endMs, share.endMs) - Math.min(clear.startMs, share.startMs),
    pairCpuMs: cpuBefore === undefined ? undefined : (childrenCpuMs() ?? 0) - cpuBefore,
    loadBefore,
    clear: resultOf(clear),
    share: resultOf(share),
  };
}

// ---- the end state ----

/** What a run leaves behind, part by part, in an order that does not depend on which process wrote first. */
const END_STATE_QUERIES: Readonly<Record<string, string>> = {
  settlement_batches: `SELECT batch_id, merchant_id, business_date, currency, gross_minor, refunds_minor, fees_minor, adjustments_minor, net_minor,
                              carried_in_minor, carried_out_minor, payout_minor, items, status
                         FROM settlement_batches ORDER BY batch_id`,
  clearing_item_sums_by_kind: `SELECT kind, COUNT(*), SUM(amount_minor), SUM(booked_fee_minor), SUM(fee_minor), COUNT(DISTINCT batch_no)
                         FROM clearing_item_rows GROUP BY kind ORDER BY kind`,
  // Each payment with its split and seats resolved, not their ids.
  share_payments: `SELECT p.business_date, p.payment_id, p.merchant_id, p.currency, t.rule_id, t.platform_rate, t.seats,
                          x.base_minor, x.shares, x.clipped, x.platform_share_minor
                     FROM share_payments p JOIN share_tables t ON t.table_id = p.table_id JOIN share_splits x ON x.split_id = p.split_id
                    ORDER BY p.business_date, p.payment_id`,
  share_party_days: `SELECT business_date, party_id, currency, party_kind, lines, share_minor
                       FROM share_party_days ORDER BY business_date, party_id, currency, party_kind`,
  entries: `SELECT e.entry_id, e.kind, e.business_date, e.event_type, e.reference, e.memo, e.metadata, e.fingerprint,
                   p.idx, a.account_id, p.side, p.amount_minor, p.currency
              FROM entries e JOIN postings p ON p.entry_seq = e.seq JOIN accounts a ON a.account_no = p.account_no
             ORDER BY e.entry_id, p.idx`,
  accounts: `SELECT account_id, subject_code, owner_kind, owner_id, currency, status, flags, debits_pending, debits_posted, credits_pending, credits_posted
               FROM accounts ORDER BY account_id`,
};

type EndState = Record<string, { readonly rows: number; readonly sha256: string }>;

function endStateOf(dbPath: string): { state: EndState; integrity: string } {
  const db = new Database(dbPath);
  try {
    db.defaultSafeIntegers(true);
    const state: EndState = {};
    for (const [part, sql] of Object.entries(END_STATE_QUERIES)) {
      const hash = createHash('sha256');
      let rows = 0;
      for (const row of db.prepare(sql).raw(true).iterate() as Iterable<unknown[]>) {
        hash.update(`${row.map((v) => (v === null ? '\u0000' : String(v))).join('\u001f')}\u001e`);
        rows++;
      }
      state[part] = { rows, sha256: hash.digest('hex') };
    }
    const integrity = String(db.pragma('integrity_check', { simple: true }));
    return { state, integrity };
  } finally {
    db.close();
  }
}

function differences(reference: EndState, state: EndState): string[] {
  return Object.keys(END_STATE_QUERIES).flatMap((part) => {
    const a = reference[part];
    const b = state[part];
    return a?.rows === b?.rows && a?.sha256 === b?.sha256 ? [] : [`${part}: ${a?.rows ?? '?'} rows ${a?.sha256.slice(0, 12) ?? ''} vs ${b?.rows ?? '?'} rows ${b?.sha256.slice(0, 12) ?? ''}`];
  });
}

// ---- the bench ----

interface Figures {
  readonly runs: PairRun[];
  readonly baseline: { readonly entries: number; readonly ms: number; readonly entriesPerS: number };
  readonly reference: EndState;
}

async function measure(dir: string, day: PreparedDay): Promise<Figures> {
  const runs: PairRun[] = [];
  let reference: EndState | undefined;
  let baseline: Figures['baseline'] | undefined;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of ['sequential', 'at_once'] as const) {
      const runDir = path.join(dir, `round-${round}-${mode}`);
      const copy = path.join(runDir, 'settle.db');
      rmSync(runDir, { recursive: true, force: true });
      mkdirSync(runDir);
      copyFileSync(day.dbPath, copy);
      const run = await runPair(round, mode, copy, day.configPath, runDir);
      runs.push(run);
      log(`round ${round} ${mode.replace('_', ' ')}: clear ${fmt(run.clearMs)} ms, share ${fmt(run.shareMs)} ms, pair ${fmt(run.pairMs)} ms, CPU ${run.pairCpuMs === undefined ? '?' : fmt(run.pairCpuMs)} ms (load ${run.loadBefore} before)`);
      const { state, integrity } = endStateOf(copy);
      if (integrity !== 'ok') throw new Error(`bench: integrity_check after round ${round} ${mode}: ${integrity}`);
      if (reference === undefined) reference = state;
      const diff = differences(reference, state);
      if (diff.length > 0) throw new Error(`bench: round ${round} ${mode} left another end state than round 1 sequential:\n  ${diff.join('\n  ')}`);
      if (baseline === undefined) {
        // On this run's cleared and shared file, as clear.bench posts after clearing: the merchants' accounts exist.
        const store = SqliteLedgerStore.open(copy);
        try {
          const b = await postingBaseline(store, BASELINE, MERCHANTS, Date.now());
          baseline = { entries: BASELINE, ms: b.ms, entriesPerS: b.entriesPerS };
        } finally {
          await store.close();
        }
        log(`ledger baseline: ${fmt(BASELINE)} entries in batches of 1,000 in ${fmt(baseline.ms)} ms: ${fmt(baseline.entriesPerS)} entries/s`);
      }
      rmSync(runDir, { recursive: true, force: true });
    }
  }
  if (reference === undefined || baseline === undefined) throw new Error('bench: no run');
  return { runs, baseline, reference };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function main(): Promise<void> {
  const loadBefore = load1();
  // BENCH_KEEP_DAY=DIR: prepare the day in DIR (created) and leave it there, to profile the commands on it.
  const keep = process.env['BENCH_KEEP_DAY'];
  if (keep !== undefined && keep !== '') mkdirSync(keep, { recursive: true });
  const dir = keep !== undefined && keep !== '' ? keep : mkdtempSync(path.join(os.tmpdir(), 'settle-night-bench-'));
  try {
    const day = await prepareDay(dir);
    const { runs, baseline, reference } = await measure(dir, day);
    const loadAfter = load1();
    const machine = { ...machineOf(loadBefore, day.sqliteVersion), loadavg: { before: loadBefore, after: loadAfter } };
    const pairs = (mode: Mode): number[] => runs.filter((r) => r.mode === mode).map((r) => r.pairMs);
    const ratios = Array.from({ length: ROUNDS }, (_, i) => {
      const seq = runs.find((r) => r.round === i + 1 && r.mode === 'sequential');
      const once = runs.find((r) => r.round === i + 1 && r.mode === 'at_once');
      return seq && once ? once.pairMs / seq.pairMs : 0;
    });
    const best = { sequential: Math.min(...pairs('sequential')), at_once: Math.min(...pairs('at_once')) };
    const med = { sequential: median(pairs('sequential')), at_once: median(pairs('at_once')) };
    const first = runs[0];
    const counts = {
      batches: Number(first?.clear['batches_written'] ?? 0),
      clear_entries: Number(first?.clear['entries_posted'] ?? 0),
      share_lines: Number(first?.share['lines_written'] ?? 0),
      share_entries: Array.isArray(first?.share['entries']) ? first.share['entries'].length : 0,
    };
    const date = new Date().toISOString();

    if (JSON_OUT) {
      process.stdout.write(
        `${JSON.stringify({
          benchmark: 'night',
          date,
          machine,
          config: { payments: PAYMENTS, merchants: MERCHANTS, agents: AGENTS, rounds: ROUNDS, baseline_entries: BASELINE, business_date: D, prepare_ms: Math.round(day.prepareMs) },
          counts,
          runs: runs.map((r) => ({ round: r.round, mode: r.mode, clear_ms: Math.round(r.clearMs), share_ms: Math.round(r.shareMs), pair_ms: Math.round(r.pairMs), pair_cpu_ms: r.pairCpuMs ?? null, load_before: r.loadBefore })),
          ratios_at_once_vs_sequential: ratios.map((x) => Number(x.toFixed(3))),
          best_pair_ms: { sequential: Math.round(best.sequential), at_once: Math.round(best.at_once) },
          median_pair_ms: { sequential: Math.round(med.sequential), at_once: Math.round(med.at_once) },
          target: { pair_ms_max: TARGET_MS, sequential_met: best.sequential <= TARGET_MS, at_once_met: best.at_once <= TARGET_MS },
          baseline_entries_per_s: baseline.entriesPerS,
          end_state: { identical: true, integrity: 'ok', parts: reference },
        })}\n`,
      );
      return;
    }
    const table = [
      ['round', 'mode', 'clear ms', 'share ms', 'pair ms', 'pair CPU ms', 'cores used', 'load'],
      ...runs.map((r) => [String(r.round), r.mode.replace('_', ' '), fmt(r.clearMs), fmt(r.shareMs), fmt(r.pairMs), ...(r.pairCpuMs === undefined ? ['?', '?'] : [fmt(r.pairCpuMs), (r.pairCpuMs / r.pairMs).toFixed(2)]), r.loadBefore.toFixed(2)]),
    ];
    const widths = (table[0] ?? []).map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
    const line = (cells: readonly string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
    const met = (ms: number): string => (ms <= TARGET_MS ? 'MET' : 'NOT MET');
    console.log('');
    console.log(`date     ${date}`);
    console.log(`machine  ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, SQLite ${machine.sqlite}, ${machine.platform}`);
    console.log(
      `load     1-min load average ${loadBefore} before, ${loadAfter} after` + (loadBefore > machine.cores / 2 || loadAfter > machine.cores ? ' — the machine was busy: figures are noisy' : ''),
    );
    console.log(
      `setup    ${fmt(PAYMENTS)} payments, ${fmt(MERCHANTS)} merchants, ${AGENTS} agents, all matched by recon; each run on a fresh copy (files in ${machine.tmpdir}); ` +
        `clear writes ${fmt(counts.batches)} batches and ${fmt(counts.clear_entries)} entries, share ${fmt(counts.share_lines)} lines and ${fmt(counts.share_entries)} entries`,
    );
    console.log('');
    console.log(line(table[0] ?? []));
    console.log(line(widths.map((w) => '-'.repeat(w))));
    for (const row of table.slice(1)) console.log(line(row));
    console.log('');
    console.log(`ratio    at once / sequential (pair wall), per round: ${ratios.map((x) => x.toFixed(3)).join(', ')}`);
    console.log(`best     sequential ${fmt(best.sequential)} ms, at once ${fmt(best.at_once)} ms (median ${fmt(med.sequential)} / ${fmt(med.at_once)} ms)`);
    console.log(`target   clear + share ≤ ${fmt(TARGET_MS)} ms: sequential ${met(best.sequential)}, at once ${met(best.at_once)}`);
    console.log(`baseline ledger batch path, ${fmt(baseline.entries)} entries in batches of 1,000: ${fmt(baseline.entriesPerS)} entries/s (same run, on round 1's cleared file)`);
    console.log(`check    every run's end state equals round 1 sequential's (${Object.entries(reference).map(([part, s]) => `${part} ${fmt(s.rows)} rows`).join(', ')}); integrity_check ok`);
  } finally {
    if (keep === undefined || keep === '') rmSync(dir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (e) {
  // A failed command or a different end state: the message says which; the stack adds nothing.
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
