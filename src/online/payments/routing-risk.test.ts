// Routing and risk through the payment service: a real in-memory SQLite store with the ledger attached,
// in-process banks (a flaky wrapper can take one down), a fake clock and an SMS port that keeps what it
// sends. The channel simulator and the HTTP path are covered in test/online-routing.test.ts.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseChart } from '../../ledger/chart-config.js';
import { Ledger } from '../../ledger/index.js';
import { openSqlite, type SqliteConnection } from '../../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { InstantBankChannel } from '../channels/instant-bank.js';
import type { ChannelNotification, ChannelOutcome, ChannelPort, NotificationParse, PayRequest } from '../channels/port.js';
import { parseOnlineConfig, PRODUCT_NAMES, type OnlineConfig } from '../config.js';
import type { SmsMessage, SmsPort } from '../risk/sms.js';
import { ChannelHealth } from '../routing/health.js';
import { SqliteOnlineStore } from '../sqlite/store.js';
import { NotificationService } from './notifications.js';
import { closeExpired, isFailure, PaymentService, runUnit, type ApiResult, type Caller, type RouteRecord } from './service.js';

/** A bank that can be taken down (answers unknown/unavailable without recording) and counts its pay calls. */
class FlakyBank extends InstantBankChannel implements ChannelPort {
  down = false;
  /** Takes the payment, then answers a 5xx (the answer is lost, the money moved). */
  takesThenFails = false;
  calls = 0;
  /** What the next notification says (the test plays the channel's callback). */
  next: ChannelNotification | undefined;
  override parseNotification(): NotificationParse {
    return this.next ? { ok: true, notification: this.next } : super.parseNotification();
  }
  override async pay(req: PayRequest): Promise<ChannelOutcome> {
    this.calls++;
    if (this.down) return { status: 'unknown', reason: 'unavailable', message: 'HTTP 503' };
    const outcome = await super.pay(req);
    return this.takesThenFails ? { status: 'unknown', reason: 'unavailable', message: 'HTTP 502' } : outcome;
  }
}

let db: SqliteConnection;
let store: SqliteOnlineStore;
let service: PaymentService;
let health: ChannelHealth;
let config: OnlineConfig;
let now = Date.parse('2026-11-26T10:00:00Z');
const clock = (): number => now;
const sent: SmsMessage[] = [];
const sms: SmsPort = {
  send: async (m) => {
    sent.push(m);
  },
};
const cheap = new FlakyBank({ channelId: 'cheap' });
const dear = new FlakyBank({ channelId: 'dear' });
const caller: Caller = { merchantId: 'M100001', products: PRODUCT_NAMES };
let n = 0;
const idem = (key = `k${++n}`) => ({ key, requestHash: `h-${key}` });

const CHANNELS = [
  { id: 'cheap', products: ['foreign_card', 'phone_bill'], currencies: ['CNY'], cost_rate: '0.002', daily_count_max: 5 },
  { id: 'dear', products: ['foreign_card', 'phone_bill'], currencies: ['CNY'], cost_rate: '0.004' },
];

async function setUp(extra: Record<string, unknown> = {}): Promise<void> {
  db = openSqlite(':memory:');
  const ledgerStore = SqliteLedgerStore.attach(db, ':memory:');
  const ledger = new Ledger(ledgerStore);
  await ledger.initialise(
    parseChart({
      subjects: [
        { code: '1122', name: 'Channel receivable', type: 'asset' },
        { code: '2202', name: 'Merchant payable', type: 'liability' },
        { code: '2241', name: 'User balance', type: 'liability' },
        { code: '6001', name: 'Fee income', type: 'revenue' },
        { code: '6401', name: 'Channel cost', type: 'expense' },
      ],
      accounts: [],
    }),
    '2026-11-26',
  );
  const parsed = parseOnlineConfig({
    channels: CHANNELS,
    routing: { breaker: { window_s: 60, min_calls: 3, failure_ratio: '0.5', open_s: 30 } },
    ...extra,
  });
  if (!parsed.ok) throw new Error(parsed.error.message);
  config = parsed.value;
  store = new SqliteOnlineStore(db, ledgerStore, { clock });
  health = new ChannelHealth(config, clock);
  cheap.down = dear.down = false;
  cheap.takesThenFails = false;
  cheap.next = undefined;
  cheap.calls = dear.calls = 0;
  sent.length = 0;
  service = new PaymentService({ store, config, channels: new Map([['cheap', cheap], ['dear', dear]]), publicUrl: () => 'http://127.0.0.1:0', clock, health, sms });
}

