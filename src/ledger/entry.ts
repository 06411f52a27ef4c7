// Commands the ledger accepts, and the pure validation of their shape. Everything an operator or a
// service submits passes through parseCommand() at the boundary; after that the values are trusted.

import { hash } from 'node:crypto';
import type { Side } from './chart.js';
import { SIDES } from './chart.js';
import { failure, type LedgerFailure } from './errors.js';
import { LIMITS } from './limits.js';
import { currencyOrFailure, parseAmountMinor, parseDecimalAmount, type Result, type RoundingMode } from './money.js';

export interface PostingInput {
  readonly accountId: string;
  readonly side: Side;
  readonly amountMinor: bigint;
  readonly currency: string;
}

interface CommandBase {
  /** Caller-chosen id of the journal entry this command creates; the idempotency key. */
  readonly id: string;
  readonly memo?: string | undefined;
}

/** A posted entry, or with `expiresAtMs` a pending one (a two-phase hold). */
export interface EntryCommand extends CommandBase {
  readonly type: 'entry';
  readonly eventType: string;
  readonly reference?: string | undefined;
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
  /** Must be the open business day when given; otherwise the open day is used. */
  readonly businessDate?: string | undefined;
  readonly postings: readonly PostingInput[];
  readonly expiresAtMs?: number | undefined;
}

/** Posts all of a hold, or part of it (`amountMinor` per side, split over its postings in proportion). */
export interface PostHoldCommand extends CommandBase {
  readonly type: 'post_hold';
  readonly holdId: string;
  readonly amountMinor?: bigint | undefined;
}

export interface VoidHoldCommand extends CommandBase {
  readonly type: 'void_hold';
  readonly holdId: string;
}

/** A new entry mirroring an earlier posted one, linked to it; an entry is reversed at most once. */
export interface ReverseCommand extends CommandBase {
  readonly type: 'reverse';
  readonly entryId: string;
}

export type LedgerCommand = EntryCommand | PostHoldCommand | VoidHoldCommand | ReverseCommand;

export type EntryKind = 'posted' | 'pending' | 'post_pending' | 'void_pending' | 'expire_pending';

export const ENTRY_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** The ledger names the entries that release expired holds `expire.<hold seq>`; callers cannot take those ids. */
export const RESERVED_ID_PREFIX = 'expire.';
const EVENT_TYPE = /^[a-z][a-z0-9_.]{0,63}$/;

export function checkEntryId(id: unknown, what = 'id'): LedgerFailure | undefined {
  if (typeof id === 'string' && ENTRY_ID.test(id)) return undefined;
  return failure('entry_id_invalid', `${what} ${JSON.stringify(typeof id === 'string' ? id.slice(0, 40) : id)} is not a valid id.`);
}

function checkText(value: unknown, name: string, lengthMax: number): LedgerFailure | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return failure('input_invalid', `${name} must be a string.`);
  if (value.length > lengthMax) return failure('input_invalid', `${name} is longer than ${lengthMax} characters.`);
  // A lone UTF-16 surrogate cannot be stored as UTF-8 unchanged, so the stored text would no longer
  // match the hash chain; refuse it at the door.
  if (/\p{Cs}/u.test(value)) return failure('input_invalid', `${name} is not well-formed Unicode (a lone surrogate).`);
  return undefined;
}

/** Validates the parts of a command that need no state: ids, texts, posting count, amounts, balance. */
export function checkCommandShape(cmd: LedgerCommand): LedgerFailure | undefined {
  const bad =
    checkEntryId(cmd.id) ??
    (cmd.id.startsWith(RESERVED_ID_PREFIX)
      ? failure('entry_id_invalid', `Ids starting with "${RESERVED_ID_PREFIX}" are reserved for the ledger's own hold expiries.`)
      : undefined) ??
    checkText(cmd.memo, 'memo', LIMITS.memoLengthMax);
  if (bad) return bad;
  switch (cmd.type) {
    case 'post_hold':
      if (cmd.amountMinor !== undefined) {
        if (typeof cmd.amountMinor !== 'bigint') return failure('input_invalid', 'amountMinor must be a bigint.');
        const amount = parseAmountMinor(cmd.amountMinor);
        if (!amount.ok) return amount;
      }
      return checkEntryId(cmd.holdId, 'hold id');
    case 'void_hold':
      return checkEntryId(cmd.holdId, 'hold id');
    case 'reverse':
      return checkEntryId(cmd.entryId, 'entry id');
    case 'entry':
      return checkEntryShape(cmd);
  }
}

