// Cells, amounts, counts and times out of text, without a regular expression in the hot loop: every
// function here runs for each cell of a million-row file. Each returns undefined (or -1) for bad input;
// the format decides which stable code that becomes and names the file and line.

const BACKTICK = 96;
const QUOTE = 34;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;

/**
 * A row's cells as positions in its line, so a format slices (or reads in place) only the cells it uses.
 * Reused from row to row: a million-row file allocates one.
 */
export class CellSpans {
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  line = '';
  count = 0;
  constructor(readonly capacity: number) {
    this.starts = new Int32Array(capacity);
    this.ends = new Int32Array(capacity);
  }
  /** The cell's text ('' beyond the row). */
  cell(i: number): string {
    return i < this.count && i < this.capacity ? this.line.slice(this.starts[i], this.ends[i]) : '';
  }
  /** The cell's text without the tabs around it (Alipay's ids), sliced once ('' beyond the row). */
  cellTrimTabs(i: number): string {
    if (i >= this.count || i >= this.capacity) return '';
    let start = this.starts[i] as number;
    let end = this.ends[i] as number;
    const line = this.line;
    while (start < end && line.charCodeAt(start) === 9) start += 1;
    while (end > start && line.charCodeAt(end - 1) === 9) end -= 1;
    return line.slice(start, end);
  }
  /** Whether the cell is exactly `text`, without slicing. */
  is(i: number, text: string): boolean {
    const start = this.starts[i] as number;
    return (this.ends[i] as number) - start === text.length && this.line.startsWith(text, start);
  }
}

/**
 * Splits a WeChat row, where every cell starts with a backtick: cells are separated by ",`" (so a comma
 * inside a value does not split it). Records each cell's span and returns the number of cells, or -1 when
 * the line does not start with a backtick. Cells beyond the capacity are counted, not recorded.
 */
export function splitBacktickRow(line: string, spans: CellSpans): number {
  spans.line = line;
  if (line.charCodeAt(0) !== BACKTICK) return (spans.count = -1);
  const { starts, ends, capacity } = spans;
  let n = 0;
  let pos = 1;
  let from = 1;
  for (;;) {
    // A one-character search is the fastest the engine has; a comma not followed by a backtick is text.
    const comma = line.indexOf(',', from);
    if (comma < 0) {
      if (n < capacity) {
        starts[n] = pos;
        ends[n] = line.length;
      }
      return (spans.count = n + 1);
    }
    from = comma + 1;
    if (line.charCodeAt(from) !== BACKTICK) continue;
    if (n < capacity) {
      starts[n] = pos;
      ends[n] = comma;
    }
    n += 1;
    pos = from + 1;
    from = pos;
  }
}

/**
 * Splits a line with no quote in it at each `delimiter` (one character), recording each cell's span;
 * returns the number of cells. Cells beyond the capacity are counted, not recorded.
 */
export function splitPlainRow(line: string, delimiter: string, spans: CellSpans): number {
  spans.line = line;
  const { starts, ends, capacity } = spans;
  let n = 0;
  let pos = 0;
  for (;;) {
    const sep = line.indexOf(delimiter, pos);
    if (n < capacity) {
      starts[n] = pos;
      ends[n] = sep < 0 ? line.length : sep;
    }
    n += 1;
    if (sep < 0) return (spans.count = n);
    pos = sep + 1;
  }
}

/**
 * Splits a delimited line. A cell that starts with a double quote runs to its closing quote (RFC 4180,
 * "" inside is one quote). Returns the number of cells, or -1 for a quote that is not closed on this line.
 */
export function splitDelimited(line: string, delimiter: string, out: string[]): number {
  const keep = out.length;
  if (line.indexOf('"') < 0) {
    let n = 0;
    let pos = 0;
    for (;;) {
      const sep = line.indexOf(delimiter, pos);
      if (sep < 0) {
        if (n < keep) out[n] = line.slice(pos);
        return n + 1;
      }
      if (n < keep) out[n] = line.slice(pos, sep);
      n += 1;
      pos = sep + delimiter.length;
    }
  }
  let n = 0;
  let pos = 0;
  for (;;) {
    let value: string;
    let next: number;
    if (line.charCodeAt(pos) === QUOTE) {
      let close = pos + 1;
      let text = '';
      for (;;) {
        const q = line.indexOf('"', close);
        if (q < 0) return -1;
        text += line.slice(close, q);
        if (line.charCodeAt(q + 1) === QUOTE) {
          text += '"';
          close = q + 2;
          continue;
        }
        close = q + 1;
        break;
      }
      value = text;
      if (close < line.length && !line.startsWith(delimiter, close)) {
        // Text after the closing quote: keep it, as spreadsheets do.
        const sep = line.indexOf(delimiter, close);
        value += line.slice(close, sep < 0 ? line.length : sep);
        next = sep;
      } else {
        next = close < line.length ? close : -1;
      }
    } else {
      next = line.indexOf(delimiter, pos);
      value = line.slice(pos, next < 0 ? line.length : next);
    }
    if (n < keep) out[n] = value;
    n += 1;
    if (next < 0) return n;
    pos = next + delimiter.length;
  }
}

