// Schema of reconciliation (module "recon" in schema_migrations). Amounts are INTEGER *_minor; a fee
// keeps the file's own text (five decimals for WeChat), never a float.
//
// recon_files    one row per imported version of a channel's file for a date (staging until committed)
// recon_lines    (migration 1 only) the file's transaction lines, one row each; migration 2 packs them
// recon_line_blocks  the file's transaction lines, packed: one row per block of consecutive lines (binary since
//                    migration 3, JSON text before; line-block.ts)
// recon_runs     one match of a file version; exactly one run per channel and date is current
// recon_items    every outcome of a run but plain matched pairs: a matched one narrow, an exception with both sides
// recon_pair_blocks  plain matched pairs of a run (a line of the run's file and one of our records), packed
// recon_outcomes (view) every outcome of every run, a row each: recon_items and the packed pairs (item_id NULL)
// recon_suspense items waiting for a late partner (存疑), opened and closed by runs

export const RECON_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE recon_files (
    file_id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL, business_date TEXT NOT NULL, version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('staging', 'imported')),
    sha256 TEXT NOT NULL, format TEXT NOT NULL, source_name TEXT,
    rows INTEGER NOT NULL DEFAULT 0, payments INTEGER NOT NULL DEFAULT 0, refunds INTEGER NOT NULL DEFAULT 0,
    payment_amount_minor INTEGER NOT NULL DEFAULT 0, refund_amount_minor INTEGER NOT NULL DEFAULT 0,
    fee_total TEXT, totals_check TEXT NOT NULL DEFAULT 'absent', imported_at_ms INTEGER NOT NULL,
    UNIQUE (channel, business_date, version)
  ) STRICT;
  CREATE INDEX recon_files_sha ON recon_files (channel, business_date, sha256);

  CREATE TABLE recon_lines (
    file_id INTEGER NOT NULL, seq INTEGER NOT NULL, line INTEGER NOT NULL, kind TEXT NOT NULL,
    channel_txn_id TEXT NOT NULL, original_channel_txn_id TEXT, merchant_order_no TEXT, merchant_refund_no TEXT,
    amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, occurred_at TEXT NOT NULL, fee TEXT,
    PRIMARY KEY (file_id, seq)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE recon_runs (
    run_id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL, business_date TEXT NOT NULL, file_id INTEGER NOT NULL REFERENCES recon_files (file_id),
    status TEXT NOT NULL CHECK (status IN ('running', 'current', 'superseded')),
    started_at_ms INTEGER NOT NULL, finished_at_ms INTEGER,
    lines INTEGER NOT NULL DEFAULT 0, records INTEGER NOT NULL DEFAULT 0, counts TEXT
  ) STRICT;
  CREATE UNIQUE INDEX recon_runs_one_current ON recon_runs (channel, business_date) WHERE status = 'current';
  CREATE INDEX recon_runs_date ON recon_runs (business_date, channel);

  CREATE TABLE recon_items (
    item_id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('matched', 'suspense', 'discrepancy')),
    type TEXT, differences TEXT, note TEXT, kind TEXT NOT NULL, identity TEXT,
    file_id INTEGER, line_seq INTEGER,
    channel_txn_id TEXT, order_key TEXT, channel_amount_minor INTEGER, channel_currency TEXT, channel_status TEXT,
    channel_fee TEXT, occurred_at TEXT,
    record_source TEXT, record_id TEXT, merchant_id TEXT, payment_id TEXT, ledger_txn_id TEXT,
    ledger_amount_minor INTEGER, ledger_currency TEXT, ledger_status TEXT, ledger_cost_minor INTEGER, ledger_business_date TEXT,
    channel_suspense_id INTEGER, ledger_suspense_id INTEGER, until_date TEXT,
    status TEXT CHECK (status IN ('open', 'resolved', 'superseded')),
    action TEXT, resolved_by TEXT, resolved_at_ms INTEGER, reason TEXT, approval TEXT, entry_ids TEXT, carried_from_item_id INTEGER
  ) STRICT;
  -- Only the exceptions are indexed: a run of a million matched lines writes no index entries for them.
  CREATE INDEX recon_items_exceptions ON recon_items (run_id, outcome) WHERE outcome != 'matched';
  CREATE INDEX recon_items_pool ON recon_items (run_id) WHERE channel_suspense_id IS NOT NULL OR ledger_suspense_id IS NOT NULL;
  CREATE INDEX recon_items_discrepancies ON recon_items (status, run_id) WHERE outcome = 'discrepancy';

  CREATE TABLE recon_suspense (
    suspense_id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL, side TEXT NOT NULL CHECK (side IN ('channel', 'ledger')),
    since_date TEXT NOT NULL, until_date TEXT NOT NULL,
    opened_item_id INTEGER NOT NULL, closed_date TEXT, closed_item_id INTEGER
  ) STRICT;
  CREATE INDEX recon_suspense_channel ON recon_suspense (channel, since_date);
  `,
  // 2: a day's million lines and matched pairs as a few hundred packed rows instead of a million rows each
  // (a row per line or pair cost more than the whole rest of a run). A block's JSON is an array with one
  // array per line: [line, kind, channel_txn_id, original_channel_txn_id, merchant_order_no,
  // merchant_refund_no, amount_minor as a decimal string, currency, status, occurred_at, fee]; a pair
  // block's one array per pair: [kind p|r, line_seq, record_source p|r|c, record_id]. Lines imported
  // before are packed the same way.
  `
  CREATE TABLE recon_line_blocks (
    file_id INTEGER NOT NULL, first_seq INTEGER NOT NULL, rows INTEGER NOT NULL, lines TEXT NOT NULL,
    PRIMARY KEY (file_id, first_seq)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO recon_line_blocks (file_id, first_seq, rows, lines)
    SELECT file_id, MIN(seq), COUNT(*),
           json_group_array(json_array(line, kind, channel_txn_id, original_channel_txn_id, merchant_order_no, merchant_refund_no,
                                       CAST(amount_minor AS TEXT), currency, status, occurred_at, fee) ORDER BY seq)
    FROM recon_lines GROUP BY file_id, (seq - 1) / 2000;
  DROP TABLE recon_lines;

  CREATE TABLE recon_pair_blocks (
    block_id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, file_id INTEGER NOT NULL, rows INTEGER NOT NULL, pairs TEXT NOT NULL
  ) STRICT;
  CREATE INDEX recon_pair_blocks_run ON recon_pair_blocks (run_id);

  CREATE VIEW recon_outcomes AS
    SELECT item_id, run_id, outcome, type, note, kind, file_id, line_seq, record_source, record_id, status FROM recon_items
    UNION ALL
    SELECT NULL, b.run_id, 'matched', NULL, NULL, CASE p.value ->> 0 WHEN 'r' THEN 'refund' ELSE 'payment' END, b.file_id, p.value ->> 1,
           CASE p.value ->> 2 WHEN 'r' THEN 'refund' WHEN 'c' THEN 'capture' ELSE 'payment' END, p.value ->> 3, NULL
    FROM recon_pair_blocks b, json_each(b.pairs) p;
  `,
  // 3: a block of lines stored binary (the packed columns as one blob, line-block.ts) instead of JSON text, so
  // neither the parsing thread nor the importing one makes or reads JSON; `lines` takes both (blocks stored
  // before stay JSON text and read as before).
  `
  CREATE TABLE recon_line_blocks_3 (
    file_id INTEGER NOT NULL, first_seq INTEGER NOT NULL, rows INTEGER NOT NULL, lines ANY NOT NULL,
    PRIMARY KEY (file_id, first_seq)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO recon_line_blocks_3 (file_id, first_seq, rows, lines) SELECT file_id, first_seq, rows, lines FROM recon_line_blocks;
  DROP TABLE recon_line_blocks;
  ALTER TABLE recon_line_blocks_3 RENAME TO recon_line_blocks;
  `,
];
