// The clearing store's candidates read payments a (date, channel) at a time as pages joined by U+001F in
// SQLite, and reconciliation's packed pairs straight from recon_pair_blocks. These tests compare it with
// the plain reads it replaced: one row per payment, and the view recon_outcomes.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CandidateItem } from '../src/batch/clearing/core.js';
import { SqliteClearingStore } from '../src/batch/clearing/sqlite.js';
import { migrateRecon } from '../src/batch/recon/sqlite/recon-store.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { migrateOnline } from '../src/online/sqlite/store.js';

const FROM = '2026-11-20';
const TO = '2026-11-26';

/** The row-per-payment read the joined pages replaced, with recon_outcomes for the reconciled set. */
const REFERENCE_PAYMENTS = `
  SELECT p.payment_id, p.merchant_id, p.currency, p.business_date, p.amount_minor, p.product, p.channel_id, p.fee_minor
  FROM payments p
  WHERE p.business_date BETWEEN ? AND ? AND p.status IN ('succeeded', 'partially_refunded', 'refunded')
    AND NOT EXISTS (SELECT 1 FROM clearing_items c WHERE c.kind = 'payment' AND c.item_id = p.payment_id)`;
const REFERENCE_RECONCILED = `
  SELECT i.record_source || ':' || i.record_id AS k FROM recon_runs r JOIN recon_outcomes i ON i.run_id = r.run_id
  WHERE r.status = 'current' AND r.business_date >= ? AND i.record_id IS NOT NULL
    AND (i.outcome = 'matched' OR (i.outcome = 'discrepancy' AND i.status = 'resolved'))`;

let dir: string;
let ledger: SqliteLedgerStore;
let store: SqliteClearingStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-clear-candidates-'));
  ledger = SqliteLedgerStore.open(join(dir, 'settle.db'), { create: true });
  migrateOnline(ledger.db);
  store = new SqliteClearingStore(ledger);
});
afterEach(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function pay(id: string, o: { merchant?: string; channel?: string | null; date?: string; status?: string; product?: string; amountMinor?: bigint } = {}): void {
  const amount = o.amountMinor ?? BigInt(100 + seq * 7);
  ledger.db
    .prepare(
      `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, fee_minor, cost_minor, business_date, created_at_ms, updated_at_ms)
       VALUES (?, ?, ?, ?, ?, 'CNY', ?, ?, ?, 0, ?, 0, 0)`,
    )
    .run(id, o.merchant ?? `M${seq % 7}`, `O${seq++}`, o.product ?? 'quick', amount, o.status ?? 'succeeded', o.channel === undefined ? 'bank' : o.channel, amount / 100n, o.date ?? TO);
}

function reference(): CandidateItem[] {
  const hasRecon = ledger.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'recon_runs'").get() !== undefined;
  const reconciled = new Set(hasRecon ? (ledger.db.prepare(REFERENCE_RECONCILED).all(FROM) as { k: string }[]).map((r) => r.k) : []);
  return (ledger.db.prepare(REFERENCE_PAYMENTS).raw(true).all(FROM, TO) as unknown[][]).map((r) => ({
    kind: 'payment',
    itemId: r[0] as string,
    merchantId: r[1] as string,
    currency: r[2] as string,
    businessDate: r[3] as string,
    amountMinor: BigInt(r[4] as number),
    product: r[5] as string,
    channelId: r[6] as string | null,
    bookedFeeMinor: BigInt(r[7] as number),
    reconciled: r[5] === 'balance' || reconciled.has(`payment:${r[0] as string}`),
  }));
}

const byId = (items: readonly CandidateItem[]): CandidateItem[] => [...items].sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));