/** Removes tabs around a cell: Alipay writes a tab after every id-like value. */
export function trimTabs(cell: string): string {
  let start = 0;
  let end = cell.length;
  while (start < end && cell.charCodeAt(start) === 9) start += 1;
  while (end > start && cell.charCodeAt(end - 1) === 9) end -= 1;
  return start === 0 && end === cell.length ? cell : cell.slice(start, end);
}

/** Digits before the point: 2^53 minor units never needs more. */
const INTEGER_DIGITS_MAX = 16;

/** 2^53: below it a JS number holds an integer exactly. */
const EXACT_INTEGER_LIMIT = 2 ** 53;
const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/**
 * Reads a plain decimal ("12.34", "-0.01", "7") as minor units at `scale` fraction digits: digits, at most
 * `scale` of them after the point, a leading minus only if `allowNegative`, no leading zeros but "0".
 * Refused (undefined): empty, exponents, "+", spaces, separators, more decimals than the scale, negative
 * zero, or a magnitude above 2^53-1 minor units. Agrees with parseDecimal of src/ledger/money.ts on every
 * string both accept (a property test checks). `start`/`end` read a span of a longer text in place.
 *
 * The digits are gathered as an integer count of minor units, exact because it is checked to stay below
 * 2^53 (no fraction is ever formed), and returned as a bigint.
 */
export function decimalToMinor(text: string, scale: number, allowNegative: boolean, start = 0, end = text.length): bigint | undefined {
  let i = start;
  let negative = false;
  if (i < end && text.charCodeAt(i) === MINUS) {
    if (!allowNegative) return undefined;
    negative = true;
    i += 1;
  }
  const intStart = i;
  let units = 0;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    units = units * 10 + (c - ZERO);
    i += 1;
  }
  const intDigits = i - intStart;
  if (intDigits === 0 || intDigits > INTEGER_DIGITS_MAX) return undefined;
  if (intDigits > 1 && text.charCodeAt(intStart) === ZERO) return undefined;
  let fractionDigits = 0;
  if (i < end) {
    if (text.charCodeAt(i) !== DOT) return undefined;
    i += 1;
    const fracStart = i;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < ZERO || c > NINE) return undefined;
      units = units * 10 + (c - ZERO);
      i += 1;
    }
    fractionDigits = end - fracStart;
    if (fractionDigits === 0 || fractionDigits > scale) return undefined;
  }
  if (scale >= POW10.length) return undefined;
  units *= POW10[scale - fractionDigits] as number;
  if (units >= EXACT_INTEGER_LIMIT) return undefined; // above 2^53-1 minor units (AMOUNT_MINOR_MAX)
  if (negative) return units === 0 ? undefined : -BigInt(units);
  return BigInt(units);
}

/**
 * A fee as written ("0.00600", "-0.02000"): its value in units of its own last digit, and that scale
 * (negative zero is allowed). The same grammar as decimalToMinor otherwise; up to 15 significant digits.
 */
export function readScaledDecimal(text: string, scaleMax: number, start = 0, end = text.length): { readonly value: bigint; readonly scale: number } | undefined {
  let i = start;
  let negative = false;
  if (i < end && text.charCodeAt(i) === MINUS) {
    negative = true;
    i += 1;
  }
  const intStart = i;
  let units = 0;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    units = units * 10 + (c - ZERO);
    i += 1;
  }
  const intDigits = i - intStart;
  if (intDigits === 0 || (intDigits > 1 && text.charCodeAt(intStart) === ZERO)) return undefined;
  let scale = 0;
  if (i < end) {
    if (text.charCodeAt(i) !== DOT) return undefined;
    i += 1;
    const fracStart = i;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < ZERO || c > NINE) return undefined;
      units = units * 10 + (c - ZERO);
      i += 1;
    }
    scale = end - fracStart;
    if (scale === 0 || scale > scaleMax) return undefined;
  }
  if (units >= EXACT_INTEGER_LIMIT) return undefined;
  return { value: negative ? -BigInt(units) : BigInt(units), scale };
}

