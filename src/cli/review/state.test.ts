import { describe, expect, it } from 'vitest';
import type { StoredItem } from '../../batch/recon/port.js';
import { ageDays, initialState, itemAmountMinor, reduce, selected, visible, type ReviewAction, type ReviewState } from './state.js';

const NOW_MS = Date.parse('2026-11-30T08:00:00Z');

function item(itemId: number, o: Partial<StoredItem>): StoredItem {
  return {
    itemId,
    runId: 1,
    channel: 'wallet',
    businessDate: '2026-11-26',
    status: 'open',
    resolution: null,
    outcome: 'discrepancy',
    type: 'amount_mismatch',
    differences: [],
    note: null,
    kind: 'payment',
    identity: `id${itemId}`,
    fileId: 1,
    lineSeq: itemId,
    channelTxnId: `T${itemId}`,
    orderKey: `pay_${itemId}`,
    channelAmountMinor: 1000n,
    channelCurrency: 'CNY',
    channelStatus: 'SUCCESS',
    channelFee: null,
    occurredAt: '2026-11-26 10:00:00',
    recordSource: 'payment',
    recordId: `pay_${itemId}`,
    merchantId: 'M100001',
    paymentId: `pay_${itemId}`,
    ledgerTxnId: null,
    ledgerAmountMinor: 1000n,
    ledgerCurrency: 'CNY',
    ledgerStatus: 'succeeded',
    ledgerCostMinor: 0n,
    ledgerBusinessDate: '2026-11-26',
    channelSuspenseId: null,
    ledgerSuspenseId: null,
    untilDate: null,
    ...o,
  };
}

const ITEMS = [
  item(1, { channel: 'wallet', type: 'amount_mismatch', businessDate: '2026-11-28', channelAmountMinor: 1500n }),
  item(2, { channel: 'unionpay', type: 'channel_only', businessDate: '2026-11-20', ledgerAmountMinor: null, channelAmountMinor: 700n }),
  item(3, { channel: 'wallet', type: 'ledger_only', businessDate: '2026-11-25', channelAmountMinor: null, ledgerAmountMinor: -90_000n }),
  item(4, { channel: 'wallet', type: 'currency_mismatch', businessDate: '2026-11-29', status: 'resolved' }),
];

const run = (s: ReviewState, ...actions: ReviewAction[]): ReviewState => actions.reduce(reduce, s);
const ids = (s: ReviewState): number[] => visible(s).map((i) => i.itemId);

