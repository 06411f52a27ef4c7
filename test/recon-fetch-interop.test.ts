// Interoperability: the fetchers against servers others wrote, from Debian packages that .ci/run installs
// (apt-get install openssh-server vsftpd): OpenSSH's sshd with its internal-sftp subsystem (public-key
// login, a pinned host key as `ssh-keygen -l` prints it) and vsftpd (anonymous FTP, and explicit FTPS).
// Each server is started by the test with a temp config on a free loopback port and killed afterwards.
// With CI=true a missing server fails the run; elsewhere the tests are skipped, saying why.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchStatement, type FetchDeps } from '../src/batch/recon/fetch/service.js';
import { channelWith, fakeTime, fetchLog, filesUnder, freePort, refusal, selfSignedCert, tempDir, waitForPort } from '../src/batch/recon/fetch/test-support.js';
import { hostKeyFingerprint } from '../src/online/channel-sim/file-servers.js';

const SSHD = '/usr/sbin/sshd';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';
const VSFTPD = '/usr/sbin/vsftpd';
const IN_CI = process.env['CI'] === 'true';
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

const haveSshd = existsSync(SSHD) && existsSync(SSH_KEYGEN);
// vsftpd drops privileges to its `ftp` user and chroots: it has to be started as root.
const haveVsftpd = existsSync(VSFTPD) && IS_ROOT;

describe('Given the interoperability servers are required in CI', () => {
  it('Then sshd, ssh-keygen and vsftpd (run as root) are present; with CI=true a missing one fails the run', () => {
    const present = { sshd: existsSync(SSHD), sshKeygen: existsSync(SSH_KEYGEN), vsftpd: existsSync(VSFTPD), root: IS_ROOT };
    const missing = Object.entries(present)
      .filter(([, ok]) => !ok)
      .map(([name]) => name);
    if (IN_CI) expect(missing).toEqual([]);
    else if (missing.length > 0) {
      console.warn(`recon-fetch-interop: skipping the servers that need ${missing.join(', ')} (apt-get install openssh-server vsftpd, as root); CI=true would fail here.`);
    }
    expect(haveSshd).toBe(present.sshd && present.sshKeygen);
  });
});

let tmp: ReturnType<typeof tempDir>;
let log: ReturnType<typeof fetchLog>;
let archiveDir: string;

beforeAll(() => {
  tmp = tempDir('fetch-interop');
  // vsftpd's ftp user must be able to walk into the served folder.
  chmodSync(tmp.path, 0o755);
});
afterAll(() => tmp.cleanup());
beforeEach(() => {
  log = fetchLog();
  archiveDir = join(tmp.path, `archive-${Math.random().toString(36).slice(2)}`);
  return () => log.close();
});

function deps(env: Record<string, string> = {}, time = fakeTime()): FetchDeps & { time: ReturnType<typeof fakeTime> } {
  return { store: log.store, archiveDir, env, clock: time.clock, sleep: time.sleep, time };
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

async function startDaemon(binary: string, args: string[], port: number, logFile: string): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<never>((_r, reject) => child.once('exit', (code) => reject(new Error(`${binary} exited (${code}): ${stderr}${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`))));
  await Promise.race([waitForPort(port), exited]);
  exited.catch(() => undefined);
  return child;
}

