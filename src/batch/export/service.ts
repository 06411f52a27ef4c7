// Writes the journal (or a range of business dates) as a plain-text-accounting file, page by page, so
// memory stays bounded however long the journal is.

import type { ExportAccount, ExportEntry, ExportFormat } from './plain-text.js';
import { entryText, exportAccountNames, header, openDirectives } from './plain-text.js';

export const EXPORT_PAGE_ENTRIES = 5_000;

export interface ExportReader {
  accounts(): Promise<ExportAccount[]>;
  /** Up to `limit` posted entries in the date range after `afterSeq`, in journal order. */
  page(range: { from?: string | undefined; to?: string | undefined }, afterSeq: number, limit: number): Promise<(ExportEntry & { readonly seq: number })[]>;
}

export async function exportJournal(
  reader: ExportReader,
  format: ExportFormat,
  range: { from?: string | undefined; to?: string | undefined },
  write: (text: string) => void,
): Promise<{ entries: number; accounts: number }> {
  const names = exportAccountNames(await reader.accounts());
  write(header(format, range));
  let afterSeq = 0;
  let entries = 0;
  let opened = false;
  for (;;) {
    const page = await reader.page(range, afterSeq, EXPORT_PAGE_ENTRIES);
    if (page.length === 0) break;
    if (format === 'beancount' && !opened) {
      write(openDirectives(names, range.from ?? page[0]?.businessDate ?? '1970-01-01'));
      opened = true;
    }
    write(page.map((e) => entryText(format, e, names)).join(''));
    entries += page.length;
    afterSeq = page[page.length - 1]?.seq ?? afterSeq;
  }
  return { entries, accounts: names.size };
}
