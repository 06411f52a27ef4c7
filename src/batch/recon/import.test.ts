// Importing statement files into a real SQLite file: versions by checksum, all-or-nothing on a parse
// that fails part way, the wrong date refused, and a real WeChat bill through its parser.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { ReconError } from './errors.js';
import { fileSha256 } from './formats/source.js';
import { importStatement, statementFromFile, type StatementSource } from './import.js';
import type { StatementLine, StatementSummary } from './line.js';
import { SqliteReconStore } from './sqlite/recon-store.js';
import { payLine, refundLine } from './test-support.js';

const D = '2026-11-26';
let dir: string;
let ledger: SqliteLedgerStore;
let store: SqliteReconStore;
const clock = (): number => Date.parse('2026-11-27T01:00:00Z');

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-recon-import-'));
  ledger = SqliteLedgerStore.open(join(dir, 'settle.db'), { create: true });
  store = new SqliteReconStore(ledger);
});
afterEach(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

function summaryOf(lines: readonly StatementLine[]): StatementSummary {
  const pays = lines.filter((l) => l.kind === 'payment');
  const refunds = lines.filter((l) => l.kind === 'refund');
  return {
    rows: lines.length,
    payments: pays.length,
    refunds: refunds.length,
    paymentAmountMinor: pays.reduce((s, l) => s + l.amountMinor, 0n),
    refundAmountMinor: refunds.reduce((s, l) => s + l.amountMinor, 0n),
    feeTotal: null,
    totalsCheck: 'ok',
  };
}

/** A parser over lines in memory that, like a real one, may fail after emitting some of them. */
function source(lines: readonly StatementLine[], failAfter?: number): StatementSource {
  return async (onLine) => {
    for (const [i, l] of lines.entries()) {
      if (failAfter !== undefined && i === failAfter) throw new ReconError('file_totals_mismatch', 'the summary row disagrees with the rows');
      onLine(l);
      if (i % 1000 === 0) await Promise.resolve();
    }
    if (failAfter !== undefined) throw new ReconError('file_totals_mismatch', 'the summary row disagrees with the rows');
    return summaryOf(lines);
  };
}

const dayLines = (n: number): StatementLine[] =>
  Array.from({ length: n }, (_v, i) => (i % 10 === 9 ? refundLine(`pay_${i - 1}`, `re_${i}`, 100n, { line: i + 2 }) : payLine(`pay_${i}`, BigInt(1000 + i), { line: i + 2, fee: '0.06000' })));

async function importLines(lines: readonly StatementLine[], sha256: string, failAfter?: number): Promise<Awaited<ReturnType<typeof importStatement>>> {
  return importStatement(store, { channel: 'wallet', businessDate: D, format: 'wechat-trade', sha256, sourceName: 'bill.csv', read: source(lines, failAfter) }, { clock });
}

async function storedLines(fileId: number): Promise<StatementLine[]> {
  const out: StatementLine[] = [];
  for await (const page of store.lines(fileId, 7)) out.push(...page);
  return out;
}

const lineRows = (): number => Number((ledger.db.prepare('SELECT COALESCE(SUM(rows), 0) AS n FROM recon_line_blocks').get() as { n: bigint }).n);

describe('Given a channel file for a date', () => {
  it('When imported, Then its lines read back exactly, in file order, as version 1', async () => {
    const lines = dayLines(23);
    const r = await importLines(lines, 'a'.repeat(64));
    expect(r).toMatchObject({ status: 'imported', previous: undefined });
    expect(r.file).toMatchObject({ version: 1, rows: 23, payments: 21, refunds: 2, totalsCheck: 'ok', sourceName: 'bill.csv' });
    expect(await storedLines(r.file.fileId)).toEqual(lines);
  });

  it('When the same bytes are imported again, Then it is unchanged and nothing is written', async () => {
    const first = await importLines(dayLines(5), 'a'.repeat(64));
    const again = await importLines(dayLines(5), 'a'.repeat(64));
    expect(again).toMatchObject({ status: 'unchanged', file: { fileId: first.file.fileId, version: 1 } });
    expect(lineRows()).toBe(5);
  });

  it('When a corrected file comes for the same date, Then it is version 2 and names version 1 as previous', async () => {
    await importLines(dayLines(5), 'a'.repeat(64));
    const second = await importLines(dayLines(6), 'b'.repeat(64));
    expect(second).toMatchObject({ status: 'imported', file: { version: 2, rows: 6 }, previous: { version: 1 } });
    expect((await store.latestFile('wallet', D))?.version).toBe(2);
  });

  it('When the parse fails after 25,000 lines were emitted (several chunks written), Then nothing is imported and the next import is version 1', async () => {
    await expect(importLines(dayLines(30_000), 'c'.repeat(64), 25_000)).rejects.toMatchObject({ code: 'file_totals_mismatch' });
    expect(lineRows()).toBe(0);
    expect(await store.latestFile('wallet', D)).toBeUndefined();
    const ok = await importLines(dayLines(3), 'd'.repeat(64));
    expect(ok.file.version).toBe(1);
  });

  it('When the parse fails after its last line (the totals), Then nothing is imported', async () => {
    await expect(importLines(dayLines(12), 'c'.repeat(64), 12)).rejects.toThrow(ReconError);
    expect(lineRows()).toBe(0);
  });

  it('When no line occurred on the date asked, Then file_wrong_channel_or_date and nothing is imported', async () => {
    const yesterday = dayLines(4).map((l) => ({ ...l, occurredAt: '2026-11-20T10:00:00+08:00' }));
    await expect(importLines(yesterday, 'e'.repeat(64))).rejects.toMatchObject({ code: 'file_wrong_channel_or_date' });
    expect(lineRows()).toBe(0);
  });

  it('When the file has more lines than the limit, Then too_many_rows and nothing is imported', async () => {
    const r = importStatement(store, { channel: 'wallet', businessDate: D, format: 'wechat-trade', sha256: 'f'.repeat(64), sourceName: null, read: source(dayLines(4)), rowsMax: 3 }, { clock });
    await expect(r).rejects.toMatchObject({ code: 'too_many_rows' });
    expect(lineRows()).toBe(0);
  });
});

describe('Given a hash that is still being computed (a worker hashes while the lines are parsed)', () => {
  const later = <T>(value: T, ms: number): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));
  const importWith = (lines: readonly StatementLine[], sha256: Promise<string>): ReturnType<typeof importStatement> =>
    importStatement(store, { channel: 'wallet', businessDate: D, format: 'wechat-trade', sha256, sourceName: 'bill.csv', read: source(lines) }, { clock });

  it('When the hash comes after the lines, Then the file is imported under it and found by it', async () => {
    const r = await importWith(dayLines(9), later('9'.repeat(64), 30));
    expect(r).toMatchObject({ status: 'imported', file: { version: 1, rows: 9, sha256: '9'.repeat(64) } });
    expect((await store.fileBySha('wallet', D, '9'.repeat(64)))?.fileId).toBe(r.file.fileId);
  });

  it('When the hash names a file imported before, Then the parse stops, the staged lines are removed and it is unchanged', async () => {
    const first = await importLines(dayLines(5), 'a'.repeat(64));
    let emitted = 0;
    const slow: StatementSource = async (onLine) => {
      for (const l of dayLines(50_000)) {
        onLine(l);
        emitted++;
        if (emitted % 1000 === 0) await later(undefined, 1);
      }
      return summaryOf(dayLines(50_000));
    };
    const r = await importStatement(store, { channel: 'wallet', businessDate: D, format: 'wechat-trade', sha256: later('a'.repeat(64), 5), sourceName: 'bill.csv', read: slow }, { clock });
    expect(r).toMatchObject({ status: 'unchanged', file: { fileId: first.file.fileId, version: 1 } });
    expect(emitted).toBeLessThan(50_000);
    expect(lineRows()).toBe(5);
    expect((await store.latestFile('wallet', D))?.version).toBe(1);
  });

  it('When the hash fails (the file cannot be read), Then that error and nothing is imported', async () => {
    const failing = Promise.reject(new ReconError('file_unreadable', 'Cannot read bill.csv: EACCES.'));
    await expect(importWith(dayLines(4), failing)).rejects.toMatchObject({ code: 'file_unreadable' });
    expect(lineRows()).toBe(0);
    expect(await store.latestFile('wallet', D)).toBeUndefined();
  });
});

