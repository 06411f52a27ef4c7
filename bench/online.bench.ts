// Throughput and latency of the daemon's signed `POST /v1/payments`, each figure beside a bare fastify
// route measured the same way in the same run (the ceiling).
//
//   npm run bench:online                 a table for people
//   npm run --silent bench:online -- --json   one JSON object on stdout (progress goes to stderr)
//   npm run bench:online -- --profile    one foreign_card run with the daemon under --cpu-prof: prints where
//                                        the daemon's time goes and keeps the .cpuprofile (open it in DevTools)
//
//   BENCH_SECONDS=20             measured seconds per run (shorten for a smoke run)
//   BENCH_GROUP_COMMIT_MAX=1     units per commit in the daemon (default 256); 1 = one commit per unit, the baseline
//   BENCH_WARMUP_SECONDS=3       warm-up before each measured run (JIT, caches, sockets); not reported
//   BENCH_CONNECTIONS=64         keep-alive connections of the load generator
//   BENCH_SCENARIOS=bare,card,balance,card-sim
//   BENCH_PREGEN_RATE=12000      signed requests made before each run per second of run; past them the load
//                                generator signs on the fly (and says how many it had to); runs longer than
//                                240 s sign everything on the fly (a signature expires 300 s after its timestamp)
//
// Every process gets its own event loop (2 cores on the reference machine): the orchestrator (this file)
// spawns itself as `node --import tsx bench/online.bench.ts --role R` for the daemon (startDaemon with
// synchronous FULL, logger off, `instant` channels or the HTTP simulator), the channel simulator, the bare
// route and the load generator. The load generator is a raw keep-alive HTTP/1.1 client on node:net — one
// request in flight per connection, request buffers signed before the run — because it must (a) drain
// every request it sent before stopping, so that the 201s it counted can be compared one for one with
// the journal, and (b) check every answer's status and body. Each request carries a fresh nonce,
// Idempotency-Key and merchant_order_no and a valid HMAC signature; requests rotate over 16 merchants
// (the per-merchant rate limit is left at its default). After each daemon run the database is verified
// (Ledger.verify: hash chain, balances, counters) and its payment entries must equal the 201s counted.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/cli/config.js';
import { parseOnlineConfig } from '../src/online/config.js';
import { Ledger } from '../src/ledger/index.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { startChannelSim } from '../src/online/channel-sim/server.js';
import { buildChannels } from '../src/online/channels/registry.js';
import { startDaemon } from '../src/online/daemon.js';
import { signRequestHeaders } from '../src/online/merchants/signing.js';
import { startBareRoute } from './bare-route.js';
import { machineOf } from './machine.js';

// ---- configuration ----

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
const PROFILE = ARGS.includes('--profile');
const MEASURE_S = envInt('BENCH_SECONDS', 20);
const WARMUP_S = envInt('BENCH_WARMUP_SECONDS', 3);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 64);
const PREGEN_RATE_PER_S = envInt('BENCH_PREGEN_RATE', 12_000);
/** A signature is good for 300 s after its timestamp (AUTH_LIMITS): past this run length, sign on the fly. */
const PRESIGNED_RUN_S_MAX = 240;
const MERCHANTS = 16;
const PAYER_ID = 'U0001'; // has a balance account in the sample chart
const PAYER_FUNDS_MINOR = 1_000_000_000_000n;
const PATH = '/v1/payments';
const SAMPLE_EVERY = 997; // every so many 201 bodies are parsed and compared field by field
const DRAIN_TIMEOUT_MS = 15_000;
const CHILD_READY_TIMEOUT_MS = 60_000;
const TARGET_PAYMENTS_PER_S = 8_000;
const TARGET_P99_MS = 25;
const TARGET_RATIO = 0.3;
const CLOCK_TICKS_PER_S = 100; // USER_HZ of /proc/<pid>/stat on Linux

const log = (line: string): void => {
  (JSON_OUT ? process.stderr : process.stdout).write(`${line}\n`);
};

type ScenarioName = 'bare' | 'card' | 'card-risk' | 'balance' | 'card-sim';
type Product = 'foreign_card' | 'balance';

interface Scenario {
  readonly name: ScenarioName;
  readonly label: string;
  readonly server: 'bare' | 'daemon';
  readonly product: Product;
  readonly sim: boolean;
  /** The journal entry each succeeded payment of this product posts. */
  readonly eventType: string | null;
  /** Units of work (group-committed transactions' shares) per request. */
  readonly units: number;
  /** Risk rules and routing rules switched on (every request carries a device and an IP). */
  readonly risk?: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'bare', label: 'bare fastify route (ceiling)', server: 'bare', product: 'foreign_card', sim: false, eventType: null, units: 0 },
  { name: 'card', label: 'foreign_card, instant channel', server: 'daemon', product: 'foreign_card', sim: false, eventType: 'payment.succeeded', units: 2 },
  { name: 'card-risk', label: 'foreign_card, instant, risk + routing rules', server: 'daemon', product: 'foreign_card', sim: false, eventType: 'payment.succeeded', units: 2, risk: true },
  { name: 'balance', label: 'balance (local, no channel)', server: 'daemon', product: 'balance', sim: false, eventType: 'balance.payment', units: 1 },
  { name: 'card-sim', label: 'foreign_card, channel sim over HTTP', server: 'daemon', product: 'foreign_card', sim: true, eventType: 'payment.succeeded', units: 2 },
];

