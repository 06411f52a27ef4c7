// settle clear end to end on a real database: a hand-worked day of three merchants (cycles, partial
// refunds, a rate card that differs from the fee booked at payment time, a negative net carried, a
// held item that reconciliation matches the next day and that lands in the next batch), then re-runs,
// the payout files, and every refusal.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteJobRunStore } from '../src/batch/jobs/sqlite/job-store.js';
import { CLEARING_ERROR_CODES, parseClearingConfig } from '../src/batch/clearing/config.js';
import { clearDay } from '../src/batch/clearing/service.js';
import { SqliteClearingStore } from '../src/batch/clearing/sqlite.js';
import { payLine, refundLine } from '../src/batch/recon/test-support.js';
import { runCli, type CliPlace } from './support/cli.js';
import { D, D1, ReconWorld } from './recon-match-support.js';

const CLEARING = {
  refund_fee_policy: 'proportional',
  debtor: { name: 'Settle & Co <Reserve>', account: '6222000000000001', bank: 'ICBKCNBJ' },
  rate_cards: [
    { merchant: '*', product: '*', channel: '*', rate: '0.006' },
    { merchant: 'M2', rate: '0.01', min_minor: 50 },
  ],
  merchants: {
    M1: { cycle: 'D+1', payout: { name: 'Shop One', iban: 'DE89370400440532013000', bank: 'COBADEFFXXX' } },
    M2: { cycle: 'T+0', payout: { name: 'Shop "Two"', account: '955880001', bank: 'ICBKCNBJ' } },
    M3: { cycle: 'T+0', payout: { name: '=Three', account: '955880003', bank: '102100099996' } },
  },
};

let w: ReconWorld;
let place: CliPlace;
let configPath: string;
let out: string;

function writeConfig(clearing: unknown): string {
  const sample = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'samples', 'settle.config.json'), 'utf8')) as Record<string, unknown>;
  const path = join(w.dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify({ ...sample, clearing }));
  return path;
}

async function cutoff(date: string): Promise<void> {
  const r = await w.ledger.cutoff(date);
  if ('ok' in r) throw new Error(`test setup: ${r.code}`);
}

const clear = (date: string, ...more: string[]) => runCli(place, '--json', 'clear', '--date', date, '--config', configPath, '--out', out, ...more);
const entryCount = (): unknown => w.ledgerStore.db.prepare('SELECT COUNT(*) AS n FROM entries').get();
const batchOf = (json: Record<string, unknown>, merchant: string) => (json['batches'] as Record<string, unknown>[]).find((b) => b['merchant_id'] === merchant);

beforeEach(async () => {
  w = await ReconWorld.create();
  place = { db: w.dbPath, cwd: w.dir, nowMs: () => Date.parse('2026-11-27T02:00:00Z') };
  configPath = writeConfig(CLEARING);
  out = join(w.dir, 'out');
});
afterEach(async () => {
  await w.close();
});

/**
 * Day D (Thursday 2026-11-26), all through channel `wallet`:
 *   M1 (D+1, 0.6%): pay_1 100.00 (booked fee 0.60), pay_2 250.50 (booked 1.50), re_1 30.00 of pay_1 (booked fee returned 0)
 *   M2 (T+0, 1% min 0.50): pay_3 20.00 (booked fee 0.12)
 *   M3 (T+0, 0.6%): pay_6 100.00 (booked 0.60) which the channel books only the next day (suspense),
 *                   pay_7 10.00 (booked 0.06), re_2 80.00 of pay_6 (booked fee returned 0)
 */
async function dayD(): Promise<void> {
  await w.payment('pay_1', 10000n, { merchant: 'M1', feeMinor: 60n });
  await w.payment('pay_2', 25050n, { merchant: 'M1', feeMinor: 150n });
  await w.payment('pay_3', 2000n, { merchant: 'M2', feeMinor: 12n });
  await w.payment('pay_6', 10000n, { merchant: 'M3', feeMinor: 60n });
  await w.payment('pay_7', 1000n, { merchant: 'M3', feeMinor: 6n });
  await w.refund('re_1', 'pay_1', 3000n, { merchant: 'M1' });
  await w.refund('re_2', 'pay_6', 8000n, { merchant: 'M3' });
  await w.importLines(D, [payLine('pay_1', 10000n), payLine('pay_2', 25050n), payLine('pay_3', 2000n), payLine('pay_7', 1000n), refundLine('pay_1', 're_1', 3000n), refundLine('pay_6', 're_2', 8000n)]);
  const m = await w.match(D, 1);
  expect(m.counts).toMatchObject({ matched: 6, suspense: 1 });
  await cutoff(D);
}

