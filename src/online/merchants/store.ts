// The SQLite adapter for merchants, their keys and the nonces they have used. It implements the two
// ports authenticate() needs (KeyLookup, NonceStore, defined in signing.ts) and the administration the
// CLI and the daemon call. It reaches SQLite only through the shared connection (ledger/sqlite/database.ts).
//
// Secrets: an HMAC key secret is shown once, when it is made, and stored only encrypted (AES-256-GCM
// under the master key, the key id as associated data, so a ciphertext cannot be moved to another key).
// The master key comes from SETTLE_MASTER_KEY (64 hex characters) or, without it, from the file
// "<db path>.key", created with mode 0600 on first use. The database remembers a check value of the
// master key (an HMAC of a constant, which reveals nothing of the key), so opening it with another
// master key fails at once (master_key_mismatch) instead of failing every request later.
//
// Rotation: rotateKey() makes a new current key and lets every older key that still verifies go on
// verifying for a grace period (default 24 h; 0 revokes them at once), never longer than it already had.

import { createCipheriv, createDecipheriv, createHmac, createPublicKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { invariant, LedgerBug } from '../../ledger/errors.js';
import { migrateModule, type SqliteConnection } from '../../ledger/sqlite/database.js';
import { PRODUCT_NAMES } from '../config.js';
import { OnlineError } from './errors.js';
import type { KeyLookup, KeyMaterial, KeyScheme, MerchantStatus, NonceStore, VerificationKey } from './signing.js';

export const MERCHANT_MIGRATIONS: readonly string[] = [
  // 1: merchants, their keys, the nonces seen per key, the master key check value
  `
  CREATE TABLE merchants (
    merchant_id   TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active','frozen')),
    legacy_md5    INTEGER NOT NULL CHECK (legacy_md5 IN (0,1)),
    notify_url    TEXT,
    products      TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE merchant_keys (
    key_id            TEXT PRIMARY KEY,
    merchant_id       TEXT NOT NULL REFERENCES merchants(merchant_id),
    scheme            TEXT NOT NULL CHECK (scheme IN ('hmac','rsa')),
    secret_ciphertext BLOB,
    public_key_pem    TEXT,
    status            TEXT NOT NULL CHECK (status IN ('active','retired')),
    created_at_ms     INTEGER NOT NULL,
    retired_at_ms     INTEGER,
    CHECK ((scheme = 'hmac') = (secret_ciphertext IS NOT NULL)),
    CHECK ((scheme = 'rsa') = (public_key_pem IS NOT NULL)),
    CHECK ((status = 'retired') = (retired_at_ms IS NOT NULL))
  ) STRICT;
  CREATE INDEX merchant_keys_merchant ON merchant_keys (merchant_id);

  CREATE TABLE merchant_nonces (
    key_id        TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    seen_at_ms    INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (key_id, nonce)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX merchant_nonces_expiry ON merchant_nonces (expires_at_ms);

  CREATE TABLE merchant_master_key_check (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    check_hex TEXT NOT NULL
  ) STRICT;
  `,
];

/** Creates or brings forward the merchant tables (module "merchants" in schema_migrations). */
export function migrateMerchants(db: SqliteConnection): void {
  migrateModule(db, 'merchants', MERCHANT_MIGRATIONS);
}

export const MERCHANT_LIMITS = {
  nameCharsMax: 128,
  notifyUrlCharsMax: 2048,
  productsMax: 32,
  /** A 4096-bit public key in PEM is under 1 KiB; 16 KiB leaves room for comments and chains. */
  rsaPublicKeyBytesMax: 16 * 1024,
  rsaModulusBitsMin: 2048,
  /** Verification cost grows with the modulus; 4096 bits is the most a merchant needs. */
  rsaModulusBitsMax: 4096,
  rotationGraceMsDefault: 24 * 3600 * 1000,
  rotationGraceMsMax: 30 * 24 * 3600 * 1000,
  /** Expired nonces are deleted at most this often, on the way of a nonce insert. */
  noncePruneIntervalMs: 60_000,
  /** Merchant ids are "M" + a number from here (M100001, M100002, …); more digits when they run out. */
  firstMerchantNumber: 100_001,
} as const;

// ---- the master key ----

export const MASTER_KEY_ENV = 'SETTLE_MASTER_KEY';
const MASTER_KEY_HEX = /^[0-9a-fA-F]{64}$/;

export interface MasterKey {
  readonly key: Buffer;
  /** Where it came from, for a startup log line (the key itself is never logged). */
  readonly source: 'env' | 'file' | 'memory';
  readonly path?: string;
}

/** The master key file of a database: "<db path>.key". */
export function masterKeyPath(dbPath: string): string {
  return `${dbPath}.key`;
}

/**
 * SETTLE_MASTER_KEY if set (64 hex characters); otherwise the key file "<db path>.key", created with
 * mode 0600 and a random key on first use. An in-memory database without the variable gets a random
 * key that lives as long as the process (its secrets die with it anyway).
 */
export function resolveMasterKey(source: { readonly env: Readonly<Record<string, string | undefined>>; readonly dbPath: string }): MasterKey {
  const fromEnv = source.env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!MASTER_KEY_HEX.test(fromEnv)) throw new OnlineError('master_key_invalid', `${MASTER_KEY_ENV} is not 64 hex characters.`);
    return { key: Buffer.from(fromEnv, 'hex'), source: 'env' };
  }
  if (source.dbPath === ':memory:' || source.dbPath === '') return { key: randomBytes(32), source: 'memory' };
  const path = masterKeyPath(source.dbPath);
  createKeyFileIfMissing(path);
  return { key: readKeyFile(path), source: 'file', path };
}

