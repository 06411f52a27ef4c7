// The simulator publishes its bills the way channels do: one folder served read-only over SFTP (the
// ssh2 package's Server with the read-only SFTP subsystem of ../sftp/read-only.ts), FTP (ftp-srv) and HTTP (node:http).
// Every path a client names is resolved under the folder; one that climbs out of it (`..` past the top,
// or a symbolic link leading outside) is refused, and so is every write.
//
//   startBillServers({ dir, host: '127.0.0.1', sftp: { port: 0, hostKeyPem, username, password },
//                      ftp: { port: 0, username, password }, http: { port: 0 } })
//
// The SFTP host key's fingerprint (`SHA256:…`, as `ssh-keygen -l` prints it) is returned so a fetch
// source can pin it. Passwords are compared in constant time and never logged.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join, resolve } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { generateEd25519KeyPair, hostKeyFingerprint } from '../sftp/keys.js';
import { CLIENT_PATH_BYTES_MAX, onlySftpSessions, serveReadOnlySftp, startSshServer, staysInside } from '../sftp/read-only.js';

export { underRoot } from '../sftp/read-only.js';


/** Limits of the file servers, with their reasons. */
export const FILE_SERVER_LIMITS = {
  /** A simulator serves a handful of test clients. */
  connectionsMax: 32,
  /** Open files and folders per SFTP session. */
  handlesMax: 64,
  /** Largest SFTP READ answered at once (clients ask for 32–256 KiB). */
  readBytesMax: 256 * 1024,
  /** Names per READDIR answer, and names listed per folder. */
  readdirBatch: 64,
  dirEntriesMax: 10_000,
  /** An FTP control connection silent this long is closed. */
  idleTimeoutMs: 60_000,
  /** Longest path a client may name. */
  pathBytesMax: CLIENT_PATH_BYTES_MAX,
} as const;

export interface BillServersOptions {
  /** The folder whose files are served (the bills writer's output). */
  readonly dir: string;
  /** Address to bind (keep it on loopback). */
  readonly host: string;
  readonly sftp?: { readonly port: number; readonly hostKeyPem: string; readonly username: string; readonly password: string };
  readonly ftp?: {
    readonly port: number;
    readonly username: string;
    readonly password: string;
    /** For explicit FTPS (AUTH TLS): the server's certificate and key (PEM). */
    readonly tls?: { readonly cert: string; readonly key: string };
    /** Passive data ports (default 49152–65535). */
    readonly pasvPortMin?: number;
    readonly pasvPortMax?: number;
  };
  readonly http?: { readonly port: number };
  /** Connection events for the operator's log: never a password. */
  readonly log?: (event: BillServerEvent) => void;
}

export type BillServerEvent =
  | { readonly kind: 'sftp_auth'; readonly username: string; readonly method: string; readonly accepted: boolean }
  | { readonly kind: 'ftp_login'; readonly username: string; readonly accepted: boolean }
  | { readonly kind: 'refused'; readonly protocol: 'sftp' | 'ftp' | 'http'; readonly path: string; readonly reason: string };

