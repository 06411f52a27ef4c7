import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EntryCommand, LedgerCommand } from './entry.js';
import { parseEntryJson } from './entry.js';
import type { LedgerErrorCode } from './errors.js';
import { AMOUNT_MINOR_MAX } from './money.js';
import { openTestLedger, snapshot, T0, transfer, type TestLedger } from './test-support.js';

let t: TestLedger;
beforeEach(async () => {
  t = await openTestLedger();
  // Fund the user so spending from the balance is possible.
  expect((await t.ledger.post(transfer('fund', 'chan', 'user', 10_000n))).ok).toBe(true);
});
afterEach(async () => t.store.close());

/** Posts a command that must be refused with `code`, and proves nothing was written. */
async function expectRefused(cmd: LedgerCommand, code: LedgerErrorCode): Promise<void> {
  const before = snapshot(t.store);
  const result = await t.ledger.post(cmd);
  expect(result.ok).toBe(false);
  if (!result.ok) {
    expect(result.code).toBe(code);
    expect(result.message.length).toBeGreaterThan(20);
  }
  expect(snapshot(t.store)).toBe(before);
}

const hold = (id: string, amountMinor: bigint, lifetimeMs = 60_000): EntryCommand => ({
  ...transfer(id, 'user', 'merch', amountMinor),
  expiresAtMs: T0 + lifetimeMs,
});

describe('Given a ledger with a funded user', () => {
  it('When an entry balances, Then counters move on both sides and the balance derives from them', async () => {
    const r = await t.ledger.post(transfer('pay-1', 'user', 'merch', 2_500n));
    expect(r).toMatchObject({ ok: true, entryId: 'pay-1', businessDate: '2026-11-26', replayed: false });
    const [user] = await t.ledger.accounts({ accountId: 'user' });
    expect(user).toMatchObject({ debitsPosted: 2_500n, creditsPosted: 10_000n });
  });

  it('When the same id is posted with the same content, Then the first result is returned and nothing is written', async () => {
    const first = await t.ledger.post(transfer('pay-1', 'user', 'merch', 2_500n));
    const before = snapshot(t.store);
    const again = await t.ledger.post(transfer('pay-1', 'user', 'merch', 2_500n));
    expect(again).toMatchObject({ ok: true, replayed: true, seq: first.ok ? first.seq : -1 });
    expect(snapshot(t.store)).toBe(before);
  });

  it('When the same id is posted with different content, Then id_conflict', async () => {
    await t.ledger.post(transfer('pay-1', 'user', 'merch', 2_500n));
    await expectRefused(transfer('pay-1', 'user', 'merch', 2_501n), 'id_conflict');
  });

  it('When a batch holds commands a typed caller could not write, Then only those are refused', async () => {
    const results = await t.ledger.postEntries([
      transfer('c-1', 'user', 'merch', 100n),
      { ...transfer('c-2', 'user', 'merch', 100n), expiresAtMs: T0 + 0.5 },
      { ...transfer('c-3', 'user', 'merch', 100n), postings: [{ accountId: 'user', side: 'debit', amountMinor: '100' as unknown as bigint, currency: 'CNY' }, { accountId: 'merch', side: 'credit', amountMinor: 100n, currency: 'CNY' }] },
      transfer('c-4', 'user', 'merch', 100n),
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'hold_expiry_invalid', 'input_invalid', 'ok']);
  });

  it('When a batch mixes good and bad commands, Then each succeeds or fails on its own', async () => {
    const results = await t.ledger.postEntries([
      transfer('b-1', 'user', 'merch', 100n),
      transfer('b-2', 'user', 'nowhere', 100n),
      transfer('b-3', 'user', 'merch', 20_000n),
      transfer('b-4', 'user', 'merch', 200n),
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'account_not_found', 'insufficient_funds', 'ok']);
    const [user] = await t.ledger.accounts({ accountId: 'user' });
    expect(user?.debitsPosted).toBe(300n);
  });
});

