// What position planning reads from the ledger: accounts, their balance as of a date, and the daily
// movements of closed business days (the per-day snapshots in day_balances).

export interface PositionAccount {
  readonly accountId: string;
  readonly currency: string;
  readonly normalSide: 'debit' | 'credit';
}

export interface DayMovement {
  readonly date: string;
  readonly debitsMinor: bigint;
  readonly creditsMinor: bigint;
}

export interface PositionSource {
  dayStatus(businessDate: string): 'open' | 'closed' | 'unknown';
  account(accountId: string): PositionAccount | null;
  /** Posted balance on the normal side: the closing snapshot of a closed day, else the live counters. */
  balanceOn(account: PositionAccount, businessDate: string): { balanceMinor: bigint; source: 'snapshot' | 'live' };
  /** Movements of the account on closed business days from…to (inclusive), oldest first, at most `limit`. */
  movements(account: PositionAccount, fromDate: string, toDate: string, limit: number): DayMovement[];
}