function chosenScenarios(): Scenario[] {
  if (PROFILE) return SCENARIOS.filter((s) => s.name === 'card');
  const raw = process.env['BENCH_SCENARIOS'];
  if (raw === undefined || raw.trim() === '') return [...SCENARIOS];
  const names = raw.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`BENCH_SCENARIOS: unknown ${unknown.join(', ')}; use ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return SCENARIOS.filter((s) => names.includes(s.name));
}

// ---- messages between the processes ----

interface BenchMerchant {
  readonly merchantId: string;
  readonly keyId: string;
  readonly keySecret: string;
}

interface DaemonSpec {
  readonly dbPath: string;
  readonly instant: boolean;
  readonly simUrl: string;
  readonly merchantCount: number;
  readonly risk: boolean;
}

/**
 * The rules of the card-risk scenario: every kind evaluated on every request, none firing (thresholds
 * above the load), so the figure is the cost of deciding, not of challenges.
 */
const BENCH_RISK = {
  amounts: [{ currency: 'CNY', challenge_over_minor: '100000000', block_over_minor: '1000000000' }],
  velocity: [
    { dimension: 'device', window_s: 600, count_max: 1_000_000, action: 'block' },
    { dimension: 'ip', window_s: 60, amount_max_minor: '100000000000', action: 'challenge' },
  ],
  block_list: { ip: ['203.0.113.9'], device: ['stolen-1'] },
  merchant_daily: [{ merchant: '*', currency: 'CNY', amount_max_minor: '100000000000000' }],
};

interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly product: Product;
  readonly payerId: string | null;
  readonly risk: boolean;
  readonly merchants: readonly BenchMerchant[];
  readonly runTag: string;
  readonly pregenerate: number;
  /** The bare route checks nothing: cycle through the signed requests instead of signing more. */
  readonly reuse: boolean;
  /** Compare sampled bodies with the request (the bare route answers a constant). */
  readonly matchBodies: boolean;
}

interface WindowStats {
  /** process.hrtime at the window's start and end, in µs: the clock of a --cpu-prof profile's timestamps. */
  readonly monotonicStartUs: number;
  readonly monotonicEndUs: number;
  readonly eventLoopUtilization: number;
  readonly groupCommit: { readonly batches: number; readonly units: number; readonly batchSizeMax: number } | null;
}

type ChildMessage =
  | { readonly type: 'ready'; readonly url: string; readonly merchants?: readonly BenchMerchant[] }
  | { readonly type: 'window'; readonly phase: 'start' | 'end' }
  | { readonly type: 'result'; readonly result: LoadResult }
  | { readonly type: 'stopped'; readonly window: WindowStats | null; readonly maxRssKb: number };

type ParentMessage = { readonly type: 'mark'; readonly phase: 'start' | 'end' } | { readonly type: 'stop' };

interface Latency {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

interface LoadResult {
  /** Requests written to a socket, warm-up and drain included. */
  readonly sent: number;
  /** Answers read, warm-up and drain included; equal to sent unless a socket died. */
  readonly answered: number;
  /** Answers completed inside the measured window, and their latency. */
  readonly measured: Latency & { readonly seconds: number; readonly perSecond: number };
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly created201: number;
  /** 201s whose body did not say "status":"succeeded". */
  readonly notSucceeded: number;
  readonly sampled: number;
  readonly sampleFailures: readonly string[];
  readonly nonCreatedExamples: readonly string[];
  readonly socketErrors: number;
  readonly pregenerated: number;
  readonly signUsPerRequest: number;
  readonly signedOnTheFly: number;
  /** CPU of the load generator during the measured window, in % of one core. */
  readonly cpuPct: number;
}

// ---- child processes ----

class Child {
  readonly process: ChildProcess;
  private readonly inbox: ChildMessage[] = [];
  private readonly waiters: { type: ChildMessage['type']; resolve: (m: ChildMessage) => void }[] = [];
  readonly exited: Promise<number | null>;
  onMessage: ((m: ChildMessage) => void) | undefined;

  constructor(
    readonly role: string,
    spec: unknown,
    env: NodeJS.ProcessEnv,
    execArgv: readonly string[] = [],
  ) {
    this.process = spawn(process.execPath, [...execArgv, '--import', 'tsx', SELF, '--role', role], {
      cwd: ROOT,
      env: { ...env, BENCH_CHILD_SPEC: JSON.stringify(spec) },
      stdio: ['ignore', 2, 2, 'ipc'],
    });
    this.exited = new Promise((resolve) => this.process.once('exit', (code) => resolve(code)));
    this.process.on('message', (raw) => {
      const m = raw as ChildMessage;
      this.onMessage?.(m);
      const i = this.waiters.findIndex((w) => w.type === m.type);
      const waiter = i === -1 ? undefined : this.waiters.splice(i, 1)[0];
      if (waiter) waiter.resolve(m);
      else this.inbox.push(m);
    });
  }

  get pid(): number {
    if (this.process.pid === undefined) throw new Error(`${this.role} did not start`);
    return this.process.pid;
  }

  message<T extends ChildMessage['type']>(type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> {
    const i = this.inbox.findIndex((m) => m.type === type);
    const queued = i === -1 ? undefined : this.inbox.splice(i, 1)[0];
    if (queued) return Promise.resolve(queued as Extract<ChildMessage, { type: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.role}: no "${type}" message within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${this.role} exited (${String(code)}) before sending "${type}"`));
      });
      this.waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<ChildMessage, { type: T }>);
        },
      });
    });
  }

  send(message: ParentMessage): void {
    if (this.process.connected) this.process.send(message);
  }

  /** Asks the child to stop gracefully; returns what it reported. */
  async stop(timeoutMs = 30_000): Promise<Extract<ChildMessage, { type: 'stopped' }>> {
    this.send({ type: 'stop' });
    const stopped = await this.message('stopped', timeoutMs);
    await this.exited;
    return stopped;
  }

  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
  }
}

function childSpec<T>(): T {
  const raw = process.env['BENCH_CHILD_SPEC'];
  if (raw === undefined) throw new Error('BENCH_CHILD_SPEC is missing: roles are started by the orchestrator');
  return JSON.parse(raw) as T;
}

function sendToParent(message: ChildMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('no IPC channel to the orchestrator'));
    process.send(message, undefined, {}, (e) => (e ? reject(e) : resolve()));
  });
}

/** Waits for the orchestrator's stop, runs `close`, reports, and exits (writing a --cpu-prof profile on the way). */
function serveUntilStopped(close: () => Promise<void>, windowStats: () => WindowStats | null, onMark: (phase: 'start' | 'end') => void): void {
  process.on('disconnect', () => process.exit(1)); // the orchestrator died: do not linger
  process.on('message', (raw) => {
    const m = raw as ParentMessage;
    if (m.type === 'mark') return onMark(m.phase);
    void (async () => {
      await close();
      await sendToParent({ type: 'stopped', window: windowStats(), maxRssKb: process.resourceUsage().maxRSS });
      process.exit(0);
    })();
  });
}

type GroupCommitCounters = { readonly batches: number; readonly units: number; readonly batchSizeMax: number };

/** What a server process measures of itself between the orchestrator's two marks. */
function windowMarker(groupCommit: () => GroupCommitCounters | null): { stats: () => WindowStats | null; onMark: (phase: 'start' | 'end') => void } {
  const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);
  let startUs = 0;
  let elu = performance.eventLoopUtilization();
  let gcAtStart: GroupCommitCounters | null = null;
  let window: WindowStats | null = null;
  return {
    stats: () => window,
    onMark: (phase) => {
      if (phase === 'start') {
        startUs = monotonicUs();
        elu = performance.eventLoopUtilization();
        const gc = groupCommit();
        gcAtStart = gc && { ...gc };
        return;
      }
      const gc = groupCommit();
      window = {
        monotonicStartUs: startUs,
        monotonicEndUs: monotonicUs(),
        eventLoopUtilization: performance.eventLoopUtilization(elu).utilization,
        groupCommit: gc && gcAtStart ? { batches: gc.batches - gcAtStart.batches, units: gc.units - gcAtStart.units, batchSizeMax: gc.batchSizeMax } : null,
      };
    },
  };
}

