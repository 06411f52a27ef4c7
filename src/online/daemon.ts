// `settle serve`: one process that opens the database (ledger, orders and merchants on one connection),
// connects the channels, serves the API, runs recovery, and shuts down gracefully — in-flight requests
// finish, the group-commit queue is flushed, then the file is closed.

import { dirname, resolve } from 'node:path';
import { Ledger } from '../ledger/index.js';
import { velocityHorizonMs } from './risk/config.js';
import { RiskRuntime } from './risk/runtime.js';
import { fileSms, logSms, type SmsPort } from './risk/sms.js';
import { ChannelHealth } from './routing/health.js';
import { openSqlite, type SynchronousMode } from '../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../ledger/sqlite/store.js';
import type { ChannelPort } from './channels/port.js';
import type { OnlineConfig } from './config.js';
import { apiFailure } from './errors.js';
import { MerchantStore } from './merchants/store.js';
import { createNotifications } from './notify/wiring.js';
import { authenticate, type NonceStore } from './merchants/signing.js';
import type { OnlineStore } from './port.js';
import { recoverOnce, startRecoveryLoop } from './payments/recovery.js';
import type { Caller } from './payments/service.js';
import { buildServer, type Authenticator } from './server.js';
import { SqliteOnlineStore } from './sqlite/store.js';
import { startStatementsSftp } from './statements/sftp.js';
import { SqliteSftpKeyStore } from './statements/sftp-keys.js';

/** Pending connections the kernel queues for accept (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

export interface DaemonOptions {
  readonly dbPath: string;
  readonly config: OnlineConfig;
  readonly port: number;
  readonly host?: string;
  /** Builds the channel adapters (the simulator's HTTP adapter by default; see channels/registry.ts). */
  readonly channels: () => ReadonlyMap<string, ChannelPort>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger?: boolean | Record<string, unknown>;
  readonly synchronous?: SynchronousMode;
  readonly recoveryIntervalMs?: number;
  readonly recoveryStaleAfterMs?: number;
  /** Units per group-commit transaction (default 256); 1 = one commit per unit, the baseline it beats. */
  readonly groupCommitBatchMax?: number;
  /** Serve merchants' statements read-only over SFTP on this port (statements/sftp.ts). */
  readonly statementsSftp?: { readonly port: number; readonly hostKeyPem: string };
}

export interface Daemon {
  readonly url: string;
  readonly store: SqliteOnlineStore;
  readonly ledger: Ledger;
  readonly merchants: MerchantStore;
  /** The statements SFTP server's port, when started. */
  readonly statementsSftpPort: number | null;
  close(): Promise<void>;
}

/**
 * The daemon's nonce store: the check is made in memory (atomic in this single writer process, and
 * loaded from the database at start, so a restart forgets nothing), and the row is written in the next
 * group-committed transaction without holding the request back. A request whose unit of work is refused
 * keeps its nonce: the signature does not cover the Idempotency-Key, so a refused request must not be
 * replayable under another key.
 */
export function memoryFirstNonces(merchants: MerchantStore, store: OnlineStore, nowMs: number, log: (e: Error) => void): NonceStore {
  const live = new Map<string, number>();
  for (const n of merchants.liveNonces(nowMs)) live.set(`${n.keyId}\u0000${n.nonce}`, n.expiresAtMs);
  let prunedAtMs = nowMs;
  return {
    remember: async (keyId, nonce, seenAtMs, expiresAtMs) => {
      if (seenAtMs - prunedAtMs > 60_000) {
        for (const [k, until] of live) if (until < seenAtMs) live.delete(k);
        prunedAtMs = seenAtMs;
      }
      const key = `${keyId}\u0000${nonce}`;
      if (live.has(key)) return false;
      live.set(key, expiresAtMs);
      store.unit(() => merchants.rememberNonceSync(keyId, nonce, seenAtMs, expiresAtMs)).catch(log);
      return true;
    },
  };
}

export function merchantAuthenticator(merchants: MerchantStore, clock: () => number, nonces: NonceStore = merchants.nonceStore): Authenticator {
  return async (request): Promise<Caller | ReturnType<typeof apiFailure>> => {
    const result = await authenticate(request, { nowMs: clock(), keys: merchants.keyLookup, nonces });
    if (!result.ok) return { ok: false, code: result.code, httpStatus: result.httpStatus, message: result.message };
    const products = merchants.productsOf(result.merchantId);
    if (!products) return apiFailure('not_found', 'The merchant of this key no longer exists.');
    return { merchantId: result.merchantId, products };
  };
}

/**
 * The routing and risk state of a daemon: breakers (their transitions saved for `settle channel status`),
 * today's channel usage and the risk velocity windows, both rebuilt from the database at start.
 */
