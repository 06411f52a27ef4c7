// A read-only SFTP subsystem over one folder, for an ssh2 Server session: OPEN/READ/CLOSE/STAT/LSTAT/
// FSTAT/OPENDIR/READDIR/REALPATH are answered, every write is refused. Every path a client names is
// resolved under the folder; one that climbs out of it (`..` past the top) or whose real path leaves it
// (a symbolic link leading outside) is refused. Shared by the channel simulator's bill server
// (channel-sim/file-servers.ts) and the merchants' statements server (statements/sftp.ts).

import type { Stats } from 'node:fs';
import { open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { isAbsolute, join, relative, sep } from 'node:path';
import ssh2, { type Attributes, type Connection, type FileEntry, type SFTPWrapper } from 'ssh2';

const { Server: SshServer, utils: sshUtils } = ssh2;
const { OPEN_MODE, STATUS_CODE } = sshUtils.sftp;

/** Longest path a client may name. */
export const CLIENT_PATH_BYTES_MAX = 4096;

/**
 * The client's path (POSIX, absolute or relative to `/`) as a path on disk under `root`, or undefined
 * when it climbs above the top or holds a NUL byte or a backslash.
 */
export function underRoot(root: string, clientPath: string): { diskPath: string; clientPath: string } | undefined {
  if (clientPath.includes('\u0000') || clientPath.includes('\\') || Buffer.byteLength(clientPath) > CLIENT_PATH_BYTES_MAX) return undefined;
  const parts: string[] = [];
  for (const segment of clientPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
      continue;
    }
    parts.push(segment);
  }
  return { diskPath: join(root, ...parts), clientPath: `/${parts.join('/')}` };
}

