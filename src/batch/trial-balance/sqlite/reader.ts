// The SQLite adapter of the trial balance's reader port, over the ledger's read queries.

import type { SqliteConnection } from '../../../ledger/sqlite/database.js';
import { businessDayStatus, dayRows, subjectClosingTotals } from '../../../ledger/sqlite/trial-balance-reads.js';
import type { TrialBalanceReader } from '../port.js';

export function sqliteTrialBalanceReader(db: SqliteConnection): TrialBalanceReader {
  return {
    dayStatus: async (date) => businessDayStatus(db, date),
    day: async (date) => dayRows(db, date),
    subjectClosing: async (date) => subjectClosingTotals(db, date),
  };
}
