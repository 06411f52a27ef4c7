// The SQLite adapter of the position source: the ledger's accounts, live counters and day snapshots.

import type { SqliteConnection } from '../../../ledger/sqlite/database.js';
import type { DayMovement, PositionAccount, PositionSource } from '../port.js';

type Row = Record<string, unknown>;
const big = (v: unknown): bigint => v as bigint;
const str = (v: unknown): string => v as string;

export class SqlitePositionSource implements PositionSource {
  constructor(private readonly db: SqliteConnection) {}

  dayStatus(businessDate: string): 'open' | 'closed' | 'unknown' {
    const row = this.db.prepare('SELECT status FROM business_days WHERE business_date = ?').get(businessDate) as Row | undefined;
    return row === undefined ? 'unknown' : (str(row['status']) as 'open' | 'closed');
  }

  account(accountId: string): PositionAccount | null {
    const row = this.db
      .prepare('SELECT a.account_id, a.currency, s.normal_side FROM accounts a JOIN subjects s ON s.code = a.subject_code WHERE a.account_id = ?')
      .get(accountId) as Row | undefined;
    return row === undefined ? null : { accountId: str(row['account_id']), currency: str(row['currency']), normalSide: str(row['normal_side']) as 'debit' | 'credit' };
  }

  balanceOn(account: PositionAccount, businessDate: string): { balanceMinor: bigint; source: 'snapshot' | 'live' } {
    const snap = this.db
      .prepare(
        `SELECT d.closing_debits AS debits, d.closing_credits AS credits FROM day_balances d JOIN accounts a ON a.account_no = d.account_no
          WHERE a.account_id = ? AND d.business_date = ?`,
      )
      .get(account.accountId, businessDate) as Row | undefined;
    const row = snap ?? (this.db.prepare('SELECT debits_posted AS debits, credits_posted AS credits FROM accounts WHERE account_id = ?').get(account.accountId) as Row);
    const net = big(row['debits']) - big(row['credits']);
    return { balanceMinor: account.normalSide === 'debit' ? net : -net, source: snap === undefined ? 'live' : 'snapshot' };
  }

  movements(account: PositionAccount, fromDate: string, toDate: string, limit: number): DayMovement[] {
    const rows = this.db
      .prepare(
        `SELECT d.business_date, d.debits, d.credits FROM day_balances d
           JOIN accounts a ON a.account_no = d.account_no JOIN business_days b ON b.business_date = d.business_date
          WHERE a.account_id = ? AND d.business_date BETWEEN ? AND ? AND b.status = 'closed'
          ORDER BY d.business_date LIMIT ?`,
      )
      .all(account.accountId, fromDate, toDate, limit) as Row[];
    return rows.map((r) => ({ date: str(r['business_date']), debitsMinor: big(r['debits']), creditsMinor: big(r['credits']) }));
  }
}
