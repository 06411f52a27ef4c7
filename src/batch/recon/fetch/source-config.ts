// Where one channel's file comes from: the `source` of a channel in the recon config, parsed once at the
// boundary (a discriminated union on `type`; unknown keys are refused). Secrets never sit in the config:
// a source names the environment variable or the file that holds them, and they are read when fetching.
// Every key is documented in ./README.md.

import { z } from 'zod';
import { templateProblems, templatesCoverDate } from './path-template.js';

export const SOURCE_TYPES = ['local', 'sftp', 'ftp', 'ftps', 'http', 'https'] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];

/** Limits with their reasons. */
export const SOURCE_LIMITS = {
  /** A bill of a few million rows is a few hundred MiB; 1 GiB leaves room, 16 GiB is a typo. */
  bytesMaxDefault: 1024 * 1024 * 1024,
  bytesMaxCeiling: 16 * 1024 * 1024 * 1024,
  /** How long a connection, a request or a silent transfer may take before it is `fetch_timeout`. */
  timeoutMsDefault: 30_000,
  timeoutMsCeiling: 600_000,
  /** Polling for a file not yet published: first wait, longest wait, and how long to keep trying. */
  retryIntervalSDefault: 60,
  retryIntervalMaxSDefault: 600,
  /** A channel publishing more than a day late is an incident for a person, not a loop. */
  deadlineSCeiling: 86_400,
  headersMax: 16,
} as const;

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name');
const filePath = z.string().min(1).max(4096);
const host = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9.:_-]+$/, 'a host name or IP address');
const port = z.number().int().min(1).max(65_535);

const pathTemplate = z
  .string()
  .min(1)
  .max(512)
  .superRefine((template, ctx) => {
    for (const problem of templateProblems(template)) ctx.addIssue({ code: 'custom', message: problem });
  });

/** An absolute POSIX folder on the server under which path_template resolves (default: the login folder). */
const remoteRoot = z
  .string()
  .max(512)
  .regex(/^\/[^\\]*$/, 'an absolute path starting with /, without backslashes')
  .refine((r) => !r.includes('\u0000') && !r.split('/').includes('..'), 'a root without .. or NUL');

const common = {
  /** The file's path relative to the source's root, with date tokens (see path-template.ts). */
  path_template: pathTemplate,
  /** The date put in the path is the asked business date plus this (a channel naming files by the next day: 1). */
  date_offset_days: z.number().int().min(-7).max(7).default(0),
  /** First wait in seconds when the file is not there yet; each next wait doubles, up to retry_interval_max_s. */
  retry_interval_s: z.number().int().min(1).max(3600).default(SOURCE_LIMITS.retryIntervalSDefault),
  retry_interval_max_s: z.number().int().min(1).max(3600).default(SOURCE_LIMITS.retryIntervalMaxSDefault),
  /** How long to keep polling while the file is not there yet; 0 = one attempt. */
  deadline_s: z.number().int().min(0).max(SOURCE_LIMITS.deadlineSCeiling).default(0),
  bytes_max: z.number().int().min(1).max(SOURCE_LIMITS.bytesMaxCeiling).default(SOURCE_LIMITS.bytesMaxDefault),
  timeout_ms: z.number().int().min(100).max(SOURCE_LIMITS.timeoutMsCeiling).default(SOURCE_LIMITS.timeoutMsDefault),
};

const localSource = z.strictObject({
  type: z.literal('local'),
  /** The folder the channel's files land in (relative paths are relative to the working folder). */
  dir: filePath,
  ...common,
});

const passwordFrom = {
  password_env: envName.optional(),
  password_file: filePath.optional(),
};

const sftpSource = z.strictObject({
  type: z.literal('sftp'),
  host,
  port: port.default(22),
  username: z.string().min(1).max(64),
  ...passwordFrom,
  private_key_env: envName.optional(),
  private_key_file: filePath.optional(),
  passphrase_env: envName.optional(),
  /** The server's host key as `ssh-keygen -lf` prints it: `SHA256:` and 43 base64 characters. */
  host_key_sha256: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'SHA256: followed by the 43-character base64 fingerprint'),
  root: remoteRoot.optional(),
  ...common,
});

const ftpFields = {
  host,
  port: port.default(21),
  username: z.string().min(1).max(64).default('anonymous'),
  ...passwordFrom,
  root: remoteRoot.optional(),
  ...common,
};

const ftpSource = z.strictObject({ type: z.literal('ftp'), ...ftpFields });

