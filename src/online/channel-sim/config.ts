// The simulator's configuration: which channels it plays and how each behaves. One schema, parsed once
// (unknown keys are refused), frozen. Every field is optional: a missing `channels` gives the three
// default channels the daemon's sample config expects (bank, wallet, payout), and a channel entry takes
// the defaults of its kind for whatever it leaves out. The admin endpoint patches behaviour with the
// same schema (behaviourPatchSchema).

import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { findCurrency, isTimeZone } from '../../ledger/index.js';
import type { ChannelOperation, ChannelProduct } from '../channels/port.js';
import { simSecretFor } from './secrets.js';

export const CHANNEL_KINDS = ['bank', 'wallet', 'payout'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** Operations that change state at the channel (and so are recorded, idempotent by reference). */
export const MUTATING_OPERATIONS = [
  'pay',
  'refund',
  'void',
  'preauth',
  'capture',
  'preauth_void',
  'capture_void',
  'sign',
  'unsign',
  'payout',
] as const;
export type MutatingOperation = (typeof MUTATING_OPERATIONS)[number] & ChannelOperation;

/** The formats of the daily bill a channel publishes (the Bills section of README.md beside this file). */
export const BILL_FORMATS = ['wechat-trade', 'alipay-trade', 'unionpay-zm'] as const;
export type BillFormat = (typeof BILL_FORMATS)[number];

export const PRODUCTS = ['quick', 'netbank', 'agreement', 'wallet', 'foreign_card', 'phone_bill', 'preauth', 'payout'] as const satisfies readonly ChannelProduct[];

export type Outage = boolean | { readonly fromMs: number; readonly toMs: number };

export interface ChannelBehaviour {
  /** Added before every answer of the channel. */
  readonly latencyMs: number;
  /** Chance in [0, 1] that a pay, preauth or payout is declined (insufficient_funds). */
  readonly declineRate: number;
  /** Chance in [0, 1] that a new mutating operation is applied and recorded but not answered in time. */
  readonly timeoutRate: number;
  /** true: every channel request gets 503; a window: 503 while fromMs <= now < toMs. */
  readonly outage: Outage;
  /** hold: answer late (after timeoutHoldMs); reset: close the socket without an answer. */
  readonly timeoutMode: 'hold' | 'reset';
  readonly timeoutHoldMs: number;
  /** Asynchronous operations complete (and notify) this long after acceptance; null: only when the payer acts on the cashier page. */
  readonly notifyDelayMs: number | null;
}

export interface SimChannel {
  readonly id: string;
  readonly kind: ChannelKind;
  readonly products: readonly ChannelProduct[];
  readonly currencies: readonly string[];
  readonly operations: readonly MutatingOperation[];
  /** Operations answered `processing` and completed later by notification (netbank and wallet payments always are). */
  readonly asyncOperations: readonly MutatingOperation[];
  /** The channel's cost (手续费) as a decimal rate, applied half-up to each amount. */
  readonly feeRate: string;
  readonly openingBalanceMinor: Readonly<Record<string, bigint>>;
  readonly secret: string;
  readonly behaviour: ChannelBehaviour;
  /** The daily bill this channel publishes (对账单); null: none (payout). */
  readonly billFormat: BillFormat | null;
  /** The merchant or account id in the bill's names and headers; null: the format's default (DEFAULT_BILL_ACCOUNTS in bills/write-bills.ts). */
  readonly billAccount: string | null;
}

export interface SimConfig {
  /** The seed of every random choice; undefined: one is chosen at start. */
  readonly seed: string | undefined;
  /** The calendar of the business date of each record (账单日). */
  readonly timeZone: string;
  readonly notifyTimeoutMs: number;
  /** Delays between notification attempts; its length is the number of retries. */
  readonly notifyRetryDelaysMs: readonly number[];
  readonly channels: readonly SimChannel[];
}

export const DEFAULT_BEHAVIOUR: ChannelBehaviour = Object.freeze({
  latencyMs: 0,
  declineRate: 0,
  timeoutRate: 0,
  outage: false,
  timeoutMode: 'hold',
  timeoutHoldMs: 30_000,
  notifyDelayMs: 200,
});

interface KindDefaults {
  readonly products: readonly ChannelProduct[];
  readonly currencies: readonly string[];
  readonly operations: readonly MutatingOperation[];
  readonly asyncOperations: readonly MutatingOperation[];
  readonly feeRate: string;
  readonly openingBalanceMinor: Readonly<Record<string, bigint>>;
  readonly billFormat: BillFormat | null;
}

/** What a channel of each kind does unless its config says otherwise. Fee rates match the daemon's sample cost rates. */
export const KIND_DEFAULTS: Readonly<Record<ChannelKind, KindDefaults>> = {
  bank: {
    products: ['quick', 'agreement', 'foreign_card', 'phone_bill', 'netbank', 'preauth'],
    currencies: ['CNY', 'USD', 'EUR', 'HKD', 'JPY'],
    operations: ['pay', 'refund', 'void', 'preauth', 'capture', 'preauth_void', 'capture_void', 'sign', 'unsign'],
    asyncOperations: [],
    feeRate: '0.0038',
    openingBalanceMinor: {},
    billFormat: 'unionpay-zm',
  },
  wallet: {
    products: ['wallet', 'netbank'],
    currencies: ['CNY'],
    operations: ['pay', 'refund', 'void', 'sign', 'unsign'],
    asyncOperations: ['pay'],
    feeRate: '0.006',
    openingBalanceMinor: {},
    billFormat: 'wechat-trade',
  },
  payout: {
    products: ['payout'],
    currencies: ['CNY'],
    operations: ['payout'],
    asyncOperations: ['payout'],
    feeRate: '0',
    openingBalanceMinor: { CNY: 1_000_000_000n }, // 10,000,000.00 CNY prefunded
    billFormat: null,
  },
};

/** Limits, with their reasons. */
export const SIM_LIMITS = {
  /** Longer than any client timeout worth testing; keeps a stuck test from hanging for ever. */
  latencyMsMax: 60_000,
  timeoutHoldMsMax: 300_000,
  notifyDelayMsMax: 3_600_000,
  notifyRetriesMax: 20,
  channelsMax: 64,
  configBytesMax: 1_048_576,
  /** Request bodies: the largest real request is a few hundred bytes. */
  bodyBytesMax: 65_536,
  /** How long a closing simulator lets notifications on the wire finish before it aborts them. */
  notifyCloseGraceMs: 1_000,
  /** How long a closing simulator waits for open connections before it drops them. */
  closeGraceMs: 2_000,
  /** Answers the adapter reads; anything longer is garbage. */
  responseBytesMax: 262_144,
} as const;

const CHANNEL_ID = /^[a-z][a-z0-9_-]{0,31}$/;
const RATE = /^(0|[1-9][0-9]*)(\.[0-9]{1,18})?$/;

const instant = z.union([z.number().int().min(0), z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 time')]);

export const behaviourPatchSchema = z.strictObject({
  latency_ms: z.number().int().min(0).max(SIM_LIMITS.latencyMsMax).optional(),
  decline_rate: z.number().min(0).max(1).optional(),
  timeout_rate: z.number().min(0).max(1).optional(),
  outage: z.union([z.boolean(), z.strictObject({ from: instant, to: instant })]).optional(),
  timeout_mode: z.enum(['hold', 'reset']).optional(),
  timeout_hold_ms: z.number().int().min(0).max(SIM_LIMITS.timeoutHoldMsMax).optional(),
  notify_delay_ms: z.number().int().min(0).max(SIM_LIMITS.notifyDelayMsMax).nullable().optional(),
});
export type BehaviourPatch = z.infer<typeof behaviourPatchSchema>;

const currencyCode = z.string().refine((c) => findCurrency(c) !== undefined, 'not a known currency code');

const channelSchema = z.strictObject({
  id: z.string().regex(CHANNEL_ID, 'a channel id is 1–32 of [a-z0-9_-], starting with a letter'),
  kind: z.enum(CHANNEL_KINDS),
  products: z.array(z.enum(PRODUCTS)).min(1).optional(),
  currencies: z.array(currencyCode).min(1).optional(),
  operations: z.array(z.enum(MUTATING_OPERATIONS)).optional(),
  async_operations: z.array(z.enum(MUTATING_OPERATIONS)).optional(),
  fee_rate: z.string().regex(RATE, 'a rate is a plain decimal string such as "0.0038"').optional(),
  opening_balance_minor: z.record(currencyCode, z.string().regex(/^(0|[1-9][0-9]{0,17})$/, 'an integer string of minor units')).optional(),
  /** Prefer SETTLE_SIM_SECRET_<CHANNEL>; a secret in a file is for throwaway setups. */
  secret: z.string().min(16).max(256).optional(),
  behaviour: behaviourPatchSchema.optional(),
  /** null: the channel publishes no bill. */
  bill_format: z.enum(BILL_FORMATS).nullable().optional(),
  bill_account: z.string().regex(/^[0-9A-Za-z]{1,32}$/, 'a bill account is 1–32 letters or digits').optional(),
});

export const simConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  seed: z.union([z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), z.number().int().min(0)]).optional(),
  time_zone: z
    .string()
    .refine(isTimeZone, 'not a known IANA time zone')
    .optional(),
  notify: z
    .strictObject({
      timeout_ms: z.number().int().min(100).max(60_000).optional(),
      retry_delays_ms: z.array(z.number().int().min(0).max(SIM_LIMITS.notifyDelayMsMax)).max(SIM_LIMITS.notifyRetriesMax).optional(),
    })
    .optional(),
  channels: z.array(channelSchema).min(1).max(SIM_LIMITS.channelsMax).optional(),
});
export type SimConfigInput = z.input<typeof simConfigSchema>;

