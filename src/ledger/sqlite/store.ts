// The SQLite adapter of the ledger store port: the only code that talks to SQLite. One database file
// in WAL mode; synchronous=FULL by default, so a commit the caller saw acknowledged survives a crash or
// power loss. Integers are read as bigints (safe-integer reads) and converted only where a value is
// known to be small (sequence numbers, times).

import { asOpenError, openSqlite, type SqliteConnection, type SqliteOptions, type SqliteStatement } from './database.js';
import { entryHash, GENESIS_HASH } from '../chain.js';
import type { AccountSpec, AccountStatus, Chart, Side, Subject, SubjectType } from '../chart.js';
import { nextDate, type EntryKind, type LedgerCommand } from '../entry.js';
import { failure, invariant, LedgerError, type LedgerFailure } from '../errors.js';
import { LIMITS } from '../limits.js';
import type {
  AccountFilter,
  AccountRecord,
  BusinessDay,
  ChartLoadResult,
  CutoffResult,
  DayBalance,
  JournalEntry,
  JournalQuery,
  LedgerStore,
  PostResult,
} from '../port.js';
import {
  planCommand,
  type AccountState,
  type EntryPlan,
  type ExpireHoldCommand,
  type HoldStatus,
  type PlanContext,
  type RecordedPosting,
  type StoredEntry,
} from '../rules.js';
import { EntryWriter } from './entry-writer.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export type { SqliteOptions, SynchronousMode } from './database.js';

type Row = Record<string, unknown>;

/** Accounts kept in the write path's cache before it is emptied and refilled. */
const ACCOUNT_CACHE_MAX = 200_000;

const num = (v: unknown): number => Number(v as bigint);
const big = (v: unknown): bigint => v as bigint;
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v as bigint));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : (v as string));

function toAccountState(r: Row): AccountState {
  return {
    accountNo: num(r['account_no']),
    accountId: r['account_id'] as string,
    subjectCode: r['subject_code'] as string,
    currency: r['currency'] as string,
    status: r['status'] as AccountStatus,
    flags: num(r['flags']),
    debitsPending: big(r['debits_pending']),
    debitsPosted: big(r['debits_posted']),
    creditsPending: big(r['credits_pending']),
    creditsPosted: big(r['credits_posted']),
  };
}

function toPosting(r: Row): RecordedPosting {
  return {
    accountNo: num(r['account_no']),
    accountId: r['account_id'] as string,
    side: r['side'] as Side,
    amountMinor: big(r['amount_minor']),
    currency: r['currency'] as string,
  };
}

const ENTRY_COLUMNS = `
  e.seq, e.entry_id, e.kind, e.business_date, e.event_type, e.reference, e.memo, e.metadata, e.expires_at_ms,
  e.fingerprint, e.created_at_ms, e.hash,
  he.entry_id AS hold_entry_id, re.entry_id AS reverses_entry_id,
  h.status AS hold_status, rb.entry_id AS reversed_by_entry_id`;
const ENTRY_JOINS = `
  LEFT JOIN entries he ON he.seq = e.hold_seq
  LEFT JOIN entries re ON re.seq = e.reverses_seq
  LEFT JOIN holds h ON h.entry_seq = e.seq
  LEFT JOIN reversals r ON r.original_seq = e.seq
  LEFT JOIN entries rb ON rb.seq = r.reversal_seq`;

export class SqliteLedgerStore implements LedgerStore {
  readonly db: SqliteConnection;
  readonly path: string;
  private readonly stmt: ReturnType<typeof prepareStatements>;
  private readonly writer: EntryWriter;

  private readonly accountCache = new Map<string, AccountState>();
  private dataVersion = -1;
  private readonly postTransaction: {
    immediate(commands: readonly (LedgerCommand | ExpireHoldCommand)[], nowMs: number): PostResult[];
  };

  private constructor(db: SqliteConnection, path: string) {
    this.db = db;
    this.path = path;
    this.stmt = prepareStatements(db);
    this.writer = new EntryWriter(db);
    this.postTransaction = db.transaction((commands: readonly (LedgerCommand | ExpireHoldCommand)[], nowMs: number) => this.postBatch(commands, nowMs));
  }

