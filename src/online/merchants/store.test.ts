// The SQLite merchant store on real temp files: issuing and rotating keys, authenticate() through its
// ports for every scheme and refusal, replays racing on two connections and in separate processes, the
// secret at rest, and the master key.

import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite, type SqliteConnection } from '../../ledger/sqlite/database.js';
import { OnlineError, type OnlineAuthErrorCode } from './errors.js';
import { authenticate, signRequestHeaders, type AuthRequest, type SigningKey } from './signing.js';
import { PRODUCT_NAMES } from '../config.js';
import { MASTER_KEY_ENV, MerchantStore, masterKeyPath, migrateMerchants } from './store.js';

const NOW_MS = Date.parse('2026-11-26T02:00:00Z');
const HOUR_MS = 3_600_000;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const RSA_PRIVATE = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const RSA_PUBLIC = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();

let dir: string;
let dbPath: string;
const open: SqliteConnection[] = [];

function connect(): SqliteConnection {
  const db = openSqlite(dbPath, { create: true });
  open.push(db);
  return db;
}

function store(env: Record<string, string> = {}): MerchantStore {
  return MerchantStore.open(connect(), { env, dbPath });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-merchants-'));
  dbPath = join(dir, 'settle.db');
});
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

let nonceCounter = 0;
function request(keyId: string, key: SigningKey, over: { timestampS?: number; nonce?: string } = {}): AuthRequest {
  const rawBody = Buffer.from('{"merchant_order_no":"A-1","amount":"1050"}');
  const headers = signRequestHeaders({
    keyId,
    key,
    method: 'POST',
    pathWithQuery: '/v1/payments',
    rawBody,
    timestampS: over.timestampS ?? NOW_MS / 1000,
    nonce: over.nonce ?? `nonce-${String(++nonceCounter).padStart(12, '0')}`,
  });
  return { method: 'POST', pathWithQuery: '/v1/payments', headers, rawBody };
}

function auth(s: MerchantStore, req: AuthRequest, nowMs = NOW_MS) {
  return authenticate(req, { nowMs, keys: s.keyLookup, nonces: s.nonceStore });
}

async function refusal(promise: Promise<unknown>): Promise<OnlineAuthErrorCode> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof OnlineError) return e.code;
    throw e;
  }
  throw new Error('expected an OnlineError');
}

describe('Given a new database', () => {
  it('When merchants are added, Then ids run M100001, M100002, … and each gets one key; HMAC keys get a secret shown once', async () => {
    const s = store();
    const a = await s.addMerchant({ name: ' Acme 商户 ', products: ['quick', 'balance', 'quick'], notifyUrl: 'https://acme.example/notify' }, NOW_MS);
    const b = await s.addMerchant({ name: 'Beta', rsaPublicKeyPem: RSA_PUBLIC }, NOW_MS + 1);
    expect(a.merchantId).toBe('M100001');
    expect(b.merchantId).toBe('M100002');
    expect(a.keyId).toMatch(/^key_[0-9a-f]{20}$/);
    expect(a.keySecret).toMatch(/^sk_[0-9a-f]{64}$/);
    expect(b.keySecret).toBeUndefined();
    const acme = await s.getMerchant('M100001');
    expect(acme).toMatchObject({
      name: 'Acme 商户',
      status: 'active',
      legacyMd5: false,
      notifyUrl: 'https://acme.example/notify',
      products: ['quick', 'balance'],
      createdAtMs: NOW_MS,
      keys: [{ keyId: a.keyId, scheme: 'hmac', status: 'active', retiredAtMs: null }],
    });
    expect(await s.getMerchant('M100002')).toMatchObject({ products: PRODUCT_NAMES, keys: [{ keyId: b.keyId, scheme: 'rsa' }] });
    const all = await s.listMerchants();
    expect(all.map((m) => m.merchantId)).toEqual(['M100001', 'M100002']);
    expect(JSON.stringify(all)).not.toContain(a.keySecret);
    expect(await s.getMerchant('M999999')).toBeUndefined();
  });

  it('When no products are named, Then the defaults apply (every product unless the store is told otherwise)', async () => {
    const s = MerchantStore.open(connect(), { env: {}, dbPath, defaultProducts: ['quick'] });
    const { merchantId } = await s.addMerchant({ name: 'Default' }, NOW_MS);
    expect((await s.getMerchant(merchantId))?.products).toEqual(['quick']);
    const all = store();
    const other = await all.addMerchant({ name: 'All' }, NOW_MS);
    expect((await all.getMerchant(other.merchantId))?.products).toContain('balance');
  });

  it('When the input is wrong, Then merchant_input_invalid and nothing is written', async () => {
    const s = store();
    const smallRsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const cases = [
      { name: '' },
      { name: 'x'.repeat(129) },
      { name: 'bad\u0007bell' },
      { name: 'ok', products: ['teleport'] },
      { name: 'ok', notifyUrl: 'ftp://acme.example/' },
      { name: 'ok', notifyUrl: 'not a url' },
      { name: 'ok', notifyUrl: 'https://user:pw@acme.example/' },
      { name: 'ok', rsaPublicKeyPem: RSA_PRIVATE },
      { name: 'ok', rsaPublicKeyPem: smallRsa },
      { name: 'ok', rsaPublicKeyPem: ec },
      { name: 'ok', rsaPublicKeyPem: 'garbage' },
      { name: 'ok', rsaPublicKeyPem: RSA_PUBLIC, legacyMd5: true },
    ];
    for (const input of cases) expect(await refusal(s.addMerchant(input, NOW_MS))).toBe('merchant_input_invalid');
    expect(await s.listMerchants()).toEqual([]);
  });

  it('When the merchant tables are migrated twice, Then the second run changes nothing', () => {
    const db = connect();
    migrateMerchants(db);
    migrateMerchants(db);
    expect(db.prepare("SELECT version FROM schema_migrations WHERE module = 'merchants'").get()).toEqual({ version: 1n });
  });
});