afterEach(() => db.close());

const body = (r: ApiResult): Record<string, unknown> => {
  if (isFailure(r)) throw new Error(`${r.code}: ${r.message}`);
  return JSON.parse(r.body) as Record<string, unknown>;
};
const pay = async (amount: number, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> =>
  body(await service.create(caller, idem(), { merchant_order_no: `O${++n}`, product: 'foreign_card', amount, currency: 'CNY', ...extra }));
const routeOf = async (id: unknown): Promise<RouteRecord> =>
  JSON.parse((await store.read((tx) => tx.payment(null, String(id))))?.routeJson ?? 'null') as RouteRecord;

describe('Given two channels for foreign cards, cheap (0.2 %, 5 payments a day) and dear (0.4 %)', () => {
  beforeEach(() => setUp());

  it('When a payment is made, Then it goes to the cheapest and the order records every channel considered', async () => {
    const p = await pay(10_000);
    expect(p).toMatchObject({ status: 'succeeded', channel: 'cheap' });
    const route = await routeOf(p['id']);
    expect(route.order).toEqual(['cheap', 'dear']);
    expect(route.considered).toEqual([
      { channel: 'cheap', eligible: true, reason: 'cheapest eligible', expectedCostMinor: '20', rank: 1 },
      { channel: 'dear', eligible: true, reason: 'fallback 1', expectedCostMinor: '40', rank: 2 },
    ]);
    // What the channel reported as its fee replaces our expectation once it answers.
    expect((await store.read((tx) => tx.payment(null, String(p['id']))))?.costMinor).toBe(38n);
  });

  it('When the cheap channel has used its daily count, Then the next payment goes to dear with the reason recorded', async () => {
    for (let i = 0; i < 5; i++) expect(await pay(1_000)).toMatchObject({ channel: 'cheap' });
    const sixth = await pay(1_000);
    expect(sixth).toMatchObject({ status: 'succeeded', channel: 'dear' });
    expect((await routeOf(sixth['id'])).considered[0]).toMatchObject({ channel: 'cheap', eligible: false, reason: 'daily count limit: 5 used of 5' });
  });

  it('When seven payments arrive at once, Then cheap takes exactly its daily five and dear the other two', async () => {
    const all = await Promise.all(Array.from({ length: 7 }, () => pay(1_000)));
    expect(all.filter((p) => p['channel'] === 'cheap')).toHaveLength(5);
    expect(all.filter((p) => p['channel'] === 'dear')).toHaveLength(2);
  });

  it('When a key is replayed after its channel used up the day, Then the stored answer comes back, not channel_unavailable', async () => {
    const key = idem('same-key');
    const first = await service.create(caller, key, { merchant_order_no: 'R1', product: 'foreign_card', amount: 1_000, currency: 'CNY' });
    for (let i = 0; i < 4; i++) await pay(1_000);
    cheap.down = dear.down = true;
    for (let i = 0; i < 3; i++) await pay(1_000); // both breakers open
    const again = await service.create(caller, key, { merchant_order_no: 'R1', product: 'foreign_card', amount: 1_000, currency: 'CNY' });
    expect(again).toMatchObject({ ok: true, replayed: true });
    expect(!isFailure(again) && !isFailure(first) && again.body === first.body).toBe(true);
  });

  it('When cheap is down, Then the payment falls back to dear; after 3 failures the breaker opens and cheap is not called', async () => {
    cheap.down = true;
    for (let i = 0; i < 3; i++) expect(await pay(1_000)).toMatchObject({ status: 'succeeded', channel: 'dear' });
    expect(cheap.calls).toBe(3);
    const p = await pay(1_000);
    expect(cheap.calls).toBe(3); // open: skipped
    expect((await routeOf(p['id'])).considered[0]).toMatchObject({ channel: 'cheap', eligible: false, reason: 'circuit breaker open' });
    // 30 s later one probe goes to cheap; it is back, so the breaker closes.
    cheap.down = false;
    now += 30_000;
    expect(await pay(1_000)).toMatchObject({ channel: 'cheap' });
    expect(health.snapshot().find((h) => h.channelId === 'cheap')).toMatchObject({ state: 'closed', reason: 'probe succeeded' });
  });

  it('When cheap is down, Then the failed attempt is in the order record and the cost is dear\u2019s', async () => {
    cheap.down = true;
    const p = await pay(10_000);
    const route = await routeOf(p['id']);
    expect(route.attempts).toEqual([{ channel: 'cheap', outcome: 'unavailable: HTTP 503; the channel has no record of it', atMs: now }]);
    expect(await store.read((tx) => tx.payment(null, String(p['id'])))).toMatchObject({ channelId: 'dear', routeNote: 'dear: fallback after cheap failed' });
  });

  it('When cheap takes the payment but answers 502, Then it is asked before any fallback: the payment succeeds at cheap and dear is never called', async () => {
    cheap.takesThenFails = true;
    const p = await pay(10_000);
    expect(p).toMatchObject({ status: 'succeeded', channel: 'cheap' });
    expect(dear.calls).toBe(0);
  });

  it('When the breaker is half-open, Then of two concurrent payments only one probes cheap; the other goes to dear', async () => {
    cheap.down = true;
    for (let i = 0; i < 3; i++) await pay(1_000);
    now += 30_000;
    cheap.down = false;
    const before = cheap.calls;
    const both = await Promise.all([pay(1_000), pay(1_000)]);
    expect(cheap.calls - before).toBe(1);
    expect(both.map((b) => b['channel']).sort()).toEqual(['cheap', 'dear']);
  });

  it('When cheap took a payment it had no record of when asked, and notifies after the order moved to dear, Then an orphan charge is published for refund and the order is untouched', async () => {
    cheap.down = true;
    const p = await pay(10_000);
    expect(p).toMatchObject({ status: 'succeeded', channel: 'dear' });
    cheap.next = { reference: String(p['id']), channelTxnId: 'CHEAP-LATE-1', operation: 'pay', status: 'succeeded', amountMinor: 10_000n, currency: 'CNY', notificationId: 'n-late-1' };
    const answer = await new NotificationService(store, new Map([['cheap', cheap], ['dear', dear]])).receive('cheap', {}, Buffer.alloc(0));
    expect(answer).toMatchObject({ ok: true, httpStatus: 200 });
    const orphan = db.prepare("SELECT payload FROM outbox WHERE topic = 'payment.orphan_charge'").get() as { payload: string } | undefined;
    expect(JSON.parse(orphan?.payload ?? '{}')).toMatchObject({ id: p['id'], orphan_channel: 'cheap', orphan_channel_txn_id: 'CHEAP-LATE-1', action: 'refund_required' });
    expect(body(await service.get(caller, String(p['id'])))).toMatchObject({ status: 'succeeded', channel: 'dear' });
    // A channel the order never tried is still a mismatch.
    const stranger = new FlakyBank({ channelId: 'stranger' });
    stranger.next = { ...cheap.next, notificationId: 'n-x' };
    const refused = await new NotificationService(store, new Map([['stranger', stranger]])).receive('stranger', {}, Buffer.alloc(0));
    expect(refused).toMatchObject({ ok: false, code: 'notification_mismatch' });
    cheap.next = undefined;
  });

  it('When cheap declines (a business decline), Then the payment fails and dear is never called', async () => {
    const p = await pay(10_051);
    expect(p).toMatchObject({ status: 'failed', channel: 'cheap' });
    expect(dear.calls).toBe(0);
  });

  it('When cheap times out but took the payment, Then it is asked at once, the payment succeeds there, and dear is never called', async () => {
    const p = await pay(10_061);
    expect(p).toMatchObject({ status: 'succeeded', channel: 'cheap' });
    expect(dear.calls).toBe(0);
  });

  it('When both channels are down, Then the payment stays processing at the last one for recovery', async () => {
    cheap.down = dear.down = true;
    const p = await pay(1_000);
    expect(p).toMatchObject({ status: 'processing', channel: 'dear' });
  });
});

describe('Given a rule set: pin merchant M200 to dear, exclude cheap for phone_bill', () => {
  beforeEach(() =>
    setUp({
      routing: {
        rules: [
          { kind: 'pin', channel: 'dear', merchant: 'M200' },
          { kind: 'exclude', channel: 'cheap', product: 'phone_bill' },
        ],
      },
    }),
  );

  it('Then M200 pays at dear, phone bills go to dear, and others to cheap', async () => {
    const m200 = body(await service.create({ merchantId: 'M200', products: PRODUCT_NAMES }, idem(), { merchant_order_no: 'X1', product: 'foreign_card', amount: 1_000, currency: 'CNY' }));
    expect(m200).toMatchObject({ channel: 'dear' });
    expect(await pay(1_000, { product: 'phone_bill' })).toMatchObject({ channel: 'dear' });
    expect(await pay(1_000)).toMatchObject({ channel: 'cheap' });
  });
});

describe('Given risk rules', () => {
  beforeEach(() =>
    setUp({
      risk: {
        amounts: [{ currency: 'CNY', challenge_over_minor: '50000', block_over_minor: '1000000' }],
        velocity: [{ dimension: 'device', window_s: 600, count_max: 3, action: 'block' }],
        block_list: { ip: ['203.0.113.9'] },
        allow_list: { payer: ['VIP'] },
        merchant_daily: [{ merchant: '*', currency: 'CNY', amount_max_minor: '2000000', action: 'block' }],
        otp: { ttl_s: 60, attempts_max: 3 },
      },
    }),
  );

  const decisions = (): { decision: string; hits: string }[] => db.prepare('SELECT decision, hits FROM risk_decisions ORDER BY decision_id').all() as { decision: string; hits: string }[];

  it('When the amount is over the block threshold, Then the payment fails with the reasons, the channel is never called, and the decision is stored', async () => {
    const p = await pay(1_000_001);
    expect(p).toMatchObject({ status: 'failed', failure_code: 'risk_blocked', failure_message: 'Blocked by risk rules: amount.', channel: null });
    expect(cheap.calls + dear.calls).toBe(0);
    expect(decisions()).toHaveLength(1);
    expect(JSON.parse(decisions()[0]?.hits ?? '[]')).toEqual([{ rule: 'amount', verdict: 'block', reason: 'amount 1000001 over the block threshold 1000000 CNY for any product' }]);
  });

  it('When the IP is on the block list, Then it is blocked even for a small amount; a payer on the allow list passes a large one', async () => {
    expect(await pay(100, { client_ip: '203.0.113.9' })).toMatchObject({ status: 'failed', failure_code: 'risk_blocked' });
    expect(await pay(900_000, { payer_id: 'VIP' })).toMatchObject({ status: 'succeeded' });
  });

  it('When a device pays a fourth time within 10 minutes, Then it is blocked; after the window it passes again', async () => {
    for (let i = 0; i < 3; i++) expect(await pay(100, { device_id: 'dev-1' })).toMatchObject({ status: 'succeeded' });
    expect(await pay(100, { device_id: 'dev-1' })).toMatchObject({ status: 'failed', failure_code: 'risk_blocked', failure_message: 'Blocked by risk rules: velocity.device.' });
    now += 600_001;
    expect(await pay(100, { device_id: 'dev-1' })).toMatchObject({ status: 'succeeded' });
  });

  it('When the merchant would pass its daily limit, Then the payment is blocked', async () => {
    for (let i = 0; i < 4; i++) expect(await pay(500_000, { payer_id: 'VIP' })).toMatchObject({ status: 'succeeded' });
    expect(await pay(1, {})).toMatchObject({ status: 'failed', failure_message: 'Blocked by risk rules: merchant_daily.' });
  });

  it('When a challenge is needed and the request has no phone, Then the payment is blocked as undeliverable', async () => {
    expect(await pay(60_000)).toMatchObject({ status: 'failed', failure_message: 'Blocked by risk rules: challenge_undeliverable.' });
  });

  it('When the amount needs a challenge, Then a code is sent, a wrong code counts, the right one continues the payment at the channel', async () => {
    const p = await pay(60_000, { phone: '13812345678' });
    expect(p).toMatchObject({ status: 'requires_verification', next_action: { type: 'verify_code', channel: 'sms' } });
    expect(cheap.calls).toBe(0);
    expect(sent).toHaveLength(1);
    const code = /code is (\d{6})/.exec(sent[0]?.text ?? '')?.[1] ?? '';
    const stored = db.prepare('SELECT code_hash, phone_hint FROM risk_challenges').get() as { code_hash: string; phone_hint: string };
    expect(stored.code_hash).not.toContain(code);
    expect(stored.phone_hint).toBe('138****5678');
    const wrong = await service.verify(caller, idem(), String(p['id']), { code: code === '000000' ? '111111' : '000000' });
    expect(wrong).toMatchObject({ ok: false, code: 'challenge_code_invalid' });
    expect(isFailure(wrong) && wrong.message.startsWith('Wrong code; 2 attempt(s) left.')).toBe(true);
    const right = body(await service.verify(caller, idem(), String(p['id']), { code }));
    expect(right).toMatchObject({ status: 'succeeded', channel: 'cheap' });
    expect(cheap.calls).toBe(1);
    expect(await service.verify(caller, idem(), String(p['id']), { code })).toMatchObject({ ok: false, code: 'challenge_not_pending' });
  });

  it('When the payer gets the code wrong three times, Then the payment fails; a replay of the same key gives the same answer', async () => {
    const p = await pay(60_000, { phone: '13812345678' });
    const code = /code is (\d{6})/.exec(sent[0]?.text ?? '')?.[1] ?? '';
    const bad = code === '000000' ? '111111' : '000000';
    await service.verify(caller, idem(), String(p['id']), { code: bad });
    await service.verify(caller, idem(), String(p['id']), { code: bad });
    const third = await service.verify(caller, idem('third'), String(p['id']), { code: bad });
    expect(third).toMatchObject({ ok: false, code: 'challenge_attempts_exceeded' });
    expect(await service.verify(caller, idem('third'), String(p['id']), { code: bad })).toMatchObject({ ok: true, replayed: true, httpStatus: 409 });
    expect(body(await service.get(caller, String(p['id'])))).toMatchObject({ status: 'failed', failure_code: 'challenge_failed' });
    expect(await service.verify(caller, idem(), String(p['id']), { code })).toMatchObject({ ok: false, code: 'challenge_not_pending' });
  });

  it('When the code expires, Then verify answers challenge_expired and the payment is closed; recovery closes one nobody verifies', async () => {
    const p = await pay(60_000, { phone: '13812345678' });
    const code = /code is (\d{6})/.exec(sent[0]?.text ?? '')?.[1] ?? '';
    now += 60_000;
    expect(await service.verify(caller, idem(), String(p['id']), { code })).toMatchObject({ ok: false, code: 'challenge_expired' });
    expect(body(await service.get(caller, String(p['id'])))).toMatchObject({ status: 'closed', failure_code: 'challenge_expired' });

    const q = await pay(60_000, { phone: '13812345678' });
    now += 61_000;
    const due = await store.expiredWaiting(now, 10);
    expect(due).toEqual([q['id']]);
    await runUnit(store, (tx) => closeExpired(tx, String(q['id'])));
    expect(body(await service.get(caller, String(q['id'])))).toMatchObject({ status: 'closed', failure_code: 'challenge_expired' });
  });

  it('When another merchant verifies a payment, Then it is not found', async () => {
    const p = await pay(60_000, { phone: '13812345678' });
    expect(await service.verify({ merchantId: 'M999', products: PRODUCT_NAMES }, idem(), String(p['id']), { code: '123456' })).toMatchObject({ ok: false, code: 'not_found' });
  });
});

describe('Given a config', () => {
  it('When a routing rule names an unknown channel or product, Then it is refused at start', () => {
    const bad = parseOnlineConfig({ channels: CHANNELS, routing: { rules: [{ kind: 'pin', channel: 'nope' }, { kind: 'exclude', channel: 'cheap', product: 'teleport' }] } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.issues.map((i) => i.message)).toEqual(['unknown channel nope', 'unknown product teleport']);
    const risk = parseOnlineConfig({ risk: { amounts: [{ product: 'teleport', challenge_over_minor: '1' }] } });
    expect(risk.ok).toBe(false);
    const cases: [unknown, string][] = [
      [{ risk: { amounts: [{ challenge_over_minor: '500', block_over_minor: '500' }] } }, 'challenge_over_minor must be below block_over_minor'],
      [{ risk: { amounts: [{ currency: 'XYZ', challenge_over_minor: '1' }] } }, 'not a known currency code'],
      [{ routing: { breaker: { failure_ratio: '0.000' } } }, 'a ratio above 0 (at 0 every call, even a success, would open the breaker)'],
      [{ channels: [{ ...CHANNELS[0], cost_min_minor: '100', cost_cap_minor: '50' }] }, 'cost_cap_minor is below cost_min_minor'],
    ];
    for (const [raw, message] of cases) {
      const parsed = parseOnlineConfig(raw);
      expect(parsed.ok ? [] : parsed.error.issues.map((i) => i.message)).toContain(message);
    }
  });
});
