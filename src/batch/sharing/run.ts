// The share run of one business date (settle share --date D): checks the day is closed, splits each
// payment of D among its parties and claws back each refund of D, keeps the lines (a re-run inserts
// nothing), then posts one entry per party and currency from the stored lines:
//
//   share.<D>.<party>.<CUR>   net > 0: DR platform:share-expense:<CUR> / CR agent:<party>:payable:<CUR>
//                             net < 0 (clawbacks above shares): the reverse
//
// ISVs are paid like agents (ledger owner kind agent, subject 2203). Entries carry the open day's date
// (D is closed); their id names D. Payments are read in pages, so memory does not grow with the day.
//
// Two ways through the payments, with the same result (test/share-routed.test.ts): when no rule caps per
// day, a payment's split follows from its merchant, product and base alone, so the store is given each
// merchant's and product's route once and splits each page in SQL, each distinct base allocated once; with
// a cap per day (whose state follows payment id order) each payment is split here, one by one.

import type { EntryCommand } from '../../ledger/index.js';
import type { SharingRules } from './config.js';
import { clawBack, routable, routeFor, splitPayment, type DayCapState, type PaymentSplit, type ShareFinding, type ShareLine } from './core.js';
import { ShareError } from './errors.js';
import type { PartyDayTotal, ShareAccount, ShareStore } from './port.js';

export const SHARE_RUN_LIMITS = {
  /** Payments read and lines written per transaction (about 3 lines each; by route, the date's payments among
   *  this many payment ids): short enough write transactions (a few hundred ms) keep the daemon going, long
   *  enough that a commit is not paid every few thousand lines. */
  pageSize: 20_000,
  /** Findings listed in a run's result (all are counted). */
  findingsListedMax: 1_000,
  /** Entries per ledger batch (the ledger takes at most 8,190). */
  entriesPerBatch: 1_000,
} as const;

export interface ShareProgress {
  readonly kind: 'payments' | 'refunds' | 'entries';
  readonly done: number;
}

export interface ShareDayOptions {
  readonly nowMs: number;
  readonly onProgress?: (e: ShareProgress) => void;
  readonly pageSize?: number;
}

export interface ShareDayResult {
  readonly businessDate: string;
  readonly payments: number;
  readonly refunds: number;
  readonly linesWritten: number;
  readonly clippedMinor: bigint;
  readonly clippedPayments: number;
  readonly findings: readonly ShareFinding[];
  readonly findingsCount: number;
  readonly totals: readonly PartyDayTotal[];
  readonly entries: readonly { readonly entryId: string; readonly replayed: boolean }[];
}

export const shareEntryId = (date: string, partyId: string, currency: string): string => `share.${date}.${partyId}.${currency}`;

export function shareAccounts(t: Pick<PartyDayTotal, 'partyId' | 'currency'>): { payable: ShareAccount; expense: ShareAccount } {
  return {
    payable: { accountId: `agent:${t.partyId}:payable:${t.currency}`, subjectCode: '2203', ownerKind: 'agent', ownerId: t.partyId, currency: t.currency },
    expense: { accountId: `platform:share-expense:${t.currency}`, subjectCode: '6402', ownerKind: 'platform', ownerId: 'platform', currency: t.currency },
  };
}

/** The entry of one party's net for the date (none when it nets to zero). Pure. */
export function shareEntry(date: string, t: PartyDayTotal): EntryCommand | null {
  if (t.netMinor === 0n) return null;
  const { payable, expense } = shareAccounts(t);
  const amountMinor = t.netMinor < 0n ? -t.netMinor : t.netMinor;
  const owed = t.netMinor > 0n;
  return {
    type: 'entry',
    id: shareEntryId(date, t.partyId, t.currency),
    eventType: 'share.posted',
    reference: `${date}/${t.partyId}`,
    memo: `profit share of ${date} to ${t.partyKind} ${t.partyId}${owed ? '' : ' (clawbacks above shares)'}`,
    postings: [
      { accountId: expense.accountId, side: owed ? 'debit' : 'credit', amountMinor, currency: t.currency },
      { accountId: payable.accountId, side: owed ? 'credit' : 'debit', amountMinor, currency: t.currency },
    ],
  };
}

const monthStart = (date: string): string => `${date.slice(0, 8)}01`;