  static open(path: string, options: SqliteOptions = {}): SqliteLedgerStore {
    const db = openSqlite(path, options);
    try {
      return SqliteLedgerStore.attach(db, path, options.readonly ?? false);
    } catch (e) {
      db.close();
      throw asOpenError(e, path);
    }
  }

  /** The ledger on a connection opened elsewhere (the online core shares it to commit orders and entries together). */
  static attach(db: SqliteConnection, path: string, readonly = false): SqliteLedgerStore {
    migrate(db, readonly);
    return new SqliteLedgerStore(db, path);
  }

  async close(): Promise<void> {
    this.db.close();
  }

  // ---- chart ----

  async loadChart(chart: Chart, nowMs: number): Promise<ChartLoadResult> {
    return this.db
      .transaction((): ChartLoadResult => {
        let subjectsAdded = 0;
        for (const s of chart.subjects) {
          const have = this.stmt.subjectByCode.get(s.code) as Row | undefined;
          if (!have) {
            this.stmt.insertSubject.run(s.code, s.name, s.type, s.normalSide);
            subjectsAdded++;
          } else if (have['type'] !== s.type || have['normal_side'] !== s.normalSide) {
            throw new LedgerError('config_conflict', `Subject ${s.code} exists as ${String(have['type'])}/${String(have['normal_side'])}.`);
          }
        }
        const accountsAdded = this.ensureAccountsSync(chart.accounts, nowMs);
        return { subjectsAdded, accountsAdded };
      })
      .immediate();
  }

  /**
   * Opens the accounts that do not exist yet; an existing account with other attributes is
   * config_conflict. Synchronous, so the online core can open a merchant's or user's account inside
   * the unit of work that first needs it. It writes even when every account exists (each is inserted
   * first, and read only when the insert did nothing): a write connection's call.
   */
  ensureAccountsSync(accounts: readonly AccountSpec[], nowMs: number): number {
    // Inside a caller's transaction (a unit of work) its savepoint already makes this atomic.
    return this.db.inTransaction ? this.openAccounts(accounts, nowMs) : this.db.transaction(() => this.openAccounts(accounts, nowMs)).immediate();
  }

  private openAccounts(accounts: readonly AccountSpec[], nowMs: number): number {
    let accountsAdded = 0;
    // Subjects are never removed: each code is looked up once per call (a clearing chunk opens a thousand
    // accounts of three subjects).
    const subjects = new Set<string>();
    for (const a of accounts) {
      if (!subjects.has(a.subjectCode)) {
        if (!this.stmt.subjectByCode.get(a.subjectCode)) {
          throw new LedgerError('config_unknown_subject', `Account ${a.accountId} names subject ${a.subjectCode}.`);
        }
        subjects.add(a.subjectCode);
      }
      // One statement for a new account; an existing one (the insert did nothing) is read and compared.
      if (this.stmt.insertAccount.run(a.accountId, a.subjectCode, a.ownerKind, a.ownerId, a.currency, a.status, a.flags, nowMs).changes === 1) {
        accountsAdded++;
        continue;
      }
      const have = this.stmt.accountById.get(a.accountId) as Row | undefined;
      invariant(have, `account ${a.accountId} was neither added nor found`);
      if (
        have['subject_code'] !== a.subjectCode ||
        have['owner_kind'] !== a.ownerKind ||
        have['owner_id'] !== a.ownerId ||
        have['currency'] !== a.currency ||
        num(have['flags']) !== a.flags
      ) {
        throw new LedgerError('config_conflict', `Account ${a.accountId} exists with other attributes.`);
      }
    }
    return accountsAdded;
  }

  /** The open business day, read inside the caller's transaction. */
  openDaySync(): string | undefined {
    const row = this.stmt.openDay.get() as Row | undefined;
    return row ? (row['business_date'] as string) : undefined;
  }

  /** One account with its counters, read inside the caller's transaction. */
  accountSync(accountId: string): (AccountState & { normalSide: Side }) | undefined {
    const r = this.stmt.accountWithSide.get(accountId) as Row | undefined;
    return r ? { ...toAccountState(r), normalSide: r['normal_side'] as Side } : undefined;
  }

