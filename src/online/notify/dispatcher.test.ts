import { createHmac, generateKeyPairSync, timingSafeEqual } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../ledger/sqlite/database.js';
import { MerchantStore } from '../merchants/store.js';
import { SqliteNotifyStore } from '../sqlite/notify-store.js';
import { defaultNotifyConfig } from './config.js';
import { Dispatcher } from './dispatcher.js';
import { NotifyError } from './errors.js';
import { eventId } from './event.js';
import { createHttpSender } from './http.js';
import { FileSink } from './sink.js';
import { FakeScheduler, makeFixture, startReceiver, T0_MS, until, type Fixture, type Receiver } from './test-support.js';
import { createNotifications } from './wiring.js';

let fx: Fixture | undefined;
const receivers: Receiver[] = [];
afterEach(async () => {
  await fx?.close();
  fx = undefined;
  for (const r of receivers.splice(0)) await r.close();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

/** What a merchant does with Settle-Signature (as the README tells it). */
function verifies(secret: string, header: string | string[] | undefined, rawBody: string): boolean {
  const m = /^t=([0-9]+),v1=([0-9a-f]{64})$/.exec(String(header));
  if (!m?.[1] || !m[2]) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${rawBody}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2], 'hex'));
}

const payment = (id: string, extra: Record<string, unknown> = {}) => ({ id, object: 'payment', status: 'succeeded', amount: 1050, currency: 'CNY', notify_url: null, ...extra });

describe('Given a merchant endpoint that always answers 500, on a fake clock', () => {
  it('When the dispatcher runs, Then it attempts at 0, 15s, 30s, 1m, 4m, 14m, 34m, 1h04, … through the whole schedule and then marks the notification failed', async () => {
    const clock = new FakeScheduler(T0_MS);
    fx = await makeFixture(() => clock.now());
    const r = await receiver({ status: 500, body: 'boom' });
    const m = await fx.addMerchant(`${r.url}/notify`);
    await fx.publish('payment.succeeded', 'pay_1', m.merchantId, payment('pay_1'));
    const d = fx.dispatcher({ scheduler: clock });
    d.start();
    const schedule = defaultNotifyConfig().retry_schedule_s;
    const store = fx.store;
    for (let attempt = 1; attempt <= schedule.length + 1; attempt++) {
      const shown = await until(async () => {
        const s = await store.delivery(1);
        return s && s.attempts.length === attempt && d.idle ? s : undefined;
      });
      const delay = schedule[attempt - 1];
      if (delay === undefined) {
        expect(shown.delivery.state).toBe('failed');
        expect(shown.delivery.nextAttemptAtMs).toBeNull();
        break;
      }
      expect(shown.delivery.state).toBe('pending');
      expect(shown.delivery.nextAttemptAtMs).toBe(clock.now() + delay * 1000);
      clock.advanceTo(shown.delivery.nextAttemptAtMs ?? 0);
    }
    const final = await store.delivery(1);
    const expectedStarts = [T0_MS];
    for (const s of schedule) expectedStarts.push((expectedStarts[expectedStarts.length - 1] ?? 0) + s * 1000);
    expect(final?.attempts.map((a) => a.startedAtMs)).toEqual(expectedStarts);
    expect(final?.attempts.every((a) => a.httpStatus === 500 && a.error === 'endpoint_http_error' && a.detail === 'boom')).toBe(true);
    expect(r.received).toHaveLength(16);
    // Every retry carries the same event id and body, each freshly signed with its own timestamp.
    expect(new Set(r.received.map((x) => x.headers['settle-event-id']))).toEqual(new Set([eventId(1)]));
    expect(new Set(r.received.map((x) => x.rawBody)).size).toBe(1);
    expect(r.received.every((x) => verifies(m.keySecret, x.headers['settle-signature'], x.rawBody))).toBe(true);
    // Nothing more happens, however long we wait.
    clock.advance(30 * 24 * 3600 * 1000);
    await until(() => (d.idle ? true : undefined));
    expect(r.received).toHaveLength(16);
    expect(d.stats).toMatchObject({ attempts: 16, retryScheduled: 15, failed: 1, succeeded: 0 });
  });
});

