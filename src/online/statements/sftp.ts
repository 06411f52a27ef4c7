// Merchants fetch their statements over SFTP: a read-only server where the user name is the merchant
// id, the only way in is an SSH public key the operator registered (settle merchant sftp-key), and each
// session is rooted (chrooted) in that merchant's own folder <dir>/<merchant_id>. Every path a client
// names is resolved under that folder; `..` past its top, an absolute path outside it, or a symbolic
// link whose real path leaves it are refused, and so is every write. Same design as the channel
// simulator's bill server (channel-sim/file-servers.ts), with public keys and one root per merchant.

import { timingSafeEqual } from 'node:crypto';
import type { Stats } from 'node:fs';
import { open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import ssh2, { type Attributes, type Connection, type FileEntry, type SFTPWrapper } from 'ssh2';
import { underRoot } from '../channel-sim/file-servers.js';

const { Server: SshServer, utils: sshUtils } = ssh2;
const { OPEN_MODE, STATUS_CODE } = sshUtils.sftp;

/** Limits of the statements SFTP server, with their reasons. */
export const STATEMENTS_SFTP_LIMITS = {
  /** Merchants fetch a file a day; a few hundred at once is plenty for one daemon. */
  connectionsMax: 256,
  /** Open files and folders per session. */
  handlesMax: 64,
  /** Largest READ answered at once (clients ask for 32–256 KiB). */
  readBytesMax: 256 * 1024,
  /** Names per READDIR answer, and names listed per folder (a merchant has one file a day). */
  readdirBatch: 64,
  dirEntriesMax: 10_000,
} as const;

const SAFE_MERCHANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export type StatementsSftpEvent =
  | { readonly kind: 'auth'; readonly username: string; readonly method: string; readonly accepted: boolean }
  | { readonly kind: 'refused'; readonly username: string; readonly path: string; readonly reason: string };

export interface StatementsSftpOptions {
  /** The statements folder (one sub-folder per merchant). */
  readonly dir: string;
  readonly host: string;
  readonly port: number;
  readonly hostKeyPem: string;
  /** The registered OpenSSH public keys (`ssh-ed25519 AAAA…`) of a merchant; none for an unknown one. */
  readonly keysOf: (merchantId: string) => readonly string[];
  readonly log?: (event: StatementsSftpEvent) => void;
}

export interface StatementsSftp {
  readonly port: number;
  close(): Promise<void>;
}

/** Parses an OpenSSH public key line; undefined when it is not one (or is a private key). */
export function parsePublicKey(text: string): { type: string; publicSsh: Buffer; verify: (data: Buffer, signature: Buffer, hashAlgo?: string) => boolean } | undefined {
  const parsed = sshUtils.parseKey(text.trim());
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key instanceof Error || key.isPrivateKey()) return undefined;
  return {
    type: key.type,
    publicSsh: key.getPublicSSH(),
    verify: (data, signature, hashAlgo) => key.verify(data, signature, hashAlgo as never) === true,
  };
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function toAttrs(s: Stats): Attributes {
  return { mode: s.mode & ~0o222, uid: 0, gid: 0, size: s.size, atime: Math.floor(s.atimeMs / 1000), mtime: Math.floor(s.mtimeMs / 1000) };
}

function longname(name: string, s: Stats): string {
  return `${s.isDirectory() ? 'd' : '-'}r--r--r-- 1 settle settle ${String(s.size).padStart(10)} ${new Date(s.mtimeMs).toISOString().slice(0, 10)} ${name}`;
}

type Handle = { kind: 'file'; file: FileHandle } | { kind: 'dir'; names: string[]; diskPath: string; next: number };

function serveMerchantFolder(sftp: SFTPWrapper, root: string, username: string, log: (e: StatementsSftpEvent) => void): void {
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  const S = STATUS_CODE;
  const realRoot = realpath(root);
  realRoot.catch(() => undefined);

  const handleOf = (buf: Buffer): Handle | undefined => (buf.length === 4 ? handles.get(buf.readUInt32BE(0)) : undefined);
  const newHandle = (h: Handle): Buffer | undefined => {
    if (handles.size >= STATEMENTS_SFTP_LIMITS.handlesMax) return undefined;
    const id = nextHandle++;
    handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id, 0);
    return buf;
  };
  const refuse = (reqId: number, path: string, reason: string): undefined => {
    log({ kind: 'refused', username, path, reason });
    sftp.status(reqId, S.PERMISSION_DENIED, 'outside your folder');
    return undefined;
  };
  /** A client path as a disk path under the merchant's folder whose real path stays inside it. */
  const locate = async (reqId: number, path: string): Promise<string | undefined> => {
    const p = underRoot(root, path);
    if (p === undefined) return refuse(reqId, path, 'climbs above the folder');
    try {
      const top = await realRoot;
      const rel = relative(top, await realpath(p.diskPath));
      if (rel !== '' && (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))) return refuse(reqId, path, 'a link leads outside the folder');
    } catch {
      sftp.status(reqId, S.NO_SUCH_FILE, 'no such file');
      return undefined;
    }
    return p.diskPath;
  };
  const fail = (reqId: number, e: unknown): void => {
    const code = (e as NodeJS.ErrnoException).code;
    sftp.status(reqId, code === 'ENOENT' || code === 'ENOTDIR' ? S.NO_SUCH_FILE : S.FAILURE);
  };

  sftp.on('OPEN', (reqId, filename, flags) => {
    if ((flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT | OPEN_MODE.TRUNC | OPEN_MODE.EXCL)) !== 0) {
      log({ kind: 'refused', username, path: filename, reason: 'write' });
      sftp.status(reqId, S.PERMISSION_DENIED, 'read-only');
      return;
    }
    void (async () => {
      const diskPath = await locate(reqId, filename);
      if (diskPath === undefined) return;
      try {
        if (!(await stat(diskPath)).isFile()) {
          sftp.status(reqId, S.FAILURE, 'not a file');
          return;
        }
        const file = await open(diskPath, 'r');
        const h = newHandle({ kind: 'file', file });
        if (h === undefined) {
          await file.close();
          sftp.status(reqId, S.FAILURE, 'too many open handles');
        } else sftp.handle(reqId, h);
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
        const buf = Buffer.alloc(Math.min(length, STATEMENTS_SFTP_LIMITS.readBytesMax));
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
    if (h.kind === 'file') void h.file.close().finally(() => sftp.status(reqId, S.OK));
    else sftp.status(reqId, S.OK);
  });

  const statRequest = (reqId: number, path: string): void => {
    void (async () => {
      const diskPath = await locate(reqId, path);
      if (diskPath === undefined) return;
      try {
        sftp.attrs(reqId, toAttrs(await stat(diskPath)));
      } catch (e) {
        fail(reqId, e);
      }
    })();
  };
  sftp.on('STAT', statRequest);
  sftp.on('LSTAT', statRequest);

  sftp.on('OPENDIR', (reqId, path) => {
    void (async () => {
      const diskPath = await locate(reqId, path);
      if (diskPath === undefined) return;
      try {
        const names = (await readdir(diskPath)).sort().slice(0, STATEMENTS_SFTP_LIMITS.dirEntriesMax);
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
    const batch = h.names.slice(h.next, h.next + STATEMENTS_SFTP_LIMITS.readdirBatch);
    h.next += batch.length;
    void (async () => {
      const top = await realRoot.catch(() => root);
      const entries: FileEntry[] = [];
      for (const name of batch) {
        // A link that leaves the folder is not even listed.
        const real = await realpath(join(h.diskPath, name)).catch(() => undefined);
        if (real === undefined || !(real === top || real.startsWith(top + sep))) continue;
        const s = await stat(real).catch(() => undefined);
        if (s !== undefined) entries.push({ filename: name, longname: longname(name, s), attrs: toAttrs(s) });
      }
      if (entries.length === 0) sftp.status(reqId, S.EOF);
      else sftp.name(reqId, entries);
    })();
  });

  sftp.on('REALPATH', (reqId, path) => {
    const p = underRoot(root, path);
    if (p === undefined) {
      refuse(reqId, path, 'climbs above the folder');
      return;
    }
    sftp.name(reqId, [{ filename: p.clientPath, longname: p.clientPath, attrs: {} as Attributes }]);
  });

  for (const event of ['WRITE', 'FSETSTAT', 'SETSTAT', 'REMOVE', 'RMDIR', 'MKDIR', 'RENAME', 'SYMLINK'] as const) {
    sftp.on(event, (reqId: number) => {
      log({ kind: 'refused', username, path: '', reason: event });
      sftp.status(reqId, S.PERMISSION_DENIED, 'read-only');
    });
  }
  sftp.on('READLINK', (reqId: number) => sftp.status(reqId, S.OP_UNSUPPORTED));
  sftp.on('close', () => {
    for (const h of handles.values()) if (h.kind === 'file') void h.file.close().catch(() => undefined);
    handles.clear();
  });
}

export async function startStatementsSftp(options: StatementsSftpOptions): Promise<StatementsSftp> {
  const dir = resolve(options.dir);
  const log = options.log ?? (() => undefined);
  const clients = new Set<Connection>();
  const server = new SshServer({ hostKeys: [options.hostKeyPem], ident: 'settle-statements' }, (client) => {
    clients.add(client);
    let merchantId: string | undefined;
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      let accepted = false;
      if (ctx.method === 'publickey' && SAFE_MERCHANT_ID.test(ctx.username)) {
        const match = options
          .keysOf(ctx.username)
          .map(parsePublicKey)
          .find((k) => k !== undefined && k.type === ctx.key.algo && sameBytes(k.publicSsh, ctx.key.data));
        // Without a signature the client only asks whether the key would do; with one, it must verify.
        accepted = match !== undefined && (ctx.signature === undefined || (ctx.blob !== undefined && match.verify(ctx.blob, ctx.signature, ctx.hashAlgo)));
      }
      if (ctx.method !== 'none') log({ kind: 'auth', username: ctx.username.slice(0, 70), method: ctx.method, accepted });
      if (accepted) {
        merchantId = ctx.username;
        ctx.accept();
      } else ctx.reject(['publickey']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('sftp', (acceptSftp) => {
          if (merchantId === undefined) return;
          serveMerchantFolder(acceptSftp(), join(dir, merchantId), merchantId, log);
        });
        session.on('exec', (_accept, reject) => reject());
        session.on('shell', (_accept, reject) => reject());
        session.on('pty', (_accept, reject) => reject?.());
      });
    });
  });
  server.maxConnections = STATEMENTS_SFTP_LIMITS.connectionsMax;
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
