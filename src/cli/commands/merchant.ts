// settle merchant …: add, list, rotate-key, freeze, unfreeze. Thin: parse flags, call the merchant
// store, render. A key secret is printed once, by add and rotate-key, and never again.

import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { openSqlite } from '../../ledger/sqlite/database.js';
import { OnlineError } from '../../online/merchants/errors.js';
import type { Merchant, MerchantKeyInfo, MerchantStore } from '../../online/merchants/store.js';
import type { CommandContext, Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { table } from '../output.js';

const RSA_PUBLIC_KEY_FILE_BYTES_MAX = 16 * 1024;

/** Opens the existing database (db_not_found otherwise), the merchant store on it, runs the work, closes. */
async function withMerchants<T>(ctx: CommandContext, work: (store: MerchantStore) => Promise<T>): Promise<T> {
  // Loaded on demand: the store pulls in the online config (and zod), which other commands do not need.
  const { MerchantStore } = await import('../../online/merchants/store.js');
  const db = openSqlite(ctx.dbPath);
  try {
    return await work(MerchantStore.open(db, { env: ctx.io.env, dbPath: ctx.dbPath }));
  } catch (e) {
    if (e instanceof OnlineError) throw new AbortError(e.code, e.message);
    throw e;
  } finally {
    db.close();
  }
}

function readPublicKeyFile(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new AbortError('file_not_found', `Cannot read ${path}.`, 'Check the path given to --rsa-public-key.');
  }
  if (size > RSA_PUBLIC_KEY_FILE_BYTES_MAX) {
    throw new AbortError('merchant_input_invalid', `${path} is ${size} bytes; a public key file is at most ${RSA_PUBLIC_KEY_FILE_BYTES_MAX}.`);
  }
  return readFileSync(path, 'utf8');
}

