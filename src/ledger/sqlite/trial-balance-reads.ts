// Read queries for the day-end trial balance (试算平衡) and the plain-text-accounting export: the day's
// snapshot rows with their accounts, the day's posted movements recomputed from the journal, and the
// journal's posted effects in date order. Read-only; the batch side calls them through its own port.

import type { Side, SubjectType } from '../chart.js';
import type { SqliteConnection } from './database.js';

type Row = Record<string, unknown>;
const big = (v: unknown): bigint => v as bigint;
const num = (v: unknown): number => Number(v as bigint);

export interface AccountInfoRow {
  readonly accountId: string;
  readonly subjectCode: string;
  readonly subjectName: string;
  readonly subjectType: SubjectType;
  readonly normalSide: Side;
  readonly ownerKind: string;
  readonly ownerId: string;
  readonly currency: string;
}

export interface SnapshotRow extends AccountInfoRow {
  readonly openingDebits: bigint;
  readonly openingCredits: bigint;
  readonly debits: bigint;
  readonly credits: bigint;
  readonly closingDebits: bigint;
  readonly closingCredits: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
}

export interface MovementRow {
  readonly accountId: string;
  readonly debits: bigint;
  readonly credits: bigint;
}

export interface ClosingRow {
  readonly accountId: string;
  readonly closingDebits: bigint;
  readonly closingCredits: bigint;
}

/** Kinds of entry whose postings move posted counters (a hold's own postings move only pending ones). */
const POSTED_KINDS = "('posted','post_pending')";

function accountInfo(r: Row): AccountInfoRow {
  return {
    accountId: r['account_id'] as string,
    subjectCode: r['subject_code'] as string,
    subjectName: r['subject_name'] as string,
    subjectType: r['subject_type'] as SubjectType,
    normalSide: r['normal_side'] as Side,
    ownerKind: r['owner_kind'] as string,
    ownerId: r['owner_id'] as string,
    currency: r['currency'] as string,
  };
}

/** 'open', 'closed', or undefined when the ledger never had that business day. */
export function businessDayStatus(db: SqliteConnection, date: string): 'open' | 'closed' | undefined {
  const row = db.prepare('SELECT status FROM business_days WHERE business_date = ?').get(date) as Row | undefined;
  return row ? (row['status'] as 'open' | 'closed') : undefined;
}

export interface DayRows {
  /** Every account's snapshot row for the day, ordered by subject and account. */
  readonly snapshot: SnapshotRow[];
  /** The day's posted movements per account, summed from the journal (entries of that business date). */
  readonly journal: MovementRow[];
  /** The previous close's counters of the accounts in the snapshot (none on the ledger's first day). */
  readonly previousClosing: ClosingRow[];
}

/**
 * Everything the trial balance of `date` reads: the day's snapshot joined with the previous close (by
 * primary key), and the day's posted movements per account summed from the journal in a second query
 * (the recomputation the snapshot is checked against). Per account and day the journal sums stay below
 * the account's counters, which the ledger keeps within 2^63-1, so SQL SUM cannot overflow here.
 */
export function dayRows(db: SqliteConnection, date: string): DayRows {
  const rows = db
    .prepare(
      `WITH prev AS (SELECT MAX(business_date) AS d FROM business_days WHERE status = 'closed' AND business_date < @date)
       SELECT d.*, a.account_id, a.subject_code, a.owner_kind, a.owner_id, a.currency,
              s.name AS subject_name, s.type AS subject_type, s.normal_side,
              pb.closing_debits AS prev_debits, pb.closing_credits AS prev_credits
         FROM day_balances d JOIN accounts a ON a.account_no = d.account_no JOIN subjects s ON s.code = a.subject_code
         LEFT JOIN day_balances pb ON pb.account_no = d.account_no AND pb.business_date = (SELECT d FROM prev)
        WHERE d.business_date = @date ORDER BY a.subject_code, a.account_id`,
    )
    .all({ date }) as Row[];
  const snapshot: SnapshotRow[] = [];
  const previousClosing: ClosingRow[] = [];
  for (const r of rows) {
    snapshot.push({
      ...accountInfo(r),
      openingDebits: big(r['opening_debits']),
      openingCredits: big(r['opening_credits']),
      debits: big(r['debits']),
      credits: big(r['credits']),
      closingDebits: big(r['closing_debits']),
      closingCredits: big(r['closing_credits']),
      debitsPending: big(r['debits_pending']),
      creditsPending: big(r['credits_pending']),
    });
    if (r['prev_debits'] !== null) previousClosing.push({ accountId: r['account_id'] as string, closingDebits: big(r['prev_debits']), closingCredits: big(r['prev_credits']) });
  }
  const journal = (
    db
      .prepare(
        `SELECT a.account_id, m.jd, m.jc
           FROM (SELECT p.account_no,
                        SUM(CASE WHEN p.side = 'debit' THEN p.amount_minor ELSE 0 END) AS jd,
                        SUM(CASE WHEN p.side = 'credit' THEN p.amount_minor ELSE 0 END) AS jc
                   FROM entries e JOIN postings p ON p.entry_seq = e.seq
                  WHERE e.business_date = ? AND e.kind IN ${POSTED_KINDS}
                  GROUP BY p.account_no) m
           JOIN accounts a ON a.account_no = m.account_no`,
      )
      .all(date) as Row[]
  ).map((r) => ({ accountId: r['account_id'] as string, debits: big(r['jd']), credits: big(r['jc']) }));
  return { snapshot, journal, previousClosing };
}

