// Error codes of the night chain, each with what the operator does next. Stable: never renamed or reused.

export const NIGHT_ERROR_CODES = {
  night_step_failed: 'A step failed and the steps that need it did not run: read its line (and `settle runs --date D`), fix the cause, then run `settle run night-chain --date D` again — finished steps are passed over.',
  alert_secret_missing: 'night.alert.secret_env names an environment variable that is not set: set it, or drop secret_env to send alerts unsigned.',
  channel_unknown: 'night.channels lists a channel that recon.channels does not configure: add its source to recon.channels or remove it.',
  chain_invalid: 'A chain names a step twice or a step depends on one that does not come before it: a bug in the chain definition, report it.',
} as const;