export type ConfigResult = { readonly ok: true; readonly value: SimConfig } | { readonly ok: false; readonly message: string };

function toMs(v: number | string): number {
  return typeof v === 'number' ? v : Date.parse(v);
}

/** The behaviour after a patch: only the keys present change. */
export function applyBehaviourPatch(base: ChannelBehaviour, patch: BehaviourPatch): ChannelBehaviour {
  const outage: Outage | undefined =
    patch.outage === undefined ? undefined : typeof patch.outage === 'boolean' ? patch.outage : { fromMs: toMs(patch.outage.from), toMs: toMs(patch.outage.to) };
  return Object.freeze({
    latencyMs: patch.latency_ms ?? base.latencyMs,
    declineRate: patch.decline_rate ?? base.declineRate,
    timeoutRate: patch.timeout_rate ?? base.timeoutRate,
    outage: outage ?? base.outage,
    timeoutMode: patch.timeout_mode ?? base.timeoutMode,
    timeoutHoldMs: patch.timeout_hold_ms ?? base.timeoutHoldMs,
    notifyDelayMs: patch.notify_delay_ms === undefined ? base.notifyDelayMs : patch.notify_delay_ms,
  });
}

export function behaviourJson(b: ChannelBehaviour): Record<string, unknown> {
  return {
    latency_ms: b.latencyMs,
    decline_rate: b.declineRate,
    timeout_rate: b.timeoutRate,
    outage: typeof b.outage === 'boolean' ? b.outage : { from: new Date(b.outage.fromMs).toISOString(), to: new Date(b.outage.toMs).toISOString() },
    timeout_mode: b.timeoutMode,
    timeout_hold_ms: b.timeoutHoldMs,
    notify_delay_ms: b.notifyDelayMs,
  };
}

