// The line splitter cuts byte chunks only after a newline, so however the bytes arrive (one at a time,
// in odd chunks, all at once) the lines are the same, multi-byte characters included.

import fc from 'fast-check';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { ReconError } from '../errors.js';
import { PARSE_LIMITS } from './limits.js';
import { forEachByteLine, forEachTextLine, type TextEncodingName } from './lines.js';

async function* chunked(bytes: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  let i = 0;
  while (at < bytes.length) {
    const size = sizes.length === 0 ? bytes.length : Math.max(1, sizes[i % sizes.length] ?? 1);
    yield bytes.subarray(at, at + size);
    at += size;
    i += 1;
  }
}

const ctx = { name: 'f', limits: PARSE_LIMITS };
const lineText = fc.string({ unit: fc.constantFrom('a', '1', ',', '`', '中', '文', '￥', ' ', '\t'), maxLength: 20 });

describe('Given text in UTF-8 or GBK arriving in chunks of any size', () => {
  it.each<TextEncodingName>(['utf8', 'gbk'])('Then the %s lines, their numbers and the last line\u2019s ending are the same as one split', async (encoding) => {
    await fc.assert(
      fc.asyncProperty(fc.array(lineText, { minLength: 1, maxLength: 12 }), fc.boolean(), fc.boolean(), fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 6 }), async (lines, crlf, endsWithNewline, sizes) => {
        const eol = crlf ? '\r\n' : '\n';
        const text = lines.join(eol) + (endsWithNewline ? eol : '');
        const bytes = encoding === 'utf8' ? Buffer.from(text, 'utf8') : iconv.encode(text, 'gbk');
        const seen: [string, number, boolean][] = [];
        await forEachTextLine(chunked(bytes, sizes), encoding, ctx, (t, n, terminated) => seen.push([t, n, terminated]));
        const expected = lines.map((l, i): [string, number, boolean] => [l, i + 1, endsWithNewline || i < lines.length - 1]);
        // A file that is one empty unterminated line holds no line at all.
        const trimmed = !endsWithNewline && lines[lines.length - 1] === '' ? expected.slice(0, -1) : expected;
        expect(seen).toEqual(trimmed);
      }),
    );
  });

  it('Then a UTF-8 byte order mark is dropped from the first line only', async () => {
    const seen: string[] = [];
    await forEachTextLine(chunked(Buffer.from('\uFEFFa\r\n\uFEFFb\r\n'), [1]), 'utf8', ctx, (t) => seen.push(t));
    expect(seen).toEqual(['a', '\uFEFFb']);
  });
});

describe('Given raw byte lines (fixed-width formats)', () => {
  it('Then byte lines split on LF with CR removed, whatever the chunking', async () => {
    const bytes = iconv.encode('中文 1\r\nab\r\n\r\nlast', 'gbk');
    for (const sizes of [[], [1], [3, 5]]) {
      const seen: [string, number, boolean][] = [];
      await forEachByteLine(chunked(bytes, sizes), ctx, (b, n, t) => seen.push([iconv.decode(b, 'gbk'), n, t]));
      expect(seen).toEqual([
        ['中文 1', 1, true],
        ['ab', 2, true],
        ['', 3, true],
        ['last', 4, false],
      ]);
    }
  });

  it('Then bytes without a newline beyond the line limit are refused before they pile up', async () => {
    const big = Buffer.alloc(10_000, 0x61);
    await expect(forEachByteLine(chunked(big, [100]), { name: 'f', limits: { ...PARSE_LIMITS, lineBytesMax: 1000 } }, () => undefined)).rejects.toBeInstanceOf(ReconError);
  });
});

/** The bytes in chunks of the given sizes, every chunk written into the same buffer (as a reusing file source does). */
async function* reused(bytes: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  const shared = new Uint8Array(Math.max(...sizes, 1));
  let at = 0;
  for (let i = 0; at < bytes.length; i += 1) {
    const size = Math.min(Math.max(1, sizes[i % sizes.length] ?? 1), bytes.length - at);
    shared.fill(0x5a); // what is left of the chunk before must never show
    shared.set(bytes.subarray(at, at + size));
    yield shared.subarray(0, size);
    at += size;
  }
}

describe('Given a source that reads every chunk into the same buffer', () => {
  it('Then the lines are the same as one split, however the chunks cut the lines', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(lineText, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }), async (lines, sizes) => {
        const bytes = Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
        const seen: string[] = [];
        await forEachTextLine(reused(bytes, sizes), 'utf8', ctx, (t) => seen.push(t));
        expect(seen).toEqual(lines);
        const raw: string[] = [];
        await forEachByteLine(reused(bytes, sizes), ctx, (b) => raw.push(b.toString('utf8')));
        expect(raw).toEqual(lines);
      }),
      { numRuns: 200 },
    );
  });

  it('Then lines longer than a block, and chunks of many blocks, come out whole and numbered in order', async () => {
    // A block handed to the decoder is at most 32 KiB of whole lines: a 1 MiB chunk is many blocks, a 40 KiB line one of its own.
    const lines = Array.from({ length: 3000 }, (_, i) => (i % 997 === 5 ? '长'.repeat(14_000) : `${i},中文,${'x'.repeat(i % 300)}`));
    const bytes = Buffer.from(lines.join('\n'), 'utf8');
    for (const sizes of [[1024 * 1024], [65_536, 7], [bytes.length]]) {
      const seen: [string, number, boolean][] = [];
      await forEachTextLine(reused(bytes, sizes), 'utf8', ctx, (t, n, terminated) => seen.push([t, n, terminated]));
      expect(seen.length).toBe(lines.length);
      expect(seen.map(([t]) => t)).toEqual(lines);
      expect(seen.every(([, n], i) => n === i + 1)).toBe(true);
      expect(seen.filter(([, , terminated]) => !terminated).map(([, n]) => n)).toEqual([lines.length]);
    }
  });

  it('Then bad bytes are still named by their line when the block holding them is not the first', async () => {
    const good = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i}`).join('\n') + '\n', 'utf8');
    const bytes = Buffer.concat([good, Buffer.from([0x61, 0xff, 0x0a])]);
    await expect(forEachTextLine(reused(bytes, [70_000]), 'utf8', ctx, () => undefined)).rejects.toMatchObject({ code: 'encoding_invalid', message: expect.stringContaining('f:5001:') });
  });
});
