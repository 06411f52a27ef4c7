// Crash safety of the SQLite ledger store: a child process posts random batches through
// store.postEntries() and is killed with SIGKILL at a random moment while it writes. After each kill
// the database is reopened and must hold every acknowledged entry exactly once, nothing half-written,
// an intact hash chain and counters equal to the sum of the postings. One scenario chains three
// writers (crash, crash, clean stop) over the same file, each re-submitting what the previous one had
// in flight, to show the file recovers and keeps taking writes without duplicates.
//
// CRASH_RUNS=n  number of kill runs (default 50 with CI set, else 8)
// CRASH_SEED=s  base seed ([A-Za-z0-9]+); every run's seed is in its test name, so
//               CRASH_SEED=<base> CRASH_RUNS=<i+1> replays run i's command stream (not its kill moment)
// CRASH_KEEP=1  keep the temporary directories for inspection
//
// What this proves and what it does not: SIGKILL kills the process, not the machine; the OS page
// cache survives, so this tests atomicity (a transaction is all or nothing across a process death)
// and that an ACK is only sent after COMMIT. It does not test fsync ordering under power loss.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it, type ExpectStatic } from 'vitest';
import { Ledger, type JournalEntry, type VerifyReport } from '../src/ledger/index.js';
import { parseChart } from '../src/ledger/chart-config.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { CNY_ACCOUNTS, completeLines, FLAGGED, USD_ACCOUNTS } from './fixtures/crash-writer.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WRITER = join(ROOT, 'test', 'fixtures', 'crash-writer.ts');
const RUNS = Number(process.env['CRASH_RUNS'] ?? (process.env['CI'] ? 50 : 8));
const BASE_SEED = process.env['CRASH_SEED'] ?? Math.floor(Math.random() * 36 ** 6).toString(36);
const KEEP = process.env['CRASH_KEEP'] === '1';
const KILL_DELAY_MS = { min: 150, max: 900 } as const;
/** The writer's batch size cap: at most one batch can be committed and not yet acknowledged. */
const BATCH_MAX = 200;
const FIRST_ACK_TIMEOUT_MS = 30_000;
const RUN_TIMEOUT_MS = 120_000;

if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`CRASH_RUNS must be a positive integer, got ${String(process.env['CRASH_RUNS'])}`);
if (!/^[A-Za-z0-9]+$/.test(BASE_SEED)) throw new Error(`CRASH_SEED must match [A-Za-z0-9]+, got ${BASE_SEED}`);

// ---- the ledger every run starts from ----

const ACCOUNT_TABLE: readonly [id: string, subject: string, ownerKind: string, ownerId: string, currency: string][] = [
  ['ch.wx', '1122', 'channel', 'wx', 'CNY'],
  ['ch.ali', '1122', 'channel', 'ali', 'CNY'],
  ['ch.card', '1122', 'channel', 'card', 'USD'],
  ['m.M1', '2202', 'merchant', 'M1', 'CNY'],
  ['m.M2', '2202', 'merchant', 'M2', 'CNY'],
  ['m.M3', '2202', 'merchant', 'M3', 'CNY'],
  ['m.M9', '2202', 'merchant', 'M9', 'USD'],
  ['u.U1', '2241', 'user', 'U1', 'CNY'],
  ['u.U2', '2241', 'user', 'U2', 'CNY'],
  ['fee.CNY', '6051', 'platform', 'fee', 'CNY'],
  ['fee.USD', '6051', 'platform', 'fee', 'USD'],
];

const CHART = parseChart({
  subjects: [
    { code: '1122', name: 'Channel receivable', type: 'asset' },
    { code: '2202', name: 'Merchant payable', type: 'liability' },
    { code: '2241', name: 'User balance', type: 'liability' },
    { code: '6051', name: 'Fee revenue', type: 'revenue' },
  ],
  accounts: ACCOUNT_TABLE.map(([account_id, subject, owner_kind, owner_id, currency]) => ({
    account_id,
    subject,
    owner_kind: owner_kind as 'channel',
    owner_id,
    currency,
    flags: account_id === FLAGGED ? ['debits_must_not_exceed_credits' as const] : [],
  })),
});

async function createLedger(dbPath: string): Promise<void> {
  const store = SqliteLedgerStore.open(dbPath, { create: true });
  try {
    await new Ledger(store).initialise(CHART, '2026-11-26');
  } finally {
    await store.close();
  }
}

