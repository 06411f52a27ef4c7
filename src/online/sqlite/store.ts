// The SQLite adapter of the online store port. It shares the ledger's connection, so an order change,
// its journal entry and its outbox row commit together; units of many requests share one transaction
// through the group committer. Rows map to records by name: snake_case columns, camelCase fields;
// `*_minor` columns are bigint, `*_ms` columns are numbers.

import { ACCOUNT_FLAGS, availableOnNormalSide, balanceOnNormalSide, type AccountSpec, type LedgerCommand, type PostResult } from '../../ledger/index.js';
import type { SqliteConnection, SqliteStatement } from '../../ledger/sqlite/database.js';
import { migrateModule } from '../../ledger/sqlite/database.js';
import { GroupCommitter, type GroupCommitOptions } from '../../ledger/sqlite/group-commit.js';
import type { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import type { ChallengeRecord, ChannelHealthRecord, ChannelUsageRow, IdempotencyState, OnlineStore, OnlineTx, OutboxMessage, RiskDecisionRecord, Table } from '../port.js';
import { ONLINE_MIGRATIONS } from './migrations.js';

type Row = Record<string, unknown>;

/** Name conversions, memoised: they run for every column of every row. */
function memo(f: (s: string) => string): (s: string) => string {
  const seen = new Map<string, string>();
  return (s) => {
    let v = seen.get(s);
    if (v === undefined) seen.set(s, (v = f(s)));
    return v;
  };
}
const snake = memo((s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
const camel = memo((s) => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));

function toRecord<T>(row: Row | undefined): T | undefined {
  if (!row) return undefined;
  const out: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    const key = camel(column);
    if (value !== null && column.endsWith('_ms')) out[key] = Number(value as bigint);
    else out[key] = value;
  }
  return out as T;
}

function toParams(record: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[snake(key)] = value;
  return out;
}

const ID_COLUMN: Record<Table, string> = {
  payments: 'payment_id',
  refunds: 'refund_id',
  preauths: 'preauth_id',
  captures: 'capture_id',
  agreements: 'agreement_id',
  payouts: 'payout_id',
  topups: 'topup_id',
};

export function migrateOnline(db: SqliteConnection): void {
  migrateModule(db, 'online', ONLINE_MIGRATIONS);
}

export class SqliteOnlineStore implements OnlineStore {
  private readonly db: SqliteConnection;
  readonly ledger: SqliteLedgerStore;
  private readonly committer: GroupCommitter;
  private readonly statements = new Map<string, SqliteStatement>();
  private readonly tx: OnlineTx;
  private nowMs = 0;
  /** Ledger accounts known to exist (dropped on any rollback, which may undo an opening). */
  private readonly knownAccounts = new Set<string>();

  private readonly clock: () => number;

  constructor(db: SqliteConnection, ledger: SqliteLedgerStore, options: GroupCommitOptions & { clock?: () => number } = {}) {
    migrateOnline(db);
    this.db = db;
    this.clock = options.clock ?? Date.now;
    this.ledger = ledger;
    // A unit that rolls back may undo ledger postings: the ledger's account cache must go with them.
    this.committer = new GroupCommitter(db, {
      ...options,
      onRollback: () => {
        ledger.invalidateAccountCache();
        this.knownAccounts.clear();
      },
    });
    this.tx = this.makeTx();
  }

  get groupCommitStats(): GroupCommitter['stats'] {
    return this.committer.stats;
  }

  unit<T>(work: (tx: OnlineTx) => T): Promise<T> {
    return this.committer.run(() => {
      this.nowMs = this.clock();
      return work(this.tx);
    });
  }

  async read<T>(work: (tx: OnlineTx) => T): Promise<T> {
    this.nowMs = this.clock();
    return work(this.tx);
  }

  drain(): Promise<void> {
    return this.committer.drain();
  }

  async processing(
    table: 'payments' | 'refunds' | 'preauths' | 'payouts' | 'topups' | 'agreements',
    olderThanMs: number,
    limit: number,
  ): Promise<{ id: string; merchantId: string }[]> {
    const rows = this.stmt(
      `processing:${table}`,
      `SELECT ${ID_COLUMN[table]} AS id, merchant_id FROM ${table} WHERE status = 'processing' AND updated_at_ms <= ? ORDER BY updated_at_ms LIMIT ?`,
    ).all(olderThanMs, limit) as Row[];
    return rows.map((r) => ({ id: r['id'] as string, merchantId: r['merchant_id'] as string }));
  }

  async expiredWaiting(nowMs: number, limit: number): Promise<string[]> {
    const rows = this.stmt(
      'expiredWaiting',
      "SELECT payment_id FROM payments WHERE status IN ('processing', 'requires_verification') AND expires_at_ms IS NOT NULL AND expires_at_ms <= ? LIMIT ?",
    ).all(nowMs, limit) as Row[];
    return rows.map((r) => r['payment_id'] as string);
  }

  async withPendingOp(table: 'payments' | 'preauths', olderThanMs: number, limit: number): Promise<{ id: string; pendingOp: string }[]> {
    const rows = this.stmt(
      `pendingOp:${table}`,
      `SELECT ${ID_COLUMN[table]} AS id, pending_op FROM ${table} WHERE pending_op IS NOT NULL AND updated_at_ms <= ? ORDER BY updated_at_ms LIMIT ?`,
    ).all(olderThanMs, limit) as Row[];
    return rows.map((r) => ({ id: r['id'] as string, pendingOp: r['pending_op'] as string }));
  }

  async expiredPreauths(nowMs: number, limit: number): Promise<string[]> {
    const rows = this.stmt('expiredPreauths', "SELECT preauth_id FROM preauths WHERE status = 'authorized' AND expires_at_ms <= ? LIMIT ?").all(nowMs, limit) as Row[];
    return rows.map((r) => r['preauth_id'] as string);
  }

  async counts(): Promise<Record<string, number>> {
    const rows = this.db.prepare('SELECT status, COUNT(*) AS n FROM payments GROUP BY status').all() as Row[];
    return Object.fromEntries(rows.map((r) => [r['status'] as string, Number(r['n'] as bigint)]));
  }

  async riskDecisionsSince(sinceMs: number, limit: number): Promise<RiskDecisionRecord[]> {
    // The newest `limit` of them (past the limit the oldest are the ones left out), returned oldest first.
    const rows = this.stmt('riskSince', 'SELECT * FROM risk_decisions WHERE created_at_ms >= ? ORDER BY created_at_ms DESC LIMIT ?').all(sinceMs, limit) as Row[];
    return rows.reverse().map((r) => toRecord<RiskDecisionRecord>(r) as RiskDecisionRecord);
  }

  async channelUsage(businessDate: string): Promise<ChannelUsageRow[]> {
    // Today's succeeded payments, and those still open (no business date yet) created in the last day.
    const rows = this.stmt(
      'channelUsage',
      `SELECT channel_id, currency, SUM(amount_minor) AS amount_minor, COUNT(*) AS n FROM payments
       WHERE channel_id IS NOT NULL AND (business_date = ? OR (business_date IS NULL AND status IN ('processing', 'requires_verification') AND created_at_ms >= ?))
       GROUP BY channel_id, currency`,
    ).all(businessDate, this.clock() - 86_400_000) as Row[];
    return rows.map((r) => ({ channelId: r['channel_id'] as string, currency: r['currency'] as string, amountMinor: r['amount_minor'] as bigint, count: Number(r['n'] as bigint) }));
  }

  async saveChannelHealth(rows: readonly ChannelHealthRecord[]): Promise<void> {
    const s = this.stmt(
      'saveHealth',
      `INSERT INTO channel_health (channel_id, state, since_ms, calls, failures, reason, updated_at_ms) VALUES (@channel_id, @state, @since_ms, @calls, @failures, @reason, @updated_at_ms)
       ON CONFLICT (channel_id) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms, calls = excluded.calls, failures = excluded.failures, reason = excluded.reason, updated_at_ms = excluded.updated_at_ms`,
    );
    await this.unit(() => {
      for (const r of rows) s.run(toParams(r as unknown as Record<string, unknown>));
    });
  }

  async channelHealth(): Promise<ChannelHealthRecord[]> {
    return (this.stmt('health', 'SELECT * FROM channel_health ORDER BY channel_id').all() as Row[]).map((r) => toRecord<ChannelHealthRecord>(r) as ChannelHealthRecord);
  }

  private stmt(key: string, sql: string): SqliteStatement {
    let s = this.statements.get(key);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(key, s);
    }
    return s;
  }

  private insert(table: Table, record: object): 'ok' | 'duplicate' {
    const params = toParams(record as Record<string, unknown>);
    const columns = Object.keys(params);
    const s = this.stmt(`insert:${table}:${columns.join(',')}`, `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`);
    try {
      s.run(params);
      return 'ok';
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' || (e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return 'duplicate';
      throw e;
    }
  }

  private select<T>(table: Table, merchantId: string | null, id: string): T | undefined {
    const s = this.stmt(`select:${table}`, `SELECT * FROM ${table} WHERE ${ID_COLUMN[table]} = @id AND (@merchant IS NULL OR merchant_id = @merchant)`);
    return toRecord<T>(s.get({ id, merchant: merchantId }) as Row | undefined);
  }

  private update(table: Table, id: string, from: string, changes: object): boolean {
    const params = toParams(changes as Record<string, unknown>);
    delete params[ID_COLUMN[table]];
    params['updated_at_ms'] = this.nowMs;
    const columns = Object.keys(params);
    const s = this.stmt(
      `update:${table}:${columns.join(',')}`,
      `UPDATE ${table} SET ${columns.map((c) => `${c} = @${c}`).join(', ')} WHERE ${ID_COLUMN[table]} = @__id AND status = @__from`,
    );
    return s.run({ ...params, __id: id, __from: from }).changes === 1;
  }

  private makeTx(): OnlineTx {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const idem = {
      get: this.db.prepare('SELECT request_hash, state, resource_id, http_status, response_body, created_at_ms FROM idempotency_keys WHERE merchant_id = ? AND idem_key = ?'),
      inFlight: this.db.prepare(
        `INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, resource_id, created_at_ms, updated_at_ms)
         VALUES (?, ?, ?, 'in_flight', ?, ?, ?)`,
      ),
      done: this.db.prepare(
        `INSERT INTO idempotency_keys (merchant_id, idem_key, request_hash, state, http_status, response_body, created_at_ms, updated_at_ms)
         VALUES (@merchant, @key, @hash, 'done', @status, @body, @now, @now)
         ON CONFLICT (merchant_id, idem_key) DO UPDATE SET state = 'done', http_status = @status, response_body = @body, updated_at_ms = @now`,
      ),
      resolve: this.db.prepare(
        "UPDATE idempotency_keys SET state = 'done', http_status = ?, response_body = ?, updated_at_ms = ? WHERE state = 'in_flight' AND resource_id = ?",
      ),
    };
    const outbox = this.db.prepare('INSERT INTO outbox (topic, aggregate_id, merchant_id, payload, created_at_ms) VALUES (?, ?, ?, ?, ?)');
    const notification = this.db.prepare('INSERT INTO channel_notifications (channel_id, notification_id, received_at_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
    return {
      get nowMs() {
        return self.nowMs;
      },
      idempotency(merchantId, key, requestHash): IdempotencyState {
        const row = idem.get.get(merchantId, key) as Row | undefined;
        if (!row) return { state: 'new' };
        if (row['request_hash'] !== requestHash) return { state: 'mismatch' };
        if (row['state'] === 'done') return { state: 'replay', httpStatus: Number(row['http_status'] as bigint), body: row['response_body'] as string };
        return { state: 'in_flight', resourceId: (row['resource_id'] as string | null) ?? null, sinceMs: Number(row['created_at_ms'] as bigint) };
      },
      markInFlight(merchantId, key, requestHash, resourceId) {
        idem.inFlight.run(merchantId, key, requestHash, resourceId, self.nowMs, self.nowMs);
      },
      saveResponse(merchantId, key, requestHash, httpStatus, body) {
        idem.done.run({ merchant: merchantId, key, hash: requestHash, status: httpStatus, body, now: self.nowMs });
      },
      resolveInFlight(resourceId, httpStatus, body) {
        idem.resolve.run(httpStatus, body, self.nowMs, resourceId);
      },
      insertPayment: (p) => self.insert('payments', p),
      payment: (m, id) => self.select('payments', m, id),
      paymentByOrderNo: (m, no) =>
        toRecord(self.stmt('paymentByOrderNo', 'SELECT * FROM payments WHERE merchant_id = ? AND merchant_order_no = ?').get(m, no) as Row | undefined),
      updatePayment: (id, from, changes) => self.update('payments', id, from, changes),
      insertRefund: (r) => self.insert('refunds', r),
      refund: (m, id) => self.select('refunds', m, id),
      updateRefund: (id, from, changes) => self.update('refunds', id, from, changes),
      insertPreauth: (p) => self.insert('preauths', p),
      preauth: (m, id) => self.select('preauths', m, id),
      updatePreauth: (id, from, changes) => self.update('preauths', id, from, changes),
      insertCapture: (c) => void self.insert('captures', c),
      capture: (m, id) => self.select('captures', m, id),
      updateCapture: (id, from, changes) => self.update('captures', id, from, changes),
      insertAgreement: (a) => void self.insert('agreements', a),
      agreement: (m, id) => self.select('agreements', m, id),
      updateAgreement: (id, from, changes) => self.update('agreements', id, from, changes),
      insertPayout: (p) => self.insert('payouts', p),
      payout: (m, id) => self.select('payouts', m, id),
      updatePayout: (id, from, changes) => self.update('payouts', id, from, changes),
      insertTopup: (t) => self.insert('topups', t),
      topup: (m, id) => self.select('topups', m, id),
      updateTopup: (id, from, changes) => self.update('topups', id, from, changes),
      recordRiskDecision: (d) => void self.stmt('insertRisk', `INSERT INTO risk_decisions (${RISK_COLUMNS.join(', ')}) VALUES (${RISK_COLUMNS.map((c) => `@${c}`).join(', ')})`).run(toParams(d as unknown as Record<string, unknown>)),
      insertChallenge: (c) => void self.stmt('insertChallenge', `INSERT INTO risk_challenges (${CHALLENGE_COLUMNS.join(', ')}) VALUES (${CHALLENGE_COLUMNS.map((c) => `@${c}`).join(', ')})`).run(toParams(c as unknown as Record<string, unknown>)),
      challenge(paymentId) {
        const c = toRecord<ChallengeRecord>(self.stmt('challenge', 'SELECT * FROM risk_challenges WHERE payment_id = ?').get(paymentId) as Row | undefined);
        return c && { ...c, attempts: Number(c.attempts), attemptsMax: Number(c.attemptsMax) };
      },
      updateChallenge(paymentId, from, changes) {
        const params = toParams(changes as Record<string, unknown>);
        params['updated_at_ms'] = self.nowMs;
        const columns = Object.keys(params);
        const s = self.stmt(`updateChallenge:${columns.join(',')}`, `UPDATE risk_challenges SET ${columns.map((c) => `${c} = @${c}`).join(', ')} WHERE payment_id = @__id AND status = @__from`);
        return s.run({ ...params, __id: paymentId, __from: from }).changes === 1;
      },
      payerHasPaid: (payerId) =>
        self.stmt('payerHasPaid', "SELECT 1 FROM payments WHERE payer_id = ? AND status IN ('succeeded', 'partially_refunded', 'refunded') LIMIT 1").get(payerId) !== undefined,
      rememberNotification: (channelId, notificationId) => notification.run(channelId, notificationId, self.nowMs).changes === 1,
      publish(message: OutboxMessage) {
        outbox.run(message.topic, message.aggregateId, message.merchantId, JSON.stringify(message.payload, bigintReplacer), self.nowMs);
      },
      post(command: LedgerCommand): PostResult {
        const [result] = self.ledger.postEntriesSync([command], self.nowMs);
        if (!result) throw new Error('the ledger returned no result');
        return result;
      },
      openDay() {
        const day = self.ledger.openDaySync();
        if (day === undefined) throw new Error('the ledger has no open business day; run settle init');
        return day;
      },
      ensureAccount(spec) {
        if (self.knownAccounts.has(spec.accountId)) return;
        self.ledger.ensureAccountsSync([{ ...spec, ownerKind: spec.ownerKind as AccountSpec['ownerKind'], status: 'active' }], self.nowMs);
        if (self.knownAccounts.size > 100_000) self.knownAccounts.clear();
        self.knownAccounts.add(spec.accountId);
      },
      accountBalance(accountId) {
        const a = self.ledger.accountSync(accountId);
        if (!a) return undefined;
        return { status: a.status, availableMinor: availableOnNormalSide(a, a.normalSide), balanceMinor: balanceOnNormalSide(a, a.normalSide) };
      },
    };
  }
}

const RISK_COLUMNS = ['payment_id', 'merchant_id', 'decision', 'hits', 'product', 'amount_minor', 'currency', 'payer_id', 'card_key', 'device_id', 'ip', 'business_date', 'created_at_ms'];
const CHALLENGE_COLUMNS = ['payment_id', 'merchant_id', 'code_hash', 'salt', 'phone_hint', 'expires_at_ms', 'attempts', 'attempts_max', 'status', 'created_at_ms', 'updated_at_ms'];

export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export const USER_BALANCE_FLAGS = ACCOUNT_FLAGS.debits_must_not_exceed_credits;
