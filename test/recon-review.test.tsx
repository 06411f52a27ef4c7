// settle recon review's view on a real reconciliation: filter, move, open the detail with both sides,
// and resolve one discrepancy by keys — through the same resolveDiscrepancy `recon resolve` calls — then
// check the database has it resolved and the ledger has the adjusting entry.

import { render } from 'ink-testing-library';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { payLine } from '../src/batch/recon/test-support.js';
import { makeResolver } from '../src/cli/review/resolver.js';
import { initialState, REVIEW_LIMITS } from '../src/cli/review/state.js';
import { ReviewApp } from '../src/cli/review/view.js';
import { D, ReconWorld } from './recon-match-support.js';

const DOWN = '\u001B[B';
const ENTER = '\r';
const RECEIVABLE = 'channel:wallet:receivable:CNY';

let w: ReconWorld;

beforeEach(async () => {
  w = await ReconWorld.create();
  await w.payment('pay_amount', 1000n);
  await w.payment('pay_ours', 2000n);
  await w.importLines(D, [payLine('pay_amount', 1500n), payLine('pay_unknown', 700n)]);
  const r = await w.match(D);
  expect(r.counts.byType).toEqual({ amount_mismatch: 1, channel_only: 1, ledger_only: 1 });
});
afterEach(async () => {
  await w.close();
});

/** Waits until the view has drawn what the test expects (ink renders after the key's state update). */
async function frameWith(lastFrame: () => string | undefined, text: string): Promise<string> {
  for (let k = 0; k < 200; k++) {
    const f = lastFrame() ?? '';
    if (f.includes(text)) return f;
    await new Promise((done) => setImmediate(done));
  }
  throw new Error(`the view never showed ${JSON.stringify(text)}; last frame:\n${lastFrame() ?? ''}`);
}

async function press(stdin: { write: (s: string) => void }, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    stdin.write(k);
    await new Promise((done) => setImmediate(done));
  }
}

describe('Given three open discrepancies of the wallet on a real database', () => {
  it('When filtered to amount_mismatch, opened, and resolved accept-channel with a reason, Then the item is resolved and recon.<id> moved the receivable by the 5.00 difference', async () => {
    const items = await w.store.items({ status: 'open', limit: REVIEW_LIMITS.itemsMax });
    const amountItem = items.find((i) => i.type === 'amount_mismatch');
    expect(amountItem).toBeDefined();
    const itemId = amountItem?.itemId ?? 0;
    const before = await w.balance(RECEIVABLE);
    const app = render(<ReviewApp initial={initialState(items, w.nowMs)} resolve={makeResolver(w.store, { by: 'alice', writeOffTo: 'loss', clock: () => w.nowMs })} />);
    try {
      const first = await frameWith(app.lastFrame, 'Open discrepancies');
      expect(first).toContain('3 of 3');
      expect(first).toContain('channel_only');
      expect(first).toContain('ledger_only');

      await press(app.stdin, 't'); // types present, in DISCREPANCY_TYPES order: amount_mismatch first
      const filtered = await frameWith(app.lastFrame, '1 of 3');
      expect(filtered).toContain('type amount_mismatch');
      expect(filtered).not.toContain('channel_only');

      await press(app.stdin, 't', 't', 't'); // channel_only, ledger_only, back to all
      await frameWith(app.lastFrame, 'type all');
      await press(app.stdin, DOWN, 'k', 't', ENTER);
      const detail = await frameWith(app.lastFrame, `Item ${itemId}: amount_mismatch`);
      // both sides: the channel's line (amount, status, time, file and line) and our record
      for (const part of ['channel txn 42pay_amount', 'order pay_amount · 15.00 CNY · status succeeded', '2026-11-26T10:00:00+08:00 · file 1 line 1', 'ours    payment pay_amount · merchant M100001 · 10.00 CNY · status succeeded']) {
        expect(detail).toContain(part);
      }

      await press(app.stdin, 'a');
      await frameWith(app.lastFrame, '> accept-channel');
      await press(app.stdin, ENTER);
      await frameWith(app.lastFrame, 'Reason for accept-channel');
      await press(app.stdin, 'channel confirmed 15.00', ENTER);
      const done = await frameWith(app.lastFrame, `Resolved ${itemId}`);
      expect(done).toContain(`Resolved ${itemId} (amount_mismatch) by accept-channel; posted recon.${itemId}.`);
      expect(done).toContain('No open discrepancy matches these filters.');
    } finally {
      app.unmount();
    }

    const stored = await w.store.item(itemId);
    expect(stored).toMatchObject({ status: 'resolved', resolution: { action: 'accept-channel', by: 'alice', reason: 'channel confirmed 15.00', entryIds: [`recon.${itemId}`] } });
    expect(await w.store.entryExists(`recon.${itemId}`)).toBe(true);
    expect((await w.balance(RECEIVABLE)) - before).toBe(500n); // 15.00 − 10.00
    expect((await w.ledger.verify()).ok).toBe(true);
  });

  it('When the view’s resolver decides an item twice, Then the second is refused as a value with its code', async () => {
    const items = await w.store.items({ status: 'open', limit: REVIEW_LIMITS.itemsMax });
    const resolve = makeResolver(w.store, { by: 'bob', writeOffTo: 'loss', clock: () => w.nowMs });
    const ledgerOnly = items.find((i) => i.type === 'ledger_only');
    const first = await resolve({ itemId: ledgerOnly?.itemId ?? 0, action: 'accept-ledger', reason: 'ours is right', approval: undefined });
    expect(first.ok).toBe(true);
    const again = await resolve({ itemId: ledgerOnly?.itemId ?? 0, action: 'accept-ledger', reason: 'again', approval: undefined });
    expect(again).toMatchObject({ ok: false, code: 'discrepancy_already_resolved' });
  });
});