describe('Given malformed entries, Then each is refused with its code and nothing is written', () => {
  const posting = (accountId: string, side: 'debit' | 'credit', amountMinor: bigint, currency = 'CNY') => ({ accountId, side, amountMinor, currency });
  const entry = (postings: EntryCommand['postings'], id = 'bad'): EntryCommand => ({ type: 'entry', id, eventType: 'test', postings });

  it('unbalanced', () => expectRefused(entry([posting('user', 'debit', 100n), posting('merch', 'credit', 99n)]), 'entry_unbalanced'));
  it('unbalanced per currency even when the totals match', () =>
    expectRefused(
      entry([posting('chan', 'debit', 100n), posting('merch-usd', 'credit', 100n, 'USD'), posting('chan-usd', 'debit', 100n, 'USD'), posting('merch', 'credit', 100n)].slice(0, 2)),
      'entry_unbalanced',
    ));
  it('fewer than two postings', () => expectRefused(entry([posting('user', 'debit', 100n)]), 'postings_too_few'));
  it('more than 128 postings', () =>
    expectRefused(entry(Array.from({ length: 130 }, (_, i) => posting(i % 2 ? 'merch' : 'chan', i % 2 ? 'credit' : 'debit', 1n))), 'postings_too_many'));
  it('an id in the prefix reserved for hold expiries', () =>
    expectRefused(entry([posting('chan', 'debit', 1n), posting('merch', 'credit', 1n)], 'expire.7'), 'entry_id_invalid'));
  it('a bad id', () => expectRefused(entry([posting('chan', 'debit', 1n), posting('merch', 'credit', 1n)], 'has space'), 'entry_id_invalid'));
  it('an unknown account', () => expectRefused(transfer('x', 'ghost', 'merch', 1n), 'account_not_found'));
  it('an unknown currency', () => expectRefused(transfer('x', 'chan', 'merch', 1n, 'XXX'), 'currency_unknown'));
  it("a posting currency that differs from the account's", () => expectRefused(transfer('x', 'chan', 'merch-usd', 1n, 'USD'), 'currency_mismatch'));
  it('amount zero', () => expectRefused(transfer('x', 'chan', 'merch', 0n), 'amount_not_positive'));
  it('amount negative', () => expectRefused(transfer('x', 'chan', 'merch', -5n), 'amount_not_positive'));
  it('amount above the ledger maximum (2^53-1)', () => expectRefused(transfer('x', 'chan', 'merch', AMOUNT_MINOR_MAX + 1n), 'amount_too_large'));
  it('amount 2^60', () => expectRefused(transfer('x', 'chan', 'merch', 2n ** 60n), 'amount_too_large'));
  it('a memo with a lone surrogate (it could not be stored as hashed)', () =>
    expectRefused({ ...transfer('x', 'chan', 'merch', 1n), memo: 'a\uD800b' }, 'input_invalid'));
  it('an event type with spaces', () => expectRefused({ ...transfer('x', 'chan', 'merch', 1n), eventType: 'Bad Type' }, 'input_invalid'));
});

describe('Given accounts with a status or a flag', () => {
  it('When an account is frozen, Then account_frozen', async () => {
    await t.ledger.setAccountStatus('merch', 'frozen');
    await expectRefused(transfer('x', 'chan', 'merch', 1n), 'account_frozen');
  });
  it('When an account is closed, Then account_closed', async () => {
    await t.ledger.setAccountStatus('merch', 'closed');
    await expectRefused(transfer('x', 'chan', 'merch', 1n), 'account_closed');
  });
  it('When setting the status of an unknown account, Then account_not_found', async () => {
    expect(await t.ledger.setAccountStatus('ghost', 'frozen')).toMatchObject({ code: 'account_not_found' });
  });
  it('When a debits_must_not_exceed_credits account would overdraw, Then insufficient_funds', () =>
    expectRefused(transfer('x', 'user', 'merch', 10_001n), 'insufficient_funds'));
  it('When a credits_must_not_exceed_debits account would overdraw, Then exceeds_debits', () =>
    expectRefused(transfer('x', 'chan', 'bank', 1n), 'exceeds_debits'));
  it('When holds reserve the balance, Then a spend of more than is available is insufficient_funds', async () => {
    expect((await t.ledger.post(hold('h', 9_000n))).ok).toBe(true);
    await expectRefused(transfer('x', 'user', 'merch', 1_001n), 'insufficient_funds');
    expect((await t.ledger.post(transfer('y', 'user', 'merch', 1_000n))).ok).toBe(true);
  });
  it('When an account counter would pass 2^63-1, Then counter_overflow', async () => {
    const big = (id: string): EntryCommand => ({
      type: 'entry',
      id,
      eventType: 'test',
      postings: Array.from({ length: 128 }, (_, i) => ({
        accountId: i % 2 === 0 ? 'chan' : 'merch',
        side: i % 2 === 0 ? ('debit' as const) : ('credit' as const),
        amountMinor: AMOUNT_MINOR_MAX,
        currency: 'CNY',
      })),
    });
    let i = 0;
    for (;;) {
      const r = await t.ledger.post(big(`big-${i++}`));
      if (!r.ok) {
        expect(r.code).toBe('counter_overflow');
        break;
      }
      expect(i).toBeLessThan(20);
    }
    await expectRefused(big(`big-${i}`), 'counter_overflow');
  });
});

