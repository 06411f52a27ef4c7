// What the trial balance needs from the ledger's storage. The SQLite adapter is in ./sqlite/.

import type { ClosingLine, MovementLine, SnapshotLine } from './check.js';

export interface TrialBalanceReader {
  dayStatus(date: string): Promise<'open' | 'closed' | undefined>;
  /**
   * The day's snapshot rows; its posted movements per account summed from the journal (an independent
   * recomputation); and the previous close's counters of the same accounts (none on the first day).
   */
  day(date: string): Promise<{ snapshot: SnapshotLine[]; journal: MovementLine[]; previousClosing: ClosingLine[] }>;
  /** Closing balance on the normal side per `subject\0currency`, totalled by the store itself. */
  subjectClosing(date: string): Promise<Map<string, bigint>>;
}
