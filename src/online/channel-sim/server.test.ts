// The simulator as a server: signatures on requests, the admin endpoints, its SQLite record, the cashier
// page, notification retries, restart, and reproducible random knobs.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../../ledger/sqlite/database.js';
import { parseSimConfig } from './config.js';
import { SIM_HEADERS, signedHeaders, simSignature } from './signature.js';
import { SimStore } from './store.js';
import { startReceiver, startTestSim, TEST_CONFIG, TEST_SECRETS, type Receiver, type TestSim } from './test-support.js';

// 2026-11-26T17:30:00Z is 2026-11-27 01:30 in Shanghai: the record's business date is the Shanghai day.
const T0 = Date.parse('2026-11-26T17:30:00Z');
let nowMs = T0;
const clock = (): number => nowMs;

let t: TestSim;
let receiver: Receiver;
let n = 0;
const ref = (what: string): string => `${what}-${++n}`;

beforeAll(async () => {
  t = await startTestSim({ clock });
  receiver = await startReceiver();
});

afterAll(async () => {
  await receiver.close();
  await t.cleanup();
});

afterEach(() => {
  nowMs = T0;
});

async function post(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; json: { error?: { code: string } } & Record<string, unknown> }> {
  const res = await fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, json: (await res.json()) as { error?: { code: string } } & Record<string, unknown> };
}

const payBody = (reference: string, amount = '1000'): string => JSON.stringify({ reference, product: 'phone_bill', amount_minor: amount, currency: 'CNY' });

describe('request signatures', () => {
  it('Given a correctly signed request, When it is posted, Then the bank answers 200 with a signed answer', async () => {
    const body = payBody(ref('sig'));
    const res = await fetch(`${t.url}/channels/bank/pay`, { method: 'POST', headers: { 'content-type': 'application/json', ...signedHeaders(TEST_SECRETS.bank, body, nowMs) }, body });
    const text = await res.text();
    expect(res.status).toBe(200);
    const ts = res.headers.get(SIM_HEADERS.timestamp) ?? '';
    expect(res.headers.get(SIM_HEADERS.signature)).toBe(simSignature(TEST_SECRETS.bank, ts, text));
  });

  it('Given no signature headers, When a request is posted, Then 401 signature_missing and nothing is recorded', async () => {
    const reference = ref('sig');
    const r = await post('/channels/bank/pay', payBody(reference), {});
    expect(r).toMatchObject({ status: 401, json: { error: { code: 'signature_missing' } } });
    const q = JSON.stringify({ reference, operation: 'pay' });
    expect((await post('/channels/bank/query', q, signedHeaders(TEST_SECRETS.bank, q, nowMs))).json).toMatchObject({ status: 'not_found' });
  });

  it('Given a body changed after signing, or another channel’s secret, When posted, Then 401 signature_invalid', async () => {
    const body = payBody(ref('sig'));
    const headers = signedHeaders(TEST_SECRETS.bank, body, nowMs);
    expect((await post('/channels/bank/pay', body.replace('1000', '9000'), headers)).json).toMatchObject({ error: { code: 'signature_invalid' } });
    expect((await post('/channels/bank/pay', body, signedHeaders(TEST_SECRETS.wallet, body, nowMs))).status).toBe(401);
    expect((await post('/channels/bank/pay', body, { ...headers, [SIM_HEADERS.signature]: 'zz' })).status).toBe(401);
  });

  it('Given a signature 301 s old (or ahead), When posted, Then 401 signature_stale; 299 s old is accepted', async () => {
    const body = payBody(ref('sig'));
    expect((await post('/channels/bank/pay', body, signedHeaders(TEST_SECRETS.bank, body, nowMs - 301_000))).json).toMatchObject({ error: { code: 'signature_stale' } });
    expect((await post('/channels/bank/pay', body, signedHeaders(TEST_SECRETS.bank, body, nowMs + 301_000))).status).toBe(401);
    expect((await post('/channels/bank/pay', body, signedHeaders(TEST_SECRETS.bank, body, nowMs - 299_000))).status).toBe(200);
  });

  it('Given unknown channels, operations, non-JSON and bad amounts, When posted, Then 404, 404, 400, 400 with codes', async () => {
    const sign = (b: string): Record<string, string> => signedHeaders(TEST_SECRETS.bank, b, nowMs);
    expect((await post('/channels/nope/pay', '{}', sign('{}'))).json).toMatchObject({ error: { code: 'channel_not_found' } });
    expect((await post('/channels/bank/steal', '{}', sign('{}'))).json).toMatchObject({ error: { code: 'operation_unknown' } });
    expect((await post('/channels/bank/pay', 'not json', sign('not json'))).json).toMatchObject({ error: { code: 'body_invalid_json' } });
    const float = payBody(ref('bad'), '10.5');
    expect(await post('/channels/bank/pay', float, sign(float))).toMatchObject({ status: 400, json: { error: { code: 'amount_invalid' } } });
    const extra = JSON.stringify({ ...JSON.parse(payBody(ref('bad'))), status: 'succeeded' });
    expect(await post('/channels/bank/pay', extra, sign(extra))).toMatchObject({ status: 400, json: { error: { code: 'request_invalid' } } });
  });
});