export interface BillServers {
  readonly sftp?: { readonly port: number; readonly url: string; readonly hostKeySha256: string };
  readonly ftp?: { readonly port: number; readonly url: string };
  readonly http?: { readonly port: number; readonly url: string };
  close(): Promise<void>;
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

/** A fresh ed25519 host key (OpenSSH PEM), for a simulator started without one. */
export function generateHostKeyPem(): string {
  return generateEd25519KeyPair().private;
}

export { hostKeyFingerprint };

// ---- SFTP ----

function serveSftp(sftp: SFTPWrapper, root: string, realRoot: Promise<string>, log: (e: BillServerEvent) => void): void {
  serveReadOnlySftp(sftp, {
    root,
    realRoot,
    accessErrorsDenied: true,
    outsideMessage: 'outside the served folder',
    owner: 'sim',
    limits: FILE_SERVER_LIMITS,
    log: (e) => {
      if (e.kind === 'climbs') {
        // A REALPATH above the top is refused without a log line.
        if (e.request !== 'REALPATH') log({ kind: 'refused', protocol: 'sftp', path: e.path, reason: 'outside the root' });
      } else if (e.kind === 'escaping-link') log({ kind: 'refused', protocol: 'sftp', path: e.path, reason: 'a link leads outside the root' });
      else log({ kind: 'refused', protocol: 'sftp', path: e.path, reason: e.reason });
    },
  });
}

async function startSftp(options: BillServersOptions, sftpOptions: NonNullable<BillServersOptions['sftp']>, log: (e: BillServerEvent) => void): Promise<{ port: number; close(): Promise<void> }> {
  const root = resolve(options.dir);
  const realRoot = realpath(root);
  realRoot.catch(() => undefined);
  return startSshServer(
    { hostKeyPem: sftpOptions.hostKeyPem, ident: 'settle-channel-sim', host: options.host, port: sftpOptions.port, connectionsMax: FILE_SERVER_LIMITS.connectionsMax },
    (client) => {
      client.on('authentication', (ctx) => {
        const accepted = ctx.method === 'password' && sameSecret(ctx.username, sftpOptions.username) && sameSecret(ctx.password, sftpOptions.password);
        log({ kind: 'sftp_auth', username: ctx.username, method: ctx.method, accepted });
        if (accepted) ctx.accept();
        else ctx.reject(['password']);
      });
      // Only the SFTP subsystem: no shell, no exec.
      onlySftpSessions(client, (acceptSftp) => serveSftp(acceptSftp(), root, realRoot, log));
    },
  );
}

// ---- FTP ----

interface FtpSrvModule {
  FtpSrv: new (options: Record<string, unknown>) => FtpServerLike;
  FileSystem: new (connection: unknown, options: { root: string; cwd: string }) => FtpFileSystemLike;
  ftpErrors: { FileSystemError: new (message: string, code?: number) => Error };
}
interface FtpServerLike {
  on(event: 'login', listener: (data: { connection: unknown; username: string; password: string }, resolve: (config: { fs: unknown }) => void, reject: (e: Error) => void) => void): void;
  on(event: 'client-error', listener: () => void): void;
  listen(): Promise<unknown>;
  close(): Promise<unknown>;
  server: { address(): AddressInfo | string | null; on(event: 'connection', listener: (socket: Socket) => void): void };
}
interface FtpFileSystemLike {
  _resolvePath(path?: string): { clientPath: string; fsPath: string };
  get(fileName: string): Promise<unknown>;
  list(path?: string): Promise<unknown>;
  chdir(path?: string): Promise<string>;
  read(fileName: string, options: { start?: number }): Promise<unknown>;
}

/** ftp-srv's own logger (bunyan) would print to stdout; events worth telling go through `log`. */
const silentLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  fatal: () => undefined,
  child() {
    return silentLogger;
  },
};

/** Commands that would change the folder: refused before they reach the file system. */
const FTP_WRITE_COMMANDS = ['STOR', 'APPE', 'STOU', 'DELE', 'MKD', 'XMKD', 'RMD', 'XRMD', 'RNFR', 'RNTO', 'SITE', 'ALLO'];

