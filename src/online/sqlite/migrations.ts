// Schema of the online core (module "online" in schema_migrations). Amounts are INTEGER *_minor.

export const ONLINE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE payments (
    payment_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, merchant_order_no TEXT NOT NULL, product TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL, status TEXT NOT NULL,
    channel_id TEXT, channel_txn_id TEXT, payer_id TEXT, agreement_id TEXT, description TEXT, notify_url TEXT,
    fee_minor INTEGER NOT NULL, cost_minor INTEGER NOT NULL,
    refunded_minor INTEGER NOT NULL DEFAULT 0, refund_reserved_minor INTEGER NOT NULL DEFAULT 0,
    business_date TEXT, failure_code TEXT, failure_message TEXT, redirect_url TEXT, expires_at_ms INTEGER, route_note TEXT,
    created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
    UNIQUE (merchant_id, merchant_order_no),
    CHECK (refunded_minor + refund_reserved_minor <= amount_minor)
  ) STRICT;
  CREATE INDEX payments_status ON payments (status, updated_at_ms) WHERE status = 'processing';

  CREATE TABLE refunds (
    refund_id TEXT PRIMARY KEY, payment_id TEXT NOT NULL REFERENCES payments(payment_id), merchant_id TEXT NOT NULL,
    merchant_refund_no TEXT NOT NULL, amount_minor INTEGER NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL,
    status TEXT NOT NULL, channel_txn_id TEXT, fee_returned_minor INTEGER NOT NULL, cost_returned_minor INTEGER NOT NULL,
    failure_code TEXT, failure_message TEXT, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
    UNIQUE (merchant_id, merchant_refund_no)
  ) STRICT;
  CREATE INDEX refunds_payment ON refunds (payment_id);
  CREATE INDEX refunds_status ON refunds (status, updated_at_ms) WHERE status = 'processing';

  CREATE TABLE preauths (
    preauth_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, merchant_order_no TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL, status TEXT NOT NULL,
    channel_id TEXT, channel_txn_id TEXT, payer_id TEXT, hold_entry_id TEXT, captured_minor INTEGER NOT NULL DEFAULT 0,
    capture_id TEXT, expires_at_ms INTEGER NOT NULL, failure_code TEXT, failure_message TEXT,
    created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
    UNIQUE (merchant_id, merchant_order_no)
  ) STRICT;
  CREATE INDEX preauths_status ON preauths (status, updated_at_ms) WHERE status IN ('processing', 'authorized');

  CREATE TABLE captures (
    capture_id TEXT PRIMARY KEY, preauth_id TEXT NOT NULL REFERENCES preauths(preauth_id), merchant_id TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL, status TEXT NOT NULL,
    fee_minor INTEGER NOT NULL, cost_minor INTEGER NOT NULL, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE agreements (
    agreement_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, payer_id TEXT NOT NULL, channel_id TEXT NOT NULL,
    status TEXT NOT NULL, agreement_token TEXT, account_hint TEXT, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX agreements_status ON agreements (status, updated_at_ms) WHERE status = 'processing';

  CREATE TABLE payouts (
    payout_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, merchant_payout_no TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL, status TEXT NOT NULL, channel_id TEXT NOT NULL,
    channel_txn_id TEXT, payee_name TEXT NOT NULL, payee_account TEXT NOT NULL, failure_code TEXT, failure_message TEXT,
    created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
    UNIQUE (merchant_id, merchant_payout_no)
  ) STRICT;
  CREATE INDEX payouts_status ON payouts (status, updated_at_ms) WHERE status = 'processing';

  CREATE TABLE topups (
    topup_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, merchant_topup_no TEXT NOT NULL, payer_id TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0), currency TEXT NOT NULL, status TEXT NOT NULL, channel_id TEXT NOT NULL,
    channel_txn_id TEXT, failure_code TEXT, failure_message TEXT, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
    UNIQUE (merchant_id, merchant_topup_no)
  ) STRICT;
  CREATE INDEX topups_status ON topups (status, updated_at_ms) WHERE status = 'processing';

  CREATE TABLE idempotency_keys (
    merchant_id TEXT NOT NULL, idem_key TEXT NOT NULL, request_hash TEXT NOT NULL, state TEXT NOT NULL,
    resource_id TEXT, http_status INTEGER, response_body TEXT, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, idem_key)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE channel_notifications (
    channel_id TEXT NOT NULL, notification_id TEXT NOT NULL, received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (channel_id, notification_id)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, aggregate_id TEXT NOT NULL, merchant_id TEXT, payload TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL, delivered_at_ms INTEGER
  ) STRICT;
  CREATE INDEX outbox_undelivered ON outbox (seq) WHERE delivered_at_ms IS NULL;
  `,
  // 2: an operation in flight at the channel (a void or a capture) blocks competing ones until it ends.
  `
  ALTER TABLE payments ADD COLUMN pending_op TEXT;
  ALTER TABLE preauths ADD COLUMN pending_op TEXT;
  `,
  // 3: recovery answers requests left in flight (the daemon died, or the channel's answer was unknown).
  `
  CREATE INDEX idempotency_in_flight ON idempotency_keys (resource_id) WHERE state = 'in_flight';
  CREATE INDEX payments_pending_op ON payments (updated_at_ms) WHERE pending_op IS NOT NULL;
  CREATE INDEX preauths_pending_op ON preauths (updated_at_ms) WHERE pending_op IS NOT NULL;
  `,
  // 4: routing and risk — every order keeps the channels considered and the risk decision; challenges
  // (one-time codes, stored hashed); each channel's breaker state as the daemon last saw it.
  `
  ALTER TABLE payments ADD COLUMN route_json TEXT;
  ALTER TABLE payments ADD COLUMN risk_json TEXT;
  CREATE INDEX payments_payer ON payments (payer_id) WHERE payer_id IS NOT NULL;
  CREATE INDEX payments_channel_day ON payments (business_date, channel_id);
  CREATE INDEX payments_waiting ON payments (expires_at_ms) WHERE status IN ('processing', 'requires_verification') AND expires_at_ms IS NOT NULL;

  CREATE TABLE risk_decisions (
    decision_id INTEGER PRIMARY KEY, payment_id TEXT NOT NULL, merchant_id TEXT NOT NULL, decision TEXT NOT NULL,
    hits TEXT NOT NULL, product TEXT NOT NULL, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL,
    payer_id TEXT, card_key TEXT, device_id TEXT, ip TEXT, business_date TEXT NOT NULL, created_at_ms INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX risk_decisions_time ON risk_decisions (created_at_ms);
  CREATE INDEX risk_decisions_payment ON risk_decisions (payment_id);

  CREATE TABLE risk_challenges (
    payment_id TEXT PRIMARY KEY REFERENCES payments(payment_id), merchant_id TEXT NOT NULL, code_hash TEXT NOT NULL, salt TEXT NOT NULL,
    phone_hint TEXT NOT NULL, expires_at_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, attempts_max INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'verified', 'failed', 'expired')),
    created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE channel_health (
    channel_id TEXT PRIMARY KEY, state TEXT NOT NULL, since_ms INTEGER NOT NULL, calls INTEGER NOT NULL, failures INTEGER NOT NULL,
    reason TEXT NOT NULL, updated_at_ms INTEGER NOT NULL
  ) STRICT;
  `,
];