describe('Given three open discrepancies and a resolved one, reviewed on 2026-11-30', () => {
  const s0 = initialState(ITEMS, NOW_MS);

  it('Then only the open ones are listed, oldest first, and the oldest is selected', () => {
    expect(ids(s0)).toEqual([2, 3, 1]);
    expect(selected(s0)?.itemId).toBe(2);
    expect(ageDays(ITEMS[1]!, s0.today)).toBe(10);
  });

  it('When sorted by amount, Then the largest side comes first (a debit of 900.00 beats 15.00)', () => {
    expect(itemAmountMinor(ITEMS[2]!)).toBe(90_000n);
    expect(ids(run(s0, { type: 'toggle-sort' }))).toEqual([3, 1, 2]);
  });

  it('When c is pressed, Then the channel filter cycles unionpay → wallet → all, and the selection follows', () => {
    const a = run(s0, { type: 'cycle-channel' });
    expect([a.filter.channel, ids(a)]).toEqual(['unionpay', [2]]);
    const b = run(a, { type: 'cycle-channel' });
    expect([b.filter.channel, ids(b), selected(b)?.itemId]).toEqual(['wallet', [3, 1], 3]);
    expect(run(b, { type: 'cycle-channel' }).filter.channel).toBeNull();
  });

  it('When t is pressed, Then the type filter cycles through the types present among open items only', () => {
    const seen: (string | null)[] = [];
    let s = s0;
    for (let k = 0; k < 4; k++) {
      s = reduce(s, { type: 'cycle-type' });
      seen.push(s.filter.type);
    }
    expect(seen).toEqual(['amount_mismatch', 'channel_only', 'ledger_only', null]);
  });

  it('When started with a minimum age and amount, Then younger and smaller items are hidden', () => {
    expect(ids(initialState(ITEMS, NOW_MS, { minAgeDays: 5 }))).toEqual([2, 3]);
    expect(ids(initialState(ITEMS, NOW_MS, { minAmountMinor: 1_000n }))).toEqual([3, 1]);
  });

  it('When moved past either end, Then the cursor stays on the list', () => {
    expect(selected(run(s0, { type: 'move', by: -5 }))?.itemId).toBe(2);
    expect(selected(run(s0, { type: 'move', by: 1 }))?.itemId).toBe(3);
    expect(selected(run(s0, { type: 'move', by: 9 }))?.itemId).toBe(1);
  });

  it('When an item is opened and accept-channel chosen with a reason, Then the decision is submitted', () => {
    const s = run(s0, { type: 'move', by: 2 }, { type: 'open' }, { type: 'choose-action' });
    expect(s.mode).toEqual({ kind: 'action', choice: 0 });
    const typed = run(s, { type: 'submit' }, { type: 'input', text: 'channel\u0007 is right' }, { type: 'erase' }, { type: 'input', text: 'T' });
    expect(typed.mode).toEqual({ kind: 'reason', action: 'accept-channel', text: 'channel is righT' });
    expect(run(typed, { type: 'submit' }).mode).toEqual({ kind: 'submitting', decision: { itemId: 1, action: 'accept-channel', reason: 'channel is righT', approval: undefined } });
  });

  it('When write-off is chosen, Then an approval is asked for and an empty one refused', () => {
    // channel_only allows accept-channel, accept-ledger, refund-out, write-off: write-off is the 4th (moving up wraps to it)
    const s = run(s0, { type: 'open' }, { type: 'choose-action' }, { type: 'move', by: -1 }, { type: 'submit' }, { type: 'input', text: 'small' }, { type: 'submit' });
    expect(s.mode).toEqual({ kind: 'approval', action: 'write-off', reason: 'small', text: '' });
    expect(run(s, { type: 'submit' }).message).toEqual({ level: 'error', text: 'A write-off needs an approval.' });
    expect(run(s, { type: 'input', text: 'CFO #12' }, { type: 'submit' }).mode).toEqual({ kind: 'submitting', decision: { itemId: 2, action: 'write-off', reason: 'small', approval: 'CFO #12' } });
  });

  it('When the reason is empty, Then nothing is submitted', () => {
    const s = run(s0, { type: 'choose-action' }, { type: 'submit' }, { type: 'input', text: '   ' }, { type: 'submit' });
    expect(s.mode.kind).toBe('reason');
    expect(s.message?.level).toBe('error');
  });

  it('When the resolution comes back, Then the item leaves the open list and the message shows the entry', () => {
    const s = run(s0, { type: 'choose-action' }, { type: 'submit' }, { type: 'input', text: 'ok' }, { type: 'submit' });
    const done = reduce(s, { type: 'resolved', item: { ...ITEMS[1]!, status: 'resolved', resolution: { action: 'accept-channel', by: 'a', atMs: 0, reason: 'ok', approval: null, entryIds: ['recon.2'], carriedFromItemId: null } }, entryIds: ['recon.2'] });
    expect(ids(done)).toEqual([3, 1]);
    expect(done.mode).toEqual({ kind: 'list' });
    expect(done.message).toEqual({ level: 'ok', text: 'Resolved 2 (channel_only) by accept-channel; posted recon.2.' });
  });

  it('When the resolution is refused, Then the code is shown and the detail stays open', () => {
    const s = run(s0, { type: 'choose-action' }, { type: 'submit' }, { type: 'input', text: 'ok' }, { type: 'submit' }, { type: 'failed', code: 'resolve_action_invalid', message: 'no' });
    expect(s.mode).toEqual({ kind: 'detail' });
    expect(s.message).toEqual({ level: 'error', text: 'resolve_action_invalid: no' });
  });

  it('When a currency_mismatch is selected, Then only accept-ledger is offered', () => {
    const s = initialState([item(9, { type: 'currency_mismatch' })], NOW_MS);
    const chosen = run(s, { type: 'choose-action' }, { type: 'move', by: 1 }, { type: 'submit' });
    expect(chosen.mode).toMatchObject({ kind: 'reason', action: 'accept-ledger' });
  });

  it('When keys arrive faster than the screen redraws, Then each is read against the state it meets (a pasted reason is typed, not taken as commands)', () => {
    const keys = [{ input: 'a' }, { input: '', return: true }, { input: 'c' }, { input: 'q' }, { input: 't' }, { input: '', return: true }];
    const s = keys.reduce<ReviewState>((st, key) => reduce(st, { type: 'key', key }), s0);
    expect(s.mode).toEqual({ kind: 'submitting', decision: { itemId: 2, action: 'accept-channel', reason: 'cqt', approval: undefined } });
    expect(s.quit).toBe(false);
  });

  it('When q is pressed in the list, Then the view is asked to quit', () => {
    expect(reduce(s0, { type: 'key', key: { input: 'q' } }).quit).toBe(true);
  });

  it('When a reason is pasted with its Enter in one chunk, Then the Enter submits it', () => {
    const s = run(s0, { type: 'choose-action' }, { type: 'submit' }, { type: 'key', key: { input: 'smoke ok\r' } });
    expect(s.mode).toEqual({ kind: 'submitting', decision: { itemId: 2, action: 'accept-channel', reason: 'smoke ok', approval: undefined } });
  });
});