function keygen(path: string, passphrase = ''): void {
  // Few KDF rounds for the passphrase: ssh2 derives the key in JavaScript, and the test need not be slow.
  execFileSync(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-a', '2', '-N', passphrase, '-C', 'settle-test', '-f', path], { stdio: 'ignore' });
}

describe.runIf(haveSshd)('Given OpenSSH sshd serving files over internal-sftp', () => {
  let sshd: ChildProcess | undefined;
  let port: number;
  let hostKeySha256: string;
  let sshDir: string;
  let filesDir: string;
  let sshdLog: string;
  const BILL = 'openssh served bill\n';

  beforeAll(async () => {
    sshDir = join(tmp.path, 'ssh');
    filesDir = join(tmp.path, 'sftp-files');
    mkdirSync(sshDir);
    mkdirSync(join(filesDir, 'out'), { recursive: true });
    writeFileSync(join(filesDir, 'out', 'bill_20260309.csv'), BILL);
    writeFileSync(join(filesDir, 'out', 'bill_20260301.csv'), 'b'.repeat(4000));
    keygen(join(sshDir, 'host_key'));
    keygen(join(sshDir, 'user_key'));
    keygen(join(sshDir, 'locked_key'), 'correct horse');
    keygen(join(sshDir, 'stranger_key'));
    writeFileSync(join(sshDir, 'authorized_keys'), readFileSync(join(sshDir, 'user_key.pub'), 'utf8') + readFileSync(join(sshDir, 'locked_key.pub'), 'utf8'));
    const printed = execFileSync(SSH_KEYGEN, ['-l', '-E', 'sha256', '-f', join(sshDir, 'host_key.pub')], { encoding: 'utf8' });
    hostKeySha256 = /SHA256:[A-Za-z0-9+/]{43}/.exec(printed)?.[0] ?? '';
    // sshd's privilege separation needs this folder when it runs as root (Debian creates it at boot).
    if (IS_ROOT && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
    port = await freePort();
    sshdLog = join(sshDir, 'sshd.log');
    const config = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(sshDir, 'host_key')}`,
      `PidFile ${join(sshDir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(sshDir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${userInfo().username}`,
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
    ].join('\n');
    writeFileSync(join(sshDir, 'sshd_config'), `${config}\n`);
    sshd = await startDaemon(SSHD, ['-D', '-f', join(sshDir, 'sshd_config'), '-E', sshdLog], port, sshdLog);
  });

  afterAll(() => stop(sshd));

  const source = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    type: 'sftp',
    host: '127.0.0.1',
    port,
    username: userInfo().username,
    private_key_file: join(sshDir, 'user_key'),
    host_key_sha256: hostKeySha256,
    root: join(filesDir, 'out'),
    path_template: 'bill_{yyyyMMdd}.csv',
    timeout_ms: 5000,
    ...extra,
  });

  it('Then the fingerprint the simulator prints for a key is the one ssh-keygen prints', () => {
    expect(hostKeySha256).toMatch(/^SHA256:/);
    expect(hostKeyFingerprint(readFileSync(join(sshDir, 'host_key'), 'utf8'))).toBe(hostKeySha256);
  });

  it('When the file is fetched with a private key file and the host key ssh-keygen printed, Then it is archived; again is a no-op', async () => {
    const first = await fetchStatement(channelWith(source()), '2026-03-09', deps());
    expect(first).toMatchObject({ bytes: Buffer.byteLength(BILL), newFile: true });
    const again = await fetchStatement(channelWith(source()), '2026-03-09', deps());
    expect(again).toMatchObject({ sha256: first.sha256, newFile: false });
    expect(filesUnder(archiveDir)).toHaveLength(1);
  });

  it('When the key comes from the environment with a passphrase, Then it is fetched', async () => {
    const r = await fetchStatement(
      channelWith(source({ private_key_file: undefined, private_key_env: 'SFTP_KEY', passphrase_env: 'SFTP_KEY_PASSPHRASE' })),
      '2026-03-09',
      deps({ SFTP_KEY: readFileSync(join(sshDir, 'locked_key'), 'utf8'), SFTP_KEY_PASSPHRASE: 'correct horse' }),
    );
    expect(r.bytes).toBe(Buffer.byteLength(BILL));
  });

  it('When the key is not authorised, Then fetch_auth_failed', async () => {
    const e = await refusal(fetchStatement(channelWith(source({ private_key_file: join(sshDir, 'stranger_key') })), '2026-03-09', deps()));
    expect(e.code).toBe('fetch_auth_failed');
  });

  it('When another host key is pinned, Then host_key_mismatch and sshd logged no authentication', async () => {
    const before = readFileSync(sshdLog, 'utf8');
    const e = await refusal(fetchStatement(channelWith(source({ host_key_sha256: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })), '2026-03-09', deps()));
    expect(e.code).toBe('host_key_mismatch');
    expect(e.message).toContain(hostKeySha256);
    await new Promise((r) => setTimeout(r, 100)); // let sshd write its line about the closed connection
    const added = readFileSync(sshdLog, 'utf8').slice(before.length);
    expect(added).not.toMatch(/Accepted|Failed|userauth|Postponed|Invalid user/);
  });

  it('When the file is not there before the deadline, Then file_not_ready; when it is too big, file_too_large', async () => {
    expect((await refusal(fetchStatement(channelWith(source({ deadline_s: 20, retry_interval_s: 10 })), '2026-04-01', deps()))).code).toBe('file_not_ready');
    expect((await refusal(fetchStatement(channelWith(source({ bytes_max: 3999 })), '2026-03-01', deps()))).code).toBe('file_too_large');
  });
});

describe.runIf(haveVsftpd)('Given vsftpd serving files to anonymous users, over FTP and explicit FTPS', () => {
  let plain: ChildProcess | undefined;
  let secure: ChildProcess | undefined;
  let plainPort: number;
  let securePort: number;
  let certFile: string;
  const BILL = 'vsftpd served bill\r\n';

  beforeAll(async () => {
    const ftpRoot = join(tmp.path, 'ftp-root');
    const empty = join(tmp.path, 'ftp-empty');
    mkdirSync(join(ftpRoot, 'bills'), { recursive: true });
    mkdirSync(empty);
    writeFileSync(join(ftpRoot, 'bills', 'tradebill_20210128.csv'), BILL);
    writeFileSync(join(ftpRoot, 'bills', 'tradebill_20210101.csv'), 'f'.repeat(2000));
    for (const d of [ftpRoot, join(ftpRoot, 'bills')]) chmodSync(d, 0o755);
    for (const f of ['tradebill_20210128.csv', 'tradebill_20210101.csv']) chmodSync(join(ftpRoot, 'bills', f), 0o644);
    const tls = selfSignedCert(tmp.path);
    certFile = tls.certFile;
    const keyFile = join(tmp.path, 'tls.key');
    const config = (port: number, pasvMin: number, tlsOn: boolean, logFile: string): string =>
      [
        'listen=YES',
        'listen_ipv6=NO',
        'listen_address=127.0.0.1',
        `listen_port=${port}`,
        'background=NO',
        'anonymous_enable=YES',
        `anon_root=${ftpRoot}`,
        'no_anon_password=YES',
        'local_enable=NO',
        'write_enable=NO',
        `secure_chroot_dir=${empty}`,
        'pasv_enable=YES',
        `pasv_min_port=${pasvMin}`,
        `pasv_max_port=${pasvMin + 49}`,
        // Containers refuse the namespaces and seccomp filter vsftpd would set up.
        'seccomp_sandbox=NO',
        'isolate=NO',
        'isolate_network=NO',
        `vsftpd_log_file=${logFile}`,
        ...(tlsOn
          ? ['ssl_enable=YES', 'allow_anon_ssl=YES', 'force_anon_logins_ssl=YES', 'force_anon_data_ssl=YES', `rsa_cert_file=${certFile}`, `rsa_private_key_file=${keyFile}`]
          : []),
      ].join('\n') + '\n';
    // Passive ranges picked at random high ports, apart from each other.
    const base = 40_000 + Math.floor(Math.random() * 200) * 100;
    plainPort = await freePort();
    writeFileSync(join(tmp.path, 'vsftpd-plain.conf'), config(plainPort, base, false, join(tmp.path, 'vsftpd-plain.log')));
    plain = await startDaemon(VSFTPD, [join(tmp.path, 'vsftpd-plain.conf')], plainPort, join(tmp.path, 'vsftpd-plain.log'));
    securePort = await freePort();
    writeFileSync(join(tmp.path, 'vsftpd-tls.conf'), config(securePort, base + 50, true, join(tmp.path, 'vsftpd-tls.log')));
    secure = await startDaemon(VSFTPD, [join(tmp.path, 'vsftpd-tls.conf')], securePort, join(tmp.path, 'vsftpd-tls.log'));
  });

  afterAll(async () => {
    await stop(plain);
    await stop(secure);
  });

  const source = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    type: 'ftp',
    host: '127.0.0.1',
    port: plainPort,
    path_template: 'bills/tradebill_{yyyyMMdd}.csv',
    timeout_ms: 5000,
    ...extra,
  });

  it('When the file is fetched anonymously, Then it is archived byte for byte; again is a no-op', async () => {
    const first = await fetchStatement(channelWith(source(), 'wechat'), '2021-01-28', deps());
    expect(readFileSync(first.archivedPath, 'utf8')).toBe(BILL);
    const again = await fetchStatement(channelWith(source(), 'wechat'), '2021-01-28', deps());
    expect(again).toMatchObject({ sha256: first.sha256, newFile: false });
  });

  it('When the file is not there before the deadline, Then file_not_ready; when too big, file_too_large', async () => {
    expect((await refusal(fetchStatement(channelWith(source({ deadline_s: 5, retry_interval_s: 5 }), 'wechat'), '2021-02-01', deps()))).code).toBe('file_not_ready');
    expect((await refusal(fetchStatement(channelWith(source({ bytes_max: 1999 }), 'wechat'), '2021-01-01', deps()))).code).toBe('file_too_large');
  });

  it('When a local user logs in (local users are off), Then fetch_auth_failed', async () => {
    const e = await refusal(fetchStatement(channelWith(source({ username: 'settle', password_env: 'FTP_PW' }), 'wechat'), '2021-01-28', deps({ FTP_PW: 'whatever' })));
    expect(e.code).toBe('fetch_auth_failed');
  });

  it('When fetched over explicit FTPS with the server’s certificate as ca_file, Then it is archived', async () => {
    const r = await fetchStatement(channelWith(source({ type: 'ftps', port: securePort, ca_file: certFile }), 'wechat'), '2021-01-28', deps());
    expect(readFileSync(r.archivedPath, 'utf8')).toBe(BILL);
  });
});
