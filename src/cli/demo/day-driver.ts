// The demo's day driver: drives a realistic business day through the signed HTTP API of a running
// daemon (backed by the channel simulator) — every product, refunds, voids, pre-auths with captures,
// payouts, declines by the simulator's magic amounts, an asynchronous wallet, a risk challenge answered
// with the code from the SMS file, and an idempotent replay — and returns what happened, read back from
// the API. A seeded PRNG picks merchants, products and amounts, so the same seed gives the same day.

import { readFile } from 'node:fs/promises';
import { DemoClient, type DemoMerchant, type DemoReply } from './client.js';
import { seededPrng, type Prng } from './prng.js';

export interface DayOptions {
  readonly baseUrl: string;
  /** The merchants whose keys drive the day (at least one). */
  readonly merchants: readonly DemoMerchant[];
  readonly seed: string;
  /** How many ordinary payments (spread over products and merchants), 1…DAY_LIMITS.paymentsMax. */
  readonly paymentsCount: number;
  /** The daemon's SMS file (online.risk.otp.sms_file, resolved): where the challenge code is read. */
  readonly smsFile: string;
  /** The challenge threshold of the daemon's risk config (online.risk.amounts challenge_over_minor, CNY). */
  readonly challengeOverMinor: bigint;
  /** A payer whose `user:<id>:coin:COIN` account holds coins; without one, no virtual-coin payments. */
  readonly coinPayerId?: string;
  /** Requests in flight at once (default 16). */
  readonly concurrency?: number;
  readonly onProgress?: (line: string) => void;
}

/** Limits of one driven day, with their reasons. */
export const DAY_LIMITS = {
  /** A demo day, not a benchmark: keeps the run within the demo's two minutes. */
  paymentsMax: 5_000,
  concurrencyMax: 32,
  /** How long asynchronous payments, payouts and challenges may take to complete. */
  settleWaitMs: 20_000,
  pollIntervalMs: 50,
  /** Ordinary amounts stay well below the risk challenge threshold and the credit line. */
  amountMaxMinor: 200_000,
} as const;

export interface Tally {
  count: number;
  amountMinor: string;
}

export interface MerchantDay {
  /** CNY payable the API objects imply: payments and captures net of fees, less refunds and payouts. */
  expectedPayableMinor: string;
  payments: number;
}

export interface DaySummary {
  readonly seed: string;
  readonly businessDates: readonly string[];
  /** Final state of every payment, by product then status (amounts in the product's currency). */
  readonly payments: { total: number; byProduct: Record<string, Record<string, Tally>>; byStatus: Record<string, number> };
  /** Failure codes of failed payments (declines, risk). */
  readonly declines: Record<string, number>;
  readonly agreements: number;
  readonly topups: Tally;
  readonly refunds: { full: number; partial: number; amountMinor: string };
  readonly voids: number;
  readonly preauths: { authorized: number; captured: number; captureAmountMinor: string; voided: number };
  readonly payouts: Tally & { succeeded: number };
  readonly challenge: { paymentId: string; status: string };
  readonly replay: { paymentId: string; replayed: boolean };
  readonly merchants: Record<string, MerchantDay>;
  readonly ids: { payments: string[]; refunds: string[]; preauths: string[]; captures: string[]; payouts: string[] };
}

export class DemoDriveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoDriveError';
  }
}

type Product = 'quick' | 'agreement' | 'netbank' | 'wallet' | 'foreign_card' | 'phone_bill' | 'balance' | 'credit' | 'virtual_coin';

/** Relative weights of the products in an ordinary day. */
const PRODUCT_WEIGHTS: readonly (readonly [Product, number])[] = [
  ['quick', 20],
  ['agreement', 8],
  ['netbank', 8],
  ['wallet', 20],
  ['foreign_card', 10],
  ['phone_bill', 8],
  ['balance', 10],
  ['credit', 8],
  ['virtual_coin', 8],
];

/** The simulator's magic endings (src/online/channel-sim/magic-amounts.ts): ordinary amounts avoid them. */
const MAGIC_ENDINGS: ReadonlySet<number> = new Set([51, 52, 61, 62, 63]);
const DECLINE_ENDINGS = [51, 52] as const;
/** Every n-th succeeded wallet payment is voided the same day (撤销). */
const VOID_EVERY_NTH = 12;
/** Products that reach a channel, where a magic amount declines. */
const CHANNEL_PRODUCTS: ReadonlySet<Product> = new Set(['quick', 'agreement', 'netbank', 'wallet', 'foreign_card', 'phone_bill']);
const SETTLED_STATES: ReadonlySet<string> = new Set(['succeeded', 'partially_refunded', 'refunded']);

