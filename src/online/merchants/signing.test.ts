// The signing contract as pure functions: the README's worked example, each scheme, and the order in
// which authenticate() checks (with in-memory ports; store.test.ts runs the same checks on SQLite).

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  authenticate,
  bodyHashHex,
  canonicalString,
  schemeOfSignature,
  signHmac,
  signMd5Legacy,
  signRequestHeaders,
  signRsa,
  verifySignature,
  type AuthDeps,
  type KeyLookup,
  type NonceStore,
  type SigningKey,
  type VerificationKey,
} from './signing.js';

// The worked example of README, "Signing requests": if these change, the README must change with them.
const EXAMPLE = {
  secret: 'sk_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
  timestamp: '1795658400',
  nonce: 'c0ffee-2026-11-26-0001',
  method: 'POST',
  path: '/v1/payments',
  body: '{"merchant_order_no":"A-1001","product":"quick","amount":"1050","currency":"CNY"}',
  bodyHash: 'bb97cd3c06970d9ae567d6316d2c8d6206e7151aa6ed893e8bd603c800377f41',
  hmac: 'e55d0ab36c37d3bb9ab3a9e00d166ef1d42229762e8b965aa1a4ca4ce4564c84',
  md5: '095a59967f32bfdd4436bf8c91c6aa27',
};

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const RSA_PRIVATE = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const RSA_PUBLIC = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('Given the worked example of the README', () => {
  const canonical = canonicalString({
    timestamp: EXAMPLE.timestamp,
    nonce: EXAMPLE.nonce,
    method: 'post',
    pathWithQuery: EXAMPLE.path,
    bodyHashHex: bodyHashHex(Buffer.from(EXAMPLE.body)),
  });

  it('When the body is hashed, Then it is the lowercase hex SHA-256 printed there', () => {
    expect(bodyHashHex(Buffer.from(EXAMPLE.body))).toBe(EXAMPLE.bodyHash);
  });
  it('When the canonical string is built, Then it joins the five parts with \\n and upper-cases the method', () => {
    expect(canonical).toBe(`1795658400\nc0ffee-2026-11-26-0001\nPOST\n/v1/payments\n${EXAMPLE.bodyHash}`);
  });
  it('When it is signed with HMAC-SHA256 and legacy MD5, Then the signatures are the ones printed there', () => {
    expect(signHmac(EXAMPLE.secret, canonical)).toBe(EXAMPLE.hmac);
    expect(signMd5Legacy(EXAMPLE.secret, canonical)).toBe(EXAMPLE.md5);
  });
  it('When the README is read, Then it prints exactly these values', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
    for (const value of [EXAMPLE.secret, EXAMPLE.timestamp, EXAMPLE.nonce, EXAMPLE.body, EXAMPLE.bodyHash, EXAMPLE.hmac, EXAMPLE.md5]) {
      expect(readme).toContain(value);
    }
    expect(readme).toContain(`${EXAMPLE.timestamp}\\n${EXAMPLE.nonce}\\nPOST\\n${EXAMPLE.path}\\n${EXAMPLE.bodyHash}`);
    expect(readme).toContain(`this body (${Buffer.byteLength(EXAMPLE.body)} bytes`);
  });
  it('When the body is empty, Then its hash is the SHA-256 of nothing', () => {
    expect(bodyHashHex(Buffer.alloc(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('Given verifySignature', () => {
  const canonical = canonicalString({ timestamp: 1, nonce: 'n'.repeat(16), method: 'GET', pathWithQuery: '/v1/x?a=1', bodyHashHex: bodyHashHex(Buffer.alloc(0)) });

  it('When each scheme signs, Then its own verification accepts it and a one-character change is refused', () => {
    const hmac = signHmac('s3cret', canonical);
    const md5 = signMd5Legacy('s3cret', canonical);
    const rsaSig = signRsa(RSA_PRIVATE, canonical);
    expect(verifySignature('hmac', 's3cret', canonical, hmac)).toBe(true);
    expect(verifySignature('md5', 's3cret', canonical, md5)).toBe(true);
    expect(verifySignature('rsa', RSA_PUBLIC, canonical, rsaSig)).toBe(true);
    const flip = (s: string): string => (s[0] === 'a' ? 'b' : 'a') + s.slice(1);
    expect(verifySignature('hmac', 's3cret', canonical, flip(hmac))).toBe(false);
    expect(verifySignature('md5', 's3cret', canonical, flip(md5))).toBe(false);
    expect(verifySignature('rsa', RSA_PUBLIC, canonical, flip(rsaSig))).toBe(false);
    expect(verifySignature('hmac', 'other', canonical, hmac)).toBe(false);
    expect(verifySignature('rsa', RSA_PUBLIC, `${canonical}x`, rsaSig)).toBe(false);
  });
  it('When the signature is malformed (upper case, short, not base64, wrong length for the key), Then false, never a throw', () => {
    const hmac = signHmac('s3cret', canonical);
    expect(verifySignature('hmac', 's3cret', canonical, hmac.toUpperCase())).toBe(false);
    expect(verifySignature('hmac', 's3cret', canonical, hmac.slice(0, 63))).toBe(false);
    expect(verifySignature('rsa', RSA_PUBLIC, canonical, 'not base64!')).toBe(false);
    expect(verifySignature('rsa', RSA_PUBLIC, canonical, 'AAAA')).toBe(false);
    expect(verifySignature('rsa', 'not a key', canonical, 'AAAA')).toBe(false);
    expect(verifySignature('rsa', RSA_PUBLIC, canonical, '')).toBe(false);
  });
  it('When the shape of a signature is read, Then 64 hex is HMAC, 32 hex is MD5 and anything else is RSA', () => {
    expect(schemeOfSignature('a'.repeat(64))).toBe('hmac');
    expect(schemeOfSignature('a'.repeat(32))).toBe('md5');
    expect(schemeOfSignature('A'.repeat(64))).toBe('rsa');
    expect(schemeOfSignature(signRsa(RSA_PRIVATE, 'x'))).toBe('rsa');
  });
});

// ---- authenticate with in-memory ports ----

const NOW_MS = Date.parse('2026-11-26T02:00:00Z');
const SECRET = 'sk_test_secret';

function memoryPorts(keys: VerificationKey[]): { keys: KeyLookup; nonces: NonceStore & { seen: Set<string> } } {
  const seen = new Set<string>();
  return {
    keys: { findKey: async (id) => keys.find((k) => k.keyId === id) },
    nonces: {
      seen,
      remember: async (keyId, nonce) => {
        const k = `${keyId}\u0000${nonce}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      },
    },
  };
}

const hmacKey = (over: Partial<VerificationKey> = {}): VerificationKey => ({
  keyId: 'key_h',
  merchantId: 'M100001',
  merchantStatus: 'active',
  legacyMd5: false,
  material: { scheme: 'hmac', secret: SECRET },
  verifiesUntilMs: null,
  ...over,
});

function signed(key: SigningKey, over: { keyId?: string; timestampS?: number; nonce?: string; body?: string } = {}) {
  const rawBody = Buffer.from(over.body ?? '{"a":1}');
  const headers = signRequestHeaders({
    keyId: over.keyId ?? 'key_h',
    key,
    method: 'POST',
    pathWithQuery: '/v1/payments?x=1',
    rawBody,
    timestampS: over.timestampS ?? NOW_MS / 1000,
    nonce: over.nonce ?? 'nonce-0123456789abcdef',
  });
  return { method: 'POST', pathWithQuery: '/v1/payments?x=1', headers: headers as Record<string, string | string[] | undefined>, rawBody };
}

describe('Given authenticate with in-memory ports', () => {
  const deps = (keys: VerificationKey[]): AuthDeps => ({ nowMs: NOW_MS, ...memoryPorts(keys) });

  it('When a request is signed with the right HMAC key, Then it is accepted for its merchant', async () => {
    const r = await authenticate(signed({ scheme: 'hmac', secret: SECRET }), deps([hmacKey()]));
    expect(r).toEqual({ ok: true, merchantId: 'M100001', keyId: 'key_h', scheme: 'hmac' });
  });

  it('When header names come in mixed case (lower-cased by Node, or not), Then they are found either way', async () => {
    const req = signed({ scheme: 'hmac', secret: SECRET });
    const lower = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]));
    expect((await authenticate({ ...req, headers: lower }, deps([hmacKey()]))).ok).toBe(true);
  });

  it('When the path, method or body differ from what was signed, Then signature_invalid shows the canonical string it expected', async () => {
    const req = signed({ scheme: 'hmac', secret: SECRET });
    for (const tampered of [
      { ...req, pathWithQuery: '/v1/payments?x=2' },
      { ...req, method: 'PUT' },
      { ...req, rawBody: Buffer.from('{"a":2}') },
    ]) {
      const r = await authenticate(tampered, deps([hmacKey()]));
      expect(r).toMatchObject({ ok: false, code: 'signature_invalid', httpStatus: 401 });
      if (!r.ok) expect(r.message).toContain(JSON.stringify(`${NOW_MS / 1000}\nnonce-0123456789abcdef\n${tampered.method}\n${tampered.pathWithQuery}`).slice(0, -1));
    }
  });

  it('When a header is missing, empty or sent twice, Then auth_missing names it', async () => {
    const req = signed({ scheme: 'hmac', secret: SECRET });
    for (const name of ['Settle-Key-Id', 'Settle-Timestamp', 'Settle-Nonce', 'Settle-Signature']) {
      const missing = { ...req.headers, [name]: undefined };
      const r = await authenticate({ ...req, headers: missing }, deps([hmacKey()]));
      expect(r).toMatchObject({ ok: false, code: 'auth_missing', httpStatus: 401 });
      if (!r.ok) expect(r.message).toContain(name);
      expect(await authenticate({ ...req, headers: { ...req.headers, [name]: '' } }, deps([hmacKey()]))).toMatchObject({ code: 'auth_missing' });
      expect(await authenticate({ ...req, headers: { ...req.headers, [name]: ['a', 'b'] } }, deps([hmacKey()]))).toMatchObject({ code: 'auth_missing' });
    }
    const twice = { ...req.headers, 'settle-key-id': 'key_h' };
    expect(await authenticate({ ...req, headers: twice }, deps([hmacKey()]))).toMatchObject({ code: 'auth_missing' });
  });

  it('When a header is malformed (timestamp not digits, key id or signature with other characters), Then auth_missing', async () => {
    const req = signed({ scheme: 'hmac', secret: SECRET });
    for (const [name, value] of [
      ['Settle-Timestamp', '-1795658400'],
      ['Settle-Timestamp', '1795658400.5'],
      ['Settle-Timestamp', '1'.repeat(13)],
      ['Settle-Key-Id', 'key h'],
      ['Settle-Key-Id', 'k'.repeat(65)],
      ['Settle-Signature', 'sig with spaces'],
      ['Settle-Signature', 'a'.repeat(1025)],
    ] as const) {
      expect(await authenticate({ ...req, headers: { ...req.headers, [name]: value } }, deps([hmacKey()]))).toMatchObject({ code: 'auth_missing' });
    }
  });

  it('When the nonce is too short, too long or has other characters, Then nonce_invalid', async () => {
    for (const nonce of ['a'.repeat(15), 'a'.repeat(65), 'nonce with space!', 'nonce.0123456789abc']) {
      const r = await authenticate(signed({ scheme: 'hmac', secret: SECRET }, { nonce }), deps([hmacKey()]));
      expect(r).toMatchObject({ ok: false, code: 'nonce_invalid', httpStatus: 401 });
    }
    for (const nonce of ['a'.repeat(16), 'A-z_09'.repeat(10) + 'abcd']) {
      expect((await authenticate(signed({ scheme: 'hmac', secret: SECRET }, { nonce }), deps([hmacKey()]))).ok).toBe(true);
    }
  });

  it('When the timestamp is exactly 300 s away either way, Then accepted; at 301 s, Then timestamp_out_of_window', async () => {
    const at = async (offsetS: number, nonce: string) =>
      authenticate(signed({ scheme: 'hmac', secret: SECRET }, { timestampS: NOW_MS / 1000 + offsetS, nonce }), deps([hmacKey()]));
    expect((await at(-300, 'past-300-0123456789')).ok).toBe(true);
    expect((await at(300, 'future-300-0123456789')).ok).toBe(true);
    expect(await at(-301, 'past-301-0123456789')).toMatchObject({ ok: false, code: 'timestamp_out_of_window', httpStatus: 401 });
    expect(await at(301, 'future-301-0123456789')).toMatchObject({ ok: false, code: 'timestamp_out_of_window' });
  });

  it('When checks fail together, Then the documented precedence decides (window before key, signature before frozen, frozen before replay)', async () => {
    const stale = signed({ scheme: 'hmac', secret: 'wrong' }, { keyId: 'key_nope', timestampS: NOW_MS / 1000 - 1000 });
    expect(await authenticate(stale, deps([hmacKey()]))).toMatchObject({ code: 'timestamp_out_of_window' });
    const frozen = deps([hmacKey({ merchantStatus: 'frozen' })]);
    expect(await authenticate(signed({ scheme: 'hmac', secret: 'wrong' }), frozen)).toMatchObject({ code: 'signature_invalid' });
    expect(await authenticate(signed({ scheme: 'hmac', secret: SECRET }), frozen)).toMatchObject({ code: 'merchant_frozen', httpStatus: 403 });
    // A frozen merchant's request consumed no nonce: once unfrozen, the same request is accepted.
    const ports = memoryPorts([hmacKey({ merchantStatus: 'frozen' })]);
    expect(await authenticate(signed({ scheme: 'hmac', secret: SECRET }), { nowMs: NOW_MS, ...ports })).toMatchObject({ code: 'merchant_frozen' });
    expect(ports.nonces.seen.size).toBe(0);
    // A wrong signature consumes no nonce either.
    const d = deps([hmacKey()]);
    expect(await authenticate(signed({ scheme: 'hmac', secret: 'wrong' }), d)).toMatchObject({ code: 'signature_invalid' });
    expect((await authenticate(signed({ scheme: 'hmac', secret: SECRET }), d)).ok).toBe(true);
    expect(await authenticate(signed({ scheme: 'hmac', secret: SECRET }), d)).toMatchObject({ code: 'nonce_replayed' });
  });

  it('When the key is unknown or retired, Then key_unknown / key_retired', async () => {
    expect(await authenticate(signed({ scheme: 'hmac', secret: SECRET }, { keyId: 'key_x' }), deps([hmacKey()]))).toMatchObject({
      code: 'key_unknown',
      httpStatus: 401,
    });
    const retired = deps([hmacKey({ verifiesUntilMs: NOW_MS })]);
    expect(await authenticate(signed({ scheme: 'hmac', secret: SECRET }), retired)).toMatchObject({ code: 'key_retired', httpStatus: 401 });
    const grace = deps([hmacKey({ verifiesUntilMs: NOW_MS + 1 })]);
    expect((await authenticate(signed({ scheme: 'hmac', secret: SECRET }), grace)).ok).toBe(true);
  });

  it('When MD5 is used, Then only a legacy merchant is accepted; others get signature_scheme_not_allowed', async () => {
    const md5 = signed({ scheme: 'md5', secret: SECRET });
    expect(await authenticate(md5, deps([hmacKey()]))).toMatchObject({ code: 'signature_scheme_not_allowed', httpStatus: 401 });
    expect(await authenticate(md5, deps([hmacKey({ legacyMd5: true })]))).toMatchObject({ ok: true, scheme: 'md5' });
    // A legacy merchant may still sign with HMAC.
    expect(await authenticate(signed({ scheme: 'hmac', secret: SECRET }), deps([hmacKey({ legacyMd5: true })]))).toMatchObject({ ok: true, scheme: 'hmac' });
  });

  it('When an RSA key signs, Then RSA is accepted and hex signatures on it are signature_scheme_not_allowed', async () => {
    const rsaKey = hmacKey({ keyId: 'key_r', material: { scheme: 'rsa', publicKeyPem: RSA_PUBLIC }, legacyMd5: true });
    expect(await authenticate(signed({ scheme: 'rsa', privateKeyPem: RSA_PRIVATE }, { keyId: 'key_r' }), deps([rsaKey]))).toMatchObject({
      ok: true,
      scheme: 'rsa',
    });
    expect(await authenticate(signed({ scheme: 'hmac', secret: SECRET }, { keyId: 'key_r' }), deps([rsaKey]))).toMatchObject({
      code: 'signature_scheme_not_allowed',
    });
    expect(await authenticate(signed({ scheme: 'md5', secret: SECRET }, { keyId: 'key_r' }), deps([rsaKey]))).toMatchObject({
      code: 'signature_scheme_not_allowed',
    });
    // And an RSA signature on a secret key.
    expect(await authenticate(signed({ scheme: 'rsa', privateKeyPem: RSA_PRIVATE }), deps([hmacKey()]))).toMatchObject({
      code: 'signature_scheme_not_allowed',
    });
  });

  it('When a refusal is returned, Then its message never holds the key secret', async () => {
    const r = await authenticate(signed({ scheme: 'hmac', secret: 'wrong' }), deps([hmacKey()]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).not.toContain(SECRET);
  });
});
