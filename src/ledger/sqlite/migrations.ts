// Forward-only schema migrations. The schema version is SQLite's user_version; a database written by
// a newer settle (a version above the last migration here) is refused, never silently downgraded.

export const MIGRATIONS: readonly string[] = [
  // 1: the ledger core
  `
  CREATE TABLE subjects (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('asset','liability','equity','revenue','expense')),
    normal_side TEXT NOT NULL CHECK (normal_side IN ('debit','credit'))
  ) STRICT;

  CREATE TABLE accounts (
    account_no      INTEGER PRIMARY KEY,
    account_id      TEXT NOT NULL UNIQUE,
    subject_code    TEXT NOT NULL REFERENCES subjects(code),
    owner_kind      TEXT NOT NULL,
    owner_id        TEXT NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active','frozen','closed')),
    flags           INTEGER NOT NULL,
    debits_pending  INTEGER NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted   INTEGER NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending INTEGER NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted  INTEGER NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    created_at_ms   INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX accounts_owner ON accounts (owner_kind, owner_id);

  CREATE TABLE entries (
    seq            INTEGER PRIMARY KEY,
    entry_id       TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL CHECK (kind IN ('posted','pending','post_pending','void_pending','expire_pending')),
    business_date  TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    reference      TEXT,
    memo           TEXT,
    metadata       TEXT,
    expires_at_ms  INTEGER,
    hold_seq       INTEGER REFERENCES entries(seq),
    reverses_seq   INTEGER REFERENCES entries(seq),
    fingerprint    TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    hash           TEXT NOT NULL
  ) STRICT;
  CREATE INDEX entries_business_date ON entries (business_date, seq);

  CREATE TABLE postings (
    entry_seq    INTEGER NOT NULL REFERENCES entries(seq),
    idx          INTEGER NOT NULL,
    account_no   INTEGER NOT NULL REFERENCES accounts(account_no),
    side         TEXT NOT NULL CHECK (side IN ('debit','credit')),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL,
    PRIMARY KEY (entry_seq, idx)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX postings_account ON postings (account_no, entry_seq);

  -- Entries and postings are immutable: corrections are new entries.
  CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'entries are immutable'); END;
  CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'entries are immutable'); END;
  CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings BEGIN SELECT RAISE(ABORT, 'postings are immutable'); END;
  CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings BEGIN SELECT RAISE(ABORT, 'postings are immutable'); END;

  -- The state that changes after an entry is written lives beside it.
  CREATE TABLE holds (
    entry_seq       INTEGER PRIMARY KEY REFERENCES entries(seq),
    status          TEXT NOT NULL CHECK (status IN ('pending','posted','voided','expired')),
    expires_at_ms   INTEGER NOT NULL,
    resolved_by_seq INTEGER UNIQUE REFERENCES entries(seq)
  ) STRICT;
  CREATE INDEX holds_pending_expiry ON holds (expires_at_ms) WHERE status = 'pending';

  CREATE TABLE reversals (
    original_seq INTEGER PRIMARY KEY REFERENCES entries(seq),
    reversal_seq INTEGER NOT NULL UNIQUE REFERENCES entries(seq)
  ) STRICT;

  CREATE TABLE business_days (
    business_date TEXT PRIMARY KEY,
    status        TEXT NOT NULL CHECK (status IN ('open','closed')),
    opened_at_ms  INTEGER NOT NULL,
    closed_at_ms  INTEGER
  ) STRICT;
  CREATE UNIQUE INDEX business_days_one_open ON business_days (status) WHERE status = 'open';

  CREATE TABLE day_balances (
    business_date   TEXT NOT NULL REFERENCES business_days(business_date),
    account_no      INTEGER NOT NULL REFERENCES accounts(account_no),
    opening_debits  INTEGER NOT NULL,
    opening_credits INTEGER NOT NULL,
    debits          INTEGER NOT NULL,
    credits         INTEGER NOT NULL,
    closing_debits  INTEGER NOT NULL,
    closing_credits INTEGER NOT NULL,
    debits_pending  INTEGER NOT NULL,
    credits_pending INTEGER NOT NULL,
    PRIMARY KEY (business_date, account_no)
  ) STRICT, WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
