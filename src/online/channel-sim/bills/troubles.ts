// Injected trouble: the real-world faults of a channel's bill, each chosen deterministically from a
// seed, so the same database, date and seed always break the same rows the same way. The choice is
// order-independent: for each kind, the rows with the smallest rank (a slice of sha512(seed, channel,
// date, channel id of the row)) are taken; a row gets at most one trouble (kinds are served in PICK_ORDER).
// What was changed is returned as records for the manifest beside the files.

import { createHash } from 'node:crypto';
import { applyRate } from '../../../ledger/index.js';
import type { BillFormat } from '../config.js';
import { channelTxnIdFor } from '../store.js';
import { BillError } from './errors.js';
import { BILL_LIMITS } from './limits.js';
import { BILL_CURRENCY, type BillRow, type BillRowStatus } from './rows.js';

/** In the order of the command's --inject help. */
export const TROUBLE_KINDS = ['drop', 'extra', 'amount', 'status', 'fee', 'midnight', 'duplicate'] as const;
export type TroubleKind = (typeof TROUBLE_KINDS)[number];

/** How many rows each kind touches. */
export type InjectSpec = Readonly<Partial<Record<TroubleKind, number>>>;

/** Kinds that change an existing row, in the order they pick (midnight first: the next day's file re-derives it alone). */
const PICK_ORDER = ['midnight', 'drop', 'duplicate', 'amount', 'status', 'fee'] as const;
type PickKind = (typeof PICK_ORDER)[number];

/** Sequence numbers of extra rows start here, far above any real one, so their ids never collide. */
const EXTRA_TXN_NO_BASE = 90_000_000;

/** Parses `drop=1,extra=2,…`; throws inject_invalid. */
export function parseInjectSpec(text: string): InjectSpec {
  const spec: Partial<Record<TroubleKind, number>> = {};
  const items = text.split(',').map((s) => s.trim());
  if (text.trim() === '' || items.some((s) => s === '')) throw new BillError('inject_invalid', `--inject ${JSON.stringify(text)} is empty or has an empty item.`);
  for (const item of items) {
    const m = /^([a-z]+)=([0-9]{1,3})$/.exec(item);
    const kind = m?.[1] as TroubleKind | undefined;
    if (!m || kind === undefined || !(TROUBLE_KINDS as readonly string[]).includes(kind)) {
      throw new BillError('inject_invalid', `--inject item ${JSON.stringify(item)} is not kind=count with a kind of ${TROUBLE_KINDS.join(', ')}.`);
    }
    if (spec[kind] !== undefined) throw new BillError('inject_invalid', `--inject names ${kind} twice.`);
    const count = Number(m[2]);
    if (count > BILL_LIMITS.troubleCountMax) throw new BillError('inject_invalid', `--inject ${kind}=${count} is above ${BILL_LIMITS.troubleCountMax}.`);
    spec[kind] = count;
  }
  return Object.freeze(spec);
}

export function hasTrouble(spec: InjectSpec): boolean {
  return TROUBLE_KINDS.some((k) => (spec[k] ?? 0) > 0);
}

/** One change, as the manifest reports it (amounts as integer strings of minor units). */
export type TroubleRecord = Readonly<Record<string, string | number | null>>;

export interface TroubleContext {
  readonly seed: string;
  readonly channelId: string;
  readonly format: BillFormat;
  readonly feeRate: string;
  readonly product: string | null;
  readonly date: string;
  readonly nextDate: string;
  readonly previousDate: string;
  readonly dayStartMs: number;
  readonly nextDayStartMs: number;
}

interface Picked {
  readonly kind: PickKind;
  readonly hash: string;
}

export interface TroublePlan {
  /** By the channel id of the row. */
  readonly picked: ReadonlyMap<string, Picked>;
  /** Rows that appear though the day's record lacks them (moved in from the day before; extra payments), by time. */
  readonly injected: readonly { readonly row: BillRow; readonly record: TroubleRecord }[];
  /** Kinds the format cannot show, with the reason. */
  readonly skipped: readonly { readonly kind: TroubleKind; readonly reason: string }[];
  /** Kinds that found fewer rows than asked. */
  readonly shortfalls: readonly { readonly kind: TroubleKind; readonly requested: number; readonly applied: number }[];
}

function digest(ctx: TroubleContext, date: string, kind: string, key: string): string {
  return createHash('sha256').update(`${ctx.seed}\u0000${ctx.channelId}\u0000${date}\u0000${kind}\u0000${key}`).digest('hex');
}

/** 20 hex digits per picking kind; PICK_ORDER's six kinds fit in one SHA-512 (128 hex digits). */
const RANK_HEX = 20;

/**
 * The rank of a row for every picking kind at once: one SHA-512 of (seed, channel, date, row id), each
 * kind reading its own slice, so the kinds choose independently at the cost of one hash per row.
 */
function ranks(ctx: TroubleContext, date: string, key: string): string {
  return createHash('sha512').update(`${ctx.seed}\u0000${ctx.channelId}\u0000${date}\u0000rank\u0000${key}`).digest('hex');
}

