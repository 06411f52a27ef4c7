// Alerts: a JSON log line always; a webhook POST to a real loopback server, signed when a secret is set;
// a webhook that fails or cannot be reached is reported, never thrown.

import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from './chain.js';
import { alertBody, fanOut, logAlerts, webhookAlerts } from './alert.js';

const ALERT: Alert = { businessDate: '2026-03-09', step: 'clear', exitCode: 1, message: 'config_invalid: <bad>', blocks: ['statement'], atMs: Date.parse('2026-03-10T00:31:00Z') };

let server: http.Server;
let url: string;
let status = 200;
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(status).end('thanks');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/settle`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

describe('Given a failed night step', () => {
  it('When alerts go to the log, Then one JSON line carries the date, step, exit code, message and blocked steps', async () => {
    const lines: string[] = [];
    await logAlerts((l) => lines.push(l)).send(ALERT);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toEqual({ level: 'error', event: 'alert', business_date: '2026-03-09', step: 'clear', exit_code: 1, message: 'config_invalid: <bad>', blocks: ['statement'] });
  });

  it('When a webhook with a secret is configured, Then it receives the body signed t=…,v1=HMAC(secret, t.body)', async () => {
    received.length = 0;
    const errors: string[] = [];
    await webhookAlerts({ url, timeoutMs: 2000, secret: 's3cret', onError: (m) => errors.push(m), clock: () => ALERT.atMs }).send(ALERT);
    expect(errors).toEqual([]);
    const got = received[0];
    expect(got?.body).toBe(alertBody(ALERT));
    expect(JSON.parse(got?.body ?? '{}')).toMatchObject({ type: 'settle.night_step_failed', business_date: '2026-03-09', step: 'clear', blocks: ['statement'], at: '2026-03-10T00:31:00.000Z' });
    const t = Math.floor(ALERT.atMs / 1000);
    expect(got?.headers['settle-signature']).toBe(`t=${t},v1=${createHmac('sha256', 's3cret').update(`${t}.${alertBody(ALERT)}`).digest('hex')}`);
  });

  it('When no secret is set, Then the webhook gets the body unsigned', async () => {
    received.length = 0;
    await webhookAlerts({ url, timeoutMs: 2000, onError: () => undefined }).send(ALERT);
    expect(received[0]?.headers['settle-signature']).toBeUndefined();
  });

  it('When the webhook answers 500, or nothing listens, Then the problem is reported and nothing throws', async () => {
    status = 500;
    const errors: string[] = [];
    const both = fanOut([webhookAlerts({ url, timeoutMs: 2000, onError: (m) => errors.push(m) }), webhookAlerts({ url: 'http://127.0.0.1:9/none', timeoutMs: 2000, onError: (m) => errors.push(m) })]);
    await expect(both.send(ALERT)).resolves.toBeUndefined();
    status = 200;
    expect(errors[0]).toBe('alert webhook answered 500 for clear of 2026-03-09');
    expect(errors[1]).toMatch(/^alert webhook unreachable for clear of 2026-03-09/);
  });
});
