import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultNotifyConfig } from './config.js';
import { cachedSecrets, readConfiguredSecrets, secretLookup } from './secrets.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-secrets-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('Given notification secrets configured per merchant', () => {
  it('When they come from env and files, Then readable ones are used and each unreadable one is a problem naming its source, never its value', () => {
    writeFileSync(join(dir, 'ok'), 'whsec_from_file\n');
    writeFileSync(join(dir, 'empty'), '\n');
    writeFileSync(join(dir, 'big'), 'x'.repeat(5000));
    const config = defaultNotifyConfig({
      secrets: {
        M100001: { env: 'SECRET_A' },
        M100002: { file: join(dir, 'ok') },
        M100003: { env: 'SECRET_UNSET' },
        M100004: { file: join(dir, 'empty') },
        M100005: { file: join(dir, 'big') },
        M100006: { file: join(dir, 'missing') },
      },
    });
    const { secrets, problems } = readConfiguredSecrets(config, { SECRET_A: 'whsec_from_env' });
    expect(Object.fromEntries(secrets)).toEqual({ M100001: 'whsec_from_env', M100002: 'whsec_from_file' });
    expect(problems.map((p) => p.merchantId)).toEqual(['M100003', 'M100004', 'M100005', 'M100006']);
    expect(problems[0]?.message).toContain('SECRET_UNSET');
    expect(problems[3]?.message).toContain('ENOENT');
    expect(JSON.stringify(problems)).not.toContain('x'.repeat(20));
  });

  it('When a merchant is configured but its secret is unreadable, Then it signs with nothing rather than its key secret', () => {
    const config = defaultNotifyConfig({ secrets: { M100001: { env: 'UNSET' }, M100002: { env: 'SET' } } });
    const { secrets } = readConfiguredSecrets(config, { SET: 'whsec_2' });
    const lookup = secretLookup(config, secrets, (m) => `sk_of_${m}`);
    expect(lookup('M100001')).toBeUndefined();
    expect(lookup('M100002')).toBe('whsec_2');
    expect(lookup('M100003')).toBe('sk_of_M100003');
  });
});

describe('Given the secret cache', () => {
  it('When a secret is asked again within the TTL, Then it is not read again; after it, Then the new one is read', () => {
    let nowMs = 0;
    let reads = 0;
    let current = 'sk_1';
    const cached = cachedSecrets(
      () => {
        reads += 1;
        return current;
      },
      1_000,
      () => nowMs,
    );
    expect(cached('M1')).toBe('sk_1');
    current = 'sk_2';
    nowMs = 999;
    expect(cached('M1')).toBe('sk_1');
    nowMs = 1_000;
    expect(cached('M1')).toBe('sk_2');
    expect(reads).toBe(2);
  });

  it('When more merchants than the bound are asked, Then the cache starts over instead of growing', () => {
    let reads = 0;
    const cached = cachedSecrets(
      (m) => {
        reads += 1;
        return m;
      },
      60_000,
      () => 0,
      3,
    );
    for (const m of ['a', 'b', 'c', 'd', 'a']) cached(m);
    expect(reads).toBe(5);
  });
});
