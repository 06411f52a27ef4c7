// Puts a dispatcher together on an open database: the SQLite store (sharing the daemon's group commit
// when given its unit), the sink of the config, the HTTP sender and the secrets. Used by `settle serve`
// (inside the daemon) and `settle dispatch` (alone).

import type { SqliteConnection } from '../../ledger/sqlite/database.js';
import type { MerchantStore } from '../merchants/store.js';
import { SqliteNotifyStore, type Unit } from '../sqlite/notify-store.js';
import type { NotifyConfig } from './config.js';
import { Dispatcher, type DeliveryOutcome, type DispatchLog } from './dispatcher.js';
import { createHttpSender } from './http.js';
import type { Scheduler } from './scheduler.js';
import { cachedSecrets, readConfiguredSecrets, requireConfiguredSecrets, secretLookup } from './secrets.js';
import { createSink } from './sink.js';

/** How long a merchant's signing secret is remembered: a rotated key signs notifications within this. */
const SECRET_CACHE_MS = 1_000;

export interface NotifyWiring {
  readonly db: SqliteConnection;
  /** The daemon's group-committed unit; without it the store commits on its own. */
  readonly unit?: Unit;
  readonly merchants: MerchantStore;
  readonly config: NotifyConfig;
  readonly dbPath: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where the stdout sink writes (default process.stdout). */
  readonly stdout?: (text: string) => void;
  readonly scheduler?: Scheduler;
  readonly log?: DispatchLog;
  readonly onOutcome?: (outcome: DeliveryOutcome) => void;
  /**
   * Refuse to start when a configured secret cannot be read (notify_secret_unavailable) — for
   * `settle dispatch`. The daemon instead logs it and keeps serving payments: that merchant's
   * notifications fail with notify_secret_missing until it is fixed.
   */
  readonly strictSecrets?: boolean;
}

export interface Notifications {
  readonly dispatcher: Dispatcher;
  readonly store: SqliteNotifyStore;
  /** Stops the dispatcher (in-flight notifications finish or are interrupted), closes the sender. */
  close(waitMs?: number): Promise<void>;
}

export function createNotifications(w: NotifyWiring): Notifications {
  let configured: ReadonlyMap<string, string>;
  if (w.strictSecrets) {
    configured = requireConfiguredSecrets(w.config, w.env);
  } else {
    const read = readConfiguredSecrets(w.config, w.env);
    for (const p of read.problems) w.log?.('error', `notification secret of ${p.merchantId} unavailable: ${p.message}`, { merchant_id: p.merchantId });
    configured = read.secrets;
  }
  const store = new SqliteNotifyStore(w.db, w.unit ? { unit: w.unit } : {});
  const sender = createHttpSender({ allowPrivateNetworks: w.config.allow_private_networks });
  const dispatcher = new Dispatcher({
    store,
    sink: createSink(w.config.sink, { dbPath: w.dbPath, stdout: w.stdout ?? ((t) => void process.stdout.write(t)) }),
    send: sender.send,
    secretOf: cachedSecrets(
      secretLookup(w.config, configured, (merchantId) => w.merchants.notificationSecretSync(merchantId)),
      SECRET_CACHE_MS,
      () => Date.now(),
    ),
    config: w.config,
    ...(w.scheduler ? { scheduler: w.scheduler } : {}),
    ...(w.log ? { log: w.log } : {}),
    ...(w.onOutcome ? { onOutcome: w.onOutcome } : {}),
  });
  return {
    dispatcher,
    store,
    async close(waitMs) {
      await (waitMs === undefined ? dispatcher.stop() : dispatcher.stop(waitMs));
      sender.close();
      await store.drain();
    },
  };
}
