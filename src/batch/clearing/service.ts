// `settle clear --date D`: settles, per merchant and currency, the items due by D under the merchant's
// cycle that reconciliation matched; writes the batches with their ledger entries (fee adjustment,
// merchant payable → settlement in transit) and the payout files. Idempotent per date: a finished date
// only has its files written again (byte-identical, from the stored batches); a date killed half way
// resumes with the merchants not written yet. An item settled once is never taken again.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccountSpec, LedgerCommand } from '../../ledger/index.js';
import { findCurrency, toDecimalString } from '../../ledger/index.js';
import { csvLine } from '../csv.js';
import { ClearingError, type ClearingConfig } from './config.js';
import { CandidateColumns, sortByKey } from './columns.js';
import { addDays, batchKey, planColumns, type Batch, type BatchFigures, type ColumnBatch, type ColumnPlan } from './core.js';
import { pain001, payoutCsv, type PayoutInstruction } from './payout.js';
import type { BatchWrite, ClearingStore, ItemRows, ItemWrite, StoredBatch } from './port.js';

export const CLEARING_RUN_LIMITS = {
  /** Items one run may take into memory (as columns, about 0.2 KiB each). */
  itemsPerRunMax: 5_000_000,
  /** Item rows written per transaction (the first phase), so the daemon on the same file never waits long
   *  for the write lock (50,000 items, in key order, take a few hundred ms; fewer commits a run). */
  itemsPerTransactionMax: 50_000,
  /** Batches per transaction of the second phase: their rows, numbers, volumes and ledger entries (1,000
   *  batches post ≈ 1,700 entries, ~0.15 s). */
  batchesPerTransactionMax: 1_000,
  /** Batches (merchants × currencies) per date. */
  batchesPerDateMax: 1_000_000,
} as const;

export interface ClearOptions {
  readonly runDate: string;
  readonly includeUnreconciled: boolean;
  readonly outDir: string;
  readonly nowMs: number;
  readonly onProgress?: (e: ClearProgress) => void;
  /** Items a run may take (default CLEARING_RUN_LIMITS.itemsPerRunMax). */
  readonly itemsPerRunMax?: number;
  /** Item rows per write transaction (default CLEARING_RUN_LIMITS.itemsPerTransactionMax). */
  readonly itemsPerTransactionMax?: number;
  /** Batches per write transaction (default CLEARING_RUN_LIMITS.batchesPerTransactionMax). */
  readonly batchesPerTransactionMax?: number;
  /** Tests: called after each committed write transaction of either phase (the crash test kills the process here). */
  readonly afterCommit?: (c: CommitProgress) => void;
}

export interface CommitProgress {
  /** 'items': item rows (not settled yet); 'batches': batch rows with their entries (settling their items). */
  readonly phase: 'items' | 'batches';
  /** Transactions committed in this phase so far. */
  readonly commits: number;
  readonly itemsWritten: number;
  readonly batchesWritten: number;
}

export type ClearProgress =
  | { readonly kind: 'loaded'; readonly candidates: number; readonly elapsedMs: number }
  | { readonly kind: 'written'; readonly batches: number; readonly elapsedMs: number };

export interface ClearResult {
  readonly runDate: string;
  /** 'cleared' on the run that wrote the batches (or finished a killed one); 'already_cleared' on a re-run. */
  readonly status: 'cleared' | 'already_cleared';
  readonly batches: readonly StoredBatch[];
  readonly batchesWritten: number;
  readonly entriesPosted: number;
  /** Items due but waiting for reconciliation (null on a re-run of a finished date). */
  readonly heldItems: number | null;
  readonly notDueItems: number | null;
  readonly files: readonly string[];
}

const account = (accountId: string, subjectCode: string, ownerKind: AccountSpec['ownerKind'], ownerId: string, currency: string): AccountSpec => ({
  accountId,
  subjectCode,
  ownerKind,
  ownerId,
  currency,
  flags: 0,
  status: 'active',
});