export async function shareDay(store: ShareStore, rules: SharingRules, businessDate: string, options: ShareDayOptions): Promise<ShareDayResult> {
  const status = store.dayStatus(businessDate);
  if (status !== 'closed') {
    throw new ShareError('day_not_closed', `Business date ${businessDate} is ${status ?? 'not in the ledger'}; its payments can still change.`, `Run settle day cutoff --date ${businessDate} first.`);
  }
  const pageSize = options.pageSize ?? SHARE_RUN_LIMITS.pageSize;
  const byRoute = routable(rules);
  const pairs = byRoute ? store.monthPairs(monthStart(businessDate), businessDate) : [];
  const volumes = byRoute ? new Map<string, bigint>() : store.monthVolumes(monthStart(businessDate), businessDate);
  for (const { merchantId, volumeMinor } of pairs) volumes.set(merchantId, (volumes.get(merchantId) ?? 0n) + volumeMinor);
  const dayCaps: DayCapState = new Map();
  const findings: ShareFinding[] = [];
  let findingsCount = 0;
  const addFinding = (f: ShareFinding): void => {
    findingsCount++;
    if (findings.length < SHARE_RUN_LIMITS.findingsListedMax) findings.push(f);
  };
  let payments = 0;
  let linesWritten = 0;
  let clippedMinor = 0n;
  let clippedPayments = 0;

  // Payments first: a refund of the same day claws back from lines written here. Without caps per day each
  // payment's split follows from its merchant, product and base alone: the store splits each distinct base
  // once and writes the page in one statement. With them, payments are split one by one in id order.
  if (byRoute) store.setRoutes(pairs.map(({ merchantId, product }) => ({ merchantId, product, route: routeFor(rules, merchantId, product, volumes.get(merchantId) ?? 0n) })));
  for (let after = ''; byRoute; ) {
    const end = store.routePageEnd(after, pageSize);
    if (end === null) break;
    const done = store.shareRoutedPage(businessDate, after, end.lastId);
    for (const n of done.negatives) addFinding({ code: 'base_negative', paymentId: n.paymentId, baseMinor: n.baseMinor });
    linesWritten += done.linesWritten;
    clippedMinor += done.clippedMinor;
    clippedPayments += done.clippedPayments;
    payments += done.payments;
    options.onProgress?.({ kind: 'payments', done: payments });
    if (end.lastId === null) break;
    after = end.lastId;
  }
  for (let after = ''; !byRoute; ) {
    const page = store.paymentsPage(businessDate, after, pageSize);
    if (page.length === 0) break;
    const splits: PaymentSplit[] = [];
    for (const p of page) {
      const done = splitPayment(rules, p, volumes.get(p.merchantId) ?? 0n, dayCaps);
      splits.push(done);
      if (done.finding) addFinding(done.finding);
      if (done.clippedTotalMinor > 0n) {
        clippedMinor += done.clippedTotalMinor;
        clippedPayments++;
      }
    }
    // A page shared by an earlier run (every payment has its row) is computed again, for the
    // day caps of the pages after it, but not written again: a re-run costs reads, not writes.
    const first = page[0]?.paymentId ?? '';
    if (store.paymentsShared(businessDate, first, page[page.length - 1]?.paymentId ?? first) !== page.length) linesWritten += store.writeSplits(businessDate, splits);
    payments += page.length;
    after = page[page.length - 1]?.paymentId ?? after;
    options.onProgress?.({ kind: 'payments', done: payments });
  }

  let refunds = 0;
  for (let afterSeq = 0; ; ) {
    const page = store.refundsPage(businessDate, afterSeq, pageSize);
    if (page.length === 0) break;
    const lines: ShareLine[] = [];
    for (const { refund, paymentDate } of page) {
      const original = paymentDate === null ? [] : store.paymentLines(refund.paymentId, paymentDate);
      if (original.length === 0) addFinding({ code: 'refund_unshared_payment', refundId: refund.refundId, paymentId: refund.paymentId });
      else lines.push(...clawBack(refund, original));
    }
    linesWritten += store.writeLines(businessDate, lines);
    refunds += page.length;
    afterSeq = page[page.length - 1]?.seq ?? afterSeq;
    options.onProgress?.({ kind: 'refunds', done: refunds });
  }

  // Entries from what is stored, not from this run's memory: after a crash the re-run posts the same.
  const totals = store.partyTotals(businessDate);
  const entries: { entryId: string; replayed: boolean }[] = [];
  for (let i = 0; i < totals.length; i += SHARE_RUN_LIMITS.entriesPerBatch) {
    const chunk = totals.slice(i, i + SHARE_RUN_LIMITS.entriesPerBatch);
    const commands = chunk.map((t) => shareEntry(businessDate, t)).filter((c): c is EntryCommand => c !== null);
    const accounts = chunk.flatMap((t) => Object.values(shareAccounts(t)));
    const results = await store.postEntries(accounts, commands, options.nowMs);
    results.forEach((r, k) => {
      if (!r.ok) throw new Error(`share entry ${commands[k]?.id ?? '?'} was refused by the ledger: ${r.code}: ${r.message}`);
      entries.push({ entryId: r.entryId, replayed: r.replayed });
    });
    options.onProgress?.({ kind: 'entries', done: entries.length });
  }
  return { businessDate, payments, refunds, linesWritten, clippedMinor, clippedPayments, findings, findingsCount, totals, entries };
}
