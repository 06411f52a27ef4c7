// The one interface every protocol implements, and the guard every download goes through: a byte cap
// (`file_too_large` the moment one byte too many arrives) and an idle timeout (`fetch_timeout` when the
// server goes silent mid-transfer). Only the fetchers touch the network.

import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { ReconError } from '../errors.js';

export interface Fetcher {
  /** True when the file is there; false when it is not (yet). Anything else throws a ReconError. */
  exists(remotePath: string): Promise<boolean>;
  /**
   * The file's bytes as a stream that errors with `file_too_large` past `bytesMax` (refused before the
   * transfer when the server tells the size) and with `fetch_timeout` when it stalls. A file that is not
   * there throws `file_not_ready`.
   */
  get(remotePath: string, bytesMax: number): Promise<Readable>;
  /** Ends the connection; safe to call twice, and after a failure. */
  close(): Promise<void>;
}

export function tooLarge(remotePath: string, bytes: number | bigint, bytesMax: number): ReconError {
  return new ReconError('file_too_large', `${remotePath} is ${bytes} bytes or more; bytes_max is ${bytesMax}.`);
}

export function notReady(remotePath: string, why: string): ReconError {
  return new ReconError('file_not_ready', `${remotePath} is not there (${why}).`);
}

/**
 * Pipes `source` through a cap and an idle timer. The returned stream ends when the source ends; on a
 * breach both are destroyed, which aborts the transfer underneath.
 */
export function guardStream(source: Readable, options: { remotePath: string; bytesMax: number; idleTimeoutMs: number }): Readable {
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const guard = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      bytes += chunk.length;
      if (bytes > options.bytesMax) {
        done(tooLarge(options.remotePath, bytes, options.bytesMax));
        return;
      }
      arm();
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      clearTimeout(timer);
      done();
    },
    destroy(error: Error | null, done: (error: Error | null) => void) {
      clearTimeout(timer);
      source.destroy();
      done(error);
    },
  });
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      guard.destroy(new ReconError('fetch_timeout', `${options.remotePath}: no data for ${options.idleTimeoutMs} ms.`));
    }, options.idleTimeoutMs);
    timer.unref();
  };
  arm();
  source.on('error', (e: Error) => guard.destroy(e));
  // Bytes flow before the consumer attaches: a breach in that window must not be an unhandled 'error'.
  // The stream stays errored, and the consumer's pipeline reports it when it attaches.
  guard.on('error', () => undefined);
  source.pipe(guard);
  return guard;
}

/** Runs `work`, or rejects with `fetch_timeout` (after calling `onTimeout`, which should abort it). */
export async function withTimeout<T>(what: string, timeoutMs: number, work: Promise<T>, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new ReconError('fetch_timeout', `${what}: no answer within ${timeoutMs} ms.`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    // The losing side may still reject later (the aborted work); nobody waits for it.
    work.catch(() => undefined);
  }
}
