// The store port the ledger needs. The SQLite adapter (ledger/sqlite/) implements it today; a
// PostgreSQL adapter can implement it later without touching the core: every method is async and
// speaks in the ledger's own types, and the rules live in rules.ts, which every adapter calls.

import type { AccountSpec, AccountStatus, Chart, Counters, Side, Subject } from './chart.js';
import type { EntryKind, LedgerCommand } from './entry.js';
import type { LedgerFailure } from './errors.js';
import type { HoldStatus, RecordedPosting } from './rules.js';

export interface AccountRecord extends AccountSpec, Counters {
  readonly accountNo: number;
  readonly subjectName: string;
  readonly normalSide: Side;
  readonly createdAtMs: number;
}

export interface AccountFilter {
  readonly accountId?: string | undefined;
  readonly subjectCode?: string | undefined;
  readonly ownerKind?: string | undefined;
  readonly ownerId?: string | undefined;
  readonly currency?: string | undefined;
}

export interface JournalEntry {
  readonly seq: number;
  readonly entryId: string;
  readonly kind: EntryKind;
  readonly businessDate: string;
  readonly eventType: string;
  readonly reference: string | null;
  readonly memo: string | null;
  readonly metadata: Record<string, unknown> | null;
  readonly expiresAtMs: number | null;
  readonly holdEntryId: string | null;
  readonly reversesEntryId: string | null;
  /** Mutable state kept beside the immutable entry: a hold's status, and who reversed an entry. */
  readonly holdStatus: HoldStatus | null;
  readonly reversedByEntryId: string | null;
  readonly fingerprint: string;
  readonly createdAtMs: number;
  readonly hash: string;
  readonly postings: readonly RecordedPosting[];
}

export interface JournalQuery {
  readonly afterSeq?: number | undefined;
  readonly limit: number;
  readonly businessDate?: string | undefined;
  readonly accountId?: string | undefined;
  /** Newest first instead of oldest first. */
  readonly descending?: boolean | undefined;
}

export interface PostSuccess {
  readonly ok: true;
  readonly entryId: string;
  readonly seq: number;
  readonly businessDate: string;
  /** True when the id existed with the same content and nothing was written. */
  readonly replayed: boolean;
}

export type PostResult = PostSuccess | LedgerFailure;

export interface BusinessDay {
  readonly businessDate: string;
  readonly status: 'open' | 'closed';
  readonly openedAtMs: number;
  readonly closedAtMs: number | null;
}

export interface DayBalance {
  readonly businessDate: string;
  readonly accountId: string;
  readonly currency: string;
  readonly openingDebits: bigint;
  readonly openingCredits: bigint;
  readonly debits: bigint;
  readonly credits: bigint;
  readonly closingDebits: bigint;
  readonly closingCredits: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
}

export interface CutoffResult {
  readonly closedDate: string;
  readonly openedDate: string;
  readonly accountsSnapshotted: number;
  /** Per currency, the day's posted debits and credits: equal in a sound ledger. */
  readonly totals: readonly { readonly currency: string; readonly debits: bigint; readonly credits: bigint }[];
}

export interface ChartLoadResult {
  readonly subjectsAdded: number;
  readonly accountsAdded: number;
}

export interface LedgerStore {
  /** Adds missing subjects and accounts; identical ones are kept; differing ones are config_conflict. */
  loadChart(chart: Chart, nowMs: number): Promise<ChartLoadResult>;
  listSubjects(): Promise<Subject[]>;
  listAccounts(filter?: AccountFilter): Promise<AccountRecord[]>;
  setAccountStatus(accountId: string, status: AccountStatus): Promise<LedgerFailure | undefined>;

  /** Opens the first business day if the ledger has none; returns the open day. */
  ensureOpenDay(date: string, nowMs: number): Promise<string>;
  openDay(): Promise<string | undefined>;
  listBusinessDays(limit: number): Promise<BusinessDay[]>;
  /** Closes `date` (which must be the open day), opens the next, snapshots every account: one transaction. */
  cutoff(date: string, nowMs: number): Promise<CutoffResult | LedgerFailure>;
  dayBalances(date: string): Promise<DayBalance[]>;

  /** Commits many independent commands in one transaction; each succeeds or fails on its own. */
  postEntries(commands: readonly LedgerCommand[], nowMs: number): Promise<PostResult[]>;
  /** Releases up to `limit` holds whose expiry is at or before nowMs. */
  expireHolds(nowMs: number, limit: number): Promise<PostResult[]>;

  readJournal(query: JournalQuery): Promise<JournalEntry[]>;
  getEntry(entryId: string): Promise<JournalEntry | undefined>;
  close(): Promise<void>;
}