describe('Given two-phase holds', () => {
  it('When a hold is placed, Then pending counters move and posted ones do not', async () => {
    await t.ledger.post(hold('h', 3_000n));
    const [user] = await t.ledger.accounts({ accountId: 'user' });
    expect(user).toMatchObject({ debitsPending: 3_000n, debitsPosted: 0n });
  });
  it('When a hold is posted in part, Then that part is posted and the rest is released', async () => {
    await t.ledger.post(hold('h', 3_000n));
    expect((await t.ledger.post({ type: 'post_hold', id: 'h-post', holdId: 'h', amountMinor: 1_200n })).ok).toBe(true);
    const [user] = await t.ledger.accounts({ accountId: 'user' });
    expect(user).toMatchObject({ debitsPending: 0n, debitsPosted: 1_200n });
    expect((await t.store.getEntry('h'))?.holdStatus).toBe('posted');
  });
  it('When a hold is posted in full, Then the whole amount is posted', async () => {
    await t.ledger.post(hold('h', 3_000n));
    await t.ledger.post({ type: 'post_hold', id: 'h-post', holdId: 'h' });
    const [merch] = await t.ledger.accounts({ accountId: 'merch' });
    expect(merch).toMatchObject({ creditsPending: 0n, creditsPosted: 3_000n });
  });
  it('When a hold is voided, Then everything is released', async () => {
    await t.ledger.post(hold('h', 3_000n));
    await t.ledger.post({ type: 'void_hold', id: 'h-void', holdId: 'h' });
    const [user] = await t.ledger.accounts({ accountId: 'user' });
    expect(user).toMatchObject({ debitsPending: 0n, debitsPosted: 0n });
  });
  it('When posting more than the hold, Then hold_amount_exceeded', async () => {
    await t.ledger.post(hold('h', 3_000n));
    await expectRefused({ type: 'post_hold', id: 'p', holdId: 'h', amountMinor: 3_001n }, 'hold_amount_exceeded');
  });
  it('When posting or voiding an unknown hold, Then hold_not_found', async () => {
    await expectRefused({ type: 'post_hold', id: 'p', holdId: 'nope' }, 'hold_not_found');
    await expectRefused({ type: 'void_hold', id: 'p', holdId: 'fund' }, 'hold_not_found');
  });
  it('When a posted hold is posted or voided again, Then hold_already_posted', async () => {
    await t.ledger.post(hold('h', 3_000n));
    await t.ledger.post({ type: 'post_hold', id: 'p1', holdId: 'h' });
    await expectRefused({ type: 'post_hold', id: 'p2', holdId: 'h' }, 'hold_already_posted');
    await expectRefused({ type: 'void_hold', id: 'v2', holdId: 'h' }, 'hold_already_posted');
  });
  it('When a voided hold is posted, Then hold_already_voided', async () => {
    await t.ledger.post(hold('h', 3_000n));
    await t.ledger.post({ type: 'void_hold', id: 'v1', holdId: 'h' });
    await expectRefused({ type: 'post_hold', id: 'p2', holdId: 'h' }, 'hold_already_voided');
  });
  it('When the clock passes the expiry, Then posting is hold_expired, and the sweep releases it once', async () => {
    await t.ledger.post(hold('h', 3_000n, 60_000));
    t.clock.now = T0 + 60_000;
    await expectRefused({ type: 'post_hold', id: 'p', holdId: 'h' }, 'hold_expired');
    await expectRefused({ type: 'void_hold', id: 'v', holdId: 'h' }, 'hold_expired');
    const swept = await t.ledger.expireHolds();
    expect(swept).toHaveLength(1);
    expect(await t.ledger.expireHolds()).toHaveLength(0);
    const [user] = await t.ledger.accounts({ accountId: 'user' });
    expect(user?.debitsPending).toBe(0n);
    await expectRefused({ type: 'post_hold', id: 'p', holdId: 'h' }, 'hold_expired');
  });
  it('When the clock has not reached the expiry, Then the sweep leaves the hold alone', async () => {
    await t.ledger.post(hold('h', 3_000n, 60_000));
    t.clock.now = T0 + 59_999;
    expect(await t.ledger.expireHolds()).toHaveLength(0);
  });
  it('When a hold expires in the past or too far ahead, Then hold_expiry_invalid', async () => {
    await expectRefused(hold('h', 1n, 0), 'hold_expiry_invalid');
    await expectRefused(hold('h', 1n, 500 * 24 * 3600 * 1000), 'hold_expiry_invalid');
  });
});

