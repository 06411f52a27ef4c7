// Two kinds of failure reach the operator (after Shopify CLI): an AbortError is something the operator
// must act on (a message and the next step, exit 1); anything else is a bug (exit 70).

export const EXIT = { ok: 0, abort: 1, findings: 2, bug: 70 } as const;

export class AbortError extends Error {
  readonly code: string;
  readonly nextStep: string | undefined;
  constructor(code: string, message: string, nextStep?: string) {
    super(message);
    this.name = 'AbortError';
    this.code = code;
    this.nextStep = nextStep;
  }
}
