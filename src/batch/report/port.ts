// What the daily report reads, owned by the report: the day's orders (the online core's tables, read
// with its own SQL: batch never imports src/online), reconciliation, settlement batches, share lines and
// the run log. Every read is bounded. A read of a step whose tables do not exist yet returns null.

import type { ActivityRow, JobRunRow, ReconChannelRow, Settlement, ShareRow, VolumeRow } from './model.js';

export interface DayInfo {
  readonly status: 'open' | 'closed';
  readonly openedAtMs: number;
  readonly closedAtMs: number | null;
}

/** Open discrepancies of one business date, type and currency. */
export interface OpenDiscrepancies {
  readonly businessDate: string;
  readonly type: string;
  readonly currency: string;
  readonly count: number;
  readonly amountMinor: bigint;
}

export interface ReportSource {
  day(businessDate: string): DayInfo | null;
  /**
   * Payments of the day by channel and by product: those with the business date, and those that never
   * got one (failed, closed, still processing) created while the day was open. Refunds by the business
   * date of their journal entry.
   */
  volumes(businessDate: string, window: { fromMs: number; toMs: number }): { byChannel: VolumeRow[]; byProduct: VolumeRow[]; activity: ActivityRow[] };
  /** The day's current reconciliation run per channel; null when reconciliation has never run here. */
  reconRuns(businessDate: string): ReconChannelRow[] | null;
  /** Open discrepancies of current runs of this date and earlier, grouped; null when never run. */
  openDiscrepancies(upToDate: string, groupsMax: number): OpenDiscrepancies[] | null;
  suspenseOpen(): number;
  /** The day's settlement: null unless clearing finished for the date. */
  settlement(businessDate: string, topMerchants: number): Settlement | null;
  /** Share totals per party; null unless sharing ran for the date. */
  shares(businessDate: string, partiesMax: number): ShareRow[] | null;
  jobRuns(businessDate: string, limit: number): JobRunRow[];
}
