// Stable error codes of reconciliation (fetch, parse, import, match, resolve). Never renamed or reused;
// each has a test that triggers it (test/error-codes.test.ts checks). The hint tells the operator what to do.

export const RECON_ERROR_CODES = {
  // ---- parse ----
  format_unknown: { hint: 'Name one of the formats listed by `settle recon parse --help`, or map a generic CSV in the config.' },
  file_unreadable: { hint: 'Check the path and that this user may read the file; fetch it again if it was moved.' },
  too_many_rows: { hint: 'The file has more rows than the row limit; ask the channel for a split file, or raise the limit for this run if it is genuine.' },
  file_truncated: { hint: 'The file ends before its summary or footer: download it again (settle recon fetch) and parse the new copy.' },
  encoding_invalid: { hint: 'The bytes are not valid in the format\'s encoding (UTF-8 for WeChat, GBK for Alipay and UnionPay); check the format name or fetch the file again.' },
  header_mismatch: { hint: 'The header does not match the format: check --format (or the channel\'s format in the config), or fix the generic CSV mapping\'s column names.' },
  row_malformed: { hint: 'A row has the wrong number of cells, a bad date or a missing key; the file is damaged or not this format: fetch it again or ask the channel.' },
  amount_invalid: { hint: 'An amount is not a plain decimal of the format\'s scale (no exponent, sign where not expected, or extra decimals); fetch the file again or ask the channel.' },
  status_unknown: { hint: 'A status or transaction type is not one the parser knows; ask the channel what it means before mapping it (generic CSV: add it to status_values).' },
  file_totals_mismatch: { hint: 'The file\'s own totals disagree with its rows, so it is incomplete or altered: do not import it; fetch it again or ask the channel for a corrected file.' },
  currency_unknown: { hint: 'The file (or --currency / the channel\'s currency) names a currency settle does not know; check the format and the config.' },
  settlement_date_missing: { hint: 'UnionPay ZM times have no year: keep the file name INN{YYMMDD}88ZM_… or pass --settlement-date YYYY-MM-DD.' },
  mapping_invalid: { hint: 'Fix the generic CSV mapping (recon.channels[].mapping in the config, or the --mapping file): see `settle recon parse --help` for its keys.' },
  zip_invalid: { hint: 'The zip is truncated or corrupt (bad directory, CRC or compressed data, unsupported method): download it again.' },
  zip_limits_exceeded: { hint: 'The zip has more entries, more bytes or a higher compression ratio than the limits allow; it is not a statement archive we expect, so do not import it.' },
  zip_entry_unsafe: { hint: 'The zip holds an entry with an unsafe name (.., absolute, backslash), a nested zip or an encrypted entry; refuse it and ask the channel.' },
  // ---- fetch ----
  channel_not_configured: { hint: 'Add the channel to recon.channels in the config, or name one that is there.' },
  source_invalid: { hint: 'Fix the channel\u2019s `source` in the config (see src/batch/recon/fetch/README.md); unknown keys are refused.' },
  source_secret_missing: { hint: 'Set the environment variable or create the file the source names for its password, key or header.' },
  path_unsafe: { hint: 'Fix the source\u2019s path_template: a relative path without `..`, `.`, `//`, backslashes or control characters.' },
  file_not_ready: { hint: 'The channel has not published the file yet: run again later, or raise deadline_s to keep polling longer.' },
  fetch_auth_failed: { hint: 'Check the username and the password, key or token the source names; the server refused them.' },
  host_key_mismatch: { hint: 'Confirm the server\u2019s host key with the channel out of band, then update host_key_sha256; nothing was sent.' },
  file_too_large: { hint: 'The file is above bytes_max: check it is the right file, then raise bytes_max for the source.' },
  fetch_timeout: { hint: 'The server stopped answering: check it is up and reachable, or raise timeout_ms for the source.' },
  fetch_failed: { hint: 'Read the message (connection refused, TLS, protocol error), fix the server or the source, and run again.' },
  // ---- import, match, resolve ----
  date_invalid: { hint: 'Give the business date as YYYY-MM-DD, a real calendar day (the date the channel\u2019s file is for).' },
  file_wrong_channel_or_date: { hint: 'The file is for another date or merchant than asked: check --channel and --date, or fetch the right file (settle recon fetch).' },
  statement_not_imported: { hint: 'Import the channel\u2019s file for that date first: settle recon import --channel C --date D FILE (or settle recon run).' },
  discrepancy_not_found: { hint: 'Use an id from `settle recon list` (items of the current match of each channel and date).' },
  discrepancy_already_resolved: { hint: 'It was resolved before (see `settle recon show ID`); a resolution is final — post a correcting ledger entry if it was wrong.' },
  discrepancy_superseded: { hint: 'A newer match of that channel and date replaced this item: resolve the item `settle recon list --date D` shows now.' },
  resolve_action_invalid: { hint: 'That action does not apply to this kind of discrepancy: see `settle recon resolve --help` for which actions fit which type.' },
  reason_required: { hint: 'Say why with --reason "…" (1 to 1000 characters): every decision is recorded with who, when and why.' },
  approval_required: { hint: 'A write-off needs the approver\u2019s words: pass --approval "approved by … on …" (1 to 1000 characters).' },
  report_unwritable: { hint: 'Give --out a folder this user may write to (it is created when missing).' },
} as const satisfies Record<string, { readonly hint: string }>;

export type ReconErrorCode = keyof typeof RECON_ERROR_CODES;

/** An expected failure of a reconciliation step: a stable code and a message naming the file, line or item. */
export class ReconError extends Error {
  readonly code: ReconErrorCode;
  constructor(code: ReconErrorCode, message: string) {
    super(message);
    this.name = 'ReconError';
    this.code = code;
  }
  get hint(): string {
    return RECON_ERROR_CODES[this.code].hint;
  }
}

/** A failure as a worker thread posts it: a ReconError keeps its code across the thread boundary. */
export function failureMessage(e: unknown): { readonly t: 'error'; readonly code: ReconErrorCode | null; readonly message: string } {
  if (e instanceof ReconError) return { t: 'error', code: e.code, message: e.message };
  return { t: 'error', code: null, message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}