function checkEntryShape(cmd: EntryCommand): LedgerFailure | undefined {
  if (typeof cmd.eventType !== 'string' || !EVENT_TYPE.test(cmd.eventType)) {
    return failure('input_invalid', `event_type ${JSON.stringify(cmd.eventType)} must match ${EVENT_TYPE.source}.`);
  }
  const bad =
    checkText(cmd.reference, 'reference', LIMITS.referenceLengthMax) ??
    (cmd.businessDate !== undefined && !isIsoDate(cmd.businessDate)
      ? failure('input_invalid', `business_date ${JSON.stringify(cmd.businessDate)} is not a YYYY-MM-DD date.`)
      : undefined);
  if (bad) return bad;
  if (cmd.metadata !== undefined) {
    if (typeof cmd.metadata !== 'object' || cmd.metadata === null || Array.isArray(cmd.metadata)) {
      return failure('input_invalid', 'metadata must be a JSON object.');
    }
    let text: string;
    try {
      text = JSON.stringify(cmd.metadata);
    } catch {
      return failure('input_invalid', 'metadata must be plain JSON (no bigints, no cycles).');
    }
    if (Buffer.byteLength(text) > LIMITS.metadataBytesMax) {
      return failure('input_invalid', `metadata is larger than ${LIMITS.metadataBytesMax} bytes.`);
    }
  }
  if (cmd.postings.length < 2) return failure('postings_too_few', `The entry has ${cmd.postings.length} posting(s).`);
  if (cmd.postings.length > LIMITS.postingsPerEntryMax) {
    return failure('postings_too_many', `The entry has ${cmd.postings.length} postings.`);
  }
  const net = new Map<string, bigint>();
  if (cmd.expiresAtMs !== undefined && !Number.isSafeInteger(cmd.expiresAtMs)) {
    return failure('hold_expiry_invalid', `expiresAtMs ${String(cmd.expiresAtMs)} is not a whole number of milliseconds.`);
  }
  for (const [i, p] of cmd.postings.entries()) {
    // Typed callers cannot get these wrong, but a value from JSON or a cast can; refuse it here rather
    // than let it throw inside a batch and take the other commands down with it.
    if (typeof p.accountId !== 'string') return failure('input_invalid', `postings[${i}].account_id must be a string.`);
    if (typeof p.amountMinor !== 'bigint') return failure('input_invalid', `postings[${i}].amountMinor must be a bigint.`);
    const currency = currencyOrFailure(p.currency);
    if (!currency.ok) return currency;
    if (!SIDES.includes(p.side)) return failure('input_invalid', `postings[${i}].side must be "debit" or "credit".`);
    const amount = parseAmountMinor(p.amountMinor);
    if (!amount.ok) return amount;
    const signed = p.side === 'debit' ? amount.value : -amount.value;
    net.set(p.currency, (net.get(p.currency) ?? 0n) + signed);
  }
  for (const [currency, difference] of net) {
    if (difference !== 0n) {
      return failure('entry_unbalanced', `In ${currency} the debits exceed the credits by ${difference} minor units.`);
    }
  }
  return undefined;
}

export function isIsoDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const t = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === value;
}

/** True for a time zone name the runtime knows (IANA, e.g. Asia/Shanghai): the calendar of business dates. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-CA', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function nextDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** JSON with bigints as strings and object keys sorted: the same content always serialises the same. */
export function canonicalJson(value: unknown): string {
  return flatCanonicalJson(value) ?? JSON.stringify(value, canonicalValue);
}

function canonicalValue(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return v;
}

/**
 * The canonical JSON of the usual metadata, a flat object of strings, numbers, booleans and nulls, written
 * without the copies the replacer makes (it is hashed twice per entry: fingerprint and chain). The same
 * text as the replacer's: keys sorted by code unit (what sort() does), each key and value as
 * JSON.stringify writes it. undefined for anything else, which takes the replacer: nested values, a
 * toJSON, or a key starting with a digit (an object enumerates index-like keys first, whatever the
 * order they were added in).
 */
