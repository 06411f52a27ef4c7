// A reconciliation world on a real SQLite file: the sample chart, the online core's tables with orders
// inserted as the online core writes them (a row, and for a success its journal entry pay.<id> /
// refund.<id> from the default postings), the recon store, and helpers to import lines and match.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ReconError } from '../src/batch/recon/errors.js';
import { importStatement, type ImportResult } from '../src/batch/recon/import.js';
import type { StatementLine, StatementSummary } from '../src/batch/recon/line.js';
import { reconAccounts } from '../src/batch/recon/resolve.js';
import { matchDay, type MatchDayResult } from '../src/batch/recon/run.js';
import { SqliteReconStore } from '../src/batch/recon/sqlite/recon-store.js';
import { loadConfig } from '../src/cli/config.js';
import { balanceOnNormalSide, Ledger, postingsFor } from '../src/ledger/index.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { migrateOnline } from '../src/online/sqlite/store.js';

export const D = '2026-11-26';
export const D1 = '2026-11-27';

export interface OrderOptions {
  readonly status?: string;
  readonly channel?: string;
  readonly txn?: string | null;
  readonly feeMinor?: bigint;
  readonly costMinor?: bigint;
  readonly merchant?: string;
  readonly businessDate?: string | null;
}

export class ReconWorld {
  readonly dir: string;
  readonly dbPath: string;
  readonly ledgerStore: SqliteLedgerStore;
  readonly ledger: Ledger;
  readonly store: SqliteReconStore;
  nowMs = Date.parse('2026-11-27T01:00:00Z');
  private shaSeq = 0;
  private readonly ownsDir: boolean;

  private constructor(dir: string, dbPath = join(dir, 'settle.db'), ownsDir = true) {
    this.dir = dir;
    this.dbPath = dbPath;
    this.ownsDir = ownsDir;
    this.ledgerStore = SqliteLedgerStore.open(this.dbPath, { create: ownsDir, synchronous: 'NORMAL' });
    this.ledger = new Ledger(this.ledgerStore, () => this.nowMs);
    migrateOnline(this.ledgerStore.db);
    this.store = new SqliteReconStore(this.ledgerStore);
  }

  static async create(): Promise<ReconWorld> {
    const w = new ReconWorld(mkdtempSync(join(tmpdir(), 'settle-recon-world-')));
    await w.ledger.initialise(loadConfig().chart, D);
    return w;
  }

  /** On a database made by `settle init` (the caller owns and removes it). */
  static attach(dbPath: string): ReconWorld {
    return new ReconWorld(dirname(dbPath), dbPath, false);
  }