function rankOf(all: string, kind: PickKind): string {
  const i = PICK_ORDER.indexOf(kind);
  return all.slice(i * RANK_HEX, (i + 1) * RANK_HEX);
}

/** A number from a hash: up to 40 bits starting at hex digit `at` (a rank has 20 digits). */
function draw(hash: string, at: number): number {
  return Number.parseInt(hash.slice(at, at + 10), 16);
}

/** Whether a kind can be shown in the format at all. */
function unsupportedReason(kind: TroubleKind, format: BillFormat): string | null {
  if (kind === 'status' && format !== 'wechat-trade') {
    return `${format} lists only completed transactions and has no status column; a changed status cannot be shown.`;
  }
  return null;
}

/** Whether the change would show in the file: WeChat writes a revoked payment's fee as zero (all of it was given back). */
function visible(kind: PickKind, row: BillRow, format: BillFormat): boolean {
  return !(kind === 'fee' && format === 'wechat-trade' && row.status === 'revoked');
}

/** Keeps, per kind, the rows with the smallest hashes: enough for that kind after the kinds before it took theirs. */
class Candidates {
  private readonly best = new Map<PickKind, { hash: string; row: BillRow }[]>();
  private readonly caps = new Map<PickKind, number>();

  constructor(
    private readonly ctx: TroubleContext,
    private readonly date: string,
    counts: ReadonlyMap<PickKind, number>,
  ) {
    let before = 0;
    for (const kind of PICK_ORDER) {
      const n = counts.get(kind) ?? 0;
      if (n > 0) {
        this.caps.set(kind, before + n);
        this.best.set(kind, []);
      }
      before += n;
    }
  }

  offer(row: BillRow): void {
    const all = ranks(this.ctx, this.date, row.channelTxnId);
    for (const [kind, list] of this.best) {
      if (!visible(kind, row, this.ctx.format)) continue;
      const cap = this.caps.get(kind) ?? 0;
      const hash = rankOf(all, kind);
      const worst = list[list.length - 1];
      if (list.length >= cap && worst !== undefined && worst.hash <= hash) continue;
      let i = list.length;
      while (i > 0 && (list[i - 1]?.hash ?? '') > hash) i--;
      list.splice(i, 0, { hash, row });
      if (list.length > cap) list.pop();
    }
  }

  /** Serves the kinds in order; a row taken by an earlier kind is skipped by the later ones. */
  resolve(counts: ReadonlyMap<PickKind, number>): Map<string, Picked & { readonly row: BillRow }> {
    const taken = new Map<string, Picked & { readonly row: BillRow }>();
    for (const kind of PICK_ORDER) {
      const n = counts.get(kind) ?? 0;
      let got = 0;
      for (const c of this.best.get(kind) ?? []) {
        if (got >= n) break;
        if (taken.has(c.row.channelTxnId)) continue;
        taken.set(c.row.channelTxnId, { kind, hash: c.hash, row: c.row });
        got++;
      }
    }
    return taken;
  }
}

function rowFields(row: BillRow): Record<string, string | number | null> {
  return {
    row_kind: row.kind,
    channel_txn_id: row.channelTxnId,
    merchant_order_no: row.merchantOrderNo,
    merchant_refund_no: row.merchantRefundNo,
    amount_minor: row.amountMinor.toString(),
    fee_minor: row.feeMinor.toString(),
  };
}

/**
 * Decides which rows change. Reads the day's rows once (and, for midnight, the previous day's: the
 * rows it moved into this day). Memory is bounded by the counts asked for, not by the day's size.
 */
export function planTroubles(
  spec: InjectSpec,
  ctx: TroubleContext,
  rowsOfDay: () => Iterable<BillRow>,
  rowsOfPreviousDay: () => Iterable<BillRow>,
): TroublePlan {
  const skipped: { kind: TroubleKind; reason: string }[] = [];
  const counts = new Map<PickKind, number>();
  for (const kind of PICK_ORDER) {
    const n = spec[kind] ?? 0;
    if (n === 0) continue;
    const reason = unsupportedReason(kind, ctx.format);
    if (reason) skipped.push({ kind, reason });
    else counts.set(kind, n);
  }

  const today = new Candidates(ctx, ctx.date, counts);
  if (counts.size > 0) for (const row of rowsOfDay()) today.offer(row);
  const resolved = today.resolve(counts);
  const picked = new Map<string, Picked>();
  for (const [id, p] of resolved) picked.set(id, { kind: p.kind, hash: p.hash });

  const shortfalls: { kind: TroubleKind; requested: number; applied: number }[] = [];
  for (const [kind, n] of counts) {
    const applied = [...resolved.values()].filter((p) => p.kind === kind).length;
    if (applied < n) shortfalls.push({ kind, requested: n, applied });
  }

  const injected: { row: BillRow; record: TroubleRecord }[] = [];
  const midnight = counts.get('midnight') ?? 0;
  if (midnight > 0) {
    // The previous day's file (written with the same seed and counts) moved these rows into this day.
    const yesterday = new Candidates(ctx, ctx.previousDate, new Map([['midnight', midnight]]));
    for (const row of rowsOfPreviousDay()) yesterday.offer(row);
    for (const p of yesterday.resolve(new Map([['midnight', midnight]])).values()) {
      const atMs = Math.min(ctx.dayStartMs + (draw(p.hash, 0) % 60) * 1000, ctx.nextDayStartMs - 1);
      const row: BillRow = { ...p.row, atMs, completedAtMs: atMs };
      injected.push({ row, record: { kind: 'midnight', direction: 'in', from_date: ctx.previousDate, ...rowFields(row) } });
    }
  }
  for (let i = 0; i < (spec.extra ?? 0); i++) {
    const row = extraRow(ctx, i);
    injected.push({ row, record: { kind: 'extra', ...rowFields(row) } });
  }
  injected.sort((a, b) => a.row.atMs - b.row.atMs || a.row.channelTxnId.localeCompare(b.row.channelTxnId));
  return { picked, injected, skipped, shortfalls };
}

