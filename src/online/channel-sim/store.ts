// The simulator's own record (the channel's books), in its own SQLite file: every transaction it
// accepted, with the fields a bill file needs later (channel and our references, the channel's id,
// amounts and fee in minor units, status, creation and completion times, business date), agreements
// signed through it, and the notifications it sent. Opened through openSqlite/migrateModule like every
// store of settle; nothing here decides a business rule (see rules.ts).

import { migrateModule, openSqlite, type SqliteConnection } from '../../ledger/sqlite/database.js';
import type { ChannelProduct } from '../channels/port.js';
import type { MutatingOperation } from './config.js';

export type TxnStatus = 'processing' | 'succeeded' | 'declined';

export interface SimTxn {
  readonly txnNo: number;
  readonly channelId: string;
  readonly operation: MutatingOperation;
  /** Our (the daemon's) reference: the idempotency key, unique per channel and operation. */
  readonly reference: string;
  readonly originalOperation: MutatingOperation | null;
  readonly originalReference: string | null;
  readonly originalChannelTxnId: string | null;
  readonly channelTxnId: string;
  readonly product: ChannelProduct | null;
  /** 0 for operations that move no money (sign, unsign). */
  readonly amountMinor: bigint;
  readonly currency: string | null;
  readonly status: TxnStatus;
  readonly declineCode: string | null;
  readonly declineMessage: string | null;
  /** Decided at acceptance for an asynchronous operation; told by notification when it completes. */
  readonly plannedDeclineCode: string | null;
  /** The channel's cost; on a refund or void, the cost it gives back. 0 when declined. */
  readonly feeMinor: bigint;
  readonly feeRate: string;
  readonly payerId: string | null;
  readonly payeeName: string | null;
  readonly payeeAccount: string | null;
  readonly agreementToken: string | null;
  readonly description: string | null;
  readonly notifyUrl: string | null;
  readonly createdAtMs: number;
  readonly completedAtMs: number | null;
  /** The calendar day of creation in the configured time zone (Asia/Shanghai by default). */
  readonly businessDate: string;
}

export type NewTxn = Omit<SimTxn, 'txnNo' | 'channelTxnId'>;

/** A transaction that moved money, with what a day's bill needs of it and of its original (nothing more: bills are read by the million). */
export interface SimBillTxn {
  readonly txnNo: number;
  readonly operation: MutatingOperation;
  readonly reference: string;
  readonly originalReference: string | null;
  readonly originalChannelTxnId: string | null;
  readonly channelTxnId: string;
  readonly product: ChannelProduct | null;
  readonly amountMinor: bigint;
  readonly currency: string | null;
  readonly feeMinor: bigint;
  readonly feeRate: string;
  readonly payerId: string | null;
  readonly description: string | null;
  readonly createdAtMs: number;
  readonly completedAtMs: number | null;
  /** For a refund or void: the original's creation time and sequence number (UnionPay 原始交易…, Alipay 创建时间). */
  readonly originalCreatedAtMs: number | null;
  readonly originalTxnNo: number | null;
  /** For a payment or capture: a void of it succeeded (WeChat marks such a payment REVOKED). */
  readonly revoked: boolean;
}

export interface SimAgreement {
  readonly channelId: string;
  readonly agreementToken: string;
  readonly payerId: string;
  readonly accountHint: string | null;
  readonly status: 'active' | 'terminated';
  readonly signReference: string;
  readonly createdAtMs: number;
}

export interface PendingNotification {
  readonly notificationId: string;
  readonly txnNo: number;
  readonly notifyUrl: string;
  readonly attempts: number;
}

export interface CurrencyNet {
  readonly currency: string;
  readonly netMinor: bigint;
}