  async listSubjects(): Promise<Subject[]> {
    return (this.db.prepare('SELECT code, name, type, normal_side FROM subjects ORDER BY code').all() as Row[]).map((r) => ({
      code: r['code'] as string,
      name: r['name'] as string,
      type: r['type'] as SubjectType,
      normalSide: r['normal_side'] as Side,
    }));
  }

  async listAccounts(filter: AccountFilter = {}): Promise<AccountRecord[]> {
    const where: string[] = [];
    const args: string[] = [];
    const add = (column: string, value: string | undefined): void => {
      if (value !== undefined) {
        where.push(`a.${column} = ?`);
        args.push(value);
      }
    };
    add('account_id', filter.accountId);
    add('subject_code', filter.subjectCode);
    add('owner_kind', filter.ownerKind);
    add('owner_id', filter.ownerId);
    add('currency', filter.currency);
    const sql = `SELECT a.*, s.name AS subject_name, s.normal_side FROM accounts a JOIN subjects s ON s.code = a.subject_code
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY a.subject_code, a.account_id`;
    return (this.db.prepare(sql).all(...args) as Row[]).map((r) => ({
      ...toAccountState(r),
      ownerKind: r['owner_kind'] as AccountRecord['ownerKind'],
      ownerId: r['owner_id'] as string,
      subjectName: r['subject_name'] as string,
      normalSide: r['normal_side'] as Side,
      createdAtMs: num(r['created_at_ms']),
    }));
  }

  async setAccountStatus(accountId: string, status: AccountStatus): Promise<LedgerFailure | undefined> {
    this.accountCache.delete(accountId);
    const info = this.db.prepare('UPDATE accounts SET status = ? WHERE account_id = ?').run(status, accountId);
    return info.changes === 0 ? failure('account_not_found', `Account ${accountId} does not exist.`) : undefined;
  }

  // ---- business days ----

  async ensureOpenDay(date: string, nowMs: number): Promise<string> {
    return this.db
      .transaction((): string => {
        const open = this.stmt.openDay.get() as Row | undefined;
        if (open) return open['business_date'] as string;
        const any = this.db.prepare('SELECT 1 FROM business_days LIMIT 1').get();
        invariant(!any, 'a ledger with closed days must have an open day');
        this.db.prepare("INSERT INTO business_days (business_date, status, opened_at_ms) VALUES (?, 'open', ?)").run(date, nowMs);
        return date;
      })
      .immediate();
  }

  async openDay(): Promise<string | undefined> {
    return this.openDaySync();
  }

  async listBusinessDays(limit: number): Promise<BusinessDay[]> {
    const rows = this.db.prepare('SELECT * FROM business_days ORDER BY business_date DESC LIMIT ?').all(limit) as Row[];
    return rows.map((r) => ({
      businessDate: r['business_date'] as string,
      status: r['status'] as 'open' | 'closed',
      openedAtMs: num(r['opened_at_ms']),
      closedAtMs: numOrNull(r['closed_at_ms']),
    }));
  }

