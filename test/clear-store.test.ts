// The clearing store's item rows: a file of the first schema (clearing_items a table with the batch id
// text) migrates to numbered item rows behind a view of the same shape; numbers are never handed out
// twice; an item row whose batch is not written is not settled and is replaced by the next run's row,
// while the row of a settled item never is.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClearedItem } from '../src/batch/clearing/core.js';
import type { ItemWrite } from '../src/batch/clearing/port.js';
import { CLEARING_MIGRATIONS, SqliteClearingStore } from '../src/batch/clearing/sqlite.js';
import { migrateModule } from '../src/ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { migrateOnline } from '../src/online/sqlite/store.js';

const D = '2026-11-26';
let dir: string;
let ledger: SqliteLedgerStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-clear-store-'));
  ledger = SqliteLedgerStore.open(join(dir, 'settle.db'), { create: true });
  migrateOnline(ledger.db);
});
afterEach(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

const all = (sql: string, ...params: unknown[]): unknown[] => ledger.db.prepare(sql).all(...params);

function pay(id: string, date: string): void {
  ledger.db
    .prepare(
      `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, fee_minor, cost_minor, business_date, created_at_ms, updated_at_ms)
       VALUES (?, 'M1', ?, 'quick', 1000, 'CNY', 'succeeded', 'bank', 6, 0, ?, 0, 0)`,
    )
    .run(id, `O-${id}`, date);
}

function batchRow(batchId: string, date: string): void {
  ledger.db
    .prepare(
      `INSERT INTO settlement_batches (batch_id, merchant_id, business_date, currency, gross_minor, refunds_minor, fees_minor, adjustments_minor, net_minor,
         carried_in_minor, carried_out_minor, payout_minor, items, status, created_at_ms) VALUES (?, 'M1', ?, 'CNY', 2000, 0, 12, 0, 1988, 0, 0, 1988, 2, 'paid_out', 0)`,
    )
    .run(batchId, date);
}

const item = (itemId: string, feeMinor: bigint): ClearedItem => ({
  kind: 'payment',
  itemId,
  merchantId: 'M1',
  currency: 'CNY',
  businessDate: D,
  amountMinor: 1000n,
  product: 'quick',
  channelId: 'bank',
  bookedFeeMinor: 6n,
  reconciled: true,
  rateFeeMinor: feeMinor,
  signedBookedFeeMinor: 6n,
});

describe('Given a file whose clearing schema is the first one (clearing_items a table)', () => {
  it('When the store opens it, Then the items are numbered rows behind a view of the old shape, still settled, and new numbers are above the old', () => {
    migrateModule(ledger.db, 'clearing', CLEARING_MIGRATIONS.slice(0, 1));
    pay('pay_1', '2026-11-20');
    pay('pay_2', '2026-11-21');
    pay('pay_3', '2026-11-21');
    batchRow('clr.2026-11-22.M1.CNY', '2026-11-22');
    const old = ledger.db.prepare(
      'INSERT INTO clearing_items (kind, item_id, batch_id, business_date, amount_minor, booked_fee_minor, fee_minor) VALUES (?, ?, ?, ?, 1000, 6, ?)',
    );
    old.run('payment', 'pay_1', 'clr.2026-11-22.M1.CNY', '2026-11-20', 5);
    old.run('payment', 'pay_2', 'clr.2026-11-22.M1.CNY', '2026-11-21', 7);
    const before = all('SELECT * FROM clearing_items ORDER BY kind, item_id');

    const store = new SqliteClearingStore(ledger);

    expect(all("SELECT type FROM sqlite_master WHERE name = 'clearing_items'")).toEqual([{ type: 'view' }]);
    expect(all('SELECT * FROM clearing_items ORDER BY kind, item_id')).toEqual(before);
    expect(before).toEqual([
      { kind: 'payment', item_id: 'pay_1', batch_id: 'clr.2026-11-22.M1.CNY', business_date: '2026-11-20', amount_minor: 1000n, booked_fee_minor: 6n, fee_minor: 5n },
      { kind: 'payment', item_id: 'pay_2', batch_id: 'clr.2026-11-22.M1.CNY', business_date: '2026-11-21', amount_minor: 1000n, booked_fee_minor: 6n, fee_minor: 7n },
    ]);
    expect(store.candidates('2026-11-01', D, 100).map((c) => c.itemId)).toEqual(['pay_3']);
    const first = store.reserveBatchNumbers(2);
    expect(first).toBe(2);
    expect(store.reserveBatchNumbers(1)).toBe(4);
  });
});

describe('Given item rows of a batch that was never written (a killed run)', () => {
  it('When the next run writes the item again, Then its row replaces the old one; once its batch is written, writing it again is refused and nothing changes', () => {
    const store = new SqliteClearingStore(ledger);
    pay('pay_1', D);
    pay('pay_2', D);
    const killed = store.reserveBatchNumbers(1);
    store.writeItems([{ batchNo: killed, item: item('pay_1', 5n) }]);
    expect(all('SELECT COUNT(*) AS n FROM clearing_items')).toEqual([{ n: 0n }]);
    expect(store.candidates(D, D, 100).map((c) => c.itemId)).toEqual(['pay_1', 'pay_2']);

    const next = store.reserveBatchNumbers(1);
    expect(next).toBe(killed + 1);
    const rows: ItemWrite[] = [
      { batchNo: next, item: item('pay_1', 6n) },
      { batchNo: next, item: item('pay_2', 6n) },
    ];
    store.writeItems(rows);
    expect(all('SELECT item_id, batch_no, fee_minor FROM clearing_item_rows ORDER BY item_id')).toEqual([
      { item_id: 'pay_1', batch_no: BigInt(next), fee_minor: 6n },
      { item_id: 'pay_2', batch_no: BigInt(next), fee_minor: 6n },
    ]);
    batchRow('clr.2026-11-26.M1.CNY', D);
    ledger.db.prepare('INSERT INTO clearing_batch_numbers (batch_no, batch_id) VALUES (?, ?)').run(next, 'clr.2026-11-26.M1.CNY');
    expect(store.candidates(D, D, 100)).toEqual([]);

    const again = store.reserveBatchNumbers(1);
    pay('pay_3', D);
    expect(() => store.writeItems([{ batchNo: again, item: item('pay_3', 6n) }, { batchNo: again, item: item('pay_2', 9n) }])).toThrow(/settled already/);
    expect(all('SELECT item_id, batch_no, fee_minor FROM clearing_item_rows ORDER BY item_id')).toEqual([
      { item_id: 'pay_1', batch_no: BigInt(next), fee_minor: 6n },
      { item_id: 'pay_2', batch_no: BigInt(next), fee_minor: 6n },
    ]);
    expect(all('SELECT item_id, batch_id, business_date FROM clearing_items ORDER BY item_id')).toEqual([
      { item_id: 'pay_1', batch_id: 'clr.2026-11-26.M1.CNY', business_date: D },
      { item_id: 'pay_2', batch_id: 'clr.2026-11-26.M1.CNY', business_date: D },
    ]);
  });
});
