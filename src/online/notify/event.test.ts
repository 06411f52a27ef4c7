import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_SCHEDULE_S, defaultNotifyConfig } from './config.js';
import { eventId, isHttpUrl, nextStep, notificationBody, parseEventId, resolveNotifyUrl, signatureHeader, sinkLine, type OutboxRow } from './event.js';

const row = (o: Partial<OutboxRow> = {}): OutboxRow => ({
  seq: 42,
  topic: 'payment.succeeded',
  aggregateId: 'pay_1',
  merchantId: 'M100001',
  payloadJson: JSON.stringify({ id: 'pay_1', object: 'payment', amount: 1050, notify_url: null }),
  createdAtMs: Date.UTC(2026, 10, 26, 2, 0, 0, 750),
  ...o,
});

const book = (payments: Record<string, string | null> = {}, merchants: Record<string, string | null> = {}) => ({
  paymentUrls: new Map(Object.entries(payments)),
  merchantUrls: new Map(Object.entries(merchants)),
});

describe('Given an outbox row', () => {
  it('When its event id is made, Then it is stable, sortable and parses back to the seq', () => {
    expect(eventId(42)).toBe('evt_0000000000000042');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (a, b) => {
        expect(parseEventId(eventId(a))).toBe(a);
        expect(eventId(a) < eventId(b)).toBe(a < b);
      }),
    );
    expect(parseEventId('42')).toBe(42);
    for (const bad of ['', 'evt_', 'evt_abc', 'evt_0', '-1', 'evt_12345678901234567', 'x42']) expect(parseEventId(bad)).toBeUndefined();
  });

  it('When the notification body is built, Then it is { event_id, type, created (unix s), data.object } with the payload as written', () => {
    const body = JSON.parse(notificationBody(row())) as Record<string, unknown>;
    expect(body).toEqual({
      event_id: 'evt_0000000000000042',
      type: 'payment.succeeded',
      created: Math.floor(Date.UTC(2026, 10, 26, 2, 0, 0) / 1000),
      data: { object: { id: 'pay_1', object: 'payment', amount: 1050, notify_url: null } },
    });
  });

  it('When its sink line is built, Then it is one JSON line with the internal fields, and an oversize payload is replaced by a note', () => {
    const line = sinkLine(row(), 1 << 20);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      event_id: 'evt_0000000000000042',
      type: 'payment.succeeded',
      aggregate_id: 'pay_1',
      merchant_id: 'M100001',
      created_at: '2026-11-26T02:00:00.750Z',
      data: { id: 'pay_1', object: 'payment', amount: 1050, notify_url: null },
    });
    const big = sinkLine(row({ payloadJson: JSON.stringify({ text: 'x'.repeat(500) }) }), 300);
    expect(JSON.parse(big)).toMatchObject({ event_id: 'evt_0000000000000042', data: { omitted: 'too_large' } });
  });
});

describe('Given the notify URL rule', () => {
  it('When the payment has its own notify_url, Then that is used', () => {
    const r = row({ payloadJson: JSON.stringify({ id: 'pay_1', notify_url: 'https://shop.example/own' }) });
    expect(resolveNotifyUrl(r, book({}, { M100001: 'https://shop.example/merchant' }))).toBe('https://shop.example/own');
  });
  it("When a refund's payment has a notify_url, Then the refund goes there; else to the merchant's", () => {
    const refund = row({ topic: 'refund.succeeded', aggregateId: 'ref_1', payloadJson: JSON.stringify({ id: 'ref_1', payment_id: 'pay_1' }) });
    expect(resolveNotifyUrl(refund, book({ pay_1: 'https://shop.example/own' }, { M100001: 'https://shop.example/m' }))).toBe('https://shop.example/own');
    expect(resolveNotifyUrl(refund, book({ pay_1: null }, { M100001: 'https://shop.example/m' }))).toBe('https://shop.example/m');
  });
  it("When a capture, payout or payment has no URL of its own, Then the merchant's is used, and without one there is no notification", () => {
    for (const topic of ['preauth.captured', 'payout.succeeded', 'payment.failed']) {
      const r = row({ topic, payloadJson: JSON.stringify({ id: 'x' }) });
      expect(resolveNotifyUrl(r, book({}, { M100001: 'https://shop.example/m' }))).toBe('https://shop.example/m');
      expect(resolveNotifyUrl(r, book({}, { M100001: null }))).toBeUndefined();
    }
  });
  it('When a row has no merchant or an internal topic, Then only the sink gets it', () => {
    expect(resolveNotifyUrl(row({ merchantId: null }), book({}, { M100001: 'https://shop.example/m' }))).toBeUndefined();
    expect(resolveNotifyUrl(row({ topic: 'risk.decision' }), book({}, { M100001: 'https://shop.example/m' }))).toBeUndefined();
  });
  it('When a URL is checked before sending, Then only http(s) without credentials passes', () => {
    expect(isHttpUrl('https://shop.example/n')).toBe(true);
    expect(isHttpUrl('http://127.0.0.1:8080/n?x=1')).toBe(true);
    for (const bad of ['ftp://shop.example/', 'javascript:alert(1)', 'file:///etc/passwd', 'https://u:p@shop.example/', 'not a url']) expect(isHttpUrl(bad)).toBe(false);
  });
});