// ---- role: daemon ----

async function daemonRole(): Promise<void> {
  const spec = childSpec<DaemonSpec>();
  const base = loadConfig().online;
  const parsed = spec.risk ? parseOnlineConfig({ ...base, risk: BENCH_RISK, routing: { rules: [{ kind: 'weight', channel: 'bank', weight: 120 }] } }) : undefined;
  if (parsed && !parsed.ok) throw new Error(parsed.error.message);
  const config = parsed?.ok ? parsed.value : base;
  const env = process.env;
  const daemon = await startDaemon({
    dbPath: spec.dbPath,
    config,
    port: 0,
    env,
    logger: false,
    synchronous: 'FULL',
    // BENCH_GROUP_COMMIT_MAX=1 measures the baseline group commit beats: one commit per unit of work.
    ...(process.env['BENCH_GROUP_COMMIT_MAX'] ? { groupCommitBatchMax: Number.parseInt(process.env['BENCH_GROUP_COMMIT_MAX'], 10) } : {}),
    channels: () => buildChannels(config, { simUrl: spec.simUrl, env, instant: spec.instant }),
  });
  const merchants: BenchMerchant[] = [];
  for (let i = 0; i < spec.merchantCount; i++) {
    const issued = await daemon.merchants.addMerchant({ name: `Bench shop ${i + 1}`, products: ['foreign_card', 'balance'] }, Date.now());
    if (issued.keySecret === undefined) throw new Error('an HMAC merchant was issued without a secret');
    merchants.push({ merchantId: issued.merchantId, keyId: issued.keyId, keySecret: issued.keySecret });
  }
  const mark = windowMarker(() => daemon.store.groupCommitStats);
  serveUntilStopped(() => daemon.close(), mark.stats, mark.onMark);
  await sendToParent({ type: 'ready', url: daemon.url, merchants });
}

// ---- role: bare route, channel simulator ----

async function bareRole(): Promise<void> {
  const bare = await startBareRoute({ port: 0, bodyLimitBytes: loadConfig().online.body_limit_bytes });
  const mark = windowMarker(() => null);
  serveUntilStopped(() => bare.close(), mark.stats, mark.onMark);
  await sendToParent({ type: 'ready', url: bare.url });
}

async function simRole(): Promise<void> {
  const spec = childSpec<{ dbPath: string }>();
  const sim = await startChannelSim({ dbPath: spec.dbPath, port: 0, seed: 'bench', env: process.env });
  serveUntilStopped(
    () => sim.close(),
    () => null,
    () => undefined,
  );
  await sendToParent({ type: 'ready', url: sim.url });
}

// ---- role: load generator ----

interface Prepared {
  readonly buffer: Buffer;
  readonly merchantOrderNo: string;
  readonly amountMinor: number;
}

/** A signed POST /v1/payments as bytes on the wire: fresh nonce, Idempotency-Key and order number per index. */
function requestMaker(spec: LoadSpec, hostHeader: string): (i: number) => Prepared {
  return (i) => {
    const merchant = spec.merchants[i % spec.merchants.length];
    if (!merchant) throw new Error('no merchants');
    const merchantOrderNo = `${spec.runTag}-${i}`;
    const amountMinor = 1_000 + (i % 97) * 100; // ends in 00: never one of the simulator's magic amounts
    const body: Record<string, unknown> = { merchant_order_no: merchantOrderNo, product: spec.product, amount: amountMinor, currency: 'CNY' };
    if (spec.payerId !== null) body['payer_id'] = spec.payerId;
    if (spec.risk) {
      body['device_id'] = `dev-${i % 5000}`;
      body['client_ip'] = `10.0.${(i >> 8) & 255}.${i & 255}`;
    }
    const raw = Buffer.from(JSON.stringify(body));
    const signed = signRequestHeaders({
      keyId: merchant.keyId,
      key: { scheme: 'hmac', secret: merchant.keySecret },
      method: 'POST',
      pathWithQuery: PATH,
      rawBody: raw,
      timestampS: Date.now() / 1000,
      nonce: `${spec.runTag}n${i.toString(36).padStart(10, '0')}`,
    });
    let head = `POST ${PATH} HTTP/1.1\r\nhost: ${hostHeader}\r\ncontent-type: application/json\r\ncontent-length: ${raw.length}\r\nidempotency-key: ${spec.runTag}-k${i}\r\n`;
    for (const [name, value] of Object.entries(signed)) head += `${name.toLowerCase()}: ${value}\r\n`;
    return { buffer: Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), raw]), merchantOrderNo, amountMinor };
  };
}

const HEADER_END = Buffer.from('\r\n\r\n');
const SUCCEEDED = Buffer.from('"status":"succeeded"');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

