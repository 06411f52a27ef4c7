// A small zip reader for statement archives (Alipay's .csv.zip, UnionPay's ZM zip): the central directory
// at the end, stored and deflated entries (node:zlib), CRC-32 checked, entry names in GBK unless the UTF-8
// flag is set (Alipay sets no flag). Entries stream: an entry is inflated chunk by chunk, never whole.
//
// Refused, before a byte is inflated: more entries or more declared bytes than the limits, a compression
// ratio above the limit (zip bombs), names with `..`, an absolute path or a backslash, a nested zip,
// encrypted entries, zip64, multi-disk archives, other compression methods. While inflating: more bytes
// than declared, a CRC or length mismatch, corrupt or truncated data.

import type { Writable } from 'node:stream';
import { crc32, createInflateRaw } from 'node:zlib';
import { ReconError } from '../errors.js';
import type { ParseLimits } from './limits.js';
import type { ByteSource } from './source.js';

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly crc32: number;
  readonly compressedBytes: number;
  readonly uncompressedBytes: number;
  readonly localHeaderOffset: number;
}

export interface ZipArchive {
  readonly entries: readonly ZipEntry[];
  /** Where the central directory starts: every entry's data must end before it. */
  readonly directoryOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const END_BYTES = 22;
const COMMENT_BYTES_MAX = 0xffff;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;
const METHOD_STORED = 0;
/**
 * Bytes of each buffer the inflater fills. Node's inflater makes a new buffer for every one, before the
 * last is consumed, so each outlives the parsing thread's young collections and waits for an old one: the
 * larger they are, the more memory waits (32.9 MiB at the peak of a 1M-row Alipay zip with 256 KiB ones,
 * heaptrack). Each buffer is also a round trip to the thread pool. Alipay 1M, five alternated pairs in
 * session 12: 64 KiB peaked at 215-225 MiB in 4.52-4.79 s, 256 KiB at 224-233 MiB in 4.49-4.82 s; 32 KiB
 * saved ~5 MiB more for up to 0.6 s (earlier, on busy cores, 32 KiB cost 0.4-1.6 s).
 */
const INFLATE_CHUNK_BYTES = 64 * 1024;
/**
 * Compressed bytes read at once, into one buffer reused for the whole entry. A new 1 MiB buffer per read
 * lived while it inflated to ~6 MiB of text, so it outlived the parsing thread's young collections and
 * waited for an old one: at a million Alipay rows ~16 MiB of spent input was alive at the peak (heaptrack,
 * session 13), the main reason Alipay's peak grew with the file.
 */
const INFLATE_INPUT_BYTES = 64 * 1024;
const METHOD_DEFLATED = 8;
/** The central directory of at most zipEntriesMax entries with long names; more is not a statement zip. */
const DIRECTORY_BYTES_PER_ENTRY_MAX = CENTRAL_BYTES + 3 * 1024;

/** Zip files start with a local header (or, when empty, the end record). */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function invalid(name: string, what: string): ReconError {
  return new ReconError('zip_invalid', `${name}: ${what}.`);
}

const utf8Names = new TextDecoder('utf-8', { fatal: true });
const gbkNames = new TextDecoder('gbk', { fatal: true });

/** Why an entry name is unsafe to use, or undefined. */
export function unsafeEntryName(entryName: string): string | undefined {
  if (entryName.includes('\\')) return 'has a backslash';
  if (entryName.includes('\0')) return 'has a NUL character';
  if (entryName.startsWith('/') || /^[A-Za-z]:/.test(entryName)) return 'is an absolute path';
  if (entryName.split('/').includes('..')) return 'climbs out with ..';
  if (/\.zip$/i.test(entryName)) return 'is a nested zip';
  return undefined;
}

export async function readZipDirectory(source: ByteSource, limits: ParseLimits): Promise<ZipArchive> {
  const { name, sizeBytes } = source;
  if (sizeBytes < END_BYTES) throw invalid(name, `only ${sizeBytes} bytes, too short for a zip (truncated)`);
  const tailBytes = Math.min(sizeBytes, END_BYTES + COMMENT_BYTES_MAX);
  const tailStart = sizeBytes - tailBytes;
  const tail = await source.read(tailStart, tailBytes);
  const tv = view(tail);
  let end = -1;
  for (let at = tail.length - END_BYTES; at >= 0; at -= 1) {
    // The end record's comment must run exactly to the end of the file; a truncated file has no such record.
    if (tv.getUint32(at, true) === SIG_END && at + END_BYTES + tv.getUint16(at + 20, true) === tail.length) {
      end = at;
      break;
    }
  }
  if (end < 0) throw invalid(name, 'no end-of-directory record: the archive is truncated or not a zip');
  const disk = tv.getUint16(end + 4, true);
  const directoryDisk = tv.getUint16(end + 6, true);
  const entriesOnDisk = tv.getUint16(end + 8, true);
  const entryCount = tv.getUint16(end + 10, true);
  const directoryBytes = tv.getUint32(end + 12, true);
  const directoryOffset = tv.getUint32(end + 16, true);
  if (disk !== 0 || directoryDisk !== 0 || entriesOnDisk !== entryCount) throw invalid(name, 'a multi-disk archive');
  if (entryCount === 0xffff || directoryBytes === 0xffffffff || directoryOffset === 0xffffffff) {
    throw new ReconError('zip_limits_exceeded', `${name}: a zip64 archive (over 65,535 entries or 4 GiB), beyond the limits.`);
  }
  if (entryCount > limits.zipEntriesMax) {
    throw new ReconError('zip_limits_exceeded', `${name}: ${entryCount} entries; the limit is ${limits.zipEntriesMax}.`);
  }
  if (directoryBytes > entryCount * DIRECTORY_BYTES_PER_ENTRY_MAX) {
    throw new ReconError('zip_limits_exceeded', `${name}: a central directory of ${directoryBytes} bytes for ${entryCount} entries.`);
  }
  if (directoryOffset + directoryBytes > tailStart + end) throw invalid(name, 'the central directory runs past its end record (truncated or corrupt)');
  const directory = await source.read(directoryOffset, directoryBytes);
  if (directory.length !== directoryBytes) throw invalid(name, 'the central directory is cut short');
  const dv = view(directory);

  const entries: ZipEntry[] = [];
  let uncompressedTotal = 0;
  let at = 0;
  for (let i = 0; i < entryCount; i += 1) {
    if (at + CENTRAL_BYTES > directory.length || dv.getUint32(at, true) !== SIG_CENTRAL) throw invalid(name, `central directory entry ${i + 1} is damaged`);
    const flags = dv.getUint16(at + 8, true);
    const method = dv.getUint16(at + 10, true);
    const crc = dv.getUint32(at + 16, true);
    const compressedBytes = dv.getUint32(at + 20, true);
    const uncompressedBytes = dv.getUint32(at + 24, true);
    const nameBytes = dv.getUint16(at + 28, true);
    const extraBytes = dv.getUint16(at + 30, true);
    const commentBytes = dv.getUint16(at + 32, true);
    const localHeaderOffset = dv.getUint32(at + 42, true);
    const rawName = directory.subarray(at + CENTRAL_BYTES, at + CENTRAL_BYTES + nameBytes);
    if (rawName.length !== nameBytes) throw invalid(name, `central directory entry ${i + 1} is cut short`);
    at += CENTRAL_BYTES + nameBytes + extraBytes + commentBytes;
    let entryName: string;
    try {
      entryName = (flags & FLAG_UTF8) !== 0 ? utf8Names.decode(rawName) : gbkNames.decode(rawName);
    } catch {
      throw invalid(name, `entry ${i + 1}'s name is not valid ${(flags & FLAG_UTF8) !== 0 ? 'UTF-8' : 'GBK'}`);
    }
    const shown = JSON.stringify(entryName.slice(0, 120));
    const unsafe = unsafeEntryName(entryName);
    if (unsafe !== undefined) throw new ReconError('zip_entry_unsafe', `${name}: entry ${shown} ${unsafe}.`);
    if ((flags & FLAG_ENCRYPTED) !== 0 || method === 99) throw new ReconError('zip_entry_unsafe', `${name}: entry ${shown} is encrypted.`);
    if (entryName.endsWith('/')) continue; // a folder: nothing to read
    if (method !== METHOD_STORED && method !== METHOD_DEFLATED) throw invalid(name, `entry ${shown} uses compression method ${method}; only stored and deflate are read`);
    if (method === METHOD_STORED && compressedBytes !== uncompressedBytes) throw invalid(name, `stored entry ${shown} declares ${compressedBytes} bytes stored for ${uncompressedBytes}`);
    uncompressedTotal += uncompressedBytes;
    if (uncompressedTotal > limits.zipUncompressedBytesMax) {
      throw new ReconError('zip_limits_exceeded', `${name}: the entries expand to more than ${limits.zipUncompressedBytesMax} bytes.`);
    }
    if (uncompressedBytes > limits.zipRatioCheckAboveBytes && uncompressedBytes > compressedBytes * limits.zipCompressionRatioMax) {
      const ratio = compressedBytes === 0 ? 'unbounded' : `${Math.round(uncompressedBytes / compressedBytes)}:1`;
      throw new ReconError('zip_limits_exceeded', `${name}: entry ${shown} expands ${compressedBytes} bytes to ${uncompressedBytes} (${ratio}); the limit is ${limits.zipCompressionRatioMax}:1.`);
    }
    if (localHeaderOffset + LOCAL_BYTES + compressedBytes > directoryOffset) throw invalid(name, `entry ${shown}'s data runs into the central directory (corrupt)`);
    entries.push({ name: entryName, method, crc32: crc, compressedBytes, uncompressedBytes, localHeaderOffset });
  }
  return { entries, directoryOffset };
}

async function dataOffset(source: ByteSource, archive: ZipArchive, entry: ZipEntry): Promise<number> {
  const header = await source.read(entry.localHeaderOffset, LOCAL_BYTES);
  const shown = JSON.stringify(entry.name.slice(0, 120));
  if (header.length !== LOCAL_BYTES || view(header).getUint32(0, true) !== SIG_LOCAL) throw invalid(source.name, `entry ${shown} has no local header where the directory says`);
  const hv = view(header);
  if ((hv.getUint16(6, true) & FLAG_ENCRYPTED) !== 0) throw new ReconError('zip_entry_unsafe', `${source.name}: entry ${shown} is encrypted.`);
  const start = entry.localHeaderOffset + LOCAL_BYTES + hv.getUint16(26, true) + hv.getUint16(28, true);
  if (start + entry.compressedBytes > archive.directoryOffset) throw invalid(source.name, `entry ${shown}'s data runs into the central directory (corrupt)`);
  return start;
}

/**
 * The entry's uncompressed bytes, chunk by chunk: never more than it declared, its CRC-32 checked at the
 * end, and refused if it is itself a zip.
 */
export async function* entryChunks(source: ByteSource, archive: ZipArchive, entry: ZipEntry): AsyncGenerator<Uint8Array> {
  const shown = JSON.stringify(entry.name.slice(0, 120));
  const start = await dataOffset(source, archive, entry);
  const compressed = source.chunks(start, entry.compressedBytes);
  let produced = 0;
  let crc = 0;
  const check = (chunk: Uint8Array): void => {
    if (produced === 0 && looksLikeZip(chunk)) throw new ReconError('zip_entry_unsafe', `${source.name}: entry ${shown} is itself a zip (nested archives are refused).`);
    produced += chunk.length;
    if (produced > entry.uncompressedBytes) {
      throw invalid(source.name, `entry ${shown} inflates past its declared ${entry.uncompressedBytes} bytes`);
    }
    crc = crc32(chunk, crc);
  };
  if (entry.method === METHOD_STORED) {
    for await (const chunk of compressed) {
      check(chunk);
      yield chunk;
    }
  } else {
    const inflater = createInflateRaw({ chunkSize: INFLATE_CHUNK_BYTES });
    const feeding = feed(source.chunks(start, entry.compressedBytes, { reuse: true, chunkBytes: INFLATE_INPUT_BYTES }), inflater);
    try {
      for await (const chunk of inflater as AsyncIterable<Buffer>) {
        check(chunk);
        yield chunk;
      }
      await feeding;
    } catch (e) {
      if (e instanceof ReconError) throw e;
      throw invalid(source.name, `entry ${shown} does not inflate (${(e as Error).message})`);
    } finally {
      inflater.destroy();
    }
  }
  if (produced !== entry.uncompressedBytes) throw invalid(source.name, `entry ${shown} holds ${produced} bytes, not the ${entry.uncompressedBytes} it declares (truncated)`);
  if (crc >>> 0 !== entry.crc32) throw invalid(source.name, `entry ${shown} fails its CRC-32 check (corrupt)`);
}

/**
 * Writes the compressed pieces into the inflater one at a time, each only once the inflater is done with
 * the one before (its write callback), so one reused buffer holds them all. A failure to read ends the
 * inflater with it, and so reaches the reader of its output.
 */
async function feed(pieces: AsyncIterable<Uint8Array>, inflater: Writable): Promise<void> {
  try {
    for await (const piece of pieces) {
      await new Promise<void>((resolve, reject) => inflater.write(piece, (e) => (e ? reject(e) : resolve())));
    }
    inflater.end();
  } catch (e) {
    inflater.destroy(e as Error);
  }
}

/** A small entry read whole (bounded by `bytesMax`). */
export async function readEntry(source: ByteSource, archive: ZipArchive, entry: ZipEntry, bytesMax: number): Promise<Buffer> {
  if (entry.uncompressedBytes > bytesMax) {
    throw new ReconError('zip_limits_exceeded', `${source.name}: entry ${JSON.stringify(entry.name.slice(0, 120))} is ${entry.uncompressedBytes} bytes; at most ${bytesMax} are read whole.`);
  }
  const parts: Uint8Array[] = [];
  for await (const chunk of entryChunks(source, archive, entry)) parts.push(chunk);
  return Buffer.concat(parts);
}
