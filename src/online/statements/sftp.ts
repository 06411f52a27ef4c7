// Merchants fetch their statements over SFTP: a read-only server where the user name is the merchant
// id, the only way in is an SSH public key the operator registered (settle merchant sftp-key), and each
// session is rooted (chrooted) in that merchant's own folder <dir>/<merchant_id>. Every path a client
// names is resolved under that folder; `..` past its top, an absolute path outside it, or a symbolic
// link whose real path leaves it are refused, and so is every write. The SFTP subsystem is the one the
// channel simulator's bill server uses too (../sftp/read-only.ts), with public keys and one root per
// merchant; links leading out of the folder are also left out of listings.

import { timingSafeEqual } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ssh2, { type SFTPWrapper } from 'ssh2';
import { onlySftpSessions, serveReadOnlySftp, startSshServer } from '../sftp/read-only.js';

const { utils: sshUtils } = ssh2;

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

function serveMerchantFolder(sftp: SFTPWrapper, root: string, username: string, log: (e: StatementsSftpEvent) => void): void {
  const realRoot = realpath(root);
  realRoot.catch(() => undefined);
  serveReadOnlySftp(sftp, {
    root,
    realRoot,
    hideEscapingLinks: true,
    sortListings: true,
    outsideMessage: 'outside your folder',
    owner: 'settle',
    limits: STATEMENTS_SFTP_LIMITS,
    log: (e) => {
      const reason = e.kind === 'climbs' ? 'climbs above the folder' : e.kind === 'escaping-link' ? 'a link leads outside the folder' : e.reason;
      log({ kind: 'refused', username, path: e.path, reason });
    },
  });
}

export async function startStatementsSftp(options: StatementsSftpOptions): Promise<StatementsSftp> {
  const dir = resolve(options.dir);
  const log = options.log ?? (() => undefined);
  return startSshServer(
    { hostKeyPem: options.hostKeyPem, ident: 'settle-statements', host: options.host, port: options.port, connectionsMax: STATEMENTS_SFTP_LIMITS.connectionsMax },
    (client) => {
      let merchantId: string | undefined;
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
      onlySftpSessions(client, (acceptSftp) => {
        if (merchantId === undefined) return;
        serveMerchantFolder(acceptSftp(), join(dir, merchantId), merchantId, log);
      });
    },
  );
}