describe('Given payments over several dates and channels, more than a page of them', () => {
  beforeEach(() => {
    ledger.db.transaction(() => {
      for (let i = 0; i < 12_000; i++) pay(`pay_${i}`, { channel: ['bank', 'alipay', null, ''][i % 4] ?? null, date: i % 3 === 0 ? FROM : TO });
    })();
    pay('pay_failed', { status: 'failed' });
    pay('pay_late', { date: '2026-11-27' });
    pay('pay_early', { date: '2026-11-19' });
    pay('pay_local', { product: 'balance', channel: null });
    // pay_5 settled in a written batch (number 1); pay_6 has the row of a killed run, whose batch (2) was never written.
    ledger.db.prepare("INSERT INTO clearing_batch_numbers (batch_no, batch_id) VALUES (1, 'b')").run();
    const row = ledger.db.prepare(
      "INSERT INTO clearing_item_rows (kind, item_id, batch_no, business_day, amount_minor, booked_fee_minor, fee_minor) VALUES ('payment', ?, ?, 20261126, 1, 0, 0)",
    );
    row.run('pay_5', 1);
    row.run('pay_6', 2);
  });

  it('When the candidates are read, Then they are the row-per-payment read: every unsettled one in range, once', () => {
    const got = store.candidates(FROM, TO, 1_000_000);
    expect(got).toHaveLength(12_000);
    expect(byId(got)).toEqual(byId(reference()));
    // Settled is an item row of a written batch: the killed run's row leaves pay_6 a candidate.
    expect(got.map((c) => c.itemId).filter((id) => id === 'pay_5' || id === 'pay_6')).toEqual(['pay_6']);
  });

  it('When a merchant id or a channel id holds U+001F, Then the page is read row by row and the candidates are the same', () => {
    pay('pay_sep_merchant', { merchant: 'M\u001fX', channel: 'bank' });
    pay('pay_sep_channel', { channel: 'ba\u001fnk' });
    pay('pay\u001fid', { channel: 'alipay' });
    const got = store.candidates(FROM, TO, 1_000_000);
    expect(got).toHaveLength(12_003);
    expect(byId(got)).toEqual(byId(reference()));
    expect(got.find((c) => c.itemId === 'pay_sep_merchant')?.merchantId).toBe('M\u001fX');
    expect(got.find((c) => c.itemId === 'pay_sep_channel')?.channelId).toBe('ba\u001fnk');
  });

  it('When an amount is beyond 2^53, Then it is read exactly', () => {
    pay('pay_big', { amountMinor: 9_007_199_254_740_993n });
    pay('pay_fifteen_digits', { amountMinor: 123_456_789_012_345n });
    const got = store.candidates(FROM, TO, 1_000_000);
    expect(byId(got)).toEqual(byId(reference()));
    expect(got.find((c) => c.itemId === 'pay_big')).toMatchObject({ amountMinor: 9_007_199_254_740_993n, bookedFeeMinor: 90_071_992_547_409n });
  });

  it('When the limit is below the candidates, Then exactly the limit is returned', () => {
    expect(store.candidates(FROM, TO, 7_001)).toHaveLength(7_001);
    expect(store.candidates(FROM, TO, 12_001)).toHaveLength(12_000);
  });
});

describe('Given a channel whose payments lie far apart in rowids, with many of another channel between', () => {
  it('When the candidates are read in rowid windows, Then they are the row-per-payment read, and a limit still cuts exactly', () => {
    ledger.db.transaction(() => {
      for (let i = 0; i < 3; i++) pay(`pay_bank_a${i}`, { channel: 'bank' });
      for (let i = 0; i < 30_000; i++) pay(`pay_wallet_${i}`, { channel: 'wallet', status: i % 7 === 0 ? 'failed' : 'succeeded' });
      for (let i = 0; i < 3; i++) pay(`pay_bank_b${i}`, { channel: 'bank' });
      for (let i = 0; i < 20; i++) pay(`pay_wallet_late_${i}`, { channel: 'wallet' });
    })();
    const got = store.candidates(FROM, TO, 1_000_000);
    expect(byId(got)).toEqual(byId(reference()));
    expect(got.filter((c) => c.channelId === 'bank').map((c) => c.itemId)).toEqual(['pay_bank_a0', 'pay_bank_a1', 'pay_bank_a2', 'pay_bank_b0', 'pay_bank_b1', 'pay_bank_b2']);
    // Channels in index order (bank, then wallet), each in rowid order: the limit keeps the first ones.
    const cut = store.candidates(FROM, TO, 10_007);
    expect(cut.map((c) => c.itemId)).toEqual(got.slice(0, 10_007).map((c) => c.itemId));
  });
});

