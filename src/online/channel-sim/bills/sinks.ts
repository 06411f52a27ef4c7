// Where a bill's bytes go: a file written beside its final name and renamed into place when complete
// (a server serving the folder never hands out half a file), or memory (tests). Writes are buffered
// in chunks of BILL_LIMITS.chunkBytes, so memory stays flat however many rows a day has.

import { closeSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { BILL_LIMITS } from './limits.js';

export interface ByteSink {
  write(bytes: Uint8Array): void;
}

/** A sink that can also patch bytes already written (the zip writer fills in sizes and CRCs). */
export interface RandomAccessOut extends ByteSink {
  /** Bytes written so far. */
  readonly position: number;
  writeAt(bytes: Uint8Array, position: number): void;
}

export class FileOut implements RandomAccessOut {
  private readonly partPath: string;
  private fd: number | null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;

  constructor(readonly path: string) {
    this.partPath = `${path}.part`;
    this.fd = openSync(this.partPath, 'w');
  }

  get position(): number {
    return this.written + this.pendingBytes;
  }

  write(bytes: Uint8Array): void {
    this.pending.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    this.pendingBytes += bytes.byteLength;
    if (this.pendingBytes >= BILL_LIMITS.chunkBytes) this.flush();
  }

  writeAt(bytes: Uint8Array, position: number): void {
    this.flush();
    writeSync(this.openFd(), bytes, 0, bytes.byteLength, position);
  }

  /** Flushes, closes and renames the file into place. */
  commit(): void {
    this.flush();
    closeSync(this.openFd());
    this.fd = null;
    renameSync(this.partPath, this.path);
  }

  /** Closes and removes the partial file (after a failure). */
  abort(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.partPath, { force: true });
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const chunk = Buffer.concat(this.pending, this.pendingBytes);
    writeSync(this.openFd(), chunk, 0, chunk.length, this.written);
    this.written += chunk.length;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private openFd(): number {
    if (this.fd === null) throw new Error(`FileOut: ${this.path} is already closed`);
    return this.fd;
  }
}

export class MemoryOut implements RandomAccessOut {
  private buffer = Buffer.alloc(4096);
  private length = 0;

  get position(): number {
    return this.length;
  }

  write(bytes: Uint8Array): void {
    if (this.length + bytes.byteLength > this.buffer.length) {
      const grown = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + bytes.byteLength));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.buffer.set(bytes, this.length);
    this.length += bytes.byteLength;
  }

  writeAt(bytes: Uint8Array, position: number): void {
    if (position + bytes.byteLength > this.length) throw new RangeError('MemoryOut: writeAt past the end');
    this.buffer.set(bytes, position);
  }

  bytes(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }
}

/** Text lines to bytes: strings are collected and encoded a chunk at a time. */
export class TextOut {
  private parts: string[] = [];
  private chars = 0;
  bytesWritten = 0;

  constructor(
    private readonly out: ByteSink,
    private readonly encode: (text: string) => Buffer,
  ) {}

  push(text: string): void {
    this.parts.push(text);
    this.chars += text.length;
    // A character is at most 3 bytes in UTF-8 and 2 in GBK.
    if (this.chars * 3 >= BILL_LIMITS.chunkBytes) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const bytes = this.encode(this.parts.join(''));
    this.out.write(bytes);
    this.bytesWritten += bytes.length;
    this.parts = [];
    this.chars = 0;
  }
}

/** SHA-256 and size of a file, read in chunks. */
export function fileDigest(path: string): { readonly sha256: string; readonly bytes: number } {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const chunk = Buffer.alloc(BILL_LIMITS.chunkBytes);
  let bytes = 0;
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: hash.digest('hex'), bytes };
}
