// Helpers for the simulator's and the adapter's tests: a live simulator on an ephemeral loopback port
// with a temp SQLite file, adapters for its channels, the admin knobs, and a tiny notification receiver.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fastify } from 'fastify';
import { SimChannelAdapter } from '../channels/sim-adapter.js';
import { parseSimConfig, type SimConfigInput } from './config.js';
import { startChannelSim, type ChannelSim } from './server.js';

export const TEST_SECRETS = { bank: 'bank-test-secret-0123456789', wallet: 'wallet-test-secret-0123456789', payout: 'payout-test-secret-0123456789' };

/** The default channels with test secrets and quick notifications (50 ms, retries after 50 and 100 ms). */
export const TEST_CONFIG: SimConfigInput = {
  seed: 'test-seed',
  notify: { timeout_ms: 2_000, retry_delays_ms: [50, 100] },
  channels: [
    { id: 'bank', kind: 'bank', secret: TEST_SECRETS.bank, behaviour: { notify_delay_ms: 50 } },
    { id: 'wallet', kind: 'wallet', secret: TEST_SECRETS.wallet, behaviour: { notify_delay_ms: 50 } },
    { id: 'payout', kind: 'payout', secret: TEST_SECRETS.payout, behaviour: { notify_delay_ms: 50 } },
  ],
};

export interface TestSim {
  readonly sim: ChannelSim;
  readonly url: string;
  readonly dir: string;
  readonly dbPath: string;
  adapter(channelId: keyof typeof TEST_SECRETS, timeoutMs?: number): SimChannelAdapter;
  admin(channelId: string, patch: Record<string, unknown>): Promise<Response>;
  /** Closes the simulator; the temp folder stays until cleanup(). */
  close(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startTestSim(options: { config?: SimConfigInput; clock?: () => number; dir?: string } = {}): Promise<TestSim> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'settle-sim-'));
  const dbPath = join(dir, 'sim.db');
  const parsed = parseSimConfig(options.config ?? TEST_CONFIG, {});
  if (!parsed.ok) throw new Error(parsed.message);
  const sim = await startChannelSim({ dbPath, port: 0, config: parsed.value, env: {}, clock: options.clock });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await sim.close();
  };
  return {
    sim,
    url: sim.url,
    dir,
    dbPath,
    adapter: (channelId, timeoutMs = 2_000) => new SimChannelAdapter({ channelId, baseUrl: sim.url, secret: TEST_SECRETS[channelId], timeoutMs, clock: options.clock }),
    admin: (channelId, patch) =>
      fetch(`${sim.url}/admin/channels/${channelId}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(patch) }),
    close,
    cleanup: async () => {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ReceivedNotification {
  readonly headers: Record<string, string | undefined>;
  readonly rawBody: Buffer;
}

export interface Receiver {
  readonly url: string;
  readonly received: ReceivedNotification[];
  /** Resolves with the n-th notification (1-based) once it has arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedNotification>;
  /** The next `n` answers are this status (to test retries). */
  failNext(n: number, statusCode?: number): void;
  close(): Promise<void>;
}

/** A tiny fastify app standing in for the daemon's notification endpoint. */
export async function startReceiver(): Promise<Receiver> {
  // forceCloseConnections: a test must never wait on a client's stray keep-alive socket.
  const app = fastify({ logger: false, forceCloseConnections: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const received: ReceivedNotification[] = [];
  const waiters: { count: number; resolve: (n: ReceivedNotification) => void }[] = [];
  let failures = 0;
  let failStatus = 500;
  app.post('/notify', async (request, reply) => {
    if (failures > 0) {
      failures--;
      return reply.code(failStatus).send('try again');
    }
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(request.headers)) headers[k] = Array.isArray(v) ? v[0] : v;
    received.push({ headers, rawBody: request.body as Buffer });
    for (const w of [...waiters]) {
      const n = received[w.count - 1];
      if (n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(n);
      }
    }
    return reply.code(200).send('OK');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/notify`,
    received,
    waitFor: (count, timeoutMs = 3_000) =>
      new Promise((resolve, reject) => {
        const have = received[count - 1];
        if (have) return resolve(have);
        const timer = setTimeout(() => reject(new Error(`notification ${count} did not arrive within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          count,
          resolve: (n) => {
            clearTimeout(timer);
            resolve(n);
          },
        });
      }),
    failNext: (n, statusCode = 500) => {
      failures = n;
      failStatus = statusCode;
    },
    close: () => app.close(),
  };
}
