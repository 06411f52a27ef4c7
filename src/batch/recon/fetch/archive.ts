// The raw files, kept content-addressed: `<archive>/<sha256[0..2]>/<sha256>`. A download goes to a temp
// name under `<archive>/.tmp/` (same file system), is flushed, hashed, and only then renamed into place,
// so no partial file is ever visible under its hash. The same bytes twice are stored once.

import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface Archived {
  readonly sha256: string;
  readonly bytes: number;
  /** `<sha256[0..2]>/<sha256>`, relative to the archive folder. */
  readonly relativePath: string;
  readonly absolutePath: string;
  /** False when the archive already held these bytes (nothing was written). */
  readonly created: boolean;
}

export function archiveRelativePath(sha256: string): string {
  return `${sha256.slice(0, 2)}/${sha256}`;
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates the archive folder and its temp folder (call before a download starts). */
export async function prepareArchive(archiveDir: string): Promise<void> {
  await mkdir(join(archiveDir, '.tmp'), { recursive: true });
}

/**
 * Streams `source` into the archive (prepared with prepareArchive); the stream's own errors (cap,
 * timeout, protocol) pass through. The pipeline attaches before anything is awaited.
 */
export async function archiveStream(archiveDir: string, source: Readable): Promise<Archived> {
  const tmpPath = join(archiveDir, '.tmp', `${randomUUID()}.part`);
  const hash = createHash('sha256');
  let bytes = 0;
  const hasher = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(source, hasher, createWriteStream(tmpPath, { flags: 'wx', mode: 0o600 }));
    await fsyncPath(tmpPath);
    const sha256 = hash.digest('hex');
    const relativePath = archiveRelativePath(sha256);
    const absolutePath = join(archiveDir, relativePath);
    const existing = await stat(absolutePath).catch(() => undefined);
    if (existing !== undefined && existing.size === bytes) {
      await unlink(tmpPath);
      return { sha256, bytes, relativePath, absolutePath, created: false };
    }
    // Absent, or (after a disk fault) not the bytes its name promises: put the verified copy in place.
    await mkdir(join(archiveDir, sha256.slice(0, 2)), { recursive: true });
    await chmod(tmpPath, 0o440);
    await rename(tmpPath, absolutePath);
    await fsyncPath(join(archiveDir, sha256.slice(0, 2)));
    return { sha256, bytes, relativePath, absolutePath, created: true };
  } catch (e) {
    await unlink(tmpPath).catch(() => undefined);
    throw e;
  }
}
