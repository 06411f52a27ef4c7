// The ledger's rules as pure functions. A store adapter opens a write transaction, hands the planner
// a view of the rows it needs, and writes the plan it gets back; every adapter (SQLite today,
// PostgreSQL later) enforces exactly the same rules because they all call planCommand().
//
// Order of checks (earlier failures win): shape → idempotency (same id) → business day → accounts
// (exist, open, currency) → links (hold / reversal state) → limits (overdraft flags, counter overflow).

import { ACCOUNT_FLAGS, type AccountStatus, type Counters, type Side } from './chart.js';
import {
  checkCommandShape,
  commandFingerprint,
  type EntryCommand,
  type EntryKind,
  type LedgerCommand,
  type PostHoldCommand,
  type PostingInput,
  RESERVED_ID_PREFIX,
} from './entry.js';
import { failure, invariant, type LedgerFailure } from './errors.js';
import { LIMITS } from './limits.js';
import { allocate, COUNTER_MAX } from './money.js';

export interface AccountState extends Counters {
  readonly accountNo: number;
  readonly accountId: string;
  readonly subjectCode: string;
  readonly currency: string;
  readonly status: AccountStatus;
  readonly flags: number;
}

export type HoldStatus = 'pending' | 'posted' | 'voided' | 'expired';

export interface StoredEntry {
  readonly seq: number;
  readonly entryId: string;
  readonly kind: EntryKind;
  readonly fingerprint: string;
  readonly businessDate: string;
  readonly holdStatus?: HoldStatus | undefined;
  readonly expiresAtMs?: number | undefined;
  readonly reversedByEntryId?: string | undefined;
}

export interface RecordedPosting extends PostingInput {
  readonly accountNo: number;
}

/** What the planner may read inside the adapter's write transaction. */
export interface PlanContext {
  readonly openDay: string;
  readonly nowMs: number;
  account(accountId: string): AccountState | undefined;
  entry(entryId: string): StoredEntry | undefined;
  postingsOf(seq: number): readonly RecordedPosting[];
}

export interface CounterChange {
  readonly account: AccountState;
  readonly after: Counters;
}

export interface EntryPlan {
  readonly entryId: string;
  readonly kind: EntryKind;
  readonly fingerprint: string;
  readonly businessDate: string;
  readonly eventType: string;
  readonly reference: string | null;
  readonly memo: string | null;
  readonly metadata: Readonly<Record<string, unknown>> | null;
  readonly expiresAtMs: number | null;
  /** For post/void/expire of a hold: the hold and its new status. */
  readonly hold: { readonly entry: StoredEntry; readonly status: Exclude<HoldStatus, 'pending'> } | null;
  /** For a reversal: the entry it reverses. */
  readonly reverses: StoredEntry | null;
  readonly postings: readonly RecordedPosting[];
  readonly changes: readonly CounterChange[];
}

export type PlanResult =
  | { readonly ok: true; readonly replay: StoredEntry }
  | { readonly ok: true; readonly plan: EntryPlan; readonly replay?: undefined }
  | LedgerFailure;

/** An internal command: the sweep that releases an expired hold. Its id is derived from the hold's seq. */
export interface ExpireHoldCommand {
  readonly type: 'expire_hold';
  readonly holdId: string;
}

export function expireEntryId(holdSeq: number): string {
  return `${RESERVED_ID_PREFIX}${holdSeq}`;
}

export function planCommand(cmd: LedgerCommand | ExpireHoldCommand, ctx: PlanContext): PlanResult {
  if (cmd.type === 'expire_hold') return planExpiry(cmd, ctx);
  const shape = checkCommandShape(cmd);
  if (shape) return shape;
  const fingerprint = commandFingerprint(cmd);
  const existing = ctx.entry(cmd.id);
  if (existing) {
    if (existing.fingerprint === fingerprint) return { ok: true, replay: existing };
    return failure('id_conflict', `Entry ${cmd.id} exists with different content.`);
  }
  switch (cmd.type) {
    case 'entry':
      return planEntry(cmd, fingerprint, ctx);
    case 'post_hold':
    case 'void_hold':
      return planHoldResolution(cmd, fingerprint, ctx);
    case 'reverse':
      return planReversal(cmd.id, cmd.entryId, cmd.memo, fingerprint, ctx);
  }
}