/** One HTTP/1.1 response at the start of `buf`, or undefined until it is complete (content-length only). */
function parseResponse(buf: Buffer): { status: number; body: Buffer; end: number } | undefined {
  const headerEnd = buf.indexOf(HEADER_END);
  if (headerEnd === -1) return undefined;
  const head = buf.toString('latin1', 0, headerEnd);
  const status = Number(head.slice(9, 12));
  const length = CONTENT_LENGTH.exec(head);
  if (!length) {
    if (/\r\ntransfer-encoding:/i.test(head)) throw new Error('a chunked response: the load generator reads content-length bodies only');
  }
  const end = headerEnd + 4 + (length ? Number(length[1]) : 0);
  if (buf.length < end) return undefined;
  return { status, body: buf.subarray(headerEnd + 4, end), end };
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

async function loadgenRole(): Promise<void> {
  process.on('disconnect', () => process.exit(1)); // the orchestrator died: do not linger
  const spec = childSpec<LoadSpec>();
  const target = new URL(spec.url);
  const make = requestMaker(spec, target.host);

  // Sign before the run, timing it: what signing on the fly would take from the generator's core.
  const signStart = performance.now();
  const pool: Prepared[] = [];
  for (let i = 0; i < spec.pregenerate; i++) pool.push(make(i));
  if (pool.length === 0) for (let i = 0; i < 500; i++) make(Number.MAX_SAFE_INTEGER - i); // timing only, never sent
  const signUsPerRequest = ((performance.now() - signStart) * 1000) / Math.max(500, pool.length);
  let nextIndex = 0;
  let signedOnTheFly = 0;
  const take = (): Prepared => {
    const i = nextIndex++;
    if (i < pool.length) return pool[i] as Prepared;
    if (spec.reuse) return pool[i % pool.length] as Prepared;
    signedOnTheFly += 1;
    return make(i);
  };

  let latencies = new Float64Array(Math.max(1024, spec.pregenerate));
  let measuredCount = 0;
  let latencySumMs = 0;
  const statusCounts: Record<string, number> = {};
  let created201 = 0;
  let notSucceeded = 0;
  let sampled = 0;
  const sampleFailures: string[] = [];
  const nonCreatedExamples: string[] = [];
  let sent = 0;
  let answered = 0;
  let socketErrors = 0;

  const startMs = performance.now();
  const windowStartMs = startMs + spec.warmupMs;
  const windowEndMs = windowStartMs + spec.measureMs;
  let stopping = false;
  let cpuAtStart = process.cpuUsage();
  let cpuPct = 0;

  const record = (request: Prepared, status: number, body: Buffer, sentAtMs: number, nowMs: number): void => {
    answered += 1;
    statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    if (nowMs >= windowStartMs && nowMs < windowEndMs) {
      if (measuredCount === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      const ms = nowMs - sentAtMs;
      latencies[measuredCount++] = ms;
      latencySumMs += ms;
    }
    if (status !== 201) {
      if (nonCreatedExamples.length < 5) nonCreatedExamples.push(`${status} ${body.toString('utf8', 0, Math.min(body.length, 300))}`);
      return;
    }
    created201 += 1;
    if (body.indexOf(SUCCEEDED) === -1) notSucceeded += 1;
    if (created201 % SAMPLE_EVERY !== 1) return;
    sampled += 1;
    const view = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const problems: string[] = [];
    if (view['object'] !== 'payment') problems.push(`object ${String(view['object'])}`);
    if (view['status'] !== 'succeeded') problems.push(`status ${String(view['status'])}`);
    if (spec.matchBodies) {
      if (view['merchant_order_no'] !== request.merchantOrderNo) problems.push(`merchant_order_no ${String(view['merchant_order_no'])} ≠ ${request.merchantOrderNo}`);
      if (view['amount'] !== request.amountMinor) problems.push(`amount ${String(view['amount'])} ≠ ${request.amountMinor}`);
      if (view['product'] !== spec.product) problems.push(`product ${String(view['product'])}`);
      if (typeof view['id'] !== 'string' || !String(view['id']).startsWith('pay_')) problems.push(`id ${String(view['id'])}`);
    }
    if (problems.length > 0 && sampleFailures.length < 5) sampleFailures.push(problems.join('; '));
  };

  const sockets = new Set<net.Socket>();
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let inFlight = 0;
  const maybeDone = (): void => {
    if (stopping && inFlight === 0) finish();
  };

  const open = (): void => {
    const socket = net.connect({ host: target.hostname, port: Number(target.port), noDelay: true });
    sockets.add(socket);
    let pending: Buffer | undefined;
    let current: Prepared | undefined;
    let sentAtMs = 0;
    const sendNext = (): void => {
      if (stopping) return maybeDone();
      current = take();
      sentAtMs = performance.now();
      inFlight += 1;
      sent += 1;
      socket.write(current.buffer);
    };
    socket.on('connect', sendNext);
    socket.on('data', (chunk: Buffer) => {
      pending = pending ? Buffer.concat([pending, chunk]) : chunk;
      const response = parseResponse(pending);
      if (!response) return;
      if (!current) throw new Error('an answer to no request');
      const nowMs = performance.now();
      record(current, response.status, response.body, sentAtMs, nowMs);
      pending = response.end < pending.length ? pending.subarray(response.end) : undefined;
      current = undefined;
      inFlight -= 1;
      sendNext();
    });
    socket.on('error', () => undefined); // counted on close
    socket.on('close', () => {
      sockets.delete(socket);
      if (current) {
        inFlight -= 1;
        current = undefined;
      }
      if (!stopping) {
        socketErrors += 1;
        open();
      } else maybeDone();
    });
  };

  setTimeout(() => {
    cpuAtStart = process.cpuUsage();
    void sendToParent({ type: 'window', phase: 'start' });
  }, Math.max(0, windowStartMs - performance.now()));
  setTimeout(() => {
    const cpu = process.cpuUsage(cpuAtStart);
    cpuPct = ((cpu.user + cpu.system) / 1000 / spec.measureMs) * 100;
    stopping = true;
    void sendToParent({ type: 'window', phase: 'end' });
    maybeDone();
  }, Math.max(0, windowEndMs - performance.now()));
  for (let i = 0; i < spec.connections; i++) open();

  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, spec.warmupMs + spec.measureMs + DRAIN_TIMEOUT_MS))]);
  for (const s of sockets) s.destroy();

  const sorted = latencies.slice(0, measuredCount).sort();
  const seconds = spec.measureMs / 1000;
  const result: LoadResult = {
    sent,
    answered,
    measured: {
      seconds,
      count: measuredCount,
      perSecond: measuredCount / seconds,
      meanMs: measuredCount === 0 ? 0 : latencySumMs / measuredCount,
      p50Ms: percentile(sorted, 0.5),
      p90Ms: percentile(sorted, 0.9),
      p99Ms: percentile(sorted, 0.99),
      maxMs: sorted.length === 0 ? 0 : (sorted[sorted.length - 1] ?? 0),
    },
    statusCounts,
    created201,
    notSucceeded,
    sampled,
    sampleFailures,
    nonCreatedExamples,
    socketErrors,
    pregenerated: pool.length,
    signUsPerRequest,
    signedOnTheFly,
    cpuPct,
  };
  await sendToParent({ type: 'result', result });
  process.exit(0);
}

// ---- the orchestrator: /proc sampling ----

function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** utime + stime of a process, in seconds (Linux /proc); null elsewhere. */
function procCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}

interface Watched {
  readonly name: string;
  readonly child: Child;
}

interface WatchReport {
  /** CPU during the measured window, in % of one core. */
  readonly cpuPct: Record<string, number | null>;
  /** Highest resident set seen during the measured window (sampled every 100 ms), in MiB. */
  readonly peakRssMiB: Record<string, number | null>;
}

