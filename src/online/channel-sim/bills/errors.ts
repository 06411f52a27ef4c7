// Stable error codes of the simulator's bill writer and its command (settle channel-sim bills). Never
// renamed or reused; each is asserted by a test (errors.test.ts checks that every code in this table
// appears quoted in some test). The hint tells the operator what to do next.

export const BILL_ERROR_CODES = {
  date_invalid: { hint: 'Pass the business date as YYYY-MM-DD, a real calendar day (e.g. --date 2026-11-26).' },
  sim_db_missing: { hint: 'Point --db (or SETTLE_SIM_DB) at the file the running simulator uses; it is created by settle channel-sim.' },
  inject_invalid: {
    hint: 'Write --inject as kind=count pairs separated by commas, kinds drop, extra, amount, status, fee, midnight, duplicate, counts 0–100.',
  },
  seed_invalid: { hint: 'Pass --seed as 1–64 of [A-Za-z0-9._-]; the same seed gives the same troubles.' },
  channel_unknown: { hint: 'Name a channel of the simulator config (settle channel-sim --config), e.g. bank or wallet.' },
  bill_format_unknown: { hint: 'Name one of the bill formats: wechat-trade, alipay-trade, unionpay-zm.' },
  bill_format_missing: { hint: 'Give the channel a bill_format in the simulator config, or pass --format for this run.' },
  bill_account_invalid: { hint: 'Set the channel\u2019s bill_account to an id that fits the format (UnionPay 商户代码: at most 15 digits and letters).' },
  bill_field_too_long: {
    hint: 'A value does not fit its fixed-width field (UnionPay ZM): use shorter channel ids or references, or another bill format.',
  },
  bill_rows_limit: { hint: 'The day has more rows than one bill file may hold; split the channel or raise the limit in bills/limits.ts with a reason.' },
  out_dir_unwritable: { hint: 'Pass --out a folder you can write to (it is created if missing).' },
} as const satisfies Record<string, { readonly hint: string }>;

export type BillErrorCode = keyof typeof BILL_ERROR_CODES;

/** An expected failure of writing a bill: a stable code and a message naming the channel, row or field. */
export class BillError extends Error {
  readonly code: BillErrorCode;
  constructor(code: BillErrorCode, message: string) {
    super(message);
    this.name = 'BillError';
    this.code = code;
  }
  get hint(): string {
    return BILL_ERROR_CODES[this.code].hint;
  }
}
