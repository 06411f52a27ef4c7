// The chart of accounts (会计科目) and the accounts opened under it. Each subject has a type and a
// normal side; each account belongs to one subject, one owner and one currency. The balance people see
// is derived from the counters on the normal side; it is never stored.
// Parsing the chart from config (with zod) is in chart-config.ts, loaded only by the commands that need it.


export const SUBJECT_TYPES = ['asset', 'liability', 'equity', 'revenue', 'expense'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];
export const SIDES = ['debit', 'credit'] as const;
export type Side = (typeof SIDES)[number];
export const OWNER_KINDS = ['platform', 'merchant', 'user', 'channel', 'agent', 'bank'] as const;
export type OwnerKind = (typeof OWNER_KINDS)[number];
export const ACCOUNT_STATUSES = ['active', 'frozen', 'closed'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

export const ACCOUNT_FLAGS = {
  /** debits (posted + pending) may never exceed posted credits: a balance that must not go negative. */
  debits_must_not_exceed_credits: 1,
  /** credits (posted + pending) may never exceed posted debits. */
  credits_must_not_exceed_debits: 2,
} as const;
export type AccountFlagName = keyof typeof ACCOUNT_FLAGS;

export function normalSideOf(type: SubjectType): Side {
  return type === 'asset' || type === 'expense' ? 'debit' : 'credit';
}

export interface Subject {
  readonly code: string;
  readonly name: string;
  readonly type: SubjectType;
  readonly normalSide: Side;
}

export interface AccountSpec {
  readonly accountId: string;
  readonly subjectCode: string;
  readonly ownerKind: OwnerKind;
  readonly ownerId: string;
  readonly currency: string;
  readonly flags: number;
  readonly status: AccountStatus;
}

export interface Counters {
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
}

export const ZERO_COUNTERS: Counters = { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };

/** Posted balance on the account's normal side; pending amounts are shown apart. */
export function balanceOnNormalSide(c: Counters, normalSide: Side): bigint {
  return normalSide === 'debit' ? c.debitsPosted - c.creditsPosted : c.creditsPosted - c.debitsPosted;
}

/** What can still be spent: the posted balance less what pending holds reserve against it. */
export function availableOnNormalSide(c: Counters, normalSide: Side): bigint {
  return normalSide === 'debit'
    ? c.debitsPosted - c.creditsPosted - c.creditsPending
    : c.creditsPosted - c.debitsPosted - c.debitsPending;
}

export function flagNames(flags: number): AccountFlagName[] {
  return (Object.keys(ACCOUNT_FLAGS) as AccountFlagName[]).filter((name) => (flags & ACCOUNT_FLAGS[name]) !== 0);
}

export interface Chart {
  readonly subjects: readonly Subject[];
  readonly accounts: readonly AccountSpec[];
}

export function defaultAccountId(subjectCode: string, ownerKind: string, ownerId: string, currency: string): string {
  return `${ownerKind}:${ownerId}:${subjectCode}:${currency}`;
}
