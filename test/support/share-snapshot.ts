// What a sharing run leaves that must not differ between two ways of running it (crash and re-run,
// routed or payment by payment): every share line, the share entries with their postings, the counters.

import { SqliteLedgerStore } from '../../src/ledger/sqlite/store.js';

/** The share lines, the share.* entries and the agents' and share expense counters of the database. */
export function shareSnapshot(db: string): unknown {
  const store = SqliteLedgerStore.open(db);
  try {
    const lines = store.db.prepare('SELECT * FROM share_lines ORDER BY payment_id, source_kind, source_id, party_id').all();
    const entries = store.db
      .prepare(
        `SELECT e.entry_id, a.account_id, p.side, p.amount_minor FROM entries e JOIN postings p ON p.entry_seq = e.seq JOIN accounts a ON a.account_no = p.account_no
         WHERE e.entry_id LIKE 'share.%' ORDER BY e.entry_id, p.idx`,
      )
      .all();
    const counters = store.db.prepare("SELECT account_id, debits_posted, credits_posted FROM accounts WHERE owner_kind = 'agent' OR account_id LIKE 'platform:share-expense:%' ORDER BY account_id").all();
    return { lines, entries, counters };
  } finally {
    void store.close();
  }
}
