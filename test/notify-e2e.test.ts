// Merchant notifications end to end: the daemon takes a payment with a notify_url, its dispatcher POSTs
// the events, and a receiver that verifies them with the code printed in README ("Notifications") — read
// from the README itself — accepts every one. Also: notify_url validation at creation, the sink file,
// and the metrics.

import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultNotifyConfig } from '../src/online/notify/config.js';
import { startStack, waitFor, type Stack } from './support/online.js';

type Verify = (rawBody: Buffer | string, header: string | undefined, secret: string, toleranceS?: number, nowS?: number) => boolean;

/** The first ```js block of README's Notifications section: the verification function merchants copy. */
async function readmeVerifier(dir: string): Promise<Verify> {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Notifications\n'));
  const block = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block?.includes('export function verifySettleSignature')) throw new Error('README has no verifySettleSignature snippet under "Notifications"');
  const file = join(dir, 'readme-verify.mjs');
  writeFileSync(file, block);
  const mod = (await import(pathToFileURL(file).href)) as { verifySettleSignature: Verify };
  return mod.verifySettleSignature;
}

interface Got {
  readonly headers: http.IncomingHttpHeaders;
  readonly raw: Buffer;
  readonly verified: boolean;
}

let stack: Stack;
let receiver: http.Server;
let receiverUrl: string;
const got: Got[] = [];

beforeAll(async () => {
  stack = await startStack({ instant: true, onlineConfig: { notify: defaultNotifyConfig({ poll_interval_ms: 20, allow_private_networks: true }) } });
  const verify = await readmeVerifier(stack.dir);
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const header = req.headers['settle-signature'];
      const verified = verify(raw, typeof header === 'string' ? header : undefined, stack.merchant.keySecret);
      got.push({ headers: req.headers, raw, verified });
      res.writeHead(verified ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/settle/notify`;
});
afterAll(async () => {
  await stack.close();
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

describe('Given a payment created with a notify_url', () => {
  it('When it succeeds, Then the merchant receives its events signed so that the README code verifies them, with a stable event id', async () => {
    const created = await stack.request('POST', '/v1/payments', { merchant_order_no: 'N-1', product: 'foreign_card', amount: 2_500, currency: 'CNY', notify_url: receiverUrl });
    expect(created.status).toBe(201);
    const paymentId = String(created.body['id']);
    const success = await waitFor(async () => got.find((g) => (JSON.parse(g.raw.toString()) as { type: string }).type === 'payment.succeeded'));
    expect(success.verified).toBe(true);
    expect(success.headers['content-type']).toBe('application/json');
    const body = JSON.parse(success.raw.toString()) as { event_id: string; type: string; created: number; data: { object: Record<string, unknown> } };
    expect(success.headers['settle-event-id']).toBe(body.event_id);
    expect(body.event_id).toMatch(/^evt_[0-9]{16}$/);
    expect(body.data.object).toMatchObject({ id: paymentId, object: 'payment', status: 'succeeded', amount: 2_500, currency: 'CNY', notify_url: receiverUrl });
    expect(Math.abs(body.created - Date.now() / 1000)).toBeLessThan(600);
    expect(got.every((g) => g.verified)).toBe(true);

    // The README code refuses what is not ours.
    const verify = await readmeVerifier(stack.dir);
    const header = String(success.headers['settle-signature']);
    expect(verify(success.raw, header, 'sk_wrong')).toBe(false);
    expect(verify(Buffer.concat([success.raw, Buffer.from(' ')]), header, stack.merchant.keySecret)).toBe(false);
    expect(verify(success.raw, header, stack.merchant.keySecret, 300, Math.floor(Date.now() / 1000) + 3_600)).toBe(false);

    // The same event went to the internal sink, in the day's NDJSON file beside the database.
    const day = new Date(body.created * 1000).toISOString().slice(0, 10);
    const lines = await waitFor(async () => {
      try {
        const text = readFileSync(join(stack.dir, 'settle.db.events', `events-${day}.ndjson`), 'utf8');
        const parsed = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
        return parsed.some((l) => l['event_id'] === body.event_id) ? parsed : undefined;
      } catch {
        return undefined;
      }
    });
    expect(lines.find((l) => l['event_id'] === body.event_id)).toMatchObject({ type: 'payment.succeeded', aggregate_id: paymentId, merchant_id: stack.merchant.merchantId });

    const metrics = await fetch(`${stack.daemon.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/settle_notifications_total\{outcome="succeeded"\} [1-9]/);
  });
});

describe('Given a notify_url that must be refused at creation', () => {
  it.each([
    ['ftp://shop.example/notify'],
    ['javascript:alert(1)'],
    ['file:///etc/passwd'],
    ['https://user:secret@shop.example/notify'],
    ['https://:secret@shop.example/notify'],
    [`https://shop.example/${'a'.repeat(2_100)}`],
    ['not a url'],
  ])('When the payment names %s, Then it is field_invalid and no order is made', async (url) => {
    const no = `BAD-${Math.random().toString(36).slice(2, 10)}`;
    const r = await stack.request('POST', '/v1/payments', { merchant_order_no: no, product: 'foreign_card', amount: 100, currency: 'CNY', notify_url: url });
    expect(r.status).toBe(400);
    expect((r.body['error'] as { code: string }).code).toBe('field_invalid');
    expect((await stack.request('GET', `/v1/payments?merchant_order_no=${no}`)).status).toBe(404);
  });

  it('When the notify_url is http(s) and at the length limit, Then it is accepted', async () => {
    // Loopback port 9 refuses at once: the dispatcher's attempt fails fast and touches no network.
    const url = `http://127.0.0.1:9/${'a'.repeat(2_048 - 'http://127.0.0.1:9/'.length)}`;
    const r = await stack.request('POST', '/v1/payments', { merchant_order_no: 'N-LONG', product: 'foreign_card', amount: 100, currency: 'CNY', notify_url: url });
    expect(r.status).toBe(201);
  });
});
