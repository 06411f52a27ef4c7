// Keys for our SFTP servers: every pair drawn reads back, and the fingerprint is OpenSSH's.

import { describe, expect, it } from 'vitest';
import { generateEd25519KeyPair, hostKeyFingerprint } from './keys.js';

describe('SFTP keys', () => {
  it('When 600 ed25519 pairs are drawn (ssh2 breaks about 1 in 128), Then every one reads back and both halves share a fingerprint', () => {
    for (let i = 0; i < 600; i++) {
      const pair = generateEd25519KeyPair();
      expect(hostKeyFingerprint(pair.private)).toBe(hostKeyFingerprint(pair.public));
    }
  });

  it('When the key text is not a key, Then the fingerprint says it cannot be read', () => {
    expect(() => hostKeyFingerprint('not a key')).toThrow(/cannot be read/);
  });

  it('When given a public key, Then the fingerprint is the one ssh-keygen -l printed for it', () => {
    const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE test';
    expect(hostKeyFingerprint(pub)).toBe('SHA256:ubxEl41fJDnUoEPKSZE0y6R0ZjjAQf/wV5vZgeBV8qk');
  });
});