describe('Given reversals', () => {
  it('When an entry is reversed, Then a mirror entry links to it and the counters return', async () => {
    await t.ledger.post(transfer('pay', 'user', 'merch', 2_000n));
    expect((await t.ledger.post({ type: 'reverse', id: 'rev', entryId: 'pay' })).ok).toBe(true);
    const rev = await t.store.getEntry('rev');
    expect(rev?.reversesEntryId).toBe('pay');
    expect(rev?.postings.map((p) => `${p.side}:${p.accountId}`)).toEqual(['credit:user', 'debit:merch']);
    expect((await t.store.getEntry('pay'))?.reversedByEntryId).toBe('rev');
  });
  it('When an entry is reversed twice, Then already_reversed', async () => {
    await t.ledger.post(transfer('pay', 'user', 'merch', 2_000n));
    await t.ledger.post({ type: 'reverse', id: 'rev', entryId: 'pay' });
    await expectRefused({ type: 'reverse', id: 'rev2', entryId: 'pay' }, 'already_reversed');
  });
  it('When reversing an unknown entry, Then entry_not_found', () => expectRefused({ type: 'reverse', id: 'r', entryId: 'nope' }, 'entry_not_found'));
  it('When reversing a pending hold, Then reversal_of_pending', async () => {
    await t.ledger.post(hold('h', 1_000n));
    await expectRefused({ type: 'reverse', id: 'r', entryId: 'h' }, 'reversal_of_pending');
  });
  it('When reversing a void, Then reversal_of_hold_action', async () => {
    await t.ledger.post(hold('h', 1_000n));
    await t.ledger.post({ type: 'void_hold', id: 'v', holdId: 'h' });
    await expectRefused({ type: 'reverse', id: 'r', entryId: 'v' }, 'reversal_of_hold_action');
  });
  it('When a reversal would overdraw a flagged account, Then it is refused like any entry', async () => {
    await t.ledger.post(transfer('out', 'user', 'merch', 10_000n));
    await expectRefused({ type: 'reverse', id: 'r', entryId: 'fund' }, 'insufficient_funds');
  });
});

describe('Given business days', () => {
  it('When the day is cut off, Then later entries carry the next day and the closed day takes none', async () => {
    const cut = await t.ledger.cutoff();
    expect(cut).toMatchObject({ closedDate: '2026-11-26', openedDate: '2026-11-27', accountsSnapshotted: 7 });
    expect(await t.ledger.post(transfer('late', 'chan', 'merch', 5n))).toMatchObject({ ok: true, businessDate: '2026-11-27' });
    await expectRefused({ ...transfer('x', 'chan', 'merch', 1n), businessDate: '2026-11-26' }, 'period_closed');
    await expectRefused({ ...transfer('x', 'chan', 'merch', 1n), businessDate: '2026-11-28' }, 'period_not_open');
  });
  it('When cutting off, Then each account gets opening, movement and closing for the day', async () => {
    await t.ledger.cutoff();
    await t.ledger.post(transfer('d2', 'user', 'merch', 1_000n));
    await t.ledger.cutoff();
    const day2 = await t.store.dayBalances('2026-11-27');
    const user = day2.find((d) => d.accountId === 'user');
    expect(user).toMatchObject({ openingCredits: 10_000n, openingDebits: 0n, debits: 1_000n, credits: 0n, closingDebits: 1_000n, closingCredits: 10_000n });
  });
  it('When closing a day that is not the open one, Then cutoff_out_of_order and nothing changes', async () => {
    const before = snapshot(t.store);
    expect(await t.ledger.cutoff('2026-11-25')).toMatchObject({ ok: false, code: 'cutoff_out_of_order' });
    expect(await t.ledger.cutoff('2026-11-27')).toMatchObject({ ok: false, code: 'cutoff_out_of_order' });
    expect(snapshot(t.store)).toBe(before);
  });
  it('When a day moves more than 2^63-1 in total across accounts, Then cutoff still sums it exactly', async () => {
    const max = 2n ** 53n - 1n;
    const many = (prefix: string, debit: string, credit: string) =>
      Array.from({ length: 600 }, (_, i) => transfer(`${prefix}-${i}`, debit, credit, max));
    const results = await t.ledger.postEntries([...many('a', 'chan', 'merch'), ...many('b', 'fee', 'user')]);
    expect(results.every((r) => r.ok)).toBe(true);
    const cut = await t.ledger.cutoff();
    expect(cut).toMatchObject({ closedDate: '2026-11-26' });
    const cny = 'totals' in cut ? cut.totals.find((x) => x.currency === 'CNY') : undefined;
    expect(cny?.debits).toBe(1200n * max + 10_000n);
    expect(cny?.credits).toBe(cny?.debits);
  });
  it('When holds are pending at cutoff, Then they carry over and can be posted the next day', async () => {
    await t.ledger.post(hold('h', 500n, 86_400_000));
    await t.ledger.cutoff();
    expect(await t.ledger.post({ type: 'post_hold', id: 'p', holdId: 'h' })).toMatchObject({ ok: true, businessDate: '2026-11-27' });
  });
});

