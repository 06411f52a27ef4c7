// Property test of the order state machines through the real services. fast-check draws sequences of
// operations — payments of every local product and of channel products, refunds, voids, pre-authorisations,
// captures, pre-authorisation voids, capture voids, Idempotency-Key replays and reuses, and business-day
// cutoffs — and runs them through PaymentService and PreauthService on an in-memory SQLite database with
// the ledger attached; channel products reach InstantBankChannel instances registered under the config's
// channel ids (they answer at once: wallet and netbank complete immediately; magic amounts ..51/..52
// decline, ..61/..63 are applied at the bank but answered unknown, ..62 is not applied). Some steps run
// 2–5 operations concurrently, each after a random number of event-loop turns, to exercise races.
//
// Single operations are checked against an oracle computed from the state read back before the step
// (the outcome, or the error code). After every step the whole state is read back through the services'
// GETs and the ledger, and checked:
//   (a) every status is in state.ts's tables, and every change between two steps is a legal chain;
//   (b) refunded_amount ≤ amount, equals the sum of succeeded refunds; refunded / partially_refunded iff;
//   (c) captured_amount ≤ amount; one `pay.<id>` entry per succeeded/refunded/voided payment, none
//       otherwise, reversed iff voided; one `refund.<id>` per succeeded refund; `cap.<id>` per capture;
//   (d) ledger.verify() is ok; per currency, Σ debits = Σ credits, posted and pending;
//   (e) no user balance or coin account overdrawn; each user account equals funding minus what it paid;
//   (f) merchant payable and fee income equal what the orders say; holds equal authorised pre-auths;
//   (g) the instant banks' records agree with ours (what the bank did, we booked, and the other way);
//   and every refusal carries a known API error code, no exception escapes, and an Idempotency-Key
//   executes successfully at most once.
// ONLINE_PROPERTY_RUNS raises the number of runs (default 60, about 12 s on 2 cores); ONLINE_PROPERTY_COVERAGE=1
// prints how often each status, code and oracle case was reached. A cutoff between a channel void's two units
// once stranded the payment; the reproductions at the end pin the fix.

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseChart } from '../../ledger/chart-config.js';
import { Ledger, type AccountRecord, type JournalEntry } from '../../ledger/index.js';
import { openSqlite, type SqliteConnection } from '../../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { InstantBankChannel } from '../channels/instant-bank.js';
import type { ChannelPort, FollowUpRequest } from '../channels/port.js';
import { parseOnlineConfig, PRODUCT_NAMES, PRODUCTS, type OnlineConfig, type Product } from '../config.js';
import { API_ERROR_CODES } from '../errors.js';
import { SqliteOnlineStore } from '../sqlite/store.js';
import { PreauthService } from './preauths.js';
import { isFailure, PaymentService, type ApiResult, type Caller } from './service.js';
import {
  nextPaymentStatus,
  nextPreauthStatus,
  nextRefundStatus,
  PAYMENT_STATUSES,
  PREAUTH_STATUSES,
  REFUND_STATUSES,
  type PaymentEvent,
  type PaymentStatus,
  type PreauthEvent,
  type PreauthStatus,
  type RefundStatus,
} from './state.js';

const DEFAULT_RUNS = 60;
const RUNS = Math.max(1, Number.parseInt(process.env['ONLINE_PROPERTY_RUNS'] ?? '', 10) || DEFAULT_RUNS);
const TIMEOUT_MS = Math.max(60_000, RUNS * 3 * 3_000); // up to three batches of runs (see the coverage below)
/** A cutoff races the voids of its step (the bug this once found is fixed); ONLINE_PROPERTY_RACE_CUTOFF=0 orders them. */
const RACE_CUTOFF_WITH_VOIDS = process.env['ONLINE_PROPERTY_RACE_CUTOFF'] !== '0';

const MERCHANT: Caller = { merchantId: 'M100001', products: PRODUCT_NAMES };
const FIRST_DAY = '2026-11-26';
const KNOWN_CODES = new Set(Object.keys(API_ERROR_CODES));
const SUCCESS_LIKE: ReadonlySet<PaymentStatus> = new Set(['succeeded', 'partially_refunded', 'refunded']);
const PAYERS = ['U1', 'U2', 'U3', 'U4'] as const; // U1, U2 hold balance and coins; U3 a balance only; U4 nothing

// ---------------------------------------------------------------------------------------------
// The transition tables of state.ts as graphs, closed under chains.
// ---------------------------------------------------------------------------------------------

function closure<S extends string, E extends string>(statuses: readonly S[], events: readonly E[], next: (s: S, e: E) => S | undefined): Map<S, Set<S>> {
  const reach = new Map<S, Set<S>>();
  for (const from of statuses) {
    const seen = new Set<S>([from]);
    const todo: S[] = [from];
    for (let s = todo.pop(); s !== undefined; s = todo.pop()) {
      for (const e of events) {
        const to = next(s, e);
        if (to !== undefined && !seen.has(to)) {
          seen.add(to);
          todo.push(to);
        }
      }
    }
    reach.set(from, seen);
  }
  return reach;
}

const PAYMENT_EVENTS: readonly PaymentEvent[] = ['verify', 'succeed', 'fail', 'expire', 'void', 'refund_part', 'refund_all'];
const PREAUTH_EVENTS: readonly PreauthEvent[] = ['authorize', 'fail', 'capture', 'void', 'expire', 'capture_voided'];
const PAYMENT_REACH = closure(PAYMENT_STATUSES, PAYMENT_EVENTS, nextPaymentStatus);
const REFUND_REACH = closure(REFUND_STATUSES, ['succeed', 'fail'] as const, nextRefundStatus);
const PREAUTH_REACH = closure(PREAUTH_STATUSES, PREAUTH_EVENTS, nextPreauthStatus);
const CAPTURE_REACH = new Map<string, Set<string>>([
  ['succeeded', new Set(['succeeded', 'voided'])],
  ['voided', new Set(['voided'])],
]);

function expectReachable(kind: string, id: string, reach: ReadonlyMap<string, ReadonlySet<string>>, from: string, to: string): void {
  if (!reach.get(from)?.has(to)) expect.fail(`${kind} ${id} went ${from} → ${to}, which no chain of transitions allows`);
}

// ---------------------------------------------------------------------------------------------
// The world: one in-memory database, the ledger, the online store, instant banks, the two services.
// ---------------------------------------------------------------------------------------------

interface Funding {
  readonly balances: readonly [number, number, number]; // U1, U2, U3 in CNY minor units
  readonly coins: readonly [number, number]; // U1, U2
}

interface World {
  readonly db: SqliteConnection;
  readonly ledger: Ledger;
  readonly store: SqliteOnlineStore;
  readonly config: OnlineConfig;
  readonly banks: ReadonlyMap<string, InstantBankChannel>;
  readonly payments: PaymentService;
  readonly preauths: PreauthService;
  /** Posted funding of each user account. */
  readonly funded: ReadonlyMap<string, bigint>;
}

const balanceAccount = (payer: string, currency = 'CNY'): string => `user:${payer}:balance:${currency}`;
const coinAccount = (payer: string): string => `user:${payer}:coin:COIN`;
const creditAccount = (payer: string, currency: string): string => `user:${payer}:credit:${currency}`;

