// Stable error codes of the HTTP API (besides authentication, see merchants/errors.ts). Every response
// that refuses a request is { "error": { "code", "message" } } with the status given here.

export const API_ERROR_CODES = {
  // Request shape
  body_invalid_json: { httpStatus: 400, hint: 'Send a JSON object with Content-Type: application/json.' },
  body_too_large: { httpStatus: 413, hint: 'Request bodies are limited in size; send less.' },
  field_missing: { httpStatus: 400, hint: 'Add the field named in the message.' },
  field_invalid: { httpStatus: 400, hint: 'Fix the field named in the message (see README, "Payments API").' },
  field_unknown: { httpStatus: 400, hint: 'Remove the field: clients cannot set it (status, fee and merchant are the server\u2019s).' },
  amount_invalid: { httpStatus: 400, hint: 'amount is an integer count of minor units, e.g. 1050 for 10.50 CNY, as a JSON integer or an integer string.' },
  currency_unknown: { httpStatus: 400, hint: 'Use an ISO 4217 code the platform supports (COIN for virtual coins).' },
  currency_not_supported: { httpStatus: 422, hint: 'This product does not take that currency.' },
  product_unknown: { httpStatus: 400, hint: 'Use one of the products listed in README, "Payments API".' },
  product_not_enabled: { httpStatus: 403, hint: 'Ask the platform to enable the product for your merchant account.' },
  idempotency_key_missing: { httpStatus: 400, hint: 'Send an Idempotency-Key header (1–255 characters) with every POST.' },
  idempotency_key_reused: { httpStatus: 422, hint: 'This Idempotency-Key was used with a different request; use a new key.' },
  idempotency_key_in_flight: { httpStatus: 409, hint: 'A request with this Idempotency-Key is still being processed; retry shortly.' },
  rate_limited: { httpStatus: 429, hint: 'Too many requests for this merchant; slow down and retry after the Retry-After seconds.' },
  not_found: { httpStatus: 404, hint: 'No such object for your merchant account.' },
  // Business rules
  merchant_order_no_duplicate: { httpStatus: 409, hint: 'merchant_order_no is unique per merchant; use a new one or query the existing payment.' },
  merchant_refund_no_duplicate: { httpStatus: 409, hint: 'merchant_refund_no is unique per merchant; use a new one or query the existing refund.' },
  payer_account_unavailable: { httpStatus: 422, hint: 'The payer has no usable account for this product (missing, frozen or closed).' },
  insufficient_funds: { httpStatus: 422, hint: 'The payer\u2019s available balance is below the amount.' },
  credit_limit_exceeded: { httpStatus: 422, hint: 'The payment would pass the payer\u2019s credit limit.' },
  agreement_required: { httpStatus: 422, hint: 'This product needs an active agreement_id (sign one with POST /v1/agreements).' },
  agreement_not_active: { httpStatus: 422, hint: 'The agreement is terminated or not yet signed; sign a new one.' },
  payment_not_refundable: { httpStatus: 409, hint: 'Only succeeded or partially refunded payments can be refunded.' },
  refund_exceeds_remaining: { httpStatus: 409, hint: 'The refund is larger than what remains of the payment.' },
  void_not_allowed: { httpStatus: 409, hint: 'A void (撤销) is for the full amount, on the business day of the payment, before any refund or settlement; refund instead.' },
  illegal_transition: { httpStatus: 409, hint: 'The object is not in a state that allows this operation; GET it to see its state.' },
  order_expired: { httpStatus: 409, hint: 'The order waited for the payer longer than allowed and was closed; create a new order.' },
  preauth_capture_exceeds: { httpStatus: 409, hint: 'A capture is at most the authorised amount.' },
  challenge_code_invalid: { httpStatus: 422, hint: 'The one-time code is wrong; ask the payer to re-enter it (the message says how many attempts are left) with a new Idempotency-Key.' },
  challenge_attempts_exceeded: { httpStatus: 409, hint: 'Too many wrong codes: the payment failed. Create a new payment if the payer still wants to pay.' },
  challenge_expired: { httpStatus: 409, hint: 'The one-time code expired and the payment was closed. Create a new payment.' },
  challenge_not_pending: { httpStatus: 409, hint: 'The payment is not waiting for a one-time code (already verified, failed or closed); GET it to see its state.' },
  channel_declined: { httpStatus: 402, hint: 'The channel refused the payment; the message says why. Do not retry the same order.' },
  channel_unavailable: { httpStatus: 503, hint: 'No channel can serve this request now; retry later.' },
  notification_signature_invalid: { httpStatus: 401, hint: 'The notification is not signed by the channel.' },
  notification_malformed: { httpStatus: 400, hint: 'The notification could not be read.' },
  notification_mismatch: { httpStatus: 409, hint: 'The notification does not match the order (amount, currency or reference).' },
  internal_error: { httpStatus: 500, hint: 'A bug on our side; it has been logged. Retry with the same Idempotency-Key.' },
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;

export interface ApiFailure {
  readonly ok: false;
  readonly code: string;
  readonly httpStatus: number;
  readonly message: string;
}

export function apiFailure(code: ApiErrorCode, detail: string): ApiFailure {
  const entry = API_ERROR_CODES[code];
  return { ok: false, code, httpStatus: entry.httpStatus, message: `${detail} ${entry.hint}` };
}

export function errorBody(f: { code: string; message: string }): { error: { code: string; message: string } } {
  return { error: { code: f.code, message: f.message } };
}
