import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseChart } from '../../ledger/chart-config.js';
import { Ledger } from '../../ledger/index.js';
import { openSqlite, type SqliteConnection } from '../../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { parseOnlineConfig, PRODUCT_NAMES, type OnlineConfig } from '../config.js';
import { SqliteOnlineStore } from '../sqlite/store.js';
import { isFailure, PaymentService, type ApiResult, type Caller } from './service.js';

let db: SqliteConnection;
let ledger: Ledger;
let store: SqliteOnlineStore;
let service: PaymentService;
let config: OnlineConfig;
const caller: Caller = { merchantId: 'M100001', products: PRODUCT_NAMES };
let n = 0;
const idem = (key = `k${++n}`) => ({ key, requestHash: `h-${key}` });

beforeEach(async () => {
  db = openSqlite(':memory:');
  const ledgerStore = SqliteLedgerStore.attach(db, ':memory:');
  ledger = new Ledger(ledgerStore);
  await ledger.initialise(
    parseChart({
      subjects: [
        { code: '1002', name: 'Reserve', type: 'asset' },
        { code: '1122', name: 'Channel receivable', type: 'asset' },
        { code: '1131', name: 'Credit receivable', type: 'asset' },
        { code: '1611', name: 'Coin issued', type: 'asset' },
        { code: '2202', name: 'Merchant payable', type: 'liability' },
        { code: '2241', name: 'User balance', type: 'liability' },
        { code: '2242', name: 'User coin', type: 'liability' },
        { code: '6001', name: 'Fee income', type: 'revenue' },
        { code: '6401', name: 'Channel cost', type: 'expense' },
      ],
      accounts: [
        { account_id: 'user:U1:balance:CNY', subject: '2241', owner_kind: 'user', owner_id: 'U1', currency: 'CNY', flags: ['debits_must_not_exceed_credits'] },
        { account_id: 'channel:wechat:receivable:CNY', subject: '1122', owner_kind: 'channel', owner_id: 'wechat', currency: 'CNY' },
      ],
    }),
    '2026-11-26',
  );
  await ledger.post({
    type: 'entry',
    id: 'fund',
    eventType: 'balance.topup',
    postings: [
      { accountId: 'channel:wechat:receivable:CNY', side: 'debit', amountMinor: 100_000n, currency: 'CNY' },
      { accountId: 'user:U1:balance:CNY', side: 'credit', amountMinor: 100_000n, currency: 'CNY' },
    ],
  });
  const parsed = parseOnlineConfig({});
  if (!parsed.ok) throw new Error('config');
  config = parsed.value;
  store = new SqliteOnlineStore(db, ledgerStore);
  service = new PaymentService({ store, config, channels: new Map(), publicUrl: () => 'http://127.0.0.1:0', clock: Date.now });
});
afterEach(() => db.close());

const body = (r: ApiResult): Record<string, unknown> => {
  if (isFailure(r)) throw new Error(`${r.code}: ${r.message}`);
  return JSON.parse(r.body) as Record<string, unknown>;
};
const balance = async (id: string): Promise<bigint> => {
  const [a] = await ledger.accounts({ accountId: id });
  return a ? (a.normalSide === 'credit' ? a.creditsPosted - a.debitsPosted : a.debitsPosted - a.creditsPosted) : -1n;
};
const pay = (orderNo: string, amount: number | string, extra: Record<string, unknown> = {}, key?: string) =>
  service.create(caller, idem(key), { merchant_order_no: orderNo, product: 'balance', amount, currency: 'CNY', payer_id: 'U1', ...extra });

