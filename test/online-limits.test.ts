// Abuse and channel trouble through the real API: the per-merchant rate limit, channel declines and
// outages on follow-up operations, unroutable requests, and notifications that are signed but wrong.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devSecretFor } from '../src/online/channel-sim/secrets.js';
import { signedHeaders } from '../src/online/channel-sim/signature.js';
import { startStack, waitFor, type Stack } from './support/online.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ onlineConfig: { rate_limit_per_s: 40 } });
});
afterAll(async () => s.close());

let n = 0;
const orderNo = (): string => `LIM-${Date.now()}-${++n}`;
const knob = (channel: string, body: Record<string, unknown>) =>
  fetch(`${s.sim.url}/admin/channels/${channel}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('Given a merchant and channels that misbehave', () => {
  it('When the channel declines a capture, Then channel_declined and the pre-authorisation stays authorised', async () => {
    const auth = await s.request('POST', '/v1/preauths', { merchant_order_no: orderNo(), amount: 20_000, currency: 'CNY' });
    const id = String(auth.body['id']);
    const cap = await s.request('POST', `/v1/preauths/${id}/capture`, { amount: 10_051 });
    expect(cap.status).toBe(402);
    expect(cap.body).toMatchObject({ error: { code: 'channel_declined' } });
    expect((await s.request('GET', `/v1/preauths/${id}`)).body).toMatchObject({ status: 'authorized', captured_amount: 0 });
  });

  it('When no channel serves the currency, or the channel is out, Then channel_unavailable', async () => {
    const eur = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 2_000, currency: 'EUR' });
    expect(eur.body).toMatchObject({ error: { code: 'channel_unavailable' } });
    const pay = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 2_000, currency: 'CNY' });
    await knob('bank', { outage: true });
    try {
      expect((await s.request('POST', `/v1/payments/${String(pay.body['id'])}/void`, {})).body).toMatchObject({ error: { code: 'channel_unavailable' } });
    } finally {
      await knob('bank', { outage: false });
    }
  });

  it('When a merchant_refund_no is reused, Then merchant_refund_no_duplicate', async () => {
    const pay = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 2_000, currency: 'CNY' });
    const id = String(pay.body['id']);
    expect((await s.request('POST', `/v1/payments/${id}/refunds`, { merchant_refund_no: `RF-${id}`, amount: 100 })).status).toBe(201);
    expect((await s.request('POST', `/v1/payments/${id}/refunds`, { merchant_refund_no: `RF-${id}`, amount: 100 })).body).toMatchObject({ error: { code: 'merchant_refund_no_duplicate' } });
  });

  it('When a correctly signed notification names the wrong amount, Then notification_mismatch and the order is untouched', async () => {
    await knob('wallet', { notify_delay_ms: null });
    try {
      const pay = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'wallet', amount: 2_500, currency: 'CNY' });
      const body = JSON.stringify({
        notification_id: `forged-${String(pay.body['id'])}`,
        channel: 'wallet',
        operation: 'pay',
        reference: pay.body['id'],
        channel_txn_id: 'WALLET-X',
        status: 'succeeded',
        amount_minor: '250000',
        currency: 'CNY',
      });
      const res = await fetch(`${s.daemon.url}/v1/channel-notifications/wallet`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signedHeaders(devSecretFor('wallet'), body, Date.now()) },
        body,
      });
      expect(res.status).toBe(409);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('notification_mismatch');
      expect((await s.request('GET', `/v1/payments/${String(pay.body['id'])}`)).body['status']).toBe('processing');
    } finally {
      await knob('wallet', { notify_delay_ms: 200 });
    }
  });

  it('When the channel sends the same notification twice, Then the second is acknowledged as a duplicate and applied once', async () => {
    await knob('wallet', { notify_delay_ms: null });
    try {
      const pay = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'wallet', amount: 2_600, currency: 'CNY' });
      const body = JSON.stringify({
        notification_id: `twice-${String(pay.body['id'])}`,
        channel: 'wallet',
        operation: 'pay',
        reference: pay.body['id'],
        channel_txn_id: `WALLET-${String(pay.body['id'])}`,
        status: 'succeeded',
        amount_minor: '2600',
        currency: 'CNY',
      });
      const send = () =>
        fetch(`${s.daemon.url}/v1/channel-notifications/wallet`, { method: 'POST', headers: { 'content-type': 'application/json', ...signedHeaders(devSecretFor('wallet'), body, Date.now()) }, body });
      const first = (await (await send()).json()) as Record<string, unknown>;
      const second = (await (await send()).json()) as Record<string, unknown>;
      expect(first).toMatchObject({ ok: true, duplicate: false });
      expect(second).toMatchObject({ ok: true, duplicate: true });
      expect((await s.request('GET', `/v1/payments/${String(pay.body['id'])}`)).body['status']).toBe('succeeded');
      const journal = await s.daemon.ledger.store.readJournal({ limit: 10_000 });
      expect(journal.filter((e) => e.reference === pay.body['id'])).toHaveLength(1);
    } finally {
      await knob('wallet', { notify_delay_ms: 200 });
    }
  });

  it('When the daemon is asked to stop while a payment waits on a slow channel, Then the payment still finishes and is answered', async () => {
    const local = await startStack();
    try {
      await fetch(`${local.sim.url}/admin/channels/bank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latency_ms: 400 }) });
      const pending = local.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 3_000, currency: 'CNY' });
      await new Promise((r) => setTimeout(r, 100));
      const closing = local.daemon.close();
      const reply = await pending;
      await closing;
      expect(reply.status).toBe(201);
      expect(reply.body['status']).toBe('succeeded');
    } finally {
      await local.close();
    }
  });

  // On a stack of its own allowing one request a second: 40 requests at once would have to be spread over
  // 40 seconds to pass, so some are limited however slow a shared machine is.
  it('When a merchant sends more requests a second than allowed, Then rate_limited with Retry-After', async () => {
    const slow = await startStack({ onlineConfig: { rate_limit_per_s: 1 } });
    try {
      const replies = await Promise.all(Array.from({ length: 40 }, () => slow.request('GET', '/v1/payments/none')));
      const limited = replies.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(replies.filter((r) => r.status === 404).length).toBeGreaterThan(0);
      expect(limited[0]?.body).toMatchObject({ error: { code: 'rate_limited' } });
      expect(limited[0]?.headers.get('retry-after')).toBe('1');
      await waitFor(async () => ((await slow.request('GET', '/v1/payments/none')).status === 404 ? true : undefined));
    } finally {
      await slow.close();
    }
  });
});