describe('Given a hand-worked day of three merchants', () => {
  it('When D and then D+1 are cleared, Then every batch, entry and balance is as worked by hand', async () => {
    await dayD();
    const first = await clear(D);
    // M3: gross 10.00, refunds 80.00, booked fees 0.06 − 0 = 0.06; by the card re_2 returns
    // round(0.60 × 80/100) = 0.48, so rate fees 0.06 − 0.48 = −0.42 and the adjustment 0.06 − (−0.42) = 0.48;
    // net 10.00 − 80.00 − 0.06 + 0.48 = −69.58: carried, not paid (exit 2).
    expect(first.code).toBe(2);
    expect(first.json).toMatchObject({ status: 'cleared', batches_written: 2, held_items: 1, not_due_items: 3, carried: ['M3'] });
    // M2: 1% of 20.00 = 0.20 is below the 0.50 minimum: fee 0.50; booked 0.12 → adjustment −0.38; net 20.00 − 0.12 − 0.38 = 19.50.
    expect(batchOf(first.json, 'M2')).toEqual({
      batch_id: `clr.${D}.M2.CNY`,
      merchant_id: 'M2',
      currency: 'CNY',
      gross_minor: '2000',
      refunds_minor: '0',
      fees_minor: '12',
      adjustments_minor: '-38',
      net_minor: '1950',
      carried_in_minor: '0',
      carried_out_minor: '0',
      payout_minor: '1950',
      items: 1,
      status: 'paid_out',
    });
    expect(batchOf(first.json, 'M3')).toMatchObject({ gross_minor: '1000', refunds_minor: '8000', fees_minor: '6', adjustments_minor: '48', net_minor: '-6958', carried_out_minor: '-6958', payout_minor: '0', items: 2, status: 'carried' });
    expect(batchOf(first.json, 'M1')).toBeUndefined(); // D+1: due on the 27th

    // Re-running D changes nothing, and its files are byte-identical.
    const files = (): Record<string, string> => Object.fromEntries(readdirSync(out).map((f) => [f, readFileSync(join(out, f), 'utf8')]));
    const before = files();
    const journalBefore = entryCount();
    const again = await clear(D);
    expect(again.code).toBe(2);
    expect(again.json).toMatchObject({ status: 'already_cleared', batches_written: 0, entries_posted: 0 });
    expect(files()).toEqual(before);
    expect(entryCount()).toEqual(journalBefore);
    expect(before[`payouts-${D}.csv`]).toBe(
      'batch_id,merchant_id,currency,amount,amount_minor,payee_name,payee_iban,payee_account,payee_bank,end_to_end_id\r\n' + `clr.${D}.M2.CNY,M2,CNY,19.50,1950,"Shop ""Two""",,955880001,ICBKCNBJ,20261126-M2\r\n`,
    );

    // D+1: the channel books pay_6 late; it matches and lands in the next batch.
    await w.importLines(D1, [payLine('pay_6', 10000n, { occurredAt: `${D}T23:59:59+08:00` })]);
    expect((await w.match(D1, 1)).counts).toMatchObject({ matched: 1, suspense: 0 });
    await cutoff(D1);
    const second = await clear(D1);
    expect(second.code).toBe(0);
    expect(second.json).toMatchObject({ status: 'cleared', batches_written: 2, held_items: 0, carried: [] });
    // M1: gross 100.00 + 250.50 = 350.50, refunds 30.00, booked fees 0.60 + 1.50 − 0 = 2.10;
    // card: 0.60, round(250.50 × 0.006 = 1.503) = 1.50, re_1 returns round(0.60 × 30/100) = 0.18 → 1.92;
    // adjustment 2.10 − 1.92 = 0.18; net 350.50 − 30.00 − 2.10 + 0.18 = 318.58.
    expect(batchOf(second.json, 'M1')).toMatchObject({ gross_minor: '35050', refunds_minor: '3000', fees_minor: '210', adjustments_minor: '18', net_minor: '31858', payout_minor: '31858', items: 3, status: 'paid_out' });
    // M3: pay_6 100.00, fee 0.60 = booked; net 99.40; carried in −69.58 → payout 29.82.
    expect(batchOf(second.json, 'M3')).toMatchObject({ gross_minor: '10000', fees_minor: '60', adjustments_minor: '0', net_minor: '9940', carried_in_minor: '-6958', payout_minor: '2982', items: 1, status: 'paid_out' });

    // Every merchant payable is now zero; settlement in transit holds 19.50 + 318.58 + 29.82 = 367.90.
    for (const m of ['M1', 'M2', 'M3']) expect(await w.balance(`merchant:${m}:payable:CNY`)).toBe(0n);
    expect(await w.balance('platform:settlement-in-transit:CNY')).toBe(36790n);
    expect((await w.ledgerStore.getEntry(`clear.${D}.M2.CNY`))?.eventType).toBe('clearing.settled');
    expect(await w.ledgerStore.getEntry(`clear.${D}.M3.CNY`)).toBeUndefined();

    const xml = readFileSync(join(out, `pain001-${D1}-CNY.xml`), 'utf8');
    expect(xml).toContain('<CtrlSum>348.40</CtrlSum>');
    expect(xml).toContain('<InstdAmt Ccy="CNY">318.58</InstdAmt>');
    expect(xml).toContain('<Nm>Settle &amp; Co &lt;Reserve&gt;</Nm>');
    expect(xml).toContain('<Othr><Id>102100099996</Id></Othr>'); // a CNAPS code is not a BIC
    // The batch CSV escapes a cell that would start a formula.
    expect(readFileSync(join(out, `payouts-${D1}.csv`), 'utf8')).toContain(",'=Three,");
  });

  it('When --include-unreconciled is given, Then the held item is settled at once', async () => {
    await dayD();
    const r = await clear(D, '--include-unreconciled');
    expect(r.json).toMatchObject({ held_items: 0 });
    // M3 with pay_6: 110.00 − 80.00 − 0.66 + 0.48 = 29.82, paid at once.
    expect(batchOf(r.json, 'M3')).toMatchObject({ gross_minor: '11000', net_minor: '2982', payout_minor: '2982', status: 'paid_out' });
    expect(r.code).toBe(0);
  });
});

