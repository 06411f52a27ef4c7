// A file source reads in bounded chunks; with `reuse` every chunk is read into one buffer, so a million-line
// file makes no garbage buffer per megabyte — and the bytes are still the file's, in order.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { READ_CHUNK_BYTES, bytesSource, fileSha256, fileSource } from './source.js';

const dir = mkdtempSync(join(tmpdir(), 'settle-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bytes = randomBytes(2 * READ_CHUNK_BYTES + 12_345);
const path = join(dir, 'f.bin');
writeFileSync(path, bytes);

describe('Given a file of two and a bit read chunks', () => {
  it.each([false, true])('When read in chunks with reuse %s, Then the copied chunks are the file, and reuse reads them all into one buffer', async (reuse) => {
    const source = await fileSource(path);
    const copies: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for await (const chunk of source.chunks(7, bytes.length, { reuse })) {
      copies.push(Buffer.from(chunk));
      buffers.add(chunk.buffer);
    }
    await source.close();
    expect(Buffer.concat(copies).equals(bytes.subarray(7))).toBe(true);
    expect(copies.map((c) => c.length)).toEqual([READ_CHUNK_BYTES, READ_CHUNK_BYTES, 12_345 - 7]);
    if (reuse) expect(buffers.size).toBe(1);
    else expect(buffers.size).toBe(3);
  });

  it.each([false, true])('When read from a file and from memory in chunks of 64 KiB (file reuse %s), Then the chunks are that size and are the bytes', async (reuse) => {
    const piece = 64 * 1024;
    const file = await fileSource(path);
    for (const source of [file, bytesSource(bytes)]) {
      const copies: Buffer[] = [];
      for await (const chunk of source.chunks(3, 5 * piece + 10, { reuse, chunkBytes: piece })) copies.push(Buffer.from(chunk));
      expect(copies.map((c) => c.length)).toEqual([piece, piece, piece, piece, piece, 10]);
      expect(Buffer.concat(copies).equals(bytes.subarray(3, 3 + 5 * piece + 10))).toBe(true);
    }
    await file.close();
  });

  it('Then its SHA-256, read through one reused buffer, is the hash of its bytes', async () => {
    expect(await fileSha256(path)).toBe(createHash('sha256').update(bytes).digest('hex'));
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    expect(await fileSha256(empty)).toBe(createHash('sha256').digest('hex'));
  });

  it('Then a file that is not there is file_unreadable, naming it', async () => {
    await expect(fileSha256(join(dir, 'missing.csv'))).rejects.toMatchObject({ code: 'file_unreadable', message: expect.stringContaining('missing.csv') });
  });
});