async function makeWorld(funding: Funding): Promise<World> {
  const db = openSqlite(':memory:');
  const ledgerStore = SqliteLedgerStore.attach(db, ':memory:');
  const ledger = new Ledger(ledgerStore);
  const user = (id: string, subject: string, currency: string) => ({
    account_id: `user:${id}:${subject === '2241' ? 'balance' : 'coin'}:${currency}`,
    subject,
    owner_kind: 'user',
    owner_id: id,
    currency,
    flags: ['debits_must_not_exceed_credits'],
  });
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
        user('U1', '2241', 'CNY'),
        user('U2', '2241', 'CNY'),
        user('U3', '2241', 'CNY'),
        user('U1', '2242', 'COIN'),
        user('U2', '2242', 'COIN'),
        { account_id: 'channel:topup:receivable:CNY', subject: '1122', owner_kind: 'channel', owner_id: 'topup', currency: 'CNY' },
        { account_id: 'platform:coin-issued:COIN', subject: '1611', owner_kind: 'platform', owner_id: 'platform', currency: 'COIN' },
      ],
    }),
    FIRST_DAY,
  );
  const funded = new Map<string, bigint>();
  const fund = async (accountId: string, source: string, currency: string, amount: number): Promise<void> => {
    funded.set(accountId, BigInt(amount));
    if (amount === 0) return;
    const result = await ledger.post({
      type: 'entry',
      id: `fund.${accountId}`,
      eventType: 'balance.topup',
      postings: [
        { accountId: source, side: 'debit', amountMinor: BigInt(amount), currency },
        { accountId, side: 'credit', amountMinor: BigInt(amount), currency },
      ],
    });
    if (!result.ok) throw new Error(`funding ${accountId}: ${result.code}`);
  };
  for (const [i, amount] of funding.balances.entries()) await fund(balanceAccount(`U${i + 1}`), 'channel:topup:receivable:CNY', 'CNY', amount);
  for (const [i, amount] of funding.coins.entries()) await fund(coinAccount(`U${i + 1}`), 'platform:coin-issued:COIN', 'COIN', amount);

  // The default config, with breakers that never open: this model is of the orders, and magic amounts
  // answering unknown must not take a channel out of routing half way through a sequence.
  const parsed = parseOnlineConfig({ routing: { breaker: { min_calls: 100_000 } } });
  if (!parsed.ok) throw new Error('the default online config does not parse');
  const config = parsed.value;
  expect(config.channels.map((c) => c.id)).toEqual(['bank', 'wallet', 'payout']);
  const banks = new Map(config.channels.map((c) => [c.id, new InstantBankChannel({ channelId: c.id, feeRate: c.cost_rate })] as const));
  const channels: ReadonlyMap<string, ChannelPort> = banks;
  const store = new SqliteOnlineStore(db, ledgerStore);
  const payments = new PaymentService({ store, config, channels, publicUrl: () => 'http://127.0.0.1:0', clock: Date.now });
  const preauths = new PreauthService(store, config, channels, Date.now);
  return { db, ledger, store, config, banks, payments, preauths, funded };
}

// ---------------------------------------------------------------------------------------------
// Abstract operations (drawn by fast-check) and the concrete requests they become.
// ---------------------------------------------------------------------------------------------

type PayProduct = 'balance' | 'credit' | 'virtual_coin' | 'foreign_card' | 'phone_bill' | 'wallet' | 'netbank';
/** fresh: a new Idempotency-Key; reuse: one used before (with whatever body this op has). */
type KeyChoice = { readonly reuse: false } | { readonly reuse: true; readonly pick: number };
/** How big a refund or capture is, relative to what the target allows. */
type Size =
  | { readonly kind: 'part'; readonly permille: number }
  | { readonly kind: 'rest' }
  | { readonly kind: 'over'; readonly extra: number }
  | { readonly kind: 'raw'; readonly amount: number };

/** pick: an index into the pool of known objects (modulo its size); -1 names an object that does not exist. */
type Op =
  | { readonly t: 'pay'; readonly product: PayProduct; readonly amount: number; readonly otherCurrency: boolean; readonly payer: number; readonly dupOrder: number | null; readonly key: KeyChoice }
  | { readonly t: 'refund'; readonly pick: number; readonly size: Size; readonly dupNo: number | null; readonly key: KeyChoice }
  | { readonly t: 'void'; readonly pick: number; readonly key: KeyChoice }
  | { readonly t: 'preauth'; readonly amount: number; readonly usd: boolean; readonly dupOrder: number | null; readonly key: KeyChoice }
  | { readonly t: 'capture'; readonly pick: number; readonly size: Size | { readonly kind: 'full' }; readonly key: KeyChoice }
  | { readonly t: 'preauthVoid'; readonly pick: number; readonly key: KeyChoice }
  | { readonly t: 'captureVoid'; readonly pick: number; readonly key: KeyChoice }
  | { readonly t: 'replay'; readonly pick: number }
  | { readonly t: 'cutoff' };

interface Step {
  readonly ops: readonly Op[];
  /** Event-loop turns each op waits before it starts (only in concurrent steps). */
  readonly delays: readonly number[];
}

/** Amounts in minor units: mostly ordinary, sometimes a magic ending (51/52 decline; 61/62/63 unknown). */
const amountArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 1, max: 30_000 }) },
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 200 }), fc.constantFrom(51, 52)).map(([h, e]) => h * 100 + e) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 200 }), fc.constantFrom(61, 62, 63)).map(([h, e]) => h * 100 + e) },
);
const pickArb = fc.oneof({ weight: 19, arbitrary: fc.nat(10_000) }, { weight: 1, arbitrary: fc.constant(-1) });
const keyArb: fc.Arbitrary<KeyChoice> = fc.oneof(
  { weight: 9, arbitrary: fc.constant({ reuse: false } as const) },
  { weight: 1, arbitrary: fc.nat(10_000).map((pick) => ({ reuse: true, pick }) as const) },
);
const dupArb = fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(10_000) });
const sizeArb: fc.Arbitrary<Size> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 1_000 }).map((permille) => ({ kind: 'part', permille }) as const) },
  { weight: 2, arbitrary: fc.constant({ kind: 'rest' } as const) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 500 }).map((extra) => ({ kind: 'over', extra }) as const) },
  { weight: 1, arbitrary: amountArb.map((amount) => ({ kind: 'raw', amount }) as const) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      t: fc.constant('pay' as const),
      product: fc.constantFrom<PayProduct>('balance', 'balance', 'credit', 'virtual_coin', 'foreign_card', 'foreign_card', 'phone_bill', 'wallet', 'netbank'),
      amount: amountArb,
      otherCurrency: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      payer: fc.nat(PAYERS.length - 1),
      dupOrder: dupArb,
      key: keyArb,
    }),
  },
  { weight: 8, arbitrary: fc.record({ t: fc.constant('refund' as const), pick: pickArb, size: sizeArb, dupNo: dupArb, key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('void' as const), pick: pickArb, key: keyArb }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('preauth' as const), amount: amountArb, usd: fc.boolean(), dupOrder: dupArb, key: keyArb }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('capture' as const),
      pick: pickArb,
      size: fc.oneof({ weight: 1, arbitrary: fc.constant({ kind: 'full' } as const) }, { weight: 3, arbitrary: sizeArb }),
      key: keyArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('preauthVoid' as const), pick: pickArb, key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('captureVoid' as const), pick: pickArb, key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('replay' as const), pick: fc.nat(10_000) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'cutoff' } as const) },
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 7, arbitrary: opArb.map((op) => ({ ops: [op], delays: [0] })) },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(opArb, fc.nat(3)), { minLength: 2, maxLength: 5 })
      .map((pairs) => ({ ops: pairs.map(([op]) => op), delays: pairs.map(([, d]) => d) })),
  },
);

const fundingArb: fc.Arbitrary<Funding> = fc.record({
  balances: fc.tuple(fc.integer({ min: 0, max: 80_000 }), fc.integer({ min: 0, max: 80_000 }), fc.integer({ min: 0, max: 5_000 })),
  coins: fc.tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 400 })),
});

type Endpoint = 'pay' | 'refund' | 'void' | 'preauth' | 'capture' | 'preauthVoid' | 'captureVoid';

interface Request {
  readonly endpoint: Endpoint;
  readonly target: string | null;
  readonly body: Readonly<Record<string, unknown>>;
  readonly key: string;
  readonly hash: string;
}

function pathOf(endpoint: Endpoint, target: string | null): string {
  const t = target ?? '';
  switch (endpoint) {
    case 'pay':
      return '/v1/payments';
    case 'refund':
      return `/v1/payments/${t}/refunds`;
    case 'void':
      return `/v1/payments/${t}/void`;
    case 'preauth':
      return '/v1/preauths';
    case 'capture':
      return `/v1/preauths/${t}/capture`;
    case 'preauthVoid':
      return `/v1/preauths/${t}/void`;
    case 'captureVoid':
      return `/v1/captures/${t}/void`;
  }
}

/** The hash the HTTP layer computes: method, request target and the raw body. */
function requestOf(endpoint: Endpoint, target: string | null, body: Record<string, unknown>, key: string): Request {
  const hash = createHash('sha256').update(`POST\n${pathOf(endpoint, target)}\n`).update(JSON.stringify(body)).digest('hex');
  return { endpoint, target, body, key, hash };
}

