// Helpers shared by the ledger's tests: a small chart on a real SQLite database and a snapshot of
// everything the ledger stores, to prove a refused command wrote nothing.

import { parseChart, type LedgerConfigInput } from './chart-config.js';
import type { EntryCommand, PostingInput } from './entry.js';
import { Ledger } from './ledger.js';
import { SqliteLedgerStore } from './sqlite/store.js';

export const TEST_CHART: LedgerConfigInput = {
  subjects: [
    { code: '1002', name: 'Reserve bank', type: 'asset' },
    { code: '1122', name: 'Channel receivable', type: 'asset' },
    { code: '2202', name: 'Merchant payable', type: 'liability' },
    { code: '2241', name: 'User balance', type: 'liability' },
    { code: '6001', name: 'Fee income', type: 'revenue' },
  ],
  accounts: [
    { account_id: 'bank', subject: '1002', owner_kind: 'bank', owner_id: 'B1', currency: 'CNY', flags: ['credits_must_not_exceed_debits'] },
    { account_id: 'chan', subject: '1122', owner_kind: 'channel', owner_id: 'wechat', currency: 'CNY' },
    { account_id: 'chan-usd', subject: '1122', owner_kind: 'channel', owner_id: 'wechat', currency: 'USD' },
    { account_id: 'merch', subject: '2202', owner_kind: 'merchant', owner_id: 'M1', currency: 'CNY' },
    { account_id: 'merch-usd', subject: '2202', owner_kind: 'merchant', owner_id: 'M1', currency: 'USD' },
    { account_id: 'user', subject: '2241', owner_kind: 'user', owner_id: 'U1', currency: 'CNY', flags: ['debits_must_not_exceed_credits'] },
    { account_id: 'fee', subject: '6001', owner_kind: 'platform', owner_id: 'P', currency: 'CNY' },
  ],
};

export const T0 = Date.parse('2026-11-26T02:00:00Z');

export interface TestLedger {
  ledger: Ledger;
  store: SqliteLedgerStore;
  clock: { now: number };
}

export async function openTestLedger(path = ':memory:', chart: LedgerConfigInput = TEST_CHART): Promise<TestLedger> {
  const store = SqliteLedgerStore.open(path, { create: true, synchronous: 'NORMAL' });
  const clock = { now: T0 };
  const ledger = new Ledger(store, () => clock.now);
  await ledger.initialise(parseChart(chart), '2026-11-26');
  return { ledger, store, clock };
}

export function transfer(id: string, debit: string, credit: string, amountMinor: bigint, currency = 'CNY'): EntryCommand {
  const postings: PostingInput[] = [
    { accountId: debit, side: 'debit', amountMinor, currency },
    { accountId: credit, side: 'credit', amountMinor, currency },
  ];
  return { type: 'entry', id, eventType: 'test.transfer', postings };
}

/** Every row the ledger keeps, as text: equal snapshots mean nothing was written. */
export function snapshot(store: SqliteLedgerStore): string {
  const tables = ['accounts', 'entries', 'postings', 'holds', 'reversals', 'business_days', 'day_balances'];
  return JSON.stringify(
    tables.map((t) => store.db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()),
    (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
  );
}

/**
 * JSON with every object's keys sorted and bigints as strings, by a replacer that copies each object: the
 * canonical form as first written (entry.test.ts checks canonicalJson against it), and "same content" as the
 * ledger's idempotency key understands it (key order and bigint-vs-string do not matter).
 */
export function sortedKeyJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}