describe('Given a funded balance account', () => {
  it('When the user pays 100.00 from the balance, Then the payment succeeds and the ledger moves it with the fee', async () => {
    const p = body(await pay('A1', 10_000));
    expect(p).toMatchObject({ status: 'succeeded', amount: 10_000, fee: 60, business_date: '2026-11-26' });
    expect(await balance('user:U1:balance:CNY')).toBe(90_000n);
    expect(await balance('merchant:M100001:payable:CNY')).toBe(9_940n);
    expect(await balance('platform:fee-income:CNY')).toBe(60n);
    expect((await ledger.verify()).ok).toBe(true);
  });

  it('When the amount is above the balance, Then insufficient_funds and nothing is written', async () => {
    const r = await pay('A1', 100_001);
    expect(r).toMatchObject({ ok: false, code: 'insufficient_funds', httpStatus: 422 });
    expect(await service.findByOrderNo(caller, 'A1')).toMatchObject({ code: 'not_found' });
  });

  it('When the same Idempotency-Key comes again, Then the stored answer is replayed and nothing moves twice', async () => {
    const first = await pay('A1', 500, {}, 'same');
    const again = await pay('A1', 500, {}, 'same');
    expect(again).toMatchObject({ ok: true, replayed: true });
    expect(!isFailure(again) && !isFailure(first) && again.body).toBe(!isFailure(first) && first.body);
    expect(await balance('user:U1:balance:CNY')).toBe(99_500n);
  });

  it('When the key is reused with another body, Then idempotency_key_reused', async () => {
    await service.create(caller, { key: 'x', requestHash: 'one' }, { merchant_order_no: 'A1', product: 'balance', amount: 1, currency: 'CNY', payer_id: 'U1' });
    const r = await service.create(caller, { key: 'x', requestHash: 'two' }, { merchant_order_no: 'A2', product: 'balance', amount: 1, currency: 'CNY', payer_id: 'U1' });
    expect(r).toMatchObject({ code: 'idempotency_key_reused' });
  });

  it('When a merchant_order_no is used twice, Then merchant_order_no_duplicate', async () => {
    await pay('A1', 100);
    expect(await pay('A1', 100)).toMatchObject({ code: 'merchant_order_no_duplicate', httpStatus: 409 });
  });

  it('When 200 identical requests race, Then exactly one payment and one journal entry exist', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => pay('RACE', 100, {}, 'race-key')));
    const created = results.filter((r) => r.ok && !r.replayed);
    expect(created).toHaveLength(1);
    expect(results.every((r) => r.ok || r.code === 'idempotency_key_in_flight')).toBe(true);
    expect((await ledger.store.readJournal({ limit: 100 })).filter((e) => e.eventType === 'balance.payment')).toHaveLength(1);
  });

  it.each([
    [{ amount: 0 }, 'amount_invalid'],
    [{ amount: '-0' }, 'amount_invalid'],
    [{ amount: '1e3' }, 'amount_invalid'],
    [{ amount: 0.5 }, 'amount_invalid'],
    [{ amount: 2 ** 60 }, 'amount_invalid'],
    [{ currency: 'XXX' }, 'currency_unknown'],
    [{ product: 'cash' }, 'product_unknown'],
    [{ status: 'succeeded' }, 'field_unknown'],
    [{ fee: 0 }, 'field_unknown'],
    [{ payer_id: undefined }, 'field_missing'],
    [{ merchant_order_no: 'has space' }, 'field_invalid'],
    [{ notify_url: 'ftp://x' }, 'field_invalid'],
    [{ currency: 'COIN' }, 'currency_not_supported'],
  ])('When the body has %j, Then %s and nothing is written', async (extra, code) => {
    const r = await pay('BAD', 100, extra);
    expect(r).toMatchObject({ ok: false, code });
    expect(await balance('user:U1:balance:CNY')).toBe(100_000n);
  });

  it('When a product is not enabled for the merchant, Then product_not_enabled', async () => {
    const r = await service.create({ merchantId: 'M2', products: ['quick'] }, idem(), { merchant_order_no: 'A', product: 'balance', amount: 1, currency: 'CNY', payer_id: 'U1' });
    expect(r).toMatchObject({ code: 'product_not_enabled', httpStatus: 403 });
  });

  it('When the payer has no balance account, Then payer_account_unavailable', async () => {
    expect(await pay('A1', 100, { payer_id: 'U404' })).toMatchObject({ code: 'payer_account_unavailable' });
  });

  it('When another merchant reads or refunds the payment, Then it is not_found', async () => {
    const p = body(await pay('A1', 1_000));
    const other: Caller = { merchantId: 'M999', products: PRODUCT_NAMES };
    expect(await service.get(other, p['id'] as string)).toMatchObject({ code: 'not_found', httpStatus: 404 });
    expect(await service.refund(other, idem(), p['id'] as string, { merchant_refund_no: 'R', amount: 1 })).toMatchObject({ code: 'not_found' });
    expect(await service.void(other, idem(), p['id'] as string, {})).toMatchObject({ code: 'not_found' });
  });
});