describe('Given merchant endpoints that fail in different ways (schedule 15s, 30s; timeout 10 s)', () => {
  const config = { retry_schedule_s: [15, 30], timeout_ms: 10_000 };
  it.each([
    ['hanging', 'hang' as const, 'endpoint_timeout', null],
    ['answering 302 (never followed)', { status: 302, headers: { location: 'http://127.0.0.1:9/elsewhere' } }, 'endpoint_redirected', 302],
    ['answering 404', { status: 404, body: 'no such route' }, 'endpoint_http_error', 404],
    ['answering 503', { status: 503 }, 'endpoint_http_error', 503],
    ['answering after the timeout', { status: 200, delayMs: 3_000 }, 'endpoint_timeout', null],
  ])('When the endpoint is %s, Then each attempt fails with its code, retries follow the schedule and the third failure marks it failed', async (_name, behaviour, code, status) => {
    const clock = new FakeScheduler(T0_MS);
    fx = await makeFixture(() => clock.now());
    const r = await receiver(behaviour);
    const m = await fx.addMerchant(r.url);
    await fx.publish('refund.succeeded', 'ref_1', m.merchantId, { id: 'ref_1', object: 'refund', payment_id: 'pay_x' });
    const d = fx.dispatcher({ scheduler: clock, config });
    d.start();
    const store = fx.store;
    const starts: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      await until(() => (r.received.length === attempt ? true : undefined));
      starts.push(clock.now());
      // A hanging or slow endpoint is cut off when the fake clock passes the timeout.
      if (code === 'endpoint_timeout') clock.advance(10_000);
      const shown = await until(async () => {
        const s = await store.delivery(1);
        return s && s.attempts.length === attempt && d.idle ? s : undefined;
      });
      expect(shown.attempts[attempt - 1]).toMatchObject({ error: code, httpStatus: status });
      if (attempt < 3) clock.advanceTo(shown.delivery.nextAttemptAtMs ?? 0);
      else expect(shown.delivery.state).toBe('failed');
    }
    const timeoutMs = code === 'endpoint_timeout' ? 10_000 : 0;
    expect(starts).toEqual([T0_MS, T0_MS + timeoutMs + 15_000, T0_MS + 2 * timeoutMs + 45_000]);
  });

  it('When the endpoint answers slowly but within the timeout, Then the notification succeeds at the first attempt', async () => {
    const clock = new FakeScheduler(T0_MS);
    fx = await makeFixture(() => clock.now());
    const r = await receiver({ status: 204, delayMs: 150 });
    const m = await fx.addMerchant(r.url);
    await fx.publish('payment.succeeded', 'pay_1', m.merchantId, payment('pay_1'));
    fx.dispatcher({ scheduler: clock }).start();
    const store = fx.store;
    const shown = await until(async () => {
      const s = await store.delivery(1);
      return s?.delivery.state === 'succeeded' ? s : undefined;
    });
    expect(shown.attempts).toEqual([{ attemptNo: 1, startedAtMs: T0_MS, endedAtMs: T0_MS, httpStatus: 204, error: null, detail: null }]);
    expect(shown.delivery.deliveredAtMs).toBe(T0_MS);
  });

  it('When an endpoint answers 500 with an endless body, Then only the first bytes are read and a snippet is kept', async () => {
    const clock = new FakeScheduler(T0_MS);
    fx = await makeFixture(() => clock.now());
    const r = await receiver({ status: 500, body: `${'e'.repeat(1_000_000)}` });
    const m = await fx.addMerchant(r.url);
    await fx.publish('payment.succeeded', 'pay_1', m.merchantId, payment('pay_1'));
    fx.dispatcher({ scheduler: clock }).start();
    const store = fx.store;
    const shown = await until(async () => {
      const s = await store.delivery(1);
      return s && s.attempts.length === 1 ? s : undefined;
    });
    expect(shown.attempts[0]?.error).toBe('endpoint_http_error');
    expect(shown.attempts[0]?.detail?.length).toBeLessThanOrEqual(201);
  });
});

