// Lines out of byte chunks, decoded by the format's encoding. A chunk is cut after its last newline byte,
// so each decoded block ends on a line boundary: 0x0A is never part of a multi-byte character in UTF-8 or
// GBK, so no character is ever split. Only the unfinished last line is carried to the next chunk, which
// bounds memory by the chunk size plus one line.

import { isUtf8 } from 'node:buffer';
import { ReconError } from '../errors.js';
import type { ParseLimits } from './limits.js';

export type TextEncodingName = 'utf8' | 'gbk';

export interface LineContext {
  /** The file name, for messages. */
  readonly name: string;
  readonly limits: ParseLimits;
}

/**
 * Called for each line without its CR LF. `terminated` is false only for a last line that has no line
 * end, which is how a truncated download usually looks.
 */
export type TextLineSink = (text: string, lineNo: number, terminated: boolean) => void;
export type ByteLineSink = (bytes: Buffer, lineNo: number, terminated: boolean) => void;

const LF = 0x0a;
const CR = 0x0d;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function tooLong(ctx: LineContext, lineNo: number): ReconError {
  return new ReconError('row_malformed', `${ctx.name}:${lineNo}: the line is longer than ${ctx.limits.lineBytesMax} bytes.`);
}

/** The working buffer's first size: a read chunk and a line carried from the one before. */
const WORK_BYTES = 1024 * 1024 + 64 * 1024;
/**
 * Bytes of whole lines handed on at once. A block's decoded text stays below V8's large-object size
 * (128 KiB), so it dies young: a chunk's text as one string went straight to the old generation and
 * grew the parsing thread's heap to ~70 MiB of garbage on a million-line file.
 */
const BLOCK_BYTES_MAX = 32 * 1024;

/**
 * Splits byte chunks into complete-line blocks; `onBlock` gets each block (ending in LF) and the tail. Each
 * chunk is copied into one working buffer behind the line carried from the chunk before, so a chunk is not
 * held past its turn (a source may reuse it) and no buffer is made per chunk: per-chunk buffers lived long
 * enough to reach the old generation and held ~25 MiB of garbage at a time. A block is a view of that
 * buffer, valid only during the call, and at most BLOCK_BYTES_MAX unless one line is longer.
 */
async function forEachBlock(
  chunks: AsyncIterable<Uint8Array>,
  ctx: LineContext,
  linesBefore: () => number,
  onBlock: (block: Buffer, final: boolean) => void,
): Promise<void> {
  let work = Buffer.allocUnsafeSlow(WORK_BYTES);
  let held = 0;
  // work[0, end) ends in LF: hand it on in blocks of whole lines of at most BLOCK_BYTES_MAX (or one longer line).
  const blocksTo = (end: number): void => {
    for (let start = 0; start < end; ) {
      let cut = end;
      if (end - start > BLOCK_BYTES_MAX) {
        const lf = work.lastIndexOf(LF, start + BLOCK_BYTES_MAX - 1);
        cut = lf >= start ? lf + 1 : work.indexOf(LF, start + BLOCK_BYTES_MAX) + 1;
      }
      onBlock(work.subarray(start, cut), false);
      start = cut;
    }
  };
  for await (const chunk of chunks) {
    if (held + chunk.length > work.length) {
      const larger = Buffer.allocUnsafeSlow(Math.max(work.length * 2, held + chunk.length));
      work.copy(larger, 0, 0, held);
      work = larger;
    }
    work.set(chunk, held);
    const end = held + chunk.length;
    const lastLf = asBuffer(chunk).lastIndexOf(LF);
    if (lastLf < 0) {
      held = end;
      if (held > ctx.limits.lineBytesMax) throw tooLong(ctx, linesBefore() + 1);
      continue;
    }
    const cut = held + lastLf + 1;
    blocksTo(cut);
    work.copyWithin(0, cut, end);
    held = end - cut;
    if (held > ctx.limits.lineBytesMax) throw tooLong(ctx, linesBefore() + 1);
  }
  if (held > 0) onBlock(work.subarray(0, held), true);
}

