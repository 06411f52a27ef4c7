// The trial balance (试算平衡) of one closed business day, as a pure function of what the ledger read:
// the day's snapshot rows, the day's movements recomputed from the journal, the previous close, and
// the balances the channels report. It lays out opening, debits, credits and closing per account and
// per subject on the normal side, and lists every check that does not hold. No I/O, no clock.

import type { Side, SubjectType } from '../../ledger/index.js';

export interface SnapshotLine {
  readonly accountId: string;
  readonly subjectCode: string;
  readonly subjectName: string;
  readonly subjectType: SubjectType;
  readonly normalSide: Side;
  readonly ownerKind: string;
  readonly ownerId: string;
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

export interface MovementLine {
  readonly accountId: string;
  readonly debits: bigint;
  readonly credits: bigint;
}

export interface ClosingLine {
  readonly accountId: string;
  readonly closingDebits: bigint;
  readonly closingCredits: bigint;
}

/** What each channel says it holds for us: channel → currency → minor units. */
export type ChannelReports = ReadonlyMap<string, ReadonlyMap<string, bigint>>;

export interface TrialBalanceInput {
  readonly businessDate: string;
  readonly snapshot: readonly SnapshotLine[];
  /** The day's posted movements summed from the journal (entries of that business date). */
  readonly journal: readonly MovementLine[];
  /** The previous close's counters; empty when this is the ledger's first closed day. */
  readonly previousClosing: readonly ClosingLine[];
  readonly channelReports?: ChannelReports | undefined;
  readonly toleranceMinor: bigint;
  /** Subjects whose channel-owned accounts make up a channel's position (default 1122). */
  readonly positionSubjects: readonly string[];
  readonly findingsMax: number;
}

export interface AccountBalance {
  readonly accountId: string;
  readonly subjectCode: string;
  readonly ownerKind: string;
  readonly ownerId: string;
  readonly currency: string;
  readonly normalSide: Side;
  readonly openingMinor: bigint;
  readonly debitsMinor: bigint;
  readonly creditsMinor: bigint;
  readonly closingMinor: bigint;
  readonly debitsPendingMinor: bigint;
  readonly creditsPendingMinor: bigint;
}

export interface SubjectBalance {
  readonly subjectCode: string;
  readonly subjectName: string;
  readonly subjectType: SubjectType;
  readonly normalSide: Side;
  readonly currency: string;
  readonly accounts: number;
  readonly openingMinor: bigint;
  readonly debitsMinor: bigint;
  readonly creditsMinor: bigint;
  readonly closingMinor: bigint;
}

export interface CurrencyTotals {
  readonly currency: string;
  readonly debitsMinor: bigint;
  readonly creditsMinor: bigint;
  /** Sum of closing debit balances and of closing credit balances (each account on the side it sits). */
  readonly closingDebitBalancesMinor: bigint;
  readonly closingCreditBalancesMinor: bigint;
}

export interface ChannelPosition {
  readonly channel: string;
  readonly currency: string;
  readonly ledgerMinor: bigint;
  readonly reportedMinor: bigint | null;
  readonly differenceMinor: bigint | null;
}

/** Every check that can fail, keyed by a stable code. */
export type Finding =
  | { readonly code: 'debits_credits_differ'; readonly currency: string; readonly debitsMinor: bigint; readonly creditsMinor: bigint }
  | { readonly code: 'closing_balances_differ'; readonly currency: string; readonly debitMinor: bigint; readonly creditMinor: bigint }
  | { readonly code: 'movement_mismatch'; readonly accountId: string; readonly side: Side; readonly openingMinor: bigint; readonly movementMinor: bigint; readonly closingMinor: bigint }
  | { readonly code: 'opening_mismatch'; readonly accountId: string; readonly side: Side; readonly openingMinor: bigint; readonly previousClosingMinor: bigint }
  | { readonly code: 'snapshot_journal_mismatch'; readonly accountId: string; readonly snapshotDebitsMinor: bigint | null; readonly snapshotCreditsMinor: bigint | null; readonly journalDebitsMinor: bigint; readonly journalCreditsMinor: bigint }
  | { readonly code: 'subject_sum_mismatch'; readonly subjectCode: string; readonly currency: string; readonly accountsClosingMinor: bigint; readonly subjectClosingMinor: bigint }
  | { readonly code: 'channel_balance_mismatch'; readonly channel: string; readonly currency: string; readonly ledgerMinor: bigint; readonly reportedMinor: bigint; readonly differenceMinor: bigint; readonly toleranceMinor: bigint }
  | { readonly code: 'channel_balance_missing'; readonly channel: string; readonly currency: string; readonly ledgerMinor: bigint }
  | { readonly code: 'channel_position_unknown'; readonly channel: string; readonly currency: string; readonly reportedMinor: bigint };

export type FindingCode = Finding['code'];

export interface TrialBalanceReport {
  readonly businessDate: string;
  readonly accounts: readonly AccountBalance[];
  readonly subjects: readonly SubjectBalance[];
  readonly totals: readonly CurrencyTotals[];
  readonly channels: readonly ChannelPosition[];
  /** At most findingsMax; `findingsTotal` counts them all. */
  readonly findings: readonly Finding[];
  readonly findingsTotal: number;
}

const onNormalSide = (side: Side, debits: bigint, credits: bigint): bigint => (side === 'debit' ? debits - credits : credits - debits);

function accountBalance(l: SnapshotLine): AccountBalance {
  return {
    accountId: l.accountId,
    subjectCode: l.subjectCode,
    ownerKind: l.ownerKind,
    ownerId: l.ownerId,
    currency: l.currency,
    normalSide: l.normalSide,
    openingMinor: onNormalSide(l.normalSide, l.openingDebits, l.openingCredits),
    debitsMinor: l.debits,
    creditsMinor: l.credits,
    closingMinor: onNormalSide(l.normalSide, l.closingDebits, l.closingCredits),
    debitsPendingMinor: l.debitsPending,
    creditsPendingMinor: l.creditsPending,
  };
}

/** Per subject and currency, the sums of its accounts. */
function subjectBalances(lines: readonly SnapshotLine[]): SubjectBalance[] {
  const by = new Map<string, { s: SnapshotLine; accounts: number; opening: bigint; debits: bigint; credits: bigint; closing: bigint }>();
  for (const l of lines) {
    const key = `${l.subjectCode}\u0000${l.currency}`;
    const t = by.get(key) ?? { s: l, accounts: 0, opening: 0n, debits: 0n, credits: 0n, closing: 0n };
    t.accounts += 1;
    t.opening += onNormalSide(l.normalSide, l.openingDebits, l.openingCredits);
    t.debits += l.debits;
    t.credits += l.credits;
    t.closing += onNormalSide(l.normalSide, l.closingDebits, l.closingCredits);
    by.set(key, t);
  }
  return [...by.values()]
    .map((t) => ({
      subjectCode: t.s.subjectCode,
      subjectName: t.s.subjectName,
      subjectType: t.s.subjectType,
      normalSide: t.s.normalSide,
      currency: t.s.currency,
      accounts: t.accounts,
      openingMinor: t.opening,
      debitsMinor: t.debits,
      creditsMinor: t.credits,
      closingMinor: t.closing,
    }))
    .sort((a, b) => (a.subjectCode === b.subjectCode ? cmp(a.currency, b.currency) : cmp(a.subjectCode, b.subjectCode)));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function currencyTotals(lines: readonly SnapshotLine[]): CurrencyTotals[] {
  const by = new Map<string, { debits: bigint; credits: bigint; dr: bigint; cr: bigint }>();
  for (const l of lines) {
    const t = by.get(l.currency) ?? { debits: 0n, credits: 0n, dr: 0n, cr: 0n };
    t.debits += l.debits;
    t.credits += l.credits;
    const net = l.closingDebits - l.closingCredits;
    if (net > 0n) t.dr += net;
    else t.cr -= net;
    by.set(l.currency, t);
  }
  return [...by.entries()]
    .sort(([a], [b]) => cmp(a, b))
    .map(([currency, t]) => ({ currency, debitsMinor: t.debits, creditsMinor: t.credits, closingDebitBalancesMinor: t.dr, closingCreditBalancesMinor: t.cr }));
}

/** Each channel's position: its accounts under the position subjects, on the normal side, per currency. */
function channelPositions(lines: readonly SnapshotLine[], positionSubjects: readonly string[], reports: ChannelReports | undefined): ChannelPosition[] {
  const subjects = new Set(positionSubjects);
  const ledger = new Map<string, { channel: string; currency: string; minor: bigint }>();
  for (const l of lines) {
    if (l.ownerKind !== 'channel' || !subjects.has(l.subjectCode)) continue;
    const key = `${l.ownerId}\u0000${l.currency}`;
    const t = ledger.get(key) ?? { channel: l.ownerId, currency: l.currency, minor: 0n };
    t.minor += onNormalSide(l.normalSide, l.closingDebits, l.closingCredits);
    ledger.set(key, t);
  }
  const out: ChannelPosition[] = [...ledger.values()].map((t) => {
    const reported = reports?.get(t.channel)?.get(t.currency) ?? null;
    return { channel: t.channel, currency: t.currency, ledgerMinor: t.minor, reportedMinor: reported, differenceMinor: reported === null ? null : t.minor - reported };
  });
  for (const [channel, byCurrency] of reports ?? []) {
    for (const [currency, reported] of byCurrency) {
      if (!ledger.has(`${channel}\u0000${currency}`)) out.push({ channel, currency, ledgerMinor: 0n, reportedMinor: reported, differenceMinor: -reported });
    }
  }
  return out.sort((a, b) => (a.channel === b.channel ? cmp(a.currency, b.currency) : cmp(a.channel, b.channel)));
}

const abs = (v: bigint): bigint => (v < 0n ? -v : v);

/** Lays out the day and runs every check; findings in a fixed order (totals, accounts, subjects, channels). */
export function trialBalance(input: TrialBalanceInput, subjectClosing?: ReadonlyMap<string, bigint>): TrialBalanceReport {
  const findings: Finding[] = [];
  let findingsTotal = 0;
  const find = (f: Finding): void => {
    findingsTotal++;
    if (findings.length < input.findingsMax) findings.push(f);
  };

  const totals = currencyTotals(input.snapshot);
  for (const t of totals) {
    if (t.debitsMinor !== t.creditsMinor) find({ code: 'debits_credits_differ', currency: t.currency, debitsMinor: t.debitsMinor, creditsMinor: t.creditsMinor });
    if (t.closingDebitBalancesMinor !== t.closingCreditBalancesMinor) {
      find({ code: 'closing_balances_differ', currency: t.currency, debitMinor: t.closingDebitBalancesMinor, creditMinor: t.closingCreditBalancesMinor });
    }
  }

  const journal = new Map(input.journal.map((m) => [m.accountId, m]));
  const previous = new Map(input.previousClosing.map((c) => [c.accountId, c]));
  const inSnapshot = new Set<string>();
  for (const l of input.snapshot) {
    inSnapshot.add(l.accountId);
    if (l.openingDebits + l.debits !== l.closingDebits) {
      find({ code: 'movement_mismatch', accountId: l.accountId, side: 'debit', openingMinor: l.openingDebits, movementMinor: l.debits, closingMinor: l.closingDebits });
    }
    if (l.openingCredits + l.credits !== l.closingCredits) {
      find({ code: 'movement_mismatch', accountId: l.accountId, side: 'credit', openingMinor: l.openingCredits, movementMinor: l.credits, closingMinor: l.closingCredits });
    }
    const prev = previous.get(l.accountId);
    const prevDebits = prev?.closingDebits ?? 0n;
    const prevCredits = prev?.closingCredits ?? 0n;
    if (l.openingDebits !== prevDebits) find({ code: 'opening_mismatch', accountId: l.accountId, side: 'debit', openingMinor: l.openingDebits, previousClosingMinor: prevDebits });
    if (l.openingCredits !== prevCredits) find({ code: 'opening_mismatch', accountId: l.accountId, side: 'credit', openingMinor: l.openingCredits, previousClosingMinor: prevCredits });
    const j = journal.get(l.accountId);
    const jd = j?.debits ?? 0n;
    const jc = j?.credits ?? 0n;
    if (jd !== l.debits || jc !== l.credits) {
      find({ code: 'snapshot_journal_mismatch', accountId: l.accountId, snapshotDebitsMinor: l.debits, snapshotCreditsMinor: l.credits, journalDebitsMinor: jd, journalCreditsMinor: jc });
    }
  }
  for (const j of input.journal) {
    if (!inSnapshot.has(j.accountId)) {
      find({ code: 'snapshot_journal_mismatch', accountId: j.accountId, snapshotDebitsMinor: null, snapshotCreditsMinor: null, journalDebitsMinor: j.debits, journalCreditsMinor: j.credits });
    }
  }

  const subjects = subjectBalances(input.snapshot);
  if (subjectClosing) {
    for (const s of subjects) {
      const other = subjectClosing.get(`${s.subjectCode}\u0000${s.currency}`) ?? 0n;
      if (other !== s.closingMinor) find({ code: 'subject_sum_mismatch', subjectCode: s.subjectCode, currency: s.currency, accountsClosingMinor: s.closingMinor, subjectClosingMinor: other });
    }
  }

  const channels = channelPositions(input.snapshot, input.positionSubjects, input.channelReports);
  if (input.channelReports) {
    const positionSubjects = new Set(input.positionSubjects);
    const held = new Set(input.snapshot.filter((l) => l.ownerKind === 'channel' && positionSubjects.has(l.subjectCode)).map((l) => `${l.ownerId}\u0000${l.currency}`));
    for (const c of channels) {
      if (c.reportedMinor === null) {
        if (c.ledgerMinor !== 0n) find({ code: 'channel_balance_missing', channel: c.channel, currency: c.currency, ledgerMinor: c.ledgerMinor });
      } else if (!held.has(`${c.channel}\u0000${c.currency}`)) {
        find({ code: 'channel_position_unknown', channel: c.channel, currency: c.currency, reportedMinor: c.reportedMinor });
      } else if (c.differenceMinor !== null && abs(c.differenceMinor) > input.toleranceMinor) {
        find({ code: 'channel_balance_mismatch', channel: c.channel, currency: c.currency, ledgerMinor: c.ledgerMinor, reportedMinor: c.reportedMinor, differenceMinor: c.differenceMinor, toleranceMinor: input.toleranceMinor });
      }
    }
  }

  return { businessDate: input.businessDate, accounts: input.snapshot.map(accountBalance), subjects, totals, channels, findings, findingsTotal };
}