describe('Given merchants with HMAC, RSA and legacy MD5 keys', () => {
  let s: MerchantStore;
  let hmac: { merchantId: string; keyId: string; secret: string };
  let legacy: { merchantId: string; keyId: string; secret: string };
  let rsaM: { merchantId: string; keyId: string };

  beforeEach(async () => {
    s = store();
    const h = await s.addMerchant({ name: 'Hmac' }, NOW_MS);
    const l = await s.addMerchant({ name: 'Legacy', legacyMd5: true }, NOW_MS);
    const r = await s.addMerchant({ name: 'Rsa', rsaPublicKeyPem: RSA_PUBLIC }, NOW_MS);
    hmac = { merchantId: h.merchantId, keyId: h.keyId, secret: h.keySecret ?? '' };
    legacy = { merchantId: l.merchantId, keyId: l.keyId, secret: l.keySecret ?? '' };
    rsaM = { merchantId: r.merchantId, keyId: r.keyId };
  });

  it('When each signs with its scheme, Then each is accepted as its own merchant', async () => {
    expect(await auth(s, request(hmac.keyId, { scheme: 'hmac', secret: hmac.secret }))).toEqual({
      ok: true,
      merchantId: hmac.merchantId,
      keyId: hmac.keyId,
      scheme: 'hmac',
    });
    expect(await auth(s, request(legacy.keyId, { scheme: 'md5', secret: legacy.secret }))).toMatchObject({ ok: true, merchantId: legacy.merchantId, scheme: 'md5' });
    expect(await auth(s, request(rsaM.keyId, { scheme: 'rsa', privateKeyPem: RSA_PRIVATE }))).toMatchObject({ ok: true, merchantId: rsaM.merchantId, scheme: 'rsa' });
  });

  it('When a merchant not in legacy mode signs with MD5, Then signature_scheme_not_allowed', async () => {
    expect(await auth(s, request(hmac.keyId, { scheme: 'md5', secret: hmac.secret }))).toMatchObject({
      ok: false,
      code: 'signature_scheme_not_allowed',
      httpStatus: 401,
    });
  });

  it('When a request is wrong in each documented way, Then each refusal has its own code', async () => {
    const good = request(hmac.keyId, { scheme: 'hmac', secret: hmac.secret });
    const cases: [AuthRequest, OnlineAuthErrorCode, number][] = [
      [{ ...good, headers: { ...good.headers, 'Settle-Signature': undefined } }, 'auth_missing', 401],
      [request(hmac.keyId, { scheme: 'hmac', secret: hmac.secret }, { nonce: 'short' }), 'nonce_invalid', 401],
      [request(hmac.keyId, { scheme: 'hmac', secret: hmac.secret }, { timestampS: NOW_MS / 1000 - 301 }), 'timestamp_out_of_window', 401],
      [request('key_00000000000000000000', { scheme: 'hmac', secret: hmac.secret }), 'key_unknown', 401],
      [request(hmac.keyId, { scheme: 'hmac', secret: legacy.secret }), 'signature_invalid', 401],
      [request(hmac.keyId, { scheme: 'rsa', privateKeyPem: RSA_PRIVATE }), 'signature_scheme_not_allowed', 401],
    ];
    for (const [req, code, httpStatus] of cases) expect(await auth(s, req)).toMatchObject({ ok: false, code, httpStatus });
    expect((await auth(s, good)).ok).toBe(true);
    expect(await auth(s, good)).toMatchObject({ ok: false, code: 'nonce_replayed', httpStatus: 401 });
  });

  it('When the timestamp is 300 s off either way, Then accepted; 301 s, Then timestamp_out_of_window', async () => {
    const key: SigningKey = { scheme: 'hmac', secret: hmac.secret };
    expect((await auth(s, request(hmac.keyId, key, { timestampS: NOW_MS / 1000 - 300 }))).ok).toBe(true);
    expect((await auth(s, request(hmac.keyId, key, { timestampS: NOW_MS / 1000 + 300 }))).ok).toBe(true);
    expect(await auth(s, request(hmac.keyId, key, { timestampS: NOW_MS / 1000 - 301 }))).toMatchObject({ code: 'timestamp_out_of_window' });
    expect(await auth(s, request(hmac.keyId, key, { timestampS: NOW_MS / 1000 + 301 }))).toMatchObject({ code: 'timestamp_out_of_window' });
  });

  it('When a merchant is frozen, Then merchant_frozen (403) for its valid requests; unfrozen, Then accepted again', async () => {
    expect(await s.setStatus(hmac.merchantId, 'frozen')).toEqual({ merchantId: hmac.merchantId, status: 'frozen', changed: true });
    expect(await s.setStatus(hmac.merchantId, 'frozen')).toMatchObject({ changed: false });
    const req = request(hmac.keyId, { scheme: 'hmac', secret: hmac.secret });
    expect(await auth(s, req)).toMatchObject({ ok: false, code: 'merchant_frozen', httpStatus: 403 });
    await s.setStatus(hmac.merchantId, 'active');
    expect((await auth(s, req)).ok).toBe(true);
    expect(await refusal(s.setStatus('M000000', 'frozen'))).toBe('merchant_not_found');
  });

  it('When the same nonce is verified twice at once on two connections, Then exactly one is accepted', async () => {
    const other = store();
    for (let round = 0; round < 20; round++) {
      const req = request(hmac.keyId, { scheme: 'hmac', secret: hmac.secret });
      const results = await Promise.all([auth(s, req), auth(other, req), auth(s, req), auth(other, req)]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.code))).toEqual(['nonce_replayed', 'nonce_replayed', 'nonce_replayed']);
    }
  });

  it('When the same signed request races in four separate processes, Then exactly one is accepted', async () => {
    const req = request(hmac.keyId, { scheme: 'hmac', secret: hmac.secret });
    for (const db of open.splice(0)) db.close(); // let the children have the file
    const startAtMs = Date.now() + 2500;
    const script = `
      const { openSqlite } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../ledger/sqlite/database.ts')).href)});
      const { MerchantStore } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'store.ts')).href)});
      const { authenticate } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'signing.ts')).href)});
      const s = MerchantStore.open(openSqlite(process.argv[1]), { env: {}, dbPath: process.argv[1] });
      const req = JSON.parse(process.argv[2]);
      req.rawBody = Buffer.from(req.rawBody, 'base64');
      while (Date.now() < ${startAtMs}) {}
      const r = await authenticate(req, { nowMs: ${NOW_MS}, keys: s.keyLookup, nonces: s.nonceStore });
      process.stdout.write(JSON.stringify({ ok: r.ok, code: r.ok ? null : r.code }));`;
    const payload = JSON.stringify({ ...req, rawBody: req.rawBody.toString('base64') });
    const runs = await Promise.all(
      [1, 2, 3, 4].map(
        () =>
          new Promise<{ ok: boolean; code: string | null }>((resolve, reject) => {
            const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dbPath, payload], { stdio: ['ignore', 'pipe', 'pipe'] });
            let out = '';
            let err = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            child.stderr.on('data', (d: Buffer) => (err += d.toString()));
            child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as { ok: boolean; code: string | null }) : reject(new Error(err))));
          }),
      ),
    );
    expect(runs.filter((r) => r.ok)).toHaveLength(1);
    expect(runs.filter((r) => !r.ok).every((r) => r.code === 'nonce_replayed')).toBe(true);
  });

  it('When nonces leave the window, Then pruning deletes them, and only them', async () => {
    const key: SigningKey = { scheme: 'hmac', secret: hmac.secret };
    expect((await auth(s, request(hmac.keyId, key, { nonce: 'old-nonce-000000001', timestampS: NOW_MS / 1000 - 200 }))).ok).toBe(true);
    expect((await auth(s, request(hmac.keyId, key, { nonce: 'new-nonce-000000001' }))).ok).toBe(true);
    // The first expires at (now − 200 s) + 300 s = now + 100 s; the second at now + 300 s.
    expect(s.pruneNonces(NOW_MS + 100_000)).toBe(0);
    expect(s.pruneNonces(NOW_MS + 100_001)).toBe(1);
    expect(s.pruneNonces(NOW_MS + 300_001)).toBe(1);
  });

  it('When the key is rotated, Then both keys verify during the 24 h grace, and the old one is key_retired after it', async () => {
    const t0 = NOW_MS;
    const rotated = await s.rotateKey(hmac.merchantId, t0);
    expect(rotated.keySecret).toMatch(/^sk_/);
    expect(rotated.retiring).toEqual([{ keyId: hmac.keyId, verifiesUntilMs: t0 + 24 * HOUR_MS }]);
    const oldKey: SigningKey = { scheme: 'hmac', secret: hmac.secret };
    const newKey: SigningKey = { scheme: 'hmac', secret: rotated.keySecret ?? '' };
    const at = (ms: number) => ({ timestampS: Math.floor(ms / 1000) });
    const almost = t0 + 24 * HOUR_MS - 1000;
    expect((await auth(s, request(hmac.keyId, oldKey, at(almost)), almost)).ok).toBe(true);
    expect((await auth(s, request(rotated.keyId, newKey, at(almost)), almost)).ok).toBe(true);
    const after = t0 + 24 * HOUR_MS;
    expect(await auth(s, request(hmac.keyId, oldKey, at(after)), after)).toMatchObject({ ok: false, code: 'key_retired', httpStatus: 401 });
    expect((await auth(s, request(rotated.keyId, newKey, at(after)), after)).ok).toBe(true);
    const keys = (await s.getMerchant(hmac.merchantId))?.keys ?? [];
    expect(keys.map((k) => [k.keyId, k.status])).toEqual([
      [rotated.keyId, 'active'],
      [hmac.keyId, 'retired'],
    ]);
  });

  it('When a second rotation has no grace, Then every older key stops at once, including one still in an earlier grace', async () => {
    const first = await s.rotateKey(hmac.merchantId, NOW_MS);
    const second = await s.rotateKey(hmac.merchantId, NOW_MS + 1000, { graceMs: 0 });
    expect(second.retiring.map((r) => r.keyId).sort()).toEqual([hmac.keyId, first.keyId].sort());
    expect(second.retiring.every((r) => r.verifiesUntilMs === NOW_MS + 1000)).toBe(true);
    const later = NOW_MS + 2000;
    expect(await auth(s, request(hmac.keyId, { scheme: 'hmac', secret: hmac.secret }), later)).toMatchObject({ code: 'key_retired' });
    expect(await auth(s, request(first.keyId, { scheme: 'hmac', secret: first.keySecret ?? '' }), later)).toMatchObject({ code: 'key_retired' });
    expect((await auth(s, request(second.keyId, { scheme: 'hmac', secret: second.keySecret ?? '' }), later)).ok).toBe(true);
  });

  it('When a store is configured with another grace, or rotates to an RSA key, Then that applies', async () => {
    const short = MerchantStore.open(connect(), { env: {}, dbPath, rotationGraceMs: HOUR_MS });
    const r = await short.rotateKey(hmac.merchantId, NOW_MS, { rsaPublicKeyPem: RSA_PUBLIC });
    expect(r.keySecret).toBeUndefined();
    expect(r.retiring).toEqual([{ keyId: hmac.keyId, verifiesUntilMs: NOW_MS + HOUR_MS }]);
    expect((await auth(short, request(r.keyId, { scheme: 'rsa', privateKeyPem: RSA_PRIVATE }))).ok).toBe(true);
    expect(await refusal(short.rotateKey('M000000', NOW_MS))).toBe('merchant_not_found');
    expect(await refusal(short.rotateKey(hmac.merchantId, NOW_MS, { graceMs: -1 }))).toBe('merchant_input_invalid');
  });
});