function send(w: World, r: Request): Promise<ApiResult> {
  const idem = { key: r.key, requestHash: r.hash };
  const t = r.target ?? '';
  switch (r.endpoint) {
    case 'pay':
      return w.payments.create(MERCHANT, idem, r.body);
    case 'refund':
      return w.payments.refund(MERCHANT, idem, t, r.body);
    case 'void':
      return w.payments.void(MERCHANT, idem, t, r.body);
    case 'preauth':
      return w.preauths.create(MERCHANT, idem, r.body);
    case 'capture':
      return w.preauths.capture(MERCHANT, idem, t, r.body);
    case 'preauthVoid':
      return w.preauths.void(MERCHANT, idem, t, r.body);
    case 'captureVoid':
      return w.preauths.voidCapture(MERCHANT, idem, t, r.body);
  }
}

// ---------------------------------------------------------------------------------------------
// What the services answer, read back as plain values.
// ---------------------------------------------------------------------------------------------

interface PaymentV {
  readonly id: string;
  readonly status: PaymentStatus;
  readonly product: Product;
  readonly amount: bigint;
  readonly fee: bigint;
  readonly refunded: bigint;
  readonly currency: string;
  readonly channel: string | null;
  readonly payer: string | null;
  readonly orderNo: string;
  readonly businessDate: string | null;
  /** A void out at the channel with no answer yet (an unknown outcome): refunds and voids are refused. */
  readonly pendingOp: string | null;
}
interface RefundV {
  readonly id: string;
  readonly paymentId: string;
  readonly status: RefundStatus;
  readonly amount: bigint;
  readonly feeReturned: bigint;
  readonly refundNo: string;
}
interface PreauthV {
  readonly id: string;
  readonly status: PreauthStatus;
  readonly amount: bigint;
  readonly captured: bigint;
  readonly captureId: string | null;
  readonly currency: string;
  readonly channel: string | null;
  readonly orderNo: string;
  /** A capture, void or capture void out at the channel with no answer yet: follow-ups are refused. */
  readonly pendingOp: string | null;
}
interface CaptureV {
  readonly id: string;
  readonly preauthId: string;
  readonly status: string;
  readonly amount: bigint;
  readonly fee: bigint;
  readonly currency: string;
}

type Json = Record<string, unknown>;
const str = (o: Json, k: string): string => {
  const v = o[k];
  if (typeof v !== 'string') throw new Error(`${k} is not a string in ${JSON.stringify(o)}`);
  return v;
};
const strOrNull = (o: Json, k: string): string | null => (o[k] === null ? null : str(o, k));
const int = (o: Json, k: string): bigint => {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`${k} is not a non-negative integer in ${JSON.stringify(o)}`);
  return BigInt(v);
};
function oneOf<S extends string>(values: readonly S[], o: Json, k: string): S {
  const v = str(o, k);
  if (!(values as readonly string[]).includes(v)) expect.fail(`${String(o['object'])} ${String(o['id'])} has status ${v}, which is not in the tables of state.ts`);
  return v as S;
}

const paymentOf = (o: Json): PaymentV => ({
  id: str(o, 'id'),
  status: oneOf(PAYMENT_STATUSES, o, 'status'),
  product: str(o, 'product') as Product,
  amount: int(o, 'amount'),
  fee: int(o, 'fee'),
  refunded: int(o, 'refunded_amount'),
  currency: str(o, 'currency'),
  channel: strOrNull(o, 'channel'),
  payer: strOrNull(o, 'payer_id'),
  orderNo: str(o, 'merchant_order_no'),
  businessDate: strOrNull(o, 'business_date'),
  pendingOp: strOrNull(o, 'pending_operation'),
});
const refundOf = (o: Json): RefundV => ({
  id: str(o, 'id'),
  paymentId: str(o, 'payment_id'),
  status: oneOf(REFUND_STATUSES, o, 'status'),
  amount: int(o, 'amount'),
  feeReturned: int(o, 'fee_returned'),
  refundNo: str(o, 'merchant_refund_no'),
});
const preauthOf = (o: Json): PreauthV => ({
  id: str(o, 'id'),
  status: oneOf(PREAUTH_STATUSES, o, 'status'),
  amount: int(o, 'amount'),
  captured: int(o, 'captured_amount'),
  captureId: strOrNull(o, 'capture_id'),
  currency: str(o, 'currency'),
  channel: strOrNull(o, 'channel'),
  orderNo: str(o, 'merchant_order_no'),
  pendingOp: strOrNull(o, 'pending_operation'),
});
const captureOf = (o: Json): CaptureV => ({
  id: str(o, 'id'),
  preauthId: str(o, 'preauth_id'),
  status: oneOf(['succeeded', 'voided'], o, 'status'),
  amount: int(o, 'amount'),
  fee: int(o, 'fee'),
  currency: str(o, 'currency'),
});

function okBody(r: ApiResult, what: string): Json {
  if (isFailure(r)) expect.fail(`${what}: ${r.code}: ${r.message}`);
  return JSON.parse(r.body) as Json;
}

/** An answer as the merchant sees it: a failure code (also a replayed stored failure) or an object. */
type Outcome = { readonly kind: 'error'; readonly code: string } | { readonly kind: 'ok'; readonly replayed: boolean; readonly httpStatus: number; readonly body: string; readonly json: Json };

function outcomeOf(r: ApiResult): Outcome {
  if (isFailure(r)) return { kind: 'error', code: r.code };
  const json = JSON.parse(r.body) as Json;
  if (r.httpStatus >= 400) {
    const err = json['error'] as { code?: unknown } | undefined;
    return { kind: 'error', code: typeof err?.code === 'string' ? err.code : `<no code in ${r.body}>` };
  }
  return { kind: 'ok', replayed: r.replayed, httpStatus: r.httpStatus, body: r.body, json };
}

// ---------------------------------------------------------------------------------------------
// The state of one run: what was sent, what exists, and the last snapshot.
// ---------------------------------------------------------------------------------------------

interface Snapshot {
  readonly openDay: string;
  readonly payments: ReadonlyMap<string, PaymentV>;
  readonly refunds: ReadonlyMap<string, RefundV>;
  readonly preauths: ReadonlyMap<string, PreauthV>;
  readonly captures: ReadonlyMap<string, CaptureV>;
  readonly accounts: ReadonlyMap<string, AccountRecord>;
}

interface KeyRecord {
  readonly key: string;
  /** The first answer that executed successfully under the key (what a replay must return). */
  stored: { readonly hash: string; readonly httpStatus: number; readonly body: string } | undefined;
}

interface Run {
  readonly w: World;
  next: number;
  readonly orderNos: string[];
  readonly preauthOrderNos: string[];
  readonly refundNos: string[];
  readonly paymentIds: string[];
  readonly refundIds: string[];
  readonly preauthIds: string[];
  readonly captureIds: string[];
  readonly keys: KeyRecord[];
  readonly sent: Request[];
  snap: Snapshot;
}

/** Labels seen across all runs, to show the generator reaches the interesting cases. */
const coverage = new Map<string, number>();
const see = (label: string): void => void coverage.set(label, (coverage.get(label) ?? 0) + 1);

function addUnique(list: string[], id: string): void {
  if (!list.includes(id)) list.push(id);
}
function pickFrom<T>(list: readonly T[], pick: number): T | undefined {
  return pick < 0 || list.length === 0 ? undefined : list[pick % list.length];
}
const lastTwo = (amount: bigint): bigint => amount % 100n;
const isDecline = (amount: bigint): boolean => lastTwo(amount) === 51n || lastTwo(amount) === 52n;
const isUnknown = (amount: bigint): boolean => lastTwo(amount) === 61n || lastTwo(amount) === 62n || lastTwo(amount) === 63n;
/** ..61 and ..63: the bank applied it but answered unknown; only recovery (not run here) reconciles those. */
const isAppliedUnknown = (amount: bigint): boolean => lastTwo(amount) === 61n || lastTwo(amount) === 63n;

function processingRefunds(snap: Snapshot, paymentId: string): bigint {
  let sum = 0n;
  for (const r of snap.refunds.values()) if (r.paymentId === paymentId && r.status === 'processing') sum += r.amount;
  return sum;
}