async function startFtp(options: BillServersOptions, ftpOptions: NonNullable<BillServersOptions['ftp']>, log: (e: BillServerEvent) => void): Promise<{ port: number; close(): Promise<void> }> {
  // ftp-srv is loaded only when FTP is asked for.
  const mod = (await import('ftp-srv')) as unknown as FtpSrvModule & { default?: FtpSrvModule };
  const { FtpSrv, FileSystem, ftpErrors } = mod.default ?? mod;
  const root = resolve(options.dir);
  const realRoot = await realpath(root);

  class ReadOnlyFileSystem extends FileSystem {
    private async checked(path: string | undefined): Promise<void> {
      const { fsPath } = this._resolvePath(path);
      const inside = await staysInside(realRoot, fsPath).catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ftpErrors.FileSystemError('No such file or folder', 550);
        throw e;
      });
      if (!inside) {
        log({ kind: 'refused', protocol: 'ftp', path: path ?? '.', reason: 'a link leads outside the root' });
        throw new ftpErrors.FileSystemError('Outside the served folder', 550);
      }
    }
    override async get(fileName: string): Promise<unknown> {
      await this.checked(fileName);
      return super.get(fileName);
    }
    override async list(path?: string): Promise<unknown> {
      await this.checked(path);
      const entries = (await super.list(path)) as unknown[];
      return entries.slice(0, FILE_SERVER_LIMITS.dirEntriesMax);
    }
    override async chdir(path?: string): Promise<string> {
      await this.checked(path);
      return super.chdir(path);
    }
    override async read(fileName: string, readOptions: { start?: number }): Promise<unknown> {
      await this.checked(fileName);
      return super.read(fileName, readOptions);
    }
    write(): never {
      throw new ftpErrors.FileSystemError('Read-only', 550);
    }
    delete(): Promise<never> {
      return Promise.reject(new ftpErrors.FileSystemError('Read-only', 550));
    }
    mkdir(): Promise<never> {
      return Promise.reject(new ftpErrors.FileSystemError('Read-only', 550));
    }
    rename(): Promise<never> {
      return Promise.reject(new ftpErrors.FileSystemError('Read-only', 550));
    }
    chmod(): Promise<never> {
      return Promise.reject(new ftpErrors.FileSystemError('Read-only', 550));
    }
  }

  // ftp-srv adds process-wide SIGINT/SIGTERM handlers that exit the process; the simulator stops itself.
  const before = new Map((['SIGINT', 'SIGTERM', 'SIGQUIT'] as const).map((s) => [s, new Set(process.listeners(s))]));
  const server = new FtpSrv({
    url: `ftp://${options.host}:${ftpOptions.port}`,
    pasv_url: options.host,
    pasv_min: ftpOptions.pasvPortMin ?? 49_152,
    pasv_max: ftpOptions.pasvPortMax ?? 65_535,
    anonymous: false,
    greeting: 'settle channel-sim bills (read-only)',
    blacklist: FTP_WRITE_COMMANDS,
    tls: ftpOptions.tls === undefined ? false : { cert: ftpOptions.tls.cert, key: ftpOptions.tls.key },
    log: silentLogger,
    // Not ftp-srv's `timeout`: it also arms a timer of that length per disconnect, which would keep the
    // process alive that long after close. Idle control connections are cut below instead.
    timeout: 0,
  });
  for (const [signal, had] of before) for (const listener of process.listeners(signal)) if (!had.has(listener)) process.off(signal, listener as () => void);

  server.on('login', ({ connection, username, password }, accept, refuse) => {
    const accepted = sameSecret(username, ftpOptions.username) && sameSecret(password, ftpOptions.password);
    log({ kind: 'ftp_login', username, accepted });
    if (accepted) accept({ fs: new ReadOnlyFileSystem(connection, { root, cwd: '/' }) });
    else refuse(new ftpErrors.FileSystemError('Login incorrect', 530));
  });
  server.on('client-error', () => undefined);
  // Replies go out in small writes; without this, Nagle and delayed ACKs add ~40 ms to each exchange.
  server.server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    socket.setTimeout(FILE_SERVER_LIMITS.idleTimeoutMs, () => socket.destroy());
  });
  await server.listen();
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : ftpOptions.port,
    close: async () => {
      await server.close();
    },
  };
}

// ---- HTTP ----

/** The decoded segments of a request path, or undefined when one is `..`, `.`, or hides a separator. */
export function httpPathSegments(rawUrl: string): string[] | undefined {
  const rawPath = rawUrl.split('?')[0] ?? '';
  if (!rawPath.startsWith('/') || Buffer.byteLength(rawPath) > FILE_SERVER_LIMITS.pathBytesMax) return undefined;
  const segments: string[] = [];
  for (const raw of rawPath.split('/').slice(1)) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment === '..' || segment === '.' || /[/\\]/.test(segment) || segment.includes('\u0000')) return undefined;
    if (segment !== '') segments.push(segment);
  }
  return segments;
}

