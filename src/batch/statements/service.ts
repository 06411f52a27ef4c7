// settle statement: per merchant and closed business date, build the statement and publish it.

import { join } from 'node:path';
import type { StatementSource } from './port.js';
import { PARTIAL_DIR, publishFile, SAFE_MERCHANT_ID, statementPath } from './publish.js';
import { buildStatement, renderStatementCsv, type StatementSummary } from './statement.js';

export class StatementError extends Error {
  constructor(
    readonly code: 'day_not_closed' | 'statement_too_large' | 'merchant_id_invalid' | 'merchants_too_many',
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'StatementError';
  }
}

export interface StatementRequest {
  readonly businessDate: string;
  readonly merchantId?: string;
  readonly dir: string;
  readonly rowsPerFileMax: number;
  readonly merchantsMax: number;
}

export interface PublishedStatement {
  readonly merchantId: string;
  readonly path: string;
  readonly status: 'written' | 'unchanged';
  readonly records: number;
  readonly summaries: readonly StatementSummary[];
  readonly settled: boolean;
}

export function generateStatements(source: StatementSource, req: StatementRequest): PublishedStatement[] {
  const day = source.dayStatus(req.businessDate);
  if (day !== 'closed') {
    throw new StatementError('day_not_closed', `Business day ${req.businessDate} is ${day === 'open' ? 'still open' : 'not known'}.`, 'Close it first with settle day cutoff.');
  }
  if (req.merchantId !== undefined && !SAFE_MERCHANT_ID.test(req.merchantId)) {
    throw new StatementError('merchant_id_invalid', `${JSON.stringify(req.merchantId.slice(0, 70))} is not a merchant id.`, 'Give an id like M100001.');
  }
  const merchants = req.merchantId !== undefined ? [req.merchantId] : source.merchantsOn(req.businessDate, req.merchantsMax + 1);
  if (merchants.length > req.merchantsMax) {
    throw new StatementError('merchants_too_many', `More than ${req.merchantsMax} merchants have records on ${req.businessDate}.`, 'Raise statements.merchants_max or run per merchant with --merchant.');
  }
  const out: PublishedStatement[] = [];
  for (const merchantId of merchants) {
    const records = source.records(merchantId, req.businessDate, req.rowsPerFileMax + 1);
    if (records.length > req.rowsPerFileMax) {
      throw new StatementError('statement_too_large', `${merchantId} has more than ${req.rowsPerFileMax} records on ${req.businessDate}.`, 'Raise statements.rows_per_file_max.');
    }
    const settlements = source.settlements(merchantId, req.businessDate);
    const statement = buildStatement(merchantId, req.businessDate, records, settlements);
    const path = statementPath(req.dir, merchantId, req.businessDate);
    const status = publishFile(path, renderStatementCsv(statement), join(req.dir, PARTIAL_DIR));
    out.push({ merchantId, path, status, records: records.length, summaries: statement.summaries, settled: settlements !== null && settlements.length > 0 });
  }
  return out;
}
