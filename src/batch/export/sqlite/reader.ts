// The SQLite adapter of the export's reader port.

import type { SqliteConnection } from '../../../ledger/sqlite/database.js';
import { accountInfoRows, postedEntriesPage } from '../../../ledger/sqlite/trial-balance-reads.js';
import type { ExportReader } from '../service.js';

export function sqliteExportReader(db: SqliteConnection): ExportReader {
  return {
    accounts: async () => accountInfoRows(db),
    page: async (range, afterSeq, limit) => postedEntriesPage(db, range, afterSeq, limit),
  };
}
