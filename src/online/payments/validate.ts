// Parsing request bodies at the boundary, from one table of field specs per request. The same specs
// generate the OpenAPI document (openapi.ts), so what is documented is what is checked. Unknown fields
// are refused (mass assignment: a client cannot set status, fee or merchant).

import { findCurrency, parseAmountMinor } from '../../ledger/index.js';
import { PRODUCT_NAMES, PRODUCTS, type Product } from '../config.js';
import { apiFailure, type ApiFailure } from '../errors.js';

export type Parsed<T> = { readonly ok: true; readonly value: T } | ApiFailure;

export type FieldSpec =
  | { readonly kind: 'string'; readonly required: boolean; readonly pattern?: RegExp; readonly maxLength?: number; readonly description: string }
  | { readonly kind: 'enum'; readonly required: boolean; readonly values: readonly string[]; readonly description: string }
  | { readonly kind: 'amount'; readonly required: boolean; readonly description: string }
  | { readonly kind: 'currency'; readonly required: boolean; readonly description: string }
  | { readonly kind: 'url'; readonly required: boolean; readonly description: string };

export type RequestSchema = Readonly<Record<string, FieldSpec>>;

const REF = /^[A-Za-z0-9_.:-]{1,64}$/;

export const PAYMENT_SCHEMA = {
  merchant_order_no: { kind: 'string', required: true, pattern: REF, description: 'Your order number; unique per merchant.' },
  product: { kind: 'enum', required: true, values: PRODUCT_NAMES, description: 'The payment product.' },
  amount: { kind: 'amount', required: true, description: 'Integer minor units (1050 = 10.50 CNY), as a JSON integer or integer string.' },
  currency: { kind: 'currency', required: true, description: 'ISO 4217 code; COIN for virtual_coin.' },
  payer_id: { kind: 'string', required: false, pattern: REF, description: 'The paying user; required for balance, credit and virtual_coin.' },
  agreement_id: { kind: 'string', required: false, pattern: REF, description: 'An active agreement; required for quick and agreement.' },
  notify_url: { kind: 'url', required: false, description: 'Where to POST the signed result notification.' },
  description: { kind: 'string', required: false, maxLength: 256, description: 'Shown to the payer where the channel supports it.' },
  device_id: { kind: 'string', required: false, pattern: /^[A-Za-z0-9_.:-]{1,128}$/, description: 'The payer\u2019s device fingerprint, for risk velocity rules.' },
  client_ip: { kind: 'string', required: false, pattern: /^[0-9A-Fa-f.:]{2,45}$/, description: 'The payer\u2019s IP address (IPv4 or IPv6), for risk rules.' },
  card_token: { kind: 'string', required: false, pattern: /^[A-Za-z0-9_.:-]{1,128}$/, description: 'A token of the payer\u2019s card (never the card number), for risk rules; quick and agreement use the agreement.' },
  phone: { kind: 'string', required: false, pattern: /^\+?[0-9]{6,20}$/, description: 'The payer\u2019s mobile number, where a one-time code is sent if risk asks for one.' },
} as const satisfies RequestSchema;

export const VERIFY_SCHEMA = {
  code: { kind: 'string', required: true, pattern: /^[0-9]{4,10}$/, description: 'The one-time code the payer received by SMS.' },
} as const satisfies RequestSchema;

export const REFUND_SCHEMA = {
  merchant_refund_no: { kind: 'string', required: true, pattern: REF, description: 'Your refund number; unique per merchant.' },
  amount: { kind: 'amount', required: true, description: 'Integer minor units; at most what remains of the payment.' },
  reason: { kind: 'string', required: false, maxLength: 256, description: 'Why, for your records.' },
} as const satisfies RequestSchema;

export const EMPTY_SCHEMA = {} as const satisfies RequestSchema;

