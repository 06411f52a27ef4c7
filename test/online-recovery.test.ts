// Orders that do not finish in the request: the payer never pays (expiry closes the order, and a late
// success is kept for refund), and the channel times out (recovery queries it and finishes the order).

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../src/ledger/sqlite/database.js';
import { startStack, waitFor, type Stack } from './support/online.js';

let s: Stack;
beforeAll(async () => {
  const base = (await import('../src/cli/config.js')).loadConfig().online;
  s = await startStack({ onlineConfig: { order_expiry_s: 1, channels: base.channels.map((c) => ({ ...c, timeout_ms: 400 })) }, recoveryStaleAfterMs: 700 });
});
afterAll(async () => s.close());

let n = 0;
const orderNo = (): string => `REC-${Date.now()}-${++n}`;

describe('Given orders that wait or time out', () => {
  it('When the payer does not pay a netbank order in time, Then it is closed; a late success is kept for refund', async () => {
    // The bank waits for the payer on its cashier page instead of completing by itself.
    const knob = await fetch(`${s.sim.url}/admin/channels/bank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ notify_delay_ms: null }) });
    expect(knob.status).toBe(200);
    const r = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'netbank', amount: 3_000, currency: 'CNY' });
    expect(r.body).toMatchObject({ status: 'processing' });
    const redirect = String(r.body['redirect_url']);
    expect(redirect).toMatch(/^http/);
    const closed = await waitFor(async () => {
      const g = await s.request('GET', `/v1/payments/${String(r.body['id'])}`);
      return g.body['status'] === 'closed' ? g : undefined;
    });
    expect(closed.body['failure_code']).toBe('order_expired');
    // The payer pays on the cached cashier page after all.
    await fetch(redirect, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'result=pay' });
    const db = openSqlite(join(s.dir, 'settle.db'), { readonly: true });
    try {
      const late = await waitFor(async () => db.prepare("SELECT payload FROM outbox WHERE topic = 'payment.late_success' AND aggregate_id = ?").get(String(r.body['id'])) as { payload: string } | undefined);
      expect(JSON.parse(late.payload)).toMatchObject({ action: 'refund_required', status: 'closed' });
    } finally {
      db.close();
    }
    expect((await s.request('GET', `/v1/payments/${String(r.body['id'])}`)).body['status']).toBe('closed');
  });

  it('When the channel times out on a payment it did take, Then the order is processing and recovery finishes it once', async () => {
    const r = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 10_061, currency: 'CNY' });
    expect(r.body).toMatchObject({ status: 'processing' });
    const done = await waitFor(async () => {
      const g = await s.request('GET', `/v1/payments/${String(r.body['id'])}`);
      return g.body['status'] !== 'processing' ? g : undefined;
    }, 8_000);
    expect(done.body['status']).toBe('succeeded');
    const entry = await s.daemon.ledger.store.getEntry(`pay.${String(r.body['id'])}`);
    expect(entry?.eventType).toBe('payment.succeeded');
    expect((await s.daemon.ledger.verify()).ok).toBe(true);
  });

  it('When the channel is down before it records anything, Then the order fails after recovery finds no record', async () => {
    const r = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 10_062, currency: 'CNY' });
    expect(r.body).toMatchObject({ status: 'processing' });
    const done = await waitFor(async () => {
      const g = await s.request('GET', `/v1/payments/${String(r.body['id'])}`);
      return g.body['status'] !== 'processing' ? g : undefined;
    }, 8_000);
    expect(done.body).toMatchObject({ status: 'failed', failure_code: 'channel_not_received' });
  });

  it('When a capture times out at the channel, Then the pre-authorisation waits, recovery books the capture, and a retry gets the final answer', async () => {
    const auth = await s.request('POST', '/v1/preauths', { merchant_order_no: orderNo(), amount: 20_000, currency: 'CNY' });
    const id = String(auth.body['id']);
    const cap = await s.request('POST', `/v1/preauths/${id}/capture`, { amount: 10_061 }, { idempotencyKey: `cap-${id}` });
    expect(cap.status).toBe(503);
    expect(cap.body).toMatchObject({ error: { code: 'channel_unavailable' } });
    const waiting = await s.request('GET', `/v1/preauths/${id}`);
    expect(waiting.body).toMatchObject({ status: 'authorized', pending_operation: 'capture' });
    expect((await s.request('POST', `/v1/preauths/${id}/void`, {})).body).toMatchObject({ error: { code: 'illegal_transition' } });
    const captured = await waitFor(async () => {
      const g = await s.request('GET', `/v1/preauths/${id}`);
      return g.body['status'] === 'captured' ? g : undefined;
    }, 8_000);
    expect(captured.body).toMatchObject({ captured_amount: 10_061, pending_operation: null });
    const retry = await s.request('POST', `/v1/preauths/${id}/capture`, { amount: 10_061 }, { idempotencyKey: `cap-${id}` });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toMatchObject({ object: 'capture', status: 'succeeded', amount: 10_061 });
    expect((await s.daemon.ledger.verify()).ok).toBe(true);
  });

  it('When the daemon has a payment in flight and a retry comes after recovery, Then the retry gets the payment, not in_flight', async () => {
    const r = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 20_061, currency: 'CNY' }, { idempotencyKey: 'retry-after-recovery' });
    expect(['processing', 'succeeded']).toContain(r.body['status']);
    await waitFor(async () => ((await s.request('GET', `/v1/payments/${String(r.body['id'])}`)).body['status'] === 'succeeded' ? true : undefined), 8_000);
    const retry = await s.request('POST', '/v1/payments', { merchant_order_no: String(r.body['merchant_order_no']), product: 'foreign_card', amount: 20_061, currency: 'CNY' }, { idempotencyKey: 'retry-after-recovery' });
    expect(retry.body).toMatchObject({ id: r.body['id'] });
  });
});