function sized(size: Size, room: bigint, fallback: bigint): bigint {
  const base = room > 0n ? room : fallback;
  switch (size.kind) {
    case 'part': {
      const v = (base * BigInt(size.permille)) / 1000n;
      return v > 0n ? v : 1n;
    }
    case 'rest':
      return base > 0n ? base : 1n;
    case 'over':
      return base + BigInt(size.extra);
    case 'raw':
      return BigInt(size.amount);
  }
}

// ---------------------------------------------------------------------------------------------
// From an abstract op to a request, and what the oracle expects of it when it runs alone.
// ---------------------------------------------------------------------------------------------

type Expect = { readonly kind: 'error'; readonly code: string } | { readonly kind: 'ok'; readonly status: string } | { readonly kind: 'replay'; readonly httpStatus: number; readonly body: string } | undefined;

interface Planned {
  readonly label: string;
  readonly request: Request | null;
  /** Only used for steps of one op: the outcome predicted from the state before it. */
  readonly expect: Expect;
}

function keyFor(run: Run, choice: KeyChoice): string {
  if (choice.reuse) {
    const k = pickFrom(run.keys, choice.pick);
    if (k) return k.key;
  }
  const key = `key-${run.next++}`;
  run.keys.push({ key, stored: undefined });
  return key;
}

/**
 * What a payment is refused for before its Idempotency-Key is looked at: the body's currency against the
 * product, and the route (validate → route come before persist, where the key is checked).
 */
function refusedBeforeKey(req: Request): Expect {
  if (req.endpoint !== 'pay') return undefined;
  const product = req.body['product'] as PayProduct;
  const currency = req.body['currency'] as string;
  if ((product === 'virtual_coin') !== (currency === 'COIN')) return { kind: 'error', code: 'currency_not_supported' };
  return undefined;
}

/** A payment no channel can serve is refused after the key is checked (a stored answer is replayed first). */
function unroutable(run: Run, req: Request): Expect {
  if (req.endpoint !== 'pay') return undefined;
  const product = req.body['product'] as PayProduct;
  const currency = req.body['currency'] as string;
  const routed = PRODUCTS[product].local || run.w.config.channels.some((c) => (c.products as readonly string[]).includes(product) && c.currencies.includes(currency));
  return routed ? undefined : { kind: 'error', code: 'channel_unavailable' };
}

/** The oracle when the key was used before: a replay of what it stored, or key reused; else unknowable. */
function keyExpectation(run: Run, req: Request): Expect | 'fresh' {
  const early = refusedBeforeKey(req);
  if (early) return early;
  const rec = run.keys.find((k) => k.key === req.key);
  if (!rec || !run.sent.some((s) => s.key === req.key)) return unroutable(run, req) ?? 'fresh';
  if (!rec.stored) return unroutable(run, req); // earlier uses were refused (nothing stored) or stored a failure
  return rec.stored.hash === req.hash ? { kind: 'replay', httpStatus: rec.stored.httpStatus, body: rec.stored.body } : { kind: 'error', code: 'idempotency_key_reused' };
}

function accountAvailable(snap: Snapshot, accountId: string): bigint | undefined {
  const a = snap.accounts.get(accountId);
  if (!a || a.status !== 'active') return undefined;
  return a.creditsPosted - a.debitsPosted - a.debitsPending;
}