async function runLoad(spec: LoadSpec, watched: readonly Watched[]): Promise<{ result: LoadResult; watch: WatchReport }> {
  const loadgen = new Child('loadgen', spec, process.env);
  const cpuAtStart = new Map<string, number | null>();
  const cpuPct: Record<string, number | null> = {};
  const peakKb = new Map<string, number | null>(watched.map((w) => [w.name, null]));
  let sampler: NodeJS.Timeout | undefined;
  let windowStartMs = 0;
  const sample = (): void => {
    for (const w of watched) {
      const kb = procStatusKb(w.child.pid, 'VmRSS');
      if (kb !== null) peakKb.set(w.name, Math.max(kb, peakKb.get(w.name) ?? 0));
    }
  };
  loadgen.onMessage = (m) => {
    if (m.type !== 'window') return;
    for (const w of watched) w.child.send({ type: 'mark', phase: m.phase });
    if (m.phase === 'start') {
      windowStartMs = performance.now();
      for (const w of watched) cpuAtStart.set(w.name, procCpuSeconds(w.child.pid));
      sample();
      sampler = setInterval(sample, 100);
    } else {
      clearInterval(sampler);
      sample();
      const seconds = (performance.now() - windowStartMs) / 1000;
      for (const w of watched) {
        const before = cpuAtStart.get(w.name);
        const after = procCpuSeconds(w.child.pid);
        cpuPct[w.name] = before === null || before === undefined || after === null ? null : ((after - before) / seconds) * 100;
      }
    }
  };
  try {
    const { result } = await loadgen.message('result', spec.warmupMs + spec.measureMs + DRAIN_TIMEOUT_MS + CHILD_READY_TIMEOUT_MS * 2);
    await loadgen.exited;
    const peakRssMiB = Object.fromEntries([...peakKb].map(([name, kb]) => [name, kb === null ? null : kb / 1024]));
    return { result, watch: { cpuPct, peakRssMiB } };
  } finally {
    clearInterval(sampler);
    loadgen.kill();
  }
}

// ---- the orchestrator: setting up and checking a daemon's database ----

