// The chart of accounts (会计科目) and the accounts opened under it. Each subject has a type and a
// normal side; each account belongs to one subject, one owner and one currency. The balance people see
// is derived from the counters on the normal side; it is never stored.

import { z } from 'zod';
import { findCurrency } from './currency.js';
import { LedgerError } from './errors.js';

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

const ID = /^[A-Za-z0-9._:-]{1,128}$/;

const subjectSchema = z.strictObject({
  code: z.string().regex(/^[0-9A-Za-z._-]{1,32}$/, 'a subject code is 1–32 of [0-9A-Za-z._-]'),
  name: z.string().min(1).max(200),
  type: z.enum(SUBJECT_TYPES),
  normal_side: z.enum(SIDES).optional(),
});

const accountSchema = z.strictObject({
  account_id: z.string().regex(ID, 'an account id is 1–128 of [A-Za-z0-9._:-]').optional(),
  subject: z.string().min(1),
  owner_kind: z.enum(OWNER_KINDS),
  owner_id: z.string().regex(ID, 'an owner id is 1–128 of [A-Za-z0-9._:-]'),
  currency: z.string().refine((c) => findCurrency(c) !== undefined, 'not a known currency code'),
  flags: z.array(z.enum(Object.keys(ACCOUNT_FLAGS) as [AccountFlagName, ...AccountFlagName[]])).default([]),
  status: z.enum(ACCOUNT_STATUSES).default('active'),
});

export const ledgerConfigSchema = z.strictObject({
  subjects: z.array(subjectSchema).min(1),
  accounts: z.array(accountSchema).default([]),
});

export type LedgerConfigInput = z.input<typeof ledgerConfigSchema>;

export interface Chart {
  readonly subjects: readonly Subject[];
  readonly accounts: readonly AccountSpec[];
}

export function describeZodIssue(error: z.ZodError, where: string): string {
  const issue = error.issues[0];
  if (!issue) return `${where} is invalid.`;
  const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  return `${where}: ${path}: ${issue.message}.`;
}

export function defaultAccountId(subjectCode: string, ownerKind: string, ownerId: string, currency: string): string {
  return `${ownerKind}:${ownerId}:${subjectCode}:${currency}`;
}

/** Parses the ledger part of the config; throws LedgerError (config_*) with the offending key named. */
export function parseChart(raw: unknown, where = 'config'): Chart {
  const parsed = ledgerConfigSchema.safeParse(raw);
  if (!parsed.success) throw new LedgerError('config_invalid', describeZodIssue(parsed.error, where));
  const subjects = new Map<string, Subject>();
  for (const s of parsed.data.subjects) {
    if (subjects.has(s.code)) throw new LedgerError('config_invalid', `${where}: subject ${s.code} is listed twice.`);
    subjects.set(s.code, { code: s.code, name: s.name, type: s.type, normalSide: s.normal_side ?? normalSideOf(s.type) });
  }
  const accounts = new Map<string, AccountSpec>();
  for (const a of parsed.data.accounts) {
    if (!subjects.has(a.subject)) {
      throw new LedgerError('config_unknown_subject', `${where}: account for ${a.owner_kind} ${a.owner_id} names subject ${a.subject}.`);
    }
    const accountId = a.account_id ?? defaultAccountId(a.subject, a.owner_kind, a.owner_id, a.currency);
    if (accounts.has(accountId)) throw new LedgerError('config_invalid', `${where}: account ${accountId} is listed twice.`);
    const flags = a.flags.reduce((bits, name) => bits | ACCOUNT_FLAGS[name], 0);
    if (flags === 3) {
      throw new LedgerError('config_invalid', `${where}: account ${accountId} cannot set both overdraft flags (it could never be posted to).`);
    }
    accounts.set(accountId, {
      accountId,
      subjectCode: a.subject,
      ownerKind: a.owner_kind,
      ownerId: a.owner_id,
      currency: a.currency,
      flags,
      status: a.status,
    });
  }
  return { subjects: [...subjects.values()], accounts: [...accounts.values()] };
}
