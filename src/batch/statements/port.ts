// What the statement job needs to read: a merchant's records of one business date (from the online
// core's tables and the journal) and the day's settlement batch, when clearing has written one.

/** One record of a merchant's day. Amounts are non-negative; the kind says which way money went. */
export interface StatementRecord {
  readonly kind: 'payment' | 'void' | 'refund' | 'capture' | 'capture_void';
  /** Our id of the record (payment, refund or capture id). */
  readonly recordId: string;
  /** The merchant's own number (order or refund number). */
  readonly merchantRef: string;
  /** The payment or pre-auth a refund, void or capture belongs to ('' for a payment). */
  readonly originalId: string;
  readonly product: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  /** The fee charged (payment, capture) or returned (refund, void, capture void). */
  readonly feeMinor: bigint;
  readonly createdAtMs: number;
}

export interface SettlementBatch {
  readonly batchId: string;
  readonly currency: string;
  readonly grossMinor: bigint;
  readonly refundsMinor: bigint;
  readonly feesMinor: bigint;
  readonly adjustmentsMinor: bigint;
  readonly netMinor: bigint;
  readonly carriedInMinor: bigint;
  readonly carriedOutMinor: bigint;
  readonly items: number;
  readonly status: string;
}

export interface StatementSource {
  /** Closed, open, or unknown business date. */
  dayStatus(businessDate: string): 'open' | 'closed' | 'unknown';
  /** Merchants with a record or a settlement batch on the date, sorted, at most `limit`. */
  merchantsOn(businessDate: string, limit: number): string[];
  /** The merchant's records on the date, in a stable order, at most `limit`. */
  records(merchantId: string, businessDate: string, limit: number): StatementRecord[];
  /** The settlement batches of the merchant for the date; null when clearing has not run yet (no table). */
  settlements(merchantId: string, businessDate: string): SettlementBatch[] | null;
}
