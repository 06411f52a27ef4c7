// The packed form of a file's lines: every line reads back exactly (amounts beyond 2^53, nulls, any
// text), through the block and through a run's LineTable; and lines stored a row each before migration 2
// read back the same after it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { migrateModule } from '../../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { BlockBufferPool, decodeBlock, LINE_BLOCK_ROWS, LineBlockBuilder, linesOnDate, readStoredBlock, type StoredBlock } from './line-block.js';
import type { LineStatus, StatementLine } from './line.js';
import { LineTable, PackedLines } from './match.js';
import { RECON_MIGRATIONS } from './sqlite/migrations.js';
import { SqliteReconStore } from './sqlite/recon-store.js';
import { payLine, refundLine } from './test-support.js';

/** A stored block's lines as objects, in order. */
const storedLines = (stored: StoredBlock): StatementLine[] => {
  const table = LineTable.ofStored(stored);
  return Array.from({ length: table.length }, (_v, i) => table.line(i));
};

const STATUSES: readonly LineStatus[] = ['succeeded', 'failed', 'closed', 'processing', 'revoked'];

const lineArb: fc.Arbitrary<StatementLine> = fc.record({
  kind: fc.constantFrom('payment' as const, 'refund' as const),
  // Now and then a key with control characters, a line feed among them, anywhere in the block.
  channelTxnId: fc.oneof({ arbitrary: fc.string({ maxLength: 40 }), weight: 30 }, { arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 8 }), weight: 1 }),
  originalChannelTxnId: fc.option(fc.string({ maxLength: 30 })),
  merchantOrderNo: fc.option(fc.string({ unit: 'grapheme', maxLength: 20 })),
  merchantRefundNo: fc.option(fc.string({ maxLength: 20 })),
  amountMinor: fc.oneof(fc.bigInt({ min: 0n, max: 10_000_000n }), fc.bigInt({ min: 2n ** 52n, max: 2n ** 70n })),
  currency: fc.constantFrom('CNY', 'USD', 'JPY'),
  status: fc.constantFrom(...STATUSES),
  occurredAt: fc.integer({ min: 0, max: 3 * 86_399 }).map((s) => new Date(Date.UTC(2026, 10, 25) + s * 1000).toISOString().replace('.000Z', '+08:00')),
  fee: fc.option(fc.constantFrom('0.00600', '0.01', '1.23456', '-0.06')),
  line: fc.integer({ min: 1, max: 5_000_000 }),
});