  async cutoff(date: string, nowMs: number): Promise<CutoffResult | LedgerFailure> {
    return this.db
      .transaction((): CutoffResult | LedgerFailure => {
        const open = this.stmt.openDay.get() as Row | undefined;
        if (!open) return failure('no_open_day', 'The ledger has no open business day.');
        const openDate = open['business_date'] as string;
        if (openDate !== date) {
          return failure('cutoff_out_of_order', `Business day ${date} is not the open day; the open day is ${openDate}.`);
        }
        const next = nextDate(date);
        this.db.prepare("UPDATE business_days SET status = 'closed', closed_at_ms = ? WHERE business_date = ?").run(nowMs, date);
        this.db.prepare("INSERT INTO business_days (business_date, status, opened_at_ms) VALUES (?, 'open', ?)").run(next, nowMs);
        const snap = this.db
          .prepare(
            `INSERT INTO day_balances (business_date, account_no, opening_debits, opening_credits, debits, credits,
               closing_debits, closing_credits, debits_pending, credits_pending)
             SELECT @date, a.account_no, COALESCE(p.closing_debits, 0), COALESCE(p.closing_credits, 0),
               a.debits_posted - COALESCE(p.closing_debits, 0), a.credits_posted - COALESCE(p.closing_credits, 0),
               a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending
             FROM accounts a
             LEFT JOIN day_balances p ON p.account_no = a.account_no AND p.business_date =
               (SELECT MAX(business_date) FROM business_days WHERE status = 'closed' AND business_date < @date)`,
          )
          .run({ date });
        // Summed here in bigint, not with SQL SUM(): a day's total over all accounts may pass 2^63-1
        // even when every account counter stays within it.
        const sums = new Map<string, { currency: string; debits: bigint; credits: bigint }>();
        const rows = this.db
          .prepare('SELECT a.currency, d.debits, d.credits FROM day_balances d JOIN accounts a ON a.account_no = d.account_no WHERE d.business_date = ?')
          .iterate(date) as IterableIterator<Row>;
        for (const r of rows) {
          const currency = r['currency'] as string;
          const t = sums.get(currency) ?? { currency, debits: 0n, credits: 0n };
          t.debits += big(r['debits']);
          t.credits += big(r['credits']);
          sums.set(currency, t);
        }
        const totals = [...sums.values()].sort((a, b) => (a.currency < b.currency ? -1 : 1));
        return { closedDate: date, openedDate: next, accountsSnapshotted: snap.changes, totals };
      })
      .immediate();
  }

  async dayBalances(date: string): Promise<DayBalance[]> {
    const rows = this.db
      .prepare(
        `SELECT d.*, a.account_id, a.currency FROM day_balances d JOIN accounts a ON a.account_no = d.account_no
         WHERE d.business_date = ? ORDER BY a.subject_code, a.account_id`,
      )
      .all(date) as Row[];
    return rows.map((r) => ({
      businessDate: r['business_date'] as string,
      accountId: r['account_id'] as string,
      currency: r['currency'] as string,
      openingDebits: big(r['opening_debits']),
      openingCredits: big(r['opening_credits']),
      debits: big(r['debits']),
      credits: big(r['credits']),
      closingDebits: big(r['closing_debits']),
      closingCredits: big(r['closing_credits']),
      debitsPending: big(r['debits_pending']),
      creditsPending: big(r['credits_pending']),
    }));
  }

  // ---- writes ----

  async postEntries(commands: readonly LedgerCommand[], nowMs: number): Promise<PostResult[]> {
    return this.postEntriesSync(commands, nowMs);
  }

  /**
   * The group-commit path: many independent commands in one write transaction. Each command is
   * planned against the state left by the ones before it; a refused command writes nothing and does
   * not affect the others. Also usable inside an outer transaction of another adapter on this
   * database (better-sqlite3 turns the nested transaction into a savepoint).
   */
  postEntriesSync(commands: readonly (LedgerCommand | ExpireHoldCommand)[], nowMs: number): PostResult[] {
    invariant(commands.length <= LIMITS.commandsPerBatchMax, `a batch holds at most ${LIMITS.commandsPerBatchMax} commands`);
    try {
      // Inside a caller's transaction (a unit of work), its savepoint already makes the batch atomic.
      return this.db.inTransaction ? this.postBatch(commands, nowMs) : this.postTransaction.immediate(commands, nowMs);
    } catch (e) {
      // The transaction (or savepoint) rolled back: cached counters may be ahead of the file.
      this.invalidateAccountCache();
      throw e;
    }
  }

  private postBatch(commands: readonly (LedgerCommand | ExpireHoldCommand)[], nowMs: number): PostResult[] {
    this.checkAccountCache();
    const open = this.stmt.openDay.get() as Row | undefined;
    if (!open) return commands.map(() => failure('no_open_day', 'The ledger has no open business day.'));
    const tail = this.stmt.lastEntry.get() as Row | undefined;
    const chain = { seq: tail ? num(tail['seq']) : 0, hash: tail ? (tail['hash'] as string) : GENESIS_HASH };
    const ctx = this.planContext(open['business_date'] as string, nowMs);
    this.writer.begin();
    const results = commands.map((cmd): PostResult => {
      const planned = planCommand(cmd, ctx);
      if (!planned.ok) return planned;
      if (planned.replay) {
        const e = planned.replay;
        return { ok: true, entryId: e.entryId, seq: e.seq, businessDate: e.businessDate, replayed: true };
      }
      chain.seq += 1;
      chain.hash = this.writePlan(planned.plan, chain.seq, chain.hash, nowMs);
      return { ok: true, entryId: planned.plan.entryId, seq: chain.seq, businessDate: planned.plan.businessDate, replayed: false };
    });
    this.writer.finish();
    return results;
  }

