// SSH keys for our SFTP servers: a fresh ed25519 pair, and the SHA-256 fingerprint OpenSSH prints.
//
// ssh2's generator drops the leading zero byte of an ed25519 public key when it has one (about 1 key in
// 128): the key it returns is 31 bytes long and nobody, ssh2 included, can parse it. So a pair is drawn
// until both halves read back — a server started with the broken key would refuse to start.

import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';

const { utils: sshUtils } = ssh2;

/** Draws before giving up; with a 1-in-128 failure rate, 32 failures in a row do not happen. */
const DRAWS_MAX = 32;

/** A fresh ed25519 key pair in OpenSSH formats (`-----BEGIN OPENSSH PRIVATE KEY-----` and `ssh-ed25519 AAAA…`). */
export function generateEd25519KeyPair(): { readonly private: string; readonly public: string } {
  for (let draw = 0; draw < DRAWS_MAX; draw++) {
    const pair = sshUtils.generateKeyPairSync('ed25519');
    if (!(sshUtils.parseKey(pair.private) instanceof Error) && !(sshUtils.parseKey(pair.public) instanceof Error)) return pair;
  }
  throw new Error(`ssh2 produced ${DRAWS_MAX} unreadable ed25519 keys in a row.`);
}

/** The SHA-256 fingerprint of a key's public half (private or public key text), as `ssh-keygen -l` prints it. */
export function hostKeyFingerprint(keyText: string): string {
  const parsed = sshUtils.parseKey(keyText);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key instanceof Error) throw new Error(`The SFTP host key cannot be read: ${key instanceof Error ? key.message : 'no key'}.`);
  return `SHA256:${createHash('sha256').update(key.getPublicSSH()).digest('base64').replace(/=+$/, '')}`;
}
