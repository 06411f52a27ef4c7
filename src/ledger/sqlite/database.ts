// Opening the one SQLite database file settle keeps, and applying each module's migrations.
// The ledger and the online core share one connection so that an order change and its journal entry
// commit in one transaction; this module is the only place a connection is made (better-sqlite3 stays
// inside src/ledger/sqlite/), and adapters of other layers receive the connection as a typed handle.

import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { invariant, LedgerError } from '../errors.js';

/** A connection to the settle database, for store adapters (never for services). */
export type SqliteConnection = Database.Database;
export type SqliteStatement = Database.Statement;

export type SynchronousMode = 'FULL' | 'NORMAL' | 'OFF';

export interface SqliteOptions {
  /** Create the file if it does not exist (settle init); otherwise a missing file is db_not_found. */
  readonly create?: boolean;
  readonly synchronous?: SynchronousMode;
  readonly busyTimeoutMs?: number;
  readonly readonly?: boolean;
}

/** Opens the file with WAL, synchronous=FULL by default, a busy timeout and bigint integer reads. */
export function openSqlite(path: string, options: SqliteOptions = {}): SqliteConnection {
  if (path !== ':memory:' && !options.create && !existsSync(path)) {
    throw new LedgerError('db_not_found', `No database at ${path}.`);
  }
  let db: SqliteConnection;
  try {
    db = new Database(path, { readonly: options.readonly ?? false });
  } catch (e) {
    throw new LedgerError('db_unreadable', `Cannot open ${path}: ${(e as Error).message}.`);
  }
  try {
    db.defaultSafeIntegers(true);
    db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    }
    db.pragma('foreign_keys = ON');
    // Savepoints and sorts spill to memory, not to temp files.
    db.pragma('temp_store = MEMORY');
    return db;
  } catch (e) {
    db.close();
    throw asOpenError(e, path);
  }
}

/** SQLite's "this is not a database" becomes an operator error; anything else stays as it is. */
export function asOpenError(e: unknown, path: string): unknown {
  const code = (e as { code?: unknown }).code;
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new LedgerError('db_unreadable', `${path} is not a SQLite database (${(e as Error).message}).`);
  }
  return e;
}

/**
 * Forward-only migrations of one module (e.g. "online"), versioned in the table schema_migrations.
 * A database whose version for the module is above what this build knows is refused (schema_too_new).
 * The ledger keeps its version in PRAGMA user_version (see store.ts), as it always has.
 */
export function migrateModule(db: SqliteConnection, module: string, migrations: readonly string[]): void {
  const current = (): number => {
    if (!hasTable(db, 'schema_migrations')) return 0;
    const row = db.prepare('SELECT version FROM schema_migrations WHERE module = ?').get(module) as { version: bigint } | undefined;
    const version = row ? Number(row.version) : 0;
    if (version > migrations.length) {
      throw new LedgerError('schema_too_new', `The database has ${module} schema version ${version}; this settle knows up to ${migrations.length}.`);
    }
    return version;
  };
  // Up to date: nothing is written.
  if (current() === migrations.length) return;
  db.transaction(() => {
    // Read again under the write lock: another process (the night chain starts two steps at once) may have
    // migrated between the read above and this transaction, and running its migrations twice fails.
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT');
    for (let v = current(); v < migrations.length; v++) {
      const sql = migrations[v];
      invariant(sql !== undefined, `migration ${module}/${v + 1} is missing`);
      db.exec(sql);
    }
    db.prepare('INSERT INTO schema_migrations (module, version) VALUES (?, ?) ON CONFLICT (module) DO UPDATE SET version = excluded.version').run(
      module,
      migrations.length,
    );
  }).immediate();
}

/** A per-adapter cache of prepared statements, keyed by their SQL: each is prepared once. */
export function statementCache(db: SqliteConnection): (sql: string) => SqliteStatement {
  const cache = new Map<string, SqliteStatement>();
  return (sql) => {
    let s = cache.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
}

/**
 * `values` (`width` to a row, rows in order) as multi-row INSERTs of at most `rowsMax` rows each: one call
 * binds many rows, where a statement per row spends most of its time around the row. `statementFor` gives
 * the prepared statement of an SQL text (statementCache); `tail` follows the VALUES (an upsert's ON CONFLICT).
 */
export function insertRows(statementFor: (sql: string) => SqliteStatement, into: string, width: number, values: readonly unknown[], rowsMax: number, tail = ''): void {
  const rows = values.length / width;
  const row = `(${Array<string>(width).fill('?').join(', ')})`;
  for (let at = 0; at < rows; at += rowsMax) {
    const n = Math.min(rowsMax, rows - at);
    const sql = `INSERT INTO ${into} VALUES ${Array<string>(n).fill(row).join(', ')}${tail === '' ? '' : ` ${tail}`}`;
    statementFor(sql).run(at === 0 && n === rows ? values : values.slice(at * width, (at + n) * width));
  }
}

/** hasTable's query, prepared once per connection (a share run asks once per merchant of the config: preparing it each time was 0.2 s for 10,000). */
const tableQueries = new WeakMap<SqliteConnection, SqliteStatement>();

/** Whether the file has the table (another module's tables exist only once that module has opened it). */
export function hasTable(db: SqliteConnection, name: string): boolean {
  let query = tableQueries.get(db);
  if (query === undefined) {
    query = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    tableQueries.set(db, query);
  }
  return query.get(name) !== undefined;
}
