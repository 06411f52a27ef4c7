// The state of `settle recon review`: the open discrepancies, the filters and sort the operator picks,
// the cursor, and the steps of a decision (action → reason → approval for a write-off → submitted).
// A pure reducer: the ink view turns keys into actions and carries out a submitted decision with the
// same resolveDiscrepancy `settle recon resolve` calls, then feeds its outcome back as an action.

import { DISCREPANCY_TYPES, type DiscrepancyType } from '../../batch/recon/match.js';
import type { StoredItem } from '../../batch/recon/port.js';
import { ACTIONS_BY_TYPE, RESOLVE_LIMITS, type ResolveAction } from '../../batch/recon/resolve.js';

export const REVIEW_LIMITS = {
  /** Open discrepancies loaded into one review session (the store query's limit). */
  itemsMax: 10_000,
} as const;

const DAY_MS = 86_400_000;

export type SortKey = 'age' | 'amount';

export interface ReviewFilter {
  readonly channel: string | null;
  readonly type: DiscrepancyType | null;
  readonly minAgeDays: number;
  readonly minAmountMinor: bigint;
}

/** What the operator has decided and the shell must carry out. */
export interface Decision {
  readonly itemId: number;
  readonly action: ResolveAction;
  readonly reason: string;
  readonly approval: string | undefined;
}

export type Mode =
  | { readonly kind: 'list' }
  | { readonly kind: 'detail' }
  | { readonly kind: 'action'; readonly choice: number }
  | { readonly kind: 'reason'; readonly action: ResolveAction; readonly text: string }
  | { readonly kind: 'approval'; readonly action: ResolveAction; readonly reason: string; readonly text: string }
  | { readonly kind: 'submitting'; readonly decision: Decision };

export interface ReviewState {
  readonly items: readonly StoredItem[];
  /** The day ages are counted to (YYYY-MM-DD). */
  readonly today: string;
  readonly filter: ReviewFilter;
  readonly sort: SortKey;
  /** The selected item's id (it stays selected when filters move the list). */
  readonly selectedId: number | null;
  readonly mode: Mode;
  readonly message: { readonly level: 'ok' | 'error'; readonly text: string } | null;
  /** The operator asked to leave (the view exits). */
  readonly quit: boolean;
}

/** A key as ink reports it (only the fields the review reads). */
export interface KeyPress {
  readonly input: string;
  readonly upArrow?: boolean;
  readonly downArrow?: boolean;
  readonly return?: boolean;
  readonly escape?: boolean;
  readonly backspace?: boolean;
  readonly delete?: boolean;
  readonly ctrl?: boolean;
  readonly meta?: boolean;
}

export type ReviewAction =
  | { readonly type: 'cycle-channel' }
  | { readonly type: 'cycle-type' }
  | { readonly type: 'toggle-sort' }
  | { readonly type: 'move'; readonly by: number }
  | { readonly type: 'open' }
  | { readonly type: 'back' }
  | { readonly type: 'choose-action' }
  | { readonly type: 'input'; readonly text: string }
  | { readonly type: 'erase' }
  | { readonly type: 'submit' }
  | { readonly type: 'resolved'; readonly item: StoredItem; readonly entryIds: readonly string[] }
  | { readonly type: 'failed'; readonly code: string; readonly message: string }
  | { readonly type: 'key'; readonly key: KeyPress }
  | { readonly type: 'quit' };

/**
 * What a key means in the state it arrives in. Mapped inside the reducer, not in the view, so keys typed
 * faster than the screen redraws (a pasted reason) are read against the state they really meet.
 */
export function keyAction(s: ReviewState, k: KeyPress): ReviewAction | null {
  const m = s.mode;
  if (m.kind === 'submitting') return null;
  if (k.escape) return { type: 'back' };
  if (k.upArrow) return { type: 'move', by: -1 };
  if (k.downArrow) return { type: 'move', by: 1 };
  if (k.return) return m.kind === 'list' ? { type: 'open' } : { type: 'submit' };
  if (m.kind === 'reason' || m.kind === 'approval') {
    if (k.backspace || k.delete) return { type: 'erase' };
    return !k.ctrl && !k.meta && k.input !== '' ? { type: 'input', text: k.input } : null;
  }
  if (k.backspace || k.delete) return { type: 'back' };
  const byChar: Readonly<Record<string, ReviewAction>> = {
    q: { type: 'quit' },
    j: { type: 'move', by: 1 },
    k: { type: 'move', by: -1 },
    c: { type: 'cycle-channel' },
    t: { type: 'cycle-type' },
    s: { type: 'toggle-sort' },
    a: { type: 'choose-action' },
    r: { type: 'choose-action' },
  };
  return byChar[k.input] ?? null;
}