// ---- small deterministic randomness for kill delays and seeds ----

function hashSeed(seed: string): () => number {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  return () => {
    h = Math.imul(h ^ (h >>> 15), 2246822507) + 0x6d2b79f5;
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return ((h ^= h >>> 16) >>> 0) / 4294967296;
  };
}

function killDelay(seed: string): number {
  return KILL_DELAY_MS.min + Math.floor(hashSeed(seed)() * (KILL_DELAY_MS.max - KILL_DELAY_MS.min + 1));
}

// ---- running a writer ----

interface RetryResult {
  readonly id: string;
  readonly ok: boolean;
  readonly replayed: boolean;
  readonly code: string | null;
}

interface WriterRun {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** One array of acknowledged ids per complete ACK line. */
  readonly acks: readonly (readonly string[])[];
  readonly retries: readonly (readonly RetryResult[])[];
  /** Batches the writer had started posting (its `POST n` lines on stderr). */
  readonly batchesStarted: number;
  readonly diagnostics: string;
  readonly killDelayMs: number | null;
}

/** Writers not yet reaped: killed in afterAll if a test timed out while one was running. */
const liveWriters = new Set<ChildProcess>();

function runWriter(
  dbPath: string,
  seed: string,
  options: { readonly args?: readonly string[]; readonly killDelayMs?: number },
): Promise<WriterRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dbPath, seed, ...(options.args ?? [])], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    liveWriters.add(child);
    let stdout = '';
    let stderr = '';
    let firstAck = false;
    let killTimer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer ${seed} sent no ACK within ${FIRST_ACK_TIMEOUT_MS} ms; stderr:\n${stderr}`));
    }, FIRST_ACK_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      // The kill clock starts at the first ACK of a new batch: ACKs of re-submitted batches (each after its
      // RETRY line) do not count, so a slow start-up cannot leave a generation without a batch of its own.
      if (!firstAck && countLines(stdout, 'ACK') > countLines(stdout, 'RETRY')) {
        firstAck = true;
        clearTimeout(guard);
        const delay = options.killDelayMs;
        if (delay !== undefined) killTimer = setTimeout(() => child.kill('SIGKILL'), delay);
      }
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      liveWriters.delete(child);
      clearTimeout(guard);
      if (killTimer !== undefined) clearTimeout(killTimer);
      const acks: string[][] = [];
      const retries: RetryResult[][] = [];
      for (const line of completeLines(stdout)) {
        const m = /^(ACK|RETRY) (.*)$/.exec(line);
        if (!m) {
          reject(new Error(`writer ${seed} wrote an unexpected line: ${line.slice(0, 200)}`));
          return;
        }
        if (m[1] === 'ACK') acks.push(JSON.parse(m[2] ?? '') as string[]);
        else retries.push(JSON.parse(m[2] ?? '') as RetryResult[]);
      }
      const errLines = stderr.split('\n');
      resolvePromise({
        exitCode,
        signal,
        acks,
        retries,
        batchesStarted: errLines.filter((l) => /^POST \d+$/.test(l)).length,
        diagnostics: errLines.filter((l) => l.length > 0 && !/^POST \d+$/.test(l)).join('\n'),
        killDelayMs: options.killDelayMs ?? null,
      });
    });
  });
}

function countLines(text: string, tag: 'ACK' | 'RETRY'): number {
  return completeLines(text).filter((l) => l.startsWith(`${tag} `)).length;
}

// ---- inspecting the database after a crash ----

interface Inspection {
  readonly report: VerifyReport;
  readonly journal: readonly JournalEntry[];
  readonly countById: ReadonlyMap<string, number>;
  readonly integrity: string;
  readonly foreignKeyProblems: number;
  /** Acknowledged ids not stored exactly once (by readJournal), or not found by getEntry. */
  readonly missing: readonly string[];
}

async function inspect(dbPath: string, acked: ReadonlySet<string>, lastAck?: readonly string[]): Promise<Inspection> {
  const store = SqliteLedgerStore.open(dbPath, { synchronous: 'FULL' });
  try {
    const integrity = (store.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
    const foreignKeyProblems = (store.db.pragma('foreign_key_check') as unknown[]).length;
    const report = await new Ledger(store).verify();
    const journal: JournalEntry[] = [];
    for (;;) {
      const page = await store.readJournal({ afterSeq: journal.at(-1)?.seq ?? 0, limit: 10_000 });
      if (page.length === 0) break;
      journal.push(...page);
    }
    const countById = new Map<string, number>();
    for (const e of journal) countById.set(e.entryId, (countById.get(e.entryId) ?? 0) + 1);
    const missing = [...acked].filter((id) => countById.get(id) !== 1);
    // getEntry goes by the unique index on entry_id, readJournal by the sequence: the index must agree.
    // Every id would cost ~0.1 ms each; the newest ACK line and an even sample of the rest is enough.
    const ids = [...acked];
    const step = Math.max(1, Math.floor(ids.length / 250));
    for (const id of new Set([...ids.filter((_, i) => i % step === 0), ...(lastAck ?? [])])) {
      const e = await store.getEntry(id);
      if (e === undefined || e.entryId !== id || e.postings.length < 2) missing.push(id);
    }
    return { report, journal, countById, integrity, foreignKeyProblems, missing };
  } finally {
    await store.close();
  }
}

type Expect = ExpectStatic;

/** Every check that must hold after any crash, given everything acknowledged so far. */
function expectSound(expect: Expect, inspection: Inspection, acked: ReadonlySet<string>, label: string): { unacked: JournalEntry[] } {
  const { report, journal, countById } = inspection;
  expect(inspection.integrity, `${label}: PRAGMA integrity_check`).toBe('ok');
  expect(inspection.foreignKeyProblems, `${label}: PRAGMA foreign_key_check rows`).toBe(0);
  expect(report.problem, `${label}: verify`).toBeNull();
  expect(report.ok).toBe(true);
  expect(report.entriesChecked).toBe(journal.length);

  // (1) every acknowledged entry is there, exactly once
  expect(inspection.missing, `${label}: acknowledged but not stored exactly once`).toEqual([]);
  expect([...countById.values()].every((n) => n === 1), `${label}: an id stored twice`).toBe(true);

  // (3) nothing partial, and nothing stored beyond the one batch that may have committed before its ACK
  expect(journal.length).toBeGreaterThanOrEqual(acked.size);
  const short = journal.filter((e) => e.postings.length < 2).map((e) => e.entryId);
  expect(short, `${label}: entries with fewer than two postings`).toEqual([]);
  const maxAckedSeq = Math.max(0, ...journal.filter((e) => acked.has(e.entryId)).map((e) => e.seq));
  const unacked = journal.filter((e) => !acked.has(e.entryId));
  expect(
    unacked.filter((e) => e.seq < maxAckedSeq).map((e) => e.entryId),
    `${label}: unacknowledged entries before the last acknowledged one (a batch committed only in part?)`,
  ).toEqual([]);
  expect(unacked.length, `${label}: more unacknowledged entries than one batch holds`).toBeLessThanOrEqual(BATCH_MAX);
  expect(new Set(unacked.map((e) => e.createdAtMs)).size, `${label}: unacknowledged entries from more than one batch`).toBeLessThanOrEqual(1);

  // The state kept beside the immutable entries (holds, reversals) agrees with the journal.
  const byId = new Map(journal.map((e) => [e.entryId, e]));
  const resolvedBy = new Map<string, JournalEntry>();
  for (const e of journal) {
    if (e.holdEntryId !== null) {
      expect(resolvedBy.has(e.holdEntryId), `${label}: hold ${e.holdEntryId} resolved twice`).toBe(false);
      resolvedBy.set(e.holdEntryId, e);
    }
    if (e.reversesEntryId !== null) {
      expect(byId.get(e.reversesEntryId)?.reversedByEntryId, `${label}: reversal link of ${e.entryId}`).toBe(e.entryId);
    }
    if (e.reversedByEntryId !== null) expect(byId.get(e.reversedByEntryId)?.reversesEntryId).toBe(e.entryId);
  }
  const statusOf = { post_pending: 'posted', void_pending: 'voided', expire_pending: 'expired' } as const;
  for (const e of journal.filter((x) => x.kind === 'pending')) {
    const resolver = resolvedBy.get(e.entryId);
    const expected = resolver === undefined ? 'pending' : statusOf[resolver.kind as keyof typeof statusOf];
    expect(e.holdStatus, `${label}: status of hold ${e.entryId}`).toBe(expected);
  }
  return { unacked };
}

function expectKilled(expect: Expect, run: WriterRun, label: string): void {
  expect(run.diagnostics, `${label}: writer stderr`).toBe('');
  expect({ exitCode: run.exitCode, signal: run.signal }, `${label}: the writer must die by our SIGKILL, not on its own`).toEqual({
    exitCode: null,
    signal: 'SIGKILL',
  });
  expect(run.acks.length, `${label}: ACK lines`).toBeGreaterThan(0);
  // The writer prints `POST n` before batch n and its ACK after; so it is at most one ahead.
  expect(run.batchesStarted - (run.acks.length - run.retries.length)).toBeGreaterThanOrEqual(0);
  expect(run.batchesStarted - (run.acks.length - run.retries.length)).toBeLessThanOrEqual(1);
}

const union = (...sets: Iterable<string>[]): Set<string> => new Set(sets.flatMap((s) => [...s]));
const ackedIds = (run: WriterRun): Set<string> => new Set(run.acks.flat());

// ---- bookkeeping for the summary ----

const stats = { runs: 0, inFlightAtKill: 0, committedNotAcked: 0, entries: 0, acked: 0, batches: 0 };
/** Made on first use, so that merely collecting the tests (vitest list) leaves nothing behind. */
let tempRoot: string | undefined;

afterAll(() => {
  for (const child of liveWriters) child.kill('SIGKILL');
  if (!KEEP && tempRoot !== undefined) rmSync(tempRoot, { recursive: true, force: true });
  if (stats.runs > 0) {
    console.log(
      `crash runs: ${stats.runs} (base seed ${BASE_SEED}); killed with a batch inside postEntries: ${stats.inFlightAtKill}; ` +
        `batch committed but not yet acknowledged: ${stats.committedNotAcked}; batches acknowledged: ${stats.batches}; ` +
        `entries stored: ${stats.entries}, acknowledged: ${stats.acked}` +
        (KEEP ? `; kept ${tempRoot}` : ''),
    );
  }
});

function runDir(name: string): string {
  tempRoot ??= mkdtempSync(join(tmpdir(), 'settle-crash-'));
  const dir = join(tempRoot, name);
  mkdirSync(dir);
  return dir;
}

function cleanup(dir: string): void {
  if (!KEEP) rmSync(dir, { recursive: true, force: true });
}

// ---- the tests ----

describe('Given a ledger database written by a child process through the batch path', () => {
  it('Given the writer fixture, When it is imported, Then it only uses accounts the test chart opens', ({ expect }) => {
    const opened = new Map(CHART.accounts.map((a) => [a.accountId, a]));
    for (const id of CNY_ACCOUNTS) expect(opened.get(id)?.currency, id).toBe('CNY');
    for (const id of USD_ACCOUNTS) expect(opened.get(id)?.currency, id).toBe('USD');
    expect(CHART.accounts.filter((a) => a.flags !== 0).map((a) => a.accountId)).toEqual([FLAGGED]);
  });

  describe.concurrent(`When the writer is killed with SIGKILL ${KILL_DELAY_MS.min}–${KILL_DELAY_MS.max} ms after its first ACK`, () => {
    for (let i = 0; i < RUNS; i++) {
      const seed = `${BASE_SEED}r${i}`;
      it(
        `Then run ${i + 1}/${RUNS} (seed ${seed}) reopens with every ACKed entry exactly once, a verified chain and no partial entry`,
        async ({ expect }) => {
          const dir = runDir(seed);
          try {
            const dbPath = join(dir, 'ledger.db');
            await createLedger(dbPath);
            // Every other run checkpoints the WAL often, so some kills land inside a checkpoint.
            const args = i % 2 === 1 ? ['--wal-autocheckpoint=8'] : [];
            const run = await runWriter(dbPath, seed, { args, killDelayMs: killDelay(seed) });
            expectKilled(expect, run, seed);
            const acked = ackedIds(run);
            const inspection = await inspect(dbPath, acked, run.acks.at(-1));
            const { unacked } = expectSound(expect, inspection, acked, seed);

            stats.runs++;
            stats.batches += run.acks.length;
            stats.entries += inspection.journal.length;
            stats.acked += acked.size;
            if (run.batchesStarted > run.acks.length) stats.inFlightAtKill++;
            if (unacked.length > 0) stats.committedNotAcked++;
          } finally {
            cleanup(dir);
          }
        },
        RUN_TIMEOUT_MS,
      );
    }
  });

  it(
    'Given a writer killed mid-batch, When a second writer re-submits its in-flight batches, is killed too, and a third does the same and stops cleanly, Then the file recovers each time with no duplicate and the chain verifies',
    async ({ expect }) => {
      const dir = runDir(`${BASE_SEED}recovery`);
      try {
        const dbPath = join(dir, 'ledger.db');
        const outbox = (n: number): string => join(dir, `outbox-${n}.jsonl`);
        await createLedger(dbPath);
        const seeds = [`${BASE_SEED}g1`, `${BASE_SEED}g2`, `${BASE_SEED}g3`] as const;

        // Generation 1: crash.
        const g1 = await runWriter(dbPath, seeds[0], { args: [`--outbox=${outbox(1)}`], killDelayMs: killDelay(seeds[0]) });
        expectKilled(expect, g1, 'generation 1');
        let acked = ackedIds(g1);
        const after1 = await inspect(dbPath, acked, g1.acks.at(-1));
        expectSound(expect, after1, acked, 'after generation 1');
        const openHoldsAfter1 = after1.journal.filter((e) => e.kind === 'pending' && e.holdStatus === 'pending').length;

        // Generation 2: re-submits what generation 1 may have had in flight, writes on, crashes.
        const g2 = await runWriter(dbPath, seeds[1], {
          args: [`--retry=${outbox(1)}`, `--outbox=${outbox(2)}`],
          killDelayMs: killDelay(seeds[1]),
        });
        expectKilled(expect, g2, 'generation 2');
        expectRetriesIdempotent(expect, g2, after1, 'generation 2');
        acked = union(acked, ackedIds(g2));
        const after2 = await inspect(dbPath, acked, g2.acks.at(-1));
        expectSound(expect, after2, acked, 'after generation 2');
        expect(after2.journal.slice(0, after1.journal.length).map((e) => e.hash)).toEqual(after1.journal.map((e) => e.hash));

        // Generation 3: re-submits generation 2's in-flight batches, writes 10 batches, closes the store and exits.
        const g3 = await runWriter(dbPath, seeds[2], { args: [`--retry=${outbox(2)}`, '--max-batches=10'] });
        expect(g3.diagnostics).toBe('');
        expect({ exitCode: g3.exitCode, signal: g3.signal }).toEqual({ exitCode: 0, signal: null });
        expect(g3.acks.length).toBe(10 + g3.retries.length);
        expectRetriesIdempotent(expect, g3, after2, 'generation 3');
        acked = union(acked, ackedIds(g3));
        const after3 = await inspect(dbPath, acked, g3.acks.at(-1));
        expectSound(expect, after3, acked, 'after generation 3');
        expect(after3.journal.slice(0, after2.journal.length).map((e) => e.hash)).toEqual(after2.journal.map((e) => e.hash));
        // After a clean stop everything stored has been acknowledged, and nothing else.
        expect(new Set(after3.journal.map((e) => e.entryId))).toEqual(acked);

        // The later writers really worked on the recovered file: they resolved holds or reversed entries of generation 1.
        if (openHoldsAfter1 > 0) {
          const linksBack = after3.journal.filter(
            (e) => !e.entryId.startsWith(`s${seeds[0]}.`) && [e.holdEntryId, e.reversesEntryId].some((id) => id?.startsWith(`s${seeds[0]}.`)),
          );
          expect(linksBack.length).toBeGreaterThan(0);
        }
        for (const seed of seeds) expect(after3.journal.some((e) => e.entryId.startsWith(`s${seed}.`)), seed).toBe(true);
      } finally {
        cleanup(dir);
      }
    },
    RUN_TIMEOUT_MS,
  );
});

/**
 * A re-submitted command whose id was stored before the retry replays (ok, replayed, nothing written);
 * one that was not stored is planned afresh and, if ok, written now.
 */
function expectRetriesIdempotent(expect: Expect, run: WriterRun, before: Inspection, label: string): void {
  expect(run.retries.length, `${label}: retried batches`).toBeGreaterThan(0);
  // In order: a batch may carry the same command twice, and the two retried batches may share one.
  const stored = new Set(before.countById.keys());
  for (const r of run.retries.flat()) {
    if (stored.has(r.id)) {
      expect(r, `${label}: retry of stored ${r.id}`).toMatchObject({ ok: true, replayed: true });
    } else if (r.ok) {
      expect(r.replayed, `${label}: retry of unstored ${r.id}`).toBe(false);
      stored.add(r.id);
    }
  }
}
