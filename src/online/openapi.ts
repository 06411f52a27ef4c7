// /openapi.json, generated from the same field specs that validate requests (payments/validate.ts).

import { API_ERROR_CODES } from './errors.js';
import { EMPTY_SCHEMA, PAYMENT_SCHEMA, REFUND_SCHEMA, type FieldSpec, type RequestSchema } from './payments/validate.js';
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
      '/v1/payments/{id}/refunds': { post: op('Refund (退款): partial allowed, never above what remains', REFUND_SCHEMA, 'The refund', true) },
      '/v1/refunds/{id}': { get: op('A refund', null, 'The refund', false) },
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