export function initialState(items: readonly StoredItem[], nowMs: number, filter: Partial<ReviewFilter> = {}): ReviewState {
  const s: ReviewState = {
    items: items.filter((i) => i.outcome === 'discrepancy'),
    today: new Date(nowMs).toISOString().slice(0, 10),
    filter: { channel: filter.channel ?? null, type: filter.type ?? null, minAgeDays: filter.minAgeDays ?? 0, minAmountMinor: filter.minAmountMinor ?? 0n },
    sort: 'age',
    selectedId: null,
    mode: { kind: 'list' },
    message: null,
    quit: false,
  };
  return { ...s, selectedId: visible(s)[0]?.itemId ?? null };
}

/** Whole days from the item's business date to today. */
export function ageDays(item: Pick<StoredItem, 'businessDate'>, today: string): number {
  return Math.max(0, Math.floor((Date.parse(today) - Date.parse(item.businessDate)) / DAY_MS));
}

const abs = (x: bigint | null): bigint => (x === null ? 0n : x < 0n ? -x : x);

/** The amount an item is about: the larger of the two sides (one side is absent for *_only items). */
export function itemAmountMinor(item: Pick<StoredItem, 'channelAmountMinor' | 'ledgerAmountMinor'>): bigint {
  const c = abs(item.channelAmountMinor);
  const l = abs(item.ledgerAmountMinor);
  return c > l ? c : l;
}

/** The open items the filters let through, oldest (or largest) first, then by id. */
export function visible(s: ReviewState): StoredItem[] {
  const f = s.filter;
  const rows = s.items.filter(
    (i) =>
      i.status === 'open' &&
      (f.channel === null || i.channel === f.channel) &&
      (f.type === null || i.type === f.type) &&
      ageDays(i, s.today) >= f.minAgeDays &&
      itemAmountMinor(i) >= f.minAmountMinor,
  );
  const byAmount = (a: StoredItem, b: StoredItem): number => {
    const d = itemAmountMinor(b) - itemAmountMinor(a);
    return d > 0n ? 1 : d < 0n ? -1 : 0;
  };
  const byAge = (a: StoredItem, b: StoredItem): number => (a.businessDate < b.businessDate ? -1 : a.businessDate > b.businessDate ? 1 : 0);
  return rows.sort((a, b) => (s.sort === 'age' ? byAge(a, b) : byAmount(a, b)) || a.itemId - b.itemId);
}

export function selected(s: ReviewState): StoredItem | undefined {
  const rows = visible(s);
  return rows.find((i) => i.itemId === s.selectedId) ?? rows[0];
}

/** The actions the selected item's type allows (as `settle recon resolve` checks them). */
export function actionsFor(item: StoredItem | undefined): readonly ResolveAction[] {
  return item?.type ? ACTIONS_BY_TYPE[item.type] : [];
}

/** null → first → … → last → null: every value present among the open items, in a stable order. */
function cycle<T extends string>(current: T | null, values: readonly T[]): T | null {
  if (values.length === 0) return null;
  if (current === null) return values[0] ?? null;
  const at = values.indexOf(current);
  return at < 0 || at === values.length - 1 ? null : (values[at + 1] ?? null);
}

/** Keeps the selection on a visible row after the list changed. */
function reselect(s: ReviewState): ReviewState {
  const rows = visible(s);
  const still = rows.some((i) => i.itemId === s.selectedId);
  return still ? s : { ...s, selectedId: rows[0]?.itemId ?? null, mode: s.mode.kind === 'list' ? s.mode : { kind: 'list' } };
}

const open = (s: ReviewState): StoredItem[] => s.items.filter((i) => i.status === 'open');

