// settle report end to end: a small day on a real SQLite file (orders as the online core writes them,
// reconciliation with one discrepancy left open, then clear, share, trial balance and position plan
// through the CLI), the report's figures checked against the database, then the page opened in
// headless Chromium (Debian's chromium, driven by puppeteer-core): no console error, no page error, no
// failed request, every chart drawn, and a screenshot in test-results/report-<date>.png.
// Under CI=true a missing chromium fails the test; elsewhere that one test is skipped with a warning.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { payLine, refundLine } from '../src/batch/recon/test-support.js';
import { migrateMerchants } from '../src/online/merchants/store.js';
import { runCli, type CliPlace } from './support/cli.js';
import { D, D1, ReconWorld } from './recon-match-support.js';

const CHROMIUM = '/usr/bin/chromium';
const CI = process.env['CI'] === 'true' || process.env['CI'] === '1';
const HAS_CHROMIUM = existsSync(CHROMIUM);
if (CI && !HAS_CHROMIUM) throw new Error(`CI=true but ${CHROMIUM} is missing: .ci/run installs Debian's chromium package.`);
if (!HAS_CHROMIUM) console.warn(`report-cli: ${CHROMIUM} is not installed; the Chromium rendering test is skipped (apt-get install chromium).`);

const SAMPLE = JSON.parse(readFileSync(new URL('../samples/settle.config.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const EVIL = '<script>alert("pwned")</script> & Co';
const WALLET = 'channel:wallet:receivable:CNY';
const RESERVE = 'bank:ICBC-RESERVE:reserve:CNY';

const SECTIONS = {
  clearing: {
    refund_fee_policy: 'proportional',
    debtor: { name: 'Settle Reserve', account: '6222000000000001', bank: 'ICBKCNBJ' },
    rate_cards: [{ merchant: '*', product: '*', channel: '*', rate: '0.006' }],
    merchants: {
      M1: { cycle: 'T+0', payout: { name: 'Shop One', account: '955880001', bank: 'ICBKCNBJ' } },
      M2: { cycle: 'T+0', payout: { name: 'Shop Two', account: '955880002', bank: 'ICBKCNBJ' } },
    },
  },
  sharing: {
    agents: [{ id: 'A1' }],
    merchants: { M1: { agent: 'A1' }, M2: { agent: 'A1' } },
    rules: [{ id: 'R1', base: 'fee', products: ['wallet'], agent_levels: [{ rate: '0.30' }] }],
  },
  positions: {
    transfer_unit_minor: '100',
    horizon_days: 5,
    history_weeks: 1,
    accounts: [{ account_id: WALLET, buffer: { fixed_minor: '20000' }, funded_by: RESERVE }],
  },
};

let w: ReconWorld;
let place: CliPlace;
let config: string;
let html: string;
let outFile: string;

beforeAll(async () => {
  w = await ReconWorld.create();
  migrateMerchants(w.ledgerStore.db);
  const addMerchant = w.ledgerStore.db.prepare("INSERT INTO merchants (merchant_id, name, status, legacy_md5, products, created_at_ms) VALUES (?, ?, 'active', 0, 'wallet', 0)");
  addMerchant.run('M1', EVIL);
  addMerchant.run('M2', 'Shop Two');
  config = join(w.dir, 'settle.config.json');
  writeFileSync(config, JSON.stringify({ ...SAMPLE, ...SECTIONS }));
  place = { db: w.dbPath, cwd: w.dir, nowMs: () => Date.parse('2026-11-27T02:00:00Z') };

  // Day D through channel `wallet`, product `wallet`:
  //   M1: pay_1 100.00 (fee 0.60), pay_2 250.50 (fee 1.50), refund re_1 30.00 of pay_1
  //   M2: pay_3 20.00 (fee 0.12); pay_4 50.00 (fee 0.30) that the channel's file lacks (ledger_only, left open)
  //   a declined attempt pay_5 80.00 (failed, no business date) created while D was open
  await w.payment('pay_1', 10000n, { merchant: 'M1', feeMinor: 60n });
  await w.payment('pay_2', 25050n, { merchant: 'M1', feeMinor: 150n });
  await w.payment('pay_3', 2000n, { merchant: 'M2', feeMinor: 12n });
  await w.payment('pay_4', 5000n, { merchant: 'M2', feeMinor: 30n });
  await w.refund('re_1', 'pay_1', 3000n, { merchant: 'M1' });
  w.nowMs += 60_000;
  w.ledgerStore.db
    .prepare(
      `INSERT INTO payments (payment_id, merchant_id, merchant_order_no, product, amount_minor, currency, status, channel_id, fee_minor, cost_minor, created_at_ms, updated_at_ms)
       VALUES ('pay_5', 'M2', 'A-pay_5', 'wallet', 8000, 'CNY', 'failed', 'wallet', 0, 0, ?, ?)`,
    )
    .run(w.nowMs, w.nowMs);
  await w.importLines(D, [payLine('pay_1', 10000n), payLine('pay_2', 25050n), payLine('pay_3', 2000n), refundLine('pay_1', 're_1', 3000n)]);
  const m = await w.match(D, 0);
  expect(m.counts).toMatchObject({ matched: 4, discrepancies: 1 });
  w.nowMs += 60_000;
  const c = await w.ledger.cutoff(D);
  if ('ok' in c) throw new Error(`test setup: cutoff ${c.code}`);

  expect((await runCli(place, '--json', 'clear', '--date', D, '--config', config, '--out', join(w.dir, 'out'))).code).toBe(0);
  expect((await runCli(place, '--json', 'share', '--date', D, '--config', config, '--out', join(w.dir, 'out'))).code).toBe(0);
  expect((await runCli(place, '--json', 'trial-balance', '--date', D, '--config', config)).code).toBe(0);
  expect((await runCli(place, '--json', 'position', 'plan', '--date', D, '--config', config)).code).toBeLessThanOrEqual(2);
});

afterAll(async () => {
  await w.close();
});

describe('settle report', () => {
  it('Given a reconciled, cleared, shared and balanced day with one open discrepancy, When the report is written, Then it exits 2 and says why', async () => {
    outFile = join(w.dir, 'reports', `report-${D}.html`);
    const r = await runCli(place, '--json', 'report', '--date', D, '--out', outFile, '--config', config);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({
      ok: true,
      business_date: D,
      out: outFile,
      findings: true,
      open_discrepancies: 1,
      trial_balance_findings: 0,
      positions_below_buffer: 0,
      failed_jobs: 0,
      sections: { recon: 'ok', settlement: 'ok', sharing: 'ok', trial_balance: 'ok', positions: 'ok' },
    });
    html = readFileSync(outFile, 'utf8');
    const runs = w.ledgerStore.db.prepare("SELECT outcome, exit_code FROM job_runs WHERE job = 'report' AND business_date = ?").all(D);
    expect(runs).toEqual([{ outcome: 'findings', exit_code: 2n }]);
  });

  it('Then the volumes are the day worked by hand: 5 attempts, 4 succeeded (80.0 %), 425.50 CNY, one refund of 30.00', () => {
    // Succeeded 100.00 + 250.50 + 20.00 + 50.00 = 420.50 CNY; the declined 80.00 counts as an attempt only.
    expect(html).toMatch(/<td>wallet<\/td><td>CNY<\/td><td class="num">5<\/td><td class="num">4<\/td><td class="num">1<\/td><td class="num">0<\/td><td class="num">80\.0 %<\/td><td class="num">420\.50 CNY<\/td><td class="num">1<\/td><td class="num">30\.00 CNY<\/td>/);
  });

  it('Then the open discrepancy is listed by type and age with its amount', () => {
    expect(html).toMatch(/<td>ledger_only<\/td><td>CNY<\/td><td class="num">1<\/td><td class="num">50\.00 CNY<\/td>/);
    expect(html).toMatch(/<td>0–1 d<\/td><td>CNY<\/td><td class="num">1<\/td><td class="num">50\.00 CNY<\/td>/);
  });

  it('Then the settlement and share totals equal the database, and the merchant name is escaped', () => {
    const batches = w.ledgerStore.db.prepare('SELECT merchant_id, gross_minor, net_minor FROM settlement_batches WHERE business_date = ? ORDER BY merchant_id').all(D) as { merchant_id: string; gross_minor: bigint; net_minor: bigint }[];
    // M1: gross 350.50, refunds 30.00; M2: 20.00 (pay_4 is held by its open discrepancy).
    expect(batches.map((b) => [b.merchant_id, b.gross_minor])).toEqual([
      ['M1', 35050n],
      ['M2', 2000n],
    ]);
    expect(html).toContain('<td class="num">350.50 CNY</td>');
    const netTotal = batches.reduce((s, b) => s + b.net_minor, 0n);
    const fmt = (minor: bigint): string => `${(minor / 100n).toLocaleString('en-US')}.${(minor % 100n).toString().padStart(2, '0')} CNY`;
    expect(html).toContain(`<td class="num">${fmt(netTotal)}</td>`);
    const shared = (w.ledgerStore.db.prepare('SELECT SUM(share_minor) AS s FROM share_lines WHERE business_date = ?').get(D) as { s: bigint }).s;
    expect(shared).toBeGreaterThan(0n);
    expect(html).toContain(`Total shared: ${fmt(shared)}`);
    expect(html).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; Co');
    expect(html).not.toContain('<script');
  });

  it('Then the trial balance, the position and the night job runs are there', () => {
    expect(html).toContain('All checks hold');
    expect(html).toContain(`data-chart="position-0"`);
    for (const job of ['clear', 'share', 'trial-balance', 'position-plan']) expect(html).toContain(`<td>${job}</td>`);
  });

  it.skipIf(!HAS_CHROMIUM)('When the page is opened in headless Chromium, Then it renders with no error and every chart has a size', async () => {
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'], headless: true });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${String(e)}`));
      page.on('requestfailed', (req) => problems.push(`requestfailed: ${req.url()}`));
      const requests: string[] = [];
      page.on('request', (req) => requests.push(req.url()));
      await page.setViewport({ width: 1280, height: 900 });
      await page.goto(pathToFileURL(outFile).href, { waitUntil: 'load' });
      const charts = await page.$$eval('svg.chart', (els) => els.map((e) => ({ name: e.getAttribute('data-chart'), ...(({ width, height }) => ({ width, height }))(e.getBoundingClientRect()) })));
      expect(charts.map((c) => c.name)).toEqual(expect.arrayContaining(['volume-by-channel', 'volume-by-product', 'discrepancies-by-type', 'discrepancies-by-age', 'position-0']));
      for (const c of charts) {
        expect(c.width, `${c.name} width`).toBeGreaterThan(0);
        expect(c.height, `${c.name} height`).toBeGreaterThan(0);
      }
      const title = await page.$eval('h1', (h) => (h as unknown as { textContent: string }).textContent);
      expect(title).toContain(D);
      const badges = await page.$$eval('[data-badge]', (els) => els.map((e) => (e as unknown as { textContent: string }).textContent));
      expect(badges).toContain('Reconciliation1 open discrepancy');
      // The escaped name is shown as text, never run.
      expect(await page.$$eval('script', (s) => s.length)).toBe(0);
      expect(await page.evaluate('document.body.innerText')).toContain('<script>alert("pwned")</script> & Co');
      expect(requests.every((u) => u.startsWith('file:'))).toBe(true);
      mkdirSync(join(import.meta.dirname, '..', 'test-results'), { recursive: true });
      const png = join(import.meta.dirname, '..', 'test-results', `report-${D}.png`);
      await page.screenshot({ path: png, fullPage: true });
      expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('Given the next day where nothing has run yet, When the report is written, Then its sections say not run and the open backlog still counts (exit 2)', async () => {
    const out = join(w.dir, 'next-day.html');
    const r = await runCli(place, '--json', 'report', '--date', D1, '--out', out, '--config', config);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ open_discrepancies: 1, sections: { recon: 'ok', settlement: 'not_run', sharing: 'not_run', trial_balance: 'not_run' } });
    const page = readFileSync(out, 'utf8');
    expect(page).toContain('Not run — Clearing has not run for 2026-11-27.');
    expect(page).toContain('Not run — Profit sharing has not run for 2026-11-27.');
    expect(page).toContain('Business day 2026-11-27 is still open; only a closed day has a trial balance.');
    expect(page).toContain('No reconciliation run for this date yet');
    // The discrepancy of the 26th is a day old on the 27th.
    expect(page).toMatch(/<td>0–1 d<\/td><td>CNY<\/td><td class="num">1<\/td><td class="num">50\.00 CNY<\/td>/);
  });

  it('Given the discrepancy resolved, When the report is written again, Then the day is clean and it exits 0', async () => {
    const open = w.ledgerStore.db.prepare("SELECT item_id FROM recon_items WHERE outcome = 'discrepancy' AND status = 'open'").all() as { item_id: bigint }[];
    expect(open).toHaveLength(1);
    const resolved = await runCli(place, '--json', 'recon', 'resolve', String(open[0]?.item_id), '--action', 'accept-ledger', '--reason', 'late file row confirmed by phone', '--by', 'ops');
    expect(resolved.code).toBe(0);
    const out = join(w.dir, 'clean.html');
    const r = await runCli(place, '--json', 'report', '--date', D, '--out', out, '--config', config);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ findings: false, open_discrepancies: 0 });
    expect(readFileSync(out, 'utf8')).toContain('no open discrepancy');
    const human = await runCli(place, 'report', '--date', D, '--out', out, '--config', config);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Wrote the daily report of ${D} to ${out}.`);
    expect(human.stdout).toContain('trial balance:  balanced');
  });

  it('Given a bad date or an unwritable --out, When the report is asked for, Then usage or report_write_failed and exit 1', async () => {
    const bad = await runCli(place, '--json', 'report', '--date', '2026-02-30', '--out', join(w.dir, 'x.html'), '--config', config);
    expect(bad.code).toBe(1);
    expect(bad.json['code']).toBe('usage');
    const blocker = join(w.dir, 'a-file');
    writeFileSync(blocker, 'not a folder');
    const unwritable = await runCli(place, '--json', 'report', '--date', D, '--out', join(blocker, 'report.html'), '--config', config);
    expect(unwritable.code).toBe(1);
    expect(unwritable.json['code']).toBe('report_write_failed');
    const badConfig = join(w.dir, 'bad.json');
    writeFileSync(badConfig, JSON.stringify({ ...SAMPLE, ...SECTIONS, positions: { accounts: 'none' } }));
    expect((await runCli(place, '--json', 'report', '--date', D, '--out', join(w.dir, 'y.html'), '--config', badConfig)).json['code']).toBe('config_invalid');
  });
});