  async close(): Promise<void> {
    await this.ledgerStore.close();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** A payment as the online core leaves it; a success (or a later state) also has its journal entry. */
  async payment(id: string, amountMinor: bigint, o: OrderOptions = {}): Promise<void> {
    const status = o.status ?? 'succeeded';
    const channel = o.channel ?? 'wallet';
    const fee = o.feeMinor ?? 0n;
    const cost = o.costMinor ?? 0n;
    const merchant = o.merchant ?? 'M100001';
    const succeededOnce = ['succeeded', 'partially_refunded', 'refunded', 'voided'].includes(status);
    this.ledgerStore.db
      .prepare(
        `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, channel_txn_id,
           fee_minor, cost_minor, business_date, created_at_ms, updated_at_ms)
         VALUES (?, ?, ?, 'wallet', ?, 'CNY', ?, ?, ?, ?, ?, ?, 0, 0)`,
      )
      .run(id, merchant, `A-${id}`, amountMinor, status, channel, o.txn === undefined ? `42${id}` : o.txn, fee, cost, succeededOnce ? (o.businessDate ?? D) : null);
    if (!succeededOnce) return;
    this.ledgerStore.ensureAccountsSync([reconAccounts.channelReceivable(channel, 'CNY'), reconAccounts.merchantPayable(merchant, 'CNY')], this.nowMs);
    const posted = await this.ledger.post({
      type: 'entry',
      id: `pay.${id}`,
      eventType: 'payment.succeeded',
      reference: id,
      postings: postingsFor(
        'payment.succeeded',
        { grossMinor: amountMinor, feeMinor: fee, costMinor: cost },
        {
          channel_receivable: `channel:${channel}:receivable:CNY`,
          channel_cost: 'platform:channel-cost:CNY',
          merchant_payable: `merchant:${merchant}:payable:CNY`,
          fee_income: 'platform:fee-income:CNY',
        },
        'CNY',
      ),
    });
    if (!posted.ok) throw new Error(`test setup: ${posted.code} ${posted.message}`);
    if (status === 'voided') {
      const voided = await this.ledger.post({ type: 'reverse', id: `void.${id}`, entryId: `pay.${id}` });
      if (!voided.ok) throw new Error(`test setup: ${voided.code}`);
    }
  }

  /** A refund; a succeeded one has its journal entry refund.<id> on the ledger's open day. */
  async refund(id: string, paymentId: string, amountMinor: bigint, o: OrderOptions = {}): Promise<void> {
    const status = o.status ?? 'succeeded';
    const merchant = o.merchant ?? 'M100001';
    this.ledgerStore.db
      .prepare(
        `INSERT INTO refunds (refund_id, payment_id, merchant_id, merchant_refund_no, amount_minor, currency, status, channel_txn_id,
           fee_returned_minor, cost_returned_minor, created_at_ms, updated_at_ms)
         VALUES (?, ?, ?, ?, ?, 'CNY', ?, ?, 0, ?, 0, 0)`,
      )
      .run(id, paymentId, merchant, `R-${id}`, amountMinor, status, o.txn === undefined ? `50${id}` : o.txn, o.costMinor ?? 0n);
    if (status !== 'succeeded') return;
    const posted = await this.ledger.post({
      type: 'entry',
      id: `refund.${id}`,
      eventType: 'refund.succeeded',
      reference: id,
      postings: postingsFor(
        'refund.succeeded',
        { grossMinor: amountMinor, costMinor: o.costMinor ?? 0n },
        { channel_receivable: `channel:${o.channel ?? 'wallet'}:receivable:CNY`, channel_cost: 'platform:channel-cost:CNY', merchant_payable: `merchant:${merchant}:payable:CNY`, fee_income: 'platform:fee-income:CNY' },
        'CNY',
      ),
    });
    if (!posted.ok) throw new Error(`test setup: ${posted.code} ${posted.message}`);
  }

  async importLines(date: string, lines: readonly StatementLine[], channel = 'wallet'): Promise<ImportResult> {
    this.shaSeq += 1;
    const summary: StatementSummary = {
      rows: lines.length,
      payments: lines.filter((l) => l.kind === 'payment').length,
      refunds: lines.filter((l) => l.kind === 'refund').length,
      paymentAmountMinor: lines.filter((l) => l.kind === 'payment').reduce((s, l) => s + l.amountMinor, 0n),
      refundAmountMinor: lines.filter((l) => l.kind === 'refund').reduce((s, l) => s + l.amountMinor, 0n),
      feeTotal: null,
      totalsCheck: 'ok',
    };
    return importStatement(
      this.store,
      {
        channel,
        businessDate: date,
        format: 'wechat-trade',
        sha256: this.shaSeq.toString(16).padStart(64, '0'),
        sourceName: `bill-${date}.csv`,
        read: async (onLine) => {
          for (const l of lines) onLine({ ...l, occurredAt: l.occurredAt.startsWith('2026-') ? `${date}${l.occurredAt.slice(10)}` : l.occurredAt });
          return summary;
        },
      },
      { clock: () => this.nowMs },
    );
  }

  async match(date: string, suspenseDays = 0, channel = 'wallet'): Promise<MatchDayResult> {
    return matchDay(this.store, { channel, suspense_days: suspenseDays }, date, { clock: () => this.nowMs });
  }

  async balance(accountId: string): Promise<bigint> {
    const [found] = await this.ledger.accounts({ accountId });
    return found ? balanceOnNormalSide(found, found.normalSide) : 0n;
  }

  /** The item of a run whose identity is given. */
  async itemOf(runId: number, identity: string): Promise<number> {
    const found = (await this.store.runExceptions(runId, 1000)).find((i) => i.identity === identity);
    if (!found) throw new ReconError('discrepancy_not_found', `test: no exception ${identity} in run ${runId}`);
    return found.itemId;
  }
}