/** The ledger accounts clearing posts to (the sample chart's ids and subjects). */
export const clearingAccounts = {
  merchantPayable: (merchantId: string, currency: string) => account(`merchant:${merchantId}:payable:${currency}`, '2202', 'merchant', merchantId, currency),
  feeIncome: (currency: string) => account(`platform:fee-income:${currency}`, '6001', 'platform', 'platform', currency),
  settlementInTransit: (currency: string) => account(`platform:settlement-in-transit:${currency}`, '2204', 'platform', 'platform', currency),
};

/** The entries of a batch: the fee adjustment (rate card vs booked) and the settlement of what is paid out. */
export function batchEntries<B extends BatchFigures>(b: B, batchNo: number): BatchWrite<B> {
  const payable = clearingAccounts.merchantPayable(b.merchantId, b.currency);
  const fee = clearingAccounts.feeIncome(b.currency);
  const transit = clearingAccounts.settlementInTransit(b.currency);
  const commands: LedgerCommand[] = [];
  const metadata = { batch_id: b.batchId, business_date: b.businessDate };
  if (b.adjustmentsMinor !== 0n) {
    const amountMinor = b.adjustmentsMinor < 0n ? -b.adjustmentsMinor : b.adjustmentsMinor;
    // Positive: more fee was booked than the rate card asks, so fee income gives it back to the merchant.
    const [debit, credit] = b.adjustmentsMinor > 0n ? [fee, payable] : [payable, fee];
    commands.push({
      type: 'entry',
      id: `clearfee.${b.businessDate}.${b.merchantId}.${b.currency}`,
      eventType: 'clearing.fee_adjustment',
      reference: b.batchId,
      metadata,
      postings: [
        { accountId: debit.accountId, side: 'debit', amountMinor, currency: b.currency },
        { accountId: credit.accountId, side: 'credit', amountMinor, currency: b.currency },
      ],
    });
  }
  if (b.payoutMinor > 0n) {
    commands.push({
      type: 'entry',
      id: `clear.${b.businessDate}.${b.merchantId}.${b.currency}`,
      eventType: 'clearing.settled',
      reference: b.batchId,
      metadata,
      postings: [
        { accountId: payable.accountId, side: 'debit', amountMinor: b.payoutMinor, currency: b.currency },
        { accountId: transit.accountId, side: 'credit', amountMinor: b.payoutMinor, currency: b.currency },
      ],
    });
  }
  return { batch: b, batchNo, accounts: [payable, fee, transit], commands };
}

/** Consecutive slices of at most `max` elements (transactions of a phase): of a list, or of a typed array of item indices. */
export function slices<L extends { readonly length: number; slice(start: number, end: number): L }>(list: L, max: number): L[] {
  const out: L[] = [];
  for (let at = 0; at < list.length; at += max) out.push(list.slice(at, at + max));
  return out;
}

/**
 * The item rows of the batches to write: each item's batch number, and the items of those batches in key
 * order (the plan's key order, less the items of batches a killed run already wrote).
 */
export function itemRowsOf(items: CandidateColumns, plan: ColumnPlan, writes: readonly BatchWrite<ColumnBatch>[]): { rows: ItemRows; order: Int32Array } {
  const batchNos = new Float64Array(items.length);
  let count = 0;
  for (const w of writes) {
    for (const k of w.batch.itemIndices) batchNos[k] = w.batchNo;
    count += w.batch.itemIndices.length;
  }
  const order = new Int32Array(count);
  let at = 0;
  // Batch numbers start at 1: 0 is an item of a batch not written by this run.
  for (const k of plan.keyOrder) if ((batchNos[k] ?? 0) > 0) order[at++] = k;
  return { rows: { items, rateFees: plan.rateFees, batchNos }, order };
}

/** Every item of the batches with its batch's number, in key order (the order itemRowsOf writes them in). */
export function itemWritesInKeyOrder(writes: readonly BatchWrite<Batch>[]): ItemWrite[] {
  const listed: ItemWrite[] = [];
  const columns = new CandidateColumns();
  for (const w of writes) {
    for (const item of w.batch.items) {
      listed.push({ batchNo: w.batchNo, item });
      columns.pushItem(item);
    }
  }
  const order = sortByKey(columns, Int32Array.from(listed, (_, k) => k));
  return Array.from(order, (k) => listed[k] as ItemWrite);
}

