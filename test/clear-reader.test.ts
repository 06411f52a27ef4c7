// A clearing run reads a large day's payments on a worker thread (src/batch/clearing/sqlite/payment-reader.ts):
// the worker reads the windows, numbers the merchants and parses the integers; this thread reads the first
// windows itself while the worker starts and then takes the worker's. These tests compare that read with the
// read on this thread (store.candidates), item for item and in the same order, wherever the worker takes over.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CandidateColumns } from '../src/batch/clearing/columns.js';
import { SqliteClearingStore, type ClearingStoreOptions } from '../src/batch/clearing/sqlite.js';
import { paymentWindowsOnWorker } from '../src/batch/clearing/sqlite/payment-reader.js';
import { paymentSpans } from '../src/batch/clearing/sqlite/payment-windows.js';
import { migrateRecon } from '../src/batch/recon/sqlite/recon-store.js';
import { statementCache } from '../src/ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { migrateOnline } from '../src/online/sqlite/store.js';

const FROM = '2026-11-20';
const TO = '2026-11-26';
const PAYMENTS = 24_000;

let dir: string;
let ledger: SqliteLedgerStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-clear-reader-'));
  ledger = SqliteLedgerStore.open(join(dir, 'settle.db'), { create: true });
  migrateOnline(ledger.db);
  new SqliteClearingStore(ledger);
  const insert = ledger.db.prepare(
    `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, fee_minor, cost_minor, business_date, created_at_ms, updated_at_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 0, 0)`,
  );
  ledger.db.transaction(() => {
    for (let i = 0; i < PAYMENTS; i++) {
      const amount = i % 997 === 0 ? 9_007_199_254_740_993n + BigInt(i) : BigInt(100 + ((i * 7919) % 100_000));
      insert.run(
        `pay_${(i * 7_919) % PAYMENTS}`,
        // Merchants seen first at different points of the day, some only late.
        i < PAYMENTS / 2 ? `M${i % 13}` : `M${i % 41}`,
        `O${i}`,
        i % 11 === 0 ? 'balance' : 'quick',
        amount,
        i % 5 === 0 ? 'USD' : 'CNY',
        i % 17 === 0 ? 'failed' : 'succeeded',
        ['bank', 'alipay', null][i % 3] ?? null,
        -BigInt(i % 3),
        i % 4 === 0 ? FROM : TO,
      );
    }
  })();
  // Every third payment reconciled, by a current run's packed pairs.
  migrateRecon(ledger.db);
  const file = ledger.db.prepare("INSERT INTO recon_files (channel, business_date, version, status, sha256, format, imported_at_ms) VALUES ('bank', ?, 1, 'imported', 'x', 'csv', 0)").run(TO);
  const run = ledger.db.prepare("INSERT INTO recon_runs (channel, business_date, file_id, status, started_at_ms) VALUES ('bank', ?, ?, 'current', 0)").run(TO, file.lastInsertRowid);
  const pairs = Array.from({ length: PAYMENTS / 3 }, (_, k) => ['p', k + 1, 'p', `pay_${k * 3}`]);
  ledger.db.prepare('INSERT INTO recon_pair_blocks (run_id, file_id, rows, pairs) VALUES (?, ?, ?, ?)').run(run.lastInsertRowid, file.lastInsertRowid, pairs.length, JSON.stringify(pairs));
});
afterEach(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

const read = (options: ClearingStoreOptions, limit = 1_000_000): Promise<CandidateColumns> => new SqliteClearingStore(ledger, options).candidateColumns(FROM, TO, limit);
const onThisThread = (limit = 1_000_000): Promise<CandidateColumns> => read({ paymentsOnWorkerFromRowids: Number.MAX_SAFE_INTEGER }, limit);

describe('Given a day of payments over dates, channels, currencies and merchants, some reconciled', () => {
  it('When the worker reads every window, Then the columns are those read on this thread, in the same order', async () => {
    const here = await onThisThread();
    expect(here.length).toBe(PAYMENTS - Math.ceil(PAYMENTS / 17));
    const worker = await read({ paymentsOnWorkerFromRowids: 0, windowsHereWhileStartingMax: 0 });
    expect(worker.toItems()).toEqual(here.toItems());
    expect(worker.merchantIds).toEqual(here.merchantIds);
    expect(Array.from(worker.merchantNos.subarray(0, worker.length))).toEqual(Array.from(here.merchantNos.subarray(0, here.length)));
    expect(worker.toItems()).toEqual(new SqliteClearingStore(ledger).candidates(FROM, TO, 1_000_000));
  });

  it('When the worker takes over after a few windows read here, Then the columns are the same', async () => {
    const here = (await onThisThread()).toItems();
    for (const windowsHere of [1, 2, 5]) {
      const got = await read({ paymentsOnWorkerFromRowids: 0, windowsHereWhileStartingMax: windowsHere });
      expect(got.toItems()).toEqual(here);
    }
  });

  it('When the limit is below the payments, Then the worker read cuts exactly where the read here does', async () => {
    const here = (await onThisThread()).toItems();
    for (const limit of [1, 4_999, 5_001, 17_777]) {
      const got = await read({ paymentsOnWorkerFromRowids: 0, windowsHereWhileStartingMax: limit % 2 }, limit);
      expect(got.toItems()).toEqual(here.slice(0, limit));
    }
  });

  it('When a merchant id holds U+001F, Then its window is read row by row and the columns are the same', async () => {
    ledger.db
      .prepare(
        `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, fee_minor, cost_minor, business_date, created_at_ms, updated_at_ms)
         VALUES ('pay_sep', 'M\u001fX', 'Osep', 'quick', 5, 'CNY', 'succeeded', 'bank', 0, 0, ?, 0, 0)`,
      )
      .run(TO);
    const here = (await onThisThread()).toItems();
    const got = await read({ paymentsOnWorkerFromRowids: 0, windowsHereWhileStartingMax: 0 });
    expect(got.toItems()).toEqual(here);
    expect(got.toItems().find((c) => c.itemId === 'pay_sep')?.merchantId).toBe('M\u001fX');
  });

  it('When a window read row by row names merchants first seen there, Then the worker numbers them when a later window names them', async () => {
    const insert = ledger.db.prepare(
      `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, fee_minor, cost_minor, business_date, created_at_ms, updated_at_ms)
       VALUES (?, ?, ?, 'quick', 5, 'CNY', 'succeeded', ?, 0, 0, ?, 0, 0)`,
    );
    // The first span's last window: a new merchant, then one whose id splits into two more new ones.
    insert.run('pay_new_first', 'M_first', 'O_nf', null, FROM);
    insert.run('pay_sep_y', 'Y\u001fZ', 'O_sep_y', null, FROM);
    // Later spans name the would-be parts, and the new merchant, again.
    insert.run('pay_y', 'Y', 'O_y', 'bank', TO);
    insert.run('pay_z', 'Z', 'O_z', 'alipay', TO);
    insert.run('pay_first_again', 'M_first', 'O_fa', 'bank', TO);
    const here = await onThisThread();
    const got = await read({ paymentsOnWorkerFromRowids: 0, windowsHereWhileStartingMax: 0 });
    expect(got.toItems()).toEqual(here.toItems());
    expect(got.merchantIds).toEqual(here.merchantIds);
    expect(['pay_y', 'pay_z', 'pay_first_again', 'pay_sep_y'].map((id) => got.toItems().find((c) => c.itemId === id)?.merchantId)).toEqual(['Y', 'Z', 'M_first', 'Y\u001fZ']);
  });
});

describe('Given a transaction of the store connection that wrote a payment', () => {
  it('When the candidates are read, Then they are read on this thread and hold it (another connection would not see it)', async () => {
    ledger.db.exec('BEGIN');
    try {
      ledger.db
        .prepare(
          `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, fee_minor, cost_minor, business_date, created_at_ms, updated_at_ms)
           VALUES ('pay_uncommitted', 'M1', 'Ounc', 'quick', 5, 'CNY', 'succeeded', 'bank', 0, 0, ?, 0, 0)`,
        )
        .run(TO);
      const got = await read({ paymentsOnWorkerFromRowids: 0, windowsHereWhileStartingMax: 0 });
      expect(got.ids).toContain('pay_uncommitted');
    } finally {
      ledger.db.exec('ROLLBACK');
    }
  });
});

describe('Given a worker whose database cannot be opened', () => {
  it('When its windows are taken, Then the read fails with what the worker met', async () => {
    const spans = paymentSpans(statementCache(ledger.db), FROM, TO);
    const windows = paymentWindowsOnWorker(statementCache(ledger.db), join(dir, 'missing.db'), spans, 1_000, 0);
    await expect(windows.next()).rejects.toThrow(/the read of payments failed: .*No database at/);
    windows.close();
  });
});
