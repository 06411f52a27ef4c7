// The one piece of the dispatcher that touches the network: POST a notification and say what came of it.
// Redirects are never followed (node:http does not), at most responseBytesMax of the answer is read,
// and the caller's AbortSignal ends the exchange (the dispatcher aborts at timeout_ms on its clock).
// Connections are kept alive per origin.

import http from 'node:http';
import https from 'node:https';
import { NOTIFY_LIMITS } from './config.js';
import type { AttemptResult } from './event.js';
import { snippet } from './event.js';

export interface OutgoingNotification {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Sends one notification; never rejects (every failure is an AttemptResult). */
export type Sender = (n: OutgoingNotification, signal: AbortSignal) => Promise<AttemptResult>;

export interface HttpSender {
  readonly send: Sender;
  /** Closes idle kept-alive connections. */
  close(): void;
}

/** Why the exchange was aborted: the dispatcher's timeout, or its stop(). */
export type AbortReason = 'timeout' | 'stopped';

function classify(status: number, text: string): AttemptResult {
  if (status >= 200 && status < 300) return { ok: true, httpStatus: status };
  const detail = snippet(text, NOTIFY_LIMITS.detailCharsMax) || null;
  if (status >= 300 && status < 400) return { ok: false, error: 'endpoint_redirected', httpStatus: status, detail };
  return { ok: false, error: 'endpoint_http_error', httpStatus: status, detail };
}

export function createHttpSender(options: { readonly responseBytesMax?: number } = {}): HttpSender {
  const responseBytesMax = options.responseBytesMax ?? NOTIFY_LIMITS.responseBytesMax;
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  const send: Sender = (n, signal) =>
    new Promise<AttemptResult>((resolve) => {
      let url: URL;
      try {
        url = new URL(n.url);
      } catch {
        resolve({ ok: false, error: 'notify_url_invalid', httpStatus: null, detail: null });
        return;
      }
      const secure = url.protocol === 'https:';
      if (!secure && url.protocol !== 'http:') {
        resolve({ ok: false, error: 'notify_url_invalid', httpStatus: null, detail: url.protocol });
        return;
      }
      const body = Buffer.from(n.body, 'utf8');
      let settled = false;
      let status: number | null = null;
      const chunks: Buffer[] = [];
      let received = 0;
      const finish = (result: AttemptResult): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const answered = (): AttemptResult => classify(status ?? 0, Buffer.concat(chunks).toString('utf8'));
      const request = (secure ? https : http).request(url, {
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        headers: { ...n.headers, 'content-length': String(body.length), 'user-agent': 'settle-notify/1' },
      });
      function onAbort(): void {
        const reason = signal.reason as AbortReason | undefined;
        // An answer whose status arrived in time counts, even if its body is still coming.
        if (status !== null) finish(answered());
        else if (reason === 'stopped') finish({ ok: false, error: 'dispatcher_stopped', httpStatus: null, detail: null });
        else finish({ ok: false, error: 'endpoint_timeout', httpStatus: null, detail: null });
        request.destroy();
      }
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort);
      request.on('response', (res) => {
        status = res.statusCode ?? 0;
        res.on('data', (chunk: Buffer) => {
          if (received >= responseBytesMax) return;
          const room = responseBytesMax - received;
          chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
          received += Math.min(chunk.length, room);
          if (received >= responseBytesMax) {
            // Enough read: decide now and drop the connection rather than read an endless answer.
            finish(answered());
            res.destroy();
          }
        });
        res.on('end', () => finish(answered()));
        res.on('error', () => finish(answered()));
        res.on('close', () => finish(answered()));
      });
      request.on('error', (e: NodeJS.ErrnoException) => {
        if (status !== null) finish(answered());
        else finish({ ok: false, error: 'endpoint_unreachable', httpStatus: null, detail: snippet(e.code ?? e.message, NOTIFY_LIMITS.detailCharsMax) });
      });
      request.end(body);
    });

  return {
    send,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
