// Rendering: one JSON object with --json (for scripts and cron), plain text for people otherwise.
// Amounts are always integer strings in JSON, never numbers.

import { findCurrency, formatMoney } from '../ledger/index.js';

export interface Output {
  readonly json: boolean;
  /** Prints the result: the JSON object in --json mode, the human text otherwise. */
  result(json: Record<string, unknown>, human: () => string): void;
  /** A progress or info line for people; silent in --json mode (stderr, so stdout stays parseable). */
  info(line: string): void;
}

export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export function makeOutput(json: boolean, write: (text: string) => void, writeErr: (text: string) => void): Output {
  return {
    json,
    result(obj, human) {
      write(json ? `${toJsonText(obj)}\n` : `${human()}\n`);
    },
    info(line) {
      if (!json) writeErr(`${line}\n`);
    },
  };
}

export function money(amountMinor: bigint, currencyCode: string): string {
  const currency = findCurrency(currencyCode);
  return currency ? formatMoney(amountMinor, currency) : `${amountMinor} (minor) ${currencyCode}`;
}

/** A plain text table; numbers right-aligned when the header says so with a leading '>'. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const right = headers.map((h) => h.startsWith('>'));
  const names = headers.map((h) => h.replace(/^>/, ''));
  const widths = names.map((h, i) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - displayWidth(c)));
        return right[i] ? pad + c : c + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(names), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** CJK characters take two columns in a terminal. */
function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]/u.test(ch) ? 2 : 1;
  return width;
}
