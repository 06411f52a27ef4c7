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

/** Splits byte chunks into complete-line blocks; `onBlock` gets each block (ending in LF) and the tail. */
async function forEachBlock(
  chunks: AsyncIterable<Uint8Array>,
  ctx: LineContext,
  linesBefore: () => number,
  onBlock: (block: Buffer, final: boolean) => void,
): Promise<void> {
  let carry: Buffer | undefined;
  for await (const chunk of chunks) {
    const joined = carry === undefined || carry.length === 0 ? asBuffer(chunk) : Buffer.concat([carry, chunk]);
    const lastLf = joined.lastIndexOf(LF);
    if (lastLf < 0) {
      carry = joined;
      if (carry.length > ctx.limits.lineBytesMax) throw tooLong(ctx, linesBefore() + 1);
      continue;
    }
    onBlock(joined.subarray(0, lastLf + 1), false);
    carry = joined.subarray(lastLf + 1);
    if (carry.length > ctx.limits.lineBytesMax) throw tooLong(ctx, linesBefore() + 1);
  }
  if (carry !== undefined && carry.length > 0) onBlock(carry, true);
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