export const SIM_MIGRATIONS: readonly string[] = [
  `CREATE TABLE sim_transactions (
     txn_no INTEGER PRIMARY KEY,
     channel_id TEXT NOT NULL,
     operation TEXT NOT NULL,
     reference TEXT NOT NULL,
     original_operation TEXT,
     original_reference TEXT,
     original_channel_txn_id TEXT,
     channel_txn_id TEXT NOT NULL UNIQUE,
     product TEXT,
     amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
     currency TEXT,
     status TEXT NOT NULL CHECK (status IN ('processing', 'succeeded', 'declined')),
     decline_code TEXT,
     decline_message TEXT,
     planned_decline_code TEXT,
     fee_minor INTEGER NOT NULL CHECK (fee_minor >= 0),
     fee_rate TEXT NOT NULL,
     payer_id TEXT,
     payee_name TEXT,
     payee_account TEXT,
     agreement_token TEXT,
     description TEXT,
     notify_url TEXT,
     created_at_ms INTEGER NOT NULL,
     completed_at_ms INTEGER,
     business_date TEXT NOT NULL,
     UNIQUE (channel_id, operation, reference)
   ) STRICT;
   CREATE INDEX sim_transactions_by_original ON sim_transactions (channel_id, original_operation, original_reference);
   CREATE INDEX sim_transactions_by_date ON sim_transactions (channel_id, business_date);
   CREATE INDEX sim_transactions_processing ON sim_transactions (status) WHERE status = 'processing';
   CREATE TABLE sim_agreements (
     channel_id TEXT NOT NULL,
     agreement_token TEXT NOT NULL,
     payer_id TEXT NOT NULL,
     account_hint TEXT,
     status TEXT NOT NULL CHECK (status IN ('active', 'terminated')),
     sign_reference TEXT NOT NULL,
     created_at_ms INTEGER NOT NULL,
     terminated_at_ms INTEGER,
     PRIMARY KEY (channel_id, agreement_token)
   ) STRICT;
   CREATE TABLE sim_notifications (
     notification_id TEXT PRIMARY KEY,
     txn_no INTEGER NOT NULL REFERENCES sim_transactions (txn_no),
     notify_url TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
     attempts INTEGER NOT NULL,
     last_attempt_at_ms INTEGER,
     last_error TEXT,
     delivered_at_ms INTEGER
   ) STRICT;`,
];

type Row = Record<string, unknown>;
const str = (v: unknown): string | null => (v === null || v === undefined ? null : (v as string));
const num = (v: unknown): number => Number(v as bigint);

function toTxn(r: Row): SimTxn {
  return {
    txnNo: num(r['txn_no']),
    channelId: r['channel_id'] as string,
    operation: r['operation'] as MutatingOperation,
    reference: r['reference'] as string,
    originalOperation: str(r['original_operation']) as MutatingOperation | null,
    originalReference: str(r['original_reference']),
    originalChannelTxnId: str(r['original_channel_txn_id']),
    channelTxnId: r['channel_txn_id'] as string,
    product: str(r['product']) as ChannelProduct | null,
    amountMinor: r['amount_minor'] as bigint,
    currency: str(r['currency']),
    status: r['status'] as TxnStatus,
    declineCode: str(r['decline_code']),
    declineMessage: str(r['decline_message']),
    plannedDeclineCode: str(r['planned_decline_code']),
    feeMinor: r['fee_minor'] as bigint,
    feeRate: r['fee_rate'] as string,
    payerId: str(r['payer_id']),
    payeeName: str(r['payee_name']),
    payeeAccount: str(r['payee_account']),
    agreementToken: str(r['agreement_token']),
    description: str(r['description']),
    notifyUrl: str(r['notify_url']),
    createdAtMs: num(r['created_at_ms']),
    completedAtMs: r['completed_at_ms'] === null ? null : num(r['completed_at_ms']),
    businessDate: r['business_date'] as string,
  };
}

function toAgreement(r: Row): SimAgreement {
  return {
    channelId: r['channel_id'] as string,
    agreementToken: r['agreement_token'] as string,
    payerId: r['payer_id'] as string,
    accountHint: str(r['account_hint']),
    status: r['status'] as SimAgreement['status'],
    signReference: r['sign_reference'] as string,
    createdAtMs: num(r['created_at_ms']),
  };
}

