// Test helpers for the dispatcher (not built into dist/): a fake clock with timers, a merchant's
// receiver as a real HTTP server on loopback, and a database in a temp folder with the online, merchant
// and notify schemas on one connection, as in the daemon.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite, type SqliteConnection } from '../../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { MerchantStore } from '../merchants/store.js';
import { SqliteNotifyStore } from '../sqlite/notify-store.js';
import { SqliteOnlineStore } from '../sqlite/store.js';
import { defaultNotifyConfig, type notifyConfigSchema } from './config.js';
import { Dispatcher, type DispatcherDeps } from './dispatcher.js';
import { createHttpSender, type HttpSender } from './http.js';
import type { Scheduler, Timer } from './scheduler.js';
import { NoSink, type EventSink } from './sink.js';
import type { z } from 'zod';

/** A clock that moves only when told; timers fire in time order as it passes them. */
export class FakeScheduler implements Scheduler {
  private nowMs: number;
  private timers: { atMs: number; order: number; fn: () => void; cancelled: boolean }[] = [];
  private order = 0;

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  after(delayMs: number, fn: () => void): Timer {
    const t = { atMs: this.nowMs + Math.max(0, delayMs), order: ++this.order, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  }

  /** Moves the clock to atMs, firing every timer due by then (each sees the clock at atMs). */
  advanceTo(atMs: number): void {
    if (atMs < this.nowMs) throw new Error('the fake clock only moves forward');
    this.nowMs = atMs;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      const due = this.timers.filter((t) => t.atMs <= atMs).sort((a, b) => a.atMs - b.atMs || a.order - b.order)[0];
      if (!due) return;
      due.cancelled = true;
      due.fn();
    }
  }

  advance(ms: number): void {
    this.advanceTo(this.nowMs + ms);
  }
}

export interface Received {
  readonly n: number;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawBody: string;
}

/** What the receiver does with a request: answer with a status (after a real delay), or never answer. */
export type Behaviour = { readonly status: number; readonly delayMs?: number; readonly body?: string; readonly headers?: Record<string, string> } | 'hang';

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** Changes what the next requests get. */
  behave(b: Behaviour | ((r: Received) => Behaviour)): void;
  close(): Promise<void>;
}

export async function startReceiver(initial: Behaviour | ((r: Received) => Behaviour) = { status: 200 }): Promise<Receiver> {
  let behaviour = initial;
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { n: received.length + 1, path: req.url ?? '/', headers: req.headers, rawBody: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      const b = typeof behaviour === 'function' ? behaviour(r) : behaviour;
      if (b === 'hang') return;
      const answer = (): void => {
        res.writeHead(b.status, { 'content-type': 'text/plain', ...b.headers });
        res.end(b.body ?? '');
      };
      if (b.delayMs) setTimeout(answer, b.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    behave(b) {
      behaviour = b;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const T0_MS = Date.UTC(2026, 10, 26, 2, 0, 0);

export interface Fixture {
  readonly dir: string;
  readonly dbPath: string;
  readonly db: SqliteConnection;
  readonly env: Record<string, string>;
  readonly online: SqliteOnlineStore;
  readonly merchants: MerchantStore;
  readonly store: SqliteNotifyStore;
  readonly sender: HttpSender;
  addMerchant(notifyUrl?: string): Promise<{ merchantId: string; keySecret: string }>;
  publish(topic: string, aggregateId: string, merchantId: string | null, payload: Record<string, unknown>): Promise<void>;
  dispatcher(o?: { config?: z.input<typeof notifyConfigSchema>; scheduler?: Scheduler; sink?: EventSink; deps?: Partial<DispatcherDeps> }): Dispatcher;
  close(): Promise<void>;
}

/** A database in a temp folder with merchants and the outbox, and dispatchers over real HTTP. */
export async function makeFixture(nowMs: () => number = Date.now): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'settle-notify-'));
  const dbPath = join(dir, 'settle.db');
  const env = { SETTLE_MASTER_KEY: randomBytes(32).toString('hex') };
  const db = openSqlite(dbPath, { create: true, synchronous: 'NORMAL' });
  const online = new SqliteOnlineStore(db, SqliteLedgerStore.attach(db, dbPath), { clock: nowMs });
  const merchants = MerchantStore.open(db, { env, dbPath });
  const store = new SqliteNotifyStore(db, { unit: (work) => online.unit(() => work()) });
  const sender = createHttpSender({ allowPrivateNetworks: true });
  const dispatchers: Dispatcher[] = [];
  return {
    dir,
    dbPath,
    db,
    env,
    online,
    merchants,
    store,
    sender,
    async addMerchant(notifyUrl) {
      const issued = await merchants.addMerchant({ name: 'Notified shop', ...(notifyUrl !== undefined ? { notifyUrl } : {}) }, nowMs());
      return { merchantId: issued.merchantId, keySecret: issued.keySecret ?? '' };
    },
    async publish(topic, aggregateId, merchantId, payload) {
      await online.unit((tx) => tx.publish({ topic, aggregateId, merchantId, payload }));
    },
    dispatcher(o = {}) {
      const d = new Dispatcher({
        store,
        sink: o.sink ?? new NoSink(),
        send: sender.send,
        secretOf: (m) => merchants.notificationSecretSync(m),
        config: defaultNotifyConfig(o.config ?? {}),
        ...(o.scheduler ? { scheduler: o.scheduler } : {}),
        ...o.deps,
      });
      dispatchers.push(d);
      return d;
    },
    async close() {
      for (const d of dispatchers) await d.stop(0);
      sender.close();
      await online.drain();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls (in real time) until probe returns a value; for asynchronous work on loopback. */
export async function until<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('until: timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
