// The HTTP adapter against a live simulator on loopback: every operation of the ChannelPort, replays,
// signatures both ways, notifications, and the knobs that turn answers into declines and unknowns.

import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders } from '../channel-sim/signature.js';
import { startReceiver, startTestSim, TEST_SECRETS, type Receiver, type TestSim } from '../channel-sim/test-support.js';
import { SimChannelAdapter } from './sim-adapter.js';

let t: TestSim;
let receiver: Receiver;
let n = 0;
const ref = (what: string): string => `${what}-${++n}`;

beforeAll(async () => {
  t = await startTestSim();
  receiver = await startReceiver();
});

afterAll(async () => {
  await receiver.close();
  await t.cleanup();
});

const NORMAL = { decline_rate: 0, timeout_rate: 0, outage: false, latency_ms: 0, timeout_mode: 'hold', timeout_hold_ms: 30_000 };
afterEach(async () => {
  for (const ch of ['bank', 'wallet', 'payout']) await t.admin(ch, NORMAL);
});

/** A loopback port nobody listens on (it was free a moment ago). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function signedAgreement(payerId = 'U1'): Promise<string> {
  const signed = await t.adapter('bank').sign({ reference: ref('sign'), payerId, accountHint: '6222****1234' });
  if (signed.status !== 'succeeded') throw new Error(`sign: ${JSON.stringify(signed)}`);
  return signed.agreementToken;
}

async function paid(amountMinor: bigint): Promise<string> {
  const reference = ref('pay');
  const outcome = await t.adapter('bank').pay({ reference, product: 'foreign_card', amountMinor, currency: 'CNY' });
  expect(outcome.status).toBe('succeeded');
  return reference;
}

describe('bank: synchronous operations', () => {
  it('Given a signed agreement, When the bank is asked to pay quick, Then it succeeds at once with its 0.38% cost rounded half-up', async () => {
    const bank = t.adapter('bank');
    const agreementToken = await signedAgreement();
    const outcome = await bank.pay({ reference: ref('pay'), product: 'quick', amountMinor: 12_500n, currency: 'CNY', payerId: 'U1', agreementToken });
    expect(outcome).toMatchObject({ status: 'succeeded', feeMinor: 48n }); // 47.5 → 48
    expect(outcome.status === 'succeeded' && outcome.channelTxnId).toMatch(/^BANK\d{8}\d{8}$/);
  });

  it('Given no agreement, When quick pay is asked, Then the bank declines agreement_required', async () => {
    const outcome = await t.adapter('bank').pay({ reference: ref('pay'), product: 'quick', amountMinor: 1_000n, currency: 'CNY' });
    expect(outcome).toMatchObject({ status: 'declined', declineCode: 'agreement_required' });
  });

  it('Given a payment, When the same reference is sent again (even with another amount), Then the first result comes back', async () => {
    const bank = t.adapter('bank');
    const reference = ref('pay');
    const first = await bank.pay({ reference, product: 'phone_bill', amountMinor: 5_000n, currency: 'CNY' });
    const again = await bank.pay({ reference, product: 'phone_bill', amountMinor: 5_000n, currency: 'CNY' });
    const other = await bank.pay({ reference, product: 'phone_bill', amountMinor: 9_999n, currency: 'CNY' });
    expect(first.status).toBe('succeeded');
    expect(again).toEqual(first);
    expect(other).toEqual(first);
  });

  it('Given a payment of 100.00, When it is refunded 30.00 then 70.00 then 0.01, Then the cost comes back in proportion and the last is refund_exceeds_payment', async () => {
    const bank = t.adapter('bank');
    const originalReference = await paid(10_000n); // cost 38
    const r1 = await bank.refund({ reference: ref('refund'), originalReference, amountMinor: 3_000n, currency: 'CNY' });
    const r2 = await bank.refund({ reference: ref('refund'), originalReference, amountMinor: 7_000n, currency: 'CNY' });
    const r3 = await bank.refund({ reference: ref('refund'), originalReference, amountMinor: 1n, currency: 'CNY' });
    expect(r1).toMatchObject({ status: 'succeeded', feeMinor: 11n });
    expect(r2).toMatchObject({ status: 'succeeded', feeMinor: 27n });
    expect(r3).toMatchObject({ status: 'declined', declineCode: 'refund_exceeds_payment' });
  });

  it('Given a single refund above the payment, When it is asked, Then it is declined refund_exceeds_payment', async () => {
    const originalReference = await paid(2_000n);
    const r = await t.adapter('bank').refund({ reference: ref('refund'), originalReference, amountMinor: 2_001n, currency: 'CNY' });
    expect(r).toMatchObject({ status: 'declined', declineCode: 'refund_exceeds_payment' });
  });

  it('Given a payment today, When it is voided in full, Then it succeeds, gives the whole cost back, and a refund after it is declined original_voided', async () => {
    const bank = t.adapter('bank');
    const originalReference = await paid(10_000n);
    const partial = await bank.void({ reference: ref('void'), originalReference, amountMinor: 5_000n, currency: 'CNY' });
    expect(partial).toMatchObject({ status: 'declined', declineCode: 'amount_mismatch' });
    const v = await bank.void({ reference: ref('void'), originalReference, amountMinor: 10_000n, currency: 'CNY' });
    expect(v).toMatchObject({ status: 'succeeded', feeMinor: 38n });
    const r = await bank.refund({ reference: ref('refund'), originalReference, amountMinor: 100n, currency: 'CNY' });
    expect(r).toMatchObject({ status: 'declined', declineCode: 'original_voided' });
  });

  it('Given a pre-auth of 500.00, When captured 300.00, then 300.00 more, Then the second is capture_exceeds_preauth; a capture void reopens the hold; the pre-auth void needs no standing capture', async () => {
    const bank = t.adapter('bank');
    const preauthRef = ref('preauth');
    expect(await bank.preauth({ reference: preauthRef, product: 'preauth', amountMinor: 50_000n, currency: 'CNY' })).toMatchObject({ status: 'succeeded', feeMinor: 0n });
    const captureRef = ref('capture');
    expect(await bank.capture({ reference: captureRef, originalReference: preauthRef, amountMinor: 30_000n, currency: 'CNY' })).toMatchObject({
      status: 'succeeded',
      feeMinor: 114n,
    });
    expect(await bank.capture({ reference: ref('capture'), originalReference: preauthRef, amountMinor: 30_000n, currency: 'CNY' })).toMatchObject({
      status: 'declined',
      declineCode: 'capture_exceeds_preauth',
    });
    expect(await bank.preauthVoid({ reference: ref('pv'), originalReference: preauthRef, amountMinor: 50_000n, currency: 'CNY' })).toMatchObject({
      status: 'declined',
      declineCode: 'preauth_captured',
    });
    expect(await bank.captureVoid({ reference: ref('cv'), originalReference: captureRef, amountMinor: 30_000n, currency: 'CNY' })).toMatchObject({
      status: 'succeeded',
      feeMinor: 114n,
    });
    expect(await bank.preauthVoid({ reference: ref('pv'), originalReference: preauthRef, amountMinor: 50_000n, currency: 'CNY' })).toMatchObject({ status: 'succeeded' });
    expect(await bank.capture({ reference: ref('capture'), originalReference: preauthRef, amountMinor: 100n, currency: 'CNY' })).toMatchObject({
      status: 'declined',
      declineCode: 'original_voided',
    });
  });

  it('Given an agreement, When it is unsigned, Then a payment with its token is declined agreement_not_active and a second unsign too', async () => {
    const bank = t.adapter('bank');
    const agreementToken = await signedAgreement('U2');
    expect(await bank.unsign(ref('unsign'), agreementToken)).toMatchObject({ status: 'succeeded' });
    expect(await bank.pay({ reference: ref('pay'), product: 'agreement', amountMinor: 100n, currency: 'CNY', agreementToken })).toMatchObject({
      status: 'declined',
      declineCode: 'agreement_not_active',
    });
    expect(await bank.unsign(ref('unsign'), agreementToken)).toMatchObject({ status: 'declined', declineCode: 'agreement_not_active' });
  });

  it('Given operations at the bank, When each is queried, Then the recorded state comes back, and an unknown reference is not_found', async () => {
    const bank = t.adapter('bank');
    const reference = await paid(777n);
    expect(await bank.query(reference, 'pay')).toMatchObject({ status: 'succeeded', feeMinor: 3n });
    expect(await bank.query(reference, 'refund')).toEqual({ status: 'not_found' });
    expect(await bank.query('never-sent', 'pay')).toEqual({ status: 'not_found' });
  });

  it('Given the bank took payments, When its balance is asked, Then it is what came in less its cost, per currency', async () => {
    const before = await t.adapter('bank').balance();
    const cny = (bs: readonly { currency: string; availableMinor: bigint }[]): bigint => bs.find((b) => b.currency === 'CNY')?.availableMinor ?? -1n;
    await paid(10_000n);
    const after = await t.adapter('bank').balance();
    expect(cny(after) - cny(before)).toBe(10_000n - 38n);
    expect(after.map((b) => b.currency)).toContain('USD');
  });

  it('Given a payout asked of the bank, When it arrives, Then it is declined operation_not_supported', async () => {
    const outcome = await t.adapter('bank').payout({ reference: ref('po'), amountMinor: 100n, currency: 'CNY', payeeName: 'M', payeeAccount: '6222' });
    expect(outcome).toMatchObject({ status: 'declined', declineCode: 'operation_not_supported' });
  });
});

describe('wallet and payout: answers by notification', () => {
  it('Given a notify URL, When the wallet is asked to pay, Then it answers processing with a cashier URL and a signed notification arrives that the adapter verifies', async () => {
    const wallet = t.adapter('wallet');
    const reference = ref('wpay');
    const before = receiver.received.length;
    const outcome = await wallet.pay({ reference, product: 'wallet', amountMinor: 8_800n, currency: 'CNY', notifyUrl: receiver.url });
    expect(outcome.status).toBe('processing');
    const processing = outcome as Extract<typeof outcome, { status: 'processing' }>;
    expect(processing.redirectUrl).toBe(`${t.url}/cashier/wallet/${processing.channelTxnId}`);
    const got = await receiver.waitFor(before + 1);
    const parsed = wallet.parseNotification(got.headers, got.rawBody);
    expect(parsed).toEqual({
      ok: true,
      notification: {
        reference,
        channelTxnId: processing.channelTxnId,
        operation: 'pay',
        status: 'succeeded',
        amountMinor: 8_800n,
        currency: 'CNY',
        notificationId: `ntf_${processing.channelTxnId}`,
      },
    });
    expect(await wallet.query(reference, 'pay')).toMatchObject({ status: 'succeeded', feeMinor: 53n }); // 0.6% of 88.00 = 52.8
  });

  it('Given a notification, When its body or signature is forged, Then parseNotification says notification_signature_invalid', async () => {
    const wallet = t.adapter('wallet');
    const before = receiver.received.length;
    await wallet.pay({ reference: ref('wpay'), product: 'wallet', amountMinor: 1_000n, currency: 'CNY', notifyUrl: receiver.url });
    const got = await receiver.waitFor(before + 1);
    const tampered = Buffer.from(got.rawBody.toString('utf8').replace('"1000"', '"100000"'));
    expect(wallet.parseNotification(got.headers, tampered)).toMatchObject({ ok: false, code: 'notification_signature_invalid' });
    const forged = Buffer.from(got.rawBody);
    const wrongKey = signedHeaders('not-the-wallet-secret-at-all', forged, Date.now());
    expect(wallet.parseNotification(wrongKey, forged)).toMatchObject({ ok: false, code: 'notification_signature_invalid' });
    expect(wallet.parseNotification({}, forged)).toMatchObject({ ok: false, code: 'notification_signature_invalid' });
    const stale = signedHeaders(TEST_SECRETS.wallet, forged, Date.now() - 301_000);
    expect(wallet.parseNotification(stale, forged)).toMatchObject({ ok: false, code: 'notification_signature_invalid' });
    const garbage = Buffer.from('{"hello":1}');
    expect(wallet.parseNotification(signedHeaders(TEST_SECRETS.wallet, garbage, Date.now()), garbage)).toMatchObject({ ok: false, code: 'notification_malformed' });
  });

  it('Given the magic amount ..51 at the wallet, When it pays, Then it answers processing and the notification says declined', async () => {
    const wallet = t.adapter('wallet');
    const before = receiver.received.length;
    const reference = ref('wpay');
    expect(await wallet.pay({ reference, product: 'wallet', amountMinor: 10_051n, currency: 'CNY', notifyUrl: receiver.url })).toMatchObject({ status: 'processing' });
    const parsed = wallet.parseNotification((await receiver.waitFor(before + 1)).headers, receiver.received[before]?.rawBody ?? Buffer.alloc(0));
    expect(parsed).toMatchObject({ ok: true, notification: { reference, status: 'declined' } });
    expect(await wallet.query(reference, 'pay')).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds' });
  });

  it('Given the payout channel, When it pays out, Then it answers processing, notifies succeeded and its balance goes down by the amount', async () => {
    const payout = t.adapter('payout');
    const [before] = await payout.balance();
    const count = receiver.received.length;
    const reference = ref('po');
    const outcome = await payout.payout({ reference, amountMinor: 123_456n, currency: 'CNY', payeeName: 'Merchant M1', payeeAccount: '6222000011112222', notifyUrl: receiver.url });
    expect(outcome).toMatchObject({ status: 'processing' });
    const parsed = payout.parseNotification((await receiver.waitFor(count + 1)).headers, receiver.received[count]?.rawBody ?? Buffer.alloc(0));
    expect(parsed).toMatchObject({ ok: true, notification: { reference, operation: 'payout', status: 'succeeded', amountMinor: 123_456n } });
    const [after] = await payout.balance();
    expect(before?.availableMinor).toBe(1_000_000_000n);
    expect(after?.availableMinor).toBe(1_000_000_000n - 123_456n);
    const tooMuch = await payout.payout({ reference: ref('po'), amountMinor: 1_000_000_000n, currency: 'CNY', payeeName: 'M', payeeAccount: '1' });
    expect(tooMuch).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds' });
  });
});

describe('knobs and failures become declines or unknowns', () => {
  it('Given decline_rate 1, When the bank is asked to pay, Then it declines insufficient_funds', async () => {
    expect((await t.admin('bank', { decline_rate: 1 })).status).toBe(200);
    expect(await t.adapter('bank').pay({ reference: ref('pay'), product: 'phone_bill', amountMinor: 100n, currency: 'CNY' })).toMatchObject({
      status: 'declined',
      declineCode: 'insufficient_funds',
    });
  });

  it('Given the magic amount ..52, When the bank is asked to pay, Then it declines card_refused', async () => {
    expect(await t.adapter('bank').pay({ reference: ref('pay'), product: 'phone_bill', amountMinor: 152n, currency: 'CNY' })).toMatchObject({
      status: 'declined',
      declineCode: 'card_refused',
    });
  });

  it('Given an outage, When anything is asked, Then the answer is unknown/unavailable and nothing is recorded', async () => {
    await t.admin('bank', { outage: true });
    const reference = ref('pay');
    expect(await t.adapter('bank').pay({ reference, product: 'phone_bill', amountMinor: 100n, currency: 'CNY' })).toMatchObject({ status: 'unknown', reason: 'unavailable' });
    await expect(t.adapter('bank').balance()).rejects.toMatchObject({ name: 'SimChannelError', reason: 'unavailable' });
    await t.admin('bank', { outage: false });
    expect(await t.adapter('bank').query(reference, 'pay')).toEqual({ status: 'not_found' });
  });

  it('Given an outage window around now, When the bank is asked, Then it is unavailable; after the window it answers', async () => {
    const now = Date.now();
    await t.admin('bank', { outage: { from: new Date(now - 1_000).toISOString(), to: now + 60_000 } });
    expect(await t.adapter('bank').query('x', 'pay')).toMatchObject({ status: 'unknown', reason: 'unavailable' });
    await t.admin('bank', { outage: { from: now - 2_000, to: now - 1_000 } });
    expect(await t.adapter('bank').query('x', 'pay')).toEqual({ status: 'not_found' });
  });

  it('Given timeout_rate 1, When the bank is asked to pay, Then the adapter gives up unknown/timeout, and a later query finds the payment succeeded', async () => {
    await t.admin('bank', { timeout_rate: 1 });
    const reference = ref('pay');
    const started = Date.now();
    const outcome = await t.adapter('bank', 300).pay({ reference, product: 'phone_bill', amountMinor: 4_200n, currency: 'CNY' });
    expect(outcome).toMatchObject({ status: 'unknown', reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2_000);
    await t.admin('bank', { timeout_rate: 0 });
    expect(await t.adapter('bank').query(reference, 'pay')).toMatchObject({ status: 'succeeded', feeMinor: 16n });
    // A replay is answered at once from the record.
    expect(await t.adapter('bank', 300).pay({ reference, product: 'phone_bill', amountMinor: 4_200n, currency: 'CNY' })).toMatchObject({ status: 'succeeded' });
  });

  it('Given timeout_mode reset, When a refund times out, Then the connection drops (unknown/timeout) and the refund is recorded', async () => {
    const originalReference = await paid(3_000n);
    await t.admin('bank', { timeout_rate: 1, timeout_mode: 'reset' });
    const reference = ref('refund');
    expect(await t.adapter('bank').refund({ reference, originalReference, amountMinor: 1_000n, currency: 'CNY' })).toMatchObject({ status: 'unknown', reason: 'timeout' });
    await t.admin('bank', { timeout_rate: 0 });
    expect(await t.adapter('bank').query(reference, 'refund')).toMatchObject({ status: 'succeeded' });
  });

  it('Given the magic amounts ..61, ..62 and ..63, When paid, Then they are unknown timeout (recorded), unavailable (not recorded) and protocol (recorded)', async () => {
    const bank = t.adapter('bank', 300);
    const [r61, r62, r63] = [ref('pay'), ref('pay'), ref('pay')];
    expect(await bank.pay({ reference: r61, product: 'phone_bill', amountMinor: 161n, currency: 'CNY' })).toMatchObject({ status: 'unknown', reason: 'timeout' });
    expect(await bank.pay({ reference: r62, product: 'phone_bill', amountMinor: 162n, currency: 'CNY' })).toMatchObject({ status: 'unknown', reason: 'unavailable' });
    expect(await bank.pay({ reference: r63, product: 'phone_bill', amountMinor: 163n, currency: 'CNY' })).toMatchObject({ status: 'unknown', reason: 'protocol' });
    expect(await bank.query(r61, 'pay')).toMatchObject({ status: 'succeeded' });
    expect(await bank.query(r62, 'pay')).toEqual({ status: 'not_found' });
    expect(await bank.query(r63, 'pay')).toMatchObject({ status: 'succeeded' });
  });

  it('Given latency above the adapter timeout, When asked, Then unknown/timeout', async () => {
    await t.admin('bank', { latency_ms: 500 });
    expect(await t.adapter('bank', 150).query('x', 'pay')).toMatchObject({ status: 'unknown', reason: 'timeout' });
  });

  it('Given the wrong secret, When the adapter calls, Then the simulator refuses it (401) and the adapter says unknown/protocol', async () => {
    const stranger = new SimChannelAdapter({ channelId: 'bank', baseUrl: t.url, secret: 'a-secret-the-bank-never-heard-of', timeoutMs: 2_000 });
    const outcome = await stranger.pay({ reference: ref('pay'), product: 'phone_bill', amountMinor: 100n, currency: 'CNY' });
    expect(outcome).toMatchObject({ status: 'unknown', reason: 'protocol' });
    expect(outcome.status === 'unknown' && outcome.message).toContain('signature_invalid');
  });

  it('Given no simulator at the address, When the adapter calls, Then unknown/unavailable', async () => {
    const port = await freePort();
    const nowhere = new SimChannelAdapter({ channelId: 'bank', baseUrl: `http://127.0.0.1:${port}`, secret: TEST_SECRETS.bank, timeoutMs: 1_000 });
    expect(await nowhere.pay({ reference: ref('pay'), product: 'phone_bill', amountMinor: 100n, currency: 'CNY' })).toMatchObject({ status: 'unknown', reason: 'unavailable' });
  });
});
