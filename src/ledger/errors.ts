// Expected failures of the ledger are values with stable codes. A code is never renamed or reused:
// scripts, the HTTP API and operators' runbooks depend on them. Each code carries the next step to take.

export const LEDGER_ERROR_CODES = {
  // Input shape
  input_invalid: 'Fix the input so it matches the documented format (see README, "ledger post").',
  entry_id_invalid: 'Use an id of 1–128 characters from [A-Za-z0-9._:-].',
  postings_too_few: 'An entry needs at least two postings: one debit and one credit.',
  postings_too_many: 'Split the entry: at most 128 postings are allowed in one entry.',
  currency_unknown: 'Use an ISO 4217 code from the currency table (or a configured virtual coin).',
  amount_invalid: 'Write amounts as plain decimal strings such as "1050" (minor units) or "10.50"; no exponents, signs, spaces or hex.',
  amount_unsafe_number: 'A JSON number above 2^53 cannot be read exactly; send the amount as an integer string.',
  amount_not_positive: 'Every posting amount must be above zero; use the other side instead of a negative amount.',
  amount_precision: 'The amount has more fraction digits than the currency allows; round it first or name a rounding mode.',
  amount_too_large: 'The amount is above the ledger maximum of 2^53-1 minor units per posting; split it.',
  entry_unbalanced: 'Debits must equal credits in each currency; correct the postings.',
  // Accounts
  account_not_found: 'Open the account first (settle init with a config that lists it) or fix the account id.',
  account_frozen: 'The account is frozen; unfreeze it before posting to it.',
  account_closed: 'The account is closed and takes no postings; post to an open account.',
  currency_mismatch: "A posting's currency must be its account's currency; post to the account for that currency.",
  insufficient_funds: 'The account has debits_must_not_exceed_credits set and would go below zero; fund it first.',
  exceeds_debits: 'The account has credits_must_not_exceed_debits set and would go below zero; fund it first.',
  counter_overflow: 'An account counter would pass 2^63-1; this ledger cannot hold that amount.',
  // Idempotency and links
  id_conflict: 'An entry with this id exists with different content; use a new id for a new entry.',
  entry_not_found: 'No entry has this id; check the id (settle ledger journal lists entries).',
  already_reversed: 'This entry has been reversed already; an entry is reversed at most once.',
  reversal_of_pending: 'A pending hold is released by voiding it, not by reversal.',
  reversal_of_hold_action: 'A hold post/void/expire is undone by reversing the posted entry it created, which is itself.',
  hold_not_found: 'No pending hold has this id; check the id.',
  hold_already_posted: 'The hold has been posted already; each hold is posted or voided once.',
  hold_already_voided: 'The hold has been voided already; nothing is reserved any more.',
  hold_expired: 'The hold expired and its funds were (or will be) released; place a new hold.',
  hold_amount_exceeded: 'You can post at most the amount the hold reserved.',
  hold_expiry_invalid: 'A hold needs an expiry in the future.',
  // Business days
  period_closed: 'That business day is closed; post into the open day (settle day status).',
  period_not_open: 'That business day is not open yet; post into the open day (settle day status).',
  no_open_day: 'The ledger has no open business day; run settle init.',
  cutoff_out_of_order: 'Only the open business day can be closed; check settle day status.',
  // Configuration and storage
  config_invalid: 'Fix the config file: the message names the key; unknown keys are refused, not ignored.',
  config_unknown_subject: 'An account names a subject the chart does not have; add the subject or fix the code.',
  config_conflict: 'The database already has this subject or account with different attributes; change the id.',
  schema_too_new: 'The database was written by a newer settle; upgrade settle before opening it.',
  db_not_found: 'No database at that path; run settle init first or pass --db.',
  db_unreadable: 'The file is not a settle database or cannot be opened; check --db and the file permissions.',
  db_busy: 'Another process held the database’s write lock for longer than this command waits; its open transaction was rolled back. Run it again (batch commands are idempotent per date).',
} as const;

export type LedgerErrorCode = keyof typeof LEDGER_ERROR_CODES;

export interface LedgerFailure {
  readonly ok: false;
  readonly code: LedgerErrorCode;
  readonly message: string;
}

export function failure(code: LedgerErrorCode, detail: string): LedgerFailure {
  return { ok: false, code, message: `${detail} ${LEDGER_ERROR_CODES[code]}` };
}

/** Thrown where a failure cannot be returned as a value (configuration, opening a database). */
export class LedgerError extends Error {
  readonly code: LedgerErrorCode;
  constructor(code: LedgerErrorCode, detail: string) {
    super(failure(code, detail).message);
    this.name = 'LedgerError';
    this.code = code;
  }

  static from(f: LedgerFailure): LedgerError {
    const e = new LedgerError(f.code, '');
    e.message = f.message;
    return e;
  }
}

/** A broken invariant: a bug, never an operator's mistake. */
export class LedgerBug extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LedgerBug';
  }
}

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new LedgerBug(message);
}
