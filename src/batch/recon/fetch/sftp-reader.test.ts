// The pipelined SFTP reader: whatever order the answers come back in and however short they are, the
// stream yields the file's bytes exactly, in order, and closes its handle. Property-tested against a
// stand-in SFTP session whose READ answers are cut short and reordered at random.

import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import type { SFTPWrapper } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { pipelinedRead } from './sftp-reader.js';

interface Session {
  readonly sftp: SFTPWrapper;
  readonly stats: { opened: number; closed: number; inFlightPeak: number };
}

/** An SFTP session over `file` whose READ answers are capped at `answerMax` and delivered in `order`. */
function session(file: Buffer, answerMax: number, delays: readonly number[], failAtRead?: number): Session {
  const stats = { opened: 0, closed: 0, inFlightPeak: 0 };
  let reads = 0;
  let inFlight = 0;
  const sftp = {
    open(_path: string, _mode: string, cb: (err: Error | undefined, handle: Buffer) => void) {
      stats.opened++;
      setImmediate(() => cb(undefined, Buffer.from([0, 0, 0, 1])));
    },
    read(_h: Buffer, buf: Buffer, off: number, len: number, position: number, cb: (err: Error | undefined, bytesRead: number, data: Buffer, position: number) => void) {
      const n = reads++;
      inFlight++;
      stats.inFlightPeak = Math.max(stats.inFlightPeak, inFlight);
      const delayMs = delays[n % delays.length] ?? 0;
      setTimeout(() => {
        inFlight--;
        if (failAtRead === n) return cb(Object.assign(new Error('Failure'), { code: 4 }), 0, buf, position);
        const bytes = Math.max(0, Math.min(len, answerMax, file.length - position));
        if (bytes > 0) file.copy(buf, off, position, position + bytes);
        cb(undefined, bytes, buf.subarray(off, off + bytes), position);
      }, delayMs);
    },
    close(_h: Buffer, cb: () => void) {
      stats.closed++;
      setImmediate(cb);
    },
  };
  return { sftp: sftp as unknown as SFTPWrapper, stats };
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _e, done) {
        parts.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(parts);
}

describe('Property: the pipelined reader yields the file exactly', () => {
  it('Given any file, chunk size, answer cap and answer order, When read, Then the bytes are the file’s and the handle is closed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2000 }),
        fc.integer({ min: 16, max: 512 }),
        fc.integer({ min: 8, max: 600 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 7 }),
        async (bytes, chunkBytes, answerMax, inFlightMax, delays) => {
          const file = Buffer.from(bytes);
          const s = session(file, answerMax, delays);
          const got = await collect(pipelinedRead(s.sftp, '/f', { chunkBytes, inFlightMax }));
          expect(got.equals(file)).toBe(true);
          expect(s.stats).toMatchObject({ opened: 1, closed: 1 });
          // A short answer's follow-up replaces the request it answered: never more than the cap in flight.
          expect(s.stats.inFlightPeak).toBeLessThanOrEqual(inFlightMax);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('Given a READ that fails, When read, Then the stream errors and the handle is closed', async () => {
    const file = Buffer.alloc(10_000, 7);
    const s = session(file, 1000, [0, 1], 3);
    await expect(collect(pipelinedRead(s.sftp, '/f', { chunkBytes: 1000, inFlightMax: 4 }))).rejects.toThrow('Failure');
    expect(s.stats.closed).toBe(1);
  });

  it('Given a large file, When read, Then several READs are in flight at once', async () => {
    const s = session(Buffer.alloc(1 << 20, 1), 1 << 16, [1]);
    await collect(pipelinedRead(s.sftp, '/f', { chunkBytes: 1 << 16, inFlightMax: 8 }));
    expect(s.stats.inFlightPeak).toBeGreaterThanOrEqual(4);
  });
});