/** A payment the channel took that we never recorded: a fresh channel id and an order number of ours nobody issued. */
function extraRow(ctx: TroubleContext, index: number): BillRow {
  const hash = digest(ctx, ctx.date, 'extra', String(index));
  const txnNo = EXTRA_TXN_NO_BASE + index;
  const amountMinor = 100n + BigInt(draw(hash, 0) % 99_900); // 1.00 – 999.99
  const span = Math.max(1, Math.floor((ctx.nextDayStartMs - ctx.dayStartMs) / 1000));
  const atMs = ctx.dayStartMs + (draw(hash, 10) % span) * 1000;
  return {
    kind: 'payment',
    txnNo,
    channelTxnId: channelTxnIdFor(ctx.channelId, ctx.date, txnNo),
    merchantOrderNo: `pay_${hash.slice(24, 49)}`,
    merchantRefundNo: null,
    originalChannelTxnId: null,
    originalTxnNo: null,
    originalAtMs: null,
    atMs,
    completedAtMs: atMs,
    amountMinor,
    feeMinor: applyRate(amountMinor, ctx.feeRate, 'half_up'),
    feeRate: ctx.feeRate,
    currency: BILL_CURRENCY,
    product: ctx.product,
    payerId: null,
    description: null,
    status: 'succeeded',
  };
}

function flippedStatus(row: BillRow): BillRowStatus {
  if (row.kind !== 'payment') return row.status === 'processing' ? 'succeeded' : 'processing';
  return row.status === 'revoked' ? 'succeeded' : 'revoked';
}

/**
 * The day's rows with the plan applied, in time order (injected rows merged in by time). Each change is
 * appended to `records` as it is made, so the manifest lists exactly what the file shows.
 */
export function* applyTroubles(rows: Iterable<BillRow>, plan: TroublePlan, ctx: TroubleContext, records: TroubleRecord[]): Generator<BillRow> {
  let next = 0;
  const injectedUpTo = function* (atMs: number): Generator<BillRow> {
    while (next < plan.injected.length && (plan.injected[next]?.row.atMs ?? Infinity) <= atMs) {
      const item = plan.injected[next++];
      if (!item) break;
      records.push(item.record);
      yield item.row;
    }
  };
  for (const row of rows) {
    yield* injectedUpTo(row.atMs);
    const p = plan.picked.get(row.channelTxnId);
    if (!p) {
      yield row;
      continue;
    }
    const base = rowFields(row);
    switch (p.kind) {
      case 'midnight':
        records.push({ kind: 'midnight', direction: 'out', to_date: ctx.nextDate, ...base });
        break;
      case 'drop':
        records.push({ kind: 'drop', ...base });
        break;
      case 'duplicate':
        records.push({ kind: 'duplicate', copies: 2, ...base });
        yield row;
        yield row;
        break;
      case 'amount': {
        const delta = 1n + BigInt(draw(p.hash, 0) % 999); // 0.01 – 9.99
        const down = draw(p.hash, 10) % 2 === 0 && row.amountMinor > delta;
        const amountMinor = down ? row.amountMinor - delta : row.amountMinor + delta;
        records.push({ kind: 'amount', ...base, amount_minor_from: row.amountMinor.toString(), amount_minor_to: amountMinor.toString() });
        yield { ...row, amountMinor };
        break;
      }
      case 'fee': {
        const delta = 1n + BigInt(draw(p.hash, 0) % 99); // 0.01 – 0.99
        const down = draw(p.hash, 10) % 2 === 0 && row.feeMinor > delta;
        const feeMinor = down ? row.feeMinor - delta : row.feeMinor + delta;
        records.push({ kind: 'fee', ...base, fee_minor_from: row.feeMinor.toString(), fee_minor_to: feeMinor.toString() });
        yield { ...row, feeMinor };
        break;
      }
      case 'status': {
        const status = flippedStatus(row);
        records.push({ kind: 'status', ...base, status_from: row.status, status_to: status });
        yield { ...row, status };
        break;
      }
    }
  }
  yield* injectedUpTo(Infinity);
}
