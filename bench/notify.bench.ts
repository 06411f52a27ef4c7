// Merchant notifications delivered per second to a local receiver, beside a baseline from the same run:
// the same signed POSTs with the same HTTP client and the same number in flight, but no database — the
// ceiling of the sockets, the client and the receiver before any of the dispatcher's own work (moving
// the outbox, writing the sink, claiming with a lease, recording each attempt).
//
//   npm run bench:notify                 a table for people
//   npm run --silent bench:notify -- --json   one JSON object on stdout (progress goes to stderr)
//
//   BENCH_NOTIFICATIONS=20000    outbox rows (each one notification) per dispatcher run
//   BENCH_MERCHANTS=100          merchants, each with its own notify URL on the receiver
//   BENCH_IN_FLIGHT=64           in_flight_max (the baseline keeps as many POSTs in flight)
//   BENCH_PER_MERCHANT=4         in_flight_per_merchant_max
//   BENCH_RUNS=2                 baseline and dispatcher runs, interleaved (the best of each is reported)
//
// The receiver is its own process (its own event loop): a bare node:http server answering 204 to every
// POST with keep-alive, counting them. The dispatcher runs in this process on a fresh database in a temp
// folder, the file sink on (fsync per batch), through createNotifications with the daemon's group commit
// — twice: with the daemon's synchronous=FULL, and with the synchronous=NORMAL `settle dispatch` uses.
// A run starts with the whole backlog in the outbox and ends when every notification is recorded as
// delivered; the receiver's count must match. Runs are interleaved (baseline, FULL, NORMAL, …); the best
// of each is reported, with the CPU this process spent per 1,000 notifications (comparable on a busy
// machine, where wall-clock rates swing with other load).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openSqlite } from '../src/ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { MerchantStore } from '../src/online/merchants/store.js';
import { defaultNotifyConfig } from '../src/online/notify/config.js';
import { eventId, notificationBody, signatureHeader } from '../src/online/notify/event.js';
import { createHttpSender } from '../src/online/notify/http.js';
import { createNotifications } from '../src/online/notify/wiring.js';
import { SqliteOnlineStore } from '../src/online/sqlite/store.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '..');
const ARGS = process.argv.slice(2);
const ROLE = ARGS.includes('--role') ? ARGS[ARGS.indexOf('--role') + 1] : undefined;
const JSON_OUT = ARGS.includes('--json');
const NOTIFICATIONS = envInt('BENCH_NOTIFICATIONS', 20_000);
const MERCHANTS = envInt('BENCH_MERCHANTS', 100);
const IN_FLIGHT = envInt('BENCH_IN_FLIGHT', 64);
const PER_MERCHANT = envInt('BENCH_PER_MERCHANT', 4);
const RUNS = envInt('BENCH_RUNS', 2);
const TARGET_PER_S = 2_000;
const PUBLISH_CHUNK = 1_000;

const log = (line: string): void => void (JSON_OUT ? process.stderr : process.stdout).write(`${line}\n`);

// ---- role: receiver ----

type ReceiverMessage = { readonly type: 'ready'; readonly port: number } | { readonly type: 'count'; readonly count: number };

function receiverRole(): void {
  let count = 0;
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      count += 1;
      res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1', () => process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port } satisfies ReceiverMessage));
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: { type: string }) => {
    if (m.type === 'count') process.send?.({ type: 'count', count } satisfies ReceiverMessage);
  });
}

class Receiver {
  private readonly child: ChildProcess;
  private waiting: ((m: ReceiverMessage) => void)[] = [];
  constructor() {
    this.child = spawn(process.execPath, ['--import', 'tsx', SELF, '--role', 'receiver'], { cwd: ROOT, stdio: ['ignore', 2, 2, 'ipc'] });
    this.child.on('message', (m: ReceiverMessage) => this.waiting.shift()?.(m));
  }
  next(): Promise<ReceiverMessage> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  async count(): Promise<number> {
    const reply = this.next();
    this.child.send({ type: 'count' });
    const m = await reply;
    if (m.type !== 'count') throw new Error('receiver: unexpected message');
    return m.count;
  }
  stop(): void {
    this.child.disconnect();
  }
}

// ---- the two measurements ----

interface Run {
  readonly name: string;
  readonly notifications: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** CPU of this process (user + system) per 1,000 notifications: comparable on a busy machine. */
  readonly cpuMsPer1000: number;
}

