// The online core end to end: the daemon and the channel simulator on loopback, every interface
// through the signed API, and the ledger checked behind it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, waitFor, type Stack } from './support/online.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => s.close());

let n = 0;
const orderNo = (): string => `ORD-${Date.now()}-${++n}`;
const balanceOf = async (accountId: string): Promise<bigint> => {
  const [a] = await s.daemon.ledger.accounts({ accountId });
  if (!a) return 0n;
  return a.normalSide === 'credit' ? a.creditsPosted - a.debitsPosted : a.debitsPosted - a.creditsPosted;
};

describe('Given the daemon and the simulator', () => {
  it('Then health, readiness, metrics and the OpenAPI document answer without a signature', async () => {
    expect((await fetch(`${s.daemon.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.daemon.url}/readyz`)).status).toBe(200);
    const doc = (await (await fetch(`${s.daemon.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/payments', '/v1/preauths/{id}/capture', '/v1/captures/{id}/void', '/v1/payouts']));
    const metrics = await (await fetch(`${s.daemon.url}/metrics`)).text();
    expect(metrics).toContain('settle_http_requests_total');
  });

  it('When a foreign_card payment is made, Then the bank answers at once and the ledger books gross, fee and cost', async () => {
    const r = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 10_000, currency: 'CNY' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'succeeded', amount: 10_000, fee: 60, channel: 'bank' });
    const got = await s.request('GET', `/v1/payments/${String(r.body['id'])}`);
    expect(got.body).toMatchObject({ id: r.body['id'], status: 'succeeded' });
    const byNo = await s.request('GET', `/v1/payments?merchant_order_no=${String(r.body['merchant_order_no'])}`);
    expect(byNo.body['id']).toBe(r.body['id']);
    expect((await s.daemon.ledger.verify()).ok).toBe(true);
  });

  it('When the same Idempotency-Key is sent twice, Then the second answer is a replay with the same body', async () => {
    const body = { merchant_order_no: orderNo(), product: 'phone_bill', amount: 500, currency: 'CNY' };
    const a = await s.request('POST', '/v1/payments', body, { idempotencyKey: 'same-key-1' });
    const b = await s.request('POST', '/v1/payments', body, { idempotencyKey: 'same-key-1' });
    expect(b.status).toBe(a.status);
    expect(b.body).toEqual(a.body);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    const c = await s.request('POST', '/v1/payments', { ...body, amount: 501 }, { idempotencyKey: 'same-key-1' });
    expect(c.body).toMatchObject({ error: { code: 'idempotency_key_reused' } });
  });

  it('When the channel declines, Then the payment fails with the reason and nothing is booked', async () => {
    const r = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 10_051, currency: 'CNY' });
    expect(r.body).toMatchObject({ status: 'failed', failure_code: 'insufficient_funds' });
  });

  it('When a wallet payment is made, Then it is processing and the signed notification completes it', async () => {
    const r = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'wallet', amount: 2_000, currency: 'CNY' });
    expect(r.body).toMatchObject({ status: 'processing' });
    const done = await waitFor(async () => {
      const g = await s.request('GET', `/v1/payments/${String(r.body['id'])}`);
      return g.body['status'] === 'succeeded' ? g : undefined;
    });
    expect(done.body['business_date']).toBe('2026-11-26');
  });

  it('When a netbank payment is made, Then a redirect URL comes back', async () => {
    const r = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'netbank', amount: 3_000, currency: 'CNY' });
    expect(r.status).toBe(201);
    expect(['processing', 'succeeded']).toContain(r.body['status']);
  });

  it('When quick pay runs under a signed agreement, Then it succeeds, and after termination it is refused', async () => {
    const agreement = await s.request('POST', '/v1/agreements', { payer_id: 'U0001', account_hint: '6222****1234' });
    expect(agreement.body).toMatchObject({ status: 'active' });
    const id = String(agreement.body['id']);
    expect((await s.request('GET', `/v1/agreements/${id}`)).body).toMatchObject({ status: 'active' });
    const pay = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'quick', amount: 1_000, currency: 'CNY', agreement_id: id, payer_id: 'U0001' });
    expect(pay.body).toMatchObject({ status: 'succeeded' });
    const withhold = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'agreement', amount: 700, currency: 'CNY', agreement_id: id });
    expect(withhold.body).toMatchObject({ status: 'succeeded' });
    expect((await s.request('POST', `/v1/agreements/${id}/terminate`, {})).body).toMatchObject({ status: 'terminated' });
    const after = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'quick', amount: 1_000, currency: 'CNY', agreement_id: id });
    expect(after.body).toMatchObject({ error: { code: 'agreement_not_active' } });
  });

  it('When a channel payment is refunded in part and voided, Then refunds go through the channel and the void is refused after one', async () => {
    const pay = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 10_000, currency: 'CNY' });
    const id = String(pay.body['id']);
    const refund = await s.request('POST', `/v1/payments/${id}/refunds`, { merchant_refund_no: `R-${id}`, amount: 4_000 });
    expect(refund.body).toMatchObject({ status: 'succeeded', amount: 4_000, fee_returned: 24 });
    expect((await s.request('GET', `/v1/refunds/${String(refund.body['id'])}`)).body).toMatchObject({ status: 'succeeded' });
    expect((await s.request('GET', `/v1/payments/${id}`)).body).toMatchObject({ status: 'partially_refunded', refunded_amount: 4_000 });
    expect((await s.request('POST', `/v1/payments/${id}/refunds`, { merchant_refund_no: `R2-${id}`, amount: 6_001 })).body).toMatchObject({ error: { code: 'refund_exceeds_remaining' } });
    expect((await s.request('POST', `/v1/payments/${id}/void`, {})).body).toMatchObject({ error: { code: 'void_not_allowed' } });
  });

  it('When a channel payment is voided the same day, Then the channel confirms and the entry is reversed', async () => {
    const pay = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 8_000, currency: 'CNY' });
    const voided = await s.request('POST', `/v1/payments/${String(pay.body['id'])}/void`, {});
    expect(voided.body).toMatchObject({ status: 'voided' });
    expect((await s.daemon.ledger.verify()).ok).toBe(true);
  });

  it('When a pre-authorisation is captured in part, voided back and captured again, Then the hold follows', async () => {
    const auth = await s.request('POST', '/v1/preauths', { merchant_order_no: orderNo(), amount: 20_000, currency: 'CNY' });
    expect(auth.body).toMatchObject({ status: 'authorized' });
    const id = String(auth.body['id']);
    expect((await s.request('POST', `/v1/preauths/${id}/capture`, { amount: 20_001 })).body).toMatchObject({ error: { code: 'preauth_capture_exceeds' } });
    const cap = await s.request('POST', `/v1/preauths/${id}/capture`, { amount: 15_000 });
    expect(cap.body).toMatchObject({ status: 'succeeded', amount: 15_000 });
    const captureEntry = await s.daemon.ledger.store.getEntry(`cap.${String(cap.body['id'])}`);
    expect(captureEntry).toMatchObject({ kind: 'post_pending', holdEntryId: `auth.${id}` });
    expect(captureEntry?.postings.map((p) => p.amountMinor)).toEqual([15_000n, 15_000n]);
    expect((await s.request('POST', `/v1/preauths/${id}/void`, {})).body).toMatchObject({ error: { code: 'illegal_transition' } });
    const capVoid = await s.request('POST', `/v1/captures/${String(cap.body['id'])}/void`, {});
    expect(capVoid.body).toMatchObject({ status: 'voided' });
    expect((await s.request('GET', `/v1/preauths/${id}`)).body).toMatchObject({ status: 'authorized', captured_amount: 0 });
    expect((await s.daemon.ledger.store.getEntry(`cap.${String(cap.body['id'])}`))?.reversedByEntryId).toBe(`capvoid.${String(cap.body['id'])}`);
    expect((await s.daemon.ledger.store.getEntry(`auth.${String(cap.body['id'])}.renewed`))?.holdStatus).toBe('pending');
    expect((await s.request('POST', `/v1/preauths/${id}/void`, {})).body).toMatchObject({ status: 'voided' });
    expect((await s.request('POST', `/v1/preauths/${id}/capture`, {})).body).toMatchObject({ error: { code: 'illegal_transition' } });
    expect((await s.daemon.ledger.verify()).ok).toBe(true);
  });

  it('When a user tops up and pays from the balance, Then both land in the ledger; above the balance it is refused', async () => {
    const payer = `U${Date.now()}`;
    const top = await s.request('POST', '/v1/topups', { merchant_topup_no: orderNo(), payer_id: payer, amount: 5_000, currency: 'CNY' });
    expect(top.body).toMatchObject({ status: 'succeeded' });
    expect(await balanceOf(`user:${payer}:balance:CNY`)).toBe(5_000n);
    expect((await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'balance', amount: 4_000, currency: 'CNY', payer_id: payer })).body).toMatchObject({ status: 'succeeded' });
    expect((await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'balance', amount: 1_001, currency: 'CNY', payer_id: payer })).body).toMatchObject({ error: { code: 'insufficient_funds' } });
  });

  it('When the merchant pays out, Then its balance is reserved and paid; above the balance it is refused', async () => {
    const shop = await s.addMerchant();
    const m = shop.merchantId;
    await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 5_000, currency: 'CNY' }, { merchant: shop });
    const available = await balanceOf(`merchant:${m}:payable:CNY`);
    expect(available).toBe(4_970n);
    const po = await s.request('POST', '/v1/payouts', { merchant_payout_no: orderNo(), amount: 1_000, currency: 'CNY', payee_name: 'Li Lei', payee_account: '6222020200112233' }, { merchant: shop });
    expect(['processing', 'succeeded']).toContain(po.body['status']);
    expect(po.body['payee_account']).toBe('****2233');
    await waitFor(async () => ((await s.request('GET', `/v1/payouts/${String(po.body['id'])}`, undefined, { merchant: shop })).body['status'] === 'succeeded' ? true : undefined));
    expect(await balanceOf(`merchant:${m}:payable:CNY`)).toBe(available - 1_000n);
    const tooMuch = await s.request('POST', '/v1/payouts', { merchant_payout_no: orderNo(), amount: Number(available), currency: 'CNY', payee_name: 'Li Lei', payee_account: '6222020200112233' }, { merchant: shop });
    expect(tooMuch.body).toMatchObject({ error: { code: 'insufficient_funds' } });
  });

  it('When channel balances are asked for, Then each channel answers', async () => {
    const r = await s.request('GET', '/v1/channel-balances');
    expect(r.status).toBe(200);
    expect((r.body['data'] as unknown[]).length).toBeGreaterThan(0);
  });
});

describe('Given bad or hostile requests', () => {
  it('When the signature is wrong, a nonce is replayed or the timestamp is stale, Then each has its code', async () => {
    const forged = await fetch(`${s.daemon.url}/v1/payments/x`, { headers: { 'settle-key-id': s.merchant.keyId, 'settle-timestamp': String(Math.floor(Date.now() / 1000)), 'settle-nonce': 'abcdefghijklmnop', 'settle-signature': 'a'.repeat(64) } });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe('signature_invalid');
    await s.request('GET', '/v1/payments/x', undefined, { nonce: 'replayed-nonce-0001' });
    expect((await s.request('GET', '/v1/payments/x', undefined, { nonce: 'replayed-nonce-0001' })).body).toMatchObject({ error: { code: 'nonce_replayed' } });
    expect((await s.request('GET', '/v1/payments/x', undefined, { timestampS: Math.floor(Date.now() / 1000) - 301 })).body).toMatchObject({ error: { code: 'timestamp_out_of_window' } });
    expect((await fetch(`${s.daemon.url}/v1/payments/x`)).status).toBe(401);
  });

  it('When a POST has no Idempotency-Key, or is not JSON, or is too large, Then it is refused', async () => {
    expect((await s.request('POST', '/v1/payments', { a: 1 }, { idempotencyKey: null })).body).toMatchObject({ error: { code: 'idempotency_key_missing' } });
    expect((await s.request('POST', '/v1/payments', undefined, { rawBody: Buffer.from('{not json') })).body).toMatchObject({ error: { code: 'body_invalid_json' } });
    const big = await s.request('POST', '/v1/payments', undefined, { rawBody: Buffer.from(JSON.stringify({ description: 'x'.repeat(70_000) })) });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ error: { code: 'body_too_large' } });
  });

  it('When another merchant reads, refunds, voids or captures my objects, Then it gets 404 as if they did not exist', async () => {
    const other = await s.addMerchant();
    const pay = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 1_000, currency: 'CNY' });
    const id = String(pay.body['id']);
    expect((await s.request('GET', `/v1/payments/${id}`, undefined, { merchant: other })).status).toBe(404);
    expect((await s.request('POST', `/v1/payments/${id}/refunds`, { merchant_refund_no: 'X', amount: 1 }, { merchant: other })).status).toBe(404);
    expect((await s.request('POST', `/v1/payments/${id}/void`, {}, { merchant: other })).status).toBe(404);
    const auth = await s.request('POST', '/v1/preauths', { merchant_order_no: orderNo(), amount: 1_000, currency: 'CNY' });
    expect((await s.request('POST', `/v1/preauths/${String(auth.body['id'])}/capture`, {}, { merchant: other })).status).toBe(404);
  });

  it('When a product is not enabled for the merchant, Then product_not_enabled', async () => {
    const limited = await s.addMerchant(['balance']);
    const r = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 100, currency: 'CNY' }, { merchant: limited });
    expect(r.body).toMatchObject({ error: { code: 'product_not_enabled' } });
  });

  it('When a notification is forged, Then it is refused and changes nothing', async () => {
    const r = await fetch(`${s.daemon.url}/v1/channel-notifications/wallet`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reference: 'pay_x', status: 'succeeded' }) });
    expect(r.status).toBeGreaterThanOrEqual(400);
  });
});
