// A remote file as a stream, read with several SFTP READ requests in flight (as ssh2's fastGet does, but
// in order and into a stream). One request at a time costs a round trip per chunk: over a WAN link a
// 200 MB bill would take minutes. Reads may come back short (servers cap a READ); the rest is asked again.

import { Readable } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';

export interface PipelinedReadOptions {
  /** Bytes per READ request. */
  readonly chunkBytes: number;
  /** READ requests in flight plus chunks waiting to be pushed: the memory bound is their product. */
  readonly inFlightMax: number;
}

export const PIPELINED_READ_DEFAULTS: PipelinedReadOptions = { chunkBytes: 64 * 1024, inFlightMax: 16 };

class SftpFileStream extends Readable {
  private handle: Buffer | undefined;
  /** Next offset to ask for, next offset to push, and where the file ended (a READ answered EOF). */
  private nextOffset = 0;
  private pushOffset = 0;
  private endOffset: number | undefined;
  private inFlight = 0;
  private readonly arrived = new Map<number, Buffer>();
  private finished = false;

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly remotePath: string,
    private readonly options: PipelinedReadOptions,
  ) {
    super({ highWaterMark: Math.max(1, Math.floor((options.chunkBytes * options.inFlightMax) / 2)) });
  }

  override _construct(done: (error?: Error | null) => void): void {
    this.sftp.open(this.remotePath, 'r', (err, handle) => {
      if (err) return done(err);
      this.handle = handle;
      done();
    });
  }

  override _read(): void {
    this.pump();
  }

  /** Chunks asked for, arrived out of order, or pushed and not yet read: together at most inFlightMax. */
  private chunksHeld(): number {
    return this.inFlight + this.arrived.size + Math.ceil(this.readableLength / this.options.chunkBytes);
  }

  private pump(): void {
    while (!this.finished && this.endOffset === undefined && this.chunksHeld() < this.options.inFlightMax) {
      this.request(this.nextOffset, this.options.chunkBytes);
      this.nextOffset += this.options.chunkBytes;
    }
  }

  private request(offset: number, length: number): void {
    const handle = this.handle;
    if (handle === undefined) return;
    this.inFlight++;
    this.sftp.read(handle, Buffer.allocUnsafe(length), 0, length, offset, (err, bytesRead, data) => {
      this.inFlight--;
      if (this.finished || this.destroyed) return;
      if (err) {
        this.destroy(err);
        return;
      }
      if (bytesRead === 0) {
        this.endOffset = Math.min(this.endOffset ?? Number.MAX_SAFE_INTEGER, offset);
      } else {
        this.arrived.set(offset, data.subarray(0, bytesRead));
        // A short answer: ask for the rest of this chunk (the next chunks are already asked for).
        if (bytesRead < length) this.request(offset + bytesRead, length - bytesRead);
      }
      this.drain();
    });
  }

  /** Pushes every chunk that is next in order, ends at the end of the file, and asks for more. */
  private drain(): void {
    for (let chunk = this.arrived.get(this.pushOffset); chunk !== undefined; chunk = this.arrived.get(this.pushOffset)) {
      this.arrived.delete(this.pushOffset);
      this.pushOffset += chunk.length;
      this.push(chunk);
    }
    if (this.endOffset !== undefined && this.pushOffset >= this.endOffset) {
      this.finished = true;
      this.arrived.clear();
      this.push(null);
      return;
    }
    this.pump();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.finished = true;
    this.arrived.clear();
    const handle = this.handle;
    this.handle = undefined;
    if (handle === undefined) return done(error);
    this.sftp.close(handle, () => done(error));
  }
}

export function pipelinedRead(sftp: SFTPWrapper, remotePath: string, options: PipelinedReadOptions = PIPELINED_READ_DEFAULTS): Readable {
  return new SftpFileStream(sftp, remotePath, options);
}
