import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteConnection } from '../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../ledger/sqlite/store.js';
import { memoryFirstNonces } from './daemon.js';
import { MerchantStore } from './merchants/store.js';
import { SqliteOnlineStore } from './sqlite/store.js';

let db: SqliteConnection;
let merchants: MerchantStore;
let store: SqliteOnlineStore;
const now = Date.UTC(2026, 10, 26, 2, 0, 0);

beforeEach(() => {
  db = openSqlite(':memory:');
  store = new SqliteOnlineStore(db, SqliteLedgerStore.attach(db, ':memory:'));
  merchants = MerchantStore.withMasterKey(db, randomBytes(32));
});
afterEach(async () => {
  await store.drain();
  db.close();
});

describe('Given the daemon nonce store', () => {
  it('When a nonce comes twice, even at once, Then exactly one is accepted', async () => {
    const nonces = memoryFirstNonces(merchants, store, now, (e) => {
      throw e;
    });
    const results = await Promise.all(Array.from({ length: 10 }, () => nonces.remember('key_1', 'nonce-aaaaaaaaaaaa', now, now + 300_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('When the daemon restarts, Then nonces seen before are still refused, and expired ones are forgotten', async () => {
    const first = memoryFirstNonces(merchants, store, now, (e) => {
      throw e;
    });
    expect(await first.remember('key_1', 'nonce-bbbbbbbbbbbb', now, now + 300_000)).toBe(true);
    expect(await first.remember('key_1', 'nonce-old-cccccccc', now - 700_000, now - 1)).toBe(true);
    await store.drain();
    const restarted = memoryFirstNonces(merchants, store, now, (e) => {
      throw e;
    });
    expect(await restarted.remember('key_1', 'nonce-bbbbbbbbbbbb', now + 1_000, now + 300_000)).toBe(false);
    expect(await restarted.remember('key_2', 'nonce-bbbbbbbbbbbb', now + 1_000, now + 300_000)).toBe(true);
    expect(merchants.liveNonces(now).map((n) => n.nonce)).not.toContain('nonce-old-cccccccc');
  });
});
