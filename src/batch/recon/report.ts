// The reconciliation report of a date: per channel, its current run (file version, counts) and every
// exception — discrepancies with their state and decision, items waiting in suspense — as a CSV for
// people (amounts in major units, formula-looking cells neutralised, see ../csv.ts) and a JSON for
// programs (amounts as integer strings of minor units).

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findCurrency, toDecimalString } from '../../ledger/index.js';
import { csvLine } from '../csv.js';
import { ReconError } from './errors.js';
import type { OutcomeCounts } from './match.js';
import type { ReconStore, RunInfo, StoredItem } from './port.js';

export const REPORT_LIMITS = {
  /** Exceptions per report: a day with more is a broken file, and a CSV that size helps nobody. */
  itemsMax: 100_000,
} as const;

export interface ReportRun {
  readonly run: RunInfo;
  readonly sha256: string | null;
  readonly openDiscrepancies: number;
}

export interface ReconReport {
  readonly businessDate: string;
  readonly channel: string | null;
  readonly generatedAtMs: number;
  readonly runs: readonly ReportRun[];
  readonly items: readonly StoredItem[];
  /** True when there were more than REPORT_LIMITS.itemsMax exceptions (the counts still cover them all). */
  readonly truncated: boolean;
  readonly openDiscrepancies: number;
}

export async function buildReport(store: ReconStore, req: { readonly businessDate: string; readonly channel?: string | undefined; readonly nowMs: number }): Promise<ReconReport> {
  const runs = await store.currentRuns(req.businessDate, req.channel);
  const out: ReportRun[] = [];
  const items: StoredItem[] = [];
  let truncated = false;
  let open = 0;
  for (const run of runs) {
    const room = REPORT_LIMITS.itemsMax - items.length;
    const exceptions = await store.runExceptions(run.runId, room + 1);
    if (exceptions.length > room) truncated = true;
    const openHere = exceptions.filter((i) => i.outcome === 'discrepancy' && i.status === 'open').length;
    open += openHere;
    items.push(...exceptions.slice(0, room));
    const file = await store.file(run.fileId);
    out.push({ run, sha256: file?.sha256 ?? null, openDiscrepancies: openHere });
  }
  return { businessDate: req.businessDate, channel: req.channel ?? null, generatedAtMs: req.nowMs, runs: out, items, truncated, openDiscrepancies: open };
}

const money = (amountMinor: bigint | null, currency: string | null): string => {
  if (amountMinor === null || currency === null) return '';
  const c = findCurrency(currency);
  return c ? toDecimalString(amountMinor, c) : amountMinor.toString();
};

export const REPORT_CSV_HEADER = [
  'item_id',
  'channel',
  'business_date',
  'outcome',
  'type',
  'status',
  'kind',
  'channel_txn_id',
  'order_no',
  'record_id',
  'merchant_id',
  'channel_currency',
  'channel_amount',
  'ledger_currency',
  'ledger_amount',
  'channel_status',
  'ledger_status',
  'channel_fee',
  'ledger_cost',
  'occurred_at',
  'waits_until',
  'action',
  'resolved_by',
  'resolved_at',
  'reason',
  'approval',
  'entry_ids',
] as const;

export function reportCsv(report: ReconReport): string {
  let text = csvLine(REPORT_CSV_HEADER);
  for (const i of report.items) {
    const r = i.resolution;
    text += csvLine([
      i.itemId,
      i.channel,
      i.businessDate,
      i.outcome,
      i.type,
      i.status,
      i.kind,
      i.channelTxnId,
      i.orderKey,
      i.recordId,
      i.merchantId,
      i.channelCurrency,
      money(i.channelAmountMinor, i.channelCurrency),
      i.ledgerCurrency,
      money(i.ledgerAmountMinor, i.ledgerCurrency),
      i.channelStatus,
      i.ledgerStatus,
      i.channelFee,
      money(i.ledgerCostMinor, i.ledgerCurrency),
      i.occurredAt,
      i.untilDate,
      r?.action,
      r?.by,
      r ? new Date(r.atMs).toISOString() : null,
      r?.reason,
      r?.approval,
      r ? r.entryIds.join(' ') : null,
    ]);
  }
  return text;
}

const countsJson = (c: OutcomeCounts): Record<string, unknown> => ({ matched: c.matched, suspense: c.suspense, discrepancies: c.discrepancies, by_type: c.byType });

export function itemJson(i: StoredItem): Record<string, unknown> {
  const r = i.resolution;
  return {
    item_id: i.itemId,
    run_id: i.runId,
    channel: i.channel,
    business_date: i.businessDate,
    outcome: i.outcome,
    type: i.type,
    differences: i.differences,
    note: i.note,
    status: i.status,
    kind: i.kind,
    identity: i.identity,
    channel_side:
      i.fileId === null
        ? null
        : {
            file_id: i.fileId,
            line_seq: i.lineSeq,
            channel_txn_id: i.channelTxnId,
            order_no: i.orderKey,
            amount_minor: i.channelAmountMinor?.toString() ?? null,
            currency: i.channelCurrency,
            status: i.channelStatus,
            fee: i.channelFee,
            occurred_at: i.occurredAt,
          },
    ledger_side:
      i.recordId === null
        ? null
        : {
            source: i.recordSource,
            record_id: i.recordId,
            merchant_id: i.merchantId,
            payment_id: i.paymentId,
            channel_txn_id: i.ledgerTxnId,
            amount_minor: i.ledgerAmountMinor?.toString() ?? null,
            currency: i.ledgerCurrency,
            status: i.ledgerStatus,
            cost_minor: i.ledgerCostMinor?.toString() ?? null,
            business_date: i.ledgerBusinessDate,
          },
    waits_until: i.untilDate,
    resolution:
      r === null
        ? null
        : {
            action: r.action,
            by: r.by,
            at: new Date(r.atMs).toISOString(),
            reason: r.reason,
            approval: r.approval,
            entry_ids: r.entryIds,
            carried_from_item_id: r.carriedFromItemId,
          },
  };
}

export function reportJson(report: ReconReport): Record<string, unknown> {
  return {
    business_date: report.businessDate,
    channel: report.channel,
    generated_at: new Date(report.generatedAtMs).toISOString(),
    open_discrepancies: report.openDiscrepancies,
    truncated: report.truncated,
    runs: report.runs.map((r) => ({
      channel: r.run.channel,
      run_id: r.run.runId,
      file_id: r.run.fileId,
      file_version: r.run.fileVersion,
      sha256: r.sha256,
      lines: r.run.lines,
      records: r.run.records,
      counts: countsJson(r.run.counts),
      open_discrepancies: r.openDiscrepancies,
      finished_at: r.run.finishedAtMs === null ? null : new Date(r.run.finishedAtMs).toISOString(),
    })),
    items: report.items.map(itemJson),
  };
}

/** Writes recon-<date>[-<channel>].csv and .json into the folder (created when missing). */
export async function writeReport(report: ReconReport, outDir: string): Promise<{ readonly csvPath: string; readonly jsonPath: string }> {
  const base = `recon-${report.businessDate}${report.channel === null ? '' : `-${report.channel}`}`;
  const csvPath = join(outDir, `${base}.csv`);
  const jsonPath = join(outDir, `${base}.json`);
  try {
    await mkdir(outDir, { recursive: true });
    await writeFile(csvPath, reportCsv(report));
    await writeFile(jsonPath, `${JSON.stringify(reportJson(report), null, 2)}\n`);
  } catch (e) {
    throw new ReconError('report_unwritable', `Cannot write the report into ${outDir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}.`);
  }
  return { csvPath, jsonPath };
}