describe('Given secrets at rest', () => {
  it('When a key is issued, Then its secret appears nowhere in the database files, and the key file is 0600', async () => {
    const db = connect();
    const s = MerchantStore.open(db, { env: {}, dbPath });
    const issued = await s.addMerchant({ name: 'Secretive' }, NOW_MS);
    const rotated = await s.rotateKey(issued.merchantId, NOW_MS);
    const secrets = [issued.keySecret ?? '', rotated.keySecret ?? ''];
    const files = () => [dbPath, `${dbPath}-wal`].filter(existsSync).map((f) => readFileSync(f));
    const hold = (bytes: Buffer, secret: string) => bytes.includes(Buffer.from(secret)) || bytes.includes(Buffer.from(secret.slice(3), 'hex'));
    for (const bytes of files()) for (const secret of secrets) expect(hold(bytes, secret)).toBe(false);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    for (const bytes of files()) for (const secret of secrets) expect(hold(bytes, secret)).toBe(false);
    // …and yet the key verifies: it is stored encrypted, not thrown away.
    const again = store();
    expect((await auth(again, request(rotated.keyId, { scheme: 'hmac', secret: secrets[1] ?? '' }))).ok).toBe(true);
    const keyFile = masterKeyPath(dbPath);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
  });

  it('When one key id claims another key\u2019s ciphertext, Then it does not decrypt (the key id is bound in)', async () => {
    const db = connect();
    const s = MerchantStore.open(db, { env: {}, dbPath });
    const a = await s.addMerchant({ name: 'A' }, NOW_MS);
    const b = await s.addMerchant({ name: 'B' }, NOW_MS);
    db.prepare('UPDATE merchant_keys SET secret_ciphertext = (SELECT secret_ciphertext FROM merchant_keys WHERE key_id = ?) WHERE key_id = ?').run(a.keyId, b.keyId);
    expect(await refusal(s.keyLookup.findKey(b.keyId))).toBe('master_key_mismatch');
  });
});

