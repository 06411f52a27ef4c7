// Share statements written on two threads (this one the first half of the date's payments, a worker the
// second) are byte for byte the files of one pass: same names, rows, order and totals, with clawbacks of the
// day's and an earlier day's payments on both sides of the cut (and before the first and after the last
// payment of the date), three currencies (one only in the second half), a party with rows only in the second
// half and one only in the first. A worker that fails (its database path is wrong) or never starts leaves
// the same files, written here, and no part file behind.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { compileSharing } from './config.js';
import { clawBack, splitPayment, type DayCapState, type ShareLine, type SharePayment } from './core.js';
import { SqliteShareStore } from './sqlite.js';
import { HALF_STATE, type StatementHalfJob, type StatementWorkerOptions } from './statement-halves.js';
import { STATEMENT_LIMITS, writeStatements, type StatementLimits } from './statement.js';

const D0 = '2026-11-19';
const D = '2026-11-20';

/** M4's agent A4 only has payments in the first half, M3's agent A3 only in the second (and in EUR). */
const SECTION = {
  agents: [{ id: 'A1' }, { id: 'A2', parent: 'A1' }, { id: 'A3' }, { id: 'A4' }],
  isvs: [{ id: 'I1' }],
  merchants: { M1: { agent: 'A2', isv: 'I1' }, M2: { agent: 'A1' }, M3: { agent: 'A3' }, M4: { agent: 'A4' } },
  rules: [
    { id: 'R1', base: 'fee_net', agent_levels: [{ rate: '0.30' }, { rate: '0.10' }], isv: { rate: '0.05' }, cap_per_payment_minor: '300', merchants: ['M1', 'M2', 'M4'] },
    { id: 'R2', base: 'amount', agent_levels: [{ rate: '0.002' }], merchants: ['M3'] },
  ],
};
const RULES = compileSharing(SECTION, { isMerchant: () => true, products: new Set(['wallet']) });

const TINY: StatementLimits = { partBufferBytes: 300, totalBufferBytes: 900, copyChunkBytes: 7, openPartsMax: 2 };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

function payment(i: number, earlier: boolean): SharePayment {
  const secondHalf = i > 20;
  const merchant = i % 3 === 0 ? 'M1' : i % 3 === 1 ? 'M2' : secondHalf ? 'M3' : 'M4';
  const currency = merchant === 'M3' ? 'EUR' : i % 4 === 0 ? 'USD' : 'CNY';
  const feeMinor = BigInt(((i * 7919) % 20_000) + 1);
  return { paymentId: `P${String(i).padStart(4, '0')}${earlier ? 'e' : ''}`, merchantId: merchant, product: 'wallet', currency, amountMinor: feeMinor * 100n, feeMinor, costMinor: feeMinor / 3n };
}

/** 40 payments on D (P0001-P0040), earlier ones on D0 between and around them, and refunds on D of both. */
function day(store: SqliteShareStore): void {
  const today = Array.from({ length: 40 }, (_, i) => payment(i + 1, false));
  const earlier = [0, 10, 30, 41].map((i) => payment(i, true));
  for (const [date, payments] of [
    [D0, earlier],
    [D, today],
  ] as const) {
    const caps: DayCapState = new Map();
    store.writeSplits(
      date,
      payments.map((p) => splitPayment(RULES, p, 0n, caps)),
    );
  }
  const clawbacks: ShareLine[] = [];
  for (const [p, date] of [...today.filter((_, i) => i % 3 === 0).map((p) => [p, D] as const), ...earlier.map((p) => [p, D0] as const)]) {
    const lines = store.paymentLines(p.paymentId, date);
    const half = p.amountMinor / 2n;
    const refund = { paymentId: p.paymentId, merchantId: p.merchantId, currency: p.currency, paymentAmountMinor: p.amountMinor };
    clawbacks.push(...clawBack({ ...refund, refundId: `F${p.paymentId}-0`, amountMinor: half, refundedBeforeMinor: 0n }, lines));
    clawbacks.push(...clawBack({ ...refund, refundId: `F${p.paymentId}-1`, amountMinor: p.amountMinor - half, refundedBeforeMinor: half }, lines));
  }
  store.writeLines(D, clawbacks);
}

