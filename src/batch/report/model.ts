// The daily report's data: everything the page shows, gathered once (service.ts) and rendered by a pure
// function (render.ts). Amounts are bigint minor units with their currency; counts are numbers.
// A section whose step has not run for the day is `{ state: 'not_run', reason }`, never an error.

export type Section<T> = { readonly state: 'ok'; readonly data: T } | { readonly state: 'not_run'; readonly reason: string };

/** Payments of the day grouped by a key (a channel or a product) and currency. */
export interface VolumeRow {
  readonly key: string;
  readonly currency: string;
  readonly attempts: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Still processing or waiting for a one-time code. */
  readonly pending: number;
  readonly succeededAmountMinor: bigint;
  readonly refunds: number;
  readonly refundsAmountMinor: bigint;
}

/** Other flows of the day: pre-auths, captures and payouts, by status. */
export interface ActivityRow {
  readonly kind: 'preauth' | 'capture' | 'payout';
  readonly status: string;
  readonly currency: string;
  readonly count: number;
  readonly amountMinor: bigint;
}

export interface Volumes {
  readonly byChannel: readonly VolumeRow[];
  readonly byProduct: readonly VolumeRow[];
  readonly activity: readonly ActivityRow[];
}

export interface ReconChannelRow {
  readonly channel: string;
  readonly fileVersion: number;
  readonly lines: number;
  readonly matched: number;
  readonly suspense: number;
  readonly discrepancies: number;
}

export interface DiscrepancyGroup {
  /** A discrepancy type (channel_only, amount_mismatch, …) or an age bucket label. */
  readonly key: string;
  readonly currency: string;
  readonly count: number;
  /** What is at stake: the difference for an amount mismatch, else the amount of the side we have. */
  readonly amountMinor: bigint;
}

export interface ReconSummary {
  /** The day's current run per channel. */
  readonly channels: readonly ReconChannelRow[];
  /** Open discrepancies of this and earlier days (the backlog an operator works through). */
  readonly openByType: readonly DiscrepancyGroup[];
  readonly openByAge: readonly DiscrepancyGroup[];
  readonly openTotal: number;
  /** Items still waiting in suspense (存疑). */
  readonly suspenseOpen: number;
}

export interface SettlementRow {
  readonly merchantId: string;
  readonly merchantName: string | null;
  readonly currency: string;
  readonly grossMinor: bigint;
  readonly refundsMinor: bigint;
  readonly feesMinor: bigint;
  readonly adjustmentsMinor: bigint;
  readonly netMinor: bigint;
  readonly carriedOutMinor: bigint;
  readonly payoutMinor: bigint;
  readonly status: string;
}

export interface SettlementTotal {
  readonly currency: string;
  readonly merchants: number;
  readonly grossMinor: bigint;
  readonly refundsMinor: bigint;
  readonly feesMinor: bigint;
  readonly adjustmentsMinor: bigint;
  readonly netMinor: bigint;
  readonly carriedOutMinor: bigint;
  readonly payoutMinor: bigint;
}

export interface Settlement {
  /** The top merchants by gross (at most report.top_merchants); `totals` cover every merchant. */
  readonly top: readonly SettlementRow[];
  readonly totals: readonly SettlementTotal[];
}

export interface ShareRow {
  readonly partyId: string;
  readonly partyKind: string;
  readonly currency: string;
  readonly lines: number;
  readonly baseMinor: bigint;
  readonly shareMinor: bigint;
}

export interface TrialBalanceSummary {
  readonly totals: readonly { readonly currency: string; readonly debitsMinor: bigint; readonly creditsMinor: bigint }[];
  readonly accounts: number;
  readonly findingsTotal: number;
  /** Each finding as its code and a one-line text (at most report.findings_max). */
  readonly findings: readonly { readonly code: string; readonly text: string }[];
}

export interface PositionLine {
  readonly accountId: string;
  readonly currency: string;
  readonly balanceMinor: bigint;
  readonly bufferMinor: bigint;
  readonly alert: boolean;
  readonly belowBufferOn: string | null;
  readonly lowestMinor: bigint;
  /** Days 0…N without transfers, and with the plan's transfers. */
  readonly projectedMinor: readonly bigint[];
  readonly plannedMinor: readonly bigint[];
}

export interface Positions {
  readonly dates: readonly string[];
  readonly accounts: readonly PositionLine[];
  readonly transfers: readonly { readonly fromAccountId: string; readonly toAccountId: string; readonly currency: string; readonly amountMinor: bigint; readonly byDate: string }[];
  readonly shortfalls: readonly { readonly accountId: string; readonly currency: string; readonly shortfallMinor: bigint; readonly byDate: string; readonly reason: string }[];
}

export interface JobRunRow {
  readonly job: string;
  readonly outcome: string;
  readonly startedAtMs: number;
  readonly endedAtMs: number | null;
  readonly exitCode: number | null;
  readonly counts: string | null;
  readonly error: string | null;
}

export interface DailyReport {
  readonly businessDate: string;
  readonly generatedAtMs: number;
  /** IANA time zone the times are shown in. */
  readonly timezone: string;
  readonly dayStatus: 'open' | 'closed' | 'unknown';
  readonly volumes: Volumes;
  readonly recon: Section<ReconSummary>;
  readonly settlement: Section<Settlement>;
  readonly sharing: Section<readonly ShareRow[]>;
  readonly trialBalance: Section<TrialBalanceSummary>;
  readonly positions: Section<Positions>;
  readonly jobs: readonly JobRunRow[];
}

export interface Verdict {
  readonly openDiscrepancies: number;
  readonly trialBalanceFindings: number;
  /** Watched accounts below their buffer now, below their alert threshold, or with an unfunded shortfall. */
  readonly positionsBelowBuffer: number;
  readonly failedJobs: number;
  /** Open discrepancies, trial balance findings or a position below its buffer: exit 2. */
  readonly findings: boolean;
}

export function verdictOf(r: DailyReport): Verdict {
  const openDiscrepancies = r.recon.state === 'ok' ? r.recon.data.openTotal : 0;
  const trialBalanceFindings = r.trialBalance.state === 'ok' ? r.trialBalance.data.findingsTotal : 0;
  let positionsBelowBuffer = 0;
  if (r.positions.state === 'ok') {
    const short = new Set(r.positions.data.shortfalls.map((s) => s.accountId));
    positionsBelowBuffer = r.positions.data.accounts.filter((a) => a.alert || a.balanceMinor < a.bufferMinor || short.has(a.accountId)).length;
  }
  const failedJobs = r.jobs.filter((j) => j.outcome === 'failed').length;
  return { openDiscrepancies, trialBalanceFindings, positionsBelowBuffer, failedJobs, findings: openDiscrepancies > 0 || trialBalanceFindings > 0 || positionsBelowBuffer > 0 };
}