const ftpsSource = z.strictObject({
  type: z.literal('ftps'),
  ...ftpFields,
  /** PEM file of the CA (or the self-signed certificate) to trust besides the system's. */
  ca_file: filePath.optional(),
});

const httpFields = {
  /** The base URL (date tokens allowed); the resolved path_template is appended to its path. */
  url_template: z
    .string()
    .min(1)
    .max(1024)
    .superRefine((template, ctx) => {
      for (const problem of templateProblems(template)) ctx.addIssue({ code: 'custom', message: problem });
    }),
  /** Request headers whose values come from environment variables: {"Authorization": "BILL_TOKEN"}. */
  headers_env: z
    .record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a header name'), envName)
    .refine((h) => Object.keys(h).length <= SOURCE_LIMITS.headersMax, `at most ${SOURCE_LIMITS.headersMax} headers`)
    .default({}),
  ...common,
};

const httpSource = z.strictObject({ type: z.literal('http'), ...httpFields });
const httpsSource = z.strictObject({ type: z.literal('https'), ...httpFields, ca_file: filePath.optional() });

export const sourceConfigSchema = z
  .discriminatedUnion('type', [localSource, sftpSource, ftpSource, ftpsSource, httpSource, httpsSource])
  .superRefine((s, ctx) => {
    const templates = s.type === 'http' || s.type === 'https' ? [s.url_template, s.path_template] : [s.path_template];
    if (!templatesCoverDate(templates)) {
      ctx.addIssue({ code: 'custom', path: ['path_template'], message: 'the template must name the year, the month and the day (e.g. {yyyyMMdd})' });
    }
    if (s.retry_interval_max_s < s.retry_interval_s) {
      ctx.addIssue({ code: 'custom', path: ['retry_interval_max_s'], message: 'must be at least retry_interval_s' });
    }
    if (s.type === 'sftp') {
      const ways = [s.password_env, s.password_file, s.private_key_env, s.private_key_file].filter((v) => v !== undefined).length;
      if (ways !== 1) ctx.addIssue({ code: 'custom', message: 'name exactly one of password_env, password_file, private_key_env, private_key_file' });
      if (s.passphrase_env !== undefined && s.private_key_env === undefined && s.private_key_file === undefined) {
        ctx.addIssue({ code: 'custom', path: ['passphrase_env'], message: 'a passphrase goes with a private key' });
      }
    }
    if ((s.type === 'ftp' || s.type === 'ftps') && s.password_env !== undefined && s.password_file !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'name at most one of password_env, password_file' });
    }
    if (s.type === 'http' || s.type === 'https') {
      const problem = urlTemplateProblem(s.type, s.url_template);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['url_template'], message: problem });
    }
  });

export type SourceConfig = z.infer<typeof sourceConfigSchema>;
export type SftpSourceConfig = Extract<SourceConfig, { type: 'sftp' }>;
export type FtpSourceConfig = Extract<SourceConfig, { type: 'ftp' | 'ftps' }>;
export type HttpSourceConfig = Extract<SourceConfig, { type: 'http' | 'https' }>;
export type LocalSourceConfig = Extract<SourceConfig, { type: 'local' }>;

function urlTemplateProblem(type: 'http' | 'https', template: string): string | undefined {
  let url: URL;
  try {
    // Tokens are digits once filled; a stand-in date lets URL check the rest.
    url = new URL(template.replace(/\{[^{}]*\}/g, '0'));
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== `${type}:`) return `a ${type} source needs a ${type}:// URL`;
  if (url.username !== '' || url.password !== '') return 'credentials do not go in the URL; use headers_env';
  if (url.hash !== '') return 'a URL without a #fragment';
  return undefined;
}

/** Parses one channel's source (the others call this with `channel.source`); frozen on success. */
export function parseSource(raw: unknown): { ok: true; value: SourceConfig } | { ok: false; error: z.ZodError } {
  const parsed = sourceConfigSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: parsed.error };
  return { ok: true, value: Object.freeze(parsed.data) };
}

/** A description of where the file comes from, for logs and results: never a secret. */
export function describeSource(s: SourceConfig): string {
  switch (s.type) {
    case 'local':
      return `local:${s.dir}`;
    case 'sftp':
    case 'ftp':
    case 'ftps':
      return `${s.type}://${s.username}@${s.host}:${s.port}${s.root ?? ''}`;
    case 'http':
    case 'https':
      return s.url_template;
  }
}