type ValueOf<S extends FieldSpec> = S extends { kind: 'amount' } ? bigint : string;
export type Fields<S extends RequestSchema> = {
  readonly [K in keyof S]: S[K]['required'] extends true ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

function parseField(name: string, spec: FieldSpec, v: unknown): Parsed<string | bigint | undefined> {
  if (v === undefined || v === null) return spec.required ? apiFailure('field_missing', `${name} is required.`) : { ok: true, value: undefined };
  switch (spec.kind) {
    case 'amount': {
      const parsed = parseAmountMinor(v);
      return parsed.ok ? parsed : apiFailure('amount_invalid', `${name}: ${parsed.message}`);
    }
    case 'currency':
      if (typeof v !== 'string' || !findCurrency(v)) return apiFailure('currency_unknown', `${name} ${JSON.stringify(String(v).slice(0, 12))} is not supported.`);
      return { ok: true, value: v };
    case 'enum':
      if (typeof v !== 'string' || !spec.values.includes(v)) {
        const code = name === 'product' ? 'product_unknown' : 'field_invalid';
        return apiFailure(code, `${name} ${JSON.stringify(String(v).slice(0, 32))} is not one of ${spec.values.join(', ')}.`);
      }
      return { ok: true, value: v };
    case 'url':
      if (typeof v !== 'string' || v.length > 2048) return apiFailure('field_invalid', `${name} must be an http(s) URL.`);
      try {
        const u = new URL(v);
        if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
        // Credentials in a URL end up in logs and proxies; notifications are signed instead.
        if (u.username !== '' || u.password !== '') return apiFailure('field_invalid', `${name} must not hold a user name or password.`);
      } catch {
        return apiFailure('field_invalid', `${name} must be an http(s) URL.`);
      }
      return { ok: true, value: v };
    case 'string':
      if (typeof v !== 'string') return apiFailure('field_invalid', `${name} must be a string.`);
      if (spec.pattern && !spec.pattern.test(v)) return apiFailure('field_invalid', `${name} ${JSON.stringify(v.slice(0, 40))} must match ${spec.pattern.source}.`);
      if (v.length === 0 || (spec.maxLength !== undefined && v.length > spec.maxLength)) {
        return apiFailure('field_invalid', `${name} must be 1–${spec.maxLength ?? 64} characters.`);
      }
      return { ok: true, value: v };
  }
}

/** Checks a JSON body against a schema: an object, no unknown fields, every field valid. */
export function parseBody<S extends RequestSchema>(schema: S, raw: unknown): Parsed<Fields<S>> {
  if (raw === undefined && Object.keys(schema).length === 0) return { ok: true, value: {} as Fields<S> };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return apiFailure('body_invalid_json', 'The body must be a JSON object.');
  const body = raw as Record<string, unknown>;
  const extra = Object.keys(body).filter((k) => !(k in schema));
  if (extra.length > 0) return apiFailure('field_unknown', `Unknown field(s): ${extra.slice(0, 5).join(', ')}.`);
  const out: Record<string, string | bigint | undefined> = {};
  for (const [name, spec] of Object.entries(schema)) {
    const parsed = parseField(name, spec, body[name]);
    if (!parsed.ok) return parsed;
    out[name] = parsed.value;
  }
  return { ok: true, value: out as Fields<S> };
}

export interface PaymentRequest {
  readonly merchantOrderNo: string;
  readonly product: Product;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly payerId?: string | undefined;
  readonly agreementId?: string | undefined;
  readonly notifyUrl?: string | undefined;
  readonly description?: string | undefined;
  readonly deviceId?: string | undefined;
  readonly clientIp?: string | undefined;
  readonly cardToken?: string | undefined;
  readonly phone?: string | undefined;
}

export function parsePaymentRequest(raw: unknown): Parsed<PaymentRequest> {
  const parsed = parseBody(PAYMENT_SCHEMA, raw);
  if (!parsed.ok) return parsed;
  const f = parsed.value;
  const product = f.product as Product;
  if ((product === 'virtual_coin') !== (f.currency === 'COIN')) {
    return apiFailure('currency_not_supported', product === 'virtual_coin' ? 'virtual_coin payments are in COIN.' : 'COIN can only pay with product virtual_coin.');
  }
  if (PRODUCTS[product].needsPayer && f.payer_id === undefined) return apiFailure('field_missing', `payer_id is required for product ${product}.`);
  if (PRODUCTS[product].needsAgreement && f.agreement_id === undefined) return apiFailure('agreement_required', `product ${product} needs agreement_id.`);
  return {
    ok: true,
    value: {
      merchantOrderNo: f.merchant_order_no,
      product,
      amountMinor: f.amount,
      currency: f.currency,
      payerId: f.payer_id,
      agreementId: f.agreement_id,
      notifyUrl: f.notify_url,
      description: f.description,
      deviceId: f.device_id,
      clientIp: f.client_ip,
      cardToken: f.card_token,
      phone: f.phone,
    },
  };
}

export function parseVerifyRequest(raw: unknown): Parsed<{ readonly code: string }> {
  const parsed = parseBody(VERIFY_SCHEMA, raw);
  return parsed.ok ? { ok: true, value: { code: parsed.value.code } } : parsed;
}

export interface RefundRequest {
  readonly merchantRefundNo: string;
  readonly amountMinor: bigint;
  readonly reason?: string | undefined;
}

export function parseRefundRequest(raw: unknown): Parsed<RefundRequest> {
  const parsed = parseBody(REFUND_SCHEMA, raw);
  if (!parsed.ok) return parsed;
  return { ok: true, value: { merchantRefundNo: parsed.value.merchant_refund_no, amountMinor: parsed.value.amount, reason: parsed.value.reason } };
}

/** Bodies of operations that take nothing (void): an empty object, or none. */
export function parseEmpty(raw: unknown): Parsed<null> {
  const parsed = parseBody(EMPTY_SCHEMA, raw);
  return parsed.ok ? { ok: true, value: null } : parsed;
}
