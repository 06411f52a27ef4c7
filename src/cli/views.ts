// JSON shapes of the CLI's contract (documented in the README) and their human renderings.

import {
  availableOnNormalSide,
  balanceOnNormalSide,
  flagNames,
  type AccountRecord,
  type JournalEntry,
  type LedgerFailure,
  type PostResult,
} from '../ledger/index.js';
import { money, table } from './output.js';

export function accountJson(a: AccountRecord): Record<string, unknown> {
  return {
    account_id: a.accountId,
    subject_code: a.subjectCode,
    subject_name: a.subjectName,
    currency: a.currency,
    owner_kind: a.ownerKind,
    owner_id: a.ownerId,
    status: a.status,
    flags: flagNames(a.flags),
    normal_side: a.normalSide,
    balance_minor: balanceOnNormalSide(a, a.normalSide).toString(),
    available_minor: availableOnNormalSide(a, a.normalSide).toString(),
    debits_posted: a.debitsPosted.toString(),
    credits_posted: a.creditsPosted.toString(),
    debits_pending: a.debitsPending.toString(),
    credits_pending: a.creditsPending.toString(),
  };
}

export function accountsTable(accounts: readonly AccountRecord[]): string {
  if (accounts.length === 0) return 'No accounts match.';
  return table(
    ['account', 'subject', 'owner', 'status', '>balance', '>pending dr', '>pending cr'],
    accounts.map((a) => [
      a.accountId,
      `${a.subjectCode} ${a.subjectName}`,
      `${a.ownerKind}:${a.ownerId}`,
      a.status,
      money(balanceOnNormalSide(a, a.normalSide), a.currency),
      a.debitsPending === 0n ? '-' : money(a.debitsPending, a.currency),
      a.creditsPending === 0n ? '-' : money(a.creditsPending, a.currency),
    ]),
  );
}

export function entryJson(e: JournalEntry): Record<string, unknown> {
  return {
    seq: e.seq,
    entry_id: e.entryId,
    kind: e.kind,
    business_date: e.businessDate,
    event_type: e.eventType,
    reference: e.reference,
    memo: e.memo,
    metadata: e.metadata,
    expires_at: e.expiresAtMs === null ? null : new Date(e.expiresAtMs).toISOString(),
    hold_entry_id: e.holdEntryId,
    reverses_entry_id: e.reversesEntryId,
    hold_status: e.holdStatus,
    reversed_by_entry_id: e.reversedByEntryId,
    created_at: new Date(e.createdAtMs).toISOString(),
    hash: e.hash,
    postings: e.postings.map((p) => ({
      account_id: p.accountId,
      side: p.side,
      amount_minor: p.amountMinor.toString(),
      currency: p.currency,
    })),
  };
}

export function journalText(entries: readonly JournalEntry[]): string {
  if (entries.length === 0) return 'No entries.';
  const blocks = entries.map((e) => {
    const notes = [
      e.holdStatus ? `hold ${e.holdStatus}${e.expiresAtMs === null ? '' : `, expires ${new Date(e.expiresAtMs).toISOString()}`}` : '',
      e.holdEntryId ? `resolves hold ${e.holdEntryId}` : '',
      e.reversesEntryId ? `reverses ${e.reversesEntryId}` : '',
      e.reversedByEntryId ? `reversed by ${e.reversedByEntryId}` : '',
    ].filter(Boolean);
    const head = `#${e.seq} ${e.entryId}  ${e.businessDate}  ${e.eventType} (${e.kind})${e.memo ? `  "${e.memo}"` : ''}${
      notes.length > 0 ? `  [${notes.join('; ')}]` : ''
    }`;
    const lines = e.postings.map(
      (p) => `    ${p.side === 'debit' ? 'Dr' : '    Cr'} ${p.accountId.padEnd(38)} ${money(p.amountMinor, p.currency).padStart(18)}`,
    );
    return [head, ...lines].join('\n');
  });
  return blocks.join('\n');
}

export function postResultJson(r: PostResult): Record<string, unknown> {
  return r.ok
    ? { ok: true, entry_id: r.entryId, seq: r.seq, business_date: r.businessDate, replayed: r.replayed }
    : failureJson(r);
}

export function failureJson(f: LedgerFailure): Record<string, unknown> {
  return { ok: false, code: f.code, message: f.message };
}

export function postResultText(r: PostResult): string {
  if (!r.ok) return `refused: ${r.code}: ${r.message}`;
  return r.replayed
    ? `Entry ${r.entryId} already exists with the same content (#${r.seq}, ${r.businessDate}); nothing written.`
    : `Posted ${r.entryId} as #${r.seq} on business day ${r.businessDate}.`;
}
