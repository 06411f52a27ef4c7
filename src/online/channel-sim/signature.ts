// The simulator's message signature, both ways: requests from the daemon, responses and notifications
// from the simulator. HMAC-SHA256 with the channel's shared secret over `timestamp + "\n" + rawBody`,
// hex encoded; the timestamp is Unix seconds and is refused when it is further than 300 s from now,
// so a captured message cannot be replayed later.

import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIM_HEADERS = {
  /** Unix time in seconds when the message was signed. */
  timestamp: 'x-sim-timestamp',
  /** Lower-case hex HMAC-SHA256 of `timestamp + "\n" + rawBody` with the channel's secret. */
  signature: 'x-sim-signature',
  /** The channel that sent a notification (informative; the signature is what counts). */
  channel: 'x-sim-channel',
} as const;

/** A signed message older or newer than this is refused (clock skew plus transit). */
export const SIGNATURE_AGE_S_MAX = 300;

export function simSignature(secret: string, timestampS: number | string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestampS}\n`).update(rawBody).digest('hex');
}

/** The two headers that sign `rawBody` now. */
export function signedHeaders(secret: string, rawBody: Buffer | string, nowMs: number): Record<string, string> {
  const timestampS = Math.floor(nowMs / 1000);
  return { [SIM_HEADERS.timestamp]: String(timestampS), [SIM_HEADERS.signature]: simSignature(secret, timestampS, rawBody) };
}

export type SignatureCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: 'signature_missing' | 'signature_stale' | 'signature_invalid'; readonly message: string };

/** Reads a header whatever the case of its name (fetch, fastify and tests spell them differently). */
export function headerValue(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const direct = headers[name];
  const value =
    direct ??
    Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

export function verifySimSignature(
  secret: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  rawBody: Buffer | string,
  nowMs: number,
): SignatureCheck {
  const timestamp = headerValue(headers, SIM_HEADERS.timestamp);
  const signature = headerValue(headers, SIM_HEADERS.signature);
  if (timestamp === undefined || signature === undefined) {
    return { ok: false, code: 'signature_missing', message: `Sign the message: send ${SIM_HEADERS.timestamp} and ${SIM_HEADERS.signature}.` };
  }
  if (!/^[0-9]{1,12}$/.test(timestamp)) return { ok: false, code: 'signature_invalid', message: `${SIM_HEADERS.timestamp} is not Unix seconds.` };
  const ageS = Math.abs(Math.floor(nowMs / 1000) - Number(timestamp));
  if (ageS > SIGNATURE_AGE_S_MAX) {
    return { ok: false, code: 'signature_stale', message: `The signature is ${ageS} s away from now; at most ${SIGNATURE_AGE_S_MAX} s is accepted.` };
  }
  const expected = Buffer.from(simSignature(secret, timestamp, rawBody), 'hex');
  const given = /^[0-9a-f]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, code: 'signature_invalid', message: 'The signature does not match the body and timestamp under this channel’s secret.' };
  }
  return { ok: true };
}