describe('Given lines packed into a block', () => {
  it('When the block is read back, as stored bytes, as moved to another thread, as JSON and through a LineTable, Then every line is exactly the one packed', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 60 }), fc.boolean(), (lines, json) => {
        const builder = new LineBlockBuilder();
        for (const l of lines) builder.add(l);
        const block = json ? builder.takeJson() : builder.take();
        expect(builder.rows).toBe(0);
        expect(block.rows).toBe(lines.length);
        const keyWithLf = lines.some((l) => [l.channelTxnId, l.originalChannelTxnId, l.merchantOrderNo, l.merchantRefundNo].some((k) => k?.includes('\n')));
        expect(typeof block.encoded === 'string').toBe(json || keyWithLf);
        expect(storedLines(block.encoded)).toEqual(lines);
        const read = readStoredBlock(block.encoded);
        const table = new LineTable();
        table.appendRead(read);
        expect(Array.from({ length: table.length }, (_v, i) => table.line(i))).toEqual(lines);
        if ('packed' in read) {
          // Read where they lie (a streaming match): every line, and every column, the same.
          const view = new PackedLines(read.packed);
          expect(view.length).toBe(lines.length);
          expect(Array.from({ length: view.length }, (_v, i) => view.line(i))).toEqual(lines);
          lines.forEach((l, i) => {
            expect([view.kind(i), view.channelTxnId(i), view.merchantOrderNo(i), view.merchantRefundNo(i), view.amountMinor(i), view.currency(i), view.status(i), view.fee(i)]).toEqual([
              l.kind,
              l.channelTxnId,
              l.merchantOrderNo,
              l.merchantRefundNo,
              l.amountMinor,
              l.currency,
              l.status,
              l.fee,
            ]);
          });
        }
        expect(linesOnDate('packed' in read ? read.packed : read.json, '2026-11-26')).toBe(lines.filter((l) => l.occurredAt.startsWith('2026-11-26')).length);
        if (typeof block.encoded !== 'string') {
          // As a worker thread sends it: the one buffer moved, the columns read off it on the other side.
          const moved = structuredClone(block.encoded, { transfer: [block.encoded.buffer as ArrayBuffer] });
          expect(block.encoded.byteLength).toBe(0);
          const fromMoved = new LineTable();
          fromMoved.appendPacked(decodeBlock(moved));
          expect(Array.from({ length: fromMoved.length }, (_v, i) => fromMoved.line(i))).toEqual(lines);
          // As SQLite may hand it back: inside a larger buffer at an odd offset.
          const odd = new Uint8Array(moved.byteLength + 3);
          odd.set(moved, 3);
          expect(storedLines(odd.subarray(3))).toEqual(lines);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('When a key holds a line feed, Then the block is stored as JSON text and reads back the same', () => {
    const builder = new LineBlockBuilder();
    const odd = payLine('pay_1', 5n, { merchantOrderNo: 'pay\n1' });
    builder.add(payLine('pay_0', 4n));
    builder.add(odd);
    expect(builder.packColumns()).toBeUndefined();
    const { encoded, columns } = builder.take();
    expect([typeof encoded, columns]).toEqual(['string', undefined]);
    expect(storedLines(encoded)[1]).toEqual(odd);
  });

  it('When more lines than a block holds are added before a take, Then the builder grows and every line reads back', () => {
    const lines = Array.from({ length: LINE_BLOCK_ROWS * 2 + 500 }, (_v, i) => (i % 9 === 8 ? refundLine(`pay_${i - 1}`, `re_${i}`, 2n ** 64n + BigInt(i), { line: i + 2 }) : payLine(`pay_${i}`, BigInt(i), { line: i + 2 })));
    const builder = new LineBlockBuilder();
    for (const l of lines) builder.add(l);
    const { rows, encoded } = builder.take();
    expect([rows, typeof encoded]).toEqual([lines.length, 'object']);
    expect(storedLines(encoded)).toEqual(lines);
  });

  it('When stored bytes are not a block, Then reading them fails instead of giving lines', () => {
    expect(() => decodeBlock(new TextEncoder().encode('{"v":2}'))).toThrow(/neither JSON nor a packed block/);
    expect(() => decodeBlock(new Uint8Array(3))).toThrow(/neither JSON nor a packed block/);
  });

  it('When a status first appears after hundreds of distinct times, Then a LineTable still gives each line its own status', () => {
    const lines = Array.from({ length: 700 }, (_v, i) =>
      payLine(`pay_${i}`, 100n, { occurredAt: `2026-11-26T${String(Math.floor(i / 60) % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00+08:00`, status: i >= 650 ? 'revoked' : 'succeeded' }),
    );
    for (const json of [false, true]) {
      const builder = new LineBlockBuilder();
      for (const l of lines) builder.add(l);
      const table = new LineTable();
      table.appendRead(readStoredBlock((json ? builder.takeJson() : builder.take()).encoded));
      for (const l of lines.slice(640)) table.push(l);
      expect(table.status(660)).toBe('revoked');
      expect(table.status(649)).toBe('succeeded');
      expect(table.status(700 + 15)).toBe('revoked');
      expect(table.line(699)).toEqual(lines[699]);
    }
  });
});

describe('Given a database whose lines were stored a row each (recon schema 1)', () => {
  it('When settle opens it, Then migration 2 packs them into blocks that read back the same lines, and old matched items still show as outcomes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'settle-recon-migrate-'));
    const ledger = SqliteLedgerStore.open(join(dir, 'settle.db'), { create: true });
    try {
      const db = ledger.db;
      migrateModule(db, 'recon', RECON_MIGRATIONS.slice(0, 1));
      db.prepare("INSERT INTO recon_files (file_id, channel, business_date, version, status, sha256, format, imported_at_ms, rows) VALUES (7, 'wallet', '2026-11-26', 1, 'imported', 'ab', 'wechat-trade', 1, 2500)").run();
      const lines: StatementLine[] = Array.from({ length: 2500 }, (_v, i) =>
        i % 7 === 6 ? refundLine(`pay_${i - 1}`, `re_${i}`, 2n ** 60n + BigInt(i), { line: i + 2, fee: '-0.00600' }) : payLine(`pay_${i}`, BigInt(i + 1), { line: i + 2, fee: i % 2 === 0 ? '0.06000' : null }),
      );
      const insert = db.prepare(
        `INSERT INTO recon_lines (file_id, seq, line, kind, channel_txn_id, original_channel_txn_id, merchant_order_no, merchant_refund_no, amount_minor, currency, status, occurred_at, fee)
         VALUES (7, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      db.transaction(() => {
        lines.forEach((l, i) => insert.run(i + 1, l.line, l.kind, l.channelTxnId, l.originalChannelTxnId, l.merchantOrderNo, l.merchantRefundNo, l.amountMinor, l.currency, l.status, l.occurredAt, l.fee));
      })();
      db.prepare("INSERT INTO recon_runs (run_id, channel, business_date, file_id, status, started_at_ms) VALUES (3, 'wallet', '2026-11-26', 7, 'current', 1)").run();
      db.prepare("INSERT INTO recon_items (run_id, outcome, kind, file_id, line_seq, record_source, record_id) VALUES (3, 'matched', 'payment', 7, 1, 'payment', 'pay_0')").run();

      const store = new SqliteReconStore(ledger);
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE name IN ('recon_lines', 'recon_line_blocks', 'recon_outcomes') ORDER BY name").pluck().all();
      expect(tables).toEqual(['recon_line_blocks', 'recon_outcomes']);
      expect(db.prepare('SELECT first_seq, rows FROM recon_line_blocks WHERE file_id = 7 ORDER BY first_seq').raw().all()).toEqual([
        [1n, 2000n],
        [2001n, 500n],
      ]);
      const back: StatementLine[] = [];
      for await (const page of store.lines(7, 900)) back.push(...page);
      expect(back).toEqual(lines);
      expect(await store.line(7, 2001)).toEqual(lines[2000]);
      expect(await store.line(7, 2501)).toBeUndefined();
      expect(db.prepare("SELECT outcome, record_id FROM recon_outcomes WHERE run_id = 3").raw().all()).toEqual([['matched', 'pay_0']]);
    } finally {
      await ledger.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Given a database whose line blocks were stored as JSON text (recon schema 2)', () => {
  it('When settle opens it, Then migration 3 keeps those blocks, which read back the same lines, and new blocks are stored binary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'settle-recon-migrate3-'));
    const ledger = SqliteLedgerStore.open(join(dir, 'settle.db'), { create: true });
    try {
      const db = ledger.db;
      migrateModule(db, 'recon', RECON_MIGRATIONS.slice(0, 2));
      db.prepare("INSERT INTO recon_files (file_id, channel, business_date, version, status, sha256, format, imported_at_ms, rows) VALUES (7, 'wallet', '2026-11-26', 1, 'imported', 'ab', 'wechat-trade', 1, 3)").run();
      const lines = [payLine('pay_0', 1n, { line: 2 }), refundLine('pay_0', 're_0', 2n ** 63n + 5n, { line: 3, fee: '-0.00600' }), payLine('pay_2', 3n, { line: 4, merchantOrderNo: 'pay\n2' })];
      const builder = new LineBlockBuilder();
      for (const l of lines) builder.add(l);
      db.prepare('INSERT INTO recon_line_blocks (file_id, first_seq, rows, lines) VALUES (7, 1, 3, ?)').run(builder.takeJson().encoded);

      const store = new SqliteReconStore(ledger);
      expect(db.prepare("SELECT version FROM schema_migrations WHERE module = 'recon'").pluck().get()).toBe(BigInt(RECON_MIGRATIONS.length));
      expect(db.prepare('SELECT typeof(lines) FROM recon_line_blocks').pluck().all()).toEqual(['text']);
      const back: StatementLine[] = [];
      for await (const page of store.lines(7, 2)) back.push(...page);
      expect(back).toEqual(lines);
      expect(await store.line(7, 2)).toEqual(lines[1]);

      const writer = await store.beginImport({ channel: 'wallet', businessDate: '2026-11-27', sha256: 'cd', format: 'wechat-trade', sourceName: 'b.csv', nowMs: 2 });
      const next = new LineBlockBuilder();
      next.add(payLine('pay_9', 9n, { line: 2 }));
      await writer.append(next.take());
      expect(db.prepare('SELECT typeof(lines) FROM recon_line_blocks WHERE file_id = ?').pluck().all(writer.fileId)).toEqual(['blob']);
      expect(await store.line(writer.fileId, 1)).toEqual(payLine('pay_9', 9n, { line: 2 }));
    } finally {
      await ledger.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Given a pool of block buffers (what the parse worker writes blocks into)', () => {
  it('When buffers come back, Then a block goes into one that fits; a larger block gets a new one with room to spare, which replaces the largest of those too small', () => {
    const pool = new BlockBufferPool(2);
    const first = pool.bufferFor(1000);
    expect(first.byteLength).toBe(1250);
    pool.give(first);
    expect(pool.bufferFor(1200)).toBe(first);
    pool.give(first);
    const larger = pool.bufferFor(2000);
    expect(larger.byteLength).toBe(2500);
    expect(pool.made).toBe(2);
    // `first` was too small for 2,000 and was let go: only `larger` comes back out.
    pool.give(larger);
    expect(pool.bufferFor(10)).toBe(larger);
    expect(pool.made).toBe(2);
    // At most `max` are kept.
    const a = pool.bufferFor(10);
    const b = pool.bufferFor(10);
    const c = pool.bufferFor(10);
    for (const x of [a, b, c]) pool.give(x);
    expect([pool.bufferFor(10), pool.bufferFor(10)]).toEqual([a, b]);
    expect(pool.made).toBe(5);
    expect(pool.bufferFor(10)).not.toBe(c);
  });

  it('When a block is encoded into a recycled buffer larger than it, Then its bytes are the buffer\u2019s start and decode as a fresh one would', () => {
    const builder = new LineBlockBuilder();
    const lines: StatementLine[] = Array.from({ length: 30 }, (_, i) => ({
      kind: i % 7 === 3 ? 'refund' : 'payment',
      channelTxnId: `4200${i}`,
      originalChannelTxnId: i % 7 === 3 ? `4200${i - 1}` : null,
      merchantOrderNo: `ord_${i}`,
      merchantRefundNo: i % 7 === 3 ? `re_${i}` : null,
      amountMinor: BigInt(100 + i),
      currency: 'CNY',
      status: 'succeeded',
      occurredAt: `2026-11-26T10:00:${String(i).padStart(2, '0')}+08:00`,
      fee: '0.06000',
      line: i + 3,
    }));
    for (const l of lines) builder.add(l);
    const fresh = builder.take();
    for (const l of lines) builder.add(l);
    const big = new ArrayBuffer(1 << 20);
    new Uint8Array(big).fill(0xee);
    const reused = builder.take(() => big);
    expect((reused.encoded as Uint8Array).buffer).toBe(big);
    expect(Buffer.from(reused.encoded as Uint8Array).equals(Buffer.from(fresh.encoded as Uint8Array))).toBe(true);
    expect(decodeBlock(reused.encoded as Uint8Array)).toEqual(decodeBlock(fresh.encoded as Uint8Array));
  });
});
