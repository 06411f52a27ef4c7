// SFTP (ssh2-sftp-client). The server's host key is pinned: the verifier runs during the key exchange,
// before any user name or credential is sent, and a key whose SHA-256 differs ends the connection there.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ConnectConfig, SFTPWrapper } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { ReconError } from '../errors.js';
import { guardStream, notReady, tooLarge, withTimeout, type Fetcher } from './fetcher.js';
import { pipelinedRead } from './sftp-reader.js';
import type { SftpSourceConfig } from './source-config.js';

/** The fingerprint of an SSH public key blob as OpenSSH prints it: `SHA256:` + unpadded base64. */
export function hostKeySha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export interface SftpCredentials {
  readonly password?: string;
  readonly privateKey?: string;
  readonly passphrase?: string;
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02) that mean the file is not there. */
const SFTP_NO_SUCH_FILE = 2;

type SshError = Error & { level?: string; code?: unknown };

/** The ssh2 connection under the library's client (not in its type definitions). */
function sshConnection(client: SftpClient): { end(): void } {
  return (client as unknown as { client: { end(): void } }).client;
}

export class SftpFetcher implements Fetcher {
  private client: SftpClient | undefined;
  private sftp: SFTPWrapper | undefined;
  private connected: Promise<SftpClient> | undefined;
  /** The fingerprint the server showed when it was not the pinned one. */
  private refusedHostKey: string | undefined;
  private lastSshError: SshError | undefined;
  private readonly pinned: string;

  constructor(
    private readonly source: SftpSourceConfig,
    private readonly credentials: SftpCredentials,
  ) {
    this.pinned = source.host_key_sha256.replace(/=+$/, '');
  }

  private where(): string {
    return `${this.source.host}:${this.source.port}`;
  }

  private connect(): Promise<SftpClient> {
    this.connected ??= this.open();
    return this.connected;
  }

  private async open(): Promise<SftpClient> {
    // The library's default listeners print to the console; errors are classified here instead.
    const client = new SftpClient('settle-recon-fetch', { error: () => undefined, end: () => undefined, close: () => undefined });
    this.client = client;
    client.on('error', (e: SshError) => {
      this.lastSshError = e;
    });
    const config: ConnectConfig = {
      host: this.source.host,
      port: this.source.port,
      username: this.source.username,
      readyTimeout: this.source.timeout_ms,
      tryKeyboard: false,
      hostVerifier: (key: Buffer): boolean => {
        const shown = hostKeySha256(key);
        if (shown === this.pinned) return true;
        this.refusedHostKey = shown;
        return false;
      },
    };
    if (this.credentials.password !== undefined) config.password = this.credentials.password;
    if (this.credentials.privateKey !== undefined) config.privateKey = this.credentials.privateKey;
    if (this.credentials.passphrase !== undefined) config.passphrase = this.credentials.passphrase;
    try {
      this.sftp = await withTimeout(`SFTP connection to ${this.where()}`, this.source.timeout_ms + 1000, client.connect(config), () => this.abort());
    } catch (e) {
      throw this.classify(e);
    }
    return client;
  }

  /** Maps what went wrong to a stable code; the message never holds a credential. */
  private classify(e: unknown): ReconError {
    if (this.refusedHostKey !== undefined) {
      return new ReconError(
        'host_key_mismatch',
        `The SFTP server ${this.where()} showed host key ${this.refusedHostKey}, but the config pins ${this.pinned}; the connection was closed before any credential was sent.`,
      );
    }
    if (e instanceof ReconError) return e;
    const level = this.lastSshError?.level;
    if (level === 'client-authentication') {
      return new ReconError('fetch_auth_failed', `The SFTP server ${this.where()} refused user ${this.source.username} (${this.credentials.password !== undefined ? 'password' : 'private key'}).`);
    }
    if (level === 'client-timeout') return new ReconError('fetch_timeout', `The SFTP server ${this.where()} did not finish the handshake within ${this.source.timeout_ms} ms.`);
    const message = (this.lastSshError ?? (e as Error)).message;
    return new ReconError('fetch_failed', `SFTP ${this.where()}: ${message}`);
  }

  private abort(): void {
    try {
      if (this.client !== undefined) sshConnection(this.client).end();
    } catch {
      // already closed
    }
  }

  private async statOf(remotePath: string): Promise<{ size: number; isFile: boolean } | undefined> {
    const client = await this.connect();
    try {
      const s = await withTimeout(`SFTP stat of ${remotePath}`, this.source.timeout_ms, client.stat(remotePath), () => this.abort());
      return { size: s.size, isFile: s.isFile };
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'ENOENT' || code === SFTP_NO_SUCH_FILE) return undefined;
      throw this.classify(e);
    }
  }

  async exists(remotePath: string): Promise<boolean> {
    const s = await this.statOf(remotePath);
    if (s === undefined) return false;
    if (!s.isFile) throw new ReconError('fetch_failed', `${remotePath} on ${this.where()} is not a file.`);
    return true;
  }

  async get(remotePath: string, bytesMax: number): Promise<Readable> {
    const s = await this.statOf(remotePath);
    if (s === undefined) throw notReady(remotePath, `not on ${this.where()}`);
    if (!s.isFile) throw new ReconError('fetch_failed', `${remotePath} on ${this.where()} is not a file.`);
    if (s.size > bytesMax) throw tooLarge(remotePath, s.size, bytesMax);
    await this.connect();
    if (this.sftp === undefined) throw new ReconError('fetch_failed', `SFTP ${this.where()}: no SFTP session.`);
    return guardStream(pipelinedRead(this.sftp, remotePath), { remotePath, bytesMax, idleTimeoutMs: this.source.timeout_ms });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.sftp = undefined;
    this.connected = undefined;
    if (client === undefined) return;
    try {
      await withTimeout('SFTP close', this.source.timeout_ms, client.end(), () => undefined);
    } catch {
      // The connection is going away either way.
    } finally {
      sshConnection(client).end();
    }
  }
}
