// Stable error codes of merchant authentication and merchant administration. A code is never renamed or
// reused: merchants' integrations and operators' runbooks depend on them. Each carries the HTTP status the
// API answers with and the next step to take. Messages never contain a key secret or the master key.
//
// authenticate() checks in this order and stops at the first failure (see signing.ts):
//   auth_missing → nonce_invalid → timestamp_out_of_window → key_unknown → key_retired →
//   signature_scheme_not_allowed → signature_invalid → merchant_frozen → nonce_replayed

export const ONLINE_AUTH_ERROR_CODES = {
  // Request authentication (README, "Signing requests")
  auth_missing: {
    httpStatus: 401,
    hint: 'Send Settle-Key-Id, Settle-Timestamp (unix seconds), Settle-Nonce and Settle-Signature, each exactly once (README, "Signing requests").',
  },
  nonce_invalid: { httpStatus: 401, hint: 'Settle-Nonce must be 16–64 characters of [A-Za-z0-9_-]; use a fresh random value per request.' },
  timestamp_out_of_window: {
    httpStatus: 401,
    hint: 'Settle-Timestamp must be within 300 seconds of the server clock; sync your clock (NTP) and sign again with the current time.',
  },
  key_unknown: { httpStatus: 401, hint: 'No key has this Settle-Key-Id; check it against the key id you were given when the key was issued.' },
  key_retired: { httpStatus: 401, hint: 'This key was rotated and its grace period has ended; sign with the newest key of your merchant account.' },
  signature_scheme_not_allowed: {
    httpStatus: 401,
    hint: 'Sign with the scheme registered for this key: lowercase hex HMAC-SHA256 for a secret key, base64 RSA-SHA256 for an RSA key; MD5 only in legacy mode.',
  },
  signature_invalid: {
    httpStatus: 401,
    hint: 'Recompute the signature over the canonical string shown (timestamp, nonce, METHOD, path with query, body SHA-256, joined by \\n) with the right key.',
  },
  merchant_frozen: { httpStatus: 403, hint: 'The merchant account is frozen and may not call the API; contact the platform to unfreeze it.' },
  nonce_replayed: { httpStatus: 401, hint: 'This nonce was used before with this key; send every request (and every retry) with a new nonce and signature.' },
  // Merchant administration (settle merchant …)
  merchant_not_found: { httpStatus: 404, hint: 'No merchant has this id; list merchants with settle merchant list.' },
  merchant_input_invalid: { httpStatus: 400, hint: 'Fix the value the message names (see README, "Merchants").' },
  master_key_invalid: {
    httpStatus: 500,
    hint: 'SETTLE_MASTER_KEY must be 64 hex characters, or the key file <db>.key must hold them and be readable by its owner only (chmod 600).',
  },
  master_key_mismatch: {
    httpStatus: 500,
    hint: 'The master key is not the one this database was written with; restore the original SETTLE_MASTER_KEY or <db>.key file.',
  },
} as const satisfies Record<string, { readonly httpStatus: number; readonly hint: string }>;

export type OnlineAuthErrorCode = keyof typeof ONLINE_AUTH_ERROR_CODES;

export interface OnlineFailure {
  readonly ok: false;
  readonly code: OnlineAuthErrorCode;
  readonly httpStatus: number;
  readonly message: string;
}

/** A refusal as a value: the detail (what was wrong, never a secret) followed by the next step. */
export function failure(code: OnlineAuthErrorCode, detail: string): OnlineFailure {
  const entry = ONLINE_AUTH_ERROR_CODES[code];
  return { ok: false, code, httpStatus: entry.httpStatus, message: `${detail} ${entry.hint}` };
}

/** Thrown where a failure cannot be returned as a value (merchant administration, the master key). */
export class OnlineError extends Error {
  readonly code: OnlineAuthErrorCode;
  readonly httpStatus: number;
  constructor(code: OnlineAuthErrorCode, detail: string) {
    const f = failure(code, detail);
    super(f.message);
    this.name = 'OnlineError';
    this.code = code;
    this.httpStatus = f.httpStatus;
  }

  static from(f: OnlineFailure): OnlineError {
    const e = new OnlineError(f.code, '');
    e.message = f.message;
    return e;
  }
}