describe('admin endpoints', () => {
  it('Given the simulator, When GET /admin/channels, Then it lists the channels, their kinds and knobs, and the seed — never a secret', async () => {
    const res = await fetch(`${t.url}/admin/channels`);
    const text = await res.text();
    const body = JSON.parse(text) as { seed: string; channels: { id: string; kind: string; behaviour: Record<string, unknown> }[] };
    expect(body.seed).toBe('test-seed');
    expect(body.channels.map((c) => [c.id, c.kind])).toEqual([
      ['bank', 'bank'],
      ['wallet', 'wallet'],
      ['payout', 'payout'],
    ]);
    expect(body.channels[0]?.behaviour).toEqual({ latency_ms: 0, decline_rate: 0, timeout_rate: 0, outage: false, timeout_mode: 'hold', timeout_hold_ms: 30_000, notify_delay_ms: 50 });
    expect(text).not.toContain(TEST_SECRETS.bank);
  });

  it('Given a patch with an unknown key or a rate above 1, When posted, Then 400 and nothing changes', async () => {
    expect((await t.admin('bank', { decline_rate: 2 })).status).toBe(400);
    expect((await t.admin('bank', { fail_everything: true })).status).toBe(400);
    expect((await t.admin('nope', { latency_ms: 1 })).status).toBe(404);
    const patched = (await (await t.admin('bank', { latency_ms: 0 })).json()) as { behaviour: { decline_rate: number } };
    expect(patched.behaviour.decline_rate).toBe(0);
  });
});

