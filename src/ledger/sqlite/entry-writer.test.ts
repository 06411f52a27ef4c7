// The writer gathers a batch's rows and writes counters once at its end: a batch must still read what it
// wrote (an id used twice, a hold posted or an entry reversed in the batch that made it) and leave
// exactly the rows, counters and hash chain that posting its commands one at a time leaves.

import { afterEach, describe, expect, it } from 'vitest';
import type { EntryCommand, LedgerCommand } from '../entry.js';
import { openTestLedger, snapshot, T0, transfer, type TestLedger } from '../test-support.js';
import { verifyLedger } from '../verify.js';

const opened: TestLedger[] = [];
afterEach(async () => {
  for (const t of opened.splice(0)) await t.store.close();
});

async function fundedLedger(): Promise<TestLedger> {
  const t = await openTestLedger();
  opened.push(t);
  expect(t.store.postEntriesSync([transfer('fund', 'chan', 'user', 1_000_000n)], T0)[0]?.ok).toBe(true);
  return t;
}

const hold = (id: string, amountMinor: bigint): EntryCommand => ({ ...transfer(id, 'user', 'merch', amountMinor), expiresAtMs: T0 + 3_600_000 });

/** Every kind of command, crossing the writer's 16-entry inserts, with reads of rows the batch itself wrote. */
function mixedBatch(): LedgerCommand[] {
  const commands: LedgerCommand[] = [];
  const tagged = (i: number): EntryCommand => ({ ...transfer(`t-${i}`, 'user', 'merch', BigInt(100 + i)), metadata: { n: i, batch: 'b-1' }, reference: `ref-${i}` });
  for (let i = 0; i < 40; i++) {
    commands.push(tagged(i));
    // The same id again while its entry is still gathered in the writer: a replay, then a conflict.
    if (i === 1) commands.push(tagged(0), { ...tagged(0), memo: 'other' });
    if (i % 7 === 3) {
      commands.push({
        type: 'entry',
        id: `three-${i}`,
        eventType: 'test.split',
        postings: [
          { accountId: 'user', side: 'debit', amountMinor: 300n, currency: 'CNY' },
          { accountId: 'merch', side: 'credit', amountMinor: 200n, currency: 'CNY' },
          { accountId: 'fee', side: 'credit', amountMinor: 100n, currency: 'CNY' },
        ],
      });
    }
  }
  commands.push(
    hold('h-1', 5_000n),
    { type: 'post_hold', id: 'p-1', holdId: 'h-1', amountMinor: 2_000n },
    hold('h-2', 700n),
    { type: 'void_hold', id: 'v-2', holdId: 'h-2' },
    { type: 'reverse', id: 'r-3', entryId: 't-3' },
    { type: 'reverse', id: 'r-3-again', entryId: 't-3' },
    tagged(5),
    { ...tagged(6), postings: transfer('t-6', 'user', 'merch', 999n).postings },
    transfer('too-much', 'user', 'merch', 10_000_000n),
    transfer('t-last', 'chan', 'fee', 1n),
  );
  return commands;
}

describe('Given a batch that reads back rows it wrote itself', () => {
  it('When posted in one call, Then results, rows, counters and the hash chain equal posting each command alone', async () => {
    const batched = await fundedLedger();
    const single = await fundedLedger();
    const commands = mixedBatch();

    const batchResults = batched.store.postEntriesSync(commands, T0 + 1_000);
    const singleResults = commands.map((c) => single.store.postEntriesSync([c], T0 + 1_000)[0]);

    expect(batchResults).toEqual(singleResults);
    expect(snapshot(batched.store)).toBe(snapshot(single.store));
    const codes = batchResults.map((r) => (r.ok ? (r.replayed ? 'replayed' : 'ok') : r.code));
    expect(codes.slice(-6)).toEqual(['ok', 'already_reversed', 'replayed', 'id_conflict', 'insufficient_funds', 'ok']);
    expect(await verifyLedger(batched.store)).toMatchObject({ ok: true, problem: null });
  });

  it('When the batch is posted, Then the counters the store reads back are the ones it cached', async () => {
    const t = await fundedLedger();
    t.store.postEntriesSync(mixedBatch(), T0 + 1_000);
    const cached = t.store.accountSync('merch');
    t.store.invalidateAccountCache();
    expect(t.store.accountSync('merch')).toEqual(cached);
    const [merch] = await t.store.listAccounts({ accountId: 'merch' });
    const fromPostings = t.store.db
      .prepare("SELECT COALESCE(SUM(amount_minor), 0) FROM postings p JOIN accounts a ON a.account_no = p.account_no JOIN entries e ON e.seq = p.entry_seq WHERE a.account_id = 'merch' AND p.side = 'credit' AND e.kind IN ('posted', 'post_pending')")
      .pluck()
      .get();
    expect(merch?.creditsPosted).toBe(fromPostings);
  });
});

describe('Given accounts to open', () => {
  it('When a call names new accounts and an existing one with the same attributes, Then only the new are counted', async () => {
    const t = await fundedLedger();
    const spec = (accountId: string, ownerId: string) => ({ accountId, subjectCode: '2202', ownerKind: 'merchant' as const, ownerId, currency: 'CNY', flags: 0, status: 'active' as const });
    expect(t.store.ensureAccountsSync([spec('m-a', 'MA'), spec('m-b', 'MB')], T0)).toBe(2);
    expect(t.store.ensureAccountsSync([spec('m-a', 'MA'), spec('m-c', 'MC'), spec('m-b', 'MB')], T0)).toBe(1);
    const before = snapshot(t.store);
    expect(() => t.store.ensureAccountsSync([spec('m-d', 'MD'), spec('m-a', 'other')], T0)).toThrow(/m-a exists with other attributes/);
    expect(() => t.store.ensureAccountsSync([spec('m-e', 'ME'), { ...spec('m-f', 'MF'), subjectCode: '9999' }], T0)).toThrow(/names subject 9999/);
    expect(snapshot(t.store)).toBe(before);
  });
});
