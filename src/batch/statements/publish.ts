// Publishing a statement into <dir>/<merchant_id>/<merchant>_<yyyyMMdd>.csv: written to a temp name in
// the same folder, flushed, then renamed over the old file, so a merchant fetching it over SFTP or the
// API sees the old file or the new one, never half of one. Unchanged bytes are not rewritten.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { statementFileName } from './statement.js';

/** The temp folder of a publishing folder: its name cannot be a merchant id. */
export const PARTIAL_DIR = '.partial';

/** Merchant ids become folder names: only these characters, so no id can climb out of the folder. */
export const SAFE_MERCHANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function statementPath(dir: string, merchantId: string, businessDate: string): string {
  if (!SAFE_MERCHANT_ID.test(merchantId)) throw new Error(`merchant id ${JSON.stringify(merchantId.slice(0, 70))} cannot be a folder name`);
  return join(dir, merchantId, statementFileName(merchantId, businessDate));
}

/**
 * Writes `text` at `path` through a temp file in `tempDir` (default: beside it; the statements job uses
 * `<dir>/.partial`, outside every merchant's folder, so a run killed half way leaves nothing a merchant
 * can see). `tempDir` must be on the same file system for the rename to be atomic.
 */
export function publishFile(path: string, text: string, tempDir: string = dirname(path)): 'written' | 'unchanged' {
  const bytes = Buffer.from(text, 'utf8');
  try {
    if (readFileSync(path).equals(bytes)) return 'unchanged';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(dirname(path), { recursive: true });
  mkdirSync(tempDir, { recursive: true });
  const temp = join(tempDir, `${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temp, 'w', 0o644);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  return 'written';
}
