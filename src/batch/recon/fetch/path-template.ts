// Path templates: where a channel puts its file for a date, in the channel's own date format.
//
// Tokens (all zero-padded; the date is the asked business date plus the source's `date_offset_days`):
//   {yyyy}        2026         {yy}          26
//   {MM}          03           {dd}          09
//   {yyyyMMdd}    20260309     {yyyy-MM-dd}  2026-03-09
//   {yyMMdd}      260309       (UnionPay ZM names its file INN{yyMMdd}88ZM_{merId})
// Any other `{…}`, or a lone brace, is refused when the config is read. Together the tokens of a template
// must name the year, the month and the day, so a template can never fetch one fixed file for every date.
//
// A resolved path is relative, uses `/` only, and has no empty, `.` or `..` segment, no backslash, no
// control character: anything else is `path_unsafe`. Joined to a root, it can therefore never leave it.

import { posix } from 'node:path';
import { ReconError } from '../errors.js';

export const DATE_TOKENS = ['yyyy', 'yy', 'MM', 'dd', 'yyyyMMdd', 'yyyy-MM-dd', 'yyMMdd'] as const;
export type DateToken = (typeof DATE_TOKENS)[number];

/** What each token tells about the date: a template must cover y, m and d. */
const TOKEN_PARTS: Readonly<Record<DateToken, readonly ('y' | 'm' | 'd')[]>> = {
  yyyy: ['y'],
  yy: ['y'],
  MM: ['m'],
  dd: ['d'],
  yyyyMMdd: ['y', 'm', 'd'],
  'yyyy-MM-dd': ['y', 'm', 'd'],
  yyMMdd: ['y', 'm', 'd'],
};

/** A resolved path is at most this long (bytes of UTF-8), and has at most this many segments. */
export const RESOLVED_PATH_BYTES_MAX = 1024;
export const PATH_SEGMENTS_MAX = 32;

function isDateToken(name: string): name is DateToken {
  return (DATE_TOKENS as readonly string[]).includes(name);
}

/** The problems of a template's syntax (unknown token, lone brace), empty when it is fine. */
export function templateProblems(template: string): string[] {
  const problems: string[] = [];
  const stripped = template.replace(/\{([^{}]*)\}/g, (_m, name: string) => {
    if (!isDateToken(name)) problems.push(`{${name}} is not a token (known: ${DATE_TOKENS.map((t) => `{${t}}`).join(' ')})`);
    return '';
  });
  if (/[{}]/.test(stripped)) problems.push('a brace that opens or closes no token');
  return problems;
}

/** True when the templates' tokens together name the year, the month and the day. */
export function templatesCoverDate(templates: readonly string[]): boolean {
  const seen = new Set<string>();
  for (const template of templates) {
    for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
      const name = m[1] ?? '';
      if (isDateToken(name)) for (const part of TOKEN_PARTS[name]) seen.add(part);
    }
  }
  return seen.has('y') && seen.has('m') && seen.has('d');
}

export interface DateParts {
  readonly yyyy: string;
  readonly MM: string;
  readonly dd: string;
}

/** The calendar date `isoDate` (YYYY-MM-DD) moved by `offsetDays`, as zero-padded parts. */
export function dateParts(isoDate: string, offsetDays = 0): DateParts {
  const ms = Date.parse(`${isoDate}T00:00:00Z`) + offsetDays * 86_400_000;
  const shifted = new Date(ms).toISOString().slice(0, 10);
  return { yyyy: shifted.slice(0, 4), MM: shifted.slice(5, 7), dd: shifted.slice(8, 10) };
}

function tokenValue(name: DateToken, d: DateParts): string {
  const yy = d.yyyy.slice(2);
  switch (name) {
    case 'yyyy':
      return d.yyyy;
    case 'yy':
      return yy;
    case 'MM':
      return d.MM;
    case 'dd':
      return d.dd;
    case 'yyyyMMdd':
      return `${d.yyyy}${d.MM}${d.dd}`;
    case 'yyyy-MM-dd':
      return `${d.yyyy}-${d.MM}-${d.dd}`;
    case 'yyMMdd':
      return `${yy}${d.MM}${d.dd}`;
  }
}

/** Replaces every token by its value; a template with a syntax problem is a bug here (the schema checks). */
export function fillTemplate(template: string, d: DateParts): string {
  return template.replace(/\{([^{}]*)\}/g, (whole, name: string) => (isDateToken(name) ? tokenValue(name, d) : whole));
}

/** Why a resolved relative path is unsafe, or undefined when it is safe. */
export function unsafeReason(path: string): string | undefined {
  if (path.length === 0) return 'it is empty';
  if (Buffer.byteLength(path) > RESOLVED_PATH_BYTES_MAX) return `it is longer than ${RESOLVED_PATH_BYTES_MAX} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'it holds a control character';
  if (path.includes('\\')) return 'it holds a backslash';
  if (path.startsWith('/')) return 'it is absolute';
  if (/^[A-Za-z]:/.test(path)) return 'it names a drive';
  const segments = path.split('/');
  if (segments.length > PATH_SEGMENTS_MAX) return `it has more than ${PATH_SEGMENTS_MAX} segments`;
  for (const s of segments) {
    if (s === '..') return 'it climbs with ..';
    if (s === '.') return 'it has a . segment';
    if (s === '') return 'it has an empty segment (// or a trailing /)';
  }
  return undefined;
}

/** The template filled in for the date; `path_unsafe` when the result is not a safe relative path. */
export function resolvePathTemplate(template: string, isoDate: string, offsetDays = 0): string {
  const path = fillTemplate(template, dateParts(isoDate, offsetDays));
  const reason = unsafeReason(path);
  if (reason !== undefined) throw new ReconError('path_unsafe', `The path template ${JSON.stringify(template)} resolves to ${JSON.stringify(path)}, refused: ${reason}.`);
  return path;
}

/**
 * The safe relative `path` under a remote (POSIX) `root`; without a root the path stays relative to the
 * login folder. Belt and braces: the join is checked to stay under the root.
 */
export function joinUnderRoot(root: string | undefined, path: string): string {
  const reason = unsafeReason(path);
  if (reason !== undefined) throw new ReconError('path_unsafe', `The path ${JSON.stringify(path)} is refused: ${reason}.`);
  if (root === undefined) return path;
  const base = posix.normalize(root).replace(/\/+$/, '') || '/';
  const joined = posix.join(base, path);
  const prefix = base === '/' ? '/' : `${base}/`;
  if (!joined.startsWith(prefix)) throw new ReconError('path_unsafe', `The path ${JSON.stringify(path)} leaves the root ${base}.`);
  return joined;
}