/** The channel's own id of a transaction: channel, day, sequence, e.g. WALLET2026112600000042. */
export function channelTxnIdFor(channelId: string, businessDate: string, txnNo: number): string {
  return `${channelId.toUpperCase().replace(/[-_]/g, '')}${businessDate.replace(/-/g, '')}${String(txnNo).padStart(8, '0')}`;
}

export class SimStore {
  private constructor(private readonly db: SqliteConnection) {}

  /** Opens (creating if needed) the simulator's file and brings its schema forward. */
  static open(path: string): SimStore {
    const db = openSqlite(path, { create: true });
    try {
      migrateModule(db, 'channel_sim', SIM_MIGRATIONS);
    } catch (e) {
      db.close();
      throw e;
    }
    return new SimStore(db);
  }

  close(): void {
    this.db.close();
  }

  /** Runs work in one immediate transaction, so a check and the insert it allows cannot interleave. */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  find(channelId: string, operation: MutatingOperation, reference: string): SimTxn | undefined {
    const row = this.db
      .prepare('SELECT * FROM sim_transactions WHERE channel_id = ? AND operation = ? AND reference = ?')
      .get(channelId, operation, reference) as Row | undefined;
    return row ? toTxn(row) : undefined;
  }

  findByChannelTxnId(channelId: string, channelTxnId: string): SimTxn | undefined {
    const row = this.db.prepare('SELECT * FROM sim_transactions WHERE channel_id = ? AND channel_txn_id = ?').get(channelId, channelTxnId) as Row | undefined;
    return row ? toTxn(row) : undefined;
  }

  byTxnNo(txnNo: number): SimTxn | undefined {
    const row = this.db.prepare('SELECT * FROM sim_transactions WHERE txn_no = ?').get(txnNo) as Row | undefined;
    return row ? toTxn(row) : undefined;
  }

  /** Every operation that acts on an original (refunds and voids of a payment, captures of a pre-auth …). */
  followUps(channelId: string, originalOperation: MutatingOperation, originalReference: string): SimTxn[] {
    const rows = this.db
      .prepare('SELECT * FROM sim_transactions WHERE channel_id = ? AND original_operation = ? AND original_reference = ? ORDER BY txn_no')
      .all(channelId, originalOperation, originalReference) as Row[];
    return rows.map(toTxn);
  }

