// The SQLite adapter of the statement source. It reads the online core's tables (payments, refunds,
// preauths, captures) by SQL only — src/batch never imports src/online — and dates every record by the
// business date of its journal entry (pay.<id>, void.<id>, refund.<id>, cap.<id>, capvoid.<id>), so a
// statement agrees with the books of the day. The clearing job's table settlement_batches is read when
// it exists.

import { hasTable, type SqliteConnection } from '../../../ledger/sqlite/database.js';
import type { SettlementBatch, StatementRecord, StatementSource } from '../port.js';
import { StatementError } from '../service.js';

type Row = Record<string, unknown>;
const num = (v: unknown): number => Number(v as bigint);
const big = (v: unknown): bigint => v as bigint;
const str = (v: unknown): string => (v === null || v === undefined ? '' : (v as string));

const RECORDS_SQL = `
  SELECT * FROM (
    SELECT p.merchant_id, 'payment' AS kind, p.payment_id AS record_id, p.merchant_order_no AS merchant_ref, '' AS original_id, p.product,
           p.currency, p.amount_minor, p.fee_minor, p.created_at_ms
      FROM entries e JOIN payments p ON substr(e.entry_id, 1, 4) = 'pay.' AND p.payment_id = substr(e.entry_id, 5)
     WHERE e.business_date = @date AND (@merchant IS NULL OR p.merchant_id = @merchant)
    UNION ALL
    SELECT p.merchant_id, 'void', p.payment_id, p.merchant_order_no, p.payment_id, p.product, p.currency, p.amount_minor, p.fee_minor, e.created_at_ms
      FROM entries e JOIN payments p ON substr(e.entry_id, 1, 5) = 'void.' AND p.payment_id = substr(e.entry_id, 6)
     WHERE e.business_date = @date AND (@merchant IS NULL OR p.merchant_id = @merchant)
    UNION ALL
    SELECT r.merchant_id, 'refund', r.refund_id, r.merchant_refund_no, r.payment_id, p.product, r.currency, r.amount_minor, r.fee_returned_minor, r.created_at_ms
      FROM entries e JOIN refunds r ON substr(e.entry_id, 1, 7) = 'refund.' AND r.refund_id = substr(e.entry_id, 8) JOIN payments p ON p.payment_id = r.payment_id
     WHERE e.business_date = @date AND (@merchant IS NULL OR r.merchant_id = @merchant)
    UNION ALL
    SELECT c.merchant_id, 'capture', c.capture_id, a.merchant_order_no, c.preauth_id, 'preauth', c.currency, c.amount_minor, c.fee_minor, c.created_at_ms
      FROM entries e JOIN captures c ON substr(e.entry_id, 1, 4) = 'cap.' AND c.capture_id = substr(e.entry_id, 5) JOIN preauths a ON a.preauth_id = c.preauth_id
     WHERE e.business_date = @date AND (@merchant IS NULL OR c.merchant_id = @merchant)
    UNION ALL
    SELECT c.merchant_id, 'capture_void', c.capture_id, a.merchant_order_no, c.preauth_id, 'preauth', c.currency, c.amount_minor, c.fee_minor, e.created_at_ms
      FROM entries e JOIN captures c ON substr(e.entry_id, 1, 8) = 'capvoid.' AND c.capture_id = substr(e.entry_id, 9) JOIN preauths a ON a.preauth_id = c.preauth_id
     WHERE e.business_date = @date AND (@merchant IS NULL OR c.merchant_id = @merchant)
  ) ORDER BY merchant_id, created_at_ms, kind, record_id LIMIT @limit`;

const MERCHANTS_SQL = `
  SELECT merchant_id FROM (
    SELECT p.merchant_id FROM entries e JOIN payments p ON p.payment_id = CASE WHEN substr(e.entry_id, 1, 4) = 'pay.' THEN substr(e.entry_id, 5) WHEN substr(e.entry_id, 1, 5) = 'void.' THEN substr(e.entry_id, 6) END WHERE e.business_date = @date
    UNION SELECT r.merchant_id FROM entries e JOIN refunds r ON substr(e.entry_id, 1, 7) = 'refund.' AND r.refund_id = substr(e.entry_id, 8) WHERE e.business_date = @date
    UNION SELECT c.merchant_id FROM entries e JOIN captures c ON c.capture_id = CASE WHEN substr(e.entry_id, 1, 4) = 'cap.' THEN substr(e.entry_id, 5) WHEN substr(e.entry_id, 1, 8) = 'capvoid.' THEN substr(e.entry_id, 9) END WHERE e.business_date = @date
    %SETTLED%
  ) ORDER BY merchant_id LIMIT @limit`;

