// Small exact helpers every bill format shares: decimals from bigint units (never a float), local
// date-times in the channel's time zone, and cells cleaned so a value can never break a row.

import iconv from 'iconv-lite';
import { BILL_LIMITS } from './limits.js';

/** `units` as a decimal with `scale` fraction digits: (123n, 2) → "1.23", (-600n, 5) → "-0.00600". */
export function decimalText(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** Minor units of a two-decimal currency as yuan: 1n → "0.01". */
export function yuanText(minor: bigint): string {
  return decimalText(minor, 2);
}

/** Zero-padded digits of a non-negative integer, or undefined when it needs more than `width` digits. */
export function zeroPadded(value: bigint | number, width: number): string | undefined {
  const text = value.toString();
  if (text.startsWith('-') || text.length > width) return undefined;
  return text.padStart(width, '0');
}

export interface LocalTime {
  readonly year: string;
  readonly month: string;
  readonly day: string;
  readonly hour: string;
  readonly minute: string;
  readonly second: string;
}

/**
 * Local wall-clock time in one IANA time zone. The zone's offset is looked up once per hour of
 * epoch time (offsets change on the hour or half hour at most, and never inside a bill's hour
 * buckets in practice), so a million rows cost a million Date reads, not a million Intl calls.
 */
export class LocalClock {
  private readonly formatter: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();

  constructor(readonly timeZone: string) {
    this.formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  }

  /** Milliseconds to add to UTC for local time at this instant. */
  offsetMs(atMs: number): number {
    const bucket = Math.floor(atMs / 3_600_000);
    let offset = this.offsets.get(bucket);
    if (offset === undefined) {
      const parts: Record<string, string> = {};
      for (const p of this.formatter.formatToParts(bucket * 3_600_000)) parts[p.type] = p.value;
      const asUtc = Date.UTC(Number(parts['year']), Number(parts['month']) - 1, Number(parts['day']), Number(parts['hour']), Number(parts['minute']), Number(parts['second']));
      offset = asUtc - bucket * 3_600_000;
      if (this.offsets.size > 10_000) this.offsets.clear(); // bounded: a bill spans a few days of hours
      this.offsets.set(bucket, offset);
    }
    return offset;
  }

  parts(atMs: number): LocalTime {
    const local = new Date(atMs + this.offsetMs(atMs));
    const two = (n: number): string => String(n).padStart(2, '0');
    return {
      year: String(local.getUTCFullYear()).padStart(4, '0'),
      month: two(local.getUTCMonth() + 1),
      day: two(local.getUTCDate()),
      hour: two(local.getUTCHours()),
      minute: two(local.getUTCMinutes()),
      second: two(local.getUTCSeconds()),
    };
  }

  /** "2026-11-26 09:15:02" */
  dateTime(atMs: number): string {
    const t = this.parts(atMs);
    return `${t.year}-${t.month}-${t.day} ${t.hour}:${t.minute}:${t.second}`;
  }

  /** UnionPay's MMDDhhmmss (no year). */
  monthDayTime(atMs: number): string {
    const t = this.parts(atMs);
    return `${t.month}${t.day}${t.hour}${t.minute}${t.second}`;
  }

  /** The first millisecond of a calendar day (YYYY-MM-DD) in this zone. */
  startOfDayMs(date: string): number {
    const utcMidnight = Date.parse(`${date}T00:00:00Z`);
    const guess = utcMidnight - this.offsetMs(utcMidnight);
    return utcMidnight - this.offsetMs(guess);
  }
}

export function previousDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}

/** "2026-11-26" → "20261126" */
export function compactDate(date: string): string {
  return date.replace(/-/g, '');
}

/** "2026-11-26", "00:00:00" → "2026年11月26日 00:00:00" (Alipay's header and footer dates). */
export function chineseDateTime(date: string, time: string): string {
  const [y, m, d] = date.split('-');
  return `${y}年${m}月${d}日 ${time}`;
}

/**
 * Free text made safe for a comma-separated, line-based bill: control characters (tab, CR, LF …)
 * become spaces, a comma or a double quote its full-width twin (no bill quotes its cells, so either
 * would split or open a cell), and the text is cut to BILL_LIMITS.textCellCharsMax characters.
 */
export function cleanCell(text: string | null): string {
  if (text === null) return '';
  const cleaned = withoutControls(text).replace(/,/g, '\uff0c').replace(/"/g, '\uff02');
  const chars = Array.from(cleaned);
  return chars.length > BILL_LIMITS.textCellCharsMax ? chars.slice(0, BILL_LIMITS.textCellCharsMax).join('') : cleaned;
}

/** Control characters (C0 and DEL: tab, CR, LF …) as spaces, so a value can never end a line or a cell. */
export function withoutControls(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    out += code < 0x20 || code === 0x7f ? ' ' : ch;
  }
  return out;
}

/** One GBK encoder, reused: iconv.encode builds a new one per call, which costs more than short texts' encoding. */
const GBK_ENCODER = iconv.getEncoder('gbk');

/** GBK bytes; a character GBK lacks becomes "?". */
export function gbk(text: string): Buffer {
  const head = GBK_ENCODER.write(text);
  const tail = GBK_ENCODER.end(); // flushes a dangling lead surrogate and resets the encoder
  return tail && tail.length > 0 ? Buffer.concat([head, tail]) : head;
}

export function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** A fixed-width field, in GBK bytes: the text cut at a character boundary to fit, padded with spaces. */
export function gbkFitted(text: string, widthBytes: number): { readonly bytes: Buffer; readonly cut: boolean } {
  const whole = gbk(text);
  if (whole.length <= widthBytes) return { bytes: Buffer.concat([whole, Buffer.alloc(widthBytes - whole.length, 0x20)]), cut: false };
  const kept: Buffer[] = [];
  let used = 0;
  for (const ch of text) {
    const b = gbk(ch);
    if (used + b.length > widthBytes) break;
    kept.push(b);
    used += b.length;
  }
  kept.push(Buffer.alloc(widthBytes - used, 0x20));
  return { bytes: Buffer.concat(kept), cut: true };
}