/** A decoder that throws encoding_invalid naming the first bad line of the block. */
function makeDecoder(encoding: TextEncodingName, ctx: LineContext): (block: Buffer, firstLineNo: number, final: boolean) => string {
  const gbk = new TextDecoder('gbk', { fatal: true });
  const valid =
    encoding === 'utf8'
      ? (b: Buffer): boolean => isUtf8(b)
      : (b: Buffer): boolean => {
          try {
            gbk.decode(b);
            return true;
          } catch {
            return false;
          }
        };
  const fail = (block: Buffer, firstLineNo: number, final: boolean): never => {
    let lineNo = firstLineNo;
    let start = 0;
    while (start < block.length) {
      const lf = block.indexOf(LF, start);
      const end = lf < 0 ? block.length : lf + 1;
      if (!valid(block.subarray(start, end))) {
        if (final && lf < 0) {
          throw new ReconError('file_truncated', `${ctx.name}:${lineNo}: the file ends inside a character (it was cut off).`);
        }
        throw new ReconError('encoding_invalid', `${ctx.name}:${lineNo}: the bytes are not valid ${encoding === 'utf8' ? 'UTF-8' : 'GBK'}.`);
      }
      lineNo += 1;
      start = end;
    }
    throw new ReconError('encoding_invalid', `${ctx.name}:${firstLineNo}: the bytes are not valid ${encoding === 'utf8' ? 'UTF-8' : 'GBK'}.`);
  };
  if (encoding === 'utf8') {
    return (block, firstLineNo, final) => (isUtf8(block) ? block.toString('utf8') : fail(block, firstLineNo, final));
  }
  return (block, firstLineNo, final) => {
    try {
      return gbk.decode(block);
    } catch {
      return fail(block, firstLineNo, final);
    }
  };
}

/** Decodes and splits into lines (CR LF or LF); a UTF-8 byte order mark at the start is dropped. */
export async function forEachTextLine(chunks: AsyncIterable<Uint8Array>, encoding: TextEncodingName, ctx: LineContext, onLine: TextLineSink): Promise<number> {
  const decode = makeDecoder(encoding, ctx);
  const lineMax = ctx.limits.lineBytesMax;
  let lineNo = 0;
  let first = true;
  await forEachBlock(
    chunks,
    ctx,
    () => lineNo,
    (block, final) => {
      let text = decode(block, lineNo + 1, final);
      if (first) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      let pos = 0;
      const length = text.length;
      while (pos < length) {
        const lf = text.indexOf('\n', pos);
        const terminated = lf >= 0;
        let end = terminated ? lf : length;
        if (end > pos && text.charCodeAt(end - 1) === CR) end -= 1;
        lineNo += 1;
        if (end - pos > lineMax) throw tooLong(ctx, lineNo);
        onLine(text.slice(pos, end), lineNo, terminated);
        pos = terminated ? lf + 1 : length;
      }
    },
  );
  return lineNo;
}

/** Splits into lines of raw bytes (for formats sliced by byte, like UnionPay's fixed width). */
export async function forEachByteLine(chunks: AsyncIterable<Uint8Array>, ctx: LineContext, onLine: ByteLineSink): Promise<number> {
  let lineNo = 0;
  await forEachBlock(
    chunks,
    ctx,
    () => lineNo,
    (block) => {
      let pos = 0;
      while (pos < block.length) {
        const lf = block.indexOf(LF, pos);
        const terminated = lf >= 0;
        let end = terminated ? lf : block.length;
        if (end > pos && block[end - 1] === CR) end -= 1;
        lineNo += 1;
        if (end - pos > ctx.limits.lineBytesMax) throw tooLong(ctx, lineNo);
        onLine(block.subarray(pos, end), lineNo, terminated);
        pos = terminated ? lf + 1 : block.length;
      }
    },
  );
  return lineNo;
}
