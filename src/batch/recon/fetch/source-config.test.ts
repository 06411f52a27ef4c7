// The source schema: each type with its defaults, secrets only by reference, pinned host keys in
// OpenSSH's format, templates that name a full date, and unknown keys refused.

import { describe, expect, it } from 'vitest';
import { describeSource, parseSource } from './source-config.js';

const T = '{yyyy}/{MM}/bill_{yyyyMMdd}.csv';
const KEY = 'SHA256:Skn4gLn36EmQsM1WmKY1IU4TkI1oMFWVK26WFjblFTg';

function problem(raw: unknown): string {
  const r = parseSource(raw);
  if (r.ok) return '';
  return r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
}

describe('Given a source of each type', () => {
  it('When a minimal local source is parsed, Then the defaults are filled in and the value is frozen', () => {
    const r = parseSource({ type: 'local', dir: '/srv/bills', path_template: T });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ deadline_s: 0, retry_interval_s: 60, retry_interval_max_s: 600, date_offset_days: 0, timeout_ms: 30_000, bytes_max: 1024 ** 3 });
    expect(Object.isFrozen(r.value)).toBe(true);
  });

  it('When an SFTP source names a password variable and a pinned key, Then it parses with port 22', () => {
    const r = parseSource({ type: 'sftp', host: 'sftp.bank.example', username: 'm100', password_env: 'BANK_SFTP_PASSWORD', host_key_sha256: KEY, root: '/outgoing', path_template: T });
    expect(r.ok && r.value).toMatchObject({ port: 22, root: '/outgoing' });
    if (r.ok) expect(describeSource(r.value)).toBe('sftp://m100@sftp.bank.example:22/outgoing');
  });

  it('When FTP, FTPS and HTTPS sources are parsed, Then their defaults apply', () => {
    expect(parseSource({ type: 'ftp', host: '10.0.0.5', path_template: T })).toMatchObject({ ok: true, value: { port: 21, username: 'anonymous' } });
    expect(parseSource({ type: 'ftps', host: '10.0.0.5', password_file: '/etc/settle/ftp.pw', ca_file: '/etc/settle/ca.pem', path_template: T }).ok).toBe(true);
    const https = parseSource({ type: 'https', url_template: 'https://files.example/bills/{yyyy}/', headers_env: { Authorization: 'BILL_TOKEN' }, path_template: 'b_{yyyyMMdd}.csv' });
    expect(https.ok && https.value).toMatchObject({ headers_env: { Authorization: 'BILL_TOKEN' } });
  });
});

describe('Given sources that must be refused', () => {
  it('When a secret is written into the config, Then the unknown key is refused', () => {
    expect(problem({ type: 'sftp', host: 'h', username: 'u', password: 'hunter2', host_key_sha256: KEY, path_template: T })).toContain('password');
    expect(problem({ type: 'http', url_template: 'http://h/', headers: { Authorization: 'Bearer x' }, path_template: T })).toContain('headers');
  });

  it('When an SFTP source pins no host key, or a key not in SHA256:base64 form, Then it is refused', () => {
    const base = { type: 'sftp', host: 'h', username: 'u', password_env: 'P', path_template: T };
    expect(problem(base)).toContain('host_key_sha256');
    expect(problem({ ...base, host_key_sha256: 'MD5:aa:bb' })).toContain('host_key_sha256');
    expect(problem({ ...base, host_key_sha256: `${KEY}=` })).toBe('');
  });

  it('When an SFTP source names no credential or two, Then it is refused', () => {
    const base = { type: 'sftp', host: 'h', username: 'u', host_key_sha256: KEY, path_template: T };
    expect(problem(base)).toContain('exactly one');
    expect(problem({ ...base, password_env: 'P', private_key_file: '/k' })).toContain('exactly one');
    expect(problem({ ...base, password_env: 'P', passphrase_env: 'Q' })).toContain('passphrase');
    expect(problem({ ...base, private_key_env: 'K', passphrase_env: 'Q' })).toBe('');
  });

  it('When the template has an unknown token or does not name a full date, Then it is refused', () => {
    expect(problem({ type: 'local', dir: '/d', path_template: '{date}.csv' })).toContain('{date} is not a token');
    expect(problem({ type: 'local', dir: '/d', path_template: '{yyyy}{MM}.csv' })).toContain('year, the month and the day');
  });

  it('When an HTTP URL carries credentials, a fragment or the wrong scheme, Then it is refused', () => {
    const base = { path_template: T };
    expect(problem({ ...base, type: 'https', url_template: 'https://user:pw@h/' })).toContain('credentials');
    expect(problem({ ...base, type: 'https', url_template: 'http://h/' })).toContain('https://');
    expect(problem({ ...base, type: 'http', url_template: 'http://h/#x' })).toContain('fragment');
    expect(problem({ ...base, type: 'http', url_template: 'not a url' })).toContain('not a URL');
  });

  it('When the type is unknown or limits are out of range, Then it is refused', () => {
    expect(problem({ type: 'gopher', path_template: T })).not.toBe('');
    expect(problem({ type: 'local', dir: '/d', path_template: T, bytes_max: 0 })).toContain('bytes_max');
    expect(problem({ type: 'local', dir: '/d', path_template: T, deadline_s: 86_401 })).toContain('deadline_s');
    expect(problem({ type: 'local', dir: '/d', path_template: T, retry_interval_s: 120, retry_interval_max_s: 60 })).toContain('retry_interval_max_s');
    expect(problem({ type: 'ftp', host: 'h', root: 'relative', path_template: T })).toContain('root');
    expect(problem({ type: 'ftp', host: 'h', root: '/a/../b', path_template: T })).toContain('root');
  });
});
