// The layout every Alipay CSV shares (业务明细, 业务明细(汇总), 账务明细): GBK, CRLF, `#` comment lines with
// the account and dates, a `#---…列表---` marker, the header, the rows, a `#---…列表结束---` marker (dash
// counts differ, so markers are matched by their words), then `#` footer lines with totals such as
// `#交易合计：2笔，商家实收共0.02元，商家优惠共0.00元`. Id-like cells end with a tab, which is trimmed.

import { ReconError } from '../errors.js';
import { CellSpans, splitDelimited, splitPlainRow, trimTabs } from './cells.js';
import { HeaderIndex } from './header.js';
import { forEachTextLine } from './lines.js';
import type { ParseLimits } from './limits.js';

export interface AlipayCsvInput {
  readonly name: string;
  readonly limits: ParseLimits;
  readonly chunks: AsyncIterable<Uint8Array>;
}

export type AlipayRowHandler = (row: AlipayRow, lineNo: number) => void;

/**
 * A row's cells, read one by one: a row without a quote (nearly all) is not split into strings for the
 * cells no one reads; a row with quotes is split in full, RFC 4180 style.
 */
export class AlipayRow {
  private readonly spans: CellSpans;
  private readonly quoted: string[];
  private isQuoted = false;
  constructor(width: number) {
    this.spans = new CellSpans(width);
    this.quoted = new Array<string>(width).fill('');
  }
  /** Reads a line; returns its number of cells, or -1 for a quote not closed on the line. */
  read(text: string): number {
    this.isQuoted = text.indexOf('"') >= 0;
    return this.isQuoted ? splitDelimited(text, ',', this.quoted) : splitPlainRow(text, ',', this.spans);
  }
  /** The cell at `at` with Alipay's tabs trimmed ('' when the column is absent). */
  cell(at: number): string {
    if (at < 0) return '';
    return this.isQuoted ? trimTabs(this.quoted[at] ?? '') : this.spans.cellTrimTabs(at);
  }
}

/** A footer total: `交易合计：2笔，商家实收共0.02元` → label 交易合计, count 2, amounts {商家实收: "0.02"}. */
export interface FooterTotal {
  readonly label: string;
  readonly count: number;
  /** Amount texts by their label (`商家实收`, `商家优惠`, or '' for a bare `共X元`). */
  readonly amounts: ReadonlyMap<string, string>;
  readonly lineNo: number;
}

/** Reads one CSV; returns the footer totals found after the table, by label. */
export async function readAlipayCsv(
  input: AlipayCsvInput,
  onHeader: (header: HeaderIndex, lineNo: number) => AlipayRowHandler,
): Promise<ReadonlyMap<string, FooterTotal>> {
  const { name, limits } = input;
  let stage: 'preamble' | 'rows' | 'footer' = 'preamble';
  let preambleLines = 0;
  let footerLines = 0;
  let width = 0;
  let row = new AlipayRow(0);
  let onRow: AlipayRowHandler | undefined;
  const footer = new Map<string, FooterTotal>();

  await forEachTextLine(input.chunks, 'gbk', { name, limits }, (text, lineNo, terminated) => {
    if (text.length === 0) return;
    const comment = text.charCodeAt(0) === 35; // '#'
    switch (stage) {
      case 'preamble': {
        if (comment) {
          preambleLines += 1;
          if (preambleLines > limits.headerLinesMax) throw new ReconError('header_mismatch', `${name}:${lineNo}: no header within the first ${limits.headerLinesMax} lines.`);
          return;
        }
        const names = new Array<string>(256).fill('');
        width = splitDelimited(text, ',', names);
        if (width < 0 || width > names.length) throw new ReconError('header_mismatch', `${name}:${lineNo}: the header cannot be read.`);
        row = new AlipayRow(width);
        onRow = onHeader(new HeaderIndex(names.slice(0, width).map(trimTabs), `${name}:${lineNo}`), lineNo);
        stage = 'rows';
        return;
      }
      case 'rows': {
        if (comment) {
          if (!text.includes('列表结束')) throw new ReconError('row_malformed', `${name}:${lineNo}: a comment line inside the table that is not its end marker.`);
          stage = 'footer';
          return;
        }
        const count = row.read(text);
        if (count !== width) {
          const what = count < 0 ? 'a quote is not closed' : `${count} cells where the header has ${width}`;
          if (!terminated) throw new ReconError('file_truncated', `${name}:${lineNo}: the last line is incomplete (${what}); the file was cut off.`);
          throw new ReconError('row_malformed', `${name}:${lineNo}: ${what}.`);
        }
        onRow?.(row, lineNo);
        return;
      }
      case 'footer': {
        if (!comment) throw new ReconError('row_malformed', `${name}:${lineNo}: a row after the table's end marker.`);
        footerLines += 1;
        if (footerLines > limits.trailerLinesMax) throw new ReconError('row_malformed', `${name}:${lineNo}: more than ${limits.trailerLinesMax} footer lines.`);
        const total = readFooterTotal(text, lineNo);
        if (total !== undefined) footer.set(total.label, total);
        return;
      }
    }
  });
  if (stage === 'preamble') throw new ReconError('header_mismatch', `${name}: no header line (is it an Alipay CSV?).`);
  if (stage === 'rows') throw new ReconError('file_truncated', `${name}: the table has no end marker (…列表结束…); the file was cut off.`);
  return footer;
}

/** `#交易合计：2笔，商家实收共0.02元，商家优惠共0.00元` → a FooterTotal; other `#` lines → undefined. */
export function readFooterTotal(text: string, lineNo: number): FooterTotal | undefined {
  const body = text.replace(/^#+/, '');
  const colon = body.search(/[：:]/);
  if (colon < 0) return undefined;
  const label = body.slice(0, colon).trim();
  if (!label.endsWith('合计')) return undefined;
  const parts = body.slice(colon + 1).split(/[，,]/);
  const countMatch = /^\s*([0-9]+)\s*笔\s*$/.exec(parts[0] ?? '');
  if (!countMatch) return undefined;
  const amounts = new Map<string, string>();
  for (const part of parts.slice(1)) {
    const m = /^\s*(.*?)共\s*(\S+?)\s*元\s*$/.exec(part);
    if (m) amounts.set(m[1] ?? '', m[2] ?? '');
  }
  return { label, count: Number(countMatch[1]), amounts, lineNo };
}

/** A required footer total, or file_truncated: the footer is the last thing written. */
export function requireFooter(footer: ReadonlyMap<string, FooterTotal>, label: string, name: string): FooterTotal {
  const total = footer.get(label);
  if (total === undefined) throw new ReconError('file_truncated', `${name}: the footer has no #${label} line; the file was cut off or is not complete.`);
  return total;
}