describe('the record in SQLite', () => {
  it('Given a payment and a partial refund, When the simulator’s file is read, Then every field a bill needs is there, amounts as INTEGER minor units, dated by the Shanghai calendar', async () => {
    const bank = t.adapter('bank');
    const pay = ref('pay');
    const refund = ref('refund');
    await bank.pay({ reference: pay, product: 'foreign_card', amountMinor: 25_000n, currency: 'USD', payerId: 'U9', description: 'Hotel' });
    await bank.refund({ reference: refund, originalReference: pay, amountMinor: 5_000n, currency: 'USD' });
    const store = SimStore.open(t.dbPath);
    try {
      const rows = store.list({ channelId: 'bank', limit: 1000 }).filter((r) => r.reference === pay || r.reference === refund);
      expect(rows).toHaveLength(2);
      const [p, r] = rows;
      expect(p).toMatchObject({
        channelId: 'bank',
        operation: 'pay',
        reference: pay,
        product: 'foreign_card',
        amountMinor: 25_000n,
        currency: 'USD',
        status: 'succeeded',
        feeMinor: 95n,
        feeRate: '0.0038',
        payerId: 'U9',
        description: 'Hotel',
        createdAtMs: T0,
        completedAtMs: T0,
        businessDate: '2026-11-27',
      });
      expect(r).toMatchObject({
        operation: 'refund',
        originalOperation: 'pay',
        originalReference: pay,
        originalChannelTxnId: p?.channelTxnId,
        amountMinor: 5_000n,
        feeMinor: 19n,
        status: 'succeeded',
        businessDate: '2026-11-27',
      });
      expect(p?.channelTxnId).toMatch(/^BANK20261127\d{8}$/);
    } finally {
      store.close();
    }
    const db = openSqlite(t.dbPath, { readonly: true });
    try {
      const types = db.prepare('SELECT DISTINCT typeof(amount_minor) AS a, typeof(fee_minor) AS f FROM sim_transactions').all();
      expect(types).toEqual([{ a: 'integer', f: 'integer' }]);
    } finally {
      db.close();
    }
  });

  it('Given a payment yesterday (Shanghai), When it is voided today, Then void_not_same_day; a refund still works', async () => {
    const bank = t.adapter('bank');
    const pay = ref('pay');
    nowMs = Date.parse('2026-11-27T15:59:00Z'); // 23:59 in Shanghai
    await bank.pay({ reference: pay, product: 'phone_bill', amountMinor: 1_000n, currency: 'CNY' });
    nowMs = Date.parse('2026-11-27T16:01:00Z'); // 00:01 the next Shanghai day
    expect(await bank.void({ reference: ref('void'), originalReference: pay, amountMinor: 1_000n, currency: 'CNY' })).toMatchObject({
      status: 'declined',
      declineCode: 'void_not_same_day',
    });
    expect(await bank.refund({ reference: ref('refund'), originalReference: pay, amountMinor: 1_000n, currency: 'CNY' })).toMatchObject({ status: 'succeeded' });
  });
});

describe('the cashier page and notifications', () => {
  it('Given a netbank payment waiting for the payer, When the payer cancels on the cashier page, Then the notification says declined', async () => {
    await t.admin('bank', { notify_delay_ms: null });
    try {
      const bank = t.adapter('bank');
      const reference = ref('nb');
      const outcome = await bank.pay({ reference, product: 'netbank', amountMinor: 2_000n, currency: 'CNY', notifyUrl: receiver.url, description: '<b>Books</b>' });
      expect(outcome.status).toBe('processing');
      const redirectUrl = outcome.status === 'processing' ? (outcome.redirectUrl ?? '') : '';
      const page = await (await fetch(redirectUrl)).text();
      expect(page).toContain('20.00 CNY');
      expect(page).toContain('&#60;b&#62;Books');
      const count = receiver.received.length;
      const res = await fetch(redirectUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'result=cancel' });
      expect(await res.json()).toMatchObject({ status: 'declined', decline_code: 'payer_cancelled' });
      const got = await receiver.waitFor(count + 1);
      expect(bank.parseNotification(got.headers, got.rawBody)).toMatchObject({ ok: true, notification: { reference, status: 'declined' } });
    } finally {
      await t.admin('bank', { notify_delay_ms: 50 });
    }
  });

  it('Given the receiver fails the first attempt, When the wallet notifies, Then it retries and the second attempt is recorded delivered', async () => {
    receiver.failNext(1, 503);
    const count = receiver.received.length;
    const outcome = await t.adapter('wallet').pay({ reference: ref('wpay'), product: 'wallet', amountMinor: 300n, currency: 'CNY', notifyUrl: receiver.url });
    await receiver.waitFor(count + 1);
    const channelTxnId = outcome.status === 'processing' ? outcome.channelTxnId : undefined;
    const store = SimStore.open(t.dbPath);
    try {
      await expect.poll(() => store.notificationStatus(`ntf_${channelTxnId}`)).toEqual({ status: 'delivered', attempts: 2 });
    } finally {
      store.close();
    }
  });
});

