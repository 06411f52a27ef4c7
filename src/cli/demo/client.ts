// A small merchant client for the demo: signs each request the way README "Signing requests" tells
// merchants to (HMAC-SHA256 over timestamp, nonce, method, path and body hash) and sends it with fetch.
// The nonce and idempotency key come from a counter, so a run never reuses one by accident.

import { randomBytes } from 'node:crypto';
import { signRequestHeaders } from '../../online/merchants/signing.js';

export interface DemoMerchant {
  readonly merchantId: string;
  readonly keyId: string;
  readonly keySecret: string;
}

export interface DemoReply {
  readonly status: number;
  readonly replayed: boolean;
  readonly body: Record<string, unknown>;
}

/** A bound on one request, so a stuck daemon fails the demo instead of hanging it. */
export const REQUEST_TIMEOUT_MS = 20_000;

export class DemoClient {
  private counter = 0;
  private readonly runTag = randomBytes(6).toString('hex');

  constructor(
    readonly baseUrl: string,
    readonly merchant: DemoMerchant,
  ) {}

  /** A fresh idempotency key; pass the same one twice to replay a request. */
  newIdempotencyKey(): string {
    return `demo-${this.runTag}-${++this.counter}`;
  }

  async get(path: string): Promise<DemoReply> {
    return this.send('GET', path, undefined, undefined);
  }

  async post(path: string, body: Record<string, unknown>, idempotencyKey = this.newIdempotencyKey()): Promise<DemoReply> {
    return this.send('POST', path, body, idempotencyKey);
  }

  private async send(method: 'GET' | 'POST', path: string, body: Record<string, unknown> | undefined, idempotencyKey: string | undefined): Promise<DemoReply> {
    const raw = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = signRequestHeaders({
      keyId: this.merchant.keyId,
      key: { scheme: 'hmac', secret: this.merchant.keySecret },
      method,
      pathWithQuery: path,
      rawBody: raw,
      timestampS: Math.floor(Date.now() / 1000),
      nonce: `n-${this.runTag}-${++this.counter}-${randomBytes(4).toString('hex')}`,
    });
    if (raw.length > 0) headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(raw.length > 0 ? { body: raw } : {}),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    const parsed: unknown = text.startsWith('{') ? JSON.parse(text) : { text };
    return { status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', body: parsed as Record<string, unknown> };
  }
}
