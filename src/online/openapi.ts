// /openapi.json, generated from the same field specs that validate requests (payments/validate.ts).

import { API_ERROR_CODES } from './errors.js';
import { AGREEMENT_SCHEMA } from './payments/agreements.js';
import { PAYOUT_SCHEMA, TOPUP_SCHEMA } from './payments/payouts.js';
import { CAPTURE_SCHEMA, PREAUTH_SCHEMA } from './payments/preauths.js';
import { EMPTY_SCHEMA, PAYMENT_SCHEMA, REFUND_SCHEMA, VERIFY_SCHEMA, type FieldSpec, type RequestSchema } from './payments/validate.js';
import { PAYMENT_STATUSES, REFUND_STATUSES } from './payments/state.js';

function fieldSchema(spec: FieldSpec): Record<string, unknown> {
  switch (spec.kind) {
    case 'amount':
      return { oneOf: [{ type: 'integer', minimum: 1, maximum: 2 ** 53 - 1 }, { type: 'string', pattern: '^[1-9][0-9]*$' }], description: spec.description };
    case 'currency':
      return { type: 'string', pattern: '^[A-Z]{3,5}$', description: spec.description };
    case 'enum':
      return { type: 'string', enum: spec.values, description: spec.description };
    case 'url':
      return { type: 'string', format: 'uri', maxLength: 2048, description: spec.description };
    case 'string':
      return { type: 'string', ...(spec.pattern ? { pattern: spec.pattern.source } : {}), ...(spec.maxLength ? { maxLength: spec.maxLength } : {}), description: spec.description };
  }
}

function objectSchema(schema: RequestSchema): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    required: Object.entries(schema).filter(([, s]) => s.required).map(([k]) => k),
    properties: Object.fromEntries(Object.entries(schema).map(([k, s]) => [k, fieldSchema(s)])),
  };
}

const SIGNED_HEADERS = ['Settle-Key-Id', 'Settle-Timestamp', 'Settle-Nonce', 'Settle-Signature'].map((name) => ({ name, in: 'header', required: true, schema: { type: 'string' } }));
const IDEMPOTENCY = { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } };
const ERROR = {
  description: 'Refused: { "error": { "code", "message" } }',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};

function op(summary: string, body: RequestSchema | null, ok: string, post: boolean): Record<string, unknown> {
  return {
    summary,
    parameters: post ? [...SIGNED_HEADERS, IDEMPOTENCY] : SIGNED_HEADERS,
    ...(body ? { requestBody: { required: Object.keys(body).length > 0, content: { 'application/json': { schema: objectSchema(body) } } } } : {}),
    responses: { [post ? '201' : '200']: { description: ok }, default: ERROR },
  };
}

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'settle online payment core', version: '0.1.0' },
    paths: {
      '/v1/payments': {
        post: op('Pay with a product (validate → route → risk → persist → channel → update → publish)', PAYMENT_SCHEMA, 'The payment', true),
        get: { ...op('Find a payment by merchant_order_no', null, 'The payment', false), parameters: [...SIGNED_HEADERS, { name: 'merchant_order_no', in: 'query', required: true, schema: { type: 'string' } }] },
      },
      '/v1/payments/{id}': { get: op('A payment', null, 'The payment', false) },
      '/v1/payments/{id}/void': { post: op('Void (撤销): same business day, full amount, before refunds', EMPTY_SCHEMA, 'The voided payment', true) },
      '/v1/payments/{id}/verify': { post: op('Verify (增强验证): the one-time code a risk challenge sent to the payer continues the payment', VERIFY_SCHEMA, 'The payment', true) },
      '/v1/payments/{id}/refunds': { post: op('Refund (退款): partial allowed, never above what remains', REFUND_SCHEMA, 'The refund', true) },
      '/v1/refunds/{id}': { get: op('A refund', null, 'The refund', false) },
      '/v1/statements/{date}': { get: op('The merchant statement (商户对账单) of a business date (YYYY-MM-DD), as CSV (text/csv)', null, 'The statement', false) },
      '/v1/preauths': { post: op('Pre-authorise (预授权): the amount is held', PREAUTH_SCHEMA, 'The pre-authorisation', true) },
      '/v1/preauths/{id}': { get: op('A pre-authorisation', null, 'The pre-authorisation', false) },
      '/v1/preauths/{id}/capture': { post: op('Capture (预授权完成): partial allowed, at most the authorised amount', CAPTURE_SCHEMA, 'The capture', true) },
      '/v1/preauths/{id}/void': { post: op('Void a pre-authorisation (预授权撤销): full, before capture', EMPTY_SCHEMA, 'The voided pre-authorisation', true) },
      '/v1/captures/{id}': { get: op('A capture', null, 'The capture', false) },
      '/v1/captures/{id}/void': { post: op('Void a capture (预授权完成撤销): full; the pre-authorisation is valid again', EMPTY_SCHEMA, 'The voided capture', true) },
      '/v1/agreements': { post: op('Sign an agreement (签约)', AGREEMENT_SCHEMA, 'The agreement', true) },
      '/v1/agreements/{id}': { get: op('An agreement (签约状态)', null, 'The agreement', false) },
      '/v1/agreements/{id}/terminate': { post: op('Terminate an agreement (解约)', EMPTY_SCHEMA, 'The agreement', true) },
      '/v1/payouts': { post: op('Pay out (代付) from your balance', PAYOUT_SCHEMA, 'The payout', true) },
      '/v1/payouts/{id}': { get: op('A payout', null, 'The payout', false) },
      '/v1/topups': { post: op("Top up (充值) a user's balance account", TOPUP_SCHEMA, 'The top-up', true) },
      '/v1/topups/{id}': { get: op('A top-up', null, 'The top-up', false) },
      '/v1/channel-balances': { get: op('Your balance at each channel (余额查询)', null, 'The balances', false) },
    },
    components: {
      schemas: {
        Error: {
          type: 'object',
          properties: { error: { type: 'object', properties: { code: { type: 'string', enum: Object.keys(API_ERROR_CODES) }, message: { type: 'string' } } } },
        },
        PaymentStatus: { type: 'string', enum: PAYMENT_STATUSES },
        RefundStatus: { type: 'string', enum: REFUND_STATUSES },
      },
    },
  };
}