export function reduce(s: ReviewState, a: ReviewAction): ReviewState {
  const mode = s.mode;
  switch (a.type) {
    case 'cycle-channel': {
      if (mode.kind !== 'list' && mode.kind !== 'detail') return s;
      const channels = [...new Set(open(s).map((i) => i.channel))].sort();
      return reselect({ ...s, filter: { ...s.filter, channel: cycle(s.filter.channel, channels) }, message: null });
    }
    case 'cycle-type': {
      if (mode.kind !== 'list' && mode.kind !== 'detail') return s;
      const present = new Set(open(s).map((i) => i.type));
      return reselect({ ...s, filter: { ...s.filter, type: cycle(s.filter.type, DISCREPANCY_TYPES.filter((t) => present.has(t))) }, message: null });
    }
    case 'toggle-sort':
      if (mode.kind !== 'list' && mode.kind !== 'detail') return s;
      return { ...s, sort: s.sort === 'age' ? 'amount' : 'age' };
    case 'move': {
      if (mode.kind === 'action') {
        const n = actionsFor(selected(s)).length;
        return n === 0 ? s : { ...s, mode: { kind: 'action', choice: (((mode.choice + a.by) % n) + n) % n } };
      }
      if (mode.kind !== 'list' && mode.kind !== 'detail') return s;
      const rows = visible(s);
      if (rows.length === 0) return s;
      const at = Math.max(0, rows.findIndex((i) => i.itemId === s.selectedId));
      const next = rows[Math.max(0, Math.min(rows.length - 1, at + a.by))];
      return { ...s, selectedId: next?.itemId ?? null };
    }
    case 'open':
      return mode.kind === 'list' && selected(s) !== undefined ? { ...s, mode: { kind: 'detail' }, message: null } : s;
    case 'back':
      if (mode.kind === 'detail') return { ...s, mode: { kind: 'list' } };
      if (mode.kind === 'action' || mode.kind === 'reason' || mode.kind === 'approval') return { ...s, mode: { kind: 'detail' }, message: null };
      return s;
    case 'choose-action':
      if ((mode.kind !== 'list' && mode.kind !== 'detail') || actionsFor(selected(s)).length === 0) return s;
      return { ...s, mode: { kind: 'action', choice: 0 }, message: null };
    case 'input': {
      const text = [...a.text].filter((ch) => ch >= ' ' && ch !== '\u007f').join('');
      if (mode.kind === 'reason') return { ...s, mode: { ...mode, text: (mode.text + text).slice(0, RESOLVE_LIMITS.reasonLengthMax) } };
      if (mode.kind === 'approval') return { ...s, mode: { ...mode, text: (mode.text + text).slice(0, RESOLVE_LIMITS.approvalLengthMax) } };
      return s;
    }
    case 'erase':
      if (mode.kind === 'reason' || mode.kind === 'approval') return { ...s, mode: { ...mode, text: [...mode.text].slice(0, -1).join('') } };
      return s;
    case 'submit':
      return submit(s);
    case 'resolved': {
      const items = s.items.map((i) => (i.itemId === a.item.itemId ? a.item : i));
      const posted = a.entryIds.length > 0 ? `; posted ${a.entryIds.join(', ')}` : '; nothing posted';
      return reselect({ ...s, items, mode: { kind: 'list' }, message: { level: 'ok', text: `Resolved ${a.item.itemId} (${a.item.type ?? ''}) by ${a.item.resolution?.action ?? '?'}${posted}.` } });
    }
    case 'key': {
      // A chunk of typed text with Enter inside (a paste, or keys faster than the terminal is read) is
      // split, so the Enter submits what came before it instead of being dropped.
      if ((mode.kind === 'reason' || mode.kind === 'approval') && a.key.input.length > 1 && /[\r\n]/u.test(a.key.input)) {
        return a.key.input
          .split(/(\r\n|\r|\n)/u)
          .filter((part) => part !== '')
          .reduce<ReviewState>((st, part) => reduce(st, /^[\r\n]+$/u.test(part) ? { type: 'submit' } : { type: 'input', text: part }), s);
      }
      const next = keyAction(s, a.key);
      return next === null ? s : reduce(s, next);
    }
    case 'quit':
      return mode.kind === 'submitting' ? s : { ...s, quit: true };
    case 'failed':
      return { ...s, mode: mode.kind === 'submitting' ? { kind: 'detail' } : mode, message: { level: 'error', text: `${a.code}: ${a.message}` } };
  }
}

function submit(s: ReviewState): ReviewState {
  const mode = s.mode;
  const item = selected(s);
  if (item === undefined) return s;
  if (mode.kind === 'action') {
    const action = actionsFor(item)[mode.choice];
    return action === undefined ? s : { ...s, mode: { kind: 'reason', action, text: '' } };
  }
  if (mode.kind === 'reason') {
    const reason = mode.text.trim();
    if (reason === '') return { ...s, message: { level: 'error', text: 'A reason is required.' } };
    // A write-off needs an approval, as `settle recon resolve --approval` does.
    if (mode.action === 'write-off') return { ...s, mode: { kind: 'approval', action: mode.action, reason, text: '' }, message: null };
    return { ...s, mode: { kind: 'submitting', decision: { itemId: item.itemId, action: mode.action, reason, approval: undefined } }, message: null };
  }
  if (mode.kind === 'approval') {
    const approval = mode.text.trim();
    if (approval === '') return { ...s, message: { level: 'error', text: 'A write-off needs an approval.' } };
    return { ...s, mode: { kind: 'submitting', decision: { itemId: item.itemId, action: mode.action, reason: mode.reason, approval } }, message: null };
  }
  return s;
}