function flatCanonicalJson(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const object = value as Record<string, unknown>;
  if (typeof object['toJSON'] === 'function') return undefined;
  const keys = Object.keys(object).sort();
  let out = '{';
  for (const key of keys) {
    const first = key.charCodeAt(0);
    if (first >= 48 && first <= 57) return undefined;
    const v = object[key];
    if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return undefined;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(key)}:${JSON.stringify(v)}`;
  }
  return `${out}}`;
}

export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

const postingTuples = (postings: readonly PostingInput[]): [string, Side, string, string][] =>
  postings.map((p) => [p.accountId, p.side, p.amountMinor.toString(), p.currency]);

/**
 * Fingerprint of what the caller asked for: same id + same fingerprint = a replay. Each command is
 * written as one flat JSON array, field by field (absent and undefined alike as null; metadata with its
 * keys sorted), which is several times faster than a generic canonical serialiser on the hot path.
 */
export function commandFingerprint(cmd: LedgerCommand): string {
  let fields: unknown[];
  switch (cmd.type) {
    case 'entry':
      fields = [
        cmd.type,
        cmd.id,
        cmd.eventType,
        cmd.reference ?? null,
        cmd.memo ?? null,
        cmd.businessDate ?? null,
        cmd.expiresAtMs ?? null,
        cmd.metadata === undefined ? null : canonicalJson(cmd.metadata),
        postingTuples(cmd.postings),
      ];
      break;
    case 'post_hold':
      fields = [cmd.type, cmd.id, cmd.holdId, cmd.amountMinor?.toString() ?? null, cmd.memo ?? null];
      break;
    case 'void_hold':
      fields = [cmd.type, cmd.id, cmd.holdId, cmd.memo ?? null];
      break;
    case 'reverse':
      fields = [cmd.type, cmd.id, cmd.entryId, cmd.memo ?? null];
      break;
  }
  return sha256Hex(JSON.stringify(fields));
}

// ---- Parsing the JSON form (the contract of `settle ledger post --file`) ----

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unknownKeys(obj: Json, allowed: readonly string[], where: string): LedgerFailure | undefined {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  return extra.length > 0 ? failure('input_invalid', `${where} has unknown key(s): ${extra.slice(0, 5).join(', ')}.`) : undefined;
}

function parsePosting(raw: unknown, i: number, rounding: RoundingMode | undefined): Result<PostingInput> {
  const where = `postings[${i}]`;
  if (!isObject(raw)) return failure('input_invalid', `${where} must be an object.`);
  const bad = unknownKeys(raw, ['account_id', 'side', 'amount_minor', 'amount', 'currency'], where);
  if (bad) return bad;
  if (typeof raw['account_id'] !== 'string' || raw['account_id'].length === 0) {
    return failure('input_invalid', `${where}.account_id must be a non-empty string.`);
  }
  const side = raw['side'];
  if (side !== 'debit' && side !== 'credit') return failure('input_invalid', `${where}.side must be "debit" or "credit".`);
  const currency = currencyOrFailure(raw['currency']);
  if (!currency.ok) return currency;
  const hasMinor = raw['amount_minor'] !== undefined;
  const hasMajor = raw['amount'] !== undefined;
  if (hasMinor === hasMajor) return failure('input_invalid', `${where} needs exactly one of amount_minor or amount.`);
  const amount = hasMinor
    ? parseAmountMinor(raw['amount_minor'])
    : parseDecimalAmount(raw['amount'], currency.value, rounding);
  if (!amount.ok) return amount;
  return { ok: true, value: { accountId: raw['account_id'], side, amountMinor: amount.value, currency: currency.value.code } };
}

export interface ParseOptions {
  /** Round `amount` decimals with more fraction digits than the currency has, instead of refusing. */
  readonly rounding?: RoundingMode | undefined;
}

/**
 * Reads one entry in its JSON form:
 * {"id","event_type","memo"?,"reference"?,"metadata"?,"business_date"?,"expires_at"?,"postings":[…]}
 * `expires_at` (ISO 8601 time) makes the entry a pending hold.
 */
export function parseEntryJson(raw: unknown, options: ParseOptions = {}): Result<EntryCommand> {
  if (!isObject(raw)) return failure('input_invalid', 'The entry must be a JSON object.');
  const bad = unknownKeys(
    raw,
    ['id', 'event_type', 'memo', 'reference', 'metadata', 'business_date', 'expires_at', 'postings'],
    'The entry',
  );
  if (bad) return bad;
  const idBad = checkEntryId(raw['id']);
  if (idBad) return idBad;
  if (!Array.isArray(raw['postings'])) return failure('input_invalid', 'postings must be an array.');
  if (raw['postings'].length > LIMITS.postingsPerEntryMax) {
    return failure('postings_too_many', `The entry has ${raw['postings'].length} postings.`);
  }
  const postings: PostingInput[] = [];
  for (const [i, p] of raw['postings'].entries()) {
    const posting = parsePosting(p, i, options.rounding);
    if (!posting.ok) return posting;
    postings.push(posting.value);
  }
  let expiresAtMs: number | undefined;
  if (raw['expires_at'] !== undefined) {
    const t = typeof raw['expires_at'] === 'string' ? Date.parse(raw['expires_at']) : Number.NaN;
    if (!Number.isFinite(t)) return failure('hold_expiry_invalid', 'expires_at must be an ISO 8601 time.');
    expiresAtMs = t;
  }
  for (const key of ['memo', 'reference', 'business_date', 'event_type'] as const) {
    if (raw[key] !== undefined && typeof raw[key] !== 'string') return failure('input_invalid', `${key} must be a string.`);
  }
  const cmd: EntryCommand = {
    type: 'entry',
    id: raw['id'] as string,
    eventType: raw['event_type'] as string,
    memo: raw['memo'] as string | undefined,
    reference: raw['reference'] as string | undefined,
    metadata: raw['metadata'] as Json | undefined,
    businessDate: raw['business_date'] as string | undefined,
    postings,
    expiresAtMs,
  };
  const shape = checkCommandShape(cmd);
  return shape ?? { ok: true, value: cmd };
}
