// The SSH public keys merchants fetch their statements with (module "statements_sftp"): registered by
// the operator (settle merchant sftp-key), read by the SFTP server at each login. A merchant may hold a
// few keys at once, so a new one can be rolled out before the old one is removed.

import { createHash } from 'node:crypto';
import type { SqliteConnection } from '../../ledger/sqlite/database.js';
import { migrateModule } from '../../ledger/sqlite/database.js';
import { parsePublicKey } from './sftp.js';

export const SFTP_KEYS_PER_MERCHANT_MAX = 10;
/** An OpenSSH public key line is well under this (an RSA-16384 key is about 2.8 KB). */
export const SFTP_PUBLIC_KEY_BYTES_MAX = 8 * 1024;

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE statements_sftp_keys (
    merchant_id TEXT NOT NULL, fingerprint TEXT NOT NULL, key_type TEXT NOT NULL, public_key TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, fingerprint)
  ) STRICT, WITHOUT ROWID;
  `,
];

export type AddKeyResult =
  | { readonly ok: true; readonly fingerprint: string; readonly keyType: string; readonly added: boolean }
  | { readonly ok: false; readonly code: 'sftp_key_invalid' | 'sftp_keys_too_many'; readonly message: string };

export class SqliteSftpKeyStore {
  private constructor(private readonly db: SqliteConnection) {}

  static open(db: SqliteConnection): SqliteSftpKeyStore {
    migrateModule(db, 'statements_sftp', MIGRATIONS);
    return new SqliteSftpKeyStore(db);
  }

  add(merchantId: string, publicKeyText: string, nowMs: number): AddKeyResult {
    const text = publicKeyText.trim();
    const key = Buffer.byteLength(text) <= SFTP_PUBLIC_KEY_BYTES_MAX ? parsePublicKey(text) : undefined;
    if (key === undefined) return { ok: false, code: 'sftp_key_invalid', message: 'Not an OpenSSH public key (a line like "ssh-ed25519 AAAA… comment"); a private key is never taken.' };
    const fingerprint = `SHA256:${createHash('sha256').update(key.publicSsh).digest('base64').replace(/=+$/, '')}`;
    const line = `${key.type} ${key.publicSsh.toString('base64')}`;
    return this.db.transaction((): AddKeyResult => {
      const exists = this.db.prepare('SELECT 1 FROM statements_sftp_keys WHERE merchant_id = ? AND fingerprint = ?').get(merchantId, fingerprint);
      if (exists !== undefined) return { ok: true, fingerprint, keyType: key.type, added: false };
      const count = this.db.prepare('SELECT count(*) AS n FROM statements_sftp_keys WHERE merchant_id = ?').get(merchantId) as { n: bigint };
      if (Number(count.n) >= SFTP_KEYS_PER_MERCHANT_MAX) return { ok: false, code: 'sftp_keys_too_many', message: `${merchantId} has ${SFTP_KEYS_PER_MERCHANT_MAX} SFTP keys already.` };
      this.db.prepare('INSERT INTO statements_sftp_keys VALUES (?, ?, ?, ?, ?)').run(merchantId, fingerprint, key.type, line, nowMs);
      return { ok: true, fingerprint, keyType: key.type, added: true };
    }).immediate();
  }

  keysOf(merchantId: string): string[] {
    const rows = this.db.prepare('SELECT public_key FROM statements_sftp_keys WHERE merchant_id = ? ORDER BY fingerprint LIMIT ?').all(merchantId, SFTP_KEYS_PER_MERCHANT_MAX) as { public_key: string }[];
    return rows.map((r) => r.public_key);
  }
}
