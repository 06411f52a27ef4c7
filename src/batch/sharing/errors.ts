// Expected failures of profit sharing, with stable codes; the CLI turns them into AbortErrors (exit 1).
//
// share_config_invalid  the sharing section has the wrong shape (unknown key, bad rate string, …)
// share_rule_invalid    a rule names an unknown agent, ISV, merchant or product, its rates sum above 100%,
//                       its tiers overlap, or the agent tree has a cycle
// day_not_closed        the business date has not been cut off yet (its payments can still change)

/** Every stable code with the next step the operator takes (for the error-code table test). */
export const SHARE_ERROR_CODES = {
  share_config_invalid: 'Fix the sharing section of the config (the key named) and run again.',
  share_rule_invalid: 'Fix the sharing section of the config (the rule named) and run again.',
  day_not_closed: 'Close the business date first with settle day cutoff, then share it.',
} as const;

export type ShareErrorCode = keyof typeof SHARE_ERROR_CODES;

export class ShareError extends Error {
  readonly code: ShareErrorCode;
  readonly hint: string;
  constructor(code: ShareErrorCode, message: string, hint: string) {
    super(message);
    this.name = 'ShareError';
    this.code = code;
    this.hint = hint;
  }
}
