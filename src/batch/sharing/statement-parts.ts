// The (party, currency) parts of the share statements (statement.ts): each part's rows are encoded into a
// byte buffer as they come and spilled to the part's file (<file>.<n>.tmp, the header first) when the buffer
// is full; at the end a party's file is its first currency's part with the other currencies' parts (less
// their header) and the totals appended, renamed into place (never half a file). Rows are copied into the
// buffer as encoded pieces (what many rows share is encoded once): no string per row, which cost more to
// build, flatten and encode (or to keep until a spill, which made the collector copy them) than the copies.

import { closeSync, openSync, readSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { getOrMake } from './memo.js';

export interface PartLimits {
  /** Bytes of rows a part keeps before it spills to its file. */
  readonly partBufferBytes: number;
  /** Bytes of buffers all parts hold together before every part spills and lets its buffer go. */
  readonly totalBufferBytes: number;
  /** Bytes read at a time when a part is copied into its party's file. */
  readonly copyChunkBytes: number;
  /** Part files kept open between spills (the others are opened for each spill). */
  readonly openPartsMax: number;
}

/** The rows of one party in one currency. */
export interface Part {
  readonly partyId: string;
  readonly partyKind: string;
  readonly currency: string;
  readonly tmp: string;
  /** The escaped first cells of its rows (date, party, kind) and a comma, encoded. */
  readonly prefix: Uint8Array;
  lines: number;
  shareMinor: bigint;
  clippedMinor: bigint;
  /** Whether the part file exists yet (created with the header at the first spill). */
  created: boolean;
  /** Its file, while kept open. */
  fd: number | null;
  /** Encoded rows not yet in its file. */
  bytes: Buffer | null;
  used: number;
}

export class PartFiles {
  /** Per party, its parts by currency, in the order met. */
  readonly parties = new Map<string, Map<string, Part>>();
  private partsMade = 0;
  private openParts = 0;
  /** Bytes of the buffers the parts hold. */
  private held = 0;

  constructor(
    private readonly header: string,
    private readonly limits: PartLimits,
    private readonly pathOf: (partyId: string) => string,
  ) {}

  /** The part of a party and currency, made when first met (a party with no row gets no part and no file). */
  part(partyId: string, partyKind: string, currency: string, prefix: () => Uint8Array): Part {
    const currencies = getOrMake(this.parties, partyId, () => new Map<string, Part>());
    // Numbered in the order met, which a re-run repeats: a killed run's part files are overwritten.
    return getOrMake(currencies, currency, () => {
      const tmp = `${this.pathOf(partyId)}.${this.partsMade++}.tmp`;
      return { partyId, partyKind, currency, tmp, prefix: prefix(), lines: 0, shareMinor: 0n, clippedMinor: 0n, created: false, fd: null, bytes: null, used: 0 };
    });
  }

  /** Appends one row, given as its encoded pieces (the last one ends with CRLF), with its share and clipped
   *  amounts for the totals. Pieces are copied into the part's buffer: no string per row. */
  append(part: Part, prefix: Uint8Array, middle: Uint8Array, tail: Uint8Array, shareMinor: bigint, clippedMinor: bigint): void {
    const rowBytes = prefix.length + middle.length + tail.length;
    let bytes = part.bytes;
    if (bytes === null || part.used + rowBytes > bytes.length) bytes = this.room(part, rowBytes);
    let at = part.used;
    bytes.set(prefix, at);
    at += prefix.length;
    bytes.set(middle, at);
    at += middle.length;
    bytes.set(tail, at);
    part.used = at + tail.length;
    part.lines++;
    if (shareMinor !== 0n) part.shareMinor += shareMinor;
    if (clippedMinor !== 0n) part.clippedMinor += clippedMinor;
  }

  /** A buffer with room for `rowBytes` more: the part's after a spill, or a new one. */
  private room(part: Part, rowBytes: number): Buffer {
    if (part.used > 0) this.spill(part);
    let bytes = part.bytes;
    if (bytes === null || rowBytes > bytes.length) {
      if (bytes !== null) {
        this.held -= bytes.length;
        part.bytes = null;
      }
      if (this.held >= this.limits.totalBufferBytes) this.spillAll();
      bytes = Buffer.allocUnsafe(Math.max(this.limits.partBufferBytes, rowBytes));
      this.held += bytes.length;
      part.bytes = bytes;
    }
    return bytes;
  }

  /** Writes a part's buffered rows to its file (made with the header at the first spill). */
  spill(part: Part): void {
    if (part.used === 0 && part.created) return;
    let fd = part.fd;
    let closeAfter = false;
    if (fd === null) {
      fd = openSync(part.tmp, part.created ? 'a' : 'w');
      if (!part.created && this.openParts < this.limits.openPartsMax) {
        part.fd = fd;
        this.openParts++;
      } else closeAfter = true;
    }
    try {
      if (!part.created) writeAll(fd, Buffer.from(this.header, 'utf8'));
      if (part.bytes !== null && part.used > 0) writeAll(fd, part.bytes.subarray(0, part.used));
    } finally {
      if (closeAfter) closeSync(fd);
    }
    part.created = true;
    part.used = 0;
  }

  /** Spills every part and lets every buffer go (the parts together hold too much). */
  private spillAll(): void {
    for (const currencies of this.parties.values()) {
      for (const p of currencies.values()) {
        this.spill(p);
        p.bytes = null;
      }
    }
    this.held = 0;
  }

  /**
   * A party's file from its parts (given in file order): the first part with the others' rows and then
   * `tail` appended, renamed to `path`.
   */
  assemble(parts: readonly Part[], tail: string, path: string): void {
    const [first, ...rest] = parts;
    if (first === undefined) return;
    for (const part of parts) {
      this.spill(part);
      if (part !== first) this.close(part);
    }
    if (first.fd === null) {
      first.fd = openSync(first.tmp, 'a');
      this.openParts++;
    }
    const headerBytes = Buffer.byteLength(this.header);
    for (const part of rest) {
      appendPart(first.fd, part.tmp, headerBytes, this.limits.copyChunkBytes);
      unlinkSync(part.tmp);
    }
    writeAll(first.fd, Buffer.from(tail, 'utf8'));
    this.close(first);
    renameSync(first.tmp, path); // a reader never sees half a file
  }

  /** Every part, spilled (its file holds the header and all its rows) and closed: a worker's half, handed over. */
  finish(): Part[] {
    const parts = [...this.parties.values()].flatMap((currencies) => [...currencies.values()]);
    for (const part of parts) {
      this.spill(part);
      this.close(part);
    }
    return parts;
  }

  /** Closes and removes every part file (a worker's half that is not handed over). */
  discard(): void {
    this.closeAll();
    for (const currencies of this.parties.values()) for (const p of currencies.values()) rmSync(p.tmp, { force: true });
  }

  /** Closes every part file still open (after a failure too). */
  closeAll(): void {
    for (const currencies of this.parties.values()) for (const p of currencies.values()) this.close(p);
  }

  private close(part: Part): void {
    if (part.fd === null) return;
    closeSync(part.fd);
    part.fd = null;
    this.openParts--;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}

/** Appends a part file to `fd`, all but its first `skipBytes` (its header). */
function appendPart(fd: number, tmp: string, skipBytes: number, chunkBytes: number): void {
  const from = openSync(tmp, 'r');
  try {
    const chunk = Buffer.allocUnsafe(chunkBytes);
    let position = skipBytes;
    for (;;) {
      const n = readSync(from, chunk, 0, chunk.length, position);
      if (n === 0) break;
      writeAll(fd, chunk.subarray(0, n));
      position += n;
    }
  } finally {
    closeSync(from);
  }
}