  // ---- the account cache ----
  // Reading two accounts per entry was a fifth of the write path, so account rows (with their counters)
  // are kept between batches. The cache is dropped when another connection has committed (PRAGMA
  // data_version, read inside the write transaction), when a write transaction of ours rolls back
  // (here, or an enclosing unit of work: see invalidateAccountCache), and when it grows past its bound.

  /** Call after a rollback that may have undone postings made through this store. */
  invalidateAccountCache(): void {
    this.accountCache.clear();
  }

  private checkAccountCache(): void {
    const version = Number(this.stmt.dataVersion.get() as bigint);
    if (version !== this.dataVersion || this.accountCache.size > ACCOUNT_CACHE_MAX) {
      this.accountCache.clear();
      this.dataVersion = version;
    }
  }

  async expireHolds(nowMs: number, limit: number): Promise<PostResult[]> {
    const due = this.db
      .prepare(
        `SELECT e.entry_id FROM holds h JOIN entries e ON e.seq = h.entry_seq
         WHERE h.status = 'pending' AND h.expires_at_ms <= ? ORDER BY h.expires_at_ms, h.entry_seq LIMIT ?`,
      )
      .all(nowMs, Math.min(limit, LIMITS.expireBatchMax)) as Row[];
    if (due.length === 0) return [];
    return this.postEntriesSync(
      due.map((r) => ({ type: 'expire_hold', holdId: r['entry_id'] as string })),
      nowMs,
    );
  }

  private planContext(openDay: string, nowMs: number): PlanContext {
    const s = this.stmt;
    return {
      openDay,
      nowMs,
      account: (accountId) => {
        const cached = this.accountCache.get(accountId);
        if (cached) return cached;
        // Raw rows of just the columns needed: this read runs for every posting not in the cache.
        const r = s.accountState.get(accountId) as unknown[] | undefined;
        if (!r) return undefined;
        const state: AccountState = {
          accountNo: num(r[0]),
          accountId: r[1] as string,
          subjectCode: r[2] as string,
          currency: r[3] as string,
          status: r[4] as AccountStatus,
          flags: num(r[5]),
          debitsPending: big(r[6]),
          debitsPosted: big(r[7]),
          creditsPending: big(r[8]),
          creditsPosted: big(r[9]),
        };
        this.accountCache.set(accountId, state);
        return state;
      },
      entry: (entryId) => {
        // An id used twice in one batch: its first entry may still be in the writer.
        if (this.writer.holds(entryId)) this.writer.flush();
        const r = s.storedEntry.get(entryId) as Row | undefined;
        if (!r) return undefined;
        const stored: StoredEntry = {
          seq: num(r['seq']),
          entryId: r['entry_id'] as string,
          kind: r['kind'] as EntryKind,
          fingerprint: r['fingerprint'] as string,
          businessDate: r['business_date'] as string,
          holdStatus: (r['hold_status'] as HoldStatus | null) ?? undefined,
          expiresAtMs: numOrNull(r['expires_at_ms']) ?? undefined,
          reversedByEntryId: strOrNull(r['reversed_by_entry_id']) ?? undefined,
        };
        return stored;
      },
      postingsOf: (seq) => {
        this.writer.flush();
        return (s.postingsOf.all(seq) as Row[]).map(toPosting);
      },
    };
  }