const payload = (i: number): Record<string, unknown> => ({
  id: `pay_${String(i).padStart(24, '0')}`,
  object: 'payment',
  merchant_order_no: `BENCH-${i}`,
  product: 'foreign_card',
  amount: 10_000,
  currency: 'CNY',
  status: 'succeeded',
  fee: 60,
  refunded_amount: 0,
  channel: 'bank',
  notify_url: null,
  business_date: '2026-11-26',
  created_at: '2026-11-26T02:00:00.000Z',
  updated_at: '2026-11-26T02:00:00.000Z',
});

const cpuMs = (cpu: NodeJS.CpuUsage): number => ((cpu.user + cpu.system) / 1000 / NOTIFICATIONS) * 1000;

/** The same signed POSTs, IN_FLIGHT at a time, with no database. */
async function baseline(url: string, receiver: Receiver): Promise<Run> {
  const sender = createHttpSender({ allowPrivateNetworks: true });
  const secret = `sk_${randomBytes(32).toString('hex')}`;
  const bodies = Array.from({ length: NOTIFICATIONS }, (_, i) =>
    notificationBody({ seq: i + 1, topic: 'payment.succeeded', aggregateId: 'x', merchantId: 'M1', payloadJson: JSON.stringify(payload(i)), createdAtMs: Date.now() }),
  );
  const before = await receiver.count();
  let next = 0;
  let failures = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const i = next++;
      const body = bodies[i] ?? '';
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort('timeout'), 10_000);
      const headers = { 'content-type': 'application/json', 'settle-event-id': eventId(i + 1), 'settle-signature': signatureHeader(secret, Math.floor(Date.now() / 1000), body) };
      const r = await sender.send({ url: `${url}/m${i % MERCHANTS}`, headers, body }, controller.signal);
      clearTimeout(timer);
      if (!r.ok) failures += 1;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  sender.close();
  const got = (await receiver.count()) - before;
  if (failures > 0 || got !== NOTIFICATIONS) throw new Error(`baseline: ${failures} failures, receiver counted ${got} of ${NOTIFICATIONS}`);
  return { name: 'bare signed POSTs, no database (baseline)', notifications: NOTIFICATIONS, seconds, perSecond: NOTIFICATIONS / seconds, cpuMsPer1000: cpuMs(cpu) };
}