interface MerchantCtx {
  readonly merchant: DemoMerchant;
  readonly client: DemoClient;
  agreementId: string;
  readonly cardPayer: string;
  readonly balancePayer: string;
  balanceLeftMinor: number;
}

interface Planned {
  readonly m: MerchantCtx;
  readonly body: Record<string, unknown>;
}

function pickProduct(prng: Prng, withCoins: boolean): Product {
  const weights = PRODUCT_WEIGHTS.filter(([p]) => withCoins || p !== 'virtual_coin');
  const total = weights.reduce((s, [, w]) => s + w, 0);
  let r = prng.int(1, total);
  for (const [p, w] of weights) {
    r -= w;
    if (r <= 0) return p;
  }
  return 'quick';
}

/** An ordinary amount in minor units: no magic ending, so the channel simply takes it. */
function ordinaryAmount(prng: Prng, minMinor: number, maxMinor: number): number {
  let a = prng.int(minMinor, maxMinor);
  while (MAGIC_ENDINGS.has(a % 100)) a += 1;
  return a;
}

async function pool<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0);

function expectOk(reply: DemoReply, what: string): Record<string, unknown> {
  if (reply.status >= 400) throw new DemoDriveError(`${what}: HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

async function waitUntil<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const until = Date.now() + DAY_LIMITS.settleWaitMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new DemoDriveError(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, DAY_LIMITS.pollIntervalMs));
  }
}

async function smsCode(smsFile: string, paymentId: string): Promise<string> {
  return waitUntil(async () => {
    const text = await readFile(smsFile, 'utf8').catch(() => '');
    const line = text.split('\n').find((l) => l.includes(paymentId));
    return line === undefined ? undefined : /code is (\d+)/.exec(line)?.[1];
  }, `the one-time code of ${paymentId} in ${smsFile}`);
}

export async function driveDay(options: DayOptions): Promise<DaySummary> {
  if (options.merchants.length === 0) throw new DemoDriveError('driveDay needs at least one merchant');
  if (!Number.isInteger(options.paymentsCount) || options.paymentsCount < 1 || options.paymentsCount > DAY_LIMITS.paymentsMax) {
    throw new DemoDriveError(`paymentsCount must be 1…${DAY_LIMITS.paymentsMax}`);
  }
  const concurrency = Math.min(options.concurrency ?? 16, DAY_LIMITS.concurrencyMax);
  const say = options.onProgress ?? ((): void => undefined);
  const prng = seededPrng(options.seed);
  const tag = options.seed.replace(/[^A-Za-z0-9]/g, '').slice(0, 12) || 'demo';
  let orderSeq = 0;
  const orderNo = (prefix: string): string => `${prefix}-${tag}-${String(++orderSeq).padStart(5, '0')}`;

  const paymentIds: string[] = [];
  const refundIds: string[] = [];
  const preauthIds: string[] = [];
  const captureIds: string[] = [];
  const payoutIds: string[] = [];
  const paymentOwner = new Map<string, MerchantCtx>();
  const refundOwner = new Map<string, MerchantCtx>();
  /** Per merchant: captures net of their fee, and payouts — the payable moves besides payments and refunds. */
  const otherPayableMinor = new Map<string, bigint>();
  const addOther = (merchantId: string, minor: bigint): void => void otherPayableMinor.set(merchantId, (otherPayableMinor.get(merchantId) ?? 0n) + minor);

  // 1. Each merchant's payer signs a card agreement (签约) and tops up a balance (充值).
  const ctxs: MerchantCtx[] = options.merchants.map((merchant) => ({
    merchant,
    client: new DemoClient(options.baseUrl, merchant),
    agreementId: '',
    cardPayer: `P${merchant.merchantId}`,
    balancePayer: `B${merchant.merchantId}`,
    balanceLeftMinor: 0,
  }));
  const topups = { count: 0, amountMinor: 0n };
  for (const m of ctxs) {
    const agreement = expectOk(await m.client.post('/v1/agreements', { payer_id: m.cardPayer, account_hint: '6222****1234' }), 'sign an agreement');
    if (agreement['status'] !== 'active') throw new DemoDriveError(`agreement ${str(agreement['id'])} is ${str(agreement['status'])}`);
    m.agreementId = str(agreement['id']);
    const topupMinor = 2_000_000;
    const top = expectOk(await m.client.post('/v1/topups', { merchant_topup_no: orderNo('T'), payer_id: m.balancePayer, amount: topupMinor, currency: 'CNY' }), 'top up');
    await waitUntil(async () => ((await m.client.get(`/v1/topups/${str(top['id'])}`)).body['status'] === 'succeeded' ? true : undefined), 'a top-up');
    m.balanceLeftMinor = topupMinor;
    topups.count += 1;
    topups.amountMinor += BigInt(topupMinor);
  }
  say(`signed ${ctxs.length} agreements and topped up ${ctxs.length} balances`);

  // 2. The ordinary payments, planned up front (so the plan depends on the seed only), sent concurrently.
  const planned: Planned[] = [];
  for (let i = 0; i < options.paymentsCount; i++) {
    const m = prng.pick(ctxs);
    const product = pickProduct(prng, options.coinPayerId !== undefined);
    const body: Record<string, unknown> = { merchant_order_no: orderNo('O'), product, currency: 'CNY' };
    let amount = ordinaryAmount(prng, 100, DAY_LIMITS.amountMaxMinor);
    if (CHANNEL_PRODUCTS.has(product) && prng.next() < 0.04) amount = Math.floor(amount / 100) * 100 + prng.pick(DECLINE_ENDINGS);
    if (product === 'quick' || product === 'agreement') Object.assign(body, { agreement_id: m.agreementId, payer_id: m.cardPayer });
    if (product === 'balance') {
      amount = ordinaryAmount(prng, 100, 20_000);
      if (amount > m.balanceLeftMinor) continue;
      m.balanceLeftMinor -= amount;
      body['payer_id'] = m.balancePayer;
    }
    if (product === 'credit') {
      amount = ordinaryAmount(prng, 100, 100_000);
      body['payer_id'] = `C${m.merchant.merchantId}${String(i)}`;
    }
    if (product === 'virtual_coin') {
      amount = prng.int(1, 500);
      Object.assign(body, { currency: 'COIN', payer_id: options.coinPayerId });
    }
    body['amount'] = amount;
    planned.push({ m, body });
  }
  // Ids in plan order (not completion order), so the follow-ups below are the same on every run.
  const created = await pool(planned, concurrency, async (p) => {
    const reply = await p.m.client.post('/v1/payments', p.body);
    // A decline by the channel is a payment that failed (201/402 with a body); anything else is a bug.
    if (typeof reply.body['id'] !== 'string') throw new DemoDriveError(`pay ${JSON.stringify(p.body)}: HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
    paymentOwner.set(reply.body['id'], p.m);
    return reply.body['id'];
  });
  paymentIds.push(...created);
  say(`sent ${planned.length} payments`);

  // 3. A risk challenge (增强验证): above the threshold, answered with the code from the SMS file.
  const first = ctxs[0] as MerchantCtx;
  const challenged = expectOk(
    await first.client.post('/v1/payments', {
      merchant_order_no: orderNo('RISK'),
      product: 'foreign_card',
      amount: Number(options.challengeOverMinor) + 10_000,
      currency: 'CNY',
      phone: '13812345678',
      device_id: 'demo-device-1',
    }),
    'a challenged payment',
  );
  const challengeId = str(challenged['id']);
  paymentIds.push(challengeId);
  paymentOwner.set(challengeId, first);
  if (challenged['status'] !== 'requires_verification') throw new DemoDriveError(`payment ${challengeId} was not challenged (${str(challenged['status'])})`);
  const code = await smsCode(options.smsFile, challengeId);
  const verified = expectOk(await first.client.post(`/v1/payments/${challengeId}/verify`, { code }), 'verify the code');
  say(`risk challenge ${challengeId}: code from the SMS file accepted, payment ${str(verified['status'])}`);

  // 4. An idempotent replay: the same key and body answer the stored response, nothing new.
  const replayKey = first.client.newIdempotencyKey();
  const replayBody = { merchant_order_no: orderNo('IDEM'), product: 'phone_bill', amount: 5_000, currency: 'CNY' };
  const original = expectOk(await first.client.post('/v1/payments', replayBody, replayKey), 'a payment to replay');
  const again = await first.client.post('/v1/payments', replayBody, replayKey);
  const replayId = str(original['id']);
  paymentIds.push(replayId);
  paymentOwner.set(replayId, first);
  if (str(again.body['id']) !== replayId) throw new DemoDriveError('the replay answered another payment');

  // 5. Wait for the asynchronous ones (wallet, netbank) to be completed by the channel's notification.
  const finalOf = async (id: string): Promise<Record<string, unknown>> => {
    const m = paymentOwner.get(id) as MerchantCtx;
    return expectOk(await m.client.get(`/v1/payments/${id}`), `payment ${id}`);
  };
  let views = await pool(paymentIds, concurrency, finalOf);
  const pending = views.filter((v) => v['status'] === 'processing').map((v) => str(v['id']));
  await pool(pending, concurrency, async (id) => waitUntil(async () => ((await finalOf(id))['status'] === 'processing' ? undefined : true), `payment ${id}`));
  views = await pool(paymentIds, concurrency, finalOf);
  const asynchronous = views.filter((v) => v['product'] === 'wallet' || v['product'] === 'netbank').length;
  say(`${asynchronous} asynchronous payments (wallet, netbank) completed by the channel's notification`);

  // 6. Voids (撤销, same day, full) of wallet payments and refunds (退款, full and partial) of bank
  // payments. Voids stay on the wallet: the bank's UnionPay bill cannot hold the daemon's void reference
  // (`void.<payment id>`, 34 bytes, over ZM's 32-byte order field: bill_field_too_long).
  const succeeded = views.filter((v) => v['status'] === 'succeeded' && v['currency'] === 'CNY' && str(v['id']) !== challengeId);
  const voidIds = succeeded.filter((x) => x['channel'] === 'wallet').filter((_, i) => i % VOID_EVERY_NTH === 1).map((v) => str(v['id']));
  const refundPlan: { id: string; m: MerchantCtx; body: Record<string, unknown>; full: boolean }[] = [];
  for (const v of succeeded.filter((x) => x['channel'] === 'bank')) {
    const id = str(v['id']);
    const m = paymentOwner.get(id) as MerchantCtx;
    const amount = num(v['amount']);
    const roll = prng.next();
    if (roll < 0.04) refundPlan.push({ id, m, full: true, body: { merchant_refund_no: orderNo('RF'), amount } });
    else if (roll < 0.08 && amount >= 200) refundPlan.push({ id, m, full: false, body: { merchant_refund_no: orderNo('RP'), amount: Math.min(ordinaryAmount(prng, 100, Math.floor(amount / 2)), amount - 1) } });
  }
  await pool(voidIds, concurrency, async (id) => expectOk(await (paymentOwner.get(id) as MerchantCtx).client.post(`/v1/payments/${id}/void`, {}), `void ${id}`));
  const voids = voidIds.length;
  const refunded = await pool(refundPlan, concurrency, async (r) => str(expectOk(await r.m.client.post(`/v1/payments/${r.id}/refunds`, r.body), `refund ${r.id}`)['id']));
  refunded.forEach((id, i) => {
    refundIds.push(id);
    refundOwner.set(id, (refundPlan[i] as (typeof refundPlan)[number]).m);
  });
  const full = refundPlan.filter((r) => r.full).length;
  const partial = refundPlan.length - full;
  const refundedMinor = refundPlan.reduce((t, r) => t + BigInt(num(r.body['amount'])), 0n);
  say(`${voids} voids, ${full} full and ${partial} partial refunds`);

  // 7. Pre-authorisations (预授权): per merchant one captured in part, one voided; then its payout.
  const days = await pool(ctxs, concurrency, async (m) => {
    const hotel = expectOk(await m.client.post('/v1/preauths', { merchant_order_no: orderNo('PA'), amount: 50_000, currency: 'CNY' }), 'a pre-auth');
    const cancelled = expectOk(await m.client.post('/v1/preauths', { merchant_order_no: orderNo('PA'), amount: 20_000, currency: 'CNY' }), 'a pre-auth');
    const cap = expectOk(await m.client.post(`/v1/preauths/${str(hotel['id'])}/capture`, { amount: 38_000 }), 'a partial capture');
    if (cap['status'] === 'succeeded') addOther(m.merchant.merchantId, BigInt(num(cap['amount']) - num(cap['fee'])));
    expectOk(await m.client.post(`/v1/preauths/${str(cancelled['id'])}/void`, {}), 'a pre-auth void');
    // 8. A payout (代付) from the merchant's balance, completed by the payout channel's notification.
    const po = expectOk(
      await m.client.post('/v1/payouts', { merchant_payout_no: orderNo('PO'), amount: 10_000, currency: 'CNY', payee_name: 'Li Lei', payee_account: '6222020200112233' }),
      'a payout',
    );
    const payoutId = str(po['id']);
    const status = await waitUntil(async () => {
      const st = str((await m.client.get(`/v1/payouts/${payoutId}`)).body['status']);
      return st === 'processing' ? undefined : st;
    }, `payout ${payoutId}`);
    if (status === 'succeeded') addOther(m.merchant.merchantId, -10_000n);
    return { preauths: [str(hotel['id']), str(cancelled['id'])], captureId: str(cap['id']), payoutId, payoutSucceeded: status === 'succeeded' };
  });
  for (const d of days) {
    preauthIds.push(...d.preauths);
    captureIds.push(d.captureId);
    payoutIds.push(d.payoutId);
  }
  const captured = days.length;
  const voidedAuths = days.length;
  const captureMinor = 38_000n * BigInt(days.length);
  const payoutMinor = 10_000n * BigInt(days.length);
  const payoutsSucceeded = days.filter((d) => d.payoutSucceeded).length;
  say(`${preauthIds.length} pre-auths (${captured} captured in part, ${voidedAuths} voided), ${payoutsSucceeded} payouts`);

  // 9. Read everything back and tally.
  views = await pool(paymentIds, concurrency, finalOf);
  const refundViews = await pool(refundIds, concurrency, async (id) => expectOk(await (refundOwner.get(id) as MerchantCtx).client.get(`/v1/refunds/${id}`), `refund ${id}`));
  return tally();

  // A function declaration (hoisted) so the steps above read in order.
  function tally(): DaySummary {
    const byProduct: Record<string, Record<string, Tally>> = {};
    const byStatus: Record<string, number> = {};
    const declines: Record<string, number> = {};
    const merchants: Record<string, MerchantDay> = {};
    const payable = new Map<string, bigint>();
    const add = (merchantId: string, minor: bigint): void => void payable.set(merchantId, (payable.get(merchantId) ?? 0n) + minor);
    const dates = new Set<string>();
    for (const m of ctxs) merchants[m.merchant.merchantId] = { expectedPayableMinor: '0', payments: 0 };
    for (const v of views) {
      const product = str(v['product']);
      const status = str(v['status']);
      const row = (byProduct[product] ??= {});
      const t = (row[status] ??= { count: 0, amountMinor: '0' });
      t.count += 1;
      t.amountMinor = (BigInt(t.amountMinor) + BigInt(num(v['amount']))).toString();
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (status === 'failed') declines[str(v['failure_code'])] = (declines[str(v['failure_code'])] ?? 0) + 1;
      if (typeof v['business_date'] === 'string') dates.add(v['business_date']);
      const owner = (paymentOwner.get(str(v['id'])) as MerchantCtx).merchant.merchantId;
      (merchants[owner] as MerchantDay).payments += 1;
      if (SETTLED_STATES.has(status) && v['currency'] === 'CNY') add(owner, BigInt(num(v['amount']) - num(v['fee'])));
    }
    for (const r of refundViews) {
      if (r['status'] !== 'succeeded') continue;
      const owner = (paymentOwner.get(str(r['payment_id'])) as MerchantCtx).merchant.merchantId;
      add(owner, -BigInt(num(r['amount']) - num(r['fee_returned'])));
    }
    for (const [merchantId, minor] of otherPayableMinor) add(merchantId, minor);
    for (const [id, m] of Object.entries(merchants)) m.expectedPayableMinor = (payable.get(id) ?? 0n).toString();
    return {
      seed: options.seed,
      businessDates: [...dates].sort(),
      payments: { total: views.length, byProduct, byStatus },
      declines,
      agreements: ctxs.length,
      topups: { count: topups.count, amountMinor: topups.amountMinor.toString() },
      refunds: { full, partial, amountMinor: refundedMinor.toString() },
      voids,
      preauths: { authorized: preauthIds.length, captured, captureAmountMinor: captureMinor.toString(), voided: voidedAuths },
      payouts: { count: payoutIds.length, succeeded: payoutsSucceeded, amountMinor: payoutMinor.toString() },
      challenge: { paymentId: challengeId, status: str(views.find((v) => v['id'] === challengeId)?.['status']) },
      replay: { paymentId: replayId, replayed: again.replayed },
      merchants,
      ids: { payments: paymentIds, refunds: refundIds, preauths: preauthIds, captures: captureIds, payouts: payoutIds },
    };
  }
}