describe('Given the real WeChat ALL bill sample', () => {
  it('When imported through its parser, Then its four rows (three payments, one refund) are stored with their five-decimal fees', async () => {
    const path = join(import.meta.dirname, '../../../test/fixtures/formats/wechat_tradebill_ALL_20210128.csv');
    const sha256 = await fileSha256(path);
    const r = await importStatement(
      store,
      { channel: 'wallet', businessDate: '2021-01-28', format: 'wechat-trade', sha256, sourceName: 'wechat.csv', read: statementFromFile(path, { format: 'wechat-trade', currency: 'CNY', mapping: undefined }, '2021-01-28') },
      { clock },
    );
    expect(r.file).toMatchObject({ rows: 4, payments: 3, refunds: 1, totalsCheck: 'ok' });
    const lines = await storedLines(r.file.fileId);
    expect(lines.map((l) => [l.kind, l.merchantRefundNo ?? l.merchantOrderNo, l.amountMinor, l.fee])).toEqual([
      ['payment', 'S20210128170702357723', 1n, '0.00000'],
      ['payment', 'S20210128153505214586', 1n, '0.00000'],
      ['payment', 'S20210128165824499930', 1n, '0.00000'],
      ['refund', 'R20210128181309277501', 1n, '0.00000'],
    ]);
  });
});