function checkBusinessDate(date: string | undefined, ctx: PlanContext): LedgerFailure | undefined {
  if (date === undefined || date === ctx.openDay) return undefined;
  return date < ctx.openDay
    ? failure('period_closed', `Business day ${date} is closed; the open day is ${ctx.openDay}.`)
    : failure('period_not_open', `Business day ${date} is not open; the open day is ${ctx.openDay}.`);
}

/** Resolves posting accounts and checks they exist, are open and hold the posting's currency. */
function resolvePostings(
  postings: readonly PostingInput[],
  ctx: PlanContext,
  statusMatters: boolean,
): { ok: true; value: RecordedPosting[]; accounts: Map<number, AccountState> } | LedgerFailure {
  const accounts = new Map<number, AccountState>();
  const recorded: RecordedPosting[] = [];
  for (const p of postings) {
    const account = ctx.account(p.accountId);
    if (!account) return failure('account_not_found', `Account ${p.accountId} does not exist.`);
    if (statusMatters && account.status === 'frozen') return failure('account_frozen', `Account ${p.accountId} is frozen.`);
    if (statusMatters && account.status === 'closed') return failure('account_closed', `Account ${p.accountId} is closed.`);
    if (account.currency !== p.currency) {
      return failure('currency_mismatch', `Account ${p.accountId} holds ${account.currency}, the posting is in ${p.currency}.`);
    }
    accounts.set(account.accountNo, account);
    recorded.push({ ...p, accountNo: account.accountNo });
  }
  return { ok: true, value: recorded, accounts };
}

type Delta = { debitsPending: bigint; debitsPosted: bigint; creditsPending: bigint; creditsPosted: bigint };

function addTo(deltas: Map<number, Delta>, postings: readonly RecordedPosting[], column: 'Pending' | 'Posted', sign: bigint): void {
  for (const p of postings) {
    let d = deltas.get(p.accountNo);
    if (!d) {
      d = { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };
      deltas.set(p.accountNo, d);
    }
    // Each field named outright: a computed key made this a keyed lookup on every posting.
    const amount = sign * p.amountMinor;
    if (p.side === 'debit') {
      if (column === 'Pending') d.debitsPending += amount;
      else d.debitsPosted += amount;
    } else if (column === 'Pending') d.creditsPending += amount;
    else d.creditsPosted += amount;
  }
}

/** Applies counter deltas, refusing overdrafts of flagged accounts and counter overflow. */
function applyDeltas(deltas: Map<number, Delta>, accounts: Map<number, AccountState>): CounterChange[] | LedgerFailure {
  const changes: CounterChange[] = [];
  for (const [accountNo, d] of deltas) {
    const a = accounts.get(accountNo);
    invariant(a, `account ${accountNo} missing from the plan`);
    const after: Counters = {
      debitsPending: a.debitsPending + d.debitsPending,
      debitsPosted: a.debitsPosted + d.debitsPosted,
      creditsPending: a.creditsPending + d.creditsPending,
      creditsPosted: a.creditsPosted + d.creditsPosted,
    };
    for (const v of Object.values(after)) {
      if (v > COUNTER_MAX) return failure('counter_overflow', `A counter of account ${a.accountId} would pass 2^63-1.`);
      invariant(v >= 0n, `a counter of account ${a.accountId} would go negative`);
    }
    if (a.flags & ACCOUNT_FLAGS.debits_must_not_exceed_credits) {
      const marginBefore = a.creditsPosted - a.debitsPosted - a.debitsPending;
      const marginAfter = after.creditsPosted - after.debitsPosted - after.debitsPending;
      if (marginAfter < 0n && marginAfter < marginBefore) {
        return failure('insufficient_funds', `Account ${a.accountId} would be short by ${-marginAfter} minor units.`);
      }
    }
    if (a.flags & ACCOUNT_FLAGS.credits_must_not_exceed_debits) {
      const marginBefore = a.debitsPosted - a.creditsPosted - a.creditsPending;
      const marginAfter = after.debitsPosted - after.creditsPosted - after.creditsPending;
      if (marginAfter < 0n && marginAfter < marginBefore) {
        return failure('exceeds_debits', `Account ${a.accountId} would be short by ${-marginAfter} minor units.`);
      }
    }
    changes.push({ account: a, after });
  }
  return changes;
}

