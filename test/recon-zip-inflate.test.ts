// The zip reader's inflating path: an entry many read pieces long comes out whole through one reused input
// buffer, even when the source scribbles over a piece as soon as the next is asked for; a read failure in
// the middle reaches the reader as itself; a reader that stops early ends the source's read.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { MemoryOut } from '../src/online/channel-sim/bills/sinks.js';
import { ZipWriter } from '../src/online/channel-sim/bills/zip.js';
import { ReconError } from '../src/batch/recon/errors.js';
import { PARSE_LIMITS } from '../src/batch/recon/formats/limits.js';
import { bytesSource, fileSource, type ByteSource, type ChunkOptions } from '../src/batch/recon/formats/source.js';
import { entryChunks, readZipDirectory } from '../src/batch/recon/formats/zip.js';

const dir = mkdtempSync(join(tmpdir(), 'settle-zip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Lines that compress about as well as a statement's: a counter, random hex, a fixed tail. */
function statementLike(bytes: number): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  for (let i = 0; total < bytes; i++) {
    const line = Buffer.from(`${i},${randomBytes(6).toString('hex')},2026-11-26 10:00:00,交易成功,0.01\r\n`);
    parts.push(line);
    total += line.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

function zipOf(content: Buffer): Buffer {
  const out = new MemoryOut();
  const zip = new ZipWriter(out, { year: 2026, month: 11, day: 27, hour: 9, minute: 0, second: 0 });
  const e = zip.entry(Buffer.from('detail.csv'));
  for (let i = 0; i < content.length; i += 65_536) e.write(content.subarray(i, i + 65_536));
  e.end();
  zip.finish();
  return out.bytes();
}

const content = statementLike(3 * 1024 * 1024 + 777);
const zipped = zipOf(content);
const path = join(dir, 'a.zip');
writeFileSync(path, zipped);

/**
 * The file's source, but every reused chunk is overwritten with 0xFF the moment the next is asked for (and
 * at the end): a reader that still used a piece after asking for the next would inflate garbage. Records
 * the options of every sequential read and whether each ended.
 */
async function scribblingSource(failAfterPieces?: number): Promise<{ source: ByteSource; reads: { options: ChunkOptions | undefined; ended: boolean; pieces: number }[] }> {
  const inner = await fileSource(path);
  const reads: { options: ChunkOptions | undefined; ended: boolean; pieces: number }[] = [];
  const source: ByteSource = {
    ...inner,
    read: (offset, length) => inner.read(offset, length),
    async *chunks(offset, length, options) {
      const read = { options, ended: false, pieces: 0 };
      reads.push(read);
      try {
        for await (const chunk of inner.chunks(offset, length, options)) {
          if (failAfterPieces !== undefined && read.pieces === failAfterPieces) throw new ReconError('file_unreadable', 'the disk went away');
          read.pieces++;
          yield chunk;
          if (options?.reuse === true) chunk.fill(0xff);
        }
      } finally {
        read.ended = true;
      }
    },
    close: () => inner.close(),
  };
  return { source, reads };
}

describe('Given a deflated entry of 3 MiB, many read pieces long', () => {
  it('When inflated from a source that scribbles over each piece once the next is asked for, Then the bytes are the entry and its CRC holds', async () => {
    const { source, reads } = await scribblingSource();
    const archive = await readZipDirectory(source, PARSE_LIMITS);
    const out: Buffer[] = [];
    for await (const chunk of entryChunks(source, archive, archive.entries[0]!)) out.push(Buffer.from(chunk));
    await source.close();
    expect(Buffer.concat(out).equals(content)).toBe(true);
    // One sequential read, into one reused buffer, in pieces far smaller than the entry.
    expect(reads).toHaveLength(1);
    expect(reads[0]!.options?.reuse).toBe(true);
    expect(reads[0]!.pieces).toBeGreaterThan(4);
    expect(reads[0]!.ended).toBe(true);
  });

  it('When the source fails in the middle, Then the reader gets that failure, with its code', async () => {
    const { source, reads } = await scribblingSource(2);
    const archive = await readZipDirectory(source, PARSE_LIMITS);
    const reading = (async () => {
      for await (const chunk of entryChunks(source, archive, archive.entries[0]!)) void chunk;
    })();
    await expect(reading).rejects.toMatchObject({ code: 'file_unreadable', message: 'the disk went away' });
    await source.close();
    expect(reads[0]!.ended).toBe(true);
  });

  it('When the reader stops after its first chunk, Then the source is read no further and its read ends', async () => {
    const { source, reads } = await scribblingSource();
    const archive = await readZipDirectory(source, PARSE_LIMITS);
    for await (const chunk of entryChunks(source, archive, archive.entries[0]!)) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    // The feeder's pending write fails once the inflater is gone, and its read of the source unwinds.
    await vi.waitFor(() => expect(reads[0]!.ended).toBe(true), { timeout: 10_000 });
    await source.close();
    expect(reads[0]!.pieces).toBeLessThan(4);
  });

  it('When its compressed bytes are cut short in memory, Then it is zip_invalid (truncated), not a hang', async () => {
    const archive = await readZipDirectory(bytesSource(zipped), PARSE_LIMITS);
    const entry = archive.entries[0]!;
    const cut = { ...entry, compressedBytes: Math.floor(entry.compressedBytes / 2) };
    const reading = (async () => {
      for await (const chunk of entryChunks(bytesSource(zipped), archive, cut)) void chunk;
    })();
    await expect(reading).rejects.toMatchObject({ code: 'zip_invalid' });
  });
});