/** Records of one business date held at once (about 200 bytes each): far above a day of this platform. */
export const DAY_RECORDS_MAX = 5_000_000;

function toRecord(r: Row): StatementRecord {
  return {
    kind: str(r['kind']) as StatementRecord['kind'],
    recordId: str(r['record_id']),
    merchantRef: str(r['merchant_ref']),
    originalId: str(r['original_id']),
    product: str(r['product']),
    currency: str(r['currency']),
    amountMinor: big(r['amount_minor']),
    feeMinor: big(r['fee_minor']),
    createdAtMs: num(r['created_at_ms']),
  };
}

export class SqliteStatementSource implements StatementSource {
  constructor(private readonly db: SqliteConnection) {}

  dayStatus(businessDate: string): 'open' | 'closed' | 'unknown' {
    const row = this.db.prepare('SELECT status FROM business_days WHERE business_date = ?').get(businessDate) as Row | undefined;
    return row === undefined ? 'unknown' : (str(row['status']) as 'open' | 'closed');
  }

  merchantsOn(businessDate: string, limit: number): string[] {
    if (!hasTable(this.db, 'payments')) return [];
    const settled = hasTable(this.db, 'settlement_batches') ? 'UNION SELECT merchant_id FROM settlement_batches WHERE business_date = @date' : '';
    const rows = this.db.prepare(MERCHANTS_SQL.replace('%SETTLED%', settled)).all({ date: businessDate, limit }) as Row[];
    return rows.map((r) => str(r['merchant_id']));
  }

  /**
   * The day's records are read in one pass over the date's journal entries (not one pass per merchant,
   * which would be O(entries × merchants)) and kept until another date is asked for; at most
   * `limit` + 1 per merchant are handed out, so the caller can tell a file is over its limit.
   */
  private day: { date: string; byMerchant: Map<string, StatementRecord[]> } | undefined;

  records(merchantId: string, businessDate: string, limit: number): StatementRecord[] {
    if (!hasTable(this.db, 'payments')) return [];
    if (this.day?.date !== businessDate) {
      const byMerchant = new Map<string, StatementRecord[]>();
      let rows = 0;
      for (const r of this.db.prepare(RECORDS_SQL).iterate({ date: businessDate, merchant: null, limit: DAY_RECORDS_MAX + 1 }) as IterableIterator<Row>) {
        if (++rows > DAY_RECORDS_MAX) throw new StatementError('statement_too_large', `${businessDate} has more than ${DAY_RECORDS_MAX} records.`, 'Run per merchant with --merchant.');
        const m = str(r['merchant_id']);
        let list = byMerchant.get(m);
        if (list === undefined) byMerchant.set(m, (list = []));
        if (list.length <= limit) list.push(toRecord(r));
      }
      this.day = { date: businessDate, byMerchant };
    }
    return (this.day.byMerchant.get(merchantId) ?? []).slice(0, limit);
  }

  settlements(merchantId: string, businessDate: string): SettlementBatch[] | null {
    if (!hasTable(this.db, 'settlement_batches')) return null;
    const rows = this.db
      .prepare('SELECT * FROM settlement_batches WHERE merchant_id = ? AND business_date = ? ORDER BY batch_id')
      .all(merchantId, businessDate) as Row[];
    return rows.map((r) => ({
      batchId: str(r['batch_id']),
      currency: str(r['currency']),
      grossMinor: big(r['gross_minor']),
      refundsMinor: big(r['refunds_minor']),
      feesMinor: big(r['fees_minor']),
      adjustmentsMinor: big(r['adjustments_minor']),
      netMinor: big(r['net_minor']),
      carriedInMinor: big(r['carried_in_minor']),
      carriedOutMinor: big(r['carried_out_minor']),
      items: num(r['items']),
      status: str(r['status']),
    }));
  }
}
