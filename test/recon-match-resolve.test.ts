// Resolving discrepancies against the real ledger: each action on its type posts the expected balanced
// entry (checked through account balances and the ledger's own verify), a decision is final, and the
// report's CSV neutralises formula-looking cells.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildReport, writeReport } from '../src/batch/recon/report.js';
import { resolveDiscrepancy, type ResolveRequest } from '../src/batch/recon/resolve.js';
import { payLine, refundLine } from '../src/batch/recon/test-support.js';
import { D, ReconWorld } from './recon-match-support.js';

let w: ReconWorld;
const items = new Map<string, number>();

const RECEIVABLE = 'channel:wallet:receivable:CNY';
const PAYABLE = 'merchant:M100001:payable:CNY';
const SUSPENSE = 'platform:suspense:CNY';
const LOSS = 'platform:recon-loss:CNY';
const COST = 'platform:channel-cost:CNY';

/** One file with one discrepancy of every type; suspense days 0, so none waits. */
beforeEach(async () => {
  w = await ReconWorld.create();
  await w.payment('pay_ledger_only', 2000n, { feeMinor: 12n, costMinor: 12n });
  await w.payment('pay_amount', 1000n);
  await w.payment('pay_fee', 1000n, { costMinor: 6n });
  await w.payment('pay_failed', 500n, { status: 'failed', txn: null });
  await w.payment('pay_usd', 300n);
  await w.payment('pay_dup', 100n);
  await w.payment('pay_refunded', 900n);
  await w.refund('re_only_ours', 'pay_refunded', 400n);
  await w.importLines(D, [
    payLine('pay_unknown', 700n),
    payLine('pay_amount', 1500n),
    payLine('pay_fee', 1000n, { fee: '0.07000' }),
    payLine('pay_failed', 500n),
    payLine('pay_usd', 300n, { currency: 'USD' }),
    payLine('pay_dup', 100n),
    payLine('pay_dup', 100n),
    payLine('pay_refunded', 900n),
    refundLine('pay_refunded', 're_unknown', 250n),
  ]);
  const r = await w.match(D);
  expect(r.counts.byType).toEqual({ channel_only: 2, ledger_only: 2, amount_mismatch: 1, fee_mismatch: 1, status_mismatch: 1, currency_mismatch: 1, duplicate: 1 });
  items.clear();
  for (const i of await w.store.runExceptions(r.run.runId, 100)) items.set(i.identity ?? '', i.itemId);
});
afterEach(async () => {
  await w.close();
});

const id = (identity: string): number => {
  const found = items.get(identity);
  if (found === undefined) throw new Error(`test: no item ${identity}`);
  return found;
};

function resolve(identity: string, action: string, more: Partial<ResolveRequest> = {}): ReturnType<typeof resolveDiscrepancy> {
  return resolveDiscrepancy(w.store, { itemId: id(identity), action, reason: 'checked with the channel', by: 'alice', nowMs: w.nowMs, ...more });
}

async function expectBooksBalanced(): Promise<void> {
  expect((await w.ledger.verify()).ok).toBe(true);
}

describe('Given a channel_only payment (长款) of an order we do not know', () => {
  it('When accept-channel, Then the receivable is debited against suspense', async () => {
    const before = await w.balance(RECEIVABLE);
    const r = await resolve('line:payment:42pay_unknown', 'accept-channel');
    expect(r.entryIds).toEqual([`recon.${id('line:payment:42pay_unknown')}`]);
    expect((await w.balance(RECEIVABLE)) - before).toBe(700n);
    expect(await w.balance(SUSPENSE)).toBe(-700n);
    expect(r.item).toMatchObject({ status: 'resolved', resolution: { action: 'accept-channel', by: 'alice', reason: 'checked with the channel' } });
    await expectBooksBalanced();
  });

  it('When refund-out, Then what the channel holds is parked in suspense until it is returned', async () => {
    const before = await w.balance(RECEIVABLE);
    await resolve('line:payment:42pay_unknown', 'refund-out');
    expect((await w.balance(RECEIVABLE)) - before).toBe(700n);
    expect(await w.balance(SUSPENSE)).toBe(-700n);
    await expectBooksBalanced();
  });

  it('When resolved twice, Then discrepancy_already_resolved and nothing more is posted', async () => {
    await resolve('line:payment:42pay_unknown', 'accept-channel');
    const after = await w.balance(RECEIVABLE);
    await expect(resolve('line:payment:42pay_unknown', 'accept-channel')).rejects.toMatchObject({ code: 'discrepancy_already_resolved' });
    await expect(resolve('line:payment:42pay_unknown', 'accept-ledger')).rejects.toMatchObject({ code: 'discrepancy_already_resolved' });
    expect(await w.balance(RECEIVABLE)).toBe(after);
  });

  it('When accept-ledger, Then the decision is recorded and nothing is posted', async () => {
    const before = await w.balance(RECEIVABLE);
    const r = await resolve('line:payment:42pay_unknown', 'accept-ledger');
    expect(r.entryIds).toEqual([]);
    expect(await w.balance(RECEIVABLE)).toBe(before);
    expect((await w.store.item(id('line:payment:42pay_unknown')))?.status).toBe('resolved');
  });
});

