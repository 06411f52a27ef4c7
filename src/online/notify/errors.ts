// Stable codes of the notification dispatcher. Never renamed or reused: operators' runbooks and the
// attempts recorded in the database carry them. Two kinds share the table:
//   - why one delivery attempt failed (stored on the attempt, shown by `settle notify show`);
//   - why an operator command was refused (`settle notify …`, `settle dispatch`).

export const NOTIFY_ERROR_CODES = {
  // ---- an attempt ----
  endpoint_timeout: { hint: 'The merchant endpoint did not answer within timeout_ms; it is retried on the schedule. Ask the merchant to answer 2xx at once and work afterwards.' },
  endpoint_unreachable: { hint: 'The connection to the merchant endpoint failed (refused, reset, DNS); it is retried on the schedule. Check the notify URL and the merchant\u2019s server.' },
  endpoint_redirected: { hint: 'The merchant endpoint answered 3xx; redirects are never followed. Ask the merchant for the final URL and update notify_url.' },
  endpoint_http_error: { hint: 'The merchant endpoint answered 4xx/5xx; it is retried on the schedule. The attempt shows the status and the start of the answer.' },
  notify_secret_missing: {
    hint: 'There is no secret to sign with: the merchant has no HMAC key (RSA only) and no notification secret is configured (online.notify.secrets).',
  },
  notify_url_invalid: { hint: 'The notify URL is not an http(s) URL; such a delivery is marked failed at once. Fix the URL and re-send it.' },
  notify_url_forbidden: {
    hint: 'The notify URL points at a loopback, private, link-local or otherwise non-public address; such a delivery is marked failed at once. Ask the merchant for a public URL, or set online.notify.allow_private_networks on a closed network.',
  },
  notify_body_too_large: { hint: 'The event is larger than a notification may be; it is marked failed. Report it: events are API views and should be small.' },
  dispatcher_stopped: { hint: 'The dispatcher stopped while the notification was in flight; it is re-sent at once on the next start (the merchant may see it twice).' },
  // ---- an operator command ----
  delivery_not_found: { hint: 'No notification has this event id; list them with settle notify list.' },
  delivery_not_failed: { hint: 'Only a failed delivery can be re-sent: a pending one is already queued and a succeeded one was delivered.' },
  notify_input_invalid: { hint: 'Fix the option the message names (see settle notify --help).' },
  event_sink_failed: {
    hint: 'The internal event sink cannot be written (its folder is missing, not writable, or the disk is full); fix it: the outbox waits meanwhile and nothing is lost.',
  },
  notify_secret_unavailable: {
    hint: 'A notification secret named in online.notify.secrets cannot be read: set the environment variable, or make the file readable (one line).',
  },
} as const satisfies Record<string, { readonly hint: string }>;

export type NotifyErrorCode = keyof typeof NOTIFY_ERROR_CODES;
/** The codes an attempt can fail with. */
export type AttemptErrorCode =
  | 'endpoint_timeout'
  | 'endpoint_unreachable'
  | 'endpoint_redirected'
  | 'endpoint_http_error'
  | 'notify_secret_missing'
  | 'notify_url_invalid'
  | 'notify_url_forbidden'
  | 'notify_body_too_large'
  | 'dispatcher_stopped';

/** An expected failure of an operator command about notifications. */
export class NotifyError extends Error {
  readonly code: NotifyErrorCode;
  constructor(code: NotifyErrorCode, detail: string) {
    super(detail);
    this.name = 'NotifyError';
    this.code = code;
  }
  get hint(): string {
    return NOTIFY_ERROR_CODES[this.code].hint;
  }
}