describe('Given a succeeded balance payment', () => {
  let paymentId: string;
  beforeEach(async () => {
    paymentId = body(await pay('P1', 10_000))['id'] as string;
  });

  it('When it is refunded in three parts, Then fees come back in proportion and exactly in full', async () => {
    const refund = (no: string, amount: number) => service.refund(caller, idem(), paymentId, { merchant_refund_no: no, amount });
    expect(body(await refund('R1', 3_333))).toMatchObject({ status: 'succeeded', fee_returned: 19 });
    expect(body(await refund('R2', 3_333))).toMatchObject({ status: 'succeeded', fee_returned: 20 });
    expect(body(await refund('R3', 3_334))).toMatchObject({ status: 'succeeded', fee_returned: 21 });
    expect(body(await service.get(caller, paymentId))).toMatchObject({ status: 'refunded', refunded_amount: 10_000 });
    expect(await balance('platform:fee-income:CNY')).toBe(0n);
    expect(await balance('merchant:M100001:payable:CNY')).toBe(0n);
    expect(await balance('user:U1:balance:CNY')).toBe(100_000n);
    expect(await refund('R4', 1)).toMatchObject({ code: 'payment_not_refundable' });
  });

  it('When refunds race, Then their sum never exceeds the payment', async () => {
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => service.refund(caller, idem(), paymentId, { merchant_refund_no: `R${i}`, amount: 1_000 })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    const refusals = new Set(results.flatMap((r) => (r.ok ? [] : [r.code])));
    expect([...refusals].every((c) => c === 'refund_exceeds_remaining' || c === 'payment_not_refundable')).toBe(true);
    expect(body(await service.get(caller, paymentId))).toMatchObject({ status: 'refunded', refunded_amount: 10_000 });
  });

  it('When a refund is above what remains, Then refund_exceeds_remaining', async () => {
    expect(await service.refund(caller, idem(), paymentId, { merchant_refund_no: 'R', amount: 10_001 })).toMatchObject({ code: 'refund_exceeds_remaining' });
  });

  it('When it is voided the same day, Then its entry is reversed and a refund is no longer possible', async () => {
    expect(body(await service.void(caller, idem(), paymentId, {}))).toMatchObject({ status: 'voided' });
    expect(await balance('user:U1:balance:CNY')).toBe(100_000n);
    expect(await service.void(caller, idem(), paymentId, {})).toMatchObject({ code: 'void_not_allowed' });
    expect(await service.refund(caller, idem(), paymentId, { merchant_refund_no: 'R', amount: 1 })).toMatchObject({ code: 'payment_not_refundable' });
  });

  it('When a void comes after a refund or on a later business day, Then void_not_allowed', async () => {
    await service.refund(caller, idem(), paymentId, { merchant_refund_no: 'R', amount: 1 });
    expect(await service.void(caller, idem(), paymentId, {})).toMatchObject({ code: 'void_not_allowed' });
    const other = body(await pay('P2', 100))['id'] as string;
    await ledger.cutoff();
    expect(await service.void(caller, idem(), other, {})).toMatchObject({ code: 'void_not_allowed' });
  });
});

describe('Given credit and coins', () => {
  it('When credit payments pass the limit, Then credit_limit_exceeded', async () => {
    const credit = (no: string, amount: number) => service.create(caller, idem(), { merchant_order_no: no, product: 'credit', amount, currency: 'CNY', payer_id: 'U1' });
    expect(body(await credit('C1', 400_000))).toMatchObject({ status: 'succeeded' });
    expect(await credit('C2', 100_001)).toMatchObject({ code: 'credit_limit_exceeded' });
    expect(body(await credit('C3', 100_000))).toMatchObject({ status: 'succeeded' });
  });
  it('When a coin payment is above the coins held, Then insufficient_funds (or no account)', async () => {
    const coin = await service.create(caller, idem(), { merchant_order_no: 'V1', product: 'virtual_coin', amount: 5, currency: 'COIN', payer_id: 'U1' });
    expect(coin).toMatchObject({ ok: false });
    expect(['payer_account_unavailable', 'insufficient_funds']).toContain(!coin.ok && coin.code);
  });
});