describe('Given a channel_only refund the channel paid out', () => {
  it('When accept-channel, Then suspense carries what left the receivable; refund-out does not apply to a refund', async () => {
    await expect(resolve('line:refund:50re_unknown', 'refund-out')).rejects.toMatchObject({ code: 'resolve_action_invalid' });
    const before = await w.balance(RECEIVABLE);
    await resolve('line:refund:50re_unknown', 'accept-channel');
    expect((await w.balance(RECEIVABLE)) - before).toBe(-250n);
    expect(await w.balance(SUSPENSE)).toBe(250n);
    await expectBooksBalanced();
  });
});

describe('Given a ledger_only payment (短款) we booked with fee and cost', () => {
  it('When accept-channel, Then our payment entry is reversed and its receivable, payable and fee go back', async () => {
    const receivable = await w.balance(RECEIVABLE);
    const payable = await w.balance(PAYABLE);
    const r = await resolve('payment:pay_ledger_only', 'accept-channel');
    expect(r.entryIds).toEqual([`recon.${id('payment:pay_ledger_only')}`]);
    expect(receivable - (await w.balance(RECEIVABLE))).toBe(1988n);
    expect(payable - (await w.balance(PAYABLE))).toBe(1988n);
    const entry = await w.ledgerStore.getEntry(`recon.${id('payment:pay_ledger_only')}`);
    expect(entry).toMatchObject({ reversesEntryId: 'pay.pay_ledger_only' });
    await expectBooksBalanced();
  });

  it('When write-off without approval, Then approval_required; with it, Then the loss account takes the receivable', async () => {
    await expect(resolve('payment:pay_ledger_only', 'write-off')).rejects.toMatchObject({ code: 'approval_required' });
    const receivable = await w.balance(RECEIVABLE);
    await resolve('payment:pay_ledger_only', 'write-off', { approval: 'approved by the CFO, ticket 42' });
    expect(receivable - (await w.balance(RECEIVABLE))).toBe(2000n);
    expect(await w.balance(LOSS)).toBe(2000n);
    expect((await w.store.item(id('payment:pay_ledger_only')))?.resolution?.approval).toBe('approved by the CFO, ticket 42');
    await expectBooksBalanced();
  });

  it('When write-off to suspense, Then suspense takes it', async () => {
    await resolve('payment:pay_ledger_only', 'write-off', { approval: 'ok', writeOffTo: 'suspense' });
    expect(await w.balance(SUSPENSE)).toBe(2000n);
  });

  it('When refund-out, Then resolve_action_invalid: the channel holds nothing of ours', async () => {
    await expect(resolve('payment:pay_ledger_only', 'refund-out')).rejects.toMatchObject({ code: 'resolve_action_invalid' });
  });
});

describe('Given a ledger_only refund', () => {
  it('When accept-channel, Then our refund entry is reversed', async () => {
    const receivable = await w.balance(RECEIVABLE);
    await resolve('refund:re_only_ours', 'accept-channel');
    expect((await w.balance(RECEIVABLE)) - receivable).toBe(400n);
    await expectBooksBalanced();
  });
});