function graceMs(hours: string | undefined): number | undefined {
  if (hours === undefined) return undefined;
  if (!/^[0-9]{1,4}(\.[0-9]{1,3})?$/.test(hours)) {
    throw new AbortError('merchant_input_invalid', `--grace-hours ${hours} is not a number of hours.`, 'Give e.g. 24, 0.5, or 0 to revoke the old keys at once.');
  }
  return Math.round(Number(hours) * 3_600_000);
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** active: the current key · retiring: rotated, still verifies · retired: verifies no more. */
function keyState(k: MerchantKeyInfo, nowMs: number): 'active' | 'retiring' | 'retired' {
  if (k.status === 'active') return 'active';
  return k.retiredAtMs !== null && nowMs < k.retiredAtMs ? 'retiring' : 'retired';
}

function merchantJson(m: Merchant, nowMs: number): Record<string, unknown> {
  return {
    merchant_id: m.merchantId,
    name: m.name,
    status: m.status,
    legacy_md5: m.legacyMd5,
    notify_url: m.notifyUrl,
    products: m.products,
    created_at: iso(m.createdAtMs),
    keys: m.keys.map((k) => ({
      key_id: k.keyId,
      scheme: k.scheme,
      status: keyState(k, nowMs),
      created_at: iso(k.createdAtMs),
      verifies_until: iso(k.retiredAtMs),
    })),
  };
}

function merchantsTable(merchants: readonly Merchant[], nowMs: number): string {
  if (merchants.length === 0) return 'No merchants yet (settle merchant add NAME).';
  return table(
    ['merchant', 'name', 'status', 'signing', 'keys', 'products'],
    merchants.map((m) => [
      m.merchantId,
      m.name,
      m.status,
      [...new Set(m.keys.filter((k) => keyState(k, nowMs) !== 'retired').map((k) => k.scheme))].join('+') + (m.legacyMd5 ? '+md5' : ''),
      m.keys
        .filter((k) => keyState(k, nowMs) !== 'retired')
        .map((k) => (keyState(k, nowMs) === 'retiring' ? `${k.keyId} (until ${iso(k.retiredAtMs)})` : k.keyId))
        .join(', '),
      m.products.join(','),
    ]),
  );
}

function secretLines(keyId: string, keySecret: string | undefined): string[] {
  if (keySecret === undefined) return [`  key id      ${keyId} (RSA: requests are signed with the merchant's private key)`];
  return [
    `  key id      ${keyId}`,
    `  key secret  ${keySecret}`,
    'Hand the secret to the merchant now: it is shown only this once and cannot be recovered (rotate the key if it is lost).',
  ];
}

export function registerMerchantCommands(program: Command, run: Run): void {
  const merchant = program.command('merchant').description('merchants of the online API: their signing keys and status');

  merchant
    .command('add')
    .description('add a merchant and issue its first key (the HMAC secret is printed once)')
    .argument('<name>', "the merchant's name")
    .option('--products <list>', 'comma-separated products it may use (default: all)')
    .option('--rsa-public-key <file>', 'register this RSA public key (PEM) instead of issuing an HMAC secret')
    .option('--legacy-md5', 'also accept MD5-signed requests (legacy mode; weak, for old integrations only)')
    .option('--notify-url <url>', 'where payment notifications are sent')
    .action(
      run(async (ctx, name: string, opts: { products?: string; rsaPublicKey?: string; legacyMd5?: boolean; notifyUrl?: string }) => {
        const rsaPublicKeyPem = opts.rsaPublicKey === undefined ? undefined : readPublicKeyFile(opts.rsaPublicKey);
        const issued = await withMerchants(ctx, (store) =>
          store.addMerchant(
            {
              name,
              products: opts.products === undefined ? undefined : opts.products.split(','),
              rsaPublicKeyPem,
              legacyMd5: opts.legacyMd5 === true,
              notifyUrl: opts.notifyUrl,
            },
            ctx.io.clock(),
          ),
        );
        ctx.out.result(
          {
            ok: true,
            merchant_id: issued.merchantId,
            key_id: issued.keyId,
            key_scheme: issued.keySecret === undefined ? 'rsa' : 'hmac',
            key_secret: issued.keySecret ?? null,
          },
          () => [`Merchant ${issued.merchantId} added.`, ...secretLines(issued.keyId, issued.keySecret)].join('\n'),
        );
        return EXIT.ok;
      }),
    );

  merchant
    .command('list')
    .description('merchants with their status, products and key ids (never the secrets)')
    .action(
      run(async (ctx) => {
        const merchants = await withMerchants(ctx, (store) => store.listMerchants());
        const nowMs = ctx.io.clock();
        ctx.out.result({ ok: true, merchants: merchants.map((m) => merchantJson(m, nowMs)) }, () => merchantsTable(merchants, nowMs));
        return EXIT.ok;
      }),
    );

  merchant
    .command('rotate-key')
    .description('issue a new key; older keys keep verifying for a grace period (default 24 h)')
    .argument('<merchant-id>', 'the merchant')
    .option('--grace-hours <n>', 'how long the older keys keep verifying (0 revokes them now)')
    .option('--rsa-public-key <file>', 'the new key is this RSA public key (PEM) instead of an HMAC secret')
    .action(
      run(async (ctx, merchantId: string, opts: { graceHours?: string; rsaPublicKey?: string }) => {
        const rsaPublicKeyPem = opts.rsaPublicKey === undefined ? undefined : readPublicKeyFile(opts.rsaPublicKey);
        const grace = graceMs(opts.graceHours);
        const rotated = await withMerchants(ctx, (store) =>
          store.rotateKey(merchantId, ctx.io.clock(), {
            ...(grace === undefined ? {} : { graceMs: grace }),
            ...(rsaPublicKeyPem === undefined ? {} : { rsaPublicKeyPem }),
          }),
        );
        ctx.out.result(
          {
            ok: true,
            merchant_id: rotated.merchantId,
            key_id: rotated.keyId,
            key_scheme: rotated.keySecret === undefined ? 'rsa' : 'hmac',
            key_secret: rotated.keySecret ?? null,
            retiring: rotated.retiring.map((r) => ({ key_id: r.keyId, verifies_until: iso(r.verifiesUntilMs) })),
          },
          () =>
            [
              `New key for merchant ${rotated.merchantId}.`,
              ...secretLines(rotated.keyId, rotated.keySecret),
              ...rotated.retiring.map((r) => `  older key ${r.keyId} verifies until ${iso(r.verifiesUntilMs)}`),
            ].join('\n'),
        );
        return EXIT.ok;
      }),
    );

  merchant
    .command('sftp-key')
    .description('register an SSH public key the merchant fetches its statements with over SFTP (user name = merchant id)')
    .argument('<merchant-id>', 'the merchant')
    .requiredOption('--public-key <file>', 'the OpenSSH public key file (e.g. id_ed25519.pub)')
    .action(
      run(async (ctx, merchantId: string, opts: { publicKey: string }) => {
        const { SqliteSftpKeyStore, SFTP_PUBLIC_KEY_BYTES_MAX } = await import('../../online/statements/sftp-keys.js');
        const keyPath = resolve(ctx.io.cwd, opts.publicKey);
        let text: string;
        try {
          if (statSync(keyPath).size > SFTP_PUBLIC_KEY_BYTES_MAX) throw new AbortError('sftp_key_invalid', `${opts.publicKey} is larger than a public key (${SFTP_PUBLIC_KEY_BYTES_MAX} bytes).`);
          text = readFileSync(keyPath, 'utf8');
        } catch (e) {
          if (e instanceof AbortError) throw e;
          throw new AbortError('file_not_found', `Cannot read ${opts.publicKey}.`, 'Check the path given to --public-key.');
        }
        const r = await withMerchants(ctx, async (store) => {
          if ((await store.getMerchant(merchantId)) === undefined) throw new AbortError('merchant_not_found', `No merchant ${merchantId}.`, 'See settle merchant list.');
          return SqliteSftpKeyStore.open(store.db).add(merchantId, text, ctx.io.clock());
        });
        if (!r.ok) throw new AbortError(r.code, r.message);
        ctx.out.result({ ok: true, merchant_id: merchantId, fingerprint: r.fingerprint, key_type: r.keyType, added: r.added }, () =>
          r.added ? `Merchant ${merchantId} may now fetch statements over SFTP with ${r.keyType} key ${r.fingerprint}.` : `Key ${r.fingerprint} was registered for ${merchantId} already.`,
        );
        return EXIT.ok;
      }),
    );

  for (const [verb, status] of [
    ['freeze', 'frozen'],
    ['unfreeze', 'active'],
  ] as const) {
    merchant
      .command(verb)
      .description(status === 'frozen' ? 'refuse every request of a merchant (merchant_frozen)' : 'let a frozen merchant call the API again')
      .argument('<merchant-id>', 'the merchant')
      .action(
        run(async (ctx, merchantId: string) => {
          const r = await withMerchants(ctx, (store) => store.setStatus(merchantId, status));
          ctx.out.result({ ok: true, merchant_id: r.merchantId, status: r.status, changed: r.changed }, () =>
            r.changed ? `Merchant ${r.merchantId} is now ${r.status}.` : `Merchant ${r.merchantId} was already ${r.status}.`,
          );
          return EXIT.ok;
        }),
      );
  }
}