/** A count such as "3", or WeChat's fund-flow "20.0" (counts written as floats): the integer, or -1. */
export function readCount(text: string): number {
  const n = text.length;
  let i = 0;
  let value = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    value = value * 10 + (c - ZERO);
    i += 1;
  }
  if (i === 0 || i > 12) return -1;
  if (i < n) {
    if (text.charCodeAt(i) !== DOT || i + 1 === n) return -1;
    for (i += 1; i < n; i += 1) if (text.charCodeAt(i) !== ZERO) return -1;
  }
  return value;
}

/** Adds decimals of different scales exactly (fees: "0.00600" + "0.01" = "0.01600"). */
export class ScaledSum {
  private value = 0n;
  private scale = 0;
  add(value: bigint, scale: number): void {
    if (scale > this.scale) {
      this.value *= 10n ** BigInt(scale - this.scale);
      this.scale = scale;
    }
    this.value += scale < this.scale ? value * 10n ** BigInt(this.scale - scale) : value;
  }
  /** The sum at `scale` digits (at least the largest scale added). */
  toFixed(scale = this.scale): string {
    const s = Math.max(scale, this.scale);
    const v = this.value * 10n ** BigInt(s - this.scale);
    const negative = v < 0n;
    const digits = (negative ? -v : v).toString().padStart(s + 1, '0');
    const whole = s === 0 ? digits : `${digits.slice(0, -s)}.${digits.slice(-s)}`;
    return negative ? `-${whole}` : whole;
  }
  equals(value: bigint, scale: number): boolean {
    const s = Math.max(scale, this.scale);
    return this.value * 10n ** BigInt(s - this.scale) === value * 10n ** BigInt(s - scale);
  }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digitsAt(text: string, from: number, count: number): number {
  let value = 0;
  for (let i = from; i < from + count; i += 1) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) return -1;
    value = value * 10 + (c - ZERO);
  }
  return value;
}

export function isRealDate(year: number, month: number, day: number): boolean {
  if (year < 1970 || month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= (month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0));
}

function isRealTime(hour: number, minute: number, second: number): boolean {
  return hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 59;
}

/**
 * "2021-01-28 17:07:11" (or with '/' between the date parts) in the channel's local time → ISO 8601 with
 * its offset: "2021-01-28T17:07:11+08:00". Undefined when not a real date and time in that layout.
 */
export function localDateTimeToIso(text: string, offset: string): string | undefined {
  if (text.length !== 19) return undefined;
  const sep = text.charCodeAt(4);
  if ((sep !== MINUS && sep !== 47) || text.charCodeAt(7) !== sep) return undefined;
  const middle = text.charCodeAt(10);
  if ((middle !== 32 && middle !== 84) || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (!isRealDate(year, month, day) || !isRealTime(hour, minute, second)) return undefined;
  const date = sep === MINUS ? text.slice(0, 10) : `${text.slice(0, 4)}-${text.slice(5, 7)}-${text.slice(8, 10)}`;
  return `${date}T${text.slice(11)}${offset}`;
}

/** "20210128171.." compact "yyyyMMddHHmmss" → ISO 8601 with the offset, or undefined. */
export function compactDateTimeToIso(text: string, offset: string): string | undefined {
  if (text.length !== 14) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 4, 2);
  const day = digitsAt(text, 6, 2);
  const hour = digitsAt(text, 8, 2);
  const minute = digitsAt(text, 10, 2);
  const second = digitsAt(text, 12, 2);
  if (!isRealDate(year, month, day) || !isRealTime(hour, minute, second)) return undefined;
  const p = (v: number): string => String(v).padStart(2, '0');
  return `${String(year)}-${p(month)}-${p(day)}T${p(hour)}:${p(minute)}:${p(second)}${offset}`;
}

/** Reads "MMDDhhmmss" as numbers; undefined when not digits or not a real time of day. */
export function readMonthDayTime(text: string): { month: number; day: number; hms: string } | undefined {
  if (text.length !== 10) return undefined;
  const month = digitsAt(text, 0, 2);
  const day = digitsAt(text, 2, 2);
  const hour = digitsAt(text, 4, 2);
  const minute = digitsAt(text, 6, 2);
  const second = digitsAt(text, 8, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || !isRealTime(hour, minute, second)) return undefined;
  return { month, day, hms: `${text.slice(4, 6)}:${text.slice(6, 8)}:${text.slice(8, 10)}` };
}
