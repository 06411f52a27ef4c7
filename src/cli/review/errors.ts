// Stable codes of the interactive views (src/cli/review), with what the operator does next.

export const REVIEW_ERROR_CODES = {
  not_a_terminal: 'recon review is interactive: run it in a terminal, or use settle recon list / recon show / recon resolve in scripts.',
} as const;

export type ReviewErrorCode = keyof typeof REVIEW_ERROR_CODES;
