// End-to-end tests of settle merchant …, in-process through main(), against a real database made by
// settle init; a secret the CLI prints is then used to sign a request that authenticate() accepts.

import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../src/ledger/sqlite/database.js';
import { authenticate, signRequestHeaders, type AuthResult, type SigningKey } from '../src/online/merchants/signing.js';
import { MerchantStore } from '../src/online/merchants/store.js';
import { runCli, type CliRun } from './support/cli.js';

let dir: string;
let db: string;
let now: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-merchant-cli-'));
  db = join(dir, 'settle.db');
  now = Date.parse('2026-11-26T02:00:00Z');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function settleWith(env: Record<string, string>, ...args: string[]): Promise<CliRun> {
  return runCli({ db, cwd: dir, nowMs: () => now, env }, ...args);
}

const settle = (...args: string[]): Promise<CliRun> => settleWith({}, ...args);

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function init(): Promise<void> {
  expect((await settle('--json', 'init', '--business-date', '2026-11-26')).code).toBe(0);
}

/** Signs a request with the given key and authenticates it against the database, as the daemon will. */
async function tryRequest(keyId: string, key: SigningKey, env: Record<string, string> = {}): Promise<AuthResult> {
  const conn = openSqlite(db);
  try {
    const store = MerchantStore.open(conn, { env, dbPath: db });
    const rawBody = Buffer.from('{"amount":"1"}');
    const headers = signRequestHeaders({ keyId, key, method: 'POST', pathWithQuery: '/v1/payments', rawBody, timestampS: now / 1000, nonce: `nonce-${now}-${Math.random().toString(36).slice(2, 10)}` });
    return await authenticate({ method: 'POST', pathWithQuery: '/v1/payments', headers, rawBody }, { nowMs: now, keys: store.keyLookup, nonces: store.nonceStore });
  } finally {
    conn.close();
  }
}

describe('settle merchant without a database', () => {
  it('Given no database, When merchant add runs, Then db_not_found and exit 1', async () => {
    const r = await settle('--json', 'merchant', 'add', 'Acme');
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'db_not_found' });
    expect(existsSync(db)).toBe(false);
  });
});

