// Crash safety of the daemon: SIGKILL it while the channel is slow and payments are in flight, start it
// again, and every order that was persisted ends in a final state with its journal entry exactly once.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/cli/config.js';
import { Ledger } from '../src/ledger/index.js';
import { openSqlite } from '../src/ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { startChannelSim, type ChannelSim } from '../src/online/channel-sim/server.js';
import { signRequestHeaders } from '../src/online/merchants/signing.js';
import { MerchantStore } from '../src/online/merchants/store.js';
import { waitFor } from './support/online.js';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'settle.js');
let dir: string;
let dbPath: string;
let sim: ChannelSim;
const env = { ...process.env, SETTLE_MASTER_KEY: randomBytes(32).toString('hex') };
let merchant: { merchantId: string; keyId: string; keySecret: string };

beforeAll(async () => {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run npm run build');
  dir = mkdtempSync(join(tmpdir(), 'settle-crash-online-'));
  dbPath = join(dir, 'settle.db');
  const config = loadConfig();
  const store = SqliteLedgerStore.open(dbPath, { create: true });
  await new Ledger(store).initialise(config.chart, '2026-11-26');
  await store.close();
  const db = openSqlite(dbPath);
  const merchants = MerchantStore.open(db, { env, dbPath });
  const issued = await merchants.addMerchant({ name: 'Crash shop' }, Date.now());
  merchant = { merchantId: issued.merchantId, keyId: issued.keyId, keySecret: issued.keySecret ?? '' };
  db.close();
  sim = await startChannelSim({ dbPath: join(dir, 'sim.db'), port: 0, seed: 'crash', env });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

function startDaemon(port: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bin, '--db', dbPath, 'serve', '--port', String(port), '--quiet', '--channel-sim-url', sim.url, '--recovery-after-ms', '300'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m?.[1]) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`daemon exited ${String(code)}: ${err}`)));
  });
}

let nonce = 0;
async function call(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const raw = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = signRequestHeaders({
    keyId: merchant.keyId,
    key: { scheme: 'hmac', secret: merchant.keySecret },
    method,
    pathWithQuery: path,
    rawBody: raw,
    timestampS: Math.floor(Date.now() / 1000),
    nonce: `crash-nonce-${Date.now()}-${++nonce}`,
  });
  if (raw.length > 0) headers['content-type'] = 'application/json';
  if (method === 'POST') headers['idempotency-key'] = `crash-${++nonce}`;
  const res = await fetch(`${url}${path}`, { method, headers, ...(raw.length > 0 ? { body: raw } : {}) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('Given payments in flight to a slow channel', () => {
  it('When the daemon is killed with SIGKILL and started again, Then every persisted order ends final with its entry exactly once', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    await fetch(`${sim.url}/admin/channels/bank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latency_ms: 1_500 }) });
    const first = await startDaemon(port);
    const orders = Array.from({ length: 30 }, (_, i) => `CRASH-${i}`);
    const inFlight = orders.map((no) => call(first.url, 'POST', '/v1/payments', { merchant_order_no: no, product: 'foreign_card', amount: 1_000 + orders.indexOf(no), currency: 'CNY' }).catch(() => undefined));
    await new Promise((r) => setTimeout(r, 600));
    first.child.kill('SIGKILL');
    await Promise.all(inFlight);
    await fetch(`${sim.url}/admin/channels/bank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latency_ms: 0 }) });
    // The kill caught orders between "persisted as processing" and "answered by the channel".
    const peek = openSqlite(dbPath, { readonly: true });
    const stuck = peek.prepare("SELECT COUNT(*) AS n FROM payments WHERE status = 'processing'").get() as { n: bigint };
    peek.close();
    expect(stuck.n).toBeGreaterThan(0n);

    const second = await startDaemon(port);
    try {
      const finals = await waitFor(async () => {
        const states: string[] = [];
        for (const no of orders) {
          const r = await call(second.url, 'GET', `/v1/payments?merchant_order_no=${no}`);
          states.push(r.status === 404 ? 'absent' : String(r.body['status']));
        }
        return states.every((st) => st !== 'processing') ? states : undefined;
      }, 15_000);
      expect(finals.filter((st) => st !== 'absent').length).toBeGreaterThan(0);
      expect(finals.every((st) => st === 'absent' || st === 'succeeded' || st === 'failed')).toBe(true);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
    const store = SqliteLedgerStore.open(dbPath);
    try {
      const ledger = new Ledger(store);
      expect((await ledger.verify()).ok).toBe(true);
      const journal = await store.readJournal({ limit: 10_000 });
      const perPayment = new Map<string, number>();
      for (const e of journal) if (e.eventType === 'payment.succeeded' && e.reference) perPayment.set(e.reference, (perPayment.get(e.reference) ?? 0) + 1);
      expect([...perPayment.values()].every((count) => count === 1)).toBe(true);
      const db = store.db;
      const succeeded = db.prepare("SELECT payment_id FROM payments WHERE status = 'succeeded'").all() as { payment_id: string }[];
      expect(new Set(succeeded.map((p) => p.payment_id))).toEqual(new Set(perPayment.keys()));
    } finally {
      await store.close();
    }
  }, 60_000);
});
