// The pure trial balance: findings that cannot be reached through a sound store (subject totals that
// disagree, a journal movement on an account outside the snapshot), the findings limit, and property
// tests over a real ledger: random balanced entries and cutoffs always give a clean trial balance.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openTestLedger, transfer } from '../../ledger/test-support.js';
import { trialBalance, type SnapshotLine, type TrialBalanceInput } from './check.js';
import { parseTrialBalanceConfig } from './config.js';
import { runTrialBalance } from './service.js';
import { sqliteTrialBalanceReader } from './sqlite/reader.js';

const line = (accountId: string, subjectCode: string, normalSide: 'debit' | 'credit', debits: bigint, credits: bigint): SnapshotLine => ({
  accountId,
  subjectCode,
  subjectName: subjectCode,
  subjectType: normalSide === 'debit' ? 'asset' : 'liability',
  normalSide,
  ownerKind: 'channel',
  ownerId: accountId,
  currency: 'CNY',
  openingDebits: 0n,
  openingCredits: 0n,
  debits,
  credits,
  closingDebits: debits,
  closingCredits: credits,
  debitsPending: 0n,
  creditsPending: 0n,
});

const base = (snapshot: SnapshotLine[]): TrialBalanceInput => ({
  businessDate: '2026-11-26',
  snapshot,
  journal: snapshot.map((l) => ({ accountId: l.accountId, debits: l.debits, credits: l.credits })),
  previousClosing: [],
  toleranceMinor: 0n,
  positionSubjects: ['1122'],
  findingsMax: 1000,
});

describe('Given a hand-made snapshot', () => {
  const sound = [line('a', '1122', 'debit', 500n, 0n), line('b', '2202', 'credit', 0n, 500n)];

  it('When every check holds, Then no findings and subjects on their normal side', () => {
    const r = trialBalance(base(sound), new Map([['1122\u0000CNY', 500n], ['2202\u0000CNY', 500n]]));
    expect(r.findingsTotal).toBe(0);
    expect(r.subjects.map((s) => [s.subjectCode, s.closingMinor])).toEqual([['1122', 500n], ['2202', 500n]]);
  });
  it("When the store's subject total differs from its accounts, Then subject_sum_mismatch", () => {
    const r = trialBalance(base(sound), new Map([['1122\u0000CNY', 499n], ['2202\u0000CNY', 500n]]));
    expect(r.findings).toEqual([{ code: 'subject_sum_mismatch', subjectCode: '1122', currency: 'CNY', accountsClosingMinor: 500n, subjectClosingMinor: 499n }]);
  });
  it('When the journal moved an account the snapshot lacks, Then snapshot_journal_mismatch with no snapshot figures', () => {
    const input = { ...base(sound), journal: [...base(sound).journal, { accountId: 'late', debits: 1n, credits: 0n }] };
    expect(trialBalance(input).findings).toEqual([{ code: 'snapshot_journal_mismatch', accountId: 'late', snapshotDebitsMinor: null, snapshotCreditsMinor: null, journalDebitsMinor: 1n, journalCreditsMinor: 0n }]);
  });
  it('When there are more findings than findings_max, Then all are counted and only findings_max listed', () => {
    const broken = Array.from({ length: 10 }, (_, i) => ({ ...line(`x${i}`, '1122', 'debit', 5n, 0n), closingDebits: 4n }));
    const r = trialBalance({ ...base(broken), findingsMax: 3 });
    expect(r.findings).toHaveLength(3);
    expect(r.findingsTotal).toBe(12); // 10 movement_mismatch + debits_credits_differ + closing_balances_differ
  });
});

describe('Given the trial_balance config section', () => {
  it('When it is absent, Then the defaults; when it has an unknown key, Then it is refused', () => {
    const d = parseTrialBalanceConfig(undefined);
    expect(d.success && d.data).toEqual({ channel_balance_tolerance_minor: 0n, channel_position_subjects: ['1122'], findings_max: 1000 });
    expect(parseTrialBalanceConfig({ tolerance: 1 }).success).toBe(false);
    const t = parseTrialBalanceConfig({ channel_balance_tolerance_minor: '25' });
    expect(t.success && t.data.channel_balance_tolerance_minor).toBe(25n);
  });
});

const ACCOUNTS = ['bank', 'chan', 'merch', 'user', 'fee'] as const;

describe('Given random balanced entries over random cutoffs (property)', () => {
  it('Then every closed day balances, opening + movements = closing, and the snapshot equals the journal', async () => {
    const config = parseTrialBalanceConfig({});
    if (!config.success) throw new Error('defaults');
    const entry = fc.record({
      from: fc.constantFrom(...ACCOUNTS),
      to: fc.constantFrom(...ACCOUNTS),
      amountMinor: fc.bigInt({ min: 1n, max: 10_000_000n }),
      cutAfter: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 40 }), async (entries) => {
        const t = await openTestLedger();
        try {
          // fund the bank (flagged: credits must not exceed debits) so transfers out of it succeed
          await t.ledger.post(transfer('fund', 'bank', 'user', 1_000_000_000n));
          const closed: string[] = [];
          let i = 0;
          for (const e of entries) {
            if (e.from !== e.to) await t.ledger.post(transfer(`e${i++}`, e.to, e.from, e.amountMinor));
            if (e.cutAfter) {
              const r = await t.ledger.cutoff();
              if ('ok' in r) throw new Error(r.message);
              closed.push(r.closedDate);
            }
          }
          const r = await t.ledger.cutoff();
          if ('ok' in r) throw new Error(r.message);
          closed.push(r.closedDate);
          const reader = sqliteTrialBalanceReader(t.store.db);
          for (const date of closed) {
            const out = await runTrialBalance(reader, date, config.data);
            if (!out.ok) throw new Error(out.message);
            expect(out.report.findings).toEqual([]);
            for (const tot of out.report.totals) expect(tot.debitsMinor).toBe(tot.creditsMinor);
            for (const a of out.report.accounts) {
              const movement = a.normalSide === 'debit' ? a.debitsMinor - a.creditsMinor : a.creditsMinor - a.debitsMinor;
              expect(a.openingMinor + movement).toBe(a.closingMinor);
            }
          }
        } finally {
          await t.store.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
