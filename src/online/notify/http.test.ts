// The notification sender never calls into our own network unless told to: loopback, private,
// link-local (cloud metadata) and other non-public addresses are refused — by the URL's literal address,
// and by what a name resolves to at connect time — with notify_url_forbidden, a permanent failure.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextStep } from './event.js';
import { createHttpSender, isPublicAddress } from './http.js';

let server: http.Server;
let port: number;
let hits = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits++;
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

const note = (url: string) => ({ url, headers: { 'content-type': 'application/json' }, body: '{}' });
const send = (url: string, allowPrivateNetworks = false) => {
  const sender = createHttpSender({ allowPrivateNetworks });
  return sender.send(note(url), new AbortController().signal).finally(() => sender.close());
};

describe('Given merchant notify URLs', () => {
  it('When addresses are classified, Then only public ones pass', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fd12::1', 'fe80::1', '::ffff:127.0.0.1', '224.0.0.1', 'not an ip']) {
      expect([a, isPublicAddress(a)]).toEqual([a, false]);
    }
    for (const a of ['8.8.8.8', '203.0.114.1', '2606:4700:4700::1111', '::ffff:1.1.1.1']) expect([a, isPublicAddress(a)]).toEqual([a, true]);
  });

  it('When the URL names a loopback, private, link-local or IPv6 loopback address or localhost, Then notify_url_forbidden and nothing is sent', async () => {
    hits = 0;
    for (const url of [`http://127.0.0.1:${port}/n`, `http://localhost:${port}/n`, `http://[::1]:${port}/n`, 'http://169.254.169.254/latest/meta-data/', 'https://10.0.0.7/hook']) {
      const r = await send(url);
      expect([url, r.ok ? 'ok' : r.error]).toEqual([url, 'notify_url_forbidden']);
    }
    expect(hits).toBe(0);
  });

  it(`When a name resolves to an inside address at connect time (${hostname()} here), Then it is refused too`, async () => {
    hits = 0;
    const r = await send(`http://${hostname()}:${port}/n`);
    expect(r).toMatchObject({ ok: false, error: 'notify_url_forbidden' });
    expect(hits).toBe(0);
  });

  it('When the failure is classified, Then it is permanent (no retries): the delivery fails at once', () => {
    expect(nextStep({ ok: false, error: 'notify_url_forbidden', httpStatus: null, detail: null }, 0, [15, 15], 0).state).toBe('failed');
  });

  it('When private networks are allowed (tests, closed networks), Then loopback is delivered to', async () => {
    hits = 0;
    expect(await send(`http://127.0.0.1:${port}/n`, true)).toEqual({ ok: true, httpStatus: 204 });
    expect(hits).toBe(1);
  });
});