async function routingAndRisk(
  store: SqliteOnlineStore,
  options: DaemonOptions,
  log: (event: Record<string, unknown>) => void,
): Promise<{ health: ChannelHealth; risk: RiskRuntime; sms: SmsPort }> {
  const config = options.config;
  const health = new ChannelHealth(config, Date.now, (rows) => {
    store.saveChannelHealth(rows).catch((e: unknown) => log({ event: 'channel_health_save_failed', error: (e as Error).message }));
  });
  const day = await store.read((tx) => tx.openDay());
  health.seedUsage(day, await store.channelUsage(day));
  await store.saveChannelHealth(health.snapshot());
  const risk = new RiskRuntime(config);
  const horizonMs = velocityHorizonMs(config.risk);
  risk.seed(await store.riskDecisionsSince(Date.now() - Math.max(horizonMs, 86_400_000), RISK_RELOAD_ROWS_MAX), day);
  const smsFile = config.risk.otp.sms_file ?? options.env['SETTLE_SMS_FILE'];
  const sms = smsFile ? fileSms(resolve(dirname(options.dbPath), smsFile)) : logSms(log);
  return { health, risk, sms };
}

/** A bound on the decisions read back at start to rebuild the velocity windows. */
const RISK_RELOAD_ROWS_MAX = 2_000_000;

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const db = openSqlite(options.dbPath, { synchronous: options.synchronous ?? 'FULL' });
  const ledgerStore = SqliteLedgerStore.attach(db, options.dbPath);
  const store = new SqliteOnlineStore(db, ledgerStore, options.groupCommitBatchMax === undefined ? {} : { batchMax: options.groupCommitBatchMax });
  const merchants = MerchantStore.open(db, { env: options.env, dbPath: options.dbPath, defaultProducts: options.config.default_products });
  const host = options.host ?? '127.0.0.1';
  let url = `http://${host}:${options.port}`;
  const channels = options.channels();
  const { health, risk, sms } = await routingAndRisk(store, options, (event) => console.error(JSON.stringify(event)));
  const { app, metrics } = buildServer({
    health,
    risk,
    sms,
    store,
    config: options.config,
    channels,
    authenticate: merchantAuthenticator(merchants, Date.now, memoryFirstNonces(merchants, store, Date.now(), (e) => app.log.error({ err: e }, 'nonce write failed'))),
    publicUrl: () => url,
    logger: options.logger ?? true,
    statementsDir: resolve(dirname(options.dbPath), options.config.statements_dir),
  });
  // A deep accept queue: a burst of merchants' connections (a flash sale, a retry storm after an outage)
  // waits to be accepted instead of overflowing Node's default of 511 and being dropped or reset.
  await app.listen({ port: options.port, host, backlog: LISTEN_BACKLOG });
  const address = app.server.address();
  if (typeof address === 'object' && address) url = `http://${host}:${address.port}`;
  const ledger = new Ledger(ledgerStore);
  const stopRecovery = startRecoveryLoop(
    () =>
      recoverOnce(store, channels, Date.now(), {
        // Never query an order whose own channel call may still be waiting for its answer.
        staleAfterMs: options.recoveryStaleAfterMs ?? Math.max(...options.config.channels.map((c) => c.timeout_ms), 0) + 5_000,
        batchMax: 200,
        config: options.config,
        expireHolds: async () => (await ledger.expireHolds()).filter((r) => r.ok).length,
      }),
    options.recoveryIntervalMs ?? 5_000,
    (r) => (r instanceof Error ? app.log.error({ err: r }, 'recovery failed') : app.log.info({ recovery: r }, 'recovery pass')),
  );
  // Merchant notifications and internal events (notify/): started after listen, stopped first on close.
  const notifications = options.config.notify.in_daemon
    ? createNotifications({
        db,
        unit: (work) => store.unit(() => work()),
        merchants,
        config: options.config.notify,
        dbPath: options.dbPath,
        env: options.env,
        log: (level, message, fields) => app.log[level](fields ?? {}, message),
        onOutcome: (outcome) => metrics.countNotification(outcome),
      })
    : undefined;
  notifications?.dispatcher.start();
  const sftpKeys = options.statementsSftp && SqliteSftpKeyStore.open(db);
  const statementsSftp =
    options.statementsSftp && sftpKeys
      ? await startStatementsSftp({ dir: resolve(dirname(options.dbPath), options.config.statements_dir), host, port: options.statementsSftp.port, hostKeyPem: options.statementsSftp.hostKeyPem, keysOf: (m) => sftpKeys.keysOf(m), log: (e) => app.log.info({ statementsSftp: e }) })
      : undefined;
  let closing: Promise<void> | undefined;
  return {
    url,
    store,
    ledger,
    merchants,
    statementsSftpPort: statementsSftp?.port ?? null,
    close() {
      closing ??= (async () => {
        await statementsSftp?.close();
        await notifications?.close();
        await stopRecovery();
        // Stop accepting and let in-flight requests finish; keep-alive sockets that go idle after their
        // last answer are closed as they do (fastify keeps them 72 s otherwise).
        const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
        try {
          await app.close();
        } finally {
          clearInterval(sweep);
        }
        await store.drain();
        db.close();
      })();
      return closing;
    },
  };
}
