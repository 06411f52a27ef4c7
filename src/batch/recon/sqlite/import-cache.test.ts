// An import shrinks its connection's page cache to IMPORT_PAGE_CACHE_KIB while it writes (its blocks are
// written once and not read back), and gives the connection its own size back when it commits or aborts.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteLedgerStore } from '../../../ledger/sqlite/store.js';
import { LineBlockBuilder } from '../line-block.js';
import { payLine } from '../test-support.js';
import { IMPORT_PAGE_CACHE_KIB, SqliteReconStore } from './recon-store.js';

const dir = mkdtempSync(join(tmpdir(), 'settle-import-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const summary = { rows: 1, payments: 1, refunds: 0, paymentAmountMinor: 9n, refundAmountMinor: 0n, feeTotal: null, totalsCheck: 'absent' as const };

describe('Given a connection with its own page cache size', () => {
  it.each(['commit', 'abort'] as const)('When a file is imported and the import ends by %s, Then the cache is small meanwhile and its own size after', async (end) => {
    const ledger = SqliteLedgerStore.open(join(dir, `${end}.db`), { create: true });
    try {
      const db = ledger.db;
      db.pragma('cache_size = -3000');
      const store = new SqliteReconStore(ledger);
      const writer = await store.beginImport({ channel: 'wechat', businessDate: '2026-11-26', sha256: end, format: 'wechat-trade', sourceName: 'a.csv', nowMs: 1 });
      expect(db.pragma('cache_size', { simple: true })).toBe(BigInt(-IMPORT_PAGE_CACHE_KIB));
      const block = new LineBlockBuilder();
      block.add(payLine('pay_1', 9n, { line: 2 }));
      await writer.append(block.take());
      if (end === 'commit') await writer.commit(summary, 1, end);
      else await writer.abort();
      expect(db.pragma('cache_size', { simple: true })).toBe(-3000n);
      expect(db.prepare("SELECT COUNT(*) FROM recon_files WHERE status = 'imported'").pluck().get()).toBe(end === 'commit' ? 1n : 0n);
    } finally {
      await ledger.close();
    }
  });
});