function planEntry(cmd: EntryCommand, fingerprint: string, ctx: PlanContext): PlanResult {
  const dateBad = checkBusinessDate(cmd.businessDate, ctx);
  if (dateBad) return dateBad;
  const resolved = resolvePostings(cmd.postings, ctx, true);
  if (!resolved.ok) return resolved;
  const pending = cmd.expiresAtMs !== undefined;
  if (pending) {
    const lifetimeMs = (cmd.expiresAtMs ?? 0) - ctx.nowMs;
    if (lifetimeMs <= 0 || lifetimeMs > LIMITS.holdLifetimeMsMax) {
      return failure('hold_expiry_invalid', `The hold would expire ${lifetimeMs <= 0 ? 'in the past' : 'too far ahead'}.`);
    }
  }
  const deltas = new Map<number, Delta>();
  addTo(deltas, resolved.value, pending ? 'Pending' : 'Posted', 1n);
  const changes = applyDeltas(deltas, resolved.accounts);
  if (!Array.isArray(changes)) return changes;
  return {
    ok: true,
    plan: {
      entryId: cmd.id,
      kind: pending ? 'pending' : 'posted',
      fingerprint,
      businessDate: ctx.openDay,
      eventType: cmd.eventType,
      reference: cmd.reference ?? null,
      memo: cmd.memo ?? null,
      metadata: cmd.metadata ?? null,
      expiresAtMs: cmd.expiresAtMs ?? null,
      hold: null,
      reverses: null,
      postings: resolved.value,
      changes,
    },
  };
}

function holdFailure(holdId: string, hold: StoredEntry | undefined, nowMs: number): LedgerFailure | undefined {
  if (!hold || hold.kind !== 'pending') return failure('hold_not_found', `No hold has id ${holdId}.`);
  switch (hold.holdStatus) {
    case 'posted':
      return failure('hold_already_posted', `Hold ${holdId} is posted.`);
    case 'voided':
      return failure('hold_already_voided', `Hold ${holdId} is voided.`);
    case 'expired':
      return failure('hold_expired', `Hold ${holdId} expired.`);
    default:
      if (hold.expiresAtMs !== undefined && hold.expiresAtMs <= nowMs) {
        return failure('hold_expired', `Hold ${holdId} expired at ${new Date(hold.expiresAtMs).toISOString()}.`);
      }
      return undefined;
  }
}

/** Splits a partial post over the hold's postings, per side, in proportion to what each reserved. */
function partialPostings(held: readonly RecordedPosting[], amountMinor: bigint, holdId: string): RecordedPosting[] | LedgerFailure {
  const currencies = new Set(held.map((p) => p.currency));
  if (currencies.size !== 1) return failure('input_invalid', `Hold ${holdId} spans several currencies; post it in full.`);
  const out: RecordedPosting[] = [];
  for (const side of ['debit', 'credit'] as Side[]) {
    const onSide = held.filter((p) => p.side === side);
    const reserved = onSide.reduce((sum, p) => sum + p.amountMinor, 0n);
    if (amountMinor > reserved) {
      return failure('hold_amount_exceeded', `Hold ${holdId} reserved ${reserved} minor units; ${amountMinor} were asked for.`);
    }
    const parts = allocate(amountMinor, onSide.map((p) => p.amountMinor));
    onSide.forEach((p, i) => {
      const part = parts[i] ?? 0n;
      if (part > 0n) out.push({ ...p, amountMinor: part });
    });
  }
  return out;
}