/** Every account with its subject (for naming accounts in an export). */
export function accountInfoRows(db: SqliteConnection): AccountInfoRow[] {
  const rows = db
    .prepare(
      `SELECT a.account_id, a.subject_code, a.owner_kind, a.owner_id, a.currency, s.name AS subject_name, s.type AS subject_type, s.normal_side
         FROM accounts a JOIN subjects s ON s.code = a.subject_code ORDER BY a.subject_code, a.account_id`,
    )
    .all() as Row[];
  return rows.map(accountInfo);
}

export interface PostedEntryRow {
  readonly seq: number;
  readonly entryId: string;
  readonly businessDate: string;
  readonly eventType: string;
  readonly postings: readonly { readonly accountId: string; readonly side: Side; readonly amountMinor: bigint; readonly currency: string }[];
}

/**
 * Up to `limit` entries that move posted balances, with business dates in [from, to] (either end open
 * when undefined), after `afterSeq`, in journal order.
 */
export function postedEntriesPage(db: SqliteConnection, range: { from?: string | undefined; to?: string | undefined }, afterSeq: number, limit: number): PostedEntryRow[] {
  const entries = db
    .prepare(
      `SELECT seq, entry_id, business_date, event_type FROM entries
        WHERE seq > @afterSeq AND kind IN ${POSTED_KINDS}
          AND (@from IS NULL OR business_date >= @from) AND (@to IS NULL OR business_date <= @to)
        ORDER BY seq LIMIT @limit`,
    )
    .all({ afterSeq, from: range.from ?? null, to: range.to ?? null, limit }) as Row[];
  if (entries.length === 0) return [];
  const first = num(entries[0]?.['seq']);
  const last = num(entries[entries.length - 1]?.['seq']);
  const postings = db
    .prepare(
      `SELECT p.entry_seq, p.side, p.amount_minor, p.currency, a.account_id FROM postings p JOIN accounts a ON a.account_no = p.account_no
        WHERE p.entry_seq BETWEEN ? AND ? ORDER BY p.entry_seq, p.idx`,
    )
    .all(first, last) as Row[];
  const bySeq = new Map<number, PostedEntryRow['postings'][number][]>();
  for (const p of postings) {
    const seq = num(p['entry_seq']);
    let list = bySeq.get(seq);
    if (!list) bySeq.set(seq, (list = []));
    list.push({ accountId: p['account_id'] as string, side: p['side'] as Side, amountMinor: big(p['amount_minor']), currency: p['currency'] as string });
  }
  return entries.map((e) => ({
    seq: num(e['seq']),
    entryId: e['entry_id'] as string,
    businessDate: e['business_date'] as string,
    eventType: e['event_type'] as string,
    postings: bySeq.get(num(e['seq'])) ?? [],
  }));
}

/**
 * Closing balance on the normal side per subject and currency, summed by SQL from the snapshot: an
 * independent total the trial balance compares with the sum of its account rows.
 */
export function subjectClosingTotals(db: SqliteConnection, date: string): Map<string, bigint> {
  const rows = db
    .prepare(
      `SELECT a.subject_code, a.currency,
              SUM(CASE s.normal_side WHEN 'debit' THEN d.closing_debits - d.closing_credits ELSE d.closing_credits - d.closing_debits END) AS closing
         FROM day_balances d JOIN accounts a ON a.account_no = d.account_no JOIN subjects s ON s.code = a.subject_code
        WHERE d.business_date = ? GROUP BY a.subject_code, a.currency`,
    )
    .all(date) as Row[];
  return new Map(rows.map((r) => [`${r['subject_code'] as string}\u0000${r['currency'] as string}`, big(r['closing'])]));
}

/** How many account rows each of the given days' snapshots holds (0 for a day without one). */
export function snapshotCounts(db: SqliteConnection, dates: readonly string[]): Map<string, number> {
  const stmt = db.prepare('SELECT COUNT(*) AS n FROM day_balances WHERE business_date = ?');
  return new Map(dates.map((d) => [d, num((stmt.get(d) as Row)['n'])]));
}