/** The distinct months (yyyy-mm) of the items' dates, sorted. */
function monthsOf(items: CandidateColumns): string[] {
  const months = new Set<string>();
  let last = '';
  for (const date of items.dates) {
    if (date === last) continue;
    last = date;
    months.add(date.slice(0, 7));
  }
  return [...months].sort();
}

export async function clearDay(store: ClearingStore, config: ClearingConfig, o: ClearOptions): Promise<ClearResult> {
  const day = store.dayStatus(o.runDate);
  if (day !== 'closed') {
    throw new ClearingError('day_not_closed', `Business day ${o.runDate} is ${day ?? 'not in the ledger'}; clearing settles closed days only.`, 'Run settle day cutoff first (settle day status shows the open day).');
  }
  const startedMs = Date.now();
  const state = store.runState(o.runDate);
  let written = 0;
  let entries = 0;
  let held: number | null = null;
  let notDue: number | null = null;
  let run = state;
  if (state?.status !== 'done') {
    run = store.beginRun(o.runDate, o.nowMs);
    const itemsMax = o.itemsPerRunMax ?? CLEARING_RUN_LIMITS.itemsPerRunMax;
    const items = await store.candidateColumns(addDays(o.runDate, -config.lookbackDays), o.runDate, itemsMax + 1);
    if (items.length > itemsMax) {
      throw new ClearingError('clearing_too_large', `More than ${itemsMax} unsettled items reach back from ${o.runDate}.`, 'Clear earlier dates first, or lower clearing.lookback_days.');
    }
    o.onProgress?.({ kind: 'loaded', candidates: items.length, elapsedMs: Date.now() - startedMs });
    const plan = planColumns({
      runDate: o.runDate,
      items,
      includeUnreconciled: o.includeUnreconciled,
      config,
      monthVolumeMinor: store.monthVolumes(monthsOf(items)),
      carriedInMinor: store.carriedIn(o.runDate),
    });
    held = plan.held.length;
    notDue = plan.notDue.length;
    // Resuming a killed run: merchants already written keep their batch; what is new waits for the next date.
    const done = store.batchKeysOf(o.runDate);
    const todo = plan.batches.filter((b) => !done.has(batchKey(b.merchantId, b.currency)));
    const unpayable = todo.find((b) => b.status === 'paid_out' && b.payoutMinor > 0n && config.merchants.get(b.merchantId)?.payout == null);
    if (unpayable) {
      throw new ClearingError('payout_account_missing', `Merchant ${unpayable.merchantId} is due ${unpayable.payoutMinor} minor ${unpayable.currency} but has no payout account.`, `Add clearing.merchants.${unpayable.merchantId}.payout to the config.`);
    }
    if (done.size + todo.length > CLEARING_RUN_LIMITS.batchesPerDateMax) throw new ClearingError('clearing_too_large', `More than ${CLEARING_RUN_LIMITS.batchesPerDateMax} batches for ${o.runDate}.`);
    // Numbers never handed out before: item rows a killed run left keep theirs, which no batch will have.
    const firstNo = todo.length > 0 ? store.reserveBatchNumbers(todo.length) : 0;
    const writes = todo.map((b, k) => batchEntries(b, firstNo + k));
    // Phase 1: the item rows, in key order (not settled until their batch is written).
    let commits = 0;
    let itemsWritten = 0;
    const { rows, order } = itemRowsOf(items, plan, writes);
    for (const chunk of slices(order, o.itemsPerTransactionMax ?? CLEARING_RUN_LIMITS.itemsPerTransactionMax)) {
      store.writeItemRows(rows, chunk);
      itemsWritten += chunk.length;
      o.afterCommit?.({ phase: 'items', commits: ++commits, itemsWritten, batchesWritten: 0 });
    }
    // Phase 2: the batches with their entries, which settle their items.
    commits = 0;
    for (const chunk of slices(writes, o.batchesPerTransactionMax ?? CLEARING_RUN_LIMITS.batchesPerTransactionMax)) {
      store.writeBatches(chunk, o.nowMs);
      written += chunk.length;
      entries += chunk.reduce((s, w) => s + w.commands.length, 0);
      o.afterCommit?.({ phase: 'batches', commits: ++commits, itemsWritten, batchesWritten: written });
      o.onProgress?.({ kind: 'written', batches: written, elapsedMs: Date.now() - startedMs });
    }
    store.finishRun(o.runDate, o.nowMs);
  }
  const batches = store.batchesOf(o.runDate, CLEARING_RUN_LIMITS.batchesPerDateMax);
  const files = writeFiles(batches, config, o.outDir, o.runDate, run?.startedAtMs ?? o.nowMs);
  return { runDate: o.runDate, status: state?.status === 'done' ? 'already_cleared' : 'cleared', batches, batchesWritten: written, entriesPosted: entries, heldItems: held, notDueItems: notDue, files };
}

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