describe('restart and reproducibility', () => {
  it('Given a wallet payment still processing when the simulator stops, When it starts again, Then the payment completes and is notified', async () => {
    const config = { ...TEST_CONFIG, channels: TEST_CONFIG.channels?.map((c) => ({ ...c, behaviour: { notify_delay_ms: null } })) };
    const first = await startTestSim({ config });
    try {
      const reference = ref('wpay');
      await first.adapter('wallet').pay({ reference, product: 'wallet', amountMinor: 500n, currency: 'CNY', notifyUrl: receiver.url });
      await first.close();
      const count = receiver.received.length;
      const second = await startTestSim({ dir: first.dir });
      try {
        const got = await receiver.waitFor(count + 1);
        expect(second.adapter('wallet').parseNotification(got.headers, got.rawBody)).toMatchObject({ ok: true, notification: { reference, status: 'succeeded' } });
      } finally {
        await second.close();
      }
    } finally {
      await first.cleanup();
    }
  });

  it('Given decline_rate 0.5 and the same seed, When two simulators see the same references, Then they decline the same ones', async () => {
    const config = { ...TEST_CONFIG, channels: [{ id: 'bank', kind: 'bank' as const, secret: TEST_SECRETS.bank, behaviour: { decline_rate: 0.5 } }] };
    const runs: string[][] = [];
    for (let run = 0; run < 2; run++) {
      const sim = await startTestSim({ config });
      try {
        const outcomes: string[] = [];
        for (let i = 0; i < 20; i++) outcomes.push((await sim.adapter('bank').pay({ reference: `seeded-${i}`, product: 'phone_bill', amountMinor: 100n, currency: 'CNY' })).status);
        runs.push(outcomes);
      } finally {
        await sim.cleanup();
      }
    }
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]).toContain('declined');
    expect(runs[0]).toContain('succeeded');
  });
});

describe('config', () => {
  it('Given SETTLE_SIM_SECRET_BANK, When the config also names a secret, Then the environment wins; without either the dev default is used', () => {
    const parsed = parseSimConfig({ channels: [{ id: 'bank', kind: 'bank', secret: 'from-the-config-file-0000' }, { id: 'my-wallet', kind: 'wallet' }] }, { SETTLE_SIM_SECRET_BANK: 'from-env' });
    expect(parsed.ok && parsed.value.channels.map((c) => c.secret)).toEqual(['from-env', 'settle-sim-dev-secret-my-wallet']);
    const dashed = parseSimConfig({ channels: [{ id: 'my-wallet', kind: 'wallet' }] }, { SETTLE_SIM_SECRET_MY_WALLET: 'dash-env' });
    expect(dashed.ok && dashed.value.channels[0]?.secret).toBe('dash-env');
  });

  it('Given unknown keys, duplicate ids or async operations a channel does not do, When parsed, Then the message names the problem', () => {
    expect(parseSimConfig({ channels: [{ id: 'bank', kind: 'bank', colour: 'red' }] }, {})).toMatchObject({ ok: false, message: expect.stringContaining('channels.0') });
    expect(parseSimConfig({ channels: [{ id: 'b', kind: 'bank' }, { id: 'b', kind: 'wallet' }] }, {})).toMatchObject({ ok: false, message: expect.stringContaining('twice') });
    expect(parseSimConfig({ channels: [{ id: 'b', kind: 'bank', async_operations: ['payout'] }] }, {})).toMatchObject({ ok: false, message: expect.stringContaining('payout') });
    expect(parseSimConfig({ channels: [{ id: 'b', kind: 'bank', fee_rate: '0.38%' }] }, {})).toMatchObject({ ok: false });
  });

  it('Given an empty config, When parsed, Then the bank, wallet and payout channels have their kinds’ defaults', () => {
    const parsed = parseSimConfig({}, {});
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.timeZone).toBe('Asia/Shanghai');
    expect(parsed.value.channels.map((c) => [c.id, c.feeRate, c.asyncOperations])).toEqual([
      ['bank', '0.0038', []],
      ['wallet', '0.006', ['pay']],
      ['payout', '0', ['payout']],
    ]);
    expect(parsed.value.channels[2]?.openingBalanceMinor).toEqual({ CNY: 1_000_000_000n });
  });
});
