// The SQLite adapter of the notification store port (src/online/notify/port.ts). Delivery state lives in
// its own tables (module "notify" in schema_migrations); the outbox it reads is the online module's.
//
// Writes run as units: inside the daemon they join the online store's group-committed transactions
// (pass `unit`), alone (`settle dispatch`, `settle notify`) they get a group committer of their own.
// Claims are leases (claimed_until_ms) written in a write transaction before anything is sent, so two
// dispatchers on one database never send the same attempt, and a crashed one's claims expire.

import type { SqliteConnection, SqliteStatement } from '../../ledger/sqlite/database.js';
import { migrateModule } from '../../ledger/sqlite/database.js';
import { GroupCommitter } from '../../ledger/sqlite/group-commit.js';
import { NOTIFY_LIMITS } from '../notify/config.js';
import type { OutboxRow } from '../notify/event.js';
import type { AttemptRecord, ClaimedDelivery, DeliveryFilter, DeliveryRecord, DeliveryState, FinishedAttempt, NewDelivery, NotifyStore } from '../notify/port.js';
import { migrateOnline } from './store.js';

export const NOTIFY_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE notify_deliveries (
    event_seq          INTEGER PRIMARY KEY,
    merchant_id        TEXT NOT NULL,
    topic              TEXT NOT NULL,
    aggregate_id       TEXT NOT NULL,
    url                TEXT NOT NULL,
    body               TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    round_failures     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER,
    claimed_until_ms   INTEGER,
    claim_token        TEXT,
    last_http_status   INTEGER,
    last_error         TEXT,
    created_at_ms      INTEGER NOT NULL,
    updated_at_ms      INTEGER NOT NULL,
    delivered_at_ms    INTEGER,
    CHECK ((state = 'pending') = (next_attempt_at_ms IS NOT NULL)),
    CHECK ((claimed_until_ms IS NULL) = (claim_token IS NULL))
  ) STRICT;
  CREATE INDEX notify_due ON notify_deliveries (next_attempt_at_ms, event_seq) WHERE state = 'pending';
  CREATE INDEX notify_claimed ON notify_deliveries (claimed_until_ms, merchant_id) WHERE claimed_until_ms IS NOT NULL;
  CREATE INDEX notify_by_merchant ON notify_deliveries (merchant_id, state, event_seq);
  CREATE INDEX notify_by_state ON notify_deliveries (state, event_seq);

  CREATE TABLE notify_attempts (
    event_seq     INTEGER NOT NULL REFERENCES notify_deliveries(event_seq),
    attempt_no    INTEGER NOT NULL,
    started_at_ms INTEGER NOT NULL,
    ended_at_ms   INTEGER NOT NULL,
    http_status   INTEGER,
    error         TEXT,
    detail        TEXT,
    PRIMARY KEY (event_seq, attempt_no)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE notify_leases (
    name     TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    until_ms INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
];

export type Unit = <T>(work: () => T) => Promise<T>;

export interface SqliteNotifyStoreOptions {
  /** Runs a write unit in a transaction and resolves after COMMIT (the daemon passes its group commit). */
  readonly unit?: Unit;
}

type Row = Record<string, unknown>;
const num = (v: unknown): number => Number(v as bigint);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v as bigint));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : (v as string));

const DELIVERY_COLUMNS =
  'event_seq, merchant_id, topic, aggregate_id, url, state, attempts, round_failures, next_attempt_at_ms, claimed_until_ms, last_http_status, last_error, created_at_ms, updated_at_ms, delivered_at_ms';

function toDelivery(r: Row): DeliveryRecord {
  return {
    eventSeq: num(r['event_seq']),
    merchantId: r['merchant_id'] as string,
    topic: r['topic'] as string,
    aggregateId: r['aggregate_id'] as string,
    url: r['url'] as string,
    state: r['state'] as DeliveryState,
    attempts: num(r['attempts']),
    roundFailures: num(r['round_failures']),
    nextAttemptAtMs: numOrNull(r['next_attempt_at_ms']),
    claimedUntilMs: numOrNull(r['claimed_until_ms']),
    lastHttpStatus: numOrNull(r['last_http_status']),
    lastError: strOrNull(r['last_error']),
    createdAtMs: num(r['created_at_ms']),
    updatedAtMs: num(r['updated_at_ms']),
    deliveredAtMs: numOrNull(r['delivered_at_ms']),
  };
}