/** True when the real path of `diskPath` (links followed) is the root or inside it. */
export async function staysInside(realRoot: string, diskPath: string): Promise<boolean> {
  const real = await realpath(diskPath);
  const rel = relative(realRoot, real);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

export function toAttrs(s: Stats): Attributes {
  // Served read-only: no write bits.
  return { mode: s.mode & ~0o222, uid: 0, gid: 0, size: s.size, atime: Math.floor(s.atimeMs / 1000), mtime: Math.floor(s.mtimeMs / 1000) };
}

/** An `ls -l` style line for READDIR, with `owner` as both user and group. */
export function longname(name: string, s: Stats, owner: string): string {
  const type = s.isDirectory() ? 'd' : '-';
  const date = new Date(s.mtimeMs).toISOString().slice(0, 10);
  return `${type}r--r--r-- 1 ${owner} ${owner} ${String(s.size).padStart(10)} ${date} ${name}`;
}

const WRITE_REQUESTS = ['WRITE', 'FSETSTAT', 'SETSTAT', 'REMOVE', 'RMDIR', 'MKDIR', 'RENAME', 'SYMLINK'] as const;

/** A refused request, for the caller to log in its own shape. */
export type ReadOnlySftpEvent =
  /** The path climbs above the root (or is not a path at all). */
  | { readonly kind: 'climbs'; readonly request: 'OPEN' | 'STAT' | 'LSTAT' | 'OPENDIR' | 'REALPATH'; readonly path: string }
  /** The path's real path (links followed) leaves the root. */
  | { readonly kind: 'escaping-link'; readonly path: string }
  /** An OPEN for writing (`reason: 'write'`), or a request that would change the folder (path ''). */
  | { readonly kind: 'write'; readonly path: string; readonly reason: 'write' | (typeof WRITE_REQUESTS)[number] };

export interface ReadOnlySftpOptions {
  /** The folder served (resolved). */
  readonly root: string;
  /** The folder's real path; a rejection answers path requests with "no such file". */
  readonly realRoot: Promise<string>;
  /** Leave out of READDIR answers the names whose real path leaves the root (default: listed). */
  readonly hideEscapingLinks?: boolean;
  /** Sort each folder's names before listing (default: the order readdir gives). */
  readonly sortListings?: boolean;
  /** Answer EACCES with PERMISSION_DENIED (default: FAILURE). */
  readonly accessErrorsDenied?: boolean;
  /** The status message of a refused path ("outside the served folder"). */
  readonly outsideMessage: string;
  /** The user and group shown in READDIR long names. */
  readonly owner: string;
  readonly log: (event: ReadOnlySftpEvent) => void;
  readonly limits: {
    /** Open files and folders per session. */
    readonly handlesMax: number;
    /** Largest READ answered at once. */
    readonly readBytesMax: number;
    /** Names per READDIR answer. */
    readonly readdirBatch: number;
    /** Names listed per folder. */
    readonly dirEntriesMax: number;
  };
}

type Handle = { kind: 'file'; file: FileHandle } | { kind: 'dir'; names: string[]; diskPath: string; next: number };

export function serveReadOnlySftp(sftp: SFTPWrapper, options: ReadOnlySftpOptions): void {
  const { root, realRoot, log, limits } = options;
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  const S = STATUS_CODE;

  const handleOf = (buf: Buffer): Handle | undefined => (buf.length === 4 ? handles.get(buf.readUInt32BE(0)) : undefined);
  const newHandle = (h: Handle): Buffer | undefined => {
    if (handles.size >= limits.handlesMax) return undefined;
    const id = nextHandle++;
    handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id, 0);
    return buf;
  };

  const outside = (reqId: number, event: ReadOnlySftpEvent): undefined => {
    log(event);
    sftp.status(reqId, S.PERMISSION_DENIED, options.outsideMessage);
    return undefined;
  };

  /** Resolves a client path to a checked disk path, or answers the request with a refusal. */
  const locate = async (reqId: number, request: 'OPEN' | 'STAT' | 'LSTAT' | 'OPENDIR', path: string): Promise<string | undefined> => {
    const p = underRoot(root, path);
    if (p === undefined) return outside(reqId, { kind: 'climbs', request, path });
    try {
      if (!(await staysInside(await realRoot, p.diskPath))) return outside(reqId, { kind: 'escaping-link', path });
    } catch {
      sftp.status(reqId, S.NO_SUCH_FILE, 'no such file');
      return undefined;
    }
    return p.diskPath;
  };

  const fail = (reqId: number, e: unknown): void => {
    const code = (e as NodeJS.ErrnoException).code;
    sftp.status(reqId, code === 'ENOENT' || code === 'ENOTDIR' ? S.NO_SUCH_FILE : code === 'EACCES' && options.accessErrorsDenied === true ? S.PERMISSION_DENIED : S.FAILURE);
  };

  const readOnly = (reqId: number): void => {
    sftp.status(reqId, S.PERMISSION_DENIED, 'read-only');
  };

  sftp.on('OPEN', (reqId, filename, flags) => {
    if ((flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT | OPEN_MODE.TRUNC | OPEN_MODE.EXCL)) !== 0) {
      log({ kind: 'write', path: filename, reason: 'write' });
      readOnly(reqId);
      return;
    }
    void (async () => {
      const diskPath = await locate(reqId, 'OPEN', filename);
      if (diskPath === undefined) return;
      try {
        const s = await stat(diskPath);
        if (!s.isFile()) {
          sftp.status(reqId, S.FAILURE, 'not a file');
          return;
        }
        const file = await open(diskPath, 'r');
        const h = newHandle({ kind: 'file', file });
        if (h === undefined) {
          await file.close();
          sftp.status(reqId, S.FAILURE, 'too many open handles');
          return;
        }
        sftp.handle(reqId, h);
      } catch (e) {
        fail(reqId, e);
      }
    })();
  });

  sftp.on('READ', (reqId, handle, offset, length) => {
    const h = handleOf(handle);
    if (h?.kind !== 'file') {
      sftp.status(reqId, S.FAILURE, 'bad handle');
      return;
    }
    void (async () => {
      try {
        const buf = Buffer.alloc(Math.min(length, limits.readBytesMax));
        const { bytesRead } = await h.file.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) sftp.status(reqId, S.EOF);
        else sftp.data(reqId, buf.subarray(0, bytesRead));
      } catch (e) {
        fail(reqId, e);
      }
    })();
  });

  sftp.on('FSTAT', (reqId, handle) => {
    const h = handleOf(handle);
    if (h?.kind !== 'file') {
      sftp.status(reqId, S.FAILURE, 'bad handle');
      return;
    }
    h.file.stat().then(
      (s) => sftp.attrs(reqId, toAttrs(s)),
      (e: unknown) => fail(reqId, e),
    );
  });

  sftp.on('CLOSE', (reqId, handle) => {
    const h = handleOf(handle);
    if (h === undefined) {
      sftp.status(reqId, S.FAILURE, 'bad handle');
      return;
    }
    handles.delete(handle.readUInt32BE(0));
    if (h.kind === 'file') {
      h.file.close().then(
        () => sftp.status(reqId, S.OK),
        () => sftp.status(reqId, S.OK),
      );
    } else sftp.status(reqId, S.OK);
  });

  const statRequest =
    (request: 'STAT' | 'LSTAT') =>
    (reqId: number, path: string): void => {
      void (async () => {
        const diskPath = await locate(reqId, request, path);
        if (diskPath === undefined) return;
        try {
          sftp.attrs(reqId, toAttrs(await stat(diskPath)));
        } catch (e) {
          fail(reqId, e);
        }
      })();
    };
  // Links are followed (and must stay inside), so LSTAT answers as STAT does.
  sftp.on('STAT', statRequest('STAT'));
  sftp.on('LSTAT', statRequest('LSTAT'));

  sftp.on('OPENDIR', (reqId, path) => {
    void (async () => {
      const diskPath = await locate(reqId, 'OPENDIR', path);
      if (diskPath === undefined) return;
      try {
        const all = await readdir(diskPath);
        const names = (options.sortListings === true ? all.sort() : all).slice(0, limits.dirEntriesMax);
        const h = newHandle({ kind: 'dir', names, diskPath, next: 0 });
        if (h === undefined) sftp.status(reqId, S.FAILURE, 'too many open handles');
        else sftp.handle(reqId, h);
      } catch (e) {
        fail(reqId, e);
      }
    })();
  });

  sftp.on('READDIR', (reqId, handle) => {
    const h = handleOf(handle);
    if (h?.kind !== 'dir') {
      sftp.status(reqId, S.FAILURE, 'bad handle');
      return;
    }
    if (h.next >= h.names.length) {
      sftp.status(reqId, S.EOF);
      return;
    }
    const batch = h.names.slice(h.next, h.next + limits.readdirBatch);
    h.next += batch.length;
    void (async () => {
      const top = options.hideEscapingLinks === true ? await realRoot.catch(() => root) : undefined;
      const entries: FileEntry[] = [];
      for (const name of batch) {
        let target = join(h.diskPath, name);
        if (top !== undefined) {
          // A link that leaves the folder is not even listed.
          const real = await realpath(target).catch(() => undefined);
          if (real === undefined || !(real === top || real.startsWith(top + sep))) continue;
          target = real;
        }
        const s = await stat(target).catch(() => undefined);
        if (s !== undefined) entries.push({ filename: name, longname: longname(name, s, options.owner), attrs: toAttrs(s) });
      }
      if (entries.length === 0) sftp.status(reqId, S.EOF);
      else sftp.name(reqId, entries);
    })();
  });

  sftp.on('REALPATH', (reqId, path) => {
    const p = underRoot(root, path);
    if (p === undefined) {
      outside(reqId, { kind: 'climbs', request: 'REALPATH', path });
      return;
    }
    sftp.name(reqId, [{ filename: p.clientPath, longname: p.clientPath, attrs: {} as Attributes }]);
  });

  for (const event of WRITE_REQUESTS) {
    sftp.on(event, (reqId: number) => {
      log({ kind: 'write', path: '', reason: event });
      readOnly(reqId);
    });
  }
  sftp.on('READLINK', (reqId: number) => sftp.status(reqId, S.OP_UNSUPPORTED));

  sftp.on('close', () => {
    for (const h of handles.values()) if (h.kind === 'file') void h.file.close().catch(() => undefined);
    handles.clear();
  });
}