const BATCH_HEADER = ['batch_id', 'merchant_id', 'business_date', 'currency', 'gross', 'refunds', 'fees', 'adjustments', 'net', 'carried_in', 'carried_out', 'payout', 'items', 'status'] as const;

function batchesCsv(batches: readonly StoredBatch[]): string {
  const dec = (minor: bigint, code: string): string => {
    const c = findCurrency(code);
    return c ? toDecimalString(minor, c) : minor.toString();
  };
  return (
    csvLine(BATCH_HEADER) +
    batches
      .map((b) =>
        csvLine([
          b.batchId,
          b.merchantId,
          b.businessDate,
          b.currency,
          ...[b.grossMinor, b.refundsMinor, b.feesMinor, b.adjustmentsMinor, b.netMinor, b.carriedInMinor, b.carriedOutMinor, b.payoutMinor].map((m) => dec(m, b.currency)),
          b.items,
          b.status,
        ]),
      )
      .join('')
  );
}

/** The batch summary CSV, the payout CSV and one pain.001 per fiat currency; the same batches give the same bytes. */
function writeFiles(batches: readonly StoredBatch[], config: ClearingConfig, outDir: string, runDate: string, createdAtMs: number): string[] {
  mkdirSync(outDir, { recursive: true });
  const instructions: PayoutInstruction[] = [];
  for (const b of batches) {
    if (b.status !== 'paid_out' || b.payoutMinor <= 0n) continue;
    const payee = config.merchants.get(b.merchantId)?.payout;
    if (payee == null) throw new ClearingError('payout_account_missing', `Merchant ${b.merchantId} has a payout in ${b.batchId} but no payout account.`, `Add clearing.merchants.${b.merchantId}.payout to the config.`);
    instructions.push({ batchId: b.batchId, merchantId: b.merchantId, currency: b.currency, amountMinor: b.payoutMinor, payee });
  }
  const files: string[] = [];
  const put = (name: string, text: string): void => {
    const path = join(outDir, name);
    writeAtomically(path, text);
    files.push(path);
  };
  put(`settlement-batches-${runDate}.csv`, batchesCsv(batches));
  put(`payouts-${runDate}.csv`, payoutCsv(runDate, instructions));
  // A bank transfers only real money: virtual-currency payouts (coins, points) stay in the payout CSV, to be
  // credited inside the platform, and get no pain.001.
  const fiat = instructions.filter((i) => findCurrency(i.currency)?.kind !== 'virtual');
  for (const currency of [...new Set(fiat.map((i) => i.currency))].sort()) {
    put(
      `pain001-${runDate}-${currency}.xml`,
      pain001({ runDate, currency, createdAtMs, executionDate: addDays(runDate, 1), debtor: config.debtor, instructions: fiat.filter((i) => i.currency === currency) }),
    );
  }
  return files;
}