describe('Given an amount_mismatch (the channel has 15.00, we 10.00)', () => {
  it('When accept-channel, Then the difference goes to the receivable and the merchant payable', async () => {
    const receivable = await w.balance(RECEIVABLE);
    const payable = await w.balance(PAYABLE);
    await resolve('payment:pay_amount', 'accept-channel');
    expect((await w.balance(RECEIVABLE)) - receivable).toBe(500n);
    expect((await w.balance(PAYABLE)) - payable).toBe(500n);
    await expectBooksBalanced();
  });

  it('When refund-out, Then the excess is parked in suspense', async () => {
    await resolve('payment:pay_amount', 'refund-out');
    expect(await w.balance(SUSPENSE)).toBe(-500n);
  });
});

describe('Given a fee_mismatch (the channel charged 0.07, we expected 0.06)', () => {
  it('When accept-channel, Then one fen more channel cost comes out of the receivable', async () => {
    const receivable = await w.balance(RECEIVABLE);
    const cost = await w.balance(COST);
    await resolve('payment:pay_fee', 'accept-channel');
    expect(receivable - (await w.balance(RECEIVABLE))).toBe(1n);
    expect((await w.balance(COST)) - cost).toBe(1n);
    await expectBooksBalanced();
  });
});

describe('Given a status_mismatch (the channel took 5.00 for an order we think failed)', () => {
  it('When accept-channel, Then the merchant whose order it is gets the money', async () => {
    const payable = await w.balance(PAYABLE);
    await resolve('payment:pay_failed', 'accept-channel');
    expect((await w.balance(PAYABLE)) - payable).toBe(500n);
    await expectBooksBalanced();
  });
});

describe('Given a currency_mismatch and a duplicate', () => {
  it('When accept-channel on the currency_mismatch, Then resolve_action_invalid; accept-ledger is allowed', async () => {
    await expect(resolve('payment:pay_usd', 'accept-channel')).rejects.toMatchObject({ code: 'resolve_action_invalid' });
    await expect(resolve('payment:pay_usd', 'accept-ledger')).resolves.toMatchObject({ entryIds: [] });
  });

  it('When accept-channel on the duplicate, Then the second charge goes to suspense', async () => {
    await resolve('dup:payment:42pay_dup:2', 'accept-channel');
    expect(await w.balance(SUSPENSE)).toBe(-100n);
    await expectBooksBalanced();
  });
});

describe('Given bad resolve requests', () => {
  it('Then an unknown action is resolve_action_invalid, a blank reason reason_required, an unknown id discrepancy_not_found', async () => {
    await expect(resolve('payment:pay_amount', 'delete')).rejects.toMatchObject({ code: 'resolve_action_invalid' });
    await expect(resolve('payment:pay_amount', 'accept-ledger', { reason: '  ' })).rejects.toMatchObject({ code: 'reason_required' });
    await expect(resolveDiscrepancy(w.store, { itemId: 999_999, action: 'accept-ledger', reason: 'x', by: 'a', nowMs: 0 })).rejects.toMatchObject({ code: 'discrepancy_not_found' });
  });
});

describe('Given a resolution whose reason looks like a formula', () => {
  it('When the report is written, Then the CSV cell is =SUM(A1) prefixed with a quote and the JSON keeps it as it was', async () => {
    await resolve('payment:pay_amount', 'accept-ledger', { reason: '=SUM(A1)' });
    const report = await buildReport(w.store, { businessDate: D, nowMs: w.nowMs });
    expect(report.openDiscrepancies).toBe(8);
    const { csvPath, jsonPath } = await writeReport(report, join(w.dir, 'out'));
    const csv = readFileSync(csvPath, 'utf8');
    expect(csv).toContain(",'=SUM(A1),");
    expect(csv).not.toMatch(/,=SUM/);
    expect(csv.split('\r\n')[0]).toMatch(/^item_id,channel,business_date,outcome,type,status/);
    const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as { items: { resolution: { reason: string } | null }[]; runs: unknown[] };
    expect(json.items.some((i) => i.resolution?.reason === '=SUM(A1)')).toBe(true);
    expect(json.runs).toHaveLength(1);
  });
});
