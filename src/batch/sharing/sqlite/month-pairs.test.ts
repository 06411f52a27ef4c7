// The month's volumes summed in slices on two threads equal one GROUP BY query over the month, row for row and
// in its order: payments of other months, of other statuses, and of the month with row ids outside the
// slices (inserted out of order) included; merchant ids whose UTF-16 order is not SQLite's.

import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteConnection } from '../../../ledger/sqlite/database.js';
import { compareCodePoints, MONTH_PAIRS, monthPairsOf, sumMonthPairs } from './month-pairs.js';

const dir = mkdtempSync(join(tmpdir(), 'settle-month-pairs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The columns of the online core's payments that the sums read. */
const PAYMENTS = `CREATE TABLE payments (payment_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, product TEXT NOT NULL, amount_minor INTEGER NOT NULL,
  status TEXT NOT NULL, business_date TEXT, channel_id TEXT) STRICT;
  CREATE INDEX payments_channel_day ON payments (business_date, channel_id);`;

interface Row {
  readonly rowid: number;
  readonly merchant: string;
  readonly product: string;
  readonly amountMinor: bigint;
  readonly status: string;
  readonly date: string;
}

function database(name: string, rows: readonly Row[]): { db: SqliteConnection; path: string } {
  const path = join(dir, name);
  const db = openSqlite(path, { create: true });
  db.exec(PAYMENTS);
  const insert = db.prepare('INSERT INTO payments (rowid, payment_id, merchant_id, product, amount_minor, status, business_date, channel_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  db.transaction(() => rows.forEach((r, i) => insert.run(r.rowid, `P${i}`, r.merchant, r.product, r.amountMinor, r.status, r.date, i % 3 === 0 ? 'bank' : 'wx')))();
  return { db, path };
}

const MERCHANTS = ['M1', 'M2', 'm', 'Ma', 'M\u00e9', '\uff21', '\u{1f600}', '\ue000'];

describe('month pairs', () => {
  it('Given any two strings, When compared by code points, Then the order is the order of their UTF-8 bytes (SQLite BINARY)', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '\u00e9', '\uff21', '\ue000', '\u{1f600}', '\u{10ffff}'), maxLength: 5 });
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
    );
  });

  it('Given a month of payments spread over row ids, some inserted out of order, When summed in slices on this thread and a worker, Then the rows equal one query, in its order', () => {
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.floor(seed / 65536) % n;
    };
    const rows: Row[] = [];
    for (let i = 0; i < 3_000; i++) {
      rows.push({
        // Most in date order over a wide row id range; every 50th far below or above it.
        rowid: i % 50 === 7 ? -1_000_000 - i : i % 50 === 9 ? 10_000_000 + i : 1_000 + i * 400,
        merchant: MERCHANTS[next(MERCHANTS.length)] ?? 'M1',
        product: next(4) === 0 ? 'quick' : 'wallet',
        amountMinor: BigInt(1 + next(1_000_000)) * (next(100) === 0 ? 1_000_000_000n : 1n),
        status: ['succeeded', 'succeeded', 'refunded', 'partially_refunded', 'failed', 'voided'][next(6)] ?? 'succeeded',
        date: i % 13 === 0 ? '2026-10-31' : i % 17 === 0 ? '2026-11-21' : `2026-11-${String(1 + Math.floor((i * 20) / 3_000)).padStart(2, '0')}`,
      });
    }
    const { db, path } = database('month.db', rows);
    try {
      const one = sumMonthPairs(db, '2026-11-01', '2026-11-20');
      expect(one.length).toBeGreaterThan(MERCHANTS.length);
      // Rows of the month outside the slices' range exist (the check is not vacuous).
      expect(db.prepare("SELECT COUNT(*) FROM payments WHERE business_date BETWEEN '2026-11-01' AND '2026-11-20' AND (rowid < 0 OR rowid > 9000000)").pluck(true).get()).toBeGreaterThan(0n);
      // The worker sums every slice, some, or none (this thread sums what it has not sent, waiting or not).
      const any = { workerRowidsMin: 0, spareCore: () => true };
      const waiting = { ...any, workerWaitMs: 20_000 };
      for (const [options, fromWorker] of [
        [{ ...waiting, slicesHereMax: 0 }, MONTH_PAIRS.slices],
        [{ ...waiting, slicesHereMax: 2 }, MONTH_PAIRS.slices - 2],
        [{ ...any, slicesHereMax: 0 }, null],
        [any, null],
      ] as const) {
        const counted = { here: 0, worker: 0 };
        expect(monthPairsOf(db, path, '2026-11-01', '2026-11-20', { ...options, counted })).toEqual(one);
        expect(counted.here + counted.worker).toBe(MONTH_PAIRS.slices);
        if (fromWorker !== null) expect(counted.worker).toBe(fromWorker);
      }
      // Below the threshold, without a file, or without a core to spare: one query on this thread.
      for (const [p, options] of [
        [path, { ...any, workerRowidsMin: MONTH_PAIRS.workerRowidsMin * 1_000 }],
        [null, any],
        [path, { ...any, spareCore: () => false }],
      ] as const) {
        const counted = { here: 0, worker: 0 };
        expect(monthPairsOf(db, p, '2026-11-01', '2026-11-20', { ...options, counted })).toEqual(one);
        expect(counted).toEqual({ here: 0, worker: 0 });
      }
      expect(monthPairsOf(db, path, '2026-12-01', '2026-12-31', any)).toEqual([]);
    } finally {
      db.close();
    }
  }, 30_000);
});
