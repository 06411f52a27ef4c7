// Child process for test/share-crash.test.ts: runs the share of a date on an existing database and,
// when asked, kills itself with SIGKILL part way through (after N pages of payments, or once the refunds
// are written and before the entries are posted).
//
//   node --import tsx src/batch/sharing/crash-child.ts DBPATH SHARING_JSON DATE [--kill-after-pages=N | --kill-before-entries]
//
// Pages are 25 payments, so a small test day has many points to die at. Prints DONE on a clean finish.

import { readFileSync, writeSync } from 'node:fs';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { compileSharing } from './config.js';
import { shareDay } from './run.js';
import { SqliteShareStore } from './sqlite.js';

const [dbPath, sharingPath, date, killFlag] = process.argv.slice(2);
if (dbPath === undefined || sharingPath === undefined || date === undefined) throw new Error('usage: crash-child.ts DBPATH SHARING_JSON DATE [--kill-after-pages=N | --kill-before-entries]');
const killAfterPages = killFlag?.startsWith('--kill-after-pages=') ? Number(killFlag.slice('--kill-after-pages='.length)) : null;
const killBeforeEntries = killFlag === '--kill-before-entries';

const ledger = SqliteLedgerStore.open(dbPath);
const store = new SqliteShareStore(ledger);
const rules = compileSharing(JSON.parse(readFileSync(sharingPath, 'utf8')), { isMerchant: () => true, products: new Set(['wallet']) });
let pages = 0;
await shareDay(store, rules, date, {
  nowMs: Date.parse(`${date}T20:00:00Z`),
  pageSize: 25,
  onProgress: (e) => {
    if (e.kind === 'payments') pages++;
    if ((killAfterPages !== null && pages >= killAfterPages) || (killBeforeEntries && e.kind === 'refunds')) process.kill(process.pid, 'SIGKILL');
  },
});
await ledger.close();
writeSync(1, 'DONE\n');
