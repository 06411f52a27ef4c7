// FTP and FTPS (basic-ftp). FTPS is explicit TLS (AUTH TLS on the control port, then protected data
// connections); the certificate is verified against the system CAs plus `ca_file` when given.

import { isIP } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { Client, FTPError } from 'basic-ftp';
import { ReconError } from '../errors.js';
import { readCaFile } from './secrets.js';
import { guardStream, notReady, tooLarge, withTimeout, type Fetcher } from './fetcher.js';
import type { FtpSourceConfig } from './source-config.js';

/** Reply codes: 530 not logged in; 550 no such file; 500/502/504 the server does not do SIZE. */
const NOT_LOGGED_IN = 530;
const FILE_UNAVAILABLE = 550;
const SIZE_NOT_SUPPORTED = new Set([500, 502, 504]);

export class FtpFetcher implements Fetcher {
  private client: Client | undefined;
  private connected: Promise<Client> | undefined;

  constructor(
    private readonly source: FtpSourceConfig,
    private readonly password: string | undefined,
  ) {}

  private where(): string {
    return `${this.source.type}://${this.source.host}:${this.source.port}`;
  }

  private connect(): Promise<Client> {
    this.connected ??= this.open();
    return this.connected;
  }

  private async open(): Promise<Client> {
    const client = new Client(this.source.timeout_ms);
    this.client = client;
    const secure = this.source.type === 'ftps';
    let ca: string | undefined;
    if (this.source.type === 'ftps' && this.source.ca_file !== undefined) ca = readCaFile(this.source.ca_file);
    try {
      await withTimeout(
        `FTP login to ${this.where()}`,
        this.source.timeout_ms,
        client.access({
          host: this.source.host,
          port: this.source.port,
          user: this.source.username,
          // Anonymous FTP asks for an e-mail address as the password, by custom.
          password: this.password ?? 'settle@localhost',
          secure,
          ...(secure ? { secureOptions: { ...(isIP(this.source.host) === 0 ? { servername: this.source.host } : {}), ...(ca !== undefined ? { ca } : {}) } } : {}),
        }),
        () => client.close(),
      );
    } catch (e) {
      throw this.classify(e, 'login');
    }
    return client;
  }

  private classify(e: unknown, during: string): ReconError {
    if (e instanceof ReconError) return e;
    if (e instanceof FTPError && e.code === NOT_LOGGED_IN) {
      return new ReconError('fetch_auth_failed', `${this.where()} refused user ${this.source.username}: ${e.message}`);
    }
    const message = (e as Error).message;
    if (/timeout/i.test(message)) return new ReconError('fetch_timeout', `${this.where()} (${during}): ${message}`);
    return new ReconError('fetch_failed', `${this.where()} (${during}): ${message}`);
  }

  /** The size, null when the server cannot tell, undefined when the file is not there. */
  private async sizeOf(remotePath: string): Promise<number | null | undefined> {
    const client = await this.connect();
    try {
      return await client.size(remotePath);
    } catch (e) {
      if (e instanceof FTPError && e.code === FILE_UNAVAILABLE) return undefined;
      if (e instanceof FTPError && SIZE_NOT_SUPPORTED.has(e.code)) return null;
      throw this.classify(e, `SIZE ${remotePath}`);
    }
  }

  async exists(remotePath: string): Promise<boolean> {
    // When the server cannot tell, the download finds out.
    return (await this.sizeOf(remotePath)) !== undefined;
  }

  async get(remotePath: string, bytesMax: number): Promise<Readable> {
    const size = await this.sizeOf(remotePath);
    if (size === undefined) throw notReady(remotePath, `not on ${this.where()}`);
    if (size !== null && size > bytesMax) throw tooLarge(remotePath, size, bytesMax);
    const client = await this.connect();
    // The data connection can end before the server confirms the transfer (226): the file counts as
    // complete only once both happened, so the outer stream ends after the confirmation.
    const inner = new PassThrough();
    const outer = new PassThrough();
    let dataEnded = false;
    let confirmed = false;
    const finish = (): void => {
      if (dataEnded && confirmed) outer.end();
    };
    inner.pipe(outer, { end: false });
    inner.on('end', () => {
      dataEnded = true;
      finish();
    });
    outer.on('close', () => inner.destroy());
    client.downloadTo(inner, remotePath).then(
      () => {
        confirmed = true;
        finish();
      },
      (e: unknown) => {
        const error = e instanceof FTPError && e.code === FILE_UNAVAILABLE ? notReady(remotePath, `RETR: ${e.message}`) : this.classify(e, `RETR ${remotePath}`);
        outer.destroy(error);
      },
    );
    return guardStream(outer, { remotePath, bytesMax, idleTimeoutMs: this.source.timeout_ms });
  }

  async close(): Promise<void> {
    this.client?.close();
    this.client = undefined;
    this.connected = undefined;
  }
}
