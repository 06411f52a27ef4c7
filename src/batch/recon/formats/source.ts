// Where a parser's bytes come from: a file read in bounded chunks, or bytes already in memory. Both allow
// random access (a zip's directory is at its end) and sequential chunks (everything else streams).

import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { ReconError } from '../errors.js';

/** Bytes read from a file at once: large enough for few syscalls, small enough to stay flat in memory. */
export const READ_CHUNK_BYTES = 1024 * 1024;

export interface ByteSource {
  /** For messages: the file name, or `(bytes)`. */
  readonly name: string;
  readonly sizeBytes: number;
  /** Up to `length` bytes at `offset` (fewer only at the end). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * `length` bytes from `offset` in chunks of at most `chunkBytes` (default READ_CHUNK_BYTES). With
   * `reuse`, a file source reads every chunk into one buffer, so a chunk is valid only until the next is
   * asked for: for a consumer that copies what it keeps (the line splitters) or waits until it is done with
   * each (the zip reader's inflater), not for one that queues chunks (a collector).
   */
  chunks(offset: number, length: number, options?: ChunkOptions): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

export interface ChunkOptions {
  readonly reuse?: boolean;
  /** The most bytes a chunk holds (default READ_CHUNK_BYTES). */
  readonly chunkBytes?: number;
}

/** Reports how far a sequential read has got, for progress and for the streaming tests. */
export type ProgressListener = (bytesRead: number, sizeBytes: number) => void;

export function bytesSource(bytes: Uint8Array, name = '(bytes)', onProgress?: ProgressListener): ByteSource {
  return {
    name,
    sizeBytes: bytes.length,
    read: (offset, length) => Promise.resolve(bytes.subarray(offset, Math.min(bytes.length, offset + length))),
    async *chunks(offset, length, options) {
      const end = Math.min(bytes.length, offset + length);
      const step = options?.chunkBytes ?? READ_CHUNK_BYTES;
      for (let at = offset; at < end; at += step) {
        const chunk = bytes.subarray(at, Math.min(end, at + step));
        onProgress?.(at + chunk.length, bytes.length);
        yield chunk;
      }
    },
    close: () => Promise.resolve(),
  };
}

export async function fileSource(path: string, onProgress?: ProgressListener): Promise<ByteSource> {
  let handle: FileHandle;
  let sizeBytes: number;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw new ReconError('file_unreadable', `Cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}.`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ReconError('file_unreadable', `${path} is not a regular file.`);
    sizeBytes = stat.size;
  } catch (e) {
    await handle.close();
    throw e;
  }
  const readInto = async (into: Buffer, offset: number, length: number): Promise<Uint8Array> => {
    const buffer = into.subarray(0, Math.max(0, Math.min(length, sizeBytes - offset)));
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, offset + filled);
      if (bytesRead === 0) break; // the file shrank under us: the caller sees a short read
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  };
  const read = (offset: number, length: number): Promise<Uint8Array> => readInto(Buffer.allocUnsafe(Math.max(0, Math.min(length, sizeBytes - offset))), offset, length);
  return {
    name: path,
    sizeBytes,
    read,
    async *chunks(offset, length, options) {
      const end = Math.min(sizeBytes, offset + length);
      const step = options?.chunkBytes ?? READ_CHUNK_BYTES;
      const shared = options?.reuse === true ? Buffer.allocUnsafeSlow(Math.min(step, Math.max(0, end - offset))) : undefined;
      for (let at = offset; at < end; ) {
        const size = Math.min(step, end - at);
        const chunk = await (shared !== undefined ? readInto(shared, at, size) : read(at, size));
        if (chunk.length === 0) return;
        at += chunk.length;
        onProgress?.(at, sizeBytes);
        yield chunk;
      }
    },
    close: () => handle.close(),
  };
}

/**
 * SHA-256 (hex) of a file, read through the file source's one reused buffer: a read stream's fresh chunk
 * per read is garbage its thread collects only now and then, which held ~34 MiB at the peak of a 1M-row
 * import.
 */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  const source = await fileSource(path);
  try {
    for await (const chunk of source.chunks(0, source.sizeBytes, { reuse: true })) hash.update(chunk);
  } catch (e) {
    throw new ReconError('file_unreadable', `Cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}.`);
  } finally {
    await source.close();
  }
  return hash.digest('hex');
}
