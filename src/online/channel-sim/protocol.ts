// The simulator's wire format, shared by the server and the HTTP adapter so both read the same shapes.
// JSON with snake_case keys; amounts are integer strings of minor units (a safe JSON integer is also
// accepted on the way in). Requests: POST /channels/:channel/:operation, signed (signature.ts).

import { z } from 'zod';
import { parseAmountMinor } from '../../ledger/index.js';
import type { ChannelOperation } from '../channels/port.js';
import { MUTATING_OPERATIONS, PRODUCTS, type MutatingOperation } from './config.js';
import type { SimTxn } from './store.js';

export const CHANNEL_OPERATIONS = [...MUTATING_OPERATIONS, 'query', 'balance'] as const satisfies readonly ChannelOperation[];

export function channelPath(channelId: string, operation: ChannelOperation): string {
  return `/channels/${encodeURIComponent(channelId)}/${operation}`;
}

export function isChannelOperation(op: string): op is ChannelOperation {
  return (CHANNEL_OPERATIONS as readonly string[]).includes(op);
}

export function isMutating(op: ChannelOperation): op is MutatingOperation {
  return (MUTATING_OPERATIONS as readonly string[]).includes(op);
}

const REFERENCE = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'a reference is 1–128 of [A-Za-z0-9._:-]');
const AMOUNT = z.union([z.string(), z.number()]);
const CURRENCY = z.string().regex(/^[A-Z]{3,5}$/, 'a currency code');
const TEXT = z.string().min(1).max(256);
const URL_TEXT = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      const p = new URL(u).protocol;
      return p === 'http:' || p === 'https:';
    } catch {
      return false;
    }
  }, 'an http(s) URL');

export const requestSchemas = {
  pay: z.strictObject({
    reference: REFERENCE,
    product: z.enum(PRODUCTS),
    amount_minor: AMOUNT,
    currency: CURRENCY,
    payer_id: TEXT.optional(),
    agreement_token: TEXT.optional(),
    description: TEXT.optional(),
    notify_url: URL_TEXT.optional(),
  }),
  followUp: z.strictObject({ reference: REFERENCE, original_reference: REFERENCE, amount_minor: AMOUNT, currency: CURRENCY }),
  sign: z.strictObject({ reference: REFERENCE, payer_id: TEXT, account_hint: z.string().max(64).optional() }),
  unsign: z.strictObject({ reference: REFERENCE, agreement_token: TEXT }),
  payout: z.strictObject({
    reference: REFERENCE,
    amount_minor: AMOUNT,
    currency: CURRENCY,
    payee_name: TEXT,
    payee_account: TEXT,
    notify_url: URL_TEXT.optional(),
  }),
  query: z.strictObject({ reference: REFERENCE, operation: z.enum(MUTATING_OPERATIONS) }),
  balance: z.strictObject({}),
} as const;

export type PayBody = z.infer<typeof requestSchemas.pay>;
export type FollowUpBody = z.infer<typeof requestSchemas.followUp>;
export type SignBody = z.infer<typeof requestSchemas.sign>;
export type UnsignBody = z.infer<typeof requestSchemas.unsign>;
export type PayoutBody = z.infer<typeof requestSchemas.payout>;
export type QueryBody = z.infer<typeof requestSchemas.query>;

export type ParsedRequest =
  | { readonly operation: 'pay' | 'preauth'; readonly body: PayBody; readonly amountMinor: bigint }
  | { readonly operation: 'refund' | 'void' | 'capture' | 'preauth_void' | 'capture_void'; readonly body: FollowUpBody; readonly amountMinor: bigint }
  | { readonly operation: 'sign'; readonly body: SignBody; readonly amountMinor: undefined }
  | { readonly operation: 'unsign'; readonly body: UnsignBody; readonly amountMinor: undefined }
  | { readonly operation: 'payout'; readonly body: PayoutBody; readonly amountMinor: bigint }
  | { readonly operation: 'query'; readonly body: QueryBody; readonly amountMinor: undefined }
  | { readonly operation: 'balance'; readonly body: Record<string, never>; readonly amountMinor: undefined };

export type RequestParse = { readonly ok: true; readonly request: ParsedRequest } | { readonly ok: false; readonly code: string; readonly message: string };

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'The request body is invalid.';
  return `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}.`;
}

