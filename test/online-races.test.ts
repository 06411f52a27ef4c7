// Races through the real API: duplicates of one request, refunds of one payment and captures of one
// pre-authorisation, all sent at once.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './support/online.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ onlineConfig: { rate_limit_per_s: 100_000 } });
});
afterAll(async () => s.close());

let n = 0;
const orderNo = (): string => `RACE-${Date.now()}-${++n}`;

describe('Given many identical or competing requests at once', () => {
  it('When 1,000 duplicates of one payment arrive together, Then exactly one payment and one journal entry exist', async () => {
    const body = { merchant_order_no: orderNo(), product: 'foreign_card', amount: 1_234, currency: 'CNY' };
    const replies = await Promise.all(Array.from({ length: 1_000 }, () => s.request('POST', '/v1/payments', body, { idempotencyKey: `dup-${body.merchant_order_no}` })));
    const statuses = new Set(replies.map((r) => r.status));
    expect([...statuses].every((c) => c === 201 || c === 409)).toBe(true);
    const ids = new Set(replies.filter((r) => r.status === 201).map((r) => r.body['id']));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    const journal = await s.daemon.ledger.store.readJournal({ limit: 10_000 });
    expect(journal.filter((e) => e.reference === id)).toHaveLength(1);
    // And a retry after the dust settles is a replay.
    const again = await s.request('POST', '/v1/payments', body, { idempotencyKey: `dup-${body.merchant_order_no}` });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it('When 40 refunds of one payment race, Then their sum never exceeds the payment', async () => {
    const pay = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 10_000, currency: 'CNY' });
    const id = String(pay.body['id']);
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => s.request('POST', `/v1/payments/${id}/refunds`, { merchant_refund_no: `RR-${id}-${i}`, amount: 700 })));
    const refunded = replies.filter((r) => r.status === 201 && r.body['status'] === 'succeeded').length * 700;
    expect(refunded).toBeLessThanOrEqual(10_000);
    expect(refunded).toBe(9_800);
    const final = await s.request('GET', `/v1/payments/${id}`);
    expect(final.body['refunded_amount']).toBe(9_800);
    expect((await s.daemon.ledger.verify()).ok).toBe(true);
  });

  it('When 20 captures of one pre-authorisation race, Then exactly one succeeds and never above the authorisation', async () => {
    const auth = await s.request('POST', '/v1/preauths', { merchant_order_no: orderNo(), amount: 5_000, currency: 'CNY' });
    const id = String(auth.body['id']);
    const replies = await Promise.all(Array.from({ length: 20 }, () => s.request('POST', `/v1/preauths/${id}/capture`, { amount: 3_000 })));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    expect((await s.request('GET', `/v1/preauths/${id}`)).body).toMatchObject({ status: 'captured', captured_amount: 3_000 });
    expect((await s.daemon.ledger.verify()).ok).toBe(true);
  });

  it('When a void and refunds of one payment race, Then either the void wins alone or the refunds do, never both', async () => {
    const pay = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 6_000, currency: 'CNY' });
    const id = String(pay.body['id']);
    const replies = await Promise.all([
      s.request('POST', `/v1/payments/${id}/void`, {}),
      ...Array.from({ length: 5 }, (_, i) => s.request('POST', `/v1/payments/${id}/refunds`, { merchant_refund_no: `VR-${id}-${i}`, amount: 1_000 })),
    ]);
    const voided = replies[0]?.status === 200;
    const refunds = replies.slice(1).filter((r) => r.status === 201).length;
    expect(voided ? refunds : 1).toBe(voided ? 0 : 1);
    const final = await s.request('GET', `/v1/payments/${id}`);
    expect(final.body['status']).toBe(voided ? 'voided' : 'partially_refunded');
    expect((await s.daemon.ledger.verify()).ok).toBe(true);
  });
});