function planHoldResolution(
  cmd: PostHoldCommand | { type: 'void_hold'; id: string; holdId: string; memo?: string | undefined },
  fingerprint: string,
  ctx: PlanContext,
): PlanResult {
  const hold = ctx.entry(cmd.holdId);
  const bad = holdFailure(cmd.holdId, hold, ctx.nowMs);
  if (bad) return bad;
  invariant(hold, 'hold checked above');
  const held = ctx.postingsOf(hold.seq);
  const posting = cmd.type === 'post_hold';
  const resolved = resolvePostings(held, ctx, posting);
  if (!resolved.ok) return resolved;
  let recorded: readonly RecordedPosting[] = held;
  if (posting && cmd.amountMinor !== undefined) {
    const partial = partialPostings(held, cmd.amountMinor, cmd.holdId);
    if (!Array.isArray(partial)) return partial;
    recorded = partial;
  }
  const deltas = new Map<number, Delta>();
  addTo(deltas, held, 'Pending', -1n);
  if (posting) addTo(deltas, recorded, 'Posted', 1n);
  const changes = applyDeltas(deltas, resolved.accounts);
  if (!Array.isArray(changes)) return changes;
  return {
    ok: true,
    plan: {
      entryId: cmd.id,
      kind: posting ? 'post_pending' : 'void_pending',
      fingerprint,
      businessDate: ctx.openDay,
      eventType: posting ? 'hold.post' : 'hold.void',
      reference: hold.entryId,
      memo: cmd.memo ?? null,
      metadata: null,
      expiresAtMs: null,
      hold: { entry: hold, status: posting ? 'posted' : 'voided' },
      reverses: null,
      postings: recorded,
      changes,
    },
  };
}

function planExpiry(cmd: ExpireHoldCommand, ctx: PlanContext): PlanResult {
  const hold = ctx.entry(cmd.holdId);
  if (!hold || hold.kind !== 'pending' || hold.holdStatus !== 'pending') {
    return failure('hold_not_found', `No pending hold has id ${cmd.holdId}.`);
  }
  if (hold.expiresAtMs === undefined || hold.expiresAtMs > ctx.nowMs) {
    return failure('hold_not_found', `Hold ${cmd.holdId} has not expired.`);
  }
  const held = ctx.postingsOf(hold.seq);
  const resolved = resolvePostings(held, ctx, false);
  if (!resolved.ok) return resolved;
  const deltas = new Map<number, Delta>();
  addTo(deltas, held, 'Pending', -1n);
  const changes = applyDeltas(deltas, resolved.accounts);
  if (!Array.isArray(changes)) return changes;
  const entryId = expireEntryId(hold.seq);
  return {
    ok: true,
    plan: {
      entryId,
      kind: 'expire_pending',
      fingerprint: commandFingerprint({ type: 'void_hold', id: entryId, holdId: cmd.holdId }),
      businessDate: ctx.openDay,
      eventType: 'hold.expire',
      reference: hold.entryId,
      memo: null,
      metadata: null,
      expiresAtMs: null,
      hold: { entry: hold, status: 'expired' },
      reverses: null,
      postings: held,
      changes,
    },
  };
}

function planReversal(id: string, entryId: string, memo: string | undefined, fingerprint: string, ctx: PlanContext): PlanResult {
  const original = ctx.entry(entryId);
  if (!original) return failure('entry_not_found', `No entry has id ${entryId}.`);
  if (original.kind === 'pending') return failure('reversal_of_pending', `Entry ${entryId} is a hold.`);
  if (original.kind === 'void_pending' || original.kind === 'expire_pending') {
    return failure('reversal_of_hold_action', `Entry ${entryId} released a hold and moved no posted money.`);
  }
  if (original.reversedByEntryId !== undefined) {
    return failure('already_reversed', `Entry ${entryId} was reversed by ${original.reversedByEntryId}.`);
  }
  const mirrored: PostingInput[] = ctx.postingsOf(original.seq).map((p) => ({
    accountId: p.accountId,
    side: p.side === 'debit' ? 'credit' : 'debit',
    amountMinor: p.amountMinor,
    currency: p.currency,
  }));
  const resolved = resolvePostings(mirrored, ctx, true);
  if (!resolved.ok) return resolved;
  const deltas = new Map<number, Delta>();
  addTo(deltas, resolved.value, 'Posted', 1n);
  const changes = applyDeltas(deltas, resolved.accounts);
  if (!Array.isArray(changes)) return changes;
  return {
    ok: true,
    plan: {
      entryId: id,
      kind: 'posted',
      fingerprint,
      businessDate: ctx.openDay,
      eventType: 'reversal',
      reference: original.entryId,
      memo: memo ?? null,
      metadata: null,
      expiresAtMs: null,
      hold: null,
      reverses: original,
      postings: resolved.value,
      changes,
    },
  };
}
