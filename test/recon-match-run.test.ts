// Matching runs on a real database with the online core's tables: which of our records take part, a
// new file version re-matched (what changed, decisions carried over), and the suspense pool across days.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveDiscrepancy } from '../src/batch/recon/resolve.js';
import { RecordTable } from '../src/batch/recon/match.js';
import type { NamedRecord } from '../src/batch/recon/stream-match.js';
import { payLine, refundLine } from '../src/batch/recon/test-support.js';
import { D, D1, ReconWorld } from './recon-match-support.js';

let w: ReconWorld;
beforeEach(async () => {
  w = await ReconWorld.create();
});
afterEach(async () => {
  await w.close();
});

describe('Given a day with payments, a refund and a failed order', () => {
  beforeEach(async () => {
    await w.payment('pay_1', 1000n, { costMinor: 6n, feeMinor: 6n });
    await w.payment('pay_2', 2000n);
    await w.payment('pay_3', 500n, { status: 'failed', txn: null });
    await w.payment('pay_4', 700n, { status: 'voided' });
    await w.payment('pay_9', 900n, { channel: 'bank' });
    await w.refund('re_1', 'pay_2', 300n);
  });

  it('When the file agrees except for a late success of our failed order, Then one status_mismatch and the rest matched', async () => {
    await w.importLines(D, [
      payLine('pay_1', 1000n, { fee: '0.06000' }),
      payLine('pay_2', 2000n),
      payLine('pay_3', 500n),
      payLine('pay_4', 700n, { status: 'revoked' }),
      refundLine('pay_2', 're_1', 300n),
    ]);
    const r = await w.match(D);
    expect(r.counts).toEqual({ matched: 4, suspense: 0, discrepancies: 1, byType: { status_mismatch: 1 } });
    expect(r.openDiscrepancies).toBe(1);
    expect(r.run).toMatchObject({ lines: 5, records: 5, status: 'current', fileVersion: 1 });
    const [item] = await w.store.items({ status: 'open', limit: 10 });
    expect(item).toMatchObject({ type: 'status_mismatch', recordId: 'pay_3', ledgerStatus: 'failed', channelStatus: 'succeeded', channelAmountMinor: 500n });
  });

  it('When no file was imported for the date, Then statement_not_imported', async () => {
    await expect(w.match(D1)).rejects.toMatchObject({ code: 'statement_not_imported' });
  });

  it('When a corrected file is imported, Then the re-match says what changed and a decision on the same discrepancy carries over', async () => {
    await w.importLines(D, [payLine('pay_1', 1000n), payLine('pay_2', 1999n), payLine('pay_4', 700n, { status: 'revoked' }), refundLine('pay_2', 're_1', 300n)]);
    const first = await w.match(D);
    expect(first.counts.byType).toEqual({ amount_mismatch: 1 });
    const amountItem = await w.itemOf(first.run.runId, 'payment:pay_2');
    await resolveDiscrepancy(w.store, { itemId: amountItem, action: 'accept-ledger', reason: 'the channel will correct it', by: 'ops', nowMs: w.nowMs });

    // version 2: the same amount error, and a payment we do not know
    const v2 = await w.importLines(D, [payLine('pay_1', 1000n), payLine('pay_2', 1999n), payLine('pay_X', 50n), payLine('pay_4', 700n, { status: 'revoked' }), refundLine('pay_2', 're_1', 300n)]);
    expect(v2.file.version).toBe(2);
    const second = await w.match(D);
    expect(second.changes).toMatchObject({ previousRunId: first.run.runId, previousFileVersion: 1, newDiscrepancies: 1, cleared: 0, resolvedGone: 0 });
    expect(second.changes?.listed).toEqual([{ identity: 'line:payment:42pay_X', itemId: expect.any(Number), from: 'matched', to: 'channel_only' }]);
    const carried = await w.store.item(await w.itemOf(second.run.runId, 'payment:pay_2'));
    expect(carried).toMatchObject({ status: 'resolved', resolution: { action: 'accept-ledger', by: 'ops', carriedFromItemId: amountItem } });
    expect(second.openDiscrepancies).toBe(1);
    // the first run's items are superseded: resolving one of them is refused
    await expect(
      resolveDiscrepancy(w.store, { itemId: (await w.store.runExceptions(first.run.runId, 10))[0]?.itemId ?? 0, action: 'accept-ledger', reason: 'x', by: 'ops', nowMs: w.nowMs }),
    ).rejects.toMatchObject({ code: 'discrepancy_already_resolved' });

    // version 3: all fixed — the resolved amount_mismatch is gone (its decision stays), the unknown payment too
    await w.importLines(D, [payLine('pay_1', 1000n), payLine('pay_2', 2000n), payLine('pay_4', 700n, { status: 'revoked' }), refundLine('pay_2', 're_1', 300n)]);
    const third = await w.match(D);
    expect(third.changes).toMatchObject({ newDiscrepancies: 0, cleared: 2, resolvedGone: 1 });
    expect(third.openDiscrepancies).toBe(0);
    expect(await w.store.items({ status: 'open', limit: 10 })).toEqual([]);
  });

  it('When an open discrepancy of a replaced run is resolved, Then discrepancy_superseded', async () => {
    await w.importLines(D, [payLine('pay_1', 1000n), payLine('pay_2', 1999n), refundLine('pay_2', 're_1', 300n)]);
    const first = await w.match(D);
    await w.importLines(D, [payLine('pay_1', 1000n), payLine('pay_2', 2000n), refundLine('pay_2', 're_1', 300n)]);
    await w.match(D);
    const old = await w.itemOf(first.run.runId, 'payment:pay_2');
    await expect(resolveDiscrepancy(w.store, { itemId: old, action: 'accept-ledger', reason: 'x', by: 'ops', nowMs: w.nowMs })).rejects.toMatchObject({ code: 'discrepancy_superseded' });
  });
});