describe('Given 1,000 merchants and one whose endpoint hangs', () => {
  it('When the dispatcher runs, Then every other merchant is notified while the slow one holds only its own 4 slots', async () => {
    const clock = new FakeScheduler(T0_MS); // the clock never moves: the hanging requests never time out
    fx = await makeFixture(() => clock.now());
    const r = await receiver((req) => (req.path.startsWith('/slow') ? 'hang' : { status: 200 }));
    const slow = await fx.addMerchant(`${r.url}/slow`);
    const secrets = new Map<string, string>([[slow.merchantId, slow.keySecret]]);
    const others: string[] = [];
    for (let i = 0; i < 999; i++) {
      const m = await fx.addMerchant(`${r.url}/m/${i}`);
      others.push(m.merchantId);
      secrets.set(m.merchantId, m.keySecret);
    }
    // The slow merchant's events come first, so a FIFO dispatcher would be stuck behind them.
    await fx.online.unit((tx) => {
      for (let i = 0; i < 10; i++) tx.publish({ topic: 'payment.succeeded', aggregateId: `pay_slow_${i}`, merchantId: slow.merchantId, payload: payment(`pay_slow_${i}`) });
      for (const [i, merchantId] of others.entries()) tx.publish({ topic: 'payment.succeeded', aggregateId: `pay_${i}`, merchantId, payload: payment(`pay_${i}`) });
    });
    const d = fx.dispatcher({ scheduler: clock, config: { in_flight_max: 64, in_flight_per_merchant_max: 4 } });
    d.start();
    const store = fx.store;
    await until(async () => ((await store.listDeliveries({ state: 'succeeded', limit: 1000 })).length === 999 ? true : undefined), 150_000); // no timing claim: a loaded machine may take long
    const slowOnes = await store.listDeliveries({ merchantId: slow.merchantId, limit: 100 });
    expect(slowOnes).toHaveLength(10);
    expect(slowOnes.every((s) => s.state === 'pending')).toBe(true);
    expect(r.received.filter((x) => x.path.startsWith('/slow'))).toHaveLength(4);
    expect(d.inFlightCount).toBe(4);
    // Each of the others got its own event, once, signed with its own key.
    const others200 = r.received.filter((x) => x.path.startsWith('/m/'));
    expect(others200).toHaveLength(999);
    for (const x of others200) {
      const body = JSON.parse(x.rawBody) as { data: { object: { id: string } } };
      const merchantId = others[Number(body.data.object.id.slice(4))] ?? '';
      expect(x.path).toBe(`/m/${body.data.object.id.slice(4)}`);
      expect(verifies(secrets.get(merchantId) ?? '', x.headers['settle-signature'], x.rawBody)).toBe(true);
    }
    // Stopping interrupts the four in flight: they are due again at once and nothing counts as a failure.
    await d.stop(0);
    const after = await store.listDeliveries({ merchantId: slow.merchantId, limit: 100 });
    expect(after.every((s) => s.state === 'pending' && s.claimedUntilMs === null && s.nextAttemptAtMs === T0_MS)).toBe(true);
    const interrupted = after.filter((s) => s.lastError === 'dispatcher_stopped');
    expect(interrupted).toHaveLength(4);
    expect(interrupted.every((s) => s.roundFailures === 0)).toBe(true);
  }, 180_000);
});

