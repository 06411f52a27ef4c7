// Request signing: the contract merchants implement (README, "Signing requests"). Pure functions of their
// inputs, plus authenticate(), which reaches storage only through the two ports below (KeyLookup,
// NonceStore) so a PostgreSQL adapter can follow the SQLite one in store.ts.
//
// The canonical string a request is signed over (the header text of the timestamp, verbatim):
//   timestamp + "\n" + nonce + "\n" + METHOD + "\n" + path_with_query + "\n" + hex(SHA-256(raw body))
// Schemes, told apart by the shape of Settle-Signature:
//   hmac  64 lowercase hex   HMAC-SHA256(key_secret, canonical); the key is the secret string's UTF-8 bytes
//   md5   32 lowercase hex   MD5(canonical + "\n" + key_secret); legacy mode only (the seed's scheme)
//   rsa   base64             RSA-SHA256 (PKCS#1 v1.5) with the merchant's private key; verified with the
//                            public key registered for the key id

import { createHash, createHmac, createPublicKey, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { failure, type OnlineFailure } from './errors.js';

export const AUTH_HEADERS = {
  keyId: 'settle-key-id',
  timestamp: 'settle-timestamp',
  nonce: 'settle-nonce',
  signature: 'settle-signature',
} as const;

/** Limits of the signing contract, with their reasons. */
export const AUTH_LIMITS = {
  /** How far Settle-Timestamp may be from the server clock, either way (clock skew plus transit). */
  timestampWindowMs: 300_000,
  /** Key ids are ours (key_ + hex); 64 leaves room without letting a header grow unbounded. */
  keyIdCharsMax: 64,
  /** Unix seconds: 12 digits reach the year 33658. */
  timestampDigitsMax: 12,
  nonceCharsMin: 16,
  nonceCharsMax: 64,
  /** A 4096-bit RSA signature is 684 base64 characters; HMAC is 64, MD5 32. */
  signatureCharsMax: 1024,
} as const;

export type SignatureScheme = 'hmac' | 'rsa' | 'md5';
export type KeyScheme = 'hmac' | 'rsa';
export type MerchantStatus = 'active' | 'frozen';

/** What verifies a key's signatures: the shared secret (HMAC, and MD5 in legacy mode) or an RSA public key. */
export type KeyMaterial = { readonly scheme: 'hmac'; readonly secret: string } | { readonly scheme: 'rsa'; readonly publicKeyPem: string };

/** A key as authenticate() needs it, with its merchant's state. */
export interface VerificationKey {
  readonly keyId: string;
  readonly merchantId: string;
  readonly merchantStatus: MerchantStatus;
  /** The merchant may sign with MD5 (legacy mode; HMAC keys only). */
  readonly legacyMd5: boolean;
  readonly material: KeyMaterial;
  /** null while the key is current; after a rotation, the instant (ms) it stops verifying. */
  readonly verifiesUntilMs: number | null;
}

/** Port: finds a key by id (undefined when there is none). */
export interface KeyLookup {
  findKey(keyId: string): Promise<VerificationKey | undefined>;
}

/** Port: remembers nonces per key. Check-and-insert must be one atomic step so concurrent replays are caught. */
export interface NonceStore {
  /** True when the nonce is new for this key (and is now remembered), false when it was seen before. */
  remember(keyId: string, nonce: string, seenAtMs: number, expiresAtMs: number): Promise<boolean>;
}

export interface CanonicalParts {
  /** The Settle-Timestamp header text, verbatim. */
  readonly timestamp: string | number;
  readonly nonce: string;
  /** Upper-cased here. */
  readonly method: string;
  /** The request target as sent: path and query, percent-encoding untouched, no scheme or host. */
  readonly pathWithQuery: string;
  readonly bodyHashHex: string;
}

export function canonicalString(parts: CanonicalParts): string {
  return [String(parts.timestamp), parts.nonce, parts.method.toUpperCase(), parts.pathWithQuery, parts.bodyHashHex].join('\n');
}

/** Lowercase hex SHA-256 of the raw body bytes (of nothing for a request without a body). */
export function bodyHashHex(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

export function signHmac(secret: string, canonical: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(canonical, 'utf8').digest('hex');
}

/** Base64 RSA-SHA256 (PKCS#1 v1.5) signature: what a merchant holding the private key sends. */
export function signRsa(privateKeyPem: string, canonical: string): string {
  return sign('sha256', Buffer.from(canonical, 'utf8'), privateKeyPem).toString('base64');
}

/** The legacy scheme: lowercase hex MD5 of canonical + "\n" + key_secret. Weak; only for merchants set to legacy mode. */
export function signMd5Legacy(secret: string, canonical: string): string {
  return createHash('md5').update(`${canonical}\n${secret}`, 'utf8').digest('hex');
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Which scheme a Settle-Signature value is written in, by its shape. */
export function schemeOfSignature(signature: string): SignatureScheme {
  if (HEX64.test(signature)) return 'hmac';
  if (HEX32.test(signature)) return 'md5';
  return 'rsa';
}

function equalInConstantTime(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  // The lengths are public (fixed per scheme); only equal-length contents are compared, in constant time.
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Whether `signature` is a valid signature of `canonical` in `scheme`. `material` is the key secret
 * for hmac and md5, the public key (PEM or KeyObject) for rsa. Never throws for a malformed signature.
 */
export function verifySignature(scheme: SignatureScheme, material: string | KeyObject, canonical: string, signature: string): boolean {
  switch (scheme) {
    case 'hmac':
      return typeof material === 'string' && HEX64.test(signature) && equalInConstantTime(signHmac(material, canonical), signature);
    case 'md5':
      return typeof material === 'string' && HEX32.test(signature) && equalInConstantTime(signMd5Legacy(material, canonical), signature);
    case 'rsa': {
      if (signature.length === 0 || !BASE64.test(signature)) return false;
      try {
        const key = typeof material === 'string' ? createPublicKey(material) : material;
        return verify('sha256', Buffer.from(canonical, 'utf8'), key, Buffer.from(signature, 'base64'));
      } catch {
        return false; // a signature of the wrong length for the key, or an unusable key: not a valid signature
      }
    }
  }
}

// ---- authenticate ----

export interface AuthRequest {
  readonly method: string;
  /** The request target exactly as received (Node's req.url): path and query, no scheme or host. */
  readonly pathWithQuery: string;
  /** Header names in any case (Node lower-cases them); a repeated header (an array) is refused. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body bytes as received, before any parsing; an empty Buffer for a request without a body. */
  readonly rawBody: Buffer;
}

export interface AuthDeps {
  readonly nowMs: number;
  readonly keys: KeyLookup;
  readonly nonces: NonceStore;
  /** Defaults to AUTH_LIMITS.timestampWindowMs (300 s). */
  readonly timestampWindowMs?: number;
}

export type AuthResult =
  | { readonly ok: true; readonly merchantId: string; readonly keyId: string; readonly scheme: SignatureScheme }
  | OnlineFailure;

const KEY_ID = new RegExp(`^[A-Za-z0-9_-]{1,${AUTH_LIMITS.keyIdCharsMax}}$`);
const TIMESTAMP = new RegExp(`^[0-9]{1,${AUTH_LIMITS.timestampDigitsMax}}$`);
const NONCE = new RegExp(`^[A-Za-z0-9_-]{${AUTH_LIMITS.nonceCharsMin},${AUTH_LIMITS.nonceCharsMax}}$`);
const SIGNATURE_CHARS = new RegExp(`^[A-Za-z0-9+/=]{1,${AUTH_LIMITS.signatureCharsMax}}$`);

type HeaderRead = { ok: true; value: string } | OnlineFailure;

function header(headers: AuthRequest['headers'], lowerName: string, display: string): HeaderRead {
  const values: (string | string[])[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && name.toLowerCase() === lowerName) values.push(value);
  }
  const [value] = values;
  if (value === undefined) return failure('auth_missing', `The ${display} header is missing.`);
  if (values.length > 1 || Array.isArray(value)) return failure('auth_missing', `The ${display} header was sent more than once.`);
  if (value === '') return failure('auth_missing', `The ${display} header is empty.`);
  return { ok: true, value };
}

interface AuthHeaders {
  readonly ok: true;
  readonly keyId: string;
  readonly timestamp: string;
  readonly nonce: string;
  readonly signature: string;
}

/** Steps 1 and 2 of authenticate(): each header present once and well formed. */
function readAuthHeaders(headers: AuthRequest['headers']): AuthHeaders | OnlineFailure {
  const keyId = header(headers, AUTH_HEADERS.keyId, 'Settle-Key-Id');
  if (!keyId.ok) return keyId;
  const timestamp = header(headers, AUTH_HEADERS.timestamp, 'Settle-Timestamp');
  if (!timestamp.ok) return timestamp;
  const nonce = header(headers, AUTH_HEADERS.nonce, 'Settle-Nonce');
  if (!nonce.ok) return nonce;
  const signature = header(headers, AUTH_HEADERS.signature, 'Settle-Signature');
  if (!signature.ok) return signature;
  if (!KEY_ID.test(keyId.value)) {
    return failure('auth_missing', `Settle-Key-Id must be 1–${AUTH_LIMITS.keyIdCharsMax} characters of [A-Za-z0-9_-].`);
  }
  if (!TIMESTAMP.test(timestamp.value)) return failure('auth_missing', 'Settle-Timestamp must be unix seconds: digits only.');
  if (!SIGNATURE_CHARS.test(signature.value)) {
    return failure('auth_missing', `Settle-Signature must be lowercase hex or base64, at most ${AUTH_LIMITS.signatureCharsMax} characters.`);
  }
  if (!NONCE.test(nonce.value)) {
    return failure('nonce_invalid', `Settle-Nonce has ${nonce.value.length} character(s), or characters outside [A-Za-z0-9_-].`);
  }
  return { ok: true, keyId: keyId.value, timestamp: timestamp.value, nonce: nonce.value, signature: signature.value };
}

/** The canonical string quoted for a signature_invalid message: request data only, never key material. */
function quoted(canonical: string): string {
  const text = JSON.stringify(canonical);
  return text.length > 600 ? `${text.slice(0, 600)}…"` : text;
}

function schemeName(scheme: SignatureScheme): string {
  return scheme === 'hmac' ? 'HMAC-SHA256 (64 lowercase hex)' : scheme === 'md5' ? 'legacy MD5 (32 lowercase hex)' : 'RSA-SHA256 (base64)';
}

/**
 * Authenticates a merchant's request. Checks run in this order, and the first failure is the answer:
 *   1. auth_missing                  a Settle-* header is missing, empty, repeated or malformed
 *   2. nonce_invalid                 Settle-Nonce is not 16–64 of [A-Za-z0-9_-]
 *   3. timestamp_out_of_window       |now − timestamp| > 300 s (exactly 300 s is accepted)
 *   4. key_unknown                   no such key id
 *   5. key_retired                   the key was rotated and its grace period has ended
 *   6. signature_scheme_not_allowed  the signature's shape names a scheme this key may not use
 *                                    (MD5 without legacy mode, hex on an RSA key, base64 on a secret key)
 *   7. signature_invalid             the signature does not verify (compared in constant time)
 *   8. merchant_frozen               only after the signature verifies, so a stranger cannot probe a
 *                                    merchant's state
 *   9. nonce_replayed                last, so only authentic requests consume a nonce; atomic in the store
 * Cheap, storage-free checks come first; a nonce is remembered only for a request that passed all others.
 */
export async function authenticate(request: AuthRequest, deps: AuthDeps): Promise<AuthResult> {
  const read = readAuthHeaders(request.headers);
  if (!read.ok) return read;
  const { keyId, timestamp, nonce, signature } = read;

  const windowMs = deps.timestampWindowMs ?? AUTH_LIMITS.timestampWindowMs;
  const timestampMs = Number(timestamp) * 1000;
  const skewMs = deps.nowMs - timestampMs;
  if (Math.abs(skewMs) > windowMs) {
    return failure(
      'timestamp_out_of_window',
      `Settle-Timestamp ${timestamp} is ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs > 0 ? 'behind' : 'ahead of'} the server clock (${Math.floor(deps.nowMs / 1000)}).`,
    );
  }

  const key = await deps.keys.findKey(keyId);
  if (!key) return failure('key_unknown', `No key ${keyId}.`);
  if (key.verifiesUntilMs !== null && deps.nowMs >= key.verifiesUntilMs) {
    return failure('key_retired', `Key ${keyId} stopped verifying at ${new Date(key.verifiesUntilMs).toISOString()}.`);
  }

  const scheme = schemeOfSignature(signature);
  const allowed: readonly SignatureScheme[] = key.material.scheme === 'rsa' ? ['rsa'] : key.legacyMd5 ? ['hmac', 'md5'] : ['hmac'];
  if (!allowed.includes(scheme)) {
    return failure(
      'signature_scheme_not_allowed',
      `Settle-Signature looks like ${schemeName(scheme)}; key ${keyId} takes ${allowed.map(schemeName).join(' or ')}.`,
    );
  }

  const canonical = canonicalString({
    timestamp,
    nonce,
    method: request.method,
    pathWithQuery: request.pathWithQuery,
    bodyHashHex: bodyHashHex(request.rawBody),
  });
  const material = key.material.scheme === 'rsa' ? key.material.publicKeyPem : key.material.secret;
  if (!verifySignature(scheme, material, canonical, signature)) {
    return failure('signature_invalid', `The ${schemeName(scheme)} signature does not match key ${keyId} over ${quoted(canonical)}.`);
  }

  if (key.merchantStatus !== 'active') return failure('merchant_frozen', `Merchant ${key.merchantId} is frozen.`);

  // The nonce must be kept until the timestamp it came with leaves the window: a replay of this request
  // carries the same timestamp, so after that it fails the window check on its own.
  const fresh = await deps.nonces.remember(keyId, nonce, deps.nowMs, timestampMs + windowMs);
  if (!fresh) return failure('nonce_replayed', `Nonce ${nonce} was already used with key ${keyId}.`);

  return { ok: true, merchantId: key.merchantId, keyId, scheme };
}

// ---- the client side (tests, examples, the simulator) ----

export type SigningKey =
  | { readonly scheme: 'hmac'; readonly secret: string }
  | { readonly scheme: 'md5'; readonly secret: string }
  | { readonly scheme: 'rsa'; readonly privateKeyPem: string };

export interface SignRequestInput {
  readonly keyId: string;
  readonly key: SigningKey;
  readonly method: string;
  readonly pathWithQuery: string;
  readonly rawBody: Buffer;
  readonly timestampS: number;
  readonly nonce: string;
}

/** The four Settle-* headers for a request, as a merchant computes them. */
export function signRequestHeaders(input: SignRequestInput): Record<string, string> {
  const timestamp = String(Math.trunc(input.timestampS));
  const canonical = canonicalString({
    timestamp,
    nonce: input.nonce,
    method: input.method,
    pathWithQuery: input.pathWithQuery,
    bodyHashHex: bodyHashHex(input.rawBody),
  });
  const k = input.key;
  const signature =
    k.scheme === 'hmac' ? signHmac(k.secret, canonical) : k.scheme === 'md5' ? signMd5Legacy(k.secret, canonical) : signRsa(k.privateKeyPem, canonical);
  return {
    'Settle-Key-Id': input.keyId,
    'Settle-Timestamp': timestamp,
    'Settle-Nonce': input.nonce,
    'Settle-Signature': signature,
  };
}
