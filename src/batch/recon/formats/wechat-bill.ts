// The block layout both WeChat Pay bills share: a header line, detail rows whose every cell starts with a
// backtick, then a summary header (总交易单数… / 资金流水总笔数…) and one summary row. UTF-8 with a BOM, CRLF.
// The format modules (wechat-trade, wechat-fundflow) decide what a row and the summary mean.

import { ReconError } from '../errors.js';
import { CellSpans, splitBacktickRow, splitDelimited } from './cells.js';
import type { FormatInput } from './emit.js';
import { HeaderIndex } from './header.js';
import { forEachTextLine } from './lines.js';

export interface WechatBillHandlers {
  /** The first cell of the summary header, which ends the detail rows. */
  readonly summaryFirstName: string;
  /** Called once with the detail header; returns the row handler (the spans are reused for every row). */
  onHeader(header: HeaderIndex, lineNo: number): (cells: CellSpans, lineNo: number) => void;
  /** The summary header's names and the summary row's values (backticks removed). */
  onSummary(names: readonly string[], values: readonly string[], lineNo: number): void;
}

type Stage = 'header' | 'rows' | 'summary' | 'done';

export async function readWechatBill(input: FormatInput, handlers: WechatBillHandlers): Promise<void> {
  const { name, source } = input;
  let stage: Stage = 'header';
  let onRow: ((cells: CellSpans, lineNo: number) => void) | undefined;
  let width = 0;
  let cells = new CellSpans(0);
  let summaryNames: string[] = [];

  const malformed = (lineNo: number, terminated: boolean, what: string): ReconError =>
    terminated
      ? new ReconError('row_malformed', `${name}:${lineNo}: ${what}.`)
      : new ReconError('file_truncated', `${name}:${lineNo}: the last line is incomplete (${what}); the file was cut off.`);

  await forEachTextLine(source.chunks(0, source.sizeBytes, { reuse: true }), 'utf8', { name, limits: input.limits }, (text, lineNo, terminated) => {
    if (text.length === 0) return;
    switch (stage) {
      case 'header': {
        if (text.charCodeAt(0) === 96) throw new ReconError('header_mismatch', `${name}:${lineNo}: the file starts with a row, not a header.`);
        const names: string[] = new Array<string>(256).fill('');
        const count = splitDelimited(text, ',', names);
        const header = new HeaderIndex(names.slice(0, Math.min(count, names.length)), `${name}:${lineNo}`);
        if (count > names.length) throw new ReconError('header_mismatch', `${name}:${lineNo}: the header has ${count} columns.`);
        width = count;
        cells = new CellSpans(width);
        onRow = handlers.onHeader(header, lineNo);
        stage = 'rows';
        return;
      }
      case 'rows': {
        if (text.charCodeAt(0) !== 96 && text.startsWith(handlers.summaryFirstName)) {
          summaryNames = text.split(',', 64).map((n) => n.trim());
          stage = 'summary';
          return;
        }
        const count = splitBacktickRow(text, cells);
        if (count !== width) {
          throw malformed(lineNo, terminated, count < 0 ? 'a detail row must start with a backtick' : `${count} cells where the header has ${width}`);
        }
        onRow?.(cells, lineNo);
        return;
      }
      case 'summary': {
        const spans = new CellSpans(summaryNames.length);
        const count = splitBacktickRow(text, spans);
        if (count !== summaryNames.length) {
          throw malformed(lineNo, terminated, `the summary row has ${count < 0 ? 'no backtick cells' : `${count} cells`} where its header has ${summaryNames.length}`);
        }
        handlers.onSummary(summaryNames, summaryNames.map((_n, i) => spans.cell(i)), lineNo);
        stage = 'done';
        return;
      }
      case 'done':
        throw new ReconError('row_malformed', `${name}:${lineNo}: a line after the summary row.`);
    }
  });
  if (stage === 'header') throw new ReconError('header_mismatch', `${name}: the file is empty.`);
  if (stage !== 'done') {
    throw new ReconError('file_truncated', `${name}: the file ends ${stage === 'rows' ? `before the summary (${handlers.summaryFirstName}…)` : 'after the summary header, without its row'}; it was cut off.`);
  }
}