describe('Given the outbox', () => {
  it('When rows are moved, Then every row goes to the sink, is marked delivered, and only merchant rows with a URL become notifications', async () => {
    const clock = new FakeScheduler(T0_MS);
    fx = await makeFixture(() => clock.now());
    const r = await receiver({ status: 200 });
    const withUrl = await fx.addMerchant(`${r.url}/merchant`);
    const withoutUrl = await fx.addMerchant();
    await fx.publish('payment.created', 'pay_1', withUrl.merchantId, payment('pay_1', { status: 'processing' }));
    await fx.publish('payment.succeeded', 'pay_2', withoutUrl.merchantId, payment('pay_2', { notify_url: `${r.url}/own` }));
    await fx.publish('payment.succeeded', 'pay_3', withoutUrl.merchantId, payment('pay_3'));
    await fx.publish('refund.succeeded', 'ref_1', withoutUrl.merchantId, { id: 'ref_1', object: 'refund', payment_id: 'pay_3' });
    await fx.publish('risk.decision', 'pay_1', withUrl.merchantId, { decision: 'allow' });
    await fx.publish('ledger.note', 'x', null, { note: 'no merchant' });
    const sinkDir = join(fx.dir, 'events');
    const d = fx.dispatcher({ scheduler: clock, sink: new FileSink(sinkDir) });
    d.start();
    const store = fx.store;
    await until(async () => ((await store.listDeliveries({ state: 'succeeded', limit: 10 })).length === 2 && d.idle ? true : undefined));
    const all = await store.listDeliveries({ limit: 10 });
    expect(all.map((x) => [eventId(x.eventSeq), x.url]).sort()).toEqual([
      [eventId(1), `${r.url}/merchant`],
      [eventId(2), `${r.url}/own`],
    ]);
    expect(r.received.map((x) => x.path).sort()).toEqual(['/merchant', '/own']);
    const pending = fx.db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE delivered_at_ms IS NULL').get() as { n: bigint };
    expect(pending.n).toBe(0n);
    expect(readdirSync(sinkDir)).toEqual(['events-2026-11-26.ndjson']);
    const lines = readFileSync(join(sinkDir, 'events-2026-11-26.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l['event_id'], l['type'], l['merchant_id']])).toEqual([
      [eventId(1), 'payment.created', withUrl.merchantId],
      [eventId(2), 'payment.succeeded', withoutUrl.merchantId],
      [eventId(3), 'payment.succeeded', withoutUrl.merchantId],
      [eventId(4), 'refund.succeeded', withoutUrl.merchantId],
      [eventId(5), 'risk.decision', withUrl.merchantId],
      [eventId(6), 'ledger.note', null],
    ]);
    expect(d.stats).toMatchObject({ ingested: 6, notificationsMade: 2, succeeded: 2 });
  });

  it('When the sink fails, Then the outbox waits for it (nothing is marked delivered) while notifications already made go on', async () => {
    fx = await makeFixture();
    const r = await receiver({ status: 200 });
    const m = await fx.addMerchant(r.url);
    await fx.store.commitIngest([], [{ eventSeq: 1_000, merchantId: m.merchantId, topic: 'payment.succeeded', aggregateId: 'pay_0', url: r.url, body: '{}' }], Date.now());
    await fx.publish('payment.succeeded', 'pay_1', m.merchantId, payment('pay_1'));
    const logged: string[] = [];
    const broken = { write: () => Promise.reject(new Error('disk full')), close: async () => undefined };
    const d = fx.dispatcher({ sink: broken, config: { poll_interval_ms: 20 }, deps: { log: (_level, message) => logged.push(message) } });
    d.start();
    const store = fx.store;
    await until(async () => ((await store.delivery(1_000))?.delivery.state === 'succeeded' ? true : undefined));
    await until(() => (logged.filter((l) => l.startsWith('moving the outbox failed')).length >= 2 ? true : undefined));
    expect((fx.db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE delivered_at_ms IS NULL').get() as { n: bigint }).n).toBe(1n);
    expect(await store.delivery(1)).toBeUndefined();
  });

  it('When a merchant is limited to one in flight, Then its notifications are first attempted in the order the events were made', async () => {
    fx = await makeFixture();
    const r = await receiver({ status: 200, delayMs: 2 });
    const m = await fx.addMerchant(r.url);
    for (let i = 1; i <= 30; i++) await fx.publish('payment.succeeded', `pay_${i}`, m.merchantId, payment(`pay_${i}`));
    const d = fx.dispatcher({ config: { in_flight_per_merchant_max: 1, poll_interval_ms: 20 } });
    d.start();
    await until(() => (r.received.length === 30 ? true : undefined));
    expect(r.received.map((x) => x.headers['settle-event-id'])).toEqual(Array.from({ length: 30 }, (_, i) => eventId(i + 1)));
  });
});

describe('Given two dispatchers on one database (two connections, as two processes)', () => {
  it('When both run, Then every notification is sent exactly once', async () => {
    fx = await makeFixture();
    const r = await receiver({ status: 200, delayMs: 1 });
    const merchantIds: string[] = [];
    for (let i = 0; i < 20; i++) merchantIds.push((await fx.addMerchant(`${r.url}/m${i}`)).merchantId);
    for (let i = 0; i < 300; i++) await fx.publish('payment.succeeded', `pay_${i}`, merchantIds[i % 20] ?? null, payment(`pay_${i}`));
    const db2 = openSqlite(fx.dbPath);
    const store2 = new SqliteNotifyStore(db2);
    const merchants2 = MerchantStore.open(db2, { env: fx.env, dbPath: fx.dbPath });
    const sender2 = createHttpSender({ allowPrivateNetworks: true });
    const second = new Dispatcher({
      store: store2,
      sink: { write: async () => undefined, close: async () => undefined },
      send: sender2.send,
      secretOf: (id) => merchants2.notificationSecretSync(id),
      config: defaultNotifyConfig({ poll_interval_ms: 20, in_flight_max: 8 }),
    });
    const first = fx.dispatcher({ config: { poll_interval_ms: 20, in_flight_max: 8 } });
    try {
      first.start();
      second.start();
      const store = fx.store;
      await until(async () => ((await store.listDeliveries({ state: 'succeeded', limit: 1000 })).length === 300 ? true : undefined), 20_000);
      const ids = r.received.map((x) => x.headers['settle-event-id']);
      expect(ids).toHaveLength(300);
      expect(new Set(ids).size).toBe(300);
      expect(first.stats.attempts + second.stats.attempts).toBe(300);
      expect(first.stats.ingested + second.stats.ingested).toBe(300);
    } finally {
      await second.stop(0);
      sender2.close();
      await store2.drain();
      db2.close();
    }
  });
});

describe('Given a dispatcher that died with a delivery claimed', () => {
  it('When another one looks before the lease ends, Then it waits; after, Then it sends it again', async () => {
    const clock = new FakeScheduler(T0_MS);
    fx = await makeFixture(() => clock.now());
    const r = await receiver({ status: 200 });
    const m = await fx.addMerchant(r.url);
    await fx.publish('payment.succeeded', 'pay_1', m.merchantId, payment('pay_1'));
    const config = defaultNotifyConfig({ timeout_ms: 1_000, lease_margin_ms: 500 });
    // The dead one: it moved the outbox and claimed the delivery, then vanished before recording anything.
    const rows = await fx.store.takeOutbox('dead', T0_MS, 30_000, 10);
    await fx.store.commitIngest(rows?.map((x) => x.seq) ?? [], [{ eventSeq: 1, merchantId: m.merchantId, topic: 'payment.succeeded', aggregateId: 'pay_1', url: r.url, body: '{}' }], T0_MS);
    const claimed = await fx.store.claimDue({ nowMs: T0_MS, leaseUntilMs: T0_MS + 1_500, tokenPrefix: 'dead:1', limit: 10, perMerchantMax: 4 });
    expect(claimed).toHaveLength(1);
    const d = fx.dispatcher({ scheduler: clock, config });
    d.start();
    clock.advance(1_499);
    await until(() => (d.idle ? true : undefined));
    expect(r.received).toHaveLength(0);
    clock.advance(1);
    const store = fx.store;
    const shown = await until(async () => {
      const s = await store.delivery(1);
      return s?.delivery.state === 'succeeded' ? s : undefined;
    });
    // The dead attempt left no record but was counted; the re-send is attempt 2.
    expect(shown.delivery.attempts).toBe(2);
    expect(shown.attempts.map((a) => a.attemptNo)).toEqual([2]);
    expect(r.received).toHaveLength(1);
  });
});

describe('Given a delivery claimed ahead that waits too long for a free slot', () => {
  it('When a slot frees after half the lease margin, Then the stale claim is given back and the delivery is claimed afresh, attempted once', async () => {
    const clock = new FakeScheduler(T0_MS);
    fx = await makeFixture(() => clock.now());
    const r = await receiver((req) => (req.path === '/hang' ? 'hang' : { status: 200 }));
    const a = await fx.addMerchant(`${r.url}/hang`);
    const b = await fx.addMerchant(`${r.url}/ok`);
    await fx.publish('payment.succeeded', 'pay_a', a.merchantId, payment('pay_a'));
    await fx.publish('payment.succeeded', 'pay_b', b.merchantId, payment('pay_b'));
    const store = fx.store;
    const released: number[] = [];
    const watched = new Proxy(store, {
      get(target, key) {
        if (key === 'releaseClaims') {
          return (claims: readonly { eventSeq: number; claimToken: string }[]) => {
            released.push(...claims.map((c) => c.eventSeq));
            return target.releaseClaims(claims);
          };
        }
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
      },
    });
    const d = fx.dispatcher({ scheduler: clock, config: { in_flight_max: 1, timeout_ms: 10_000, lease_margin_ms: 1_000 }, deps: { store: watched } });
    d.start();
    await until(() => (r.received.length === 1 ? true : undefined));
    // Both were claimed: the first is in flight, the second waits in the ready queue.
    await until(async () => ((await store.listDeliveries({ limit: 10 })).every((x) => x.claimedUntilMs !== null) ? true : undefined));
    clock.advance(10_000); // the hanging attempt times out; the waiting claim is now 10 s old
    const shown = await until(async () => {
      const s = await store.delivery(2);
      return s?.delivery.state === 'succeeded' ? s : undefined;
    });
    expect(released).toEqual([2]);
    expect(shown.delivery.attempts).toBe(1);
    expect(r.received.filter((x) => x.path === '/ok')).toHaveLength(1);
  });
});

describe('Given the secrets notifications are signed with', () => {
  it('When the merchant rotates its key, Then the next notification is signed with the new secret', async () => {
    fx = await makeFixture();
    const r = await receiver({ status: 200 });
    const m = await fx.addMerchant(r.url);
    const rotated = await fx.merchants.rotateKey(m.merchantId, Date.now());
    await fx.publish('payment.succeeded', 'pay_1', m.merchantId, payment('pay_1'));
    fx.dispatcher({ config: { poll_interval_ms: 20 } }).start();
    const x = await until(() => r.received[0]);
    expect(verifies(rotated.keySecret ?? '', x.headers['settle-signature'], x.rawBody)).toBe(true);
    expect(verifies(m.keySecret, x.headers['settle-signature'], x.rawBody)).toBe(false);
  });

  it('When an RSA-only merchant has no notification secret, Then attempts fail with notify_secret_missing; with one configured by env, Then they are signed with it', async () => {
    const clock = new FakeScheduler(T0_MS);
    fx = await makeFixture(() => clock.now());
    const r = await receiver({ status: 200 });
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const issued = await fx.merchants.addMerchant({ name: 'RSA shop', notifyUrl: r.url, rsaPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }, T0_MS);
    await fx.publish('payment.succeeded', 'pay_1', issued.merchantId, payment('pay_1'));
    const d = fx.dispatcher({ scheduler: clock });
    d.start();
    const store = fx.store;
    const shown = await until(async () => {
      const s = await store.delivery(1);
      return s && s.attempts.length === 1 && d.idle ? s : undefined;
    });
    expect(shown.attempts[0]?.error).toBe('notify_secret_missing');
    expect(shown.delivery.state).toBe('pending');
    expect(r.received).toHaveLength(0);
    await d.stop(0);

    const config = defaultNotifyConfig({ allow_private_networks: true, secrets: { [issued.merchantId]: { env: 'SHOP_NOTIFY_SECRET' } } });
    const online = fx.online;
    const wired = createNotifications({ db: fx.db, unit: (work) => online.unit(() => work()), merchants: fx.merchants, config, dbPath: fx.dbPath, env: { SHOP_NOTIFY_SECRET: 'whsec_shop' }, scheduler: clock });
    try {
      wired.dispatcher.start();
      clock.advance(15_000);
      const x = await until(() => r.received[0]);
      expect(verifies('whsec_shop', x.headers['settle-signature'], x.rawBody)).toBe(true);
    } finally {
      await wired.close(0);
    }
  });

  it('When a configured secret cannot be read, Then settle dispatch refuses to start with notify_secret_unavailable, and the daemon signs nothing for that merchant', async () => {
    fx = await makeFixture();
    const r = await receiver({ status: 200 });
    const m = await fx.addMerchant(r.url);
    const config = defaultNotifyConfig({ secrets: { [m.merchantId]: { env: 'MISSING_SECRET' } } });
    const base = { db: fx.db, merchants: fx.merchants, config, dbPath: fx.dbPath, env: {} };
    let refused: unknown;
    try {
      createNotifications({ ...base, strictSecrets: true });
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(NotifyError);
    expect((refused as NotifyError).code).toBe('notify_secret_unavailable');
    expect((refused as NotifyError).message).toContain('MISSING_SECRET');
    const logged: string[] = [];
    const online = fx.online;
    const lenient = createNotifications({ ...base, unit: (work) => online.unit(() => work()), log: (_level, message) => logged.push(message) });
    try {
      expect(logged.join('\n')).toContain('MISSING_SECRET');
      await fx.publish('payment.succeeded', 'pay_1', m.merchantId, payment('pay_1'));
      const stats = await lenient.dispatcher.runOnce();
      expect(stats).toMatchObject({ attempts: 1, retryScheduled: 1 });
      expect((await fx.store.delivery(1))?.attempts[0]?.error).toBe('notify_secret_missing');
      expect(r.received).toHaveLength(0);
    } finally {
      await lenient.close(0);
    }
  });
});

describe('Given deliveries that can never work', () => {
  it('When the stored URL is not http(s) or the body is too large, Then the delivery fails at once with notify_url_invalid / notify_body_too_large', async () => {
    const clock = new FakeScheduler(T0_MS);
    fx = await makeFixture(() => clock.now());
    const m = await fx.addMerchant();
    const rows = await fx.store.takeOutbox('test', T0_MS, 30_000, 10);
    expect(rows).toEqual([]);
    await fx.store.commitIngest(
      [],
      [
        { eventSeq: 1, merchantId: m.merchantId, topic: 'payment.succeeded', aggregateId: 'pay_1', url: 'ftp://shop.example/n', body: '{}' },
        { eventSeq: 2, merchantId: m.merchantId, topic: 'payment.succeeded', aggregateId: 'pay_2', url: 'https://shop.example/n', body: `"${'x'.repeat(300 * 1024)}"` },
      ],
      T0_MS,
    );
    const d = fx.dispatcher({ scheduler: clock });
    const stats = await d.runOnce();
    expect(stats).toMatchObject({ attempts: 2, failed: 2 });
    expect((await fx.store.delivery(1))?.delivery).toMatchObject({ state: 'failed', lastError: 'notify_url_invalid' });
    expect((await fx.store.delivery(2))?.delivery).toMatchObject({ state: 'failed', lastError: 'notify_body_too_large' });
  });

  it('When the endpoint refuses connections, Then the attempt fails with endpoint_unreachable and is retried', async () => {
    const clock = new FakeScheduler(T0_MS);
    fx = await makeFixture(() => clock.now());
    const r = await receiver({ status: 200 });
    const url = r.url;
    await r.close();
    receivers.splice(receivers.indexOf(r), 1);
    const m = await fx.addMerchant(url);
    await fx.publish('payment.succeeded', 'pay_1', m.merchantId, payment('pay_1'));
    const stats = await fx.dispatcher({ scheduler: clock }).runOnce();
    expect(stats).toMatchObject({ attempts: 1, retryScheduled: 1 });
    const shown = await fx.store.delivery(1);
    expect(shown?.attempts[0]).toMatchObject({ error: 'endpoint_unreachable', httpStatus: null, detail: 'ECONNREFUSED' });
    expect(shown?.delivery.nextAttemptAtMs).toBe(T0_MS + 15_000);
  });
});
