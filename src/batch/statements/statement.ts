// A merchant's statement of one business date (商户对账单), as a pure function of its records and the
// day's settlement: the rows in a stable order, one summary row per currency whose totals the merchant
// can check against the rows, and the CSV text. Nothing here reads a clock: the same inputs give the
// same bytes, so re-generating a date gives a byte-identical file.

import { findCurrency, toDecimalString } from '../../ledger/index.js';
import { csvLine } from '../csv.js';
import type { SettlementBatch, StatementRecord } from './port.js';

/** The columns of the CSV, documented in README.md beside this file. */
export const STATEMENT_COLUMNS = [
  'record_type',
  'business_date',
  'merchant_id',
  'record_id',
  'merchant_ref',
  'original_id',
  'product',
  'currency',
  'count',
  'amount',
  'refunds',
  'fee',
  'adjustments',
  'net',
  'carried_in',
  'carried_out',
  'status',
  'created_at',
] as const;

/** Kinds that bring money in (gross) and kinds that give it back (refunds). */
const INCOMING = new Set<StatementRecord['kind']>(['payment', 'capture']);

export interface StatementSummary {
  readonly currency: string;
  readonly count: number;
  readonly grossMinor: bigint;
  readonly refundsMinor: bigint;
  /** Fees charged minus fees returned. */
  readonly feesMinor: bigint;
  /** gross − refunds − fees. */
  readonly netMinor: bigint;
}

export interface Statement {
  readonly merchantId: string;
  readonly businessDate: string;
  readonly records: readonly StatementRecord[];
  readonly summaries: readonly StatementSummary[];
  /** null: clearing has not settled the date yet. */
  readonly settlements: readonly SettlementBatch[] | null;
}

const KIND_ORDER: Record<StatementRecord['kind'], number> = { payment: 0, capture: 1, void: 2, capture_void: 3, refund: 4 };

function compareRecords(a: StatementRecord, b: StatementRecord): number {
  return a.createdAtMs - b.createdAtMs || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.recordId < b.recordId ? -1 : a.recordId > b.recordId ? 1 : 0);
}

export function summarise(records: readonly StatementRecord[]): StatementSummary[] {
  const byCurrency = new Map<string, { count: number; gross: bigint; refunds: bigint; fees: bigint }>();
  for (const r of records) {
    const s = byCurrency.get(r.currency) ?? { count: 0, gross: 0n, refunds: 0n, fees: 0n };
    s.count += 1;
    if (INCOMING.has(r.kind)) {
      s.gross += r.amountMinor;
      s.fees += r.feeMinor;
    } else {
      s.refunds += r.amountMinor;
      s.fees -= r.feeMinor;
    }
    byCurrency.set(r.currency, s);
  }
  return [...byCurrency.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([currency, s]) => ({ currency, count: s.count, grossMinor: s.gross, refundsMinor: s.refunds, feesMinor: s.fees, netMinor: s.gross - s.refunds - s.fees }));
}

export function buildStatement(merchantId: string, businessDate: string, records: readonly StatementRecord[], settlements: readonly SettlementBatch[] | null): Statement {
  const sorted = [...records].sort(compareRecords);
  const batches = settlements === null ? null : [...settlements].sort((a, b) => (a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : 0));
  return { merchantId, businessDate, records: sorted, summaries: summarise(sorted), settlements: batches };
}

/** Minor units as major-unit decimals in the currency's exponent (an unknown code stays in minor units). */
export function decimal(amountMinor: bigint, currencyCode: string): string {
  const currency = findCurrency(currencyCode);
  return currency ? toDecimalString(amountMinor, currency) : amountMinor.toString();
}

export function renderStatementCsv(s: Statement): string {
  const d = s.businessDate;
  const m = s.merchantId;
  const lines: string[] = [csvLine(STATEMENT_COLUMNS)];
  for (const r of s.records) {
    const net = r.amountMinor - r.feeMinor;
    lines.push(
      csvLine([r.kind, d, m, r.recordId, r.merchantRef, r.originalId, r.product, r.currency, '', decimal(r.amountMinor, r.currency), '', decimal(r.feeMinor, r.currency), '', decimal(net, r.currency), '', '', '', new Date(r.createdAtMs).toISOString()]),
    );
  }
  for (const t of s.summaries) {
    lines.push(
      csvLine(['summary', d, m, '', '', '', '', t.currency, t.count, decimal(t.grossMinor, t.currency), decimal(t.refundsMinor, t.currency), decimal(t.feesMinor, t.currency), '', decimal(t.netMinor, t.currency), '', '', '', '']),
    );
  }
  if (s.settlements === null || s.settlements.length === 0) {
    lines.push(csvLine(['settlement', d, m, '', '', '', '', '', '', '', '', '', '', '', '', '', 'not yet settled', '']));
  } else {
    for (const b of s.settlements) {
      const c = b.currency;
      lines.push(
        csvLine([
          'settlement',
          d,
          m,
          b.batchId,
          '',
          '',
          '',
          c,
          b.items,
          decimal(b.grossMinor, c),
          decimal(b.refundsMinor, c),
          decimal(b.feesMinor, c),
          decimal(b.adjustmentsMinor, c),
          decimal(b.netMinor, c),
          decimal(b.carriedInMinor, c),
          decimal(b.carriedOutMinor, c),
          b.status,
          '',
        ]),
      );
    }
  }
  return lines.join('');
}

/** `<merchant>_<yyyyMMdd>.csv` */
export function statementFileName(merchantId: string, businessDate: string): string {
  return `${merchantId}_${businessDate.replaceAll('-', '')}.csv`;
}
