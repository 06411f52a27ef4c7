// HTTP(S) with node:http: a timeout on the connection and between bytes, a size cap (refused up front
// when Content-Length says so), headers from the environment, no redirects followed (a redirect could
// lead the credentials elsewhere), and a body shorter than its Content-Length is an error, not a file.

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import { ReconError } from '../errors.js';
import { guardStream, notReady, tooLarge, withTimeout, type Fetcher } from './fetcher.js';
import { joinUnderRoot } from './path-template.js';

export interface HttpFetcherOptions {
  /** The base URL with its date tokens already filled in. */
  readonly baseUrl: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Extra CA certificates (PEM) for https. */
  readonly ca?: string;
}

/** The file's URL: the resolved path appended, segment by segment percent-encoded, to the base's path. */
export function fileUrl(baseUrl: string, remotePath: string): URL {
  const base = new URL(baseUrl);
  const path = joinUnderRoot(undefined, remotePath);
  const url = new URL(base.href);
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  url.pathname = `${base.pathname.replace(/\/+$/, '')}/${encoded}`;
  if (url.origin !== base.origin) throw new ReconError('path_unsafe', `${remotePath} would leave ${base.origin}.`);
  return url;
}

export class HttpFetcher implements Fetcher {
  private readonly requests = new Set<http.ClientRequest>();

  constructor(private readonly options: HttpFetcherOptions) {}

  /** Sends one request and resolves with the response head; the body is left unread. */
  /** Why a request was ended on purpose (a timeout), so a response cut by it reports that and not a reset. */
  private readonly endedBecause = new WeakMap<http.ClientRequest, ReconError>();
  private readonly requestOf = new WeakMap<IncomingMessage, http.ClientRequest>();

  private request(method: 'GET' | 'HEAD', url: URL): Promise<IncomingMessage> {
    const transport = url.protocol === 'https:' ? https : http;
    let req: http.ClientRequest | undefined;
    const answered = new Promise<IncomingMessage>((resolve, reject) => {
      req = transport.request(url, {
        method,
        agent: false,
        headers: { ...this.options.headers, 'user-agent': 'settle-recon-fetch', accept: '*/*' },
        ...(this.options.ca !== undefined ? { ca: this.options.ca } : {}),
      });
      this.requests.add(req);
      req.setTimeout(this.options.timeoutMs, () => {
        const timeout = new ReconError('fetch_timeout', `${method} ${url.href}: nothing received for ${this.options.timeoutMs} ms.`);
        if (req !== undefined) this.endedBecause.set(req, timeout);
        req?.destroy(timeout);
      });
      req.on('response', (res: IncomingMessage) => {
        if (req !== undefined) this.requestOf.set(res, req);
        resolve(res);
      });
      req.on('error', (e) => reject(e instanceof ReconError ? e : new ReconError('fetch_failed', `${method} ${url.href}: ${e.message}`)));
      req.on('close', () => this.requests.delete(req as http.ClientRequest));
      req.end();
    });
    return withTimeout(`${method} ${url.href}`, this.options.timeoutMs, answered, () => req?.destroy());
  }

  /** Throws for every status that is neither the file nor "not there yet". */
  private refuseStatus(res: IncomingMessage, url: URL): void {
    const status = res.statusCode ?? 0;
    if (status === 401 || status === 403) {
      throw new ReconError('fetch_auth_failed', `${url.href} answered ${status}: the server refused the credentials (headers_env).`);
    }
    if (status >= 300 && status < 400) throw new ReconError('fetch_failed', `${url.href} redirects (${status}) to ${res.headers.location ?? '?'}; redirects are not followed.`);
    throw new ReconError('fetch_failed', `${url.href} answered ${status} ${res.statusMessage ?? ''}.`.replace(/ \.$/, '.'));
  }

  async exists(remotePath: string): Promise<boolean> {
    const url = fileUrl(this.options.baseUrl, remotePath);
    const res = await this.request('HEAD', url);
    res.resume();
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return true;
    if (status === 404 || status === 410) return false;
    // A server that does not do HEAD: the GET finds out.
    if (status === 405 || status === 501) return true;
    this.refuseStatus(res, url);
    return false;
  }

  async get(remotePath: string, bytesMax: number): Promise<Readable> {
    const url = fileUrl(this.options.baseUrl, remotePath);
    const res = await this.request('GET', url);
    const status = res.statusCode ?? 0;
    if (status === 404 || status === 410) {
      res.resume();
      throw notReady(remotePath, `${url.href} answered ${status}`);
    }
    if (status !== 200) {
      res.resume();
      this.refuseStatus(res, url);
    }
    const declared = res.headers['content-length'];
    const lengthBytes = declared !== undefined && /^[0-9]{1,16}$/.test(declared) ? Number(declared) : undefined;
    if (lengthBytes !== undefined && lengthBytes > bytesMax) {
      res.destroy();
      throw tooLarge(remotePath, lengthBytes, bytesMax);
    }
    // The body counts as complete only when it is as long as the server said.
    const body = new PassThrough();
    let receivedBytes = 0;
    res.on('data', (chunk: Buffer) => {
      receivedBytes += chunk.length;
    });
    res.pipe(body, { end: false });
    res.on('end', () => {
      if (lengthBytes !== undefined && receivedBytes !== lengthBytes) {
        body.destroy(new ReconError('fetch_failed', `${url.href}: the body ended after ${receivedBytes} of ${lengthBytes} bytes.`));
      } else body.end();
    });
    const cut = (why: string): ReconError => {
      const req = this.requestOf.get(res);
      return (req !== undefined ? this.endedBecause.get(req) : undefined) ?? new ReconError('fetch_failed', `${url.href}: ${why}`);
    };
    res.on('error', (e) => body.destroy(e instanceof ReconError ? e : cut(e.message)));
    res.on('close', () => {
      if (!res.complete) body.destroy(cut('the connection closed mid-body.'));
    });
    body.on('close', () => res.destroy());
    return guardStream(body, { remotePath, bytesMax, idleTimeoutMs: this.options.timeoutMs });
  }

  async close(): Promise<void> {
    for (const req of this.requests) req.destroy();
    this.requests.clear();
  }
}