describe('Given bad input', () => {
  it('When the date is not yet cut off, Then day_not_closed and nothing is written', async () => {
    const r = await clear(D);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'day_not_closed' });
    expect(w.ledgerStore.db.prepare('SELECT COUNT(*) AS n FROM settlement_batches').get()).toEqual({ n: 0n });
  });

  it('When the date is not a date, Then date_invalid', async () => {
    expect((await clear('2026-02-30')).json).toMatchObject({ code: 'date_invalid' });
  });

  it('When a merchant due a payout has no payout account, Then payout_account_missing and nothing is written', async () => {
    await dayD();
    configPath = writeConfig({ ...CLEARING, merchants: { ...CLEARING.merchants, M2: { cycle: 'T+0' } } });
    const r = await clear(D);
    expect(r.json).toMatchObject({ ok: false, code: 'payout_account_missing' });
    expect(w.ledgerStore.db.prepare('SELECT COUNT(*) AS n FROM settlement_batches').get()).toEqual({ n: 0n });
  });

  it.each([
    [{ rate_cards: [{ rate: '1.5' }] }, 'rate_card_invalid'],
    [{ rate_cards: [{ product: 'lottery', rate: '0.01' }] }, 'rate_card_unknown_product'],
    [{ rate_cards: [{ tiers: [{ from_minor: 0, to_minor: 1000, rate: '0.01' }, { from_minor: 500, rate: '0.005' }] }] }, 'rate_card_tiers_overlap'],
    [{ rate_cards: [{ rate: 0.01 }] }, 'clearing_config_invalid'],
  ])('When the clearing config is %j, Then %s', async (clearing, code) => {
    await cutoff(D);
    configPath = writeConfig(clearing);
    const r = await clear(D);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code });
  });

  it('When more items are unsettled than a run may take, Then clearing_too_large and nothing is written', async () => {
    await dayD();
    const store = new SqliteClearingStore(w.ledgerStore);
    await expect(clearDay(store, parseClearingConfig(CLEARING), { runDate: D, includeUnreconciled: false, outDir: out, nowMs: 0, itemsPerRunMax: 3 })).rejects.toMatchObject({ code: 'clearing_too_large' });
    expect(w.ledgerStore.db.prepare('SELECT COUNT(*) AS n FROM settlement_batches').get()).toEqual({ n: 0n });
  });

  it('Then every clearing code is asserted by a test', () => {
    const corpus = [readFileSync(import.meta.filename, 'utf8'), readFileSync(join(import.meta.dirname, '..', 'src', 'batch', 'clearing', 'core.test.ts'), 'utf8')].join('\n');
    for (const code of Object.keys(CLEARING_ERROR_CODES)) expect(corpus).toContain(`'${code}'`);
  });

  it('When another run of clear for the date holds the lock, Then job_locked', async () => {
    await cutoff(D);
    new SqliteJobRunStore(w.ledgerStore.db);
    w.ledgerStore.db
      .prepare("INSERT INTO job_runs (job, business_date, outcome, started_at_ms, holder, lease_until_ms) VALUES ('clear', ?, 'running', 0, 'other:1', ?)")
      .run(D, Date.parse('2026-11-27T03:00:00Z'));
    expect((await clear(D)).json).toMatchObject({ ok: false, code: 'job_locked' });
  });
});
