// The ledger's use cases over its store port. The clock is passed in, so hold expiry and timestamps
// can be driven by a test.

import type { AccountStatus, Chart } from './chart.js';
import type { LedgerCommand } from './entry.js';
import { failure, type LedgerFailure } from './errors.js';
import { LIMITS } from './limits.js';
import type { AccountFilter, AccountRecord, ChartLoadResult, CutoffResult, LedgerStore, PostResult } from './port.js';
import { verifyLedger, type VerifyReport } from './verify.js';

export type Clock = () => number;

export class Ledger {
  readonly store: LedgerStore;
  private readonly clock: Clock;

  constructor(store: LedgerStore, clock: Clock = Date.now) {
    this.store = store;
    this.clock = clock;
  }

  nowMs(): number {
    return this.clock();
  }

  /** Loads the chart and accounts, and opens the first business day if there is none. */
  async initialise(chart: Chart, firstBusinessDate: string): Promise<ChartLoadResult & { openDay: string }> {
    const loaded = await this.store.loadChart(chart, this.clock());
    const openDay = await this.store.ensureOpenDay(firstBusinessDate, this.clock());
    return { ...loaded, openDay };
  }

  async post(command: LedgerCommand): Promise<PostResult> {
    const [result] = await this.store.postEntries([command], this.clock());
    return result ?? failure('input_invalid', 'Nothing was posted.');
  }

  /** The batch path: commands are committed in chunks, each chunk one transaction. */
  async postEntries(commands: readonly LedgerCommand[]): Promise<PostResult[]> {
    const results: PostResult[] = [];
    for (let i = 0; i < commands.length; i += LIMITS.commandsPerBatchMax) {
      results.push(...(await this.store.postEntries(commands.slice(i, i + LIMITS.commandsPerBatchMax), this.clock())));
    }
    return results;
  }

  /** Releases every hold whose expiry has passed by the clock, in bounded transactions. */
  async expireHolds(): Promise<PostResult[]> {
    const results: PostResult[] = [];
    for (;;) {
      const batch = await this.store.expireHolds(this.clock(), LIMITS.expireBatchMax);
      results.push(...batch);
      if (batch.length < LIMITS.expireBatchMax) return results;
    }
  }

  async cutoff(date?: string): Promise<CutoffResult | LedgerFailure> {
    const open = await this.store.openDay();
    if (open === undefined) return failure('no_open_day', 'The ledger has no open business day.');
    return this.store.cutoff(date ?? open, this.clock());
  }

  accounts(filter?: AccountFilter): Promise<AccountRecord[]> {
    return this.store.listAccounts(filter);
  }

  setAccountStatus(accountId: string, status: AccountStatus): Promise<LedgerFailure | undefined> {
    return this.store.setAccountStatus(accountId, status);
  }

  verify(onProgress?: (entries: number) => void): Promise<VerifyReport> {
    return verifyLedger(this.store, 5_000, onProgress);
  }
}
