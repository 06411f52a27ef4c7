// Every limit of the ledger in one place, each with its reason.

export const LIMITS = {
  /** Postings per entry: a real entry has a handful; a bound keeps one entry's work and row size small. */
  postingsPerEntryMax: 128,
  /** Commands per postEntries call: bounds how long one write transaction holds SQLite's single write lock. */
  commandsPerBatchMax: 8_190,
  /** Entry ids are chosen by callers and indexed; long ids waste index pages. */
  entryIdLengthMax: 128,
  eventTypeLengthMax: 64,
  referenceLengthMax: 256,
  memoLengthMax: 1_024,
  /** Serialized metadata JSON; it is stored beside every entry and hashed into the chain. */
  metadataBytesMax: 8_192,
  /** A hold lives at most this long; pre-authorisations in card schemes last days, not months. */
  holdLifetimeMsMax: 400 * 24 * 3600 * 1000,
  /** Holds expired per sweep transaction, so the sweep never blocks other writers for long. */
  expireBatchMax: 1_000,
  /** Journal rows returned by one read page. */
  journalPageMax: 10_000,
  /** An entry file given to `settle ledger post`. */
  entryFileBytesMax: 1_048_576,
} as const;