describe('Given the signature', () => {
  it('When a body is signed, Then the header is t=<unix s>,v1=<hex HMAC-SHA256(secret, t + "." + body)>', () => {
    const body = notificationBody(row());
    const header = signatureHeader('sk_test', 1_790_000_000, body);
    const expected = createHmac('sha256', 'sk_test').update(`1790000000.${body}`).digest('hex');
    expect(header).toBe(`t=1790000000,v1=${expected}`);
    expect(header).toMatch(/^t=[0-9]+,v1=[0-9a-f]{64}$/);
  });
});

describe('Given the retry schedule', () => {
  const schedule = defaultNotifyConfig().retry_schedule_s;
  const failure = { ok: false, error: 'endpoint_http_error', httpStatus: 500, detail: null } as const;

  it('When the default config is read, Then it is the seed schedule 15s 15s 30s 3m 10m 20m 30m 30m 30m 60m 3h 3h 3h 6h 6h', () => {
    expect(schedule).toEqual([15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10_800, 10_800, 10_800, 21_600, 21_600]);
    expect(schedule).toEqual(DEFAULT_RETRY_SCHEDULE_S);
  });

  it('When every attempt fails at once, Then attempts come at the running sums of the schedule and the one after the last marks it failed', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 86_400 }), { maxLength: 20 }), fc.integer({ min: 0, max: 2 ** 40 }), (sched, startMs) => {
        let at = startMs;
        let rf = 0;
        const times = [at];
        for (;;) {
          const step = nextStep(failure, rf, sched, at);
          if (step.state === 'failed') {
            expect(step.roundFailures).toBe(sched.length + 1);
            break;
          }
          expect(step.state).toBe('pending');
          if (step.state !== 'pending') return;
          at = step.nextAttemptAtMs;
          rf = step.roundFailures;
          times.push(at);
        }
        expect(times).toHaveLength(sched.length + 1);
        let sum = startMs;
        sched.forEach((s, i) => {
          sum += s * 1000;
          expect(times[i + 1]).toBe(sum);
        });
      }),
    );
  });

  it('When an attempt succeeds, is interrupted, or cannot ever work, Then it is done, due again at once without counting, or failed at once', () => {
    expect(nextStep({ ok: true, httpStatus: 204 }, 3, schedule, 1000)).toEqual({ state: 'succeeded' });
    expect(nextStep({ ok: false, error: 'dispatcher_stopped', httpStatus: null, detail: null }, 3, schedule, 1000)).toEqual({ state: 'pending', nextAttemptAtMs: 1000, roundFailures: 3 });
    expect(nextStep({ ok: false, error: 'notify_url_invalid', httpStatus: null, detail: null }, 0, schedule, 1000)).toEqual({ state: 'failed', roundFailures: 1 });
    expect(nextStep({ ok: false, error: 'notify_body_too_large', httpStatus: null, detail: null }, 0, schedule, 1000)).toEqual({ state: 'failed', roundFailures: 1 });
  });
});