function plan(run: Run, op: Op): Planned {
  const snap = run.snap;
  const w = run.w;
  switch (op.t) {
    case 'cutoff':
      return { label: 'cutoff', request: null, expect: undefined };
    case 'replay': {
      const prior = pickFrom(run.sent, op.pick);
      if (!prior) return { label: 'replay(nothing)', request: null, expect: undefined };
      const k = keyExpectation(run, prior);
      return { label: `replay ${prior.endpoint}`, request: prior, expect: k === 'fresh' ? undefined : k };
    }
    case 'pay': {
      const payer = PAYERS[op.payer] ?? 'U1';
      const natural = op.product === 'virtual_coin' ? 'COIN' : 'CNY';
      const currency = !op.otherCurrency ? natural : op.product === 'virtual_coin' ? 'CNY' : 'USD';
      const dup = op.dupOrder === null ? undefined : pickFrom(run.orderNos, op.dupOrder);
      const orderNo = dup ?? `O${run.next++}`;
      addUnique(run.orderNos, orderNo);
      const amount = BigInt(op.amount);
      const body = { merchant_order_no: orderNo, product: op.product, amount: op.amount, currency, payer_id: payer };
      const req = requestOf('pay', null, body, keyFor(run, op.key));
      const k = keyExpectation(run, req);
      const label = `pay ${op.product}`;
      if (k !== 'fresh') return { label, request: req, expect: k };
      const duplicate = [...snap.payments.values()].some((p) => p.orderNo === orderNo);
      let expected: Expect;
      if (PRODUCTS[op.product].local) {
        if (op.product === 'credit') {
          const line = snap.accounts.get(creditAccount(payer, currency));
          const used = line ? line.debitsPosted - line.creditsPosted : 0n;
          if (used + amount > BigInt(w.config.credit_limit_minor)) expected = { kind: 'error', code: 'credit_limit_exceeded' };
          else expected = duplicate ? { kind: 'error', code: 'merchant_order_no_duplicate' } : { kind: 'ok', status: 'succeeded' };
        } else {
          const available = accountAvailable(snap, op.product === 'virtual_coin' ? coinAccount(payer) : balanceAccount(payer, currency));
          if (available === undefined) expected = { kind: 'error', code: 'payer_account_unavailable' };
          else if (available < amount) expected = { kind: 'error', code: 'insufficient_funds' };
          else expected = duplicate ? { kind: 'error', code: 'merchant_order_no_duplicate' } : { kind: 'ok', status: 'succeeded' };
        }
      } else {
        // Where another channel could take it, an unknown answer is queried at once before falling back:
        // ..61/..63 were applied, so the query finds them succeeded; ..62 fails at every channel and waits.
        const fallback = w.config.channels.filter((c) => (c.products as readonly string[]).includes(op.product) && c.currencies.includes(currency)).length > 1;
        const unknownEnds = fallback && isAppliedUnknown(amount) ? 'succeeded' : 'processing';
        if (duplicate) expected = { kind: 'error', code: 'merchant_order_no_duplicate' };
        else expected = { kind: 'ok', status: isDecline(amount) ? 'failed' : isUnknown(amount) ? unknownEnds : 'succeeded' };
      }
      return { label, request: req, expect: expected };
    }
    case 'refund': {
      const target = pickFrom(run.paymentIds, op.pick);
      const p = target === undefined ? undefined : snap.payments.get(target);
      const room = p ? p.amount - p.refunded - processingRefunds(snap, p.id) : 0n;
      const amount = sized(op.size, room, p?.amount ?? 100n);
      const dup = op.dupNo === null ? undefined : pickFrom(run.refundNos, op.dupNo);
      const refundNo = dup ?? `R${run.next++}`;
      addUnique(run.refundNos, refundNo);
      const req = requestOf('refund', target ?? 'pay_missing', { merchant_refund_no: refundNo, amount: Number(amount) }, keyFor(run, op.key));
      const label = `refund ${p?.status ?? 'missing'}`;
      const k = keyExpectation(run, req);
      if (k !== 'fresh') return { label, request: req, expect: k };
      let expected: Expect;
      if (!p) expected = { kind: 'error', code: 'not_found' };
      else if (p.status !== 'succeeded' && p.status !== 'partially_refunded') expected = { kind: 'error', code: 'payment_not_refundable' };
      else if (p.pendingOp !== null) expected = { kind: 'error', code: 'payment_not_refundable' };
      else if (amount > room) expected = { kind: 'error', code: 'refund_exceeds_remaining' };
      else if ([...snap.refunds.values()].some((r) => r.refundNo === refundNo)) expected = { kind: 'error', code: 'merchant_refund_no_duplicate' };
      else if (PRODUCTS[p.product].local) expected = { kind: 'ok', status: 'succeeded' };
      else expected = { kind: 'ok', status: isDecline(amount) ? 'failed' : isUnknown(amount) ? 'processing' : 'succeeded' };
      return { label, request: req, expect: expected };
    }
    case 'void': {
      const target = pickFrom(run.paymentIds, op.pick);
      const p = target === undefined ? undefined : snap.payments.get(target);
      const req = requestOf('void', target ?? 'pay_missing', {}, keyFor(run, op.key));
      const label = `void ${p?.status ?? 'missing'}${p && p.businessDate !== null && p.businessDate !== snap.openDay ? ' (earlier day)' : ''}`;
      const k = keyExpectation(run, req);
      if (k !== 'fresh') return { label, request: req, expect: k };
      let expected: Expect;
      if (!p) expected = { kind: 'error', code: 'not_found' };
      else if (p.status !== 'succeeded' || p.pendingOp !== null || processingRefunds(snap, p.id) > 0n || p.businessDate !== snap.openDay) expected = { kind: 'error', code: 'void_not_allowed' };
      // A ..61/..63 payment can have succeeded (found by the query before a fallback); the bank answers its void unknown too.
      else if (!PRODUCTS[p.product].local && isUnknown(p.amount)) expected = { kind: 'error', code: 'channel_unavailable' };
      else expected = { kind: 'ok', status: 'voided' };
      return { label, request: req, expect: expected };
    }
    case 'preauth': {
      const dup = op.dupOrder === null ? undefined : pickFrom(run.preauthOrderNos, op.dupOrder);
      const orderNo = dup ?? `A${run.next++}`;
      addUnique(run.preauthOrderNos, orderNo);
      const amount = BigInt(op.amount);
      const req = requestOf('preauth', null, { merchant_order_no: orderNo, amount: op.amount, currency: op.usd ? 'USD' : 'CNY' }, keyFor(run, op.key));
      const k = keyExpectation(run, req);
      if (k !== 'fresh') return { label: 'preauth', request: req, expect: k };
      const duplicate = [...snap.preauths.values()].some((p) => p.orderNo === orderNo);
      const expected: Expect = duplicate
        ? { kind: 'error', code: 'merchant_order_no_duplicate' }
        : { kind: 'ok', status: isDecline(amount) ? 'failed' : isUnknown(amount) ? 'processing' : 'authorized' };
      return { label: 'preauth', request: req, expect: expected };
    }
    case 'capture': {
      const target = pickFrom(run.preauthIds, op.pick);
      const p = target === undefined ? undefined : snap.preauths.get(target);
      const amount = op.size.kind === 'full' ? (p?.amount ?? 100n) : sized(op.size, p?.amount ?? 0n, 100n);
      const body = op.size.kind === 'full' ? {} : { amount: Number(amount) };
      const req = requestOf('capture', target ?? 'pa_missing', body, keyFor(run, op.key));
      const label = `capture ${p?.status ?? 'missing'}`;
      const k = keyExpectation(run, req);
      if (k !== 'fresh') return { label, request: req, expect: k };
      let expected: Expect;
      if (!p) expected = { kind: 'error', code: 'not_found' };
      else if (p.status !== 'authorized' || p.pendingOp !== null) expected = { kind: 'error', code: 'illegal_transition' };
      else if (amount > p.amount) expected = { kind: 'error', code: 'preauth_capture_exceeds' };
      else if (isDecline(amount)) expected = { kind: 'error', code: 'channel_declined' };
      else if (isUnknown(amount)) expected = { kind: 'error', code: 'channel_unavailable' };
      else expected = { kind: 'ok', status: 'succeeded' };
      return { label, request: req, expect: expected };
    }
    case 'preauthVoid': {
      const target = pickFrom(run.preauthIds, op.pick);
      const p = target === undefined ? undefined : snap.preauths.get(target);
      const req = requestOf('preauthVoid', target ?? 'pa_missing', {}, keyFor(run, op.key));
      const label = `preauth void ${p?.status ?? 'missing'}`;
      const k = keyExpectation(run, req);
      if (k !== 'fresh') return { label, request: req, expect: k };
      const expected: Expect = !p
        ? { kind: 'error', code: 'not_found' }
        : p.status !== 'authorized' || p.pendingOp !== null
          ? { kind: 'error', code: 'illegal_transition' }
          : { kind: 'ok', status: 'voided' };
      return { label, request: req, expect: expected };
    }
    case 'captureVoid': {
      const target = pickFrom(run.captureIds, op.pick);
      const c = target === undefined ? undefined : snap.captures.get(target);
      const p = c === undefined ? undefined : snap.preauths.get(c.preauthId);
      const req = requestOf('captureVoid', target ?? 'cap_missing', {}, keyFor(run, op.key));
      const label = `capture void ${c?.status ?? 'missing'}`;
      const k = keyExpectation(run, req);
      if (k !== 'fresh') return { label, request: req, expect: k };
      let expected: Expect;
      if (!c) expected = { kind: 'error', code: 'not_found' };
      else if (c.status !== 'succeeded' || p?.status !== 'captured' || p.captureId !== c.id || p.pendingOp !== null) expected = { kind: 'error', code: 'illegal_transition' };
      else expected = { kind: 'ok', status: 'voided' };
      return { label, request: req, expect: expected };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Running a step.
// ---------------------------------------------------------------------------------------------

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function execute(run: Run, planned: Planned, delay: number, cutoffsInStep = 1): Promise<Outcome | 'cutoff' | 'skipped'> {
  for (let i = 0; i < delay; i++) await turn();
  if (planned.label === 'cutoff') {
    const result = await run.w.ledger.cutoff();
    // Two cutoffs at once both name the open day; the ledger closes it once and refuses the other.
    if ('code' in result && !(result.code === 'cutoff_out_of_order' && cutoffsInStep > 1)) expect.fail(`cutoff refused: ${result.code}`);
    return 'cutoff';
  }
  if (!planned.request) return 'skipped';
  run.sent.push(planned.request);
  return outcomeOf(await send(run.w, planned.request));
}

/** Checks an answer's error code and that its Idempotency-Key executed at most once; adds what it created to the pools. */
function absorb(run: Run, planned: Planned, outcome: Outcome): void {
  const req = planned.request;
  if (!req) return;
  if (outcome.kind === 'error') {
    see(`code:${outcome.code}`);
    if (planned.label.endsWith('(earlier day)')) see(`void of an earlier day:${outcome.code}`);
    if (!KNOWN_CODES.has(outcome.code)) expect.fail(`${planned.label} answered ${outcome.code}, which is not in API_ERROR_CODES`);
    return;
  }
  const rec = run.keys.find((k) => k.key === req.key);
  if (!outcome.replayed && rec) {
    if (rec.stored) expect.fail(`Idempotency-Key ${req.key} executed twice: first ${rec.stored.body}, then ${outcome.body}`);
    rec.stored = { hash: req.hash, httpStatus: outcome.httpStatus, body: outcome.body };
  }
  if (outcome.replayed) see('replayed');
  const o = outcome.json;
  const object = o['object'];
  // Statuses in answers are in the tables, too (parsing checks them); ids join the pools.
  if (object === 'payment') addUnique(run.paymentIds, paymentOf(o).id);
  else if (object === 'refund') addUnique(run.refundIds, refundOf(o).id);
  else if (object === 'preauth') addUnique(run.preauthIds, preauthOf(o).id);
  else if (object === 'capture') addUnique(run.captureIds, captureOf(o).id);
  else expect.fail(`${planned.label} answered an unknown object: ${outcome.body}`);
}

function checkExpectation(planned: Planned, outcome: Outcome): void {
  const e = planned.expect;
  if (e === undefined) return;
  see(`oracle:${e.kind}`);
  const got = outcome.kind === 'error' ? `error ${outcome.code}` : `${outcome.replayed ? 'replayed ' : ''}${String(outcome.json['object'])} ${String(outcome.json['status'])}`;
  const where = `${planned.label} ${JSON.stringify(planned.request?.body ?? {})} → ${got}`;
  switch (e.kind) {
    case 'error':
      expect(outcome.kind === 'error' ? outcome.code : got, where).toBe(e.code);
      break;
    case 'ok':
      expect(outcome.kind === 'ok' && !outcome.replayed ? String(outcome.json['status']) : got, where).toBe(e.status);
      break;
    case 'replay':
      expect(outcome.kind === 'ok' ? { replayed: outcome.replayed, httpStatus: outcome.httpStatus, body: outcome.body } : got, where).toEqual({ replayed: true, httpStatus: e.httpStatus, body: e.body });
      break;
  }
}

async function runStep(run: Run, step: Step): Promise<string[]> {
  const planned = step.ops.map((op) => plan(run, op));
  const concurrent = planned.length > 1;
  // A cutoff landing between a channel void's two units once stranded the payment (see the end of the
  // file); with ONLINE_PROPERTY_RACE_CUTOFF=0 such a step closes the day first.
  const cutoffFirst = concurrent && !RACE_CUTOFF_WITH_VOIDS && planned.some((p) => p.label === 'cutoff') && planned.some((p) => p.request?.endpoint === 'void');
  const cutoffs = planned.filter((p) => p.label === 'cutoff').length;
  const started: (Promise<Outcome | 'cutoff' | 'skipped'> | undefined)[] = planned.map((p) => (cutoffFirst && p.label === 'cutoff' ? execute(run, p, 0, cutoffs) : undefined));
  const gate = Promise.allSettled(started);
  const settled = await Promise.allSettled(
    planned.map(
      (p, i) => started[i] ?? (cutoffFirst ? gate.then(() => execute(run, p, step.delays[i] ?? 0, cutoffs)) : execute(run, p, concurrent ? (step.delays[i] ?? 0) : 0, cutoffs)),
    ),
  );
  const log: string[] = [];
  settled.forEach((s, i) => {
    const p = planned[i] as Planned;
    if (s.status === 'rejected') {
      const e = s.reason as Error;
      if (e.name === 'AssertionError') throw e;
      expect.fail(`an exception escaped ${p.label} ${JSON.stringify(p.request?.body ?? {})}: ${e.stack ?? String(e)}`);
    }
    const outcome = s.value;
    if (outcome === 'cutoff' || outcome === 'skipped') {
      log.push(p.label);
      return;
    }
    log.push(`${p.label} → ${outcome.kind === 'error' ? outcome.code : String(outcome.json['status'])}`);
    absorb(run, p, outcome);
    if (!concurrent) checkExpectation(p, outcome);
  });
  if (concurrent) see('concurrent step');
  return log;
}

// ---------------------------------------------------------------------------------------------
// Reading everything back, and the invariants.
// ---------------------------------------------------------------------------------------------

async function readJournal(ledger: Ledger): Promise<JournalEntry[]> {
  const all: JournalEntry[] = [];
  for (;;) {
    const page = await ledger.store.readJournal({ limit: 10_000, afterSeq: all.at(-1)?.seq });
    all.push(...page);
    if (page.length < 10_000) return all;
  }
}

async function readBack(run: Run): Promise<Snapshot> {
  const { w } = run;
  // Find every payment by its order number, so none exists that no answer told us of.
  const found = await Promise.all(run.orderNos.map((no) => w.payments.findByOrderNo(MERCHANT, no)));
  for (const r of found) if (!isFailure(r)) addUnique(run.paymentIds, paymentOf(JSON.parse(r.body) as Json).id);
  const [payments, refunds, preauths, captures] = await Promise.all([
    Promise.all(run.paymentIds.map(async (id) => paymentOf(okBody(await w.payments.get(MERCHANT, id), `GET payment ${id}`)))),
    Promise.all(run.refundIds.map(async (id) => refundOf(okBody(await w.payments.getRefund(MERCHANT, id), `GET refund ${id}`)))),
    Promise.all(run.preauthIds.map(async (id) => preauthOf(okBody(await w.preauths.get(MERCHANT, id), `GET preauth ${id}`)))),
    Promise.all(run.captureIds.map(async (id) => captureOf(okBody(await w.preauths.getCapture(MERCHANT, id), `GET capture ${id}`)))),
  ]);
  const accounts = await w.ledger.accounts();
  const openDay = await w.ledger.store.openDay();
  if (openDay === undefined) expect.fail('the ledger has no open business day');
  for (const p of payments) see(`payment:${p.status}`);
  for (const r of refunds) see(`refund:${r.status}`);
  for (const p of preauths) see(`preauth:${p.status}`);
  for (const c of captures) see(`capture:${c.status}`);
  const counts = await w.store.counts();
  expect(Object.values(counts).reduce((a, b) => a + b, 0), 'payments in the store vs payments found by order number').toBe(payments.length);
  return {
    openDay,
    payments: new Map(payments.map((p) => [p.id, p])),
    refunds: new Map(refunds.map((r) => [r.id, r])),
    preauths: new Map(preauths.map((p) => [p.id, p])),
    captures: new Map(captures.map((c) => [c.id, c])),
    accounts: new Map(accounts.map((a) => [a.accountId, a])),
  };
}

const add = (m: Map<string, bigint>, k: string, v: bigint): void => void m.set(k, (m.get(k) ?? 0n) + v);

async function checkInvariants(run: Run, prev: Snapshot, cur: Snapshot): Promise<void> {
  const { w } = run;

  // (a) legal transitions, also for objects first seen now (they were born processing).
  for (const p of cur.payments.values()) expectReachable('payment', p.id, PAYMENT_REACH, prev.payments.get(p.id)?.status ?? 'processing', p.status);
  for (const r of cur.refunds.values()) expectReachable('refund', r.id, REFUND_REACH, prev.refunds.get(r.id)?.status ?? 'processing', r.status);
  for (const p of cur.preauths.values()) expectReachable('preauth', p.id, PREAUTH_REACH, prev.preauths.get(p.id)?.status ?? 'processing', p.status);
  for (const c of cur.captures.values()) expectReachable('capture', c.id, CAPTURE_REACH, prev.captures.get(c.id)?.status ?? 'succeeded', c.status);
  for (const p of cur.payments.values()) {
    const before = prev.payments.get(p.id);
    if (before) expect(p.refunded >= before.refunded, `payment ${p.id}: refunded_amount went down`).toBe(true);
  }

  // (b) refunds against their payment.
  const refundsOf = new Map<string, RefundV[]>();
  for (const r of cur.refunds.values()) refundsOf.set(r.paymentId, [...(refundsOf.get(r.paymentId) ?? []), r]);
  for (const p of cur.payments.values()) {
    const rs = refundsOf.get(p.id) ?? [];
    const succeeded = rs.filter((r) => r.status === 'succeeded').reduce((s, r) => s + r.amount, 0n);
    const inFlight = rs.filter((r) => r.status === 'processing').reduce((s, r) => s + r.amount, 0n);
    const where = `payment ${p.id} (${p.product} ${p.amount}, ${p.status}, refunded ${p.refunded})`;
    expect(p.refunded <= p.amount, `${where}: refunded above the amount`).toBe(true);
    expect(p.refunded + inFlight <= p.amount, `${where}: refunds in flight pass the amount`).toBe(true);
    expect(succeeded, `${where}: Σ succeeded refunds`).toBe(p.refunded);
    expect(p.status === 'refunded', `${where}: refunded iff refunded_amount == amount`).toBe(p.refunded === p.amount);
    expect(p.status === 'partially_refunded', `${where}: partially_refunded iff 0 < refunded < amount`).toBe(p.refunded > 0n && p.refunded < p.amount);
    // A declined refund leaves the payment as it was (it may even be voided later); others need a refundable one.
    if (rs.some((r) => r.status !== 'failed')) expect(SUCCESS_LIKE.has(p.status), `${where} has refunds that did not fail`).toBe(true);
    if (SUCCESS_LIKE.has(p.status) || p.status === 'voided') expect(p.businessDate, `${where}: business date`).not.toBeNull();
  }
  for (const r of cur.refunds.values()) expect(cur.payments.has(r.paymentId), `refund ${r.id} of an unknown payment`).toBe(true);

  // (c) pre-authorisations and captures.
  for (const p of cur.preauths.values()) {
    const where = `preauth ${p.id} (${p.amount}, ${p.status}, captured ${p.captured})`;
    expect(p.captured <= p.amount, `${where}: captured above the amount`).toBe(true);
    if (p.status === 'captured') {
      const c = p.captureId === null ? undefined : cur.captures.get(p.captureId);
      expect(c?.status, `${where}: its capture`).toBe('succeeded');
      expect(c?.amount, `${where}: captured_amount vs its capture`).toBe(p.captured);
      expect(p.captured > 0n, where).toBe(true);
    } else {
      expect(p.captured, `${where}: captured_amount when not captured`).toBe(0n);
      expect(p.captureId, `${where}: capture_id when not captured`).toBeNull();
    }
  }
  for (const c of cur.captures.values()) {
    const p = cur.preauths.get(c.preauthId);
    expect(p, `capture ${c.id} of an unknown preauth`).toBeDefined();
    if (c.status === 'succeeded') expect(p?.captureId, `capture ${c.id} succeeded but its preauth does not name it`).toBe(c.id);
    expect(c.amount <= (p?.amount ?? 0n), `capture ${c.id} above its preauth`).toBe(true);
  }

  // (c) the journal entries of the orders.
  const journal = await readJournal(w.ledger);
  const byId = new Map(journal.map((e) => [e.entryId, e]));
  const payEntries = journal.filter((e) => e.entryId.startsWith('pay.'));
  for (const p of cur.payments.values()) {
    const entry = byId.get(`pay.${p.id}`);
    const where = `payment ${p.id} (${p.product}, ${p.status})`;
    if (SUCCESS_LIKE.has(p.status) || p.status === 'voided') {
      expect(entry?.reference, `${where}: its pay entry`).toBe(p.id);
      expect(entry?.reversedByEntryId ?? null, `${where}: reversed iff voided`).toBe(p.status === 'voided' ? `void.${p.id}` : null);
      expect(entry?.businessDate, `${where}: entry day`).toBe(p.businessDate);
    } else {
      expect(entry, `${where} must have no pay entry`).toBeUndefined();
    }
  }
  expect(payEntries.length, 'pay.* entries vs payments that have one').toBe([...cur.payments.values()].filter((p) => SUCCESS_LIKE.has(p.status) || p.status === 'voided').length);
  const refundEntries = journal.filter((e) => e.entryId.startsWith('refund.'));
  for (const r of cur.refunds.values()) expect(byId.has(`refund.${r.id}`), `refund ${r.id} (${r.status}): entry iff succeeded`).toBe(r.status === 'succeeded');
  expect(refundEntries.length, 'refund.* entries vs succeeded refunds').toBe([...cur.refunds.values()].filter((r) => r.status === 'succeeded').length);
  for (const c of cur.captures.values()) {
    const entry = byId.get(`cap.${c.id}`);
    expect(entry, `capture ${c.id}: its entry`).toBeDefined();
    expect(entry?.reversedByEntryId ?? null, `capture ${c.id}: reversed iff voided`).toBe(c.status === 'voided' ? `capvoid.${c.id}` : null);
  }
  expect(journal.filter((e) => e.entryId.startsWith('cap.')).length, 'cap.* entries vs captures').toBe(cur.captures.size);

  // (d) the ledger adds up.
  const report = await w.ledger.verify();
  expect(report.problem, 'ledger.verify()').toBeNull();
  expect(report.ok).toBe(true);
  const sums = new Map<string, { dp: bigint; cp: bigint; dq: bigint; cq: bigint }>();
  for (const a of cur.accounts.values()) {
    const s = sums.get(a.currency) ?? { dp: 0n, cp: 0n, dq: 0n, cq: 0n };
    sums.set(a.currency, { dp: s.dp + a.debitsPosted, cp: s.cp + a.creditsPosted, dq: s.dq + a.debitsPending, cq: s.cq + a.creditsPending });
  }
  for (const [currency, s] of sums) {
    expect(s.dp, `${currency}: Σ debits_posted vs Σ credits_posted`).toBe(s.cp);
    expect(s.dq, `${currency}: Σ debits_pending vs Σ credits_pending`).toBe(s.cq);
  }

  // (e) user accounts: never overdrawn, and exactly funding minus what the payer's orders took.
  const spent = new Map<string, bigint>();
  for (const p of cur.payments.values()) {
    if (!SUCCESS_LIKE.has(p.status) || p.payer === null) continue;
    if (p.product === 'balance') add(spent, balanceAccount(p.payer, p.currency), p.amount - p.refunded);
    if (p.product === 'virtual_coin') add(spent, coinAccount(p.payer), p.amount - p.refunded);
    if (p.product === 'credit') add(spent, creditAccount(p.payer, p.currency), p.amount - p.refunded);
  }
  for (const a of cur.accounts.values()) {
    if (a.ownerKind !== 'user') continue;
    if (a.subjectCode === '2241' || a.subjectCode === '2242') {
      expect(a.debitsPosted + a.debitsPending <= a.creditsPosted, `${a.accountId} overdrawn`).toBe(true);
      expect(a.creditsPosted - a.debitsPosted, `${a.accountId}: funding minus payments`).toBe((w.funded.get(a.accountId) ?? 0n) - (spent.get(a.accountId) ?? 0n));
    } else {
      expect(a.debitsPosted - a.creditsPosted, `${a.accountId}: credit used`).toBe(spent.get(a.accountId) ?? 0n);
      expect(a.debitsPosted - a.creditsPosted <= BigInt(w.config.credit_limit_minor), `${a.accountId}: over the credit limit`).toBe(true);
    }
  }

  // (f) merchant payable and fee income as the orders say; holds as the authorised pre-authorisations.
  const payable = new Map<string, bigint>();
  const fees = new Map<string, bigint>();
  const held = new Map<string, bigint>();
  for (const p of cur.payments.values()) {
    if (!SUCCESS_LIKE.has(p.status)) continue;
    add(payable, p.currency, p.amount - p.fee);
    add(fees, p.currency, p.fee);
  }
  for (const r of cur.refunds.values()) {
    if (r.status !== 'succeeded') continue;
    const currency = cur.payments.get(r.paymentId)?.currency ?? '?';
    add(payable, currency, -(r.amount - r.feeReturned));
    add(fees, currency, -r.feeReturned);
  }
  for (const c of cur.captures.values()) {
    if (c.status !== 'succeeded') continue;
    add(payable, c.currency, c.amount - c.fee);
    add(fees, c.currency, c.fee);
  }
  for (const p of cur.preauths.values()) if (p.status === 'authorized') add(held, p.currency, p.amount);
  for (const currency of ['CNY', 'USD', 'COIN']) {
    const m = cur.accounts.get(`merchant:${MERCHANT.merchantId}:payable:${currency}`);
    const f = cur.accounts.get(`platform:fee-income:${currency}`);
    expect(m ? m.creditsPosted - m.debitsPosted : 0n, `merchant payable ${currency}`).toBe(payable.get(currency) ?? 0n);
    expect(f ? f.creditsPosted - f.debitsPosted : 0n, `fee income ${currency}`).toBe(fees.get(currency) ?? 0n);
    expect(m ? m.creditsPending - m.debitsPending : 0n, `merchant payable ${currency}: held by authorised pre-authorisations`).toBe(held.get(currency) ?? 0n);
    const r = cur.accounts.get(`channel:bank:receivable:${currency}`);
    expect(r ? r.debitsPending - r.creditsPending : 0n, `bank receivable ${currency}: held by authorised pre-authorisations`).toBe(held.get(currency) ?? 0n);
  }

  // (g) what the instant banks did, we booked (outside the ..61/..63 answers only recovery reconciles).
  const bank = (id: string | null): InstantBankChannel => {
    const b = id === null ? undefined : w.banks.get(id);
    if (!b) throw new Error(`no instant bank ${String(id)}`);
    return b;
  };
  await Promise.all(
    [...cur.payments.values()].map(async (p) => {
      if (PRODUCTS[p.product].local || isAppliedUnknown(p.amount)) return;
      const where = `payment ${p.id} (${p.product} ${p.amount}, ${p.status})`;
      const paid = await bank(p.channel).query(p.id, 'pay');
      const expected = SUCCESS_LIKE.has(p.status) || p.status === 'voided' ? 'succeeded' : p.status === 'failed' ? 'declined' : 'not_found';
      expect(paid.status, `${where}: the bank's payment`).toBe(expected);
      const voided = await bank(p.channel).query(`void.${p.id}`, 'void');
      expect(voided.status === 'succeeded', `${where}: the bank voided it iff it is voided here`).toBe(p.status === 'voided');
    }),
  );
  await Promise.all(
    [...cur.refunds.values()].map(async (r) => {
      const p = cur.payments.get(r.paymentId);
      if (!p || PRODUCTS[p.product].local || isAppliedUnknown(r.amount)) return;
      const at = await bank(p.channel).query(r.id, 'refund');
      const expected = r.status === 'succeeded' ? 'succeeded' : r.status === 'failed' ? 'declined' : 'not_found';
      expect(at.status, `refund ${r.id} (${r.amount}, ${r.status}) at the bank`).toBe(expected);
    }),
  );
  await Promise.all(
    [...cur.captures.values()].map(async (c) => {
      const p = cur.preauths.get(c.preauthId);
      const b = bank(p?.channel ?? null);
      expect((await b.query(c.id, 'capture')).status, `capture ${c.id} at the bank`).toBe('succeeded');
      expect((await b.query(`capvoid.${c.id}`, 'capture_void')).status === 'succeeded', `capture ${c.id} (${c.status}): voided at the bank iff here`).toBe(c.status === 'voided');
    }),
  );
  await Promise.all(
    [...cur.preauths.values()].map(async (p) => {
      if (isAppliedUnknown(p.amount)) return;
      const at = await bank(p.channel).query(p.id, 'preauth');
      const expected = p.status === 'failed' ? 'declined' : p.status === 'processing' ? 'not_found' : 'succeeded';
      expect(at.status, `preauth ${p.id} (${p.amount}, ${p.status}) at the bank`).toBe(expected);
    }),
  );
}

const REQUIRED_COVERAGE = [
  'payment:succeeded',
  'payment:failed',
  'payment:voided',
  'payment:partially_refunded',
  'payment:refunded',
  'refund:succeeded',
  'refund:failed',
  'preauth:authorized',
  'preauth:voided',
  'capture:succeeded',
  'capture:voided',
  'code:refund_exceeds_remaining',
  'code:preauth_capture_exceeds',
  'code:idempotency_key_reused',
  'code:merchant_order_no_duplicate',
  'code:insufficient_funds',
  'void of an earlier day:void_not_allowed',
  'concurrent step',
  'oracle:ok',
  'oracle:error',
  'oracle:replay',
];

const EMPTY: Snapshot = { openDay: FIRST_DAY, payments: new Map(), refunds: new Map(), preauths: new Map(), captures: new Map(), accounts: new Map() };

async function runSequence(funding: Funding, steps: readonly Step[]): Promise<void> {
  const w = await makeWorld(funding);
  const run: Run = { w, next: 1, orderNos: [], preauthOrderNos: [], refundNos: [], paymentIds: [], refundIds: [], preauthIds: [], captureIds: [], keys: [], sent: [], snap: EMPTY };
  const history: string[] = [];
  try {
    run.snap = await readBack(run);
    for (const [i, step] of steps.entries()) {
      const log = await runStep(run, step);
      history.push(`${i}: ${step.ops.length > 1 ? `[${log.join(' | ')}]` : log.join('')}`);
      const cur = await readBack(run);
      await checkInvariants(run, run.snap, cur);
      run.snap = cur;
    }
  } catch (e) {
    (e as Error).message += `\nsteps so far:\n  ${history.join('\n  ')}`;
    throw e;
  } finally {
    await w.store.drain();
    w.db.close();
  }
}

describe('Given funded payers, an in-memory SQLite store with the ledger attached, and instant banks under the ids bank, wallet and payout', () => {
  it(
    'When random sequences of payments, refunds, voids, pre-authorisations, captures, their voids, key reuses and cutoffs run, some concurrently, Then every answer is legal and the orders, the ledger and the banks agree after every step',
    async () => {
      coverage.clear();
      const required = RUNS < DEFAULT_RUNS ? [] : REQUIRED_COVERAGE;
      // Random seeds, so each run explores anew; a rare case (a refund the bank declines) that one batch of
      // runs happens to miss gets up to two more batches before the coverage check below calls the run vacuous.
      for (let batch = 0; batch < 3 && (batch === 0 || required.some((label) => !coverage.has(label))); batch++) {
        await fc.assert(
          fc.asyncProperty(fundingArb, fc.array(stepArb, { minLength: 10, maxLength: 50, size: 'max' }), async (funding, steps) => runSequence(funding, steps)),
          { numRuns: RUNS },
        );
      }
      // The generator reaches the cases the invariants are about (not a proof, a guard against a vacuous run).
      if (process.env['ONLINE_PROPERTY_COVERAGE'] === '1') console.log([...coverage].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`).join('\n'));
      for (const label of required) expect(coverage.get(label) ?? 0, `coverage of ${label}`).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------
// Bugs the property found (or that shared its root cause), pinned as deterministic reproductions of the fix.
// ---------------------------------------------------------------------------------------------

describe('Given a succeeded foreign_card payment through the instant bank', () => {
  it('When a cutoff lands between the two units of its void, Then the bank and the payment still agree and the payment is not stranded', async () => {
    const w = await makeWorld({ balances: [0, 0, 0], coins: [0, 0] });
    try {
      const paid = okBody(await w.payments.create(MERCHANT, { key: 'p', requestHash: 'p' }, { merchant_order_no: 'O1', product: 'foreign_card', amount: 10_000, currency: 'CNY' }), 'pay');
      const id = str(paid, 'id');
      // The void's first unit commits in the first turn; the cutoff runs in the next, before the void's second unit.
      const [voided] = await Promise.all([w.payments.void(MERCHANT, { key: 'v', requestHash: 'v' }, id, {}), turn().then(() => w.ledger.cutoff())]);
      const atBank = (await w.banks.get('bank')?.query(`void.${id}`, 'void'))?.status;
      const status = str(okBody(await w.payments.get(MERCHANT, id), 'get'), 'status');
      // Today: the void answers void_not_allowed, the bank has voided (the payer has the money back), the payment
      // stays succeeded with its pay entry unreversed and pending_op 'void' forever (refunds: payment_not_refundable
      // "has a void in progress"; the same key: idempotency_key_in_flight; a new key: void_not_allowed).
      expect({ answer: isFailure(voided) ? voided.code : 'voided', atBank, status }).toEqual(
        isFailure(voided) ? { answer: 'void_not_allowed', atBank: 'not_found', status: 'succeeded' } : { answer: 'voided', atBank: 'succeeded', status: 'voided' },
      );
      if (status === 'succeeded') expect(isFailure(await w.payments.refund(MERCHANT, { key: 'r', requestHash: 'r' }, id, { merchant_refund_no: 'R1', amount: 100 }))).toBe(false);
    } finally {
      w.db.close();
    }
  });
});

describe('Given an authorised pre-authorisation that expires while the bank works on its capture', () => {
  it('When the bank confirms the capture after the expiry, Then the capture is booked or the bank is not left with it', async () => {
    let now = Date.UTC(2026, 10, 26, 2, 0, 0);
    const clock = (): number => now;
    const db = openSqlite(':memory:');
    const ledgerStore = SqliteLedgerStore.attach(db, ':memory:');
    try {
      const ledger = new Ledger(ledgerStore, clock);
      await ledger.initialise(
        parseChart({
          subjects: [
            { code: '1122', name: 'Channel receivable', type: 'asset' },
            { code: '2202', name: 'Merchant payable', type: 'liability' },
            { code: '6001', name: 'Fee income', type: 'revenue' },
            { code: '6401', name: 'Channel cost', type: 'expense' },
          ],
          accounts: [],
        }),
        FIRST_DAY,
      );
      const parsed = parseOnlineConfig({ preauth_expiry_s: 60 });
      if (!parsed.ok) throw new Error('config');
      const bank = new InstantBankChannel({ channelId: 'bank' });
      // The bank captures, and answers 61 s later (slow, but a success).
      const slow: ChannelPort = Object.assign(Object.create(bank) as ChannelPort, {
        capture: async (req: FollowUpRequest) => {
          const out = await bank.capture(req);
          now += 61_000;
          return out;
        },
      });
      const store = new SqliteOnlineStore(db, ledgerStore, { clock });
      const preauths = new PreauthService(store, parsed.value, new Map([['bank', slow]]), clock);
      const pa = okBody(await preauths.create(MERCHANT, { key: 'a', requestHash: 'a' }, { merchant_order_no: 'A1', amount: 5_000, currency: 'CNY' }), 'preauth');
      const captured = await preauths.capture(MERCHANT, { key: 'c', requestHash: 'c' }, str(pa, 'id'), {});
      // Today: illegal_transition "expired", though the bank captured 50.00; the pre-authorisation stays authorized
      // with pending_op capture:… (the same key: idempotency_key_in_flight; a void: illegal_transition), and the
      // expiry sweep (store.expiredPreauths → expirePreauth) will release the hold of money the bank took.
      const bankNet = (await bank.balance()).find((b) => b.currency === 'CNY')?.availableMinor ?? 0n;
      expect({ captured: !isFailure(captured), bankTookIt: bankNet > 0n }).toEqual({ captured: bankNet > 0n, bankTookIt: bankNet > 0n });
    } finally {
      db.close();
    }
  });
});
