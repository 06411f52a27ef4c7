// The SQLite adapter of sharing: migration 2 keeps every line of a database written by migration 1 (one row
// per line) and serves them through the share_lines view unchanged; migration 3 keeps the amounts of
// migration 2's rows (each distinct split once); what is written as compact splits reads back as the lines
// sharePayment gives.

import { afterEach, describe, expect, it } from 'vitest';
import { migrateModule } from '../../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { compileSharing } from './config.js';
import { sharePayment, splitPayment, type DayCapState, type ShareLine, type SharePayment } from './core.js';
import { SHARING_MIGRATIONS, SqliteShareStore } from './sqlite.js';
import { HAND_SECTION } from './test-support.js';

const D = '2026-11-20';

const COLUMNS = 'payment_id, source_kind, source_id, party_id, party_kind, business_date, merchant_id, currency, rule_id, base_minor, rate, share_minor, clipped_minor';
const ORDER = 'ORDER BY business_date, party_id, currency, payment_id, source_kind, source_id';

let open: SqliteLedgerStore[] = [];
afterEach(async () => {
  for (const s of open) await s.close();
  open = [];
});
function ledger(): SqliteLedgerStore {
  const s = SqliteLedgerStore.open(':memory:');
  open.push(s);
  return s;
}

const pay = (paymentId: string, merchantId: string, amountMinor: bigint, feeMinor: bigint, costMinor: bigint): SharePayment => ({
  paymentId,
  merchantId,
  product: 'wallet',
  currency: 'CNY',
  amountMinor,
  feeMinor,
  costMinor,
});

/** Rows as migration 1 stored them: a payment split four ways, one clipped by a cap, one the platform keeps whole (no rule), clawbacks of a refund. */
const OLD_ROWS: readonly (readonly unknown[])[] = [
  ['P1', 'payment', 'P1', 'A2', 'agent', D, 'M1', 'CNY', 'R1', 220n, '0.3', 66n, 0n],
  ['P1', 'payment', 'P1', 'A1', 'agent', D, 'M1', 'CNY', 'R1', 220n, '0.1', 22n, 0n],
  ['P1', 'payment', 'P1', 'I1', 'isv', D, 'M1', 'CNY', 'R1', 220n, '0.05', 11n, 0n],
  ['P1', 'payment', 'P1', 'platform', 'platform', D, 'M1', 'CNY', 'R1', 220n, '0.55', 121n, 0n],
  ['P3', 'payment', 'P3', 'A1', 'agent', D, 'M2', 'CNY', 'R1', 4400n, '0.4', 300n, 1460n],
  ['P3', 'payment', 'P3', 'platform', 'platform', D, 'M2', 'CNY', 'R1', 4400n, '0.6', 4100n, 0n],
  ['P5', 'payment', 'P5', 'platform', 'platform', '2026-11-21', 'M1', 'USD', '-', 6n, '1', 6n, 0n],
  ['P1', 'refund', 'F1', 'A2', 'agent', '2026-11-21', 'M1', 'CNY', 'R1', -66n, '0.3', -19n, 0n],
  ['P1', 'refund', 'F1', 'A1', 'agent', '2026-11-21', 'M1', 'CNY', 'R1', -66n, '0.1', -6n, 0n],
  ['P1', 'refund', 'F1', 'I1', 'isv', '2026-11-21', 'M1', 'CNY', 'R1', -66n, '0.05', -3n, 0n],
  ['P1', 'refund', 'F1', 'platform', 'platform', '2026-11-21', 'M1', 'CNY', 'R1', -66n, '0.55', -38n, 0n],
];

