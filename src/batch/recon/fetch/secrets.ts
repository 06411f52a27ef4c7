// Secrets of a source come from an environment variable or a file, never from the config text. Messages
// name where a secret should be, never what it is.

import { readFileSync, statSync } from 'node:fs';
import { ReconError } from '../errors.js';

/** A password, token or private key file is small; anything bigger is the wrong file. */
export const SECRET_BYTES_MAX = 64 * 1024;

export type Env = Readonly<Record<string, string | undefined>>;

export function secretFromEnv(env: Env, name: string, what: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ReconError('source_secret_missing', `The ${what} is read from the environment variable ${name}, which is not set.`);
  if (Buffer.byteLength(value) > SECRET_BYTES_MAX) throw new ReconError('source_secret_missing', `The environment variable ${name} (${what}) is longer than ${SECRET_BYTES_MAX} bytes.`);
  return value;
}

export function secretFromFile(path: string, what: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new ReconError('source_secret_missing', `The ${what} is read from ${path}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  if (size > SECRET_BYTES_MAX) throw new ReconError('source_secret_missing', `${path} (${what}) is ${size} bytes; a secret file is at most ${SECRET_BYTES_MAX}.`);
  const text = readFileSync(path, 'utf8');
  // A password file usually ends with a newline the password does not have.
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new ReconError('source_secret_missing', `${path} (${what}) is empty.`);
  return value;
}

/** The secret from whichever of env / file the source names, or undefined when it names neither. */
export function optionalSecret(env: Env, from: { env?: string | undefined; file?: string | undefined }, what: string): string | undefined {
  if (from.env !== undefined) return secretFromEnv(env, from.env, what);
  if (from.file !== undefined) return secretFromFile(from.file, what);
  return undefined;
}

/** A CA bundle is a few hundred KiB at most. */
export const CA_FILE_BYTES_MAX = 1024 * 1024;

/** The PEM text of a source's `ca_file` (not a secret, but named by the config the same way). */
export function readCaFile(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new ReconError('source_invalid', `ca_file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  if (size > CA_FILE_BYTES_MAX) throw new ReconError('source_invalid', `ca_file ${path} is ${size} bytes; at most ${CA_FILE_BYTES_MAX}.`);
  return readFileSync(path, 'utf8');
}
