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
import { CANDIDATE_CAPTURES, CANDIDATE_REFUNDS, CLEARING_MIGRATIONS, SqliteClearingStore } from '../src/batch/clearing/sqlite.js';
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

describe('Given a file whose clearing schema is the second one (the kind checked by IN)', () => {
  it('When the store opens it, Then every item row survives, settled or not, the kind is still checked, and a killed run’s row is still replaced', () => {
    migrateModule(ledger.db, 'clearing', CLEARING_MIGRATIONS.slice(0, 2));
    expect(String(all("SELECT sql FROM sqlite_master WHERE name = 'clearing_item_rows'").map((r) => (r as { sql: string }).sql))).toContain("kind IN ('payment', 'refund', 'capture')");
    pay('pay_1', D);
    pay('pay_2', D);
    batchRow('clr.2026-11-26.M1.CNY', D);
    ledger.db.prepare("INSERT INTO clearing_batch_numbers (batch_no, batch_id) VALUES (1, 'clr.2026-11-26.M1.CNY')").run();
    ledger.db.prepare('UPDATE clearing_batch_no_last SET last_no = 2').run();
    const old = ledger.db.prepare(
      'INSERT INTO clearing_item_rows (kind, item_id, batch_no, business_day, amount_minor, booked_fee_minor, fee_minor) VALUES (?, ?, ?, 20261126, ?, ?, ?)',
    );
    old.run('payment', 'pay_1', 1, 1000, 6, 5);
    old.run('refund', 'ref_1', 1, 300, -2, -1);
    old.run('capture', 'cap_1', 1, 9007199254740993n, 6, 7);
    // A killed run's row: batch 2 was never written.
    old.run('payment', 'pay_2', 2, 1000, 6, 6);
    const rowsBefore = all('SELECT * FROM clearing_item_rows ORDER BY kind, item_id');
    const viewBefore = all('SELECT * FROM clearing_items ORDER BY kind, item_id');

    const store = new SqliteClearingStore(ledger);

    const sql = String(all("SELECT sql FROM sqlite_master WHERE name = 'clearing_item_rows'").map((r) => (r as { sql: string }).sql));
    expect(sql).not.toContain(' IN (');
    expect(sql).toContain('WITHOUT ROWID');
    expect(all('SELECT * FROM clearing_item_rows ORDER BY kind, item_id')).toEqual(rowsBefore);
    expect(all('SELECT * FROM clearing_items ORDER BY kind, item_id')).toEqual(viewBefore);
    expect(viewBefore).toHaveLength(3);
    expect(() => old.run('chargeback', 'x_1', 1, 1, 0, 0)).toThrow(/CHECK constraint failed/);
    expect(store.candidates(D, D, 100).map((c) => c.itemId)).toEqual(['pay_2']);

    const next = store.reserveBatchNumbers(1);
    expect(next).toBe(3);
    store.writeItems([{ batchNo: next, item: item('pay_2', 9n) }]);
    expect(all("SELECT item_id, batch_no, fee_minor FROM clearing_item_rows WHERE kind = 'payment' ORDER BY item_id")).toEqual([
      { item_id: 'pay_1', batch_no: 1n, fee_minor: 5n },
      { item_id: 'pay_2', batch_no: 3n, fee_minor: 9n },
    ]);
  });
});

describe('Given a file whose clearing schema is the third one (refunds and captures found by walking the dates of entries)', () => {
  it('When the store opens it, Then the refund and capture entries get their own partial indexes, the candidate queries search them', () => {
    migrateModule(ledger.db, 'clearing', CLEARING_MIGRATIONS.slice(0, 3));
    const entry = ledger.db.prepare(
      "INSERT INTO entries (seq, entry_id, kind, business_date, event_type, fingerprint, created_at_ms, hash) VALUES (?, ?, 'posted', ?, 'test', 'f', 0, 'h')",
    );
    ['pay.pay_1', 'refund.ref_1', 'cap.cap_1', 'refund-fee.x', 'capture.y'].forEach((id, k) => entry.run(k + 1, id, D));
    const plan = (sql: string): string => ledger.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(D, D).map((r) => (r as { detail: string }).detail).join('\n');
    expect(plan(CANDIDATE_REFUNDS)).toContain('USING INDEX entries_business_date');

    new SqliteClearingStore(ledger);

    expect(plan(CANDIDATE_REFUNDS)).toContain('SEARCH e USING INDEX clearing_refund_entries (business_date>? AND business_date<?)');
    expect(plan(CANDIDATE_CAPTURES)).toContain('SEARCH e USING INDEX clearing_capture_entries (business_date>? AND business_date<?)');
    expect(all("SELECT entry_id FROM entries INDEXED BY clearing_refund_entries WHERE business_date = ? AND substr(entry_id, 1, 7) = 'refund.'", D)).toEqual([{ entry_id: 'refund.ref_1' }]);
    expect(all("SELECT entry_id FROM entries INDEXED BY clearing_capture_entries WHERE business_date = ? AND substr(entry_id, 1, 4) = 'cap.'", D)).toEqual([{ entry_id: 'cap.cap_1' }]);
  });
});

describe('Given items whose amounts and fees lie on both sides of 2^53', () => {
  it('When their rows are written, Then every value is stored exactly, a refund’s booked fee negative', () => {
    const store = new SqliteClearingStore(ledger);
    const no = store.reserveBatchNumbers(1);
    const big = (itemId: string, kind: 'payment' | 'refund', amountMinor: bigint, bookedFeeMinor: bigint, rateFeeMinor: bigint): ItemWrite => ({
      batchNo: no,
      item: { ...item(itemId, rateFeeMinor), kind, amountMinor, bookedFeeMinor, signedBookedFeeMinor: kind === 'refund' ? -bookedFeeMinor : bookedFeeMinor },
    });
    const safe = BigInt(Number.MAX_SAFE_INTEGER);
    store.writeItems([
      big('p_1', 'payment', safe, safe, -safe),
      big('p_2', 'payment', safe + 1n, 2n ** 62n, -(2n ** 63n)),
      big('p_3', 'payment', 2n ** 63n - 1n, -(2n ** 53n), -(2n ** 53n) + 2n ** 32n),
      big('p_4', 'payment', 4_294_967_296n, 4_294_967_295n, -4_294_967_297n),
      big('r_1', 'refund', safe, safe, -safe),
      big('r_2', 'refund', 5n, 2n ** 62n, -1n),
    ]);
    expect(all('SELECT kind, item_id, amount_minor, booked_fee_minor, fee_minor FROM clearing_item_rows ORDER BY kind, item_id')).toEqual([
      { kind: 'payment', item_id: 'p_1', amount_minor: safe, booked_fee_minor: safe, fee_minor: -safe },
      { kind: 'payment', item_id: 'p_2', amount_minor: safe + 1n, booked_fee_minor: 2n ** 62n, fee_minor: -(2n ** 63n) },
      { kind: 'payment', item_id: 'p_3', amount_minor: 2n ** 63n - 1n, booked_fee_minor: -(2n ** 53n), fee_minor: -(2n ** 53n) + 2n ** 32n },
      { kind: 'payment', item_id: 'p_4', amount_minor: 4_294_967_296n, booked_fee_minor: 4_294_967_295n, fee_minor: -4_294_967_297n },
      { kind: 'refund', item_id: 'r_1', amount_minor: safe, booked_fee_minor: -safe, fee_minor: -safe },
      { kind: 'refund', item_id: 'r_2', amount_minor: 5n, booked_fee_minor: -(2n ** 62n), fee_minor: -1n },
    ]);
  });
});