async function startHttp(options: BillServersOptions, httpOptions: NonNullable<BillServersOptions['http']>, log: (e: BillServerEvent) => void): Promise<{ port: number; close(): Promise<void> }> {
  const root = resolve(options.dir);
  const realRoot = await realpath(root);
  const server = http.createServer((req, res) => {
    const reply = (status: number, text: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : `${text}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      reply(405, 'read-only: GET and HEAD only');
      return;
    }
    const segments = httpPathSegments(req.url ?? '/');
    if (segments === undefined) {
      log({ kind: 'refused', protocol: 'http', path: req.url ?? '', reason: 'outside the root' });
      reply(403, 'outside the served folder');
      return;
    }
    const diskPath = join(root, ...segments);
    void (async () => {
      try {
        if (!(await staysInside(realRoot, diskPath))) {
          log({ kind: 'refused', protocol: 'http', path: req.url ?? '', reason: 'a link leads outside the root' });
          reply(403, 'outside the served folder');
          return;
        }
        const s = await stat(diskPath);
        if (!s.isFile()) {
          reply(404, 'not a file');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(s.size), 'last-modified': new Date(s.mtimeMs).toUTCString() });
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        const stream = createReadStream(diskPath);
        stream.on('error', () => res.destroy());
        stream.pipe(res);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') reply(404, 'not found');
        else reply(500, 'cannot read the file');
      }
    })();
  });
  server.maxConnections = FILE_SERVER_LIMITS.connectionsMax;
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(httpOptions.port, options.host, () => {
      server.off('error', fail);
      done();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

/** Environment variables of `settle channel-sim --bills-dir …` (credentials never come from flags). */
export const BILL_SERVER_ENV = {
  username: 'SETTLE_SIM_FILES_USER',
  password: 'SETTLE_SIM_FILES_PASSWORD',
  hostKeyFile: 'SETTLE_SIM_SFTP_HOST_KEY_FILE',
} as const;

export const DEFAULT_BILLS_USER = 'bills';
const HOST_KEY_FILE_BYTES_MAX = 64 * 1024;

/**
 * The servers' options from the command's ports and the environment: user (default `bills`), password
 * (required for SFTP and FTP), and the SFTP host key file (default: a fresh key for this run).
 */
export async function billServersOptionsFromEnv(
  base: { dir: string; host: string; sftpPort?: number; ftpPort?: number; httpPort?: number },
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ ok: true; value: BillServersOptions } | { ok: false; message: string }> {
  const username = env[BILL_SERVER_ENV.username] || DEFAULT_BILLS_USER;
  const password = env[BILL_SERVER_ENV.password] ?? '';
  if ((base.sftpPort !== undefined || base.ftpPort !== undefined) && password === '') {
    return { ok: false, message: `Serving bills over SFTP or FTP needs a password in ${BILL_SERVER_ENV.password}.` };
  }
  let hostKeyPem: string | undefined;
  const keyFile = env[BILL_SERVER_ENV.hostKeyFile];
  if (base.sftpPort !== undefined && keyFile !== undefined && keyFile !== '') {
    const s = await stat(keyFile).catch(() => undefined);
    if (s === undefined || !s.isFile() || s.size > HOST_KEY_FILE_BYTES_MAX) return { ok: false, message: `${BILL_SERVER_ENV.hostKeyFile} names ${keyFile}, which is not a readable key file.` };
    const file = await open(keyFile, 'r');
    try {
      hostKeyPem = (await file.readFile()).toString('utf8');
    } finally {
      await file.close();
    }
    try {
      hostKeyFingerprint(hostKeyPem);
    } catch (e) {
      return { ok: false, message: `${keyFile}: ${(e as Error).message}` };
    }
  }
  return {
    ok: true,
    value: {
      dir: base.dir,
      host: base.host,
      ...(base.sftpPort !== undefined ? { sftp: { port: base.sftpPort, hostKeyPem: hostKeyPem ?? generateHostKeyPem(), username, password } } : {}),
      ...(base.ftpPort !== undefined ? { ftp: { port: base.ftpPort, username, password } } : {}),
      ...(base.httpPort !== undefined ? { http: { port: base.httpPort } } : {}),
    },
  };
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the servers asked for; if one cannot start, those already started are closed again. */
export async function startBillServers(options: BillServersOptions): Promise<BillServers> {
  const log = options.log ?? (() => undefined);
  const s = await stat(options.dir).catch(() => undefined);
  if (s === undefined || !s.isDirectory()) throw new Error(`The bills folder ${options.dir} does not exist.`);
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(closers.splice(0).map((c) => c().catch(() => undefined)));
  };
  try {
    const result: { -readonly [K in keyof BillServers]: BillServers[K] } = { close: closeAll };
    const host = urlHost(options.host);
    if (options.sftp !== undefined) {
      const hostKeySha256 = hostKeyFingerprint(options.sftp.hostKeyPem);
      const sftp = await startSftp(options, options.sftp, log);
      closers.push(sftp.close);
      result.sftp = { port: sftp.port, url: `sftp://${host}:${sftp.port}`, hostKeySha256 };
    }
    if (options.ftp !== undefined) {
      const ftp = await startFtp(options, options.ftp, log);
      closers.push(ftp.close);
      result.ftp = { port: ftp.port, url: `${options.ftp.tls === undefined ? 'ftp' : 'ftps'}://${host}:${ftp.port}` };
    }
    if (options.http !== undefined) {
      const web = await startHttp(options, options.http, log);
      closers.push(web.close);
      result.http = { port: web.port, url: `http://${host}:${web.port}` };
    }
    return result;
  } catch (e) {
    await closeAll();
    throw e;
  }
}