/** A day in a database file, its store (and one reading splits 3 payments a page), and a directory. */
function fixture(): { ledger: SqliteLedgerStore; store: SqliteShareStore; paged: SqliteShareStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'share-halves-'));
  const ledger = SqliteLedgerStore.open(join(dir, 'settle.db'), { create: true });
  cleanup.push(async () => {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const store = new SqliteShareStore(ledger);
  day(store);
  return { ledger, store, paged: new SqliteShareStore(ledger, { splitPagePayments: 3 }), dir };
}

/** Every file of a directory: name → bytes. */
const contents = (dir: string): Map<string, string> => new Map(readdirSync(dir).sort().map((name) => [name, readFileSync(join(dir, name), 'latin1')]));

const forced = (counted: { here: number; worker: number }, more: StatementWorkerOptions = {}): StatementWorkerOptions => ({ workerPaymentsMin: 1, spareCore: () => true, workerStartWaitMs: 30_000, counted, ...more });

describe('share statements on two threads', () => {
  it('Given a day with parties and currencies on either side of the cut and clawbacks around it, When written by this thread and a worker (default and tiny buffers, pages of 3), Then the files equal one pass byte for byte', { timeout: 60_000 }, () => {
    const { store, paged, dir } = fixture();
    const one = writeStatements(store, D, join(dir, 'one'));
    const expected = contents(join(dir, 'one'));
    expect(one.map((f) => f.partyId)).toEqual(['A1', 'A2', 'A3', 'A4', 'I1', 'platform']);
    const a3 = expected.get(`share-${D}-A3.csv`) ?? '';
    expect(a3).toContain(',refund,');
    expect(a3).not.toMatch(/,P00(0\d|1\d|20),/); // only the second half
    expect(expected.get(`share-${D}-A4.csv`)).not.toMatch(/,P00(2[1-9]|3\d|40),/); // only the first half
    expect(expected.get(`share-${D}-platform.csv`)).toMatch(/,total,,,,CNY,.*\r\n.*,total,,,,EUR,.*\r\n.*,total,,,,USD,/);

    for (const [name, limits, reader] of [
      ['two', STATEMENT_LIMITS, store],
      ['tiny', TINY, paged],
    ] as const) {
      const counted = { here: 0, worker: 0 };
      const files = writeStatements(reader, D, join(dir, name), limits, forced(counted));
      expect(counted).toEqual({ here: 0, worker: 1 });
      expect(files.map((f) => [f.partyId, f.lines, f.path.replace(`/${name}/`, '/one/')])).toEqual(one.map((f) => [f.partyId, f.lines, f.path]));
      expect(contents(join(dir, name))).toEqual(expected); // no part file left
    }
  });

  it('Given a worker that cannot open the database, When written, Then this thread writes the second half and the files equal one pass', { timeout: 60_000 }, () => {
    const { ledger, store, dir } = fixture();
    writeStatements(store, D, join(dir, 'one'));
    const wrongPath = new SqliteShareStore(SqliteLedgerStore.attach(openSqlite(ledger.path), join(dir, 'missing', 'settle.db')));
    const counted = { here: 0, worker: 0 };
    const reasons: string[] = [];
    writeStatements(wrongPath, D, join(dir, 'failed'), STATEMENT_LIMITS, forced(counted, { onWorkerFailed: (r) => reasons.push(r) }));
    expect(counted).toEqual({ here: 1, worker: 0 });
    expect(reasons).toEqual([expect.stringContaining('missing')]);
    expect(contents(join(dir, 'failed'))).toEqual(contents(join(dir, 'one')));
  });

  it('Given a worker that never starts, When written, Then this thread takes the second half once its wait is over, and the files equal one pass', () => {
    const { store, dir } = fixture();
    writeStatements(store, D, join(dir, 'one'));
    const silent = Object.assign(Object.create(store) as SqliteShareStore, { startStatementWorker: () => true });
    const counted = { here: 0, worker: 0 };
    writeStatements(silent, D, join(dir, 'silent'), STATEMENT_LIMITS, forced(counted, { workerStartWaitMs: 50 }));
    expect(counted).toEqual({ here: 1, worker: 0 });
    expect(contents(join(dir, 'silent'))).toEqual(contents(join(dir, 'one')));
  });

  it('Given a worker taken back after it began its part files, When written, Then this thread writes the half and returns only once the worker has removed them', { timeout: 60_000 }, () => {
    const { store, dir } = fixture();
    writeStatements(store, D, join(dir, 'one'));
    // A stand-in worker: claims the half, leaves a part file, and removes it 300 ms after it sees the take-back.
    const slow = Object.assign(Object.create(store) as SqliteShareStore, {
      startStatementWorker: (job: StatementHalfJob): boolean => {
        const code = `const { workerData: w } = require('node:worker_threads');
          const fs = require('node:fs');
          const s = new Int32Array(w.state);
          const { OWNER, DONE, FREE, WORKER } = w.at;
          if (Atomics.compareExchange(s, OWNER, FREE, WORKER) === FREE) {
            fs.mkdirSync(w.dir, { recursive: true });
            const part = w.dir + '/share-' + w.date + '-A1.csv.w.0.tmp';
            fs.writeFileSync(part, 'half');
            Atomics.notify(s, OWNER);
            while (Atomics.load(s, OWNER) === WORKER) Atomics.wait(s, OWNER, WORKER, 5);
            setTimeout(() => { fs.rmSync(part); Atomics.store(s, DONE, 1); Atomics.notify(s, DONE); }, 300);
          }`;
        new Worker(code, { eval: true, workerData: { state: job.state, dir: job.dir, date: job.businessDate, at: HALF_STATE } }).unref();
        job.port.close();
        return true;
      },
    });
    const counted = { here: 0, worker: 0 };
    writeStatements(slow, D, join(dir, 'back'), STATEMENT_LIMITS, forced(counted, { stallMs: 0 }));
    expect(counted).toEqual({ here: 1, worker: 0 });
    // Checked at once: the process could end here, and the worker does not keep it alive.
    expect(contents(join(dir, 'back'))).toEqual(contents(join(dir, 'one')));
  });

  it('Given a day below the gate, or no core to spare, When written, Then no worker starts', () => {
    const { store, dir } = fixture();
    const counted = { here: 0, worker: 0 };
    writeStatements(store, D, join(dir, 'small'), STATEMENT_LIMITS, { spareCore: () => true, counted });
    writeStatements(store, D, join(dir, 'busy'), STATEMENT_LIMITS, { workerPaymentsMin: 1, spareCore: () => false, counted });
    expect(counted).toEqual({ here: 0, worker: 0 });
    expect(store.paymentsCut(D, 41, 0.5)).toBeNull();
    expect(store.paymentsCut(D, 40, 0.5)).toBe('P0020');
  });
});
