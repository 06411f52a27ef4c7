// Limits of the bill writer, with their reasons, in one place.

export const BILL_LIMITS = {
  /** Rows in one bill file. Twice the recon benchmark's 1,000,000; it also keeps every zip entry far below 4 GiB (no zip64). */
  rowsPerFileMax: 2_000_000,
  /** Rows one injected trouble may touch, per kind. A few are enough to test every classification. */
  troubleCountMax: 100,
  /** Characters kept of free text (商品名称, payer ids) in a cell; WeChat's own body limit is 128 bytes. */
  textCellCharsMax: 128,
  /** Encoded text is written in chunks of about this size: the writer's memory stays flat whatever the day's size. */
  chunkBytes: 1_048_576,
} as const;