describe('Given rows that crossed midnight, with one day of suspense', () => {
  it('When day D has a line we book on D+1 and a payment the channel books on D+1, Then both wait, and D+1 matches them late', async () => {
    await w.payment('pay_B', 800n, { businessDate: D });
    await w.payment('pay_A', 600n, { businessDate: D1 });
    await w.importLines(D, [payLine('pay_A', 600n)]);
    const day = await w.match(D, 1);
    expect(day.counts).toEqual({ matched: 0, suspense: 2, discrepancies: 0, byType: {} });
    expect(day.openDiscrepancies).toBe(0);
    expect((await w.store.items({ status: 'suspense', limit: 10 })).map((i) => [i.identity, i.untilDate])).toEqual([
      ['line:payment:42pay_A', D1],
      ['payment:pay_B', D1],
    ]);

    await w.importLines(D1, [payLine('pay_B', 800n, { occurredAt: `${D}T23:59:59+08:00` }), payLine('pay_C', 10n)]);
    await w.payment('pay_C', 10n, { businessDate: D1 });
    const next = await w.match(D1, 1);
    expect(next.counts).toEqual({ matched: 3, suspense: 0, discrepancies: 0, byType: {} });
    expect(await w.store.items({ status: 'suspense', limit: 10 })).toEqual([]);

    // Re-matching D after D+1 rebuilds D's pool and says D+1 should be matched again.
    const again = await w.match(D, 1);
    expect(again.laterRuns.map((r) => r.businessDate)).toEqual([D1]);
    const next2 = await w.match(D1, 1);
    expect(next2.counts.matched).toBe(3);
    expect(await w.store.items({ status: 'suspense', limit: 10 })).toEqual([]);
  });

  it('When the next file does not bring them either, Then they become channel_only and ledger_only on D+1', async () => {
    await w.payment('pay_B', 800n);
    await w.importLines(D, [payLine('pay_A', 600n)]);
    await w.match(D, 1);
    await w.importLines(D1, [payLine('pay_C', 10n)]);
    await w.payment('pay_C', 10n, { businessDate: D1 });
    const next = await w.match(D1, 1);
    expect(next.counts).toEqual({ matched: 1, suspense: 0, discrepancies: 2, byType: { channel_only: 1, ledger_only: 1 } });
    expect((await w.store.items({ status: 'open', limit: 10 })).map((i) => [i.businessDate, i.type, i.identity])).toEqual([
      [D1, 'channel_only', 'line:payment:42pay_A'],
      [D1, 'ledger_only', 'payment:pay_B'],
    ]);
  });
});

