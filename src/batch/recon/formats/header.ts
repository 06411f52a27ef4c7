// Columns by header name, never by position: channels reorder and add columns between layouts.

import { ReconError } from '../errors.js';

/** Header names compared loosely: full-width and half-width brackets are the same, spaces and tabs ignored. */
export function normaliseHeaderName(name: string): string {
  let out = '';
  for (const ch of name) {
    if (ch === '（') out += '(';
    else if (ch === '）') out += ')';
    else if (ch !== ' ' && ch !== '\t' && ch !== '\uFEFF' && ch !== '`') out += ch;
  }
  return out;
}

export class HeaderIndex {
  private readonly positions = new Map<string, number>();
  readonly width: number;

  constructor(
    cells: readonly string[],
    private readonly where: string,
  ) {
    this.width = cells.length;
    cells.forEach((cell, i) => {
      const name = normaliseHeaderName(cell);
      if (name !== '' && !this.positions.has(name)) this.positions.set(name, i);
    });
  }

  /** The position of the first of `names` present, or -1. */
  find(...names: string[]): number {
    for (const name of names) {
      const at = this.positions.get(normaliseHeaderName(name));
      if (at !== undefined) return at;
    }
    return -1;
  }

  /** The position of a required column (any of its names); header_mismatch naming it otherwise. */
  require(...names: string[]): number {
    const at = this.find(...names);
    if (at < 0) throw new ReconError('header_mismatch', `${this.where}: the header has no column ${names.join(' / ')}.`);
    return at;
  }

  has(name: string): boolean {
    return this.positions.has(normaliseHeaderName(name));
  }
}