function todayIn(timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

/** The ledger as `settle init` leaves it (sample chart, today's business day), and the payer funded. */
async function prepareLedger(dbPath: string): Promise<void> {
  const config = loadConfig();
  const store = SqliteLedgerStore.open(dbPath, { create: true, synchronous: 'FULL' });
  try {
    const ledger = new Ledger(store);
    await ledger.initialise(config.chart, todayIn(config.timezone));
    const funded = await ledger.post({
      type: 'entry',
      id: 'bench-payer-funding',
      eventType: 'balance.topup',
      memo: `benchmark: fund ${PAYER_ID} for balance payments`,
      postings: [
        { accountId: 'bank:ICBC-RESERVE:reserve:CNY', side: 'debit', amountMinor: PAYER_FUNDS_MINOR, currency: 'CNY' },
        { accountId: `user:${PAYER_ID}:balance:CNY`, side: 'credit', amountMinor: PAYER_FUNDS_MINOR, currency: 'CNY' },
      ],
    });
    if (!funded.ok) throw new Error(`funding the payer failed: ${funded.code}: ${funded.message}`);
  } finally {
    await store.close();
  }
}

interface DatabaseCheck {
  readonly verifyOk: boolean;
  readonly verifyProblem: unknown;
  readonly entriesChecked: number;
  readonly entriesByEvent: Record<string, number>;
  readonly paymentsByStatus: Record<string, number>;
  readonly nonceRows: number;
}

async function checkDatabase(dbPath: string): Promise<DatabaseCheck> {
  const store = SqliteLedgerStore.open(dbPath);
  try {
    const report = await new Ledger(store).verify();
    const byKey = (sql: string): Record<string, number> =>
      Object.fromEntries((store.db.prepare(sql).all() as { k: string; n: bigint }[]).map((r) => [r.k, Number(r.n)]));
    return {
      verifyOk: report.ok,
      verifyProblem: report.problem,
      entriesChecked: report.entriesChecked,
      entriesByEvent: byKey('SELECT event_type AS k, COUNT(*) AS n FROM entries GROUP BY event_type'),
      paymentsByStatus: byKey('SELECT status AS k, COUNT(*) AS n FROM payments GROUP BY status'),
      nonceRows: Number(store.db.prepare('SELECT COUNT(*) FROM merchant_nonces').pluck().get() as bigint),
    };
  } finally {
    await store.close();
  }
}

// ---- the orchestrator: one scenario ----

interface Figure {
  readonly scenario: ScenarioName;
  readonly label: string;
  readonly product: Product;
  readonly unitsPerRequest: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly measuredRequests: number;
  readonly seconds: number;
  /** Answers other than 201, and requests without an answer (a socket died): both must be 0. */
  readonly non2xx: number;
  readonly errors: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly created201: number;
  readonly server: {
    readonly cpuPct: number | null;
    readonly peakRssMiB: number | null;
    readonly lifetimePeakRssMiB: number;
    readonly eventLoopUtilization: number | null;
    /** The measured window on the server's monotonic clock (to cut its --cpu-prof profile). */
    readonly windowUs: { readonly startUs: number; readonly endUs: number } | null;
  };
  readonly sim: { readonly cpuPct: number | null; readonly peakRssMiB: number | null } | null;
  readonly loadgen: { readonly cpuPct: number; readonly pregenerated: number; readonly signedOnTheFly: number; readonly signUsPerRequest: number };
  readonly groupCommit: { readonly batches: number; readonly units: number; readonly meanBatchSize: number; readonly batchSizeMax: number } | null;
  readonly bodies: { readonly notSucceeded: number; readonly sampled: number; readonly sampleFailures: readonly string[]; readonly nonCreatedExamples: readonly string[] };
  readonly database: (DatabaseCheck & { readonly journalMatches201: boolean; readonly paymentsMatch201: boolean }) | null;
  readonly ratioToBare: number | null;
}

function runTagFor(scenario: ScenarioName): string {
  return `${scenario.replace(/[^a-z]/g, '')}${randomBytes(3).toString('hex')}`;
}

function loadSpec(scenario: Scenario, url: string, merchants: readonly BenchMerchant[]): LoadSpec {
  const seconds = WARMUP_S + MEASURE_S;
  return {
    url,
    connections: CONNECTIONS,
    warmupMs: WARMUP_S * 1000,
    measureMs: MEASURE_S * 1000,
    product: scenario.product,
    payerId: scenario.product === 'balance' ? PAYER_ID : null,
    risk: scenario.risk === true,
    merchants,
    runTag: runTagFor(scenario.name),
    // The bare route cycles through a small set; the daemon gets a fresh request each time.
    pregenerate: scenario.server === 'bare' ? 50_000 : seconds > PRESIGNED_RUN_S_MAX ? 0 : PREGEN_RATE_PER_S * seconds + CONNECTIONS * 2,
    reuse: scenario.server === 'bare',
    matchBodies: scenario.server === 'daemon',
  };
}

function figureOf(scenario: Scenario, result: LoadResult, watch: WatchReport, stopped: Extract<ChildMessage, { type: 'stopped' }>): Omit<Figure, 'database' | 'ratioToBare' | 'sim'> {
  const non2xx = Object.entries(result.statusCounts).reduce((sum, [status, n]) => (status.startsWith('2') ? sum : sum + n), 0);
  const gc = stopped.window?.groupCommit ?? null;
  return {
    scenario: scenario.name,
    label: scenario.label,
    product: scenario.product,
    unitsPerRequest: scenario.units,
    perSecond: result.measured.perSecond,
    p50Ms: result.measured.p50Ms,
    p90Ms: result.measured.p90Ms,
    p99Ms: result.measured.p99Ms,
    maxMs: result.measured.maxMs,
    meanMs: result.measured.meanMs,
    measuredRequests: result.measured.count,
    seconds: result.measured.seconds,
    non2xx,
    errors: result.socketErrors + (result.sent - result.answered) + result.notSucceeded + result.sampleFailures.length,
    statusCounts: result.statusCounts,
    created201: result.created201,
    server: {
      cpuPct: watch.cpuPct['server'] ?? null,
      peakRssMiB: watch.peakRssMiB['server'] ?? null,
      lifetimePeakRssMiB: stopped.maxRssKb / 1024,
      eventLoopUtilization: stopped.window?.eventLoopUtilization ?? null,
      windowUs: stopped.window ? { startUs: stopped.window.monotonicStartUs, endUs: stopped.window.monotonicEndUs } : null,
    },
    loadgen: { cpuPct: result.cpuPct, pregenerated: result.pregenerated, signedOnTheFly: result.signedOnTheFly, signUsPerRequest: result.signUsPerRequest },
    groupCommit: gc && { batches: gc.batches, units: gc.units, meanBatchSize: gc.batches === 0 ? 0 : gc.units / gc.batches, batchSizeMax: gc.batchSizeMax },
    bodies: { notSucceeded: result.notSucceeded, sampled: result.sampled, sampleFailures: result.sampleFailures, nonCreatedExamples: result.nonCreatedExamples },
  };
}

async function runBare(scenario: Scenario): Promise<Figure> {
  const server = new Child('bare', {}, process.env);
  try {
    const ready = await server.message('ready', CHILD_READY_TIMEOUT_MS);
    const { result, watch } = await runLoad(loadSpec(scenario, ready.url, syntheticMerchants()), [{ name: 'server', child: server }]);
    const stopped = await server.stop();
    return { ...figureOf(scenario, result, watch, stopped), sim: null, database: null, ratioToBare: 1 };
  } finally {
    server.kill();
  }
}

/** The bare route checks no signature; it gets requests of the same shape signed with made-up keys. */
function syntheticMerchants(): BenchMerchant[] {
  return Array.from({ length: MERCHANTS }, (_, i) => ({ merchantId: `M${100_001 + i}`, keyId: `key_${randomBytes(10).toString('hex')}`, keySecret: `sk_${randomBytes(32).toString('hex')}` }));
}

async function runDaemon(scenario: Scenario, profileDir: string | undefined): Promise<Figure> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'settle-online-bench-'));
  const children: Child[] = [];
  try {
    const dbPath = path.join(dir, 'settle.db');
    await prepareLedger(dbPath);
    const env = { ...process.env, SETTLE_MASTER_KEY: randomBytes(32).toString('hex') };
    let simUrl = 'http://127.0.0.1:9'; // unused with instant channels
    let sim: Child | undefined;
    if (scenario.sim) {
      sim = new Child('sim', { dbPath: path.join(dir, 'sim.db') }, env);
      children.push(sim);
      simUrl = (await sim.message('ready', CHILD_READY_TIMEOUT_MS)).url;
    }
    const execArgv = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', '250'] : [];
    const daemonSpec: DaemonSpec = { dbPath, instant: !scenario.sim, simUrl, merchantCount: MERCHANTS, risk: scenario.risk === true };
    const daemon = new Child('daemon', daemonSpec, env, execArgv);
    children.push(daemon);
    const ready = await daemon.message('ready', CHILD_READY_TIMEOUT_MS);
    if (!ready.merchants) throw new Error('the daemon sent no merchants');
    const watched: Watched[] = [{ name: 'server', child: daemon }, ...(sim ? [{ name: 'sim', child: sim }] : [])];
    const { result, watch } = await runLoad(loadSpec(scenario, ready.url, ready.merchants), watched);
    const stopped = await daemon.stop();
    if (sim) await sim.stop();
    log(`  ${scenario.name}: verifying the ledger …`);
    const db = await checkDatabase(dbPath);
    const journal = scenario.eventType === null ? 0 : (db.entriesByEvent[scenario.eventType] ?? 0);
    const figure: Figure = {
      ...figureOf(scenario, result, watch, stopped),
      sim: sim ? { cpuPct: watch.cpuPct['sim'] ?? null, peakRssMiB: watch.peakRssMiB['sim'] ?? null } : null,
      database: {
        ...db,
        journalMatches201: journal === result.created201,
        paymentsMatch201: (db.paymentsByStatus['succeeded'] ?? 0) === result.created201 && Object.keys(db.paymentsByStatus).every((s) => s === 'succeeded'),
      },
      ratioToBare: null,
    };
    return figure;
  } finally {
    for (const c of children) c.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the orchestrator: the profile ----

interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

interface ProfileLine {
  readonly name: string;
  readonly selfPct: number;
  readonly totalPct: number;
}

interface ProfileSummary {
  readonly file: string;
  readonly sampledMs: number;
  readonly idlePct: number;
  readonly byFunctionSelf: readonly ProfileLine[];
  readonly byFunctionTotal: readonly ProfileLine[];
  readonly byModuleSelf: readonly ProfileLine[];
}

function frameLocation(url: string): string {
  if (url === '') return '';
  const clean = url.replace(/^file:\/\//, '');
  const nm = clean.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = clean.slice(nm + '/node_modules/'.length).split('/');
    const pkg = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? '');
    return `${pkg}/${rest[rest.length - 1] ?? ''}`;
  }
  if (clean.startsWith(ROOT)) return clean.slice(ROOT.length + 1);
  return clean;
}