  /** Hashes the entry into the chain and hands its rows to the writer; rows that reference it go out at once. */
  private writePlan(plan: EntryPlan, seq: number, prevHash: string, nowMs: number): string {
    const s = this.stmt;
    const hash = entryHash(prevHash, {
      seq,
      entryId: plan.entryId,
      kind: plan.kind,
      businessDate: plan.businessDate,
      eventType: plan.eventType,
      reference: plan.reference,
      memo: plan.memo,
      metadata: plan.metadata,
      expiresAtMs: plan.expiresAtMs,
      holdEntryId: plan.hold?.entry.entryId ?? null,
      reversesEntryId: plan.reverses?.entryId ?? null,
      fingerprint: plan.fingerprint,
      createdAtMs: nowMs,
      postings: plan.postings,
    });
    this.writer.add(plan, seq, hash, nowMs);
    for (const { account, after } of plan.changes) this.accountCache.set(account.accountId, { ...account, ...after });
    if (plan.kind === 'pending' || plan.hold || plan.reverses) this.writer.flush();
    if (plan.kind === 'pending') s.insertHold.run(seq, plan.expiresAtMs);
    if (plan.hold) {
      const info = s.resolveHold.run(plan.hold.status, seq, plan.hold.entry.seq);
      invariant(info.changes === 1, `hold ${plan.hold.entry.entryId} was not pending`);
    }
    if (plan.reverses) s.insertReversal.run(plan.reverses.seq, seq);
    return hash;
  }

  // ---- reads ----

  async readJournal(q: JournalQuery): Promise<JournalEntry[]> {
    const limit = Math.max(1, Math.min(q.limit, LIMITS.journalPageMax));
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.afterSeq !== undefined) {
      where.push(q.descending ? 'e.seq < ?' : 'e.seq > ?');
      args.push(q.afterSeq);
    }
    if (q.businessDate !== undefined) {
      where.push('e.business_date = ?');
      args.push(q.businessDate);
    }
    if (q.accountId !== undefined) {
      where.push('e.seq IN (SELECT p.entry_seq FROM postings p JOIN accounts a ON a.account_no = p.account_no WHERE a.account_id = ?)');
      args.push(q.accountId);
    }
    const rows = this.db
      .prepare(
        `SELECT ${ENTRY_COLUMNS} FROM entries e ${ENTRY_JOINS} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY e.seq ${q.descending ? 'DESC' : 'ASC'} LIMIT ?`,
      )
      .all(...args, limit) as Row[];
    return this.withPostings(rows);
  }

  async getEntry(entryId: string): Promise<JournalEntry | undefined> {
    const row = this.db.prepare(`SELECT ${ENTRY_COLUMNS} FROM entries e ${ENTRY_JOINS} WHERE e.entry_id = ?`).get(entryId) as Row | undefined;
    return row ? this.withPostings([row])[0] : undefined;
  }

  private withPostings(rows: Row[]): JournalEntry[] {
    if (rows.length === 0) return [];
    const seqs = rows.map((r) => num(r['seq']));
    const low = Math.min(...seqs);
    const high = Math.max(...seqs);
    const bySeq = new Map<number, RecordedPosting[]>();
    if (high - low + 1 > rows.length * 2) {
      // A sparse page (one account's entries, newest first): read each entry's postings, not the whole span.
      for (const seq of seqs) bySeq.set(seq, (this.stmt.postingsOf.all(seq) as Row[]).map(toPosting));
      return rows.map((r) => this.toJournalEntry(r, bySeq));
    }
    for (const p of this.stmt.postingsBetween.all(low, high) as Row[]) {
      const seq = num(p['entry_seq']);
      let list = bySeq.get(seq);
      if (!list) bySeq.set(seq, (list = []));
      list.push(toPosting(p));
    }
    return rows.map((r) => this.toJournalEntry(r, bySeq));
  }

  private toJournalEntry(r: Row, bySeq: ReadonlyMap<number, RecordedPosting[]>): JournalEntry {
    {
      const seq = num(r['seq']);
      const metadata = strOrNull(r['metadata']);
      return {
        seq,
        entryId: r['entry_id'] as string,
        kind: r['kind'] as EntryKind,
        businessDate: r['business_date'] as string,
        eventType: r['event_type'] as string,
        reference: strOrNull(r['reference']),
        memo: strOrNull(r['memo']),
        metadata: metadata === null ? null : (JSON.parse(metadata) as Record<string, unknown>),
        expiresAtMs: numOrNull(r['expires_at_ms']),
        holdEntryId: strOrNull(r['hold_entry_id']),
        reversesEntryId: strOrNull(r['reverses_entry_id']),
        holdStatus: (r['hold_status'] as HoldStatus | null) ?? null,
        reversedByEntryId: strOrNull(r['reversed_by_entry_id']),
        fingerprint: r['fingerprint'] as string,
        createdAtMs: num(r['created_at_ms']),
        hash: r['hash'] as string,
        postings: bySeq.get(seq) ?? [],
      };
    }
  }
}