export function describeIssue(error: z.ZodError, where: string): string {
  const issue = error.issues[0];
  if (!issue) return `${where} is invalid.`;
  const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  return `${where}: ${path}: ${issue.message}.`;
}

const DEFAULT_CHANNELS: z.infer<typeof channelSchema>[] = [
  { id: 'bank', kind: 'bank' },
  { id: 'wallet', kind: 'wallet' },
  { id: 'payout', kind: 'payout' },
];

/** Parses a config object (the file's JSON; `{}` for all defaults). Secrets come from env first. */
export function parseSimConfig(raw: unknown, env: Readonly<Record<string, string | undefined>>, where = 'channel-sim config'): ConfigResult {
  const parsed = simConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) return { ok: false, message: describeIssue(parsed.error, where) };
  const input = parsed.data;
  const seen = new Set<string>();
  const channels: SimChannel[] = [];
  for (const c of input.channels ?? DEFAULT_CHANNELS) {
    if (seen.has(c.id)) return { ok: false, message: `${where}: channels: the id ${c.id} appears twice.` };
    seen.add(c.id);
    const d = KIND_DEFAULTS[c.kind];
    const operations = c.operations ?? d.operations;
    const asyncOperations = c.async_operations ?? d.asyncOperations;
    const stray = asyncOperations.find((op) => !operations.includes(op));
    if (stray) return { ok: false, message: `${where}: channels.${c.id}.async_operations: ${stray} is not one of its operations.` };
    const opening: Record<string, bigint> = { ...d.openingBalanceMinor };
    for (const [cur, minor] of Object.entries(c.opening_balance_minor ?? {})) opening[cur] = BigInt(minor);
    channels.push(
      Object.freeze({
        id: c.id,
        kind: c.kind,
        products: Object.freeze([...(c.products ?? d.products)]),
        currencies: Object.freeze([...(c.currencies ?? d.currencies)]),
        operations: Object.freeze([...operations]),
        asyncOperations: Object.freeze([...asyncOperations]),
        feeRate: c.fee_rate ?? d.feeRate,
        openingBalanceMinor: Object.freeze(opening),
        secret: simSecretFor(c.id, env, c.secret),
        behaviour: applyBehaviourPatch(DEFAULT_BEHAVIOUR, c.behaviour ?? {}),
        billFormat: c.bill_format === undefined ? d.billFormat : c.bill_format,
        billAccount: c.bill_account ?? null,
      }),
    );
  }
  return {
    ok: true,
    value: Object.freeze({
      seed: input.seed === undefined ? undefined : String(input.seed),
      timeZone: input.time_zone ?? 'Asia/Shanghai',
      notifyTimeoutMs: input.notify?.timeout_ms ?? 5_000,
      notifyRetryDelaysMs: Object.freeze([...(input.notify?.retry_delays_ms ?? [1_000, 5_000, 15_000, 60_000, 300_000])]),
      channels: Object.freeze(channels),
    }),
  };
}

/** Reads and parses a config file; a missing, oversize or non-JSON file is a message, not a throw. */
export function loadSimConfigFile(path: string, env: Readonly<Record<string, string | undefined>>): ConfigResult {
  let text: string;
  try {
    if (statSync(path).size > SIM_LIMITS.configBytesMax) return { ok: false, message: `${path} is larger than ${SIM_LIMITS.configBytesMax} bytes.` };
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { ok: false, message: `Cannot read ${path}: ${(e as Error).message}.` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, message: `${path} is not JSON: ${(e as Error).message}.` };
  }
  return parseSimConfig(raw, env, path);
}