describe('Given the master key', () => {
  const KEY_A = 'a'.repeat(64);
  const KEY_B = 'b'.repeat(64);

  it('When SETTLE_MASTER_KEY is set, Then it is used and no key file is made', async () => {
    const s = store({ [MASTER_KEY_ENV]: KEY_A });
    const issued = await s.addMerchant({ name: 'Env' }, NOW_MS);
    expect(existsSync(masterKeyPath(dbPath))).toBe(false);
    const again = store({ [MASTER_KEY_ENV]: KEY_A.toUpperCase() });
    expect((await auth(again, request(issued.keyId, { scheme: 'hmac', secret: issued.keySecret ?? '' }))).ok).toBe(true);
  });

  it('When it is malformed, Then master_key_invalid, and the message does not echo it', async () => {
    for (const bad of ['abc', 'g'.repeat(64), `${KEY_A}00`]) {
      try {
        store({ [MASTER_KEY_ENV]: bad });
        throw new Error('expected a refusal');
      } catch (e) {
        expect(e).toBeInstanceOf(OnlineError);
        expect((e as OnlineError).code).toBe('master_key_invalid');
        expect((e as OnlineError).message).not.toContain(bad);
      }
    }
  });

  it('When the database is opened with another master key, Then master_key_mismatch before any request', () => {
    store({ [MASTER_KEY_ENV]: KEY_A });
    expect(() => store({ [MASTER_KEY_ENV]: KEY_B })).toThrow(expect.objectContaining({ code: 'master_key_mismatch' }));
    // Without the variable the key file is made, but it is not the key the database knows either.
    expect(() => store()).toThrow(expect.objectContaining({ code: 'master_key_mismatch' }));
  });

  it('When the key file is readable by others or does not hold a key, Then master_key_invalid', () => {
    const keyFile = masterKeyPath(dbPath);
    writeFileSync(keyFile, `${KEY_A}\n`, { mode: 0o644 });
    chmodSync(keyFile, 0o644);
    expect(() => store()).toThrow(expect.objectContaining({ code: 'master_key_invalid' }));
    writeFileSync(keyFile, 'not a key\n');
    chmodSync(keyFile, 0o600);
    expect(() => store()).toThrow(expect.objectContaining({ code: 'master_key_invalid' }));
    writeFileSync(keyFile, `${KEY_A}\n`);
    expect(() => store()).not.toThrow();
  });
});