function createKeyFileIfMissing(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600); // exclusive: two processes starting together cannot both write one
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new OnlineError('master_key_invalid', `Cannot create the master key file ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  try {
    writeSync(fd, `${randomBytes(32).toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // The key must survive a crash as surely as the secrets encrypted under it: sync the directory entry too.
  try {
    const dirFd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Directories cannot be opened for fsync on every platform (Windows); the file itself is synced.
  }
}

function readKeyFile(path: string): Buffer {
  let text: string;
  try {
    if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
      throw new OnlineError('master_key_invalid', `The master key file ${path} can be read or written by others (run chmod 600 on it).`);
    }
    text = readFileSync(path, 'utf8').trim();
  } catch (e) {
    if (e instanceof OnlineError) throw e;
    throw new OnlineError('master_key_invalid', `Cannot read the master key file ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  if (!MASTER_KEY_HEX.test(text)) throw new OnlineError('master_key_invalid', `The master key file ${path} does not hold 64 hex characters.`);
  return Buffer.from(text, 'hex');
}

const MASTER_KEY_CHECK_LABEL = 'settle/merchants/master-key-check/v1';

function masterKeyCheck(key: Buffer): string {
  return createHmac('sha256', key).update(MASTER_KEY_CHECK_LABEL).digest('hex').slice(0, 32);
}

// ---- secrets at rest: version byte 1 | 12-byte IV | 16-byte GCM tag | ciphertext ----

const CIPHER_VERSION = 1;

function secretAad(keyId: string): Buffer {
  return Buffer.from(`settle/merchant_keys/${keyId}`, 'utf8');
}

function encryptSecret(masterKey: Buffer, keyId: string, secret: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  cipher.setAAD(secretAad(keyId));
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([CIPHER_VERSION]), iv, cipher.getAuthTag(), body]);
}

function decryptSecret(masterKey: Buffer, keyId: string, blob: Buffer): string {
  try {
    invariant(blob.length > 29 && blob[0] === CIPHER_VERSION, `the secret of key ${keyId} has an unknown format`);
    const decipher = createDecipheriv('aes-256-gcm', masterKey, blob.subarray(1, 13));
    decipher.setAAD(secretAad(keyId));
    decipher.setAuthTag(blob.subarray(13, 29));
    return Buffer.concat([decipher.update(blob.subarray(29)), decipher.final()]).toString('utf8');
  } catch (e) {
    if (e instanceof LedgerBug) throw e;
    throw new OnlineError('master_key_mismatch', `The secret of key ${keyId} cannot be decrypted with this master key.`);
  }
}

// ---- merchants ----

export interface MerchantKeyInfo {
  readonly keyId: string;
  readonly scheme: KeyScheme;
  /** "retired" once rotated; it still verifies until retiredAtMs (the grace period). */
  readonly status: 'active' | 'retired';
  readonly createdAtMs: number;
  /** When a retired key stops (or stopped) verifying; null for the current key. */
  readonly retiredAtMs: number | null;
}

export interface Merchant {
  readonly merchantId: string;
  readonly name: string;
  readonly status: MerchantStatus;
  readonly legacyMd5: boolean;
  readonly notifyUrl: string | null;
  readonly products: readonly string[];
  readonly createdAtMs: number;
  /** Newest first; never the secrets. */
  readonly keys: readonly MerchantKeyInfo[];
}

export interface NewMerchant {
  readonly name: string;
  /** Product names (src/online/config.ts PRODUCTS); default: the store's defaultProducts. */
  readonly products?: readonly string[] | undefined;
  /** Allow MD5-signed requests (the seed's legacy scheme); needs a secret key, not RSA. */
  readonly legacyMd5?: boolean | undefined;
  /** Register an RSA public key (SPKI or PKCS#1 PEM) instead of issuing an HMAC secret. */
  readonly rsaPublicKeyPem?: string | undefined;
  readonly notifyUrl?: string | undefined;
}

export interface IssuedKey {
  readonly merchantId: string;
  readonly keyId: string;
  /** Shown once; absent for an RSA key (the merchant keeps its private key). */
  readonly keySecret?: string | undefined;
}

export interface RotatedKey extends IssuedKey {
  /** The older keys and when each stops verifying. */
  readonly retiring: readonly { readonly keyId: string; readonly verifiesUntilMs: number }[];
}

export interface MerchantStoreOptions {
  /** How long older keys keep verifying after a rotation; default 24 h. */
  readonly rotationGraceMs?: number;
  /** Products of a merchant added without a list; default every product in PRODUCTS. */
  readonly defaultProducts?: readonly string[];
}

export interface OpenMerchantStoreOptions extends MerchantStoreOptions {
  /** Where SETTLE_MASTER_KEY is read from (the CLI passes its io.env, the daemon process.env). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The database path, for the key file "<path>.key"; default the connection's own file name. */
  readonly dbPath?: string;
}

type Row = Record<string, unknown>;
const num = (v: unknown): number => Number(v as bigint);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v as bigint));

function checkName(name: string): string {
  const trimmed = name.trim();
  const chars = [...trimmed].length;
  if (chars === 0 || chars > MERCHANT_LIMITS.nameCharsMax) {
    throw new OnlineError('merchant_input_invalid', `A merchant name has 1–${MERCHANT_LIMITS.nameCharsMax} characters; this one has ${chars}.`);
  }
  if (/[\p{Cc}\p{Cs}]/u.test(trimmed)) throw new OnlineError('merchant_input_invalid', 'The merchant name holds control characters or a lone surrogate.');
  return trimmed;
}

function checkProducts(products: readonly string[]): string[] {
  const unique = [...new Set(products.map((p) => p.trim()).filter((p) => p !== ''))];
  if (unique.length > MERCHANT_LIMITS.productsMax) throw new OnlineError('merchant_input_invalid', `At most ${MERCHANT_LIMITS.productsMax} products.`);
  const known: readonly string[] = PRODUCT_NAMES;
  const unknown = unique.filter((p) => !known.includes(p));
  if (unknown.length > 0) {
    throw new OnlineError('merchant_input_invalid', `Unknown product(s) ${unknown.map((p) => JSON.stringify(p.slice(0, 40))).join(', ')}; use ${known.join(', ')}.`);
  }
  return unique;
}

function checkNotifyUrl(url: string): string {
  if (url.length > MERCHANT_LIMITS.notifyUrlCharsMax) {
    throw new OnlineError('merchant_input_invalid', `The notify URL is longer than ${MERCHANT_LIMITS.notifyUrlCharsMax} characters.`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OnlineError('merchant_input_invalid', 'The notify URL is not an absolute URL.');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new OnlineError('merchant_input_invalid', 'The notify URL must be http or https.');
  if (parsed.username !== '' || parsed.password !== '') {
    throw new OnlineError('merchant_input_invalid', 'The notify URL must not hold a user name or password; notifications are signed instead.');
  }
  return parsed.href;
}

/** The public key in canonical SPKI PEM form; a private key is refused (and never stored). */
function checkRsaPublicKey(pem: string): string {
  if (Buffer.byteLength(pem) > MERCHANT_LIMITS.rsaPublicKeyBytesMax) {
    throw new OnlineError('merchant_input_invalid', `The RSA public key is larger than ${MERCHANT_LIMITS.rsaPublicKeyBytesMax} bytes.`);
  }
  if (pem.includes('PRIVATE KEY')) {
    throw new OnlineError('merchant_input_invalid', 'That is a private key: the merchant keeps it secret; register the public key (openssl pkey -pubout).');
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new OnlineError('merchant_input_invalid', 'The RSA public key is not a PEM public key.');
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MERCHANT_LIMITS.rsaModulusBitsMin || bits > MERCHANT_LIMITS.rsaModulusBitsMax) {
    throw new OnlineError(
      'merchant_input_invalid',
      `The public key must be RSA of ${MERCHANT_LIMITS.rsaModulusBitsMin}–${MERCHANT_LIMITS.rsaModulusBitsMax} bits (got ${key.asymmetricKeyType ?? 'unknown'}, ${bits} bits).`,
    );
  }
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

function checkGraceMs(graceMs: number): number {
  if (!Number.isSafeInteger(graceMs) || graceMs < 0 || graceMs > MERCHANT_LIMITS.rotationGraceMsMax) {
    throw new OnlineError('merchant_input_invalid', `The rotation grace period must be 0–${MERCHANT_LIMITS.rotationGraceMsMax} ms (30 days).`);
  }
  return graceMs;
}

const newKeyId = (): string => `key_${randomBytes(10).toString('hex')}`;
const newKeySecret = (): string => `sk_${randomBytes(32).toString('hex')}`;

function prepareStatements(db: SqliteConnection) {
  return {
    lastMerchantNumber: db.prepare('SELECT MAX(CAST(substr(merchant_id, 2) AS INTEGER)) AS n FROM merchants'),
    insertMerchant: db.prepare(
      'INSERT INTO merchants (merchant_id, name, status, legacy_md5, notify_url, products, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    insertKey: db.prepare(
      `INSERT INTO merchant_keys (key_id, merchant_id, scheme, secret_ciphertext, public_key_pem, status, created_at_ms, retired_at_ms)
       VALUES (?, ?, ?, ?, ?, 'active', ?, NULL)`,
    ),
    merchantById: db.prepare('SELECT * FROM merchants WHERE merchant_id = ?'),
    allMerchants: db.prepare('SELECT * FROM merchants ORDER BY length(merchant_id), merchant_id'),
    keysOf: db.prepare(
      'SELECT key_id, scheme, status, created_at_ms, retired_at_ms FROM merchant_keys WHERE merchant_id = ? ORDER BY created_at_ms DESC, rowid DESC',
    ),
    allKeys: db.prepare('SELECT merchant_id, key_id, scheme, status, created_at_ms, retired_at_ms FROM merchant_keys ORDER BY created_at_ms DESC, rowid DESC'),
    setStatus: db.prepare('UPDATE merchants SET status = ? WHERE merchant_id = ?'),
    stillVerifying: db.prepare(
      "SELECT key_id, status, retired_at_ms FROM merchant_keys WHERE merchant_id = ? AND (status = 'active' OR retired_at_ms > ?)",
    ),
    retireKey: db.prepare("UPDATE merchant_keys SET status = 'retired', retired_at_ms = ? WHERE key_id = ?"),
    keyForAuth: db.prepare(
      `SELECT k.key_id, k.merchant_id, k.scheme, k.secret_ciphertext, k.public_key_pem, k.status, k.retired_at_ms,
              m.status AS merchant_status, m.legacy_md5
       FROM merchant_keys k JOIN merchants m ON m.merchant_id = k.merchant_id WHERE k.key_id = ?`,
    ),
    insertNonce: db.prepare(
      'INSERT INTO merchant_nonces (key_id, nonce, seen_at_ms, expires_at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (key_id, nonce) DO NOTHING',
    ),
    pruneNonces: db.prepare('DELETE FROM merchant_nonces WHERE expires_at_ms < ?'),
    liveNonces: db.prepare('SELECT key_id, nonce, expires_at_ms FROM merchant_nonces WHERE expires_at_ms >= ?'),
    productsOf: db.prepare('SELECT products FROM merchants WHERE merchant_id = ?'),
    insertKeyCheck: db.prepare('INSERT INTO merchant_master_key_check (id, check_hex) VALUES (1, ?) ON CONFLICT (id) DO NOTHING'),
    keyCheck: db.prepare('SELECT check_hex FROM merchant_master_key_check WHERE id = 1'),
  };
}

function toKeyInfo(r: Row): MerchantKeyInfo {
  return {
    keyId: r['key_id'] as string,
    scheme: r['scheme'] as KeyScheme,
    status: r['status'] as 'active' | 'retired',
    createdAtMs: num(r['created_at_ms']),
    retiredAtMs: numOrNull(r['retired_at_ms']),
  };
}

function toMerchant(r: Row, keys: readonly MerchantKeyInfo[]): Merchant {
  return {
    merchantId: r['merchant_id'] as string,
    name: r['name'] as string,
    status: r['status'] as MerchantStatus,
    legacyMd5: num(r['legacy_md5']) === 1,
    notifyUrl: (r['notify_url'] as string | null) ?? null,
    products: JSON.parse(r['products'] as string) as string[],
    createdAtMs: num(r['created_at_ms']),
    keys,
  };
}

export class MerchantStore {
  readonly db: SqliteConnection;
  /** The port authenticate() reads keys through. */
  readonly keyLookup: KeyLookup;
  /** The port authenticate() remembers nonces through (atomic check-and-insert). */
  readonly nonceStore: NonceStore;
  private readonly masterKey: Buffer;
  private readonly rotationGraceMs: number;
  private readonly defaultProducts: readonly string[];
  private readonly stmt: ReturnType<typeof prepareStatements>;
  private lastPruneMs = Number.NEGATIVE_INFINITY;

  private constructor(db: SqliteConnection, masterKey: Buffer, options: MerchantStoreOptions) {
    invariant(masterKey.length === 32, 'the master key is 32 bytes');
    this.db = db;
    this.masterKey = masterKey;
    this.rotationGraceMs = checkGraceMs(options.rotationGraceMs ?? MERCHANT_LIMITS.rotationGraceMsDefault);
    this.defaultProducts = checkProducts(options.defaultProducts ?? PRODUCT_NAMES);
    this.stmt = prepareStatements(db);
    this.keyLookup = { findKey: async (keyId) => this.findKey(keyId) };
    this.nonceStore = { remember: async (keyId, nonce, seenAtMs, expiresAtMs) => this.rememberNonceSync(keyId, nonce, seenAtMs, expiresAtMs) };
  }

  /**
   * The store on a connection opened with openSqlite (shared with the ledger): migrates the merchant
   * tables, resolves the master key (env or key file) and checks it against the one the database knows.
   */
  static open(db: SqliteConnection, options: OpenMerchantStoreOptions): MerchantStore {
    const master = resolveMasterKey({ env: options.env, dbPath: options.dbPath ?? db.name });
    return MerchantStore.withMasterKey(db, master.key, options);
  }

  /** The store with a master key the caller holds (tests; a daemon with its own key management). */
  static withMasterKey(db: SqliteConnection, masterKey: Buffer, options: MerchantStoreOptions = {}): MerchantStore {
    migrateMerchants(db);
    const store = new MerchantStore(db, masterKey, options);
    store.checkMasterKey();
    return store;
  }

  /** The first store to open a database records the master key check; every later one must match it. */
  private checkMasterKey(): void {
    const mine = masterKeyCheck(this.masterKey);
    this.stmt.insertKeyCheck.run(mine);
    const stored = (this.stmt.keyCheck.get() as Row | undefined)?.['check_hex'];
    invariant(typeof stored === 'string', 'the master key check row exists');
    const a = Buffer.from(stored);
    const b = Buffer.from(mine);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new OnlineError('master_key_mismatch', 'This database was written under a different master key.');
    }
  }

  // ---- administration ----

  async addMerchant(input: NewMerchant, nowMs: number): Promise<IssuedKey> {
    const name = checkName(input.name);
    const products = checkProducts(input.products ?? this.defaultProducts);
    const notifyUrl = input.notifyUrl === undefined ? null : checkNotifyUrl(input.notifyUrl);
    const legacyMd5 = input.legacyMd5 === true;
    const publicKeyPem = input.rsaPublicKeyPem === undefined ? undefined : checkRsaPublicKey(input.rsaPublicKeyPem);
    if (legacyMd5 && publicKeyPem !== undefined) {
      throw new OnlineError('merchant_input_invalid', 'Legacy MD5 signs with a key secret; it cannot be combined with an RSA public key.');
    }
    return this.db
      .transaction((): IssuedKey => {
        const last = (this.stmt.lastMerchantNumber.get() as Row)['n'];
        const number = last === null || last === undefined ? MERCHANT_LIMITS.firstMerchantNumber : Math.max(num(last) + 1, MERCHANT_LIMITS.firstMerchantNumber);
        const merchantId = `M${number}`;
        this.stmt.insertMerchant.run(merchantId, name, 'active', legacyMd5 ? 1 : 0, notifyUrl, JSON.stringify(products), nowMs);
        return { merchantId, ...this.issueKey(merchantId, publicKeyPem, nowMs) };
      })
      .immediate();
  }

  async listMerchants(): Promise<Merchant[]> {
    const keys = new Map<string, MerchantKeyInfo[]>();
    for (const r of this.stmt.allKeys.all() as Row[]) {
      const id = r['merchant_id'] as string;
      keys.set(id, [...(keys.get(id) ?? []), toKeyInfo(r)]);
    }
    return (this.stmt.allMerchants.all() as Row[]).map((r) => toMerchant(r, keys.get(r['merchant_id'] as string) ?? []));
  }

  async getMerchant(merchantId: string): Promise<Merchant | undefined> {
    const r = this.stmt.merchantById.get(merchantId) as Row | undefined;
    return r ? toMerchant(r, (this.stmt.keysOf.all(merchantId) as Row[]).map(toKeyInfo)) : undefined;
  }

  /** Freezes or unfreezes a merchant; a frozen merchant's requests are refused (merchant_frozen). */
  async setStatus(merchantId: string, status: MerchantStatus): Promise<{ merchantId: string; status: MerchantStatus; changed: boolean }> {
    if (status !== 'active' && status !== 'frozen') throw new OnlineError('merchant_input_invalid', 'A merchant status is active or frozen.');
    return this.db
      .transaction(() => {
        const r = this.stmt.merchantById.get(merchantId) as Row | undefined;
        if (!r) throw new OnlineError('merchant_not_found', `No merchant ${JSON.stringify(merchantId.slice(0, 64))}.`);
        const changed = r['status'] !== status;
        if (changed) this.stmt.setStatus.run(status, merchantId);
        return { merchantId, status, changed };
      })
      .immediate();
  }

  /**
   * Issues a new current key (an HMAC secret, or the given RSA public key) and retires the older keys:
   * each keeps verifying until nowMs + grace, or until its own earlier end if that comes first.
   */
  async rotateKey(merchantId: string, nowMs: number, options: { graceMs?: number; rsaPublicKeyPem?: string } = {}): Promise<RotatedKey> {
    const graceMs = checkGraceMs(options.graceMs ?? this.rotationGraceMs);
    const publicKeyPem = options.rsaPublicKeyPem === undefined ? undefined : checkRsaPublicKey(options.rsaPublicKeyPem);
    return this.db
      .transaction((): RotatedKey => {
        if (!this.stmt.merchantById.get(merchantId)) {
          throw new OnlineError('merchant_not_found', `No merchant ${JSON.stringify(merchantId.slice(0, 64))}.`);
        }
        const retiring = (this.stmt.stillVerifying.all(merchantId, nowMs) as Row[]).map((r) => {
          const until = numOrNull(r['retired_at_ms']);
          const verifiesUntilMs = until === null ? nowMs + graceMs : Math.min(until, nowMs + graceMs);
          this.stmt.retireKey.run(verifiesUntilMs, r['key_id'] as string);
          return { keyId: r['key_id'] as string, verifiesUntilMs };
        });
        return { merchantId, ...this.issueKey(merchantId, publicKeyPem, nowMs), retiring };
      })
      .immediate();
  }

  private issueKey(merchantId: string, publicKeyPem: string | undefined, nowMs: number): { keyId: string; keySecret?: string } {
    const keyId = newKeyId();
    if (publicKeyPem !== undefined) {
      this.stmt.insertKey.run(keyId, merchantId, 'rsa', null, publicKeyPem, nowMs);
      return { keyId };
    }
    const keySecret = newKeySecret();
    this.stmt.insertKey.run(keyId, merchantId, 'hmac', encryptSecret(this.masterKey, keyId, keySecret), null, nowMs);
    return { keyId, keySecret };
  }

  // ---- the ports of authenticate() ----

  private findKey(keyId: string): VerificationKey | undefined {
    const r = this.stmt.keyForAuth.get(keyId) as Row | undefined;
    if (!r) return undefined;
    const material: KeyMaterial =
      r['scheme'] === 'rsa'
        ? { scheme: 'rsa', publicKeyPem: r['public_key_pem'] as string }
        : { scheme: 'hmac', secret: this.secretOf(keyId, r['secret_ciphertext'] as Buffer) };
    return {
      keyId,
      merchantId: r['merchant_id'] as string,
      merchantStatus: r['merchant_status'] as MerchantStatus,
      legacyMd5: num(r['legacy_md5']) === 1,
      material,
      verifiesUntilMs: r['status'] === 'active' ? null : numOrNull(r['retired_at_ms']),
    };
  }

  /** Decrypted secrets by key, kept while the ciphertext is unchanged (the row is still read each time). */
  private readonly secrets = new Map<string, { readonly ciphertext: Buffer; readonly secret: string }>();

  private secretOf(keyId: string, ciphertext: Buffer): string {
    const cached = this.secrets.get(keyId);
    if (cached && cached.ciphertext.equals(ciphertext)) return cached.secret;
    const secret = decryptSecret(this.masterKey, keyId, ciphertext);
    if (this.secrets.size > 10_000) this.secrets.clear();
    this.secrets.set(keyId, { ciphertext: Buffer.from(ciphertext), secret });
    return secret;
  }

  private currentHmacKeyStmt: ReturnType<SqliteConnection['prepare']> | undefined;

  /**
   * The secret of the merchant's current key when that key is HMAC, to sign its notifications with;
   * undefined for a merchant whose current key is RSA, or an unknown merchant. Never log the result.
   */
  notificationSecretSync(merchantId: string): string | undefined {
    this.currentHmacKeyStmt ??= this.db.prepare(
      "SELECT key_id, scheme, secret_ciphertext FROM merchant_keys WHERE merchant_id = ? AND status = 'active' ORDER BY created_at_ms DESC, rowid DESC LIMIT 1",
    );
    const r = this.currentHmacKeyStmt.get(merchantId) as Row | undefined;
    if (!r || r['scheme'] !== 'hmac') return undefined;
    return this.secretOf(r['key_id'] as string, r['secret_ciphertext'] as Buffer);
  }

  /** The products a merchant may use, for each authenticated request (no key rows read). */
  productsOf(merchantId: string): readonly string[] | undefined {
    const r = this.stmt.productsOf.get(merchantId) as Row | undefined;
    return r ? (JSON.parse(r['products'] as string) as string[]) : undefined;
  }

  /**
   * Records a nonce; false when (key, nonce) was seen before. Synchronous, so the daemon can run it
   * inside a group-committed unit of work instead of paying one fsync per request.
   */
  rememberNonceSync(keyId: string, nonce: string, seenAtMs: number, expiresAtMs: number): boolean {
    if (seenAtMs - this.lastPruneMs >= MERCHANT_LIMITS.noncePruneIntervalMs) this.pruneNonces(seenAtMs);
    // One statement: of two concurrent inserts of the same (key, nonce), exactly one changes a row.
    return this.stmt.insertNonce.run(keyId, nonce, seenAtMs, expiresAtMs).changes === 1;
  }

  /** Nonces still inside their window, for a process that keeps them in memory (the daemon). */
  liveNonces(nowMs: number): { keyId: string; nonce: string; expiresAtMs: number }[] {
    return (this.stmt.liveNonces.all(nowMs) as Row[]).map((r) => ({ keyId: r['key_id'] as string, nonce: r['nonce'] as string, expiresAtMs: num(r['expires_at_ms']) }));
  }

  /** Deletes nonces whose timestamp has left the window (a replay of them fails the window check). */
  pruneNonces(nowMs: number): number {
    this.lastPruneMs = nowMs;
    return this.stmt.pruneNonces.run(nowMs).changes;
  }
}
