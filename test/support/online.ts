// A whole online stack on loopback for end-to-end tests: the channel simulator and the daemon, each a
// real HTTP server on an ephemeral port, real SQLite files in a temp folder, a merchant with a key,
// and a client that signs requests exactly as the README tells merchants to.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/cli/config.js';
import { Ledger } from '../../src/ledger/index.js';
import { SqliteLedgerStore } from '../../src/ledger/sqlite/store.js';
import { startChannelSim, type ChannelSim } from '../../src/online/channel-sim/server.js';
import { buildChannels } from '../../src/online/channels/registry.js';
import type { OnlineConfig } from '../../src/online/config.js';
import { startDaemon, type Daemon } from '../../src/online/daemon.js';
import { signRequestHeaders } from '../../src/online/merchants/signing.js';

export interface Merchant {
  readonly merchantId: string;
  readonly keyId: string;
  readonly keySecret: string;
}

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

export interface Stack {
  readonly dir: string;
  readonly sim: ChannelSim;
  readonly daemon: Daemon;
  readonly merchant: Merchant;
  readonly config: OnlineConfig;
  addMerchant(products?: string[]): Promise<Merchant>;
  request(method: string, path: string, body?: unknown, options?: { merchant?: Merchant; idempotencyKey?: string | null; nonce?: string; timestampS?: number; rawBody?: Buffer }): Promise<Reply>;
  close(): Promise<void>;
}

export async function startStack(options: { onlineConfig?: Partial<OnlineConfig>; instant?: boolean; recoveryStaleAfterMs?: number } = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'settle-online-'));
  const dbPath = join(dir, 'settle.db');
  const env = { SETTLE_MASTER_KEY: randomBytes(32).toString('hex') };
  const settleConfig = loadConfig();
  const config: OnlineConfig = { ...settleConfig.online, ...options.onlineConfig };
  const store = SqliteLedgerStore.open(dbPath, { create: true });
  const ledger = new Ledger(store);
  await ledger.initialise(settleConfig.chart, '2026-11-26');
  // Fund the reserve so payouts can be made.
  await ledger.post({
    type: 'entry',
    id: 'capital',
    eventType: 'capital.injection',
    postings: [
      { accountId: 'bank:ICBC-RESERVE:reserve:CNY', side: 'debit', amountMinor: 100_000_000n, currency: 'CNY' },
      { accountId: 'platform:capital:CNY', side: 'credit', amountMinor: 100_000_000n, currency: 'CNY' },
    ],
  });
  await store.close();
  const sim = await startChannelSim({ dbPath: join(dir, 'sim.db'), port: 0, seed: 'e2e', env });
  const daemon = await startDaemon({
    dbPath,
    config,
    port: 0,
    env,
    logger: false,
    recoveryIntervalMs: 200,
    recoveryStaleAfterMs: options.recoveryStaleAfterMs ?? 300,
    channels: () => buildChannels(config, { simUrl: sim.url, env, instant: options.instant === true }),
  });
  const addMerchant = async (products?: string[]): Promise<Merchant> => {
    const issued = await daemon.merchants.addMerchant({ name: 'Test shop', ...(products ? { products } : {}) }, Date.now());
    return { merchantId: issued.merchantId, keyId: issued.keyId, keySecret: issued.keySecret ?? '' };
  };
  const merchant = await addMerchant();
  let counter = 0;
  const request: Stack['request'] = async (method, path, body, o = {}) => {
    const m = o.merchant ?? merchant;
    const raw = o.rawBody ?? (body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body)));
    const headers: Record<string, string> = {
      ...signRequestHeaders({
        keyId: m.keyId,
        key: { scheme: 'hmac', secret: m.keySecret },
        method,
        pathWithQuery: path,
        rawBody: raw,
        timestampS: o.timestampS ?? Math.floor(Date.now() / 1000),
        nonce: o.nonce ?? `n${Date.now()}x${++counter}abcdefgh`,
      }),
    };
    if (raw.length > 0) headers['content-type'] = 'application/json';
    if (method === 'POST' && o.idempotencyKey !== null) headers['idempotency-key'] = o.idempotencyKey ?? `idem-${++counter}-${Math.random()}`;
    const res = await fetch(`${daemon.url}${path}`, { method, headers, ...(raw.length > 0 ? { body: raw } : {}) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text.length > 0 && text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text } };
  };
  return {
    dir,
    sim,
    daemon,
    merchant,
    config,
    addMerchant,
    request,
    async close() {
      await daemon.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