function moduleOf(frame: CpuProfileNode['callFrame']): string {
  if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const loc = frameLocation(frame.url);
  if (frame.url.startsWith('node:')) return frame.url;
  if (frame.url.includes('/node_modules/')) return `npm:${loc.split('/').slice(0, loc.startsWith('@') ? 2 : 1).join('/')}`;
  return loc;
}

/**
 * Self and inclusive time per function, and self time per module, in % of the sampled time between
 * fromUs and toUs (the measured window, on the profile's monotonic clock): start-up and shutdown are left out.
 */
function summariseProfile(file: string, window: { readonly fromUs: number; readonly toUs: number } | null): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  // tsx hands V8 whitespace-minified code, so line numbers of src/ files mean nothing: an anonymous function
  // is named after the nearest named caller in the same file instead.
  const keyOf = (n: CpuProfileNode): string => {
    const f = n.callFrame;
    const loc = frameLocation(f.url);
    const fromSrc = loc.startsWith('src/') || loc.startsWith('bench/');
    let name = f.functionName;
    if (name === '' && fromSrc) {
      let up = byId.get(parentOf.get(n.id) ?? -1);
      while (up && up.callFrame.url === f.url && up.callFrame.functionName === '') up = byId.get(parentOf.get(up.id) ?? -1);
      name = up && up.callFrame.url === f.url ? `(anonymous in ${up.callFrame.functionName})` : '(anonymous)';
    }
    return `${name || '(anonymous)'}${loc ? ` ${loc}${fromSrc ? '' : `:${f.lineNumber + 1}`}` : ''}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const modules = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, us: number): void => {
    m.set(k, (m.get(k) ?? 0) + us);
  };
  let sampledUs = 0;
  let idleUs = 0;
  let atUs = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time from the previous sample to sample i; sample i stands for the time until the next.
    atUs += profile.timeDeltas[i] ?? 0;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (window && (atUs < window.fromUs || atUs >= window.toUs)) continue;
    const node = byId.get(profile.samples[i] ?? -1);
    if (!node || dt <= 0) continue;
    sampledUs += dt;
    if (node.callFrame.functionName === '(idle)') idleUs += dt;
    add(self, keyOf(node), dt);
    add(modules, moduleOf(node.callFrame), dt);
    const seen = new Set<string>();
    for (let cur: CpuProfileNode | undefined = node; cur; cur = byId.get(parentOf.get(cur.id) ?? -1)) {
      const key = keyOf(cur);
      if (!seen.has(key)) add(total, key, dt);
      seen.add(key);
    }
  }
  const pct = (us: number | undefined): number => (sampledUs === 0 || us === undefined ? 0 : (us / sampledUs) * 100);
  const sorted = (m: Map<string, number>): string[] => [...m].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const line = (name: string): ProfileLine => ({ name, selfPct: pct(self.get(name)), totalPct: pct(total.get(name)) });
  return {
    file,
    sampledMs: sampledUs / 1000,
    idlePct: pct(idleUs),
    byFunctionSelf: sorted(self).slice(0, 40).map(line),
    byFunctionTotal: sorted(total)
      .filter((name) => !/^\((root|program|idle)\)/.test(name))
      .slice(0, 80)
      .map(line),
    byModuleSelf: sorted(modules)
      .slice(0, 30)
      .map((name) => ({ name, selfPct: pct(modules.get(name)), totalPct: pct(modules.get(name)) })),
  };
}

// ---- the orchestrator: main ----

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function printTable(figures: readonly Figure[]): void {
  const head = ['scenario', 'units', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors', 'srv CPU', 'srv ELU', 'srv RSS MiB', 'gen CPU', 'vs bare'];
  const pctOrDash = (v: number | null | undefined, scale = 1): string => (v === null || v === undefined ? '–' : `${fmt(v * scale)}%`);
  const rows = figures.map((f) => [
    f.scenario,
    f.scenario === 'bare' ? '–' : String(f.unitsPerRequest),
    fmt(f.perSecond),
    fmt(f.p50Ms, 2),
    fmt(f.p90Ms, 2),
    fmt(f.p99Ms, 2),
    fmt(f.maxMs, 1),
    fmt(f.non2xx),
    fmt(f.errors),
    pctOrDash(f.server.cpuPct),
    pctOrDash(f.server.eventLoopUtilization, 100),
    f.server.peakRssMiB === null ? '–' : fmt(f.server.peakRssMiB),
    pctOrDash(f.loadgen.cpuPct),
    f.ratioToBare === null ? '–' : f.ratioToBare.toFixed(3),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
}

function printProfile(summary: ProfileSummary): void {
  console.log('');
  console.log(`profile  ${summary.file}`);
  console.log(`         ${fmt(summary.sampledMs)} ms sampled in the daemon, ${summary.idlePct.toFixed(1)}% idle`);
  const show = (title: string, lines: readonly ProfileLine[], n: number, by: 'self' | 'total'): void => {
    console.log('');
    console.log(`${title}`);
    for (const l of lines.slice(0, n)) console.log(`  ${(by === 'self' ? l.selfPct : l.totalPct).toFixed(1).padStart(5)}%  ${by === 'self' ? '' : `(self ${l.selfPct.toFixed(1)}%)  `}${l.name}`);
  };
  show('self time by module', summary.byModuleSelf, 25, 'self');
  show('self time by function', summary.byFunctionSelf, 35, 'self');
  show('inclusive time by function', summary.byFunctionTotal, 60, 'total');
}

async function main(): Promise<void> {
  const scenarios = chosenScenarios();
  const loadBefore = os.loadavg()[0] ?? 0;
  const profileDir = PROFILE ? mkdtempSync(path.join(os.tmpdir(), 'settle-online-profile-')) : undefined;
  log(
    `settle online benchmark: POST ${PATH}, ${CONNECTIONS} connections, ${WARMUP_S} s warm-up + ${MEASURE_S} s measured per run, ` +
      `scenarios ${scenarios.map((s) => s.name).join(', ')}${PROFILE ? ' (daemon under --cpu-prof)' : ''}`,
  );
  const figures: Figure[] = [];
  for (const scenario of scenarios) {
    log(`  ${scenario.name}: ${scenario.label} …`);
    const figure = scenario.server === 'bare' ? await runBare(scenario) : await runDaemon(scenario, profileDir);
    log(`  ${scenario.name}: ${fmt(figure.perSecond)} req/s, p50 ${fmt(figure.p50Ms, 2)} ms, p99 ${fmt(figure.p99Ms, 2)} ms, non-2xx ${figure.non2xx}, errors ${figure.errors}`);
    figures.push(figure);
  }
  const bare = figures.find((f) => f.scenario === 'bare');
  const withRatios = figures.map((f) => ({ ...f, ratioToBare: f.scenario === 'bare' ? 1 : bare ? f.perSecond / bare.perSecond : null }));

  let profile: ProfileSummary | undefined;
  if (profileDir) {
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`the daemon wrote no profile into ${profileDir}`);
    const kept = path.join(os.tmpdir(), `settle-online-daemon-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
    copyFileSync(path.join(profileDir, file), kept);
    rmSync(profileDir, { recursive: true, force: true });
    const w = withRatios.find((f) => f.scenario === 'card')?.server.windowUs ?? null;
    profile = summariseProfile(kept, w && { fromUs: w.startUs, toUs: w.endUs });
  }

  // Correctness first: a fast wrong answer is no figure.
  const problems: string[] = [];
  for (const f of withRatios) {
    if (f.non2xx > 0) problems.push(`${f.scenario}: ${f.non2xx} answers were not 2xx (${JSON.stringify(f.statusCounts)}; e.g. ${f.bodies.nonCreatedExamples[0] ?? ''})`);
    if (f.errors > 0) problems.push(`${f.scenario}: ${f.errors} errors (unanswered, dead sockets, bodies not succeeded: ${JSON.stringify(f.bodies)})`);
    if (f.database && !f.database.verifyOk) problems.push(`${f.scenario}: ledger verify failed: ${JSON.stringify(f.database.verifyProblem)}`);
    if (f.database && !f.database.journalMatches201) problems.push(`${f.scenario}: journal ${JSON.stringify(f.database.entriesByEvent)} ≠ ${f.created201} 201s`);
    if (f.database && !f.database.paymentsMatch201) problems.push(`${f.scenario}: payments ${JSON.stringify(f.database.paymentsByStatus)} ≠ ${f.created201} 201s`);
  }

  const card = withRatios.find((f) => f.scenario === 'card');
  const targets = {
    paymentsPerSecond: TARGET_PAYMENTS_PER_S,
    p99Ms: TARGET_P99_MS,
    ratioToBare: TARGET_RATIO,
    rateMet: card ? card.perSecond >= TARGET_PAYMENTS_PER_S : null,
    p99Met: card ? card.p99Ms <= TARGET_P99_MS : null,
    ratioMet: card && card.ratioToBare !== null ? card.ratioToBare >= TARGET_RATIO : null,
  };
  const machine = machineOf(loadBefore);
  const date = new Date().toISOString();
  const config = { connections: CONNECTIONS, warmupSeconds: WARMUP_S, measuredSeconds: MEASURE_S, merchants: MERCHANTS, synchronous: 'FULL', journalMode: 'WAL', profiled: PROFILE };

  if (JSON_OUT) {
    process.stdout.write(`${JSON.stringify({ benchmark: 'online', date, machine, config, figures: withRatios, targets, problems, profile: profile ?? null })}\n`);
  } else {
    console.log('');
    console.log(`date     ${date}`);
    console.log(`machine  ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}`);
    console.log(
      `load     1-min load average ${machine.loadavg.before} before, ${machine.loadavg.after} after` +
        (machine.loadavg.before > machine.cores / 2 ? ' — the machine was busy before the run: figures are noisy' : ''),
    );
    console.log(
      `setup    POST ${PATH}, ${CONNECTIONS} keep-alive connections, 1 request in flight each, ${WARMUP_S} s warm-up + ${MEASURE_S} s measured, ` +
        `${MERCHANTS} merchants, HMAC-signed, synchronous=FULL, WAL, files in ${machine.tmpdir}${PROFILE ? ', daemon under --cpu-prof (slower)' : ''}`,
    );
    console.log('');
    printTable(withRatios);
    console.log('');
    console.log('units = the payment\'s group-committed units of work (the nonce adds one); srv = the server process (daemon or bare route); ELU = its event-loop utilisation;');
    console.log('gen = the load generator; CPU in % of one core over the measured window; RSS = peak resident set during the window.');
    for (const f of withRatios) {
      const gc = f.groupCommit ? `group commit ${fmt(f.groupCommit.batches)} batches, ${f.groupCommit.meanBatchSize.toFixed(1)} units/batch (max ${f.groupCommit.batchSizeMax}); ` : '';
      const sim = f.sim ? `simulator CPU ${f.sim.cpuPct === null ? '–' : fmt(f.sim.cpuPct)}%, RSS ${f.sim.peakRssMiB === null ? '–' : fmt(f.sim.peakRssMiB)} MiB; ` : '';
      const db = f.database
        ? `ledger verify ${f.database.verifyOk ? 'ok' : 'FAILED'} (${fmt(f.database.entriesChecked)} entries), ${f.scenario === 'balance' ? 'balance.payment' : 'payment.succeeded'} entries ${f.database.journalMatches201 ? '=' : '≠'} ${fmt(f.created201)} 201s`
        : `${fmt(f.created201)} 201s`;
      console.log(`${f.scenario.padEnd(8)} ${gc}${sim}${db}; ${f.bodies.sampled} bodies compared field by field`);
    }
    const signer = withRatios.find((f) => f.scenario !== 'bare') ?? withRatios[0];
    if (signer) {
      console.log(
        `signing  ${signer.loadgen.signUsPerRequest.toFixed(1)} µs per request in the load generator (pre-signed ${fmt(signer.loadgen.pregenerated)}, signed on the fly ${fmt(signer.loadgen.signedOnTheFly)})`,
      );
    }
    if (card) {
      const met = (v: boolean | null): string => (v === null ? 'n/a' : v ? 'met' : 'MISSED');
      console.log(
        `target   foreign_card ≥ ${fmt(TARGET_PAYMENTS_PER_S)} payments/s: ${met(targets.rateMet)}; p99 ≤ ${TARGET_P99_MS} ms: ${met(targets.p99Met)}; ≥ ${TARGET_RATIO} of the bare route: ${met(targets.ratioMet)}`,
      );
    }
    if (profile) printProfile(profile);
  }
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`PROBLEM  ${p}\n`);
    process.exitCode = 1;
  }
}

switch (ROLE) {
  case undefined:
    await main();
    break;
  case 'daemon':
    await daemonRole();
    break;
  case 'bare':
    await bareRole();
    break;
  case 'sim':
    await simRole();
    break;
  case 'loadgen':
    await loadgenRole();
    break;
  default:
    throw new Error(`unknown --role ${ROLE}`);
}