function migrate(db: SqliteConnection, readonly: boolean): void {
  const current = (): number => {
    const version = Number(db.pragma('user_version', { simple: true }) as bigint);
    if (version > SCHEMA_VERSION) {
      throw new LedgerError('schema_too_new', `The database has schema version ${version}; this settle knows up to ${SCHEMA_VERSION}.`);
    }
    return version;
  };
  if (current() === SCHEMA_VERSION) return;
  invariant(!readonly, 'a read-only database must already be migrated');
  db.transaction(() => {
    // Read again under the write lock: another process may have migrated since (see migrateModule).
    for (let v = current(); v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v] ?? '');
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();
}

function prepareStatements(db: SqliteConnection): Record<string, SqliteStatement> & {
  [K in
    | 'subjectByCode'
    | 'insertSubject'
    | 'accountById'
    | 'insertAccount'
    | 'openDay'
    | 'lastEntry'
    | 'storedEntry'
    | 'postingsOf'
    | 'postingsBetween'
    | 'dataVersion'
    | 'accountWithSide'
    | 'accountState'
    | 'insertHold'
    | 'resolveHold'
    | 'insertReversal']: SqliteStatement;
} {
  return {
    subjectByCode: db.prepare('SELECT * FROM subjects WHERE code = ?'),
    insertSubject: db.prepare('INSERT INTO subjects (code, name, type, normal_side) VALUES (?, ?, ?, ?)'),
    accountById: db.prepare('SELECT * FROM accounts WHERE account_id = ?'),
    insertAccount: db.prepare(
      `INSERT INTO accounts (account_id, subject_code, owner_kind, owner_id, currency, status, flags, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id) DO NOTHING`,
    ),
    openDay: db.prepare("SELECT business_date FROM business_days WHERE status = 'open'"),
    lastEntry: db.prepare('SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1'),
    storedEntry: db.prepare(
      `SELECT e.seq, e.entry_id, e.kind, e.fingerprint, e.business_date, e.expires_at_ms, h.status AS hold_status,
         rb.entry_id AS reversed_by_entry_id
       FROM entries e LEFT JOIN holds h ON h.entry_seq = e.seq
       LEFT JOIN reversals r ON r.original_seq = e.seq LEFT JOIN entries rb ON rb.seq = r.reversal_seq
       WHERE e.entry_id = ?`,
    ),
    postingsOf: db.prepare(
      `SELECT p.account_no, a.account_id, p.side, p.amount_minor, p.currency FROM postings p
       JOIN accounts a ON a.account_no = p.account_no WHERE p.entry_seq = ? ORDER BY p.idx`,
    ),
    postingsBetween: db.prepare(
      `SELECT p.entry_seq, p.account_no, a.account_id, p.side, p.amount_minor, p.currency FROM postings p
       JOIN accounts a ON a.account_no = p.account_no WHERE p.entry_seq BETWEEN ? AND ? ORDER BY p.entry_seq, p.idx`,
    ),
    dataVersion: db.prepare('PRAGMA data_version').pluck(),
    accountWithSide: db.prepare('SELECT a.*, s.normal_side FROM accounts a JOIN subjects s ON s.code = a.subject_code WHERE a.account_id = ?'),
    accountState: db
      .prepare(
        `SELECT account_no, account_id, subject_code, currency, status, flags, debits_pending, debits_posted, credits_pending, credits_posted
         FROM accounts WHERE account_id = ?`,
      )
      .raw(true),
    insertHold: db.prepare("INSERT INTO holds (entry_seq, status, expires_at_ms) VALUES (?, 'pending', ?)"),
    resolveHold: db.prepare("UPDATE holds SET status = ?, resolved_by_seq = ? WHERE entry_seq = ? AND status = 'pending'"),
    insertReversal: db.prepare('INSERT INTO reversals (original_seq, reversal_seq) VALUES (?, ?)'),
  };
}