function schemaOf(op: ChannelOperation): z.ZodType {
  switch (op) {
    case 'pay':
    case 'preauth':
      return requestSchemas.pay;
    case 'refund':
    case 'void':
    case 'capture':
    case 'preauth_void':
    case 'capture_void':
      return requestSchemas.followUp;
    default:
      return requestSchemas[op];
  }
}

/** Reads a request body for an operation: shape first, then the amount as exact minor units. */
export function parseRequest(operation: ChannelOperation, raw: unknown): RequestParse {
  const parsed = schemaOf(operation).safeParse(raw);
  if (!parsed.success) return { ok: false, code: 'request_invalid', message: describe(parsed.error) };
  const body = parsed.data as { amount_minor?: string | number };
  if (body.amount_minor === undefined) return { ok: true, request: { operation, body, amountMinor: undefined } as ParsedRequest };
  const amount = parseAmountMinor(body.amount_minor);
  if (!amount.ok) return { ok: false, code: amount.code, message: amount.message };
  return { ok: true, request: { operation, body, amountMinor: amount.value } as ParsedRequest };
}

/** The channel's answer about one of its transactions, as sent on the wire. */
export function outcomeJson(t: SimTxn, redirectUrl: string | undefined, replayed: boolean): Record<string, unknown> {
  const common = {
    channel: t.channelId,
    operation: t.operation,
    reference: t.reference,
    channel_txn_id: t.channelTxnId,
    amount_minor: t.amountMinor.toString(),
    currency: t.currency,
    business_date: t.businessDate,
    replayed,
  };
  switch (t.status) {
    case 'succeeded':
      return {
        status: 'succeeded',
        ...common,
        fee_minor: t.feeMinor.toString(),
        ...(t.agreementToken !== null && t.operation === 'sign' ? { agreement_token: t.agreementToken } : {}),
      };
    case 'processing':
      return { status: 'processing', ...common, ...(redirectUrl !== undefined ? { redirect_url: redirectUrl } : {}) };
    case 'declined':
      return { status: 'declined', ...common, decline_code: t.declineCode ?? 'declined', message: t.declineMessage ?? 'Declined.' };
  }
}

/** A notification the simulator POSTs to a notify_url when an asynchronous operation completes. */
export function notificationJson(t: SimTxn, notificationId: string): Record<string, unknown> {
  return {
    notification_id: notificationId,
    channel: t.channelId,
    operation: t.operation,
    reference: t.reference,
    channel_txn_id: t.channelTxnId,
    status: t.status,
    amount_minor: t.amountMinor.toString(),
    currency: t.currency,
    fee_minor: t.feeMinor.toString(),
    ...(t.status === 'declined' ? { decline_code: t.declineCode, message: t.declineMessage } : {}),
    completed_at_ms: t.completedAtMs,
    business_date: t.businessDate,
  };
}

// --- What the adapter reads back (loose: the simulator may add fields) ---

const INT_STRING = z.string().regex(/^(0|[1-9][0-9]{0,18})$/);

export const outcomeResponseSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('succeeded'), channel_txn_id: z.string().min(1), fee_minor: INT_STRING.optional(), agreement_token: z.string().min(1).optional() }),
  z.object({ status: z.literal('processing'), channel_txn_id: z.string().min(1).optional(), redirect_url: z.string().min(1).optional() }),
  z.object({ status: z.literal('declined'), decline_code: z.string().min(1), message: z.string() }),
  z.object({ status: z.literal('not_found') }),
]);
export type OutcomeResponse = z.infer<typeof outcomeResponseSchema>;

export const balanceResponseSchema = z.object({
  balances: z.array(z.object({ currency: z.string().min(1), available_minor: z.string().regex(/^-?(0|[1-9][0-9]{0,18})$/) })),
});

export const notificationSchema = z.object({
  notification_id: z.string().min(1).max(128),
  channel: z.string().min(1),
  operation: z.enum(CHANNEL_OPERATIONS),
  reference: z.string().min(1).max(128),
  channel_txn_id: z.string().min(1).max(128),
  status: z.enum(['succeeded', 'declined']),
  amount_minor: INT_STRING,
  currency: z.string().min(1),
});
