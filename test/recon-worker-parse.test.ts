// Parsing on a worker thread gives exactly what parsing on this thread gives: the same hash, the same
// packed blocks, the same summary; bad input keeps its stable code across the thread boundary; a parse
// that is not wanted (an unchanged file) is closed without running.

import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { importStatement, parseOptionsOf } from '../src/batch/recon/import.js';
import type { EncodedLineBlock } from '../src/batch/recon/line-block.js';
import type { StatementSummary } from '../src/batch/recon/line.js';
import { SqliteReconStore } from '../src/batch/recon/sqlite/recon-store.js';
import { MemoryOut } from '../src/online/channel-sim/bills/sinks.js';
import { ZipWriter } from '../src/online/channel-sim/bills/zip.js';
import { WORKER_PARSE, bytesToParse, startFileParse } from '../src/batch/recon/worker-parse.js';
import { writeWechatBill } from './support/wechat-bill.js';

const D = '2026-11-26';
const channel = { format: 'wechat-trade', currency: 'CNY', mapping: undefined } as const;
let dir: string;
let bill: string;

async function parseWith(mode: 'always' | 'never', path: string): Promise<{ sha256: string; blocks: EncodedLineBlock[]; summary: StatementSummary; onWorker: boolean }> {
  const parse = await startFileParse(path, parseOptionsOf(channel, D), { mode });
  try {
    const sha256 = await parse.sha256;
    const blocks: EncodedLineBlock[] = [];
    // A block's bytes are the callback's only until it returns (the worker takes the buffer back): kept as copies.
    const summary = await parse.blocks((b) => void blocks.push({ rows: b.rows, encoded: typeof b.encoded === 'string' ? b.encoded : Uint8Array.from(b.encoded), columns: b.columns && { ...b.columns } }));
    return { sha256, blocks, summary, onWorker: parse.onWorker };
  } finally {
    parse.close();
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-worker-parse-'));
  bill = join(dir, 'bill.csv');
  writeWechatBill(bill, D, 4_321);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Given a WeChat bill of 4,321 rows', () => {
  it('When parsed on a worker thread and on this thread, Then the hash, every packed block and the summary are the same', async () => {
    const there = await parseWith('always', bill);
    const here = await parseWith('never', bill);
    expect([there.onWorker, here.onWorker]).toEqual([true, false]);
    expect(there.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(there.sha256).toBe(here.sha256);
    expect(there.blocks.map((b) => b.rows)).toEqual([2000, 2000, 321]);
    // The same stored bytes (binary blocks); from the worker, the columns read off them already (no JSON).
    expect(there.blocks.every((b) => b.encoded instanceof Uint8Array && b.columns?.rows === b.rows)).toBe(true);
    expect(there.blocks.map((b) => [b.rows, Buffer.from(b.encoded as Uint8Array).toString('base64')])).toEqual(here.blocks.map((b) => [b.rows, Buffer.from(b.encoded as Uint8Array).toString('base64')]));
    expect(there.summary).toEqual(here.summary);
    expect(there.summary).toMatchObject({ rows: 4321, refunds: 86, totalsCheck: 'ok' });
  });

  it('When imported through the worker, Then the stored lines are those of an import on this thread', async () => {
    const ledger = SqliteLedgerStore.open(join(dir, 'import.db'), { create: true });
    try {
      const store = new SqliteReconStore(ledger);
      const imported = [];
      for (const [k, mode] of (['always', 'never'] as const).entries()) {
        const parse = await startFileParse(bill, parseOptionsOf(channel, D), { mode });
        try {
          const r = await importStatement(
            store,
            { channel: `wallet${k}`, businessDate: D, format: 'wechat-trade', sha256: await parse.sha256, sourceName: 'bill.csv', read: { blocks: parse.blocks }, keepLines: true },
            { clock: () => 0 },
          );
          imported.push(r);
        } finally {
          parse.close();
        }
      }
      const [a, b] = imported;
      expect(a?.file.rows).toBe(4321);
      const lines = async (fileId: number): Promise<unknown[]> => {
        const out: unknown[] = [];
        for await (const page of store.lines(fileId, 1000)) out.push(...page);
        return out;
      };
      expect(await lines(a?.file.fileId ?? 0)).toEqual(await lines(b?.file.fileId ?? 0));
      expect(a?.lines?.line(4320)).toEqual(b?.lines?.line(4320));
    } finally {
      await ledger.close();
    }
  });

  it('When the importer is done with each block before the next is posted, Then the worker writes every block into one buffer and the stored lines are unchanged', async () => {
    const ledger = SqliteLedgerStore.open(join(dir, 'reuse.db'), { create: true });
    try {
      const store = new SqliteReconStore(ledger);
      const imported = [];
      const made = [];
      for (const [k, blocksInFlightMax] of [1, 24, 0].entries()) {
        const parse = await startFileParse(bill, parseOptionsOf(channel, D), blocksInFlightMax === 0 ? { mode: 'never' } : { mode: 'always', blocksInFlightMax });
        try {
          const r = await importStatement(
            store,
            { channel: `reuse${k}`, businessDate: D, format: 'wechat-trade', sha256: await parse.sha256, sourceName: 'bill.csv', read: { blocks: parse.blocks } },
            { clock: () => 0 },
          );
          imported.push(r);
          made.push(parse.buffersMade);
        } finally {
          parse.close();
        }
      }
      // One block in flight: blocks 2 and 3 go into block 1's buffer, handed back. 24 in flight: the parse
      // may run ahead of the import, so it finds 0-2 buffers back. On this thread: no worker, no count.
      expect(made[0]).toBe(1);
      expect(made[1]).toBeGreaterThanOrEqual(1);
      expect(made[1]).toBeLessThanOrEqual(3);
      expect(made[2]).toBeUndefined();
      const lines = async (fileId: number): Promise<unknown[]> => {
        const out: unknown[] = [];
        for await (const page of store.lines(fileId, 1000)) out.push(...page);
        return out;
      };
      const [reused, ahead, here] = await Promise.all(imported.map((r) => lines(r.file.fileId)));
      expect(here).toHaveLength(4321);
      expect(reused).toEqual(here);
      expect(ahead).toEqual(here);
    } finally {
      await ledger.close();
    }
  });

  it('When the importer is still working on a block, Then its bytes stay as they came; when it is done, the buffer goes back to the worker', async () => {
    const parse = await startFileParse(bill, parseOptionsOf(channel, D), { mode: 'always', blocksInFlightMax: 2 });
    try {
      const seen: { block: EncodedLineBlock; copy: Uint8Array; still: boolean }[] = [];
      const working: Promise<void>[] = [];
      await parse.blocks((b) => {
        const copy = Uint8Array.from(b.encoded as Uint8Array);
        // Long enough for the parser to post the next block and, were this buffer back, write into it.
        const work = new Promise<void>((r) => setTimeout(r, 80)).then(() => void seen.push({ block: b, copy, still: Buffer.compare(b.encoded as Uint8Array, copy) === 0 }));
        working.push(work);
        return work;
      });
      await Promise.all(working);
      await new Promise((r) => setImmediate(r));
      expect(seen.map((s) => [s.block.rows, s.still])).toEqual([
        [2000, true],
        [2000, true],
        [321, true],
      ]);
      // Moved back: this thread's views of every block are empty now.
      expect(seen.map((s) => [(s.block.encoded as Uint8Array).byteLength, s.block.columns?.amount.length])).toEqual([
        [0, 0],
        [0, 0],
        [0, 0],
      ]);
      expect(parse.buffersMade).toBe(2);
    } finally {
      parse.close();
    }
  });

  it('When its summary row is altered, Then the worker reports file_totals_mismatch, as this thread would', async () => {
    const bad = join(dir, 'bad.csv');
    const text = readFileSync(bill, 'utf8');
    // The summary row's first cell is the row count: say one more than there is.
    writeFileSync(bad, text.replace(/\r\n`4321,/, '\r\n`4322,'));
    expect(readFileSync(bad, 'utf8')).not.toBe(text);
    await expect(parseWith('always', bad)).rejects.toMatchObject({ name: 'ReconError', code: 'file_totals_mismatch' });
    await expect(parseWith('never', bad)).rejects.toMatchObject({ code: 'file_totals_mismatch' });
  });

  it('When the file is missing, Then the worker reports file_unreadable before any parse', async () => {
    const parse = await startFileParse(join(dir, 'absent.csv'), parseOptionsOf(channel, D), { mode: 'always' });
    try {
      await expect(parse.sha256).rejects.toMatchObject({ code: 'file_unreadable' });
      await expect(parse.blocks(() => undefined)).rejects.toMatchObject({ code: 'file_unreadable' });
    } finally {
      parse.close();
    }
  });

  it('When the hash is all that is wanted (an unchanged file), Then closing stops the worker and a later parse is refused', async () => {
    const parse = await startFileParse(bill, parseOptionsOf(channel, D), { mode: 'always' });
    expect(await parse.sha256).toMatch(/^[0-9a-f]{64}$/);
    parse.close();
    await expect(parse.blocks(() => undefined)).rejects.toThrow(/closed/);
  });

  it('When the parse ends before the hash (a small file, a slow disk), Then the hash still arrives and the workers end by themselves', async () => {
    const gate = new SharedArrayBuffer(4);
    const parse = await startFileParse(bill, parseOptionsOf(channel, D), { mode: 'always', hashGate: gate });
    try {
      let rows = 0;
      const summary = await parse.blocks((b) => void (rows += b.rows));
      expect([summary.rows, rows]).toEqual([4_321, 4_321]);
      Atomics.store(new Int32Array(gate), 0, 1);
      Atomics.notify(new Int32Array(gate), 0);
      expect(await parse.sha256).toBe(createHash('sha256').update(readFileSync(bill)).digest('hex'));
    } finally {
      parse.close();
    }
  });

  it('When the importing side throws on a block, Then the parse stops with that error', async () => {
    const parse = await startFileParse(bill, parseOptionsOf(channel, D), { mode: 'always' });
    try {
      await parse.sha256;
      await expect(
        parse.blocks(() => {
          throw new Error('disk full');
        }),
      ).rejects.toThrow('disk full');
    } finally {
      parse.close();
    }
  });
});

describe('Given files smaller and larger to parse than they are on disk', () => {
  /** A zip of one entry of `bytes` bytes that compress about as well as a statement (random hex in each line). */
  const zipOf = (bytes: number): Buffer => {
    const out = new MemoryOut();
    const zip = new ZipWriter(out, { year: 2026, month: 11, day: 27, hour: 9, minute: 0, second: 0 });
    const e = zip.entry(Buffer.from('detail.csv'));
    for (let written = 0, i = 0; written < bytes; i++) {
      const line = Buffer.from(`${i},${randomBytes(6).toString('hex')},交易,bench order,80.19\r\n`);
      e.write(line.subarray(0, Math.min(line.length, bytes - written)));
      written += line.length;
    }
    e.end();
    zip.finish();
    return out.bytes();
  };

  it('When counted, Then a plain file is its size, a zip the sizes its entries declare, a damaged zip its size and a missing file nothing', async () => {
    const inflated = WORKER_PARSE.minBytes + 12_345;
    const big = join(dir, 'big.zip');
    writeFileSync(big, zipOf(inflated));
    const damaged = join(dir, 'damaged.zip');
    writeFileSync(damaged, zipOf(1_000).subarray(0, 200));
    expect(readFileSync(big).length).toBeLessThan(WORKER_PARSE.minBytes / 2);
    expect(await bytesToParse(big, {})).toBe(inflated);
    expect(await bytesToParse(bill, {})).toBe(readFileSync(bill).length);
    expect(await bytesToParse(damaged, {})).toBe(200);
    expect(await bytesToParse(join(dir, 'missing.zip'), {})).toBe(0);
  });

  it('When parsed with the automatic choice, Then a small zip that inflates past the threshold goes to a worker and a small file stays here', async () => {
    const big = join(dir, 'auto-big.zip');
    writeFileSync(big, zipOf(WORKER_PARSE.minBytes));
    const small = join(dir, 'auto-small.zip');
    writeFileSync(small, zipOf(WORKER_PARSE.minBytes - 1));
    const options = parseOptionsOf({ format: 'alipay-trade', currency: 'CNY', mapping: undefined }, D);
    const onWorker = async (path: string): Promise<boolean> => {
      const parse = await startFileParse(path, options);
      parse.close();
      return parse.onWorker;
    };
    expect([await onWorker(big), await onWorker(small), await onWorker(bill)]).toEqual([true, false, false]);
  });
});

describe('Given the built JavaScript (dist, as `settle` runs it)', () => {
  it('When a file is parsed on a worker there, Then the worker is dist’s parse-worker.js and gives the same summary', () => {
    const root = join(import.meta.dirname, '..');
    const script = `
      const { startFileParse } = await import(${JSON.stringify(join(root, 'dist/batch/recon/worker-parse.js'))});
      const { parseOptionsOf } = await import(${JSON.stringify(join(root, 'dist/batch/recon/import.js'))});
      const p = await startFileParse(${JSON.stringify(bill)}, parseOptionsOf({ format: 'wechat-trade', currency: 'CNY' }, '${D}'), { mode: 'always' });
      const sha = await p.sha256;
      let rows = 0;
      const s = await p.blocks((b) => { rows += b.columns ? b.rows : 0; });
      p.close();
      console.log(JSON.stringify({ onWorker: p.onWorker, sha, rows, summaryRows: s.rows, totals: s.totalsCheck }));`;
    const file = join(dir, 'dist-check.mjs');
    writeFileSync(file, script);
    const env = { ...process.env };
    delete env['NODE_OPTIONS'];
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000, env });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ onWorker: true, sha: createHash('sha256').update(readFileSync(bill)).digest('hex'), rows: 4321, summaryRows: 4321, totals: 'ok' });
  });

  it('When the hash worker starts, Then its module loads only the file source and the error codes, not the parsers or the matcher', () => {
    // The modules a worker module loads at run time: its relative imports, less `import type`, followed through.
    const reached = new Set<string>();
    const visit = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const m of readFileSync(file, 'utf8').matchAll(/^import (?!type )[^'"]*from '(\.{1,2}\/[^']+)\.js';$/gm)) visit(join(dirname(file), `${m[1]}.ts`));
    };
    const src = join(import.meta.dirname, '..', 'src', 'batch', 'recon');
    visit(join(src, 'hash-worker.ts'));
    expect([...reached].map((f) => relative(src, f)).sort()).toEqual(['errors.ts', 'formats/source.ts', 'hash-worker.ts']);
  });
});