const OUTBOX_LEASE = 'outbox';
// The hot queries name their index (INDEXED BY): on a young database without statistics SQLite would
// otherwise scan every delivery by merchant or by state and sort, on every claim.

export class SqliteNotifyStore implements NotifyStore {
  private readonly db: SqliteConnection;
  private readonly unit: Unit;
  private readonly committer: GroupCommitter | undefined;
  private readonly statements = new Map<string, SqliteStatement>();

  constructor(db: SqliteConnection, options: SqliteNotifyStoreOptions = {}) {
    migrateOnline(db);
    migrateModule(db, 'notify', NOTIFY_MIGRATIONS);
    this.db = db;
    if (options.unit) {
      this.unit = options.unit;
    } else {
      const committer = new GroupCommitter(db);
      this.committer = committer;
      this.unit = (work) => committer.run(work);
    }
  }

  /** Resolves when every write queued on this store's own committer is committed. */
  drain(): Promise<void> {
    return this.committer?.drain() ?? Promise.resolve();
  }

  private stmt(key: string, sql: string): SqliteStatement {
    let s = this.statements.get(key);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(key, s);
    }
    return s;
  }

  // ---- moving the outbox ----

  async hasUndelivered(): Promise<boolean> {
    return this.stmt('hasUndelivered', 'SELECT 1 FROM outbox WHERE delivered_at_ms IS NULL LIMIT 1').get() !== undefined;
  }

  takeOutbox(owner: string, nowMs: number, leaseMs: number, limit: number): Promise<readonly OutboxRow[] | null> {
    const lease = this.stmt(
      'lease',
      `INSERT INTO notify_leases (name, owner, until_ms) VALUES (@name, @owner, @until)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms
       WHERE notify_leases.owner = excluded.owner OR notify_leases.until_ms <= @now`,
    );
    const rows = this.stmt(
      'outboxRows',
      'SELECT seq, topic, aggregate_id, merchant_id, payload, created_at_ms FROM outbox WHERE delivered_at_ms IS NULL ORDER BY seq LIMIT ?',
    );
    return this.unit(() => {
      if (lease.run({ name: OUTBOX_LEASE, owner, until: nowMs + leaseMs, now: nowMs }).changes !== 1) return null;
      return (rows.all(limit) as Row[]).map(
        (r): OutboxRow => ({
          seq: num(r['seq']),
          topic: r['topic'] as string,
          aggregateId: r['aggregate_id'] as string,
          merchantId: strOrNull(r['merchant_id']),
          payloadJson: r['payload'] as string,
          createdAtMs: num(r['created_at_ms']),
        }),
      );
    });
  }

  async notifyUrls(paymentIds: readonly string[], merchantIds: readonly string[]): Promise<{ payments: Map<string, string | null>; merchants: Map<string, string | null> }> {
    const payment = this.stmt('paymentUrl', 'SELECT notify_url FROM payments WHERE payment_id = ?');
    const merchant = this.stmt('merchantUrl', 'SELECT notify_url FROM merchants WHERE merchant_id = ?');
    const payments = new Map<string, string | null>();
    const merchants = new Map<string, string | null>();
    for (const id of new Set(paymentIds)) payments.set(id, strOrNull((payment.get(id) as Row | undefined)?.['notify_url']));
    for (const id of new Set(merchantIds)) merchants.set(id, strOrNull((merchant.get(id) as Row | undefined)?.['notify_url']));
    return { payments, merchants };
  }

  commitIngest(seqs: readonly number[], deliveries: readonly NewDelivery[], nowMs: number): Promise<void> {
    const insert = this.stmt(
      'insertDelivery',
      `INSERT INTO notify_deliveries (event_seq, merchant_id, topic, aggregate_id, url, body, state, next_attempt_at_ms, created_at_ms, updated_at_ms)
       VALUES (@seq, @merchant, @topic, @aggregate, @url, @body, 'pending', @now, @now, @now) ON CONFLICT (event_seq) DO NOTHING`,
    );
    const mark = this.stmt('markDelivered', 'UPDATE outbox SET delivered_at_ms = ? WHERE seq = ? AND delivered_at_ms IS NULL');
    return this.unit(() => {
      for (const d of deliveries) {
        insert.run({ seq: d.eventSeq, merchant: d.merchantId, topic: d.topic, aggregate: d.aggregateId, url: d.url, body: d.body, now: nowMs });
      }
      for (const seq of seqs) mark.run(nowMs, seq);
    });
  }

  releaseOutboxLease(owner: string): Promise<void> {
    const release = this.stmt('releaseLease', 'DELETE FROM notify_leases WHERE name = ? AND owner = ?');
    return this.unit(() => void release.run(OUTBOX_LEASE, owner));
  }

  // ---- delivering ----

  claimDue(o: { nowMs: number; leaseUntilMs: number; tokenPrefix: string; limit: number; perMerchantMax: number }): Promise<readonly ClaimedDelivery[]> {
    const busy = this.stmt('busy', 'SELECT merchant_id, COUNT(*) AS n FROM notify_deliveries INDEXED BY notify_claimed WHERE claimed_until_ms > ? GROUP BY merchant_id');
    const due = this.stmt(
      'due',
      `SELECT event_seq, merchant_id FROM notify_deliveries INDEXED BY notify_due
       WHERE state = 'pending' AND next_attempt_at_ms <= @now AND (claimed_until_ms IS NULL OR claimed_until_ms <= @now)
         AND merchant_id NOT IN (SELECT value FROM json_each(@full))
       ORDER BY next_attempt_at_ms, event_seq LIMIT @scan`,
    );
    const claim = this.stmt(
      'claim',
      `UPDATE notify_deliveries SET claimed_until_ms = @until, claim_token = @token, attempts = attempts + 1, updated_at_ms = @now
       WHERE event_seq = @seq RETURNING merchant_id, url, body, attempts, round_failures`,
    );
    return this.unit(() => {
      if (o.limit <= 0) return [];
      const inFlight = new Map<string, number>();
      for (const r of busy.all(o.nowMs) as Row[]) inFlight.set(r['merchant_id'] as string, num(r['n']));
      const full = [...inFlight].filter(([, n]) => n >= o.perMerchantMax).map(([m]) => m);
      const picked: number[] = [];
      // Iterated, not fetched: the scan stops as soon as enough rows are picked.
      for (const r of due.iterate({ now: o.nowMs, full: JSON.stringify(full), scan: NOTIFY_LIMITS.claimScanMax }) as IterableIterator<Row>) {
        const merchant = r['merchant_id'] as string;
        const n = inFlight.get(merchant) ?? 0;
        if (n >= o.perMerchantMax) continue;
        inFlight.set(merchant, n + 1);
        picked.push(num(r['event_seq']));
        if (picked.length >= o.limit) break;
      }
      return picked.map((seq): ClaimedDelivery => {
        const claimToken = `${o.tokenPrefix}:${seq}`;
        const r = claim.get({ until: o.leaseUntilMs, token: claimToken, now: o.nowMs, seq }) as Row;
        return {
          eventSeq: seq,
          merchantId: r['merchant_id'] as string,
          url: r['url'] as string,
          body: r['body'] as string,
          attemptNo: num(r['attempts']),
          roundFailures: num(r['round_failures']),
          claimToken,
        };
      });
    });
  }

  releaseClaims(claims: readonly { eventSeq: number; claimToken: string }[]): Promise<void> {
    const release = this.stmt(
      'release',
      'UPDATE notify_deliveries SET claimed_until_ms = NULL, claim_token = NULL, attempts = attempts - 1 WHERE event_seq = ? AND claim_token = ?',
    );
    return this.unit(() => {
      for (const c of claims) release.run(c.eventSeq, c.claimToken);
    });
  }

  finishAttempt(a: FinishedAttempt): Promise<void> {
    const attempt = this.stmt(
      'insertAttempt',
      `INSERT INTO notify_attempts (event_seq, attempt_no, started_at_ms, ended_at_ms, http_status, error, detail)
       VALUES (@seq, @no, @started, @ended, @status, @error, @detail) ON CONFLICT DO NOTHING`,
    );
    const update = this.stmt(
      'finish',
      `UPDATE notify_deliveries SET state = @state, next_attempt_at_ms = @next, round_failures = @rf, claimed_until_ms = NULL, claim_token = NULL,
         last_http_status = @status, last_error = @error, updated_at_ms = @ended,
         delivered_at_ms = CASE WHEN @state = 'succeeded' THEN @ended ELSE delivered_at_ms END
       WHERE event_seq = @seq AND claim_token = @token`,
    );
    const prune = this.stmt('pruneAttempts', 'DELETE FROM notify_attempts WHERE event_seq = ? AND attempt_no <= ?');
    return this.unit(() => {
      attempt.run({ seq: a.eventSeq, no: a.attemptNo, started: a.startedAtMs, ended: a.endedAtMs, status: a.httpStatus, error: a.error, detail: a.detail });
      update.run({ state: a.state, next: a.nextAttemptAtMs, rf: a.roundFailures, status: a.httpStatus, error: a.error, ended: a.endedAtMs, seq: a.eventSeq, token: a.claimToken });
      if (a.attemptNo > NOTIFY_LIMITS.attemptsKeptMax) prune.run(a.eventSeq, a.attemptNo - NOTIFY_LIMITS.attemptsKeptMax);
    });
  }

  async nextAttemptAfter(afterMs: number): Promise<number | undefined> {
    const next = this.stmt('nextAfter', "SELECT MIN(next_attempt_at_ms) AS t FROM notify_deliveries INDEXED BY notify_due WHERE state = 'pending' AND next_attempt_at_ms > ?").get(afterMs) as Row;
    const lease = this.stmt('leaseAfter', 'SELECT MIN(claimed_until_ms) AS t FROM notify_deliveries INDEXED BY notify_claimed WHERE claimed_until_ms > ?').get(afterMs) as Row;
    const times = [numOrNull(next['t']), numOrNull(lease['t'])].filter((t) => t !== null);
    return times.length === 0 ? undefined : Math.min(...times);
  }

  // ---- the operator ----

  async listDeliveries(filter: DeliveryFilter): Promise<readonly DeliveryRecord[]> {
    const where = [filter.merchantId !== undefined ? 'merchant_id = @merchant' : null, filter.state !== undefined ? 'state = @state' : null].filter((w) => w !== null);
    const sql = `SELECT ${DELIVERY_COLUMNS} FROM notify_deliveries ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY event_seq DESC LIMIT @limit`;
    const rows = this.stmt(`list:${where.join(',')}`, sql).all({
      ...(filter.merchantId !== undefined ? { merchant: filter.merchantId } : {}),
      ...(filter.state !== undefined ? { state: filter.state } : {}),
      limit: filter.limit,
    }) as Row[];
    return rows.map(toDelivery);
  }

  async delivery(eventSeq: number): Promise<{ delivery: DeliveryRecord; attempts: readonly AttemptRecord[] } | undefined> {
    const r = this.stmt('delivery', `SELECT ${DELIVERY_COLUMNS} FROM notify_deliveries WHERE event_seq = ?`).get(eventSeq) as Row | undefined;
    if (!r) return undefined;
    const attempts = (
      this.stmt('attempts', 'SELECT attempt_no, started_at_ms, ended_at_ms, http_status, error, detail FROM notify_attempts WHERE event_seq = ? ORDER BY attempt_no').all(eventSeq) as Row[]
    ).map(
      (a): AttemptRecord => ({
        attemptNo: num(a['attempt_no']),
        startedAtMs: num(a['started_at_ms']),
        endedAtMs: num(a['ended_at_ms']),
        httpStatus: numOrNull(a['http_status']),
        error: strOrNull(a['error']),
        detail: strOrNull(a['detail']),
      }),
    );
    return { delivery: toDelivery(r), attempts };
  }

  requeueFailed(o: { eventSeq?: number; merchantId?: string; nowMs: number; limit: number }): Promise<readonly number[]> {
    const filters = [o.eventSeq !== undefined ? 'event_seq = @seq' : null, o.merchantId !== undefined ? 'merchant_id = @merchant' : null].filter((w) => w !== null);
    const requeue = this.stmt(
      `requeue:${filters.join(',')}`,
      `UPDATE notify_deliveries SET state = 'pending', next_attempt_at_ms = @now, round_failures = 0, updated_at_ms = @now
       WHERE event_seq IN (SELECT event_seq FROM notify_deliveries WHERE state = 'failed' ${filters.map((f) => `AND ${f}`).join(' ')} ORDER BY event_seq LIMIT @limit)
       RETURNING event_seq`,
    );
    return this.unit(() =>
      (
        requeue.all({
          now: o.nowMs,
          limit: o.limit,
          ...(o.eventSeq !== undefined ? { seq: o.eventSeq } : {}),
          ...(o.merchantId !== undefined ? { merchant: o.merchantId } : {}),
        }) as Row[]
      )
        .map((r) => num(r['event_seq']))
        .sort((a, b) => a - b),
    );
  }
}
