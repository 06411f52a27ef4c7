// The zip writer: valid archives (read back by a tiny reader and by unzip when installed), streamed
// entries of several deflate chunks, the same bytes for the same input.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BILL_LIMITS } from './limits.js';
import { FileOut, MemoryOut } from './sinks.js';
import { readZip } from './test-support.js';
import { gbk } from './text.js';
import { ZipWriter } from './zip.js';

const TIME = { year: 2026, month: 11, day: 27, hour: 9, minute: 0, second: 0 };

/** Text that compresses, but not to nothing: a block of lines with pseudo-random numbers, repeated. */
function text(bytes: number): Buffer {
  const lines: string[] = [];
  let x = 2_463_534_242;
  for (let i = 0; i < 2_000; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    lines.push(`${i},${(x >>> 0).toString(16)},交易,0.01\r\n`);
  }
  const block = Buffer.from(lines.join(''));
  const copies = Math.ceil(bytes / block.length);
  return Buffer.concat(Array.from({ length: copies }, () => block)).subarray(0, bytes);
}

function zipOf(entries: readonly [string, Buffer][], pieceBytes = 4096): Buffer {
  const out = new MemoryOut();
  const zip = new ZipWriter(out, TIME);
  for (const [name, content] of entries) {
    const e = zip.entry(gbk(name));
    for (let i = 0; i < content.length; i += pieceBytes) e.write(content.subarray(i, i + pieceBytes));
    e.end();
  }
  zip.finish();
  return out.bytes();
}

describe('zip writer', () => {
  it('Given two entries, When zipped, Then the reader finds them with their names, CRCs, DOS time and content', () => {
    const a = Buffer.from('hello\r\n');
    const b = text(10_000);
    const entries = readZip(zipOf([['明细.csv', a], ['汇总.csv', b]]));
    expect(entries.map((e) => e.nameBytes)).toEqual([gbk('明细.csv'), gbk('汇总.csv')]);
    expect(entries.map((e) => e.content)).toEqual([a, b]);
    expect(entries.map((e) => e.crc)).toEqual([crc32(a), crc32(b)]);
    expect(entries[0]?.dosDate).toBe(((2026 - 1980) << 9) | (11 << 5) | 27);
    expect(entries[0]?.dosTime).toBe(9 << 11);
  });

  it('Given an entry larger than one chunk, When streamed, Then its deflate pieces form one valid stream and unzip accepts the file', () => {
    const big = text(BILL_LIMITS.chunkBytes * 2 + 12_345);
    const dir = mkdtempSync(join(tmpdir(), 'settle-zip-'));
    try {
      const path = join(dir, 'big.zip');
      const out = new FileOut(path);
      const zip = new ZipWriter(out, TIME);
      const e = zip.entry(gbk('big.csv'));
      for (let i = 0; i < big.length; i += 65_536) e.write(big.subarray(i, i + 65_536));
      e.end();
      zip.finish();
      out.commit();
      expect(existsSync(`${path}.part`)).toBe(false);
      const [entry] = readZip(readFileSync(path));
      expect(entry?.content.equals(big)).toBe(true);
      expect(entry?.crc).toBe(crc32(big));
      if (existsSync('/usr/bin/unzip')) execFileSync('unzip', ['-tq', path]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Given the same entries written in different pieces, When zipped twice, Then the bytes are identical', () => {
    const content = text(50_000);
    expect(zipOf([['a.csv', content]], 100).equals(zipOf([['a.csv', content]], 7_000))).toBe(true);
  });

  it('Given an entry still open, When another is started or the zip finished, Then the writer refuses (a bug, not a bill)', () => {
    const zip = new ZipWriter(new MemoryOut(), TIME);
    zip.entry(gbk('a'));
    expect(() => zip.entry(gbk('b'))).toThrow(/not ended/);
    expect(() => zip.finish()).toThrow(/not ended/);
  });
});