describe('settle merchant', () => {
  beforeEach(init);

  it('Given a database, When merchant add --json runs, Then it prints the id, key id and secret once, and the secret signs requests', async () => {
    const r = await settle('--json', 'merchant', 'add', 'Acme', '--products', 'quick,balance', '--notify-url', 'https://acme.example/n');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, merchant_id: 'M100001', key_scheme: 'hmac' });
    expect(Object.keys(r.json)).toEqual(['ok', 'merchant_id', 'key_id', 'key_scheme', 'key_secret']);
    const keyId = String(r.json['key_id']);
    const secret = String(r.json['key_secret']);
    expect(secret).toMatch(/^sk_[0-9a-f]{64}$/);
    expect(statSync(`${db}.key`).mode & 0o777).toBe(0o600);
    expect(await tryRequest(keyId, { scheme: 'hmac', secret })).toMatchObject({ ok: true, merchantId: 'M100001', keyId });

    const list = await settle('--json', 'merchant', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(secret);
    expect(list.json['merchants']).toEqual([
      {
        merchant_id: 'M100001',
        name: 'Acme',
        status: 'active',
        legacy_md5: false,
        notify_url: 'https://acme.example/n',
        products: ['quick', 'balance'],
        created_at: '2026-11-26T02:00:00.000Z',
        keys: [{ key_id: keyId, scheme: 'hmac', status: 'active', created_at: '2026-11-26T02:00:00.000Z', verifies_until: null }],
      },
    ]);
  });

  it('Given a database, When merchant add runs for people, Then the secret is shown with a warning; list never shows it', async () => {
    const r = await settle('merchant', 'add', 'Beta 商户', '--legacy-md5');
    expect(r.code).toBe(0);
    const secret = /key secret {2}(sk_[0-9a-f]{64})/.exec(r.stdout)?.[1] ?? '';
    expect(secret).not.toBe('');
    expect(r.stdout).toContain('shown only this once');
    const list = await settle('merchant', 'list');
    expect(list.stdout).toContain('M100001');
    expect(list.stdout).toContain('Beta 商户');
    expect(list.stdout).toContain('hmac+md5');
    expect(list.stdout).not.toContain(secret);
    expect((await settle('merchant', 'list', '--json')).json).toMatchObject({ ok: true, merchants: [{ legacy_md5: true }] });
  });

  it('Given an RSA public key file, When merchant add --rsa-public-key runs, Then no secret is printed and RSA requests verify', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pub = file('merchant.pub.pem', pair.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const r = await settle('--json', 'merchant', 'add', 'Rsa', '--rsa-public-key', pub);
    expect(r.json).toMatchObject({ ok: true, merchant_id: 'M100001', key_scheme: 'rsa', key_secret: null });
    const privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(await tryRequest(String(r.json['key_id']), { scheme: 'rsa', privateKeyPem })).toMatchObject({ ok: true, scheme: 'rsa' });
  });

  it('Given wrong input, When merchant add runs, Then file_not_found / merchant_input_invalid and exit 1', async () => {
    const missing = await settle('--json', 'merchant', 'add', 'X', '--rsa-public-key', join(dir, 'missing.pem'));
    expect(missing).toMatchObject({ code: 1, json: { ok: false, code: 'file_not_found' } });
    const priv = file('priv.pem', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    expect(await settle('--json', 'merchant', 'add', 'X', '--rsa-public-key', priv)).toMatchObject({ code: 1, json: { code: 'merchant_input_invalid' } });
    expect(await settle('--json', 'merchant', 'add', 'X', '--products', 'quick,teleport')).toMatchObject({ code: 1, json: { code: 'merchant_input_invalid' } });
    expect(await settle('--json', 'merchant', 'add', 'X', '--notify-url', 'nope')).toMatchObject({ code: 1, json: { code: 'merchant_input_invalid' } });
    expect((await settle('--json', 'merchant', 'list')).json).toEqual({ ok: true, merchants: [] });
  });

  it('Given a merchant, When rotate-key runs, Then a new secret is printed and the old key verifies until the grace ends', async () => {
    const added = await settle('--json', 'merchant', 'add', 'Acme');
    const oldKey = { id: String(added.json['key_id']), secret: String(added.json['key_secret']) };
    const r = await settle('--json', 'merchant', 'rotate-key', 'M100001');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, merchant_id: 'M100001', key_scheme: 'hmac', retiring: [{ key_id: oldKey.id, verifies_until: '2026-11-27T02:00:00.000Z' }] });
    const newKey = { id: String(r.json['key_id']), secret: String(r.json['key_secret']) };
    expect(newKey.secret).not.toBe(oldKey.secret);
    expect((await tryRequest(oldKey.id, { scheme: 'hmac', secret: oldKey.secret })).ok).toBe(true);
    const keys = () => settle('--json', 'merchant', 'list').then((l) => (l.json['merchants'] as { keys: { status: string }[] }[])[0]?.keys.map((k) => k.status));
    expect(await keys()).toEqual(['active', 'retiring']);
    now += 24 * 3_600_000;
    expect(await tryRequest(oldKey.id, { scheme: 'hmac', secret: oldKey.secret })).toMatchObject({ ok: false, code: 'key_retired' });
    expect((await tryRequest(newKey.id, { scheme: 'hmac', secret: newKey.secret })).ok).toBe(true);
    expect(await keys()).toEqual(['active', 'retired']);

    const revoke = await settle('--json', 'merchant', 'rotate-key', 'M100001', '--grace-hours', '0');
    expect(revoke.json).toMatchObject({ ok: true, retiring: [{ key_id: newKey.id, verifies_until: '2026-11-27T02:00:00.000Z' }] });
    expect(await tryRequest(newKey.id, { scheme: 'hmac', secret: newKey.secret })).toMatchObject({ code: 'key_retired' });
    const human = await settle('merchant', 'rotate-key', 'M100001', '--grace-hours', '1.5');
    expect(human.stdout).toContain('verifies until 2026-11-27T03:30:00.000Z');
  });

  it('Given an unknown merchant or a bad grace, When rotate-key / freeze / unfreeze run, Then merchant_not_found or merchant_input_invalid, exit 1', async () => {
    for (const verb of ['rotate-key', 'freeze', 'unfreeze']) {
      expect(await settle('--json', 'merchant', verb, 'M999999')).toMatchObject({ code: 1, json: { ok: false, code: 'merchant_not_found' } });
    }
    const human = await settle('merchant', 'freeze', 'M999999');
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('merchant_not_found');
    await settle('merchant', 'add', 'Acme');
    expect(await settle('--json', 'merchant', 'rotate-key', 'M100001', '--grace-hours', '-1')).toMatchObject({ code: 1, json: { code: 'merchant_input_invalid' } });
    expect(await settle('--json', 'merchant', 'rotate-key', 'M100001', '--grace-hours', '9999')).toMatchObject({ code: 1, json: { code: 'merchant_input_invalid' } });
  });

  it('Given a merchant, When it is frozen, Then its requests get merchant_frozen; unfrozen, Then they pass again', async () => {
    const added = await settle('--json', 'merchant', 'add', 'Acme');
    const key: SigningKey = { scheme: 'hmac', secret: String(added.json['key_secret']) };
    const keyId = String(added.json['key_id']);
    expect((await settle('--json', 'merchant', 'freeze', 'M100001')).json).toEqual({ ok: true, merchant_id: 'M100001', status: 'frozen', changed: true });
    expect(await tryRequest(keyId, key)).toMatchObject({ ok: false, code: 'merchant_frozen', httpStatus: 403 });
    expect((await settle('merchant', 'freeze', 'M100001')).stdout).toContain('already frozen');
    expect((await settle('--json', 'merchant', 'unfreeze', 'M100001')).json).toMatchObject({ ok: true, status: 'active', changed: true });
    expect((await tryRequest(keyId, key)).ok).toBe(true);
  });

  it('Given SETTLE_MASTER_KEY, When merchants are added, Then no key file is made, and another key is master_key_mismatch', async () => {
    const env = { SETTLE_MASTER_KEY: '0f'.repeat(32) };
    const r = await settleWith(env, '--json', 'merchant', 'add', 'Acme');
    expect(r.json).toMatchObject({ ok: true });
    expect(existsSync(`${db}.key`)).toBe(false);
    expect((await tryRequest(String(r.json['key_id']), { scheme: 'hmac', secret: String(r.json['key_secret']) }, env)).ok).toBe(true);
    const other = await settleWith({ SETTLE_MASTER_KEY: '1e'.repeat(32) }, '--json', 'merchant', 'list');
    expect(other).toMatchObject({ code: 1, json: { ok: false, code: 'master_key_mismatch' } });
    const bad = await settleWith({ SETTLE_MASTER_KEY: 'short' }, '--json', 'merchant', 'list');
    expect(bad).toMatchObject({ code: 1, json: { ok: false, code: 'master_key_invalid' } });
  });
});
