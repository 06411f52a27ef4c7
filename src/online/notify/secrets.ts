// Which secret signs a merchant's notifications: a notification secret configured for the merchant
// (online.notify.secrets: an environment variable or a file, never the config text), else the secret of
// its current HMAC key. An RSA-only merchant without a configured secret has none: its attempts fail
// with notify_secret_missing until one is configured. Secrets are never logged.

import { readFileSync, statSync } from 'node:fs';
import { NOTIFY_LIMITS, type NotifyConfig } from './config.js';
import { NotifyError } from './errors.js';

export interface SecretProblem {
  readonly merchantId: string;
  readonly message: string;
}

/** Reads every configured secret; a source that cannot be read is a problem, never a crash. */
export function readConfiguredSecrets(
  config: NotifyConfig,
  env: Readonly<Record<string, string | undefined>>,
): { readonly secrets: ReadonlyMap<string, string>; readonly problems: readonly SecretProblem[] } {
  const secrets = new Map<string, string>();
  const problems: SecretProblem[] = [];
  for (const [merchantId, source] of Object.entries(config.secrets)) {
    if ('env' in source) {
      const value = env[source.env];
      if (value === undefined || value.trim() === '') problems.push({ merchantId, message: `the environment variable ${source.env} is not set` });
      else secrets.set(merchantId, value.trim());
      continue;
    }
    try {
      const size = statSync(source.file).size;
      if (size > NOTIFY_LIMITS.secretFileBytesMax) {
        problems.push({ merchantId, message: `${source.file} is ${size} bytes; a secret file is at most ${NOTIFY_LIMITS.secretFileBytesMax}` });
        continue;
      }
      const value = readFileSync(source.file, 'utf8').trim();
      if (value === '') problems.push({ merchantId, message: `${source.file} is empty` });
      else secrets.set(merchantId, value);
    } catch (e) {
      problems.push({ merchantId, message: `cannot read ${source.file} (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
    }
  }
  return { secrets, problems };
}

/** Like readConfiguredSecrets, but a problem refuses to start (for `settle dispatch`). */
export function requireConfiguredSecrets(config: NotifyConfig, env: Readonly<Record<string, string | undefined>>): ReadonlyMap<string, string> {
  const { secrets, problems } = readConfiguredSecrets(config, env);
  if (problems.length > 0) {
    throw new NotifyError('notify_secret_unavailable', `Notification secret of ${problems.map((p) => `${p.merchantId}: ${p.message}`).join('; ')}.`);
  }
  return secrets;
}

/**
 * The lookup the dispatcher signs with: a merchant named in the config signs with its configured secret
 * only (if that could not be read, with none — never silently with another); others with their key secret.
 */
export function secretLookup(
  config: NotifyConfig,
  configured: ReadonlyMap<string, string>,
  keySecret: (merchantId: string) => string | undefined,
): (merchantId: string) => string | undefined {
  return (merchantId) => (Object.hasOwn(config.secrets, merchantId) ? configured.get(merchantId) : keySecret(merchantId));
}

/**
 * Remembers each merchant's secret for `ttlMs` (reading and decrypting it for every notification costs
 * more than the rest of the attempt's bookkeeping). A rotated key signs within ttlMs. Bounded in size.
 */
export function cachedSecrets(lookup: (merchantId: string) => string | undefined, ttlMs: number, now: () => number, entriesMax = 10_000): (merchantId: string) => string | undefined {
  const cache = new Map<string, { readonly secret: string | undefined; readonly untilMs: number }>();
  return (merchantId) => {
    const nowMs = now();
    const hit = cache.get(merchantId);
    if (hit && hit.untilMs > nowMs) return hit.secret;
    const secret = lookup(merchantId);
    if (cache.size >= entriesMax) cache.clear();
    cache.set(merchantId, { secret, untilMs: nowMs + ttlMs });
    return secret;
  };
}
