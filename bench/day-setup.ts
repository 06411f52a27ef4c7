// The day the day-end benches share: payments of one business date inserted as rows on a real SQLite file,
// a current recon run that matches every one of them (as `recon run` writes its pairs), the clearing and
// sharing config sections, and the ledger's raw batch posting loop quoted beside their figures.

import { performance } from 'node:perf_hooks';
import { migrateRecon } from '../src/batch/recon/sqlite/recon-store.js';
import type { EntryCommand } from '../src/ledger/index.js';
import type { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';

type Db = SqliteLedgerStore['db'];

export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

export const paymentIdOf = (i: number): string => `pay_${i}`;
export const merchantIdOf = (i: number, merchants: number): string => `M${i % merchants}`;

export interface PaymentFigures {
  readonly amountMinor: bigint;
  readonly feeMinor: bigint;
  readonly costMinor: bigint;
}

/** Rows per insert transaction while filling the day. */
const INSERT_CHUNK = 50_000;

/** Succeeded CNY payments of the channel `bank`, payment i of merchant M(i mod merchants). */
export function insertPayments(db: Db, day: { date: string; payments: number; merchants: number; product: string; figuresOf: (i: number) => PaymentFigures }): void {
  const insert = db.prepare(
    `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, fee_minor, cost_minor, business_date, created_at_ms, updated_at_ms)
     VALUES (?, ?, ?, ?, ?, 'CNY', 'succeeded', 'bank', ?, ?, ?, 0, 0)`,
  );
  for (let at = 0; at < day.payments; at += INSERT_CHUNK) {
    db.transaction(() => {
      for (let i = at; i < Math.min(at + INSERT_CHUNK, day.payments); i++) {
        const p = day.figuresOf(i);
        insert.run(paymentIdOf(i), merchantIdOf(i, day.merchants), `O${i}`, day.product, p.amountMinor, p.feeMinor, p.costMinor, day.date);
      }
    })();
  }
}

/** Matched pairs per recon_pair_blocks row (recon's PAIRS_PER_BLOCK). */
const PAIRS_PER_BLOCK = 10_000;

/** A current recon run of `bank` for the date whose matched pairs are the first `payments` payments; gives the number of pair blocks. */
export function insertMatchedReconRun(db: Db, date: string, payments: number): number {
  migrateRecon(db);
  db.transaction(() => {
    const file = db
      .prepare("INSERT INTO recon_files (channel, business_date, version, status, sha256, format, imported_at_ms) VALUES ('bank', ?, 1, 'imported', 'bench', 'csv', 0)")
      .run(date);
    const run = db
      .prepare("INSERT INTO recon_runs (channel, business_date, file_id, status, started_at_ms, finished_at_ms, lines, records) VALUES ('bank', ?, ?, 'current', 0, 0, ?, ?)")
      .run(date, file.lastInsertRowid, payments, payments);
    const block = db.prepare('INSERT INTO recon_pair_blocks (run_id, file_id, rows, pairs) VALUES (?, ?, ?, ?)');
    for (let at = 0; at < payments; at += PAIRS_PER_BLOCK) {
      // Each pair: [kind, line_seq, record_source, record_id].
      const pairs: string[] = [];
      for (let i = at; i < Math.min(at + PAIRS_PER_BLOCK, payments); i++) pairs.push(`["p",${i + 1},"p","${paymentIdOf(i)}"]`);
      block.run(run.lastInsertRowid, file.lastInsertRowid, pairs.length, `[${pairs.join(',')}]`);
    }
  })();
  return Math.ceil(payments / PAIRS_PER_BLOCK);
}

/** The clearing section of the benches: every merchant T+0 with a payout account, one rate card with a monthly volume tier. */
export function clearingSection(merchants: number): Record<string, unknown> {
  return {
    default_cycle: 'T+0',
    rate_cards: [{ rate: '0.006', tiers: [{ from_minor: 0, to_minor: 5_000_000, rate: '0.006' }, { from_minor: 5_000_000, rate: '0.005' }] }],
    merchants: Object.fromEntries(Array.from({ length: merchants }, (_, m) => [`M${m}`, { payout: { name: `Shop ${m}`, account: `62220${m}`, bank: 'ICBKCNBJ' } }])),
  };
}

/**
 * The sharing section of share.bench: agents in two levels (the first fifth at the top, the rest under
 * them), every third merchant also brought by one of two ISVs, and the rule R on the fee net of channel cost.
 */
/** The bench day's payment i: an amount from 1.00 to 1,000.99, a 0.6 % fee, and a channel cost of `costPerTenThousand` (0 for none). */
export function dayFigures(costPerTenThousand: bigint): (i: number) => { amountMinor: bigint; feeMinor: bigint; costMinor: bigint } {
  return (i) => {
    const amountMinor = BigInt(100 + ((i * 7919) % 100_000));
    return { amountMinor, feeMinor: (amountMinor * 6n) / 1000n, costMinor: (amountMinor * costPerTenThousand) / 10_000n };
  };
}

export function sharingSection(merchants: number, agents: number): Record<string, unknown> {
  const top = Math.max(1, Math.floor(agents / 5));
  return {
    agents: Array.from({ length: agents }, (_, i) => (i < top ? { id: `A${i}` } : { id: `A${i}`, parent: `A${i % top}` })),
    isvs: [{ id: 'ISV1' }, { id: 'ISV2' }],
    merchants: Object.fromEntries(Array.from({ length: merchants }, (_, i) => [`M${i}`, { agent: `A${i % agents}`, ...(i % 3 === 0 ? { isv: `ISV${(i % 2) + 1}` } : {}) }])),
    rules: [
      {
        id: 'R',
        base: 'fee_net',
        agent_levels: [
          {
            tiers: [
              { volume_from_minor: '0', volume_to_minor: '50000000', rate: '0.3' },
              { volume_from_minor: '50000000', rate: '0.4' },
            ],
          },
          { rate: '0.1' },
        ],
        isv: { rate: '0.05' },
        cap_per_payment_minor: '2000',
      },
    ],
  };
}

/** Entries per transaction in the baseline loop. */
const BASELINE_BATCH = 1000;

/**
 * The ledger's raw batch path on an already cleared file: `entries` two-posting entries (settlement in
 * transit → merchant payable, so the merchants' accounts must exist) in transactions of 1,000.
 */
export async function postingBaseline(store: SqliteLedgerStore, entries: number, merchants: number, nowMs: number): Promise<{ ms: number; entriesPerS: number }> {
  const t0 = performance.now();
  for (let at = 0; at < entries; at += BASELINE_BATCH) {
    const commands: EntryCommand[] = [];
    for (let i = at; i < Math.min(at + BASELINE_BATCH, entries); i++) {
      commands.push({
        type: 'entry',
        id: `bench.${i}`,
        eventType: 'bench.post',
        postings: [
          { accountId: 'platform:settlement-in-transit:CNY', side: 'debit', amountMinor: 100n, currency: 'CNY' },
          { accountId: `merchant:${merchantIdOf(i, merchants)}:payable:CNY`, side: 'credit', amountMinor: 100n, currency: 'CNY' },
        ],
      });
    }
    const results = await store.postEntries(commands, nowMs);
    if (results.some((r) => !r.ok)) throw new Error('baseline posting refused');
  }
  const ms = performance.now() - t0;
  return { ms, entriesPerS: Math.round((entries * 1000) / ms) };
}