describe('migration 2 (compact splits) on a database of migration 1', () => {
  it('Given share lines stored a row each, When the store opens, Then share_lines reads the same rows, and totals, payment lines and re-runs agree with them', () => {
    const l = ledger();
    migrateModule(l.db, 'sharing', SHARING_MIGRATIONS.slice(0, 1));
    const insert = l.db.prepare(`INSERT INTO share_lines (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const r of OLD_ROWS) insert.run(...r);
    const before = l.db.prepare(`SELECT * FROM share_lines ${ORDER}`).all();
    const totalsBefore = l.db
      .prepare(`SELECT business_date, party_id, party_kind, currency, COUNT(*) AS n, SUM(base_minor) AS base, SUM(share_minor) AS share FROM share_lines GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`)
      .all();

    const store = new SqliteShareStore(l);
    expect(l.db.prepare("SELECT type FROM sqlite_master WHERE name = 'share_lines'").pluck(true).get()).toBe('view');
    expect(l.db.prepare(`SELECT * FROM share_lines ${ORDER}`).all()).toEqual(before);
    expect(
      l.db.prepare(`SELECT business_date, party_id, party_kind, currency, COUNT(*) AS n, SUM(base_minor) AS base, SUM(share_minor) AS share FROM share_lines GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`).all(),
    ).toEqual(totalsBefore);
    expect(store.partyTotals(D).map((t) => [t.partyId, t.partyKind, t.currency, t.netMinor])).toEqual([
      ['A1', 'agent', 'CNY', 322n],
      ['A2', 'agent', 'CNY', 66n],
      ['I1', 'isv', 'CNY', 11n],
    ]);
    expect(store.partyTotals('2026-11-21').map((t) => [t.partyId, t.netMinor])).toEqual([
      ['A1', -6n],
      ['A2', -19n],
      ['I1', -3n],
    ]);
    expect(store.paymentLines('P1', D).map((x) => [x.partyId, x.shareMinor, x.rate])).toEqual([
      ['A1', 22n, '0.1'],
      ['A2', 66n, '0.3'],
      ['I1', 11n, '0.05'],
      ['platform', 121n, '0.55'],
    ]);
    expect(store.paymentLines('P3', D).find((x) => x.partyId === 'A1')?.clippedMinor).toBe(1460n);
    expect(store.paymentsShared(D, 'P1', 'P3')).toBe(2);

    // Re-sharing P1 (already there in the old shape) writes nothing; P2 is new.
    const rules = compileSharing(HAND_SECTION, { isMerchant: () => true, products: new Set(['wallet']) });
    const caps: DayCapState = new Map();
    const splits = [pay('P1', 'M1', 100000n, 600n, 380n), pay('P2', 'M1', 50000n, 300n, 190n)].map((p) => splitPayment(rules, p, 151000n, caps));
    expect(store.writeSplits(D, splits)).toBe(4);
    expect(store.writeSplits(D, splits)).toBe(0);
    expect(store.paymentsShared(D, 'P1', 'P3')).toBe(3);
    expect(store.partyTotals(D).find((t) => t.partyId === 'I1')?.netMinor).toBe(11n + 6n);
  });
});

describe('compact splits read back as lines', () => {
  it('Given splits with caps, a negative base and no rule, When written, Then share_lines, paymentLines and the totals equal sharePayment lines', () => {
    const l = ledger();
    const store = new SqliteShareStore(l);
    const capped = compileSharing(
      { ...HAND_SECTION, rules: [{ ...HAND_SECTION.rules[0], cap_per_day_minor: '150', products: ['wallet'] }] },
      { isMerchant: () => true, products: new Set(['wallet', 'quick']) },
    );
    const payments = [
      pay('P1', 'M1', 100000n, 600n, 380n),
      pay('P2', 'M2', 2000000n, 12000n, 7600n),
      pay('P3', 'M1', 1000n, 6n, 10n),
      { ...pay('P4', 'M1', 1000n, 10n, 4n), product: 'quick' },
      pay('P5', 'M1', 7n, 1n, 1n),
      pay('P6', 'M1', 300000n, 1800n, 1140n),
    ];
    const expected: ShareLine[] = [];
    const caps1: DayCapState = new Map();
    for (const p of payments) expected.push(...sharePayment(capped, p, 151000n, caps1).lines);
    const caps2: DayCapState = new Map();
    const written = store.writeSplits(
      D,
      payments.map((p) => splitPayment(capped, p, 151000n, caps2)),
    );
    expect(written).toBe(expected.length);
    const key = (x: ShareLine): string => `${x.paymentId}/${x.partyId}`;
    const rows = (l.db.prepare(`SELECT ${COLUMNS} FROM share_lines WHERE business_date = ?`).all(D) as Record<string, unknown>[]).map((r) => ({
      paymentId: r['payment_id'],
      sourceKind: r['source_kind'],
      sourceId: r['source_id'],
      partyId: r['party_id'],
      partyKind: r['party_kind'],
      merchantId: r['merchant_id'],
      currency: r['currency'],
      ruleId: r['rule_id'],
      baseMinor: r['base_minor'],
      rate: r['rate'],
      shareMinor: r['share_minor'],
      clippedMinor: r['clipped_minor'],
    }));
    const sorted = <T extends ShareLine>(xs: readonly T[]): T[] => [...xs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    expect(sorted(rows as unknown as ShareLine[])).toEqual(sorted(expected));
    expect(expected.some((x) => x.clippedMinor > 0n)).toBe(true);
    for (const p of payments) expect(store.paymentLines(p.paymentId, D)).toEqual(sorted(expected.filter((x) => x.paymentId === p.paymentId)).sort((a, b) => (a.partyId < b.partyId ? -1 : 1)));
    const net = new Map<string, bigint>();
    for (const x of expected) if (x.partyKind !== 'platform') net.set(x.partyId, (net.get(x.partyId) ?? 0n) + x.shareMinor);
    expect(new Map(store.partyTotals(D).map((t) => [t.partyId, t.netMinor]))).toEqual(net);
  });
});

describe('migration 3 (split amounts kept once) on a database of migration 2', () => {
  it('Given payments stored with their amounts, When the store opens, Then share_lines and the splits read the same, and equal splits share one row', () => {
    const l = ledger();
    migrateModule(l.db, 'sharing', SHARING_MIGRATIONS.slice(0, 2));
    const table = l.db.prepare('INSERT INTO share_tables (rule_id, platform_rate, seats, table_key) VALUES (?, ?, ?, ?)');
    table.run('R1', '0.55', '[["A2","agent","0.3"],["A1","agent","0.1"],["I1","isv","0.05"]]', 't1');
    table.run('-', null, '[]', 't2');
    const payment = l.db.prepare('INSERT INTO share_payments (business_date, payment_id, merchant_id, currency, table_id, base_minor, shares, clipped, platform_share_minor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    // P1 and P2 split alike (one split row after), P3 clipped, P4 without a platform line (as migration 1 could leave it), P5 on another date.
    payment.run(D, 'P1', 'M1', 'CNY', 1, 220n, '[66,22,11]', null, 121n);
    payment.run(D, 'P2', 'M2', 'USD', 1, 220n, '[66,22,11]', null, 121n);
    payment.run(D, 'P3', 'M1', 'CNY', 1, 4400n, '[300,440,220]', '[1020,0,0]', 4460n);
    payment.run(D, 'P4', 'M1', 'CNY', 1, 10n, '[3,1,0]', null, null);
    payment.run('2026-11-21', 'P5', 'M1', 'USD', 2, 6n, '[]', null, 6n);
    const before = l.db.prepare(`SELECT * FROM share_lines ${ORDER}`).all();
    const amounts = l.db.prepare('SELECT payment_id, table_id, base_minor, shares, clipped, platform_share_minor FROM share_payments ORDER BY payment_id').raw(true).all();

    const store = new SqliteShareStore(l);
    expect(l.db.prepare(`SELECT * FROM share_lines ${ORDER}`).all()).toEqual(before);
    expect(
      l.db
        .prepare('SELECT p.payment_id, p.table_id, x.base_minor, x.shares, x.clipped, x.platform_share_minor FROM share_payments p JOIN share_splits x USING (split_id) ORDER BY payment_id')
        .raw(true)
        .all(),
    ).toEqual(amounts);
    expect(l.db.prepare('SELECT COUNT(*) FROM share_splits').pluck(true).get()).toBe(4n);
    const visited: unknown[] = [];
    store.eachSplitByPayment(D, {
      split: (s) => visited.push([s.paymentId, s.merchantId, s.currency, s.table.ruleId, s.baseMinor, s.sharesMinor, s.clippedMinor, s.platformShareMinor]),
      clawback: () => undefined,
    });
    expect(visited).toEqual([
      ['P1', 'M1', 'CNY', 'R1', 220n, [66n, 22n, 11n], null, 121n],
      ['P2', 'M2', 'USD', 'R1', 220n, [66n, 22n, 11n], null, 121n],
      ['P3', 'M1', 'CNY', 'R1', 4400n, [300n, 440n, 220n], [1020n, 0n, 0n], 4460n],
      ['P4', 'M1', 'CNY', 'R1', 10n, [3n, 1n, 0n], null, null],
    ]);

    // A split written after the migration with the amounts of a migrated one (P1's) takes its row; a new one adds a row.
    const rules = compileSharing(HAND_SECTION, { isMerchant: () => true, products: new Set(['wallet']) });
    const caps: DayCapState = new Map();
    const splits = [pay('P6', 'M1', 100000n, 600n, 380n), pay('P7', 'M1', 300000n, 1800n, 1140n)].map((p) => splitPayment(rules, p, 151000n, caps));
    expect(store.writeSplits(D, splits)).toBe(8);
    const splitOf = (paymentId: string): unknown => l.db.prepare('SELECT split_id FROM share_payments WHERE payment_id = ?').pluck(true).get(paymentId);
    expect(splitOf('P6')).toBe(splitOf('P1'));
    expect(l.db.prepare('SELECT COUNT(*) FROM share_splits').pluck(true).get()).toBe(5n);
    expect(store.paymentLines('P6', D).map((x) => [x.partyId, x.shareMinor])).toEqual([
      ['A1', 22n],
      ['A2', 66n],
      ['I1', 11n],
      ['platform', 121n],
    ]);
  });
});