// ---- the SSH server around it ----

/**
 * Starts an SSH server that tracks its clients (ended on close) and hands each to `onClient`, which
 * registers authentication and, with `onlySftpSessions`, the SFTP subsystem.
 */
export async function startSshServer(
  options: { readonly hostKeyPem: string; readonly ident: string; readonly host: string; readonly port: number; readonly connectionsMax: number },
  onClient: (client: Connection) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const clients = new Set<Connection>();
  const server = new SshServer({ hostKeys: [options.hostKeyPem], ident: options.ident }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    onClient(client);
  });
  server.maxConnections = options.connectionsMax;
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port, options.host, () => {
      server.off('error', fail);
      done();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((done) => {
        for (const c of clients) c.end();
        server.close(() => done());
      }),
  };
}

/** Once the client is ready, its sessions get only the SFTP subsystem (`serve`): no shell, no exec. */
export function onlySftpSessions(client: Connection, serve: (acceptSftp: () => SFTPWrapper) => void): void {
  client.on('ready', () => {
    client.on('session', (acceptSession) => {
      const session = acceptSession();
      session.on('sftp', (acceptSftp) => serve(acceptSftp));
      session.on('exec', (_accept, reject) => reject());
      session.on('shell', (_accept, reject) => reject());
      session.on('pty', (_accept, reject) => reject?.());
    });
  });
}
