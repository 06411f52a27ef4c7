// A local folder as a source (a mounted share, or a folder another tool syncs into). The resolved path
// must stay inside the folder after symbolic links are followed.

import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { ReconError } from '../errors.js';
import { guardStream, notReady, tooLarge, type Fetcher } from './fetcher.js';
import type { LocalSourceConfig } from './source-config.js';

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

export class LocalFetcher implements Fetcher {
  private readonly dir: string;
  private readonly timeoutMs: number;

  constructor(source: LocalSourceConfig, cwd: string) {
    this.dir = resolve(cwd, source.dir);
    this.timeoutMs = source.timeout_ms;
  }

  /** The real path of the file, checked to be inside the real folder; undefined when it is not there. */
  private async locate(remotePath: string): Promise<string | undefined> {
    let root: string;
    try {
      root = await realpath(this.dir);
    } catch (e) {
      throw new ReconError('fetch_failed', `The source folder ${this.dir} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}).`);
    }
    let real: string;
    try {
      real = await realpath(resolve(root, remotePath));
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw new ReconError('fetch_failed', `${remotePath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}.`);
    }
    if (!inside(root, real)) throw new ReconError('path_unsafe', `${remotePath} leads outside ${this.dir} (through a symbolic link).`);
    return real;
  }

  async exists(remotePath: string): Promise<boolean> {
    const real = await this.locate(remotePath);
    if (real === undefined) return false;
    const s = await stat(real);
    if (!s.isFile()) throw new ReconError('fetch_failed', `${remotePath} in ${this.dir} is not a file.`);
    return true;
  }

  async get(remotePath: string, bytesMax: number): Promise<Readable> {
    const real = await this.locate(remotePath);
    if (real === undefined) throw notReady(remotePath, `not in ${this.dir}`);
    const s = await stat(real);
    if (!s.isFile()) throw new ReconError('fetch_failed', `${remotePath} in ${this.dir} is not a file.`);
    if (s.size > bytesMax) throw tooLarge(remotePath, s.size, bytesMax);
    return guardStream(createReadStream(real), { remotePath, bytesMax, idleTimeoutMs: this.timeoutMs });
  }

  async close(): Promise<void> {}
}