  insert(txn: NewTxn): SimTxn {
    const next = this.db.prepare('SELECT COALESCE(MAX(txn_no), 0) + 1 AS n FROM sim_transactions').get() as Row;
    const txnNo = num(next['n']);
    const channelTxnId = channelTxnIdFor(txn.channelId, txn.businessDate, txnNo);
    this.db
      .prepare(
        `INSERT INTO sim_transactions (txn_no, channel_id, operation, reference, original_operation, original_reference,
           original_channel_txn_id, channel_txn_id, product, amount_minor, currency, status, decline_code, decline_message,
           planned_decline_code, fee_minor, fee_rate, payer_id, payee_name, payee_account, agreement_token, description,
           notify_url, created_at_ms, completed_at_ms, business_date)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        txnNo,
        txn.channelId,
        txn.operation,
        txn.reference,
        txn.originalOperation,
        txn.originalReference,
        txn.originalChannelTxnId,
        channelTxnId,
        txn.product,
        txn.amountMinor,
        txn.currency,
        txn.status,
        txn.declineCode,
        txn.declineMessage,
        txn.plannedDeclineCode,
        txn.feeMinor,
        txn.feeRate,
        txn.payerId,
        txn.payeeName,
        txn.payeeAccount,
        txn.agreementToken,
        txn.description,
        txn.notifyUrl,
        txn.createdAtMs,
        txn.completedAtMs,
        txn.businessDate,
      );
    return { ...txn, txnNo, channelTxnId };
  }

  /** Moves a processing transaction to its final status; undefined if it was not processing any more. */
  complete(
    txnNo: number,
    outcome: { status: 'succeeded' } | { status: 'declined'; declineCode: string; declineMessage: string },
    completedAtMs: number,
  ): SimTxn | undefined {
    const declined = outcome.status === 'declined';
    const changed = this.db
      .prepare(
        `UPDATE sim_transactions SET status = ?, decline_code = ?, decline_message = ?, completed_at_ms = ?,
           fee_minor = CASE WHEN ? THEN 0 ELSE fee_minor END
         WHERE txn_no = ? AND status = 'processing'`,
      )
      .run(outcome.status, declined ? outcome.declineCode : null, declined ? outcome.declineMessage : null, completedAtMs, declined ? 1 : 0, txnNo);
    return changed.changes === 1 ? this.byTxnNo(txnNo) : undefined;
  }

  processing(): SimTxn[] {
    return (this.db.prepare("SELECT * FROM sim_transactions WHERE status = 'processing' ORDER BY txn_no").all() as Row[]).map(toTxn);
  }

  /**
   * Net money at the channel per currency, before the opening balance: payments and captures in less
   * their fee; refunds, voids and capture voids out less the fee given back; payouts out with their fee.
   * Money going out counts from acceptance (processing reserves it); money coming in once succeeded.
   */
  nets(channelId: string): CurrencyNet[] {
    const rows = this.db
      .prepare(
        `SELECT currency, SUM(CASE
             WHEN operation IN ('pay', 'capture') AND status = 'succeeded' THEN amount_minor - fee_minor
             WHEN operation IN ('refund', 'void', 'capture_void') AND status IN ('succeeded', 'processing') THEN fee_minor - amount_minor
             WHEN operation = 'payout' AND status IN ('succeeded', 'processing') THEN -(amount_minor + fee_minor)
             ELSE 0 END) AS net_minor
         FROM sim_transactions WHERE channel_id = ? AND currency IS NOT NULL GROUP BY currency ORDER BY currency`,
      )
      .all(channelId) as Row[];
    return rows.map((r) => ({ currency: r['currency'] as string, netMinor: r['net_minor'] as bigint }));
  }

  /**
   * The succeeded transactions that moved money (pay, capture, refund, void, capture_void) of one channel
   * and business date, oldest first, read lazily: nothing else may use this connection until the
   * iteration ends. Only the columns a bill needs, as arrays (far faster than 26-key row objects).
   */
  *billTransactions(channelId: string, businessDate: string): Generator<SimBillTxn> {
    const rows = this.db
      .prepare(
        `SELECT t.txn_no, t.operation, t.reference, t.original_reference, t.original_channel_txn_id, t.channel_txn_id, t.product,
           t.amount_minor, t.currency, t.fee_minor, t.fee_rate, t.payer_id, t.description, t.created_at_ms, t.completed_at_ms,
           o.created_at_ms, o.txn_no,
           EXISTS (SELECT 1 FROM sim_transactions v
                   WHERE v.channel_id = t.channel_id AND v.original_operation = t.operation AND v.original_reference = t.reference
                     AND v.operation IN ('void', 'capture_void') AND v.status = 'succeeded') AS revoked
         FROM sim_transactions t
         LEFT JOIN sim_transactions o ON o.channel_id = t.channel_id AND o.operation = t.original_operation AND o.reference = t.original_reference
         WHERE t.channel_id = ? AND t.business_date = ? AND t.status = 'succeeded'
           AND t.operation IN ('pay', 'capture', 'refund', 'void', 'capture_void')
         ORDER BY t.created_at_ms, t.txn_no`,
      )
      .raw(true)
      .iterate(channelId, businessDate) as IterableIterator<unknown[]>;
    for (const r of rows) {
      yield {
        txnNo: num(r[0]),
        operation: r[1] as MutatingOperation,
        reference: r[2] as string,
        originalReference: str(r[3]),
        originalChannelTxnId: str(r[4]),
        channelTxnId: r[5] as string,
        product: str(r[6]) as ChannelProduct | null,
        amountMinor: r[7] as bigint,
        currency: str(r[8]),
        feeMinor: r[9] as bigint,
        feeRate: r[10] as string,
        payerId: str(r[11]),
        description: str(r[12]),
        createdAtMs: num(r[13]),
        completedAtMs: r[14] === null ? null : num(r[14]),
        originalCreatedAtMs: r[15] === null ? null : num(r[15]),
        originalTxnNo: r[16] === null ? null : num(r[16]),
        revoked: num(r[17]) === 1,
      };
    }
  }

  list(filter: { channelId?: string | undefined; businessDate?: string | undefined; limit: number }): SimTxn[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.channelId !== undefined) {
      where.push('channel_id = ?');
      args.push(filter.channelId);
    }
    if (filter.businessDate !== undefined) {
      where.push('business_date = ?');
      args.push(filter.businessDate);
    }
    const sql = `SELECT * FROM sim_transactions ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY txn_no LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit) as Row[]).map(toTxn);
  }

  insertAgreement(a: SimAgreement): void {
    this.db
      .prepare(
        'INSERT INTO sim_agreements (channel_id, agreement_token, payer_id, account_hint, status, sign_reference, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(a.channelId, a.agreementToken, a.payerId, a.accountHint, a.status, a.signReference, a.createdAtMs);
  }

  findAgreement(channelId: string, agreementToken: string): SimAgreement | undefined {
    const row = this.db.prepare('SELECT * FROM sim_agreements WHERE channel_id = ? AND agreement_token = ?').get(channelId, agreementToken) as Row | undefined;
    return row ? toAgreement(row) : undefined;
  }

  terminateAgreement(channelId: string, agreementToken: string, atMs: number): void {
    this.db
      .prepare("UPDATE sim_agreements SET status = 'terminated', terminated_at_ms = ? WHERE channel_id = ? AND agreement_token = ? AND status = 'active'")
      .run(atMs, channelId, agreementToken);
  }

  addNotification(notificationId: string, txnNo: number, notifyUrl: string): void {
    this.db
      .prepare("INSERT INTO sim_notifications (notification_id, txn_no, notify_url, status, attempts) VALUES (?, ?, ?, 'pending', 0) ON CONFLICT DO NOTHING")
      .run(notificationId, txnNo, notifyUrl);
  }

  recordAttempt(notificationId: string, result: { delivered: boolean; error: string | null; final: boolean }, atMs: number): void {
    const status = result.delivered ? 'delivered' : result.final ? 'failed' : 'pending';
    this.db
      .prepare(
        `UPDATE sim_notifications SET attempts = attempts + 1, last_attempt_at_ms = ?, last_error = ?, status = ?,
           delivered_at_ms = CASE WHEN ? THEN ? ELSE delivered_at_ms END
         WHERE notification_id = ?`,
      )
      .run(atMs, result.error, status, result.delivered ? 1 : 0, atMs, notificationId);
  }

  pendingNotifications(): PendingNotification[] {
    const rows = this.db.prepare("SELECT * FROM sim_notifications WHERE status = 'pending' ORDER BY txn_no").all() as Row[];
    return rows.map((r) => ({
      notificationId: r['notification_id'] as string,
      txnNo: num(r['txn_no']),
      notifyUrl: r['notify_url'] as string,
      attempts: num(r['attempts']),
    }));
  }

  notificationStatus(notificationId: string): { status: string; attempts: number } | undefined {
    const row = this.db.prepare('SELECT status, attempts FROM sim_notifications WHERE notification_id = ?').get(notificationId) as Row | undefined;
    return row ? { status: row['status'] as string, attempts: num(row['attempts']) } : undefined;
  }
}