/** A fresh database with the backlog in the outbox, then the dispatcher until everything is delivered. */
async function dispatcherRun(url: string, receiver: Receiver, synchronous: 'FULL' | 'NORMAL'): Promise<Run> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'settle-bench-notify-'));
  const dbPath = path.join(dir, 'settle.db');
  const env = { SETTLE_MASTER_KEY: randomBytes(32).toString('hex') };
  const db = openSqlite(dbPath, { create: true, synchronous });
  try {
    const online = new SqliteOnlineStore(db, SqliteLedgerStore.attach(db, dbPath));
    const merchants = MerchantStore.open(db, { env, dbPath });
    const ids: string[] = [];
    for (let m = 0; m < MERCHANTS; m++) ids.push((await merchants.addMerchant({ name: `Bench shop ${m}`, notifyUrl: `${url}/m${m}` }, Date.now())).merchantId);
    for (let start = 0; start < NOTIFICATIONS; start += PUBLISH_CHUNK) {
      await online.unit((tx) => {
        for (let i = start; i < Math.min(NOTIFICATIONS, start + PUBLISH_CHUNK); i++) {
          tx.publish({ topic: 'payment.succeeded', aggregateId: `pay_${i}`, merchantId: ids[i % MERCHANTS] ?? null, payload: payload(i) });
        }
      });
    }
    const config = defaultNotifyConfig({ in_flight_max: IN_FLIGHT, in_flight_per_merchant_max: PER_MERCHANT, sink: { kind: 'file', dir: path.join(dir, 'events') } });
    const wired = createNotifications({ db, unit: (work) => online.unit(() => work()), merchants, config, dbPath, env, strictSecrets: true });
    const before = await receiver.count();
    const gcBefore = { ...online.groupCommitStats };
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const stats = await wired.dispatcher.runOnce();
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const commits = online.groupCommitStats.batches - gcBefore.batches;
    const units = online.groupCommitStats.units - gcBefore.units;
    log(`    ${commits} commits of ${units} units (${(units / Math.max(1, commits)).toFixed(1)} per commit, ${((seconds * 1000) / Math.max(1, commits)).toFixed(2)} ms per commit)`);
    await wired.close(0);
    await online.drain();
    const got = (await receiver.count()) - before;
    if (stats.succeeded !== NOTIFICATIONS || got !== NOTIFICATIONS) {
      throw new Error(`dispatcher: ${stats.succeeded} recorded delivered, receiver counted ${got}, of ${NOTIFICATIONS} (${JSON.stringify(stats)})`);
    }
    const delivered = (await wired.store.listDeliveries({ state: 'succeeded', limit: 1 })).length;
    if (delivered !== 1) throw new Error('dispatcher: no delivery recorded as succeeded');
    const name = synchronous === 'FULL' ? 'dispatcher, daemon settings (synchronous=FULL)' : 'dispatcher, settle dispatch (synchronous=NORMAL)';
    return { name, notifications: NOTIFICATIONS, seconds, perSecond: NOTIFICATIONS / seconds, cpuMsPer1000: cpuMs(cpu) };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const receiver = new Receiver();
  const ready = await receiver.next();
  if (ready.type !== 'ready') throw new Error('receiver: no ready message');
  const url = `http://127.0.0.1:${ready.port}`;
  log(`notify bench: ${NOTIFICATIONS} notifications, ${MERCHANTS} merchants, ${IN_FLIGHT} in flight (${PER_MERCHANT} per merchant), ${RUNS} run(s) each`);
  log(`machine: ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const baselines: Run[] = [];
  const dispatches: Run[] = [];
  const standalone: Run[] = [];
  try {
    // Warm-up: JIT, sockets.
    await baseline(url, receiver);
    for (let r = 0; r < RUNS; r++) {
      baselines.push(await baseline(url, receiver));
      log(`  baseline   run ${r + 1}: ${baselines[baselines.length - 1]?.perSecond.toFixed(0)}/s, ${baselines[baselines.length - 1]?.cpuMsPer1000.toFixed(0)} CPU ms per 1,000`);
      dispatches.push(await dispatcherRun(url, receiver, 'FULL'));
      log(`  dispatcher (FULL)   run ${r + 1}: ${dispatches[dispatches.length - 1]?.perSecond.toFixed(0)}/s, ${dispatches[dispatches.length - 1]?.cpuMsPer1000.toFixed(0)} CPU ms per 1,000`);
      standalone.push(await dispatcherRun(url, receiver, 'NORMAL'));
      log(`  dispatcher (NORMAL) run ${r + 1}: ${standalone[standalone.length - 1]?.perSecond.toFixed(0)}/s, ${standalone[standalone.length - 1]?.cpuMsPer1000.toFixed(0)} CPU ms per 1,000`);
    }
  } finally {
    receiver.stop();
  }
  const best = (runs: Run[]): Run => runs.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  const b = best(baselines);
  const d = best(dispatches);
  const n = best(standalone);
  const ratio = d.perSecond / b.perSecond;
  const result = {
    notifications: NOTIFICATIONS,
    merchants: MERCHANTS,
    in_flight_max: IN_FLIGHT,
    in_flight_per_merchant_max: PER_MERCHANT,
    baseline_per_s: Math.round(b.perSecond),
    dispatcher_per_s: Math.round(d.perSecond),
    ratio: Number(ratio.toFixed(3)),
    standalone_per_s: Math.round(n.perSecond),
    standalone_ratio: Number((n.perSecond / b.perSecond).toFixed(3)),
    baseline_cpu_ms_per_1000: Math.round(b.cpuMsPer1000),
    dispatcher_cpu_ms_per_1000: Math.round(d.cpuMsPer1000),
    standalone_cpu_ms_per_1000: Math.round(n.cpuMsPer1000),
    target_per_s: TARGET_PER_S,
    target_met: d.perSecond >= TARGET_PER_S,
    standalone_target_met: n.perSecond >= TARGET_PER_S,
    load_average: os.loadavg(),
  };
  if (JSON_OUT) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  log('');
  log('| run | notifications | seconds | per second | CPU ms per 1,000 |');
  log('|---|--:|--:|--:|--:|');
  for (const r of [b, d, n]) log(`| ${r.name} | ${r.notifications} | ${r.seconds.toFixed(3)} | ${r.perSecond.toFixed(0)} | ${r.cpuMsPer1000.toFixed(0)} |`);
  log('');
  log(`dispatcher (FULL) / baseline = ${ratio.toFixed(3)}; target ${TARGET_PER_S}/s ${d.perSecond >= TARGET_PER_S ? 'met' : 'NOT met'}`);
  log(`dispatcher (NORMAL) / baseline = ${(n.perSecond / b.perSecond).toFixed(3)}; target ${TARGET_PER_S}/s ${n.perSecond >= TARGET_PER_S ? 'met' : 'NOT met'}`);
}

if (ROLE === 'receiver') receiverRole();
else
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