describe('Given the JSON form of an entry', () => {
  const base = { id: 'j1', event_type: 'payment', postings: [] as unknown[] };
  const withAmount = (amount: unknown, key = 'amount_minor') => ({
    ...base,
    postings: [
      { account_id: 'chan', side: 'debit', [key]: amount, currency: 'CNY' },
      { account_id: 'merch', side: 'credit', [key]: amount, currency: 'CNY' },
    ],
  });
  const codeOf = (raw: unknown): string => {
    const r = parseEntryJson(raw);
    return r.ok ? 'ok' : r.code;
  };
  it.each([
    ['1e3', 'amount_invalid'],
    ['0x10', 'amount_invalid'],
    [' 1', 'amount_invalid'],
    ['1 ', 'amount_invalid'],
    ['+1', 'amount_invalid'],
    ['NaN', 'amount_invalid'],
    ['Infinity', 'amount_invalid'],
    ['01', 'amount_invalid'],
    ['1.0', 'amount_invalid'],
    ['', 'amount_invalid'],
    [true, 'amount_invalid'],
    [1.5, 'amount_invalid'],
    ['0', 'amount_not_positive'],
    ['-0', 'amount_not_positive'],
    ['-1', 'amount_not_positive'],
    [-0, 'amount_not_positive'],
    [0, 'amount_not_positive'],
    ['9007199254740992', 'amount_too_large'],
    [(2n ** 60n).toString(), 'amount_too_large'],
    [2 ** 53 + 2, 'amount_unsafe_number'],
    [2 ** 60, 'amount_unsafe_number'],
    ['1050', 'ok'],
    [1050, 'ok'],
    ['9007199254740991', 'ok'],
  ])('amount_minor %j is %s', (amount, code) => expect(codeOf(withAmount(amount))).toBe(code));

  it.each([
    ['10.50', 'ok'],
    ['10.5', 'ok'],
    ['10', 'ok'],
    ['0.001', 'amount_precision'],
    ['10.505', 'amount_precision'],
    ['1e3', 'amount_invalid'],
    ['-0', 'amount_not_positive'],
    ['0.00', 'amount_not_positive'],
    ['-1.00', 'amount_not_positive'],
    ['.5', 'amount_invalid'],
    ['5.', 'amount_invalid'],
  ])('amount %j in CNY is %s', (amount, code) => expect(codeOf(withAmount(amount, 'amount'))).toBe(code));

  it('When a rounding mode is named, Then extra fraction digits are rounded by it', () => {
    const r = parseEntryJson(withAmount('10.505', 'amount'), { rounding: 'half_even' });
    expect(r.ok && r.value.postings[0]?.amountMinor).toBe(1050n);
    const up = parseEntryJson(withAmount('10.505', 'amount'), { rounding: 'half_up' });
    expect(up.ok && up.value.postings[0]?.amountMinor).toBe(1051n);
  });
  it('When a key is unknown, Then input_invalid names it', () => {
    const r = parseEntryJson({ ...withAmount('1'), colour: 'red' });
    expect(r).toMatchObject({ ok: false, code: 'input_invalid' });
    expect(!r.ok && r.message).toContain('colour');
  });
  it('When both amount and amount_minor are given, Then input_invalid', () => {
    const raw = withAmount('1');
    (raw.postings[0] as Record<string, unknown>)['amount'] = '0.01';
    expect(codeOf(raw)).toBe('input_invalid');
  });
  it('When expires_at is not a time, Then hold_expiry_invalid', () => expect(codeOf({ ...withAmount('1'), expires_at: 'soon' })).toBe('hold_expiry_invalid'));
  it('When the postings are not an array, Then input_invalid', () => expect(codeOf({ ...base, postings: {} })).toBe('input_invalid'));
  it('When metadata holds a bigint, Then input_invalid rather than a crash', () => {
    const cmd = { ...transfer('m', 'chan', 'merch', 1n), metadata: { n: 1n } };
    return expectRefused(cmd, 'input_invalid');
  });
});