describe('Given a day of our payments read for a match', () => {
  it('When a channel id holds the separator the joined read uses (U+001F), Then that page is read row by row and every record is the same as the plain read', async () => {
    await w.payment('pay_a', 100n, { costMinor: 1n });
    await w.payment('pay_b', 2n ** 53n - 1n, { txn: 'odd\u001ftxn' });
    await w.payment('pay_c', 300n, { txn: null, status: 'failed' });
    await w.payment('pay_d', 400n);
    const table = new RecordTable();
    await w.store.recordsForDayInto('wallet', D, table, 2);
    const plain = await w.store.recordsForDay('wallet', D);
    expect(plain.map((r) => r.recordId)).toEqual(['pay_a', 'pay_b', 'pay_d']);
    expect(Array.from({ length: table.length }, (_v, i) => table.record(i))).toEqual(plain);
    expect(table.record(1)).toMatchObject({ channelTxnId: 'odd\u001ftxn', amountMinor: 2n ** 53n - 1n });
  });

  /** Every payment the window's pages hold, built both ways (for use at once, and kept), with its row id. */
  async function readBatches(onWorker: boolean): Promise<{ used: NamedRecord[]; kept: NamedRecord[] }> {
    const source = w.store.openDuePayments('wallet', D, onWorker);
    const used: NamedRecord[] = [];
    const kept: NamedRecord[] = [];
    try {
      for (let page = await source.next(); page.length > 0; page = await source.next()) {
        for (let k = 0; k < page.length; k++) {
          const id = page.named(k).record.recordId;
          expect(page.idIs(k, id)).toBe(true);
          expect(page.idIs(k, `${id}x`)).toBe(false);
          expect(page.idIs(k, id.slice(0, -1))).toBe(false);
          used.push(page.named(k, id));
          kept.push(page.named(k));
          expect(page.rowid(k)).toBe(kept[kept.length - 1]?.paymentRowid);
        }
      }
    } finally {
      source.close();
    }
    return { used, kept };
  }

  it('When the streaming window reads them (ids compared in place, amounts of 16 digits as text), Then every payment is the plain read’s record, in row id order, on this thread and on a worker', async () => {
    await w.payment('pay_a', 100n, { costMinor: 1n });
    await w.payment('pay_b', 2n ** 53n - 1n, { costMinor: 1_000_000_000_000_000n, merchant: 'M2' });
    await w.payment('pay_c', 300n, { txn: null, status: 'failed' });
    await w.payment('pay_de', 400n);
    await w.payment('pay_d', 9_999_999_999_999n);
    const plain = await w.store.recordsForDay('wallet', D);
    for (const onWorker of [false, true]) {
      const { used, kept } = await readBatches(onWorker);
      expect(kept.map((p) => p.record)).toEqual(plain);
      expect(used.map((p) => p.record)).toEqual(plain);
      const rowids = kept.map((p) => p.paymentRowid as number);
      expect(rowids).toEqual([...rowids].sort((a, b) => a - b));
    }
  });

  it('When a channel id holds the separator, Then the window’s page is read row by row and gives the same records', async () => {
    await w.payment('pay_a', 100n);
    await w.payment('pay_b', 200n, { txn: 'odd\u001ftxn' });
    const plain = await w.store.recordsForDay('wallet', D);
    for (const onWorker of [false, true]) expect((await readBatches(onWorker)).kept.map((p) => p.record)).toEqual(plain);
  });
});