describe('Given a current recon run with packed pairs, an exception row and a superseded run', () => {
  it('When the candidates are read, Then what is reconciled is what the view recon_outcomes says', () => {
    for (let i = 0; i < 30; i++) pay(`pay_${i}`, { channel: i % 2 === 0 ? 'bank' : null });
    migrateRecon(ledger.db);
    const file = ledger.db.prepare("INSERT INTO recon_files (channel, business_date, version, status, sha256, format, imported_at_ms) VALUES ('bank', ?, 1, 'imported', 'x', 'csv', 0)").run(TO);
    const run = (status: string): number | bigint =>
      ledger.db.prepare("INSERT INTO recon_runs (channel, business_date, file_id, status, started_at_ms) VALUES ('bank', ?, ?, ?, 0)").run(TO, file.lastInsertRowid, status).lastInsertRowid;
    const current = run('current');
    const superseded = run('superseded');
    const block = ledger.db.prepare('INSERT INTO recon_pair_blocks (run_id, file_id, rows, pairs) VALUES (?, ?, ?, ?)');
    block.run(current, file.lastInsertRowid, 3, JSON.stringify([['p', 1, 'p', 'pay_1'], ['p', 2, 'p', 'pay_2'], ['r', 3, 'r', 'pay_3']]));
    block.run(current, file.lastInsertRowid, 1, JSON.stringify([['p', 4, 'p', 'pay_4']]));
    block.run(superseded, file.lastInsertRowid, 1, JSON.stringify([['p', 5, 'p', 'pay_5']]));
    // Blocks the quote scan leaves to JSON.parse: an escaped id, a number as id, spaces, a string as line_seq.
    for (const id of ['pay_"quoted"', '12345', 'pay_spaced', 'pay_é', 'pay_seq']) pay(id);
    block.run(current, file.lastInsertRowid, 2, JSON.stringify([['p', 6, 'p', 'pay_é'], ['p', 7, 'p', 'pay_"quoted"']]));
    block.run(current, file.lastInsertRowid, 2, `[["p",8,"p",12345],["p",9,"c","pay_9"]]`);
    block.run(current, file.lastInsertRowid, 1, JSON.stringify([['p', 10, 'p', 'pay_spaced']], null, 1));
    block.run(current, file.lastInsertRowid, 1, `[["p","11","p","pay_seq"]]`);
    block.run(current, file.lastInsertRowid, 0, '[]');
    const item = ledger.db.prepare("INSERT INTO recon_items (run_id, outcome, kind, record_source, record_id, status) VALUES (?, ?, 'payment', 'payment', ?, ?)");
    item.run(current, 'discrepancy', 'pay_6', 'resolved');
    item.run(current, 'discrepancy', 'pay_7', 'open');
    item.run(current, 'matched', 'pay_8', null);

    const got = store.candidates(FROM, TO, 1_000);
    expect(byId(got)).toEqual(byId(reference()));
    expect(got.filter((c) => c.reconciled).map((c) => c.itemId).sort()).toEqual(['12345', 'pay_"quoted"', 'pay_1', 'pay_2', 'pay_4', 'pay_6', 'pay_8', 'pay_seq', 'pay_spaced', 'pay_é']);
  });
});

describe('Given a span whose first windows share one currency and product, and later ones do not', () => {
  it('When the candidates are read, Then every payment keeps its own currency and product, as the row-per-payment read has them', () => {
    const insert = ledger.db.prepare(
      `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, fee_minor, cost_minor, business_date, created_at_ms, updated_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, 'succeeded', ?, 1, 0, ?, 0, 0)`,
    );
    ledger.db.transaction(() => {
      for (let i = 0; i < 24_000; i++) {
        // bank: windows of one currency and product, then products mixed, then currencies mixed, then one of each again.
        const product = i >= 8_000 && i < 9_000 && i % 2 === 0 ? 'scan' : 'quick';
        const currency = i >= 12_000 && i < 12_500 && i % 3 === 0 ? 'USD' : i >= 20_000 ? 'EUR' : 'CNY';
        insert.run(`pay_${i}`, `M${i % 5}`, `O${i}`, product, 100 + i, currency, 'bank', TO);
        // wallet (a span of its own): one currency and product throughout, but the last payment.
        if (i % 4 === 0) insert.run(`pay_w_${i}`, `M${i % 3}`, `OW${i}`, i === 23_996 ? 'scan' : 'quick', 100 + i, 'CNY', 'wallet', FROM);
      }
    })();
    const got = store.candidates(FROM, TO, 1_000_000);
    expect(got).toHaveLength(30_000);
    expect(byId(got)).toEqual(byId(reference()));
    const count = (p: (c: CandidateItem) => boolean): number => got.filter(p).length;
    expect([count((c) => c.product === 'scan'), count((c) => c.currency === 'USD'), count((c) => c.currency === 'EUR')]).toEqual([501, 167, 4_000]);
  });
});
