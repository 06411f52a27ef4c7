// The chart of accounts as written in config: parsed once with zod, strictly (unknown keys are refused),
// into the ledger's own types. Kept apart from chart.ts so commands that do not read config never load zod.

import { z } from 'zod';
import {
  ACCOUNT_FLAGS,
  ACCOUNT_STATUSES,
  defaultAccountId,
  normalSideOf,
  OWNER_KINDS,
  SIDES,
  SUBJECT_TYPES,
  type AccountFlagName,
  type AccountSpec,
  type Chart,
  type Subject,
} from './chart.js';
import { findCurrency } from './currency.js';
import { LedgerError } from './errors.js';

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

export function describeZodIssue(error: z.ZodError, where: string): string {
  const issue = error.issues[0];
  if (!issue) return `${where} is invalid.`;
  const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  return `${where}: ${path}: ${issue.message}.`;
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
