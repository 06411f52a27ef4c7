// Every parser limit in one place, each with its reason. A file that passes a limit is refused with a
// stable code (file_too_large, too_many_rows, row_malformed, zip_limits_exceeded) before it can make us
// hold more than a bounded amount of memory.

export interface ParseLimits {
  /** Size of the file (or of the bytes given), before any decompression. */
  readonly fileBytesMax: number;
  /** Transaction rows yielded from one file. */
  readonly rowsMax: number;
  /** One line, checked on the raw bytes while a newline is awaited and on the decoded characters after. */
  readonly lineBytesMax: number;
  /** Lines before the table's header (Alipay's `#` block, a generic CSV's skipped lines). */
  readonly headerLinesMax: number;
  /** Lines after the table (WeChat's summary block, Alipay's footer). */
  readonly trailerLinesMax: number;
  /** Entries in one zip archive. */
  readonly zipEntriesMax: number;
  /** Sum of the uncompressed sizes of a zip's entries (as declared, and as actually inflated). */
  readonly zipUncompressedBytesMax: number;
  /** Uncompressed size over compressed size of one entry (a zip bomb expands by hundreds or more). */
  readonly zipCompressionRatioMax: number;
  /** Below this many uncompressed bytes an entry's ratio is not checked: tiny files compress oddly. */
  readonly zipRatioCheckAboveBytes: number;
  /** A side entry read whole (the Alipay 汇总 file). */
  readonly zipSideEntryBytesMax: number;
}

export const PARSE_LIMITS: ParseLimits = Object.freeze({
  // 2 GiB: about 6 million WeChat rows (~330 bytes each), far above one channel's day for us; a channel
  // that sends more should split its file, and the operator can raise the limit for one run.
  fileBytesMax: 2 * 1024 * 1024 * 1024,
  // 10 million rows: ten times the benchmark day; the importer and matcher are sized for this.
  rowsMax: 10_000_000,
  // 64 KiB: real rows are under 1 KiB (UnionPay's fixed 607 bytes is the widest); a longer "line" is a
  // binary or a file without line ends, which must not be buffered whole.
  lineBytesMax: 64 * 1024,
  // 64: Alipay writes 7 comment lines before its header; anything far beyond is not the format.
  headerLinesMax: 64,
  // 64: WeChat writes 2 summary lines, Alipay 4 footer lines.
  trailerLinesMax: 64,
  // 16: Alipay's zip holds 2 entries (明细 and 汇总), UnionPay's 2 (ZM and ZME).
  zipEntriesMax: 16,
  // 2 GiB, as for a plain file: the decompressed statement is what we stream.
  zipUncompressedBytesMax: 2 * 1024 * 1024 * 1024,
  // 100: statement CSVs compress 5–20 times; deflate can reach about 1000, which is a bomb, not a bill.
  zipCompressionRatioMax: 100,
  // 64 KiB: a short file of repeated characters can exceed the ratio honestly and is harmless.
  zipRatioCheckAboveBytes: 64 * 1024,
  // 1 MiB: the 汇总 file has one row per store plus 合计.
  zipSideEntryBytesMax: 1024 * 1024,
});

export function resolveLimits(overrides: Partial<ParseLimits> | undefined): ParseLimits {
  return overrides ? Object.freeze({ ...PARSE_LIMITS, ...overrides }) : PARSE_LIMITS;
}
