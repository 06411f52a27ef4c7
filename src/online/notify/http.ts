// The one piece of the dispatcher that touches the network: POST a notification and say what came of it.
// Redirects are never followed (node:http does not), at most responseBytesMax of the answer is read,
// and the caller's AbortSignal ends the exchange (the dispatcher aborts at timeout_ms on its clock).
// Connections are kept alive per origin.

import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
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

/**
 * Addresses a merchant's notify URL may not lead to: this host, our private networks, link-local (the
 * cloud metadata service), carrier-grade NAT, documentation, multicast and reserved ranges.
 */
const NON_PUBLIC = (() => {
  const list = new net.BlockList();
  for (const [prefix, bits] of [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
    ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
  ] as const) list.addSubnet(prefix, bits, 'ipv4');
  for (const [prefix, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['64:ff9b::', 96]] as const) list.addSubnet(prefix, bits, 'ipv6');
  return list;
})();

/** True when the address (v4, v6, or v4-mapped v6) is one a notification may be sent to. */
export function isPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return isPublicAddress(mapped);
  const family = net.isIP(address);
  if (family === 0) return false;
  return !NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

class ForbiddenAddress extends Error {
  readonly code = 'NOTIFY_ADDRESS_FORBIDDEN';
}

/**
 * A DNS lookup that refuses non-public answers, used at connect time so a name that resolves (or is
 * re-pointed) to an inside address is caught where the connection is made, not only when checked.
 */
const publicLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses as dns.LookupAddress[];
    const bad = list.find((a) => !isPublicAddress(a.address));
    if (bad !== undefined) return callback(new ForbiddenAddress(`${hostname} resolves to ${bad.address}, which is not a public address`), '', 0);
    if ((options as dns.LookupOptions).all === true) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
    const first = list[0];
    if (first === undefined) return callback(new ForbiddenAddress(`${hostname} has no address`), '', 0);
    return callback(null, first.address, first.family);
  });
};

/** Why the exchange was aborted: the dispatcher's timeout, or its stop(). */
export type AbortReason = 'timeout' | 'stopped';

function classify(status: number, text: string): AttemptResult {
  if (status >= 200 && status < 300) return { ok: true, httpStatus: status };
  const detail = snippet(text, NOTIFY_LIMITS.detailCharsMax) || null;
  if (status >= 300 && status < 400) return { ok: false, error: 'endpoint_redirected', httpStatus: status, detail };
  return { ok: false, error: 'endpoint_http_error', httpStatus: status, detail };
}

export function createHttpSender(options: { readonly responseBytesMax?: number; readonly allowPrivateNetworks?: boolean } = {}): HttpSender {
  const responseBytesMax = options.responseBytesMax ?? NOTIFY_LIMITS.responseBytesMax;
  const allowPrivate = options.allowPrivateNetworks === true;
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
      const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
      if (!allowPrivate && (net.isIP(literal) !== 0 ? !isPublicAddress(literal) : literal === 'localhost' || literal.endsWith('.localhost'))) {
        resolve({ ok: false, error: 'notify_url_forbidden', httpStatus: null, detail: snippet(url.hostname, NOTIFY_LIMITS.detailCharsMax) });
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
        ...(allowPrivate ? {} : { lookup: publicLookup }),
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
        if (e instanceof ForbiddenAddress) finish({ ok: false, error: 'notify_url_forbidden', httpStatus: null, detail: snippet(e.message, NOTIFY_LIMITS.detailCharsMax) });
        else if (status !== null) finish(answered());
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
