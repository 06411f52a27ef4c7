#!/usr/bin/env node
// npm run demo: a whole business day of the payment company, on this machine, in a temp folder.
//
//  1. `settle init` with a demo config (the sample chart plus recon sources, clearing, sharing, positions
//     and trial balance sections), fund the reserve and grant coins, `settle merchant add` ×3;
//  2. start `settle channel-sim` (its bills folder served over HTTP) and `settle serve` on free loopback
//     ports, wait for /readyz;
//  3. drive the day through the signed API (src/cli/demo/day-driver.ts): every product, refunds, voids,
//     pre-auths and captures, payouts, declines, an asynchronous wallet, a risk challenge, a replay;
//  4. stop the daemon gracefully, `settle day cutoff`, let the channels publish their bills with a few
//     injected discrepancies (a dropped row, a changed amount, a row moved across midnight);
//  5. the night (runNight): `settle run night-chain` — reconciliation per channel, clearing, statements,
//     sharing, trial balance, position plan and the HTML report;
//  6. print what happened. The children are always stopped, also on failure. Exit 0.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { clearTimeout, setTimeout } from 'node:timers';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { driveDay } from '../dist/cli/demo/day-driver.js';
import { main } from '../dist/cli/main.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const bin = join(root, 'bin', 'settle.js');
const dir = mkdtempSync(join(tmpdir(), 'settle-demo-'));
const db = join(dir, 'settle.db');
const configPath = join(dir, 'demo.config.json');
const simDb = join(dir, 'channel-sim.db');
const billsDir = join(dir, 'bills');
const env = { ...process.env, SETTLE_DB: db, SETTLE_CONFIG: configPath, SETTLE_MASTER_KEY: randomBytes(32).toString('hex') };
const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(Date.now());
const yyyymmdd = today.replaceAll('-', '');
const SEED = process.env.DEMO_SEED ?? 'settle-demo-1'; // another seed, another (reproducible) day
const PAYMENTS = Number(process.env.DEMO_PAYMENTS ?? 300);
const CHALLENGE_OVER_MINOR = 1_000_000n; // 10,000.00 CNY: above it a payment needs the SMS code
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;
const children = [];
const startedAtMs = Date.now();

class DemoFailure extends Error {}

/** Where the time goes: [phase, seconds since start] at the end of each phase. */
const marks = [];
const mark = (phase) => marks.push([phase, (Date.now() - startedAtMs) / 1000]);

// ---------------------------------------------------------------------------------------------------
// Running settle

/**
 * Runs `settle --json ARGS` in this process (the same main() bin/settle.js calls, without paying a Node
 * start per command) and returns the exit code and the parsed JSON; a code outside `accept` fails the demo.
 */
async function settleJson(args, accept = [0]) {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'settle', '--json', ...args], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env,
    cwd: dir,
    clock: Date.now,
  });
  if (!accept.includes(code)) throw new DemoFailure(`"settle ${args.join(' ')}" exited ${code} (expected ${accept.join(' or ')})\n${stdout}${stderr.slice(-4000)}`);
  let json = {};
  try {
    json = JSON.parse(stdout);
  } catch {
    json = { text: stdout };
  }
  return { code, json };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function startChild(name, args) {
  const log = join(dir, `${name}.log`);
  const child = spawn(process.execPath, [bin, ...args], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks = [];
  const keep = (c) => {
    chunks.push(c);
    if (chunks.length > 2000) chunks.shift(); // a bounded tail of the child's output
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('exit', () => writeFileSync(log, Buffer.concat(chunks)));
  const entry = { name, child, log, exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))) };
  children.push(entry);
  return entry;
}

async function waitReady(url, entry) {
  const until = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (entry.child.exitCode !== null) throw new DemoFailure(`${entry.name} exited early (see ${entry.log})`);
    try {
      const res = await globalThis.fetch(url, { signal: globalThis.AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new DemoFailure(`${entry.name} was not ready at ${url} within ${READY_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM (graceful: in-flight requests finish), then SIGKILL if it does not stop in time. */
async function stopChild(entry) {
  if (entry.child.exitCode !== null || entry.child.signalCode !== null) return entry.exited;
  entry.child.kill('SIGTERM');
  const timer = setTimeout(() => entry.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  const result = await entry.exited;
  clearTimeout(timer);
  return result;
}

// ---------------------------------------------------------------------------------------------------
// The demo config: the sample's chart and online section, plus the batch sections for this folder.

function demoConfig(filesHttpPort) {
  const sample = JSON.parse(readFileSync(join(root, 'samples', 'settle.config.json'), 'utf8'));
  const merchants = ['M100001', 'M100002', 'M100003'];
  return {
    ...sample,
    online: {
      ...sample.online,
      risk: { amounts: [{ currency: 'CNY', challenge_over_minor: String(CHALLENGE_OVER_MINOR) }], otp: { sms_file: 'sms.ndjson' } },
    },
    recon: {
      channels: [
        { channel: 'bank', format: 'unionpay-zm', currency: 'CNY', suspense_days: 1,
          source: { type: 'local', dir: 'bills', path_template: '{yyyyMMdd}/bank/INN{yyMMdd}88ZM_898310012345678' } },
        { channel: 'wallet', format: 'wechat-trade', currency: 'CNY', suspense_days: 1,
          source: { type: 'http', url_template: `http://127.0.0.1:${filesHttpPort}/`, path_template: '{yyyyMMdd}/wallet/1900012345_tradebill_ALL_{yyyyMMdd}.csv', timeout_ms: 10000 } },
      ],
      archive_dir: 'recon-files',
    },
    clearing: {
      ...sample.clearing,
      default_cycle: 'T+0',
      merchants: Object.fromEntries(merchants.map((m, i) => [m, { cycle: 'T+0', payout: { name: `Demo shop ${i + 1}`, account: `95588000${i + 1}`, bank: 'ICBKCNBJ' } }])),
    },
    sharing: {
      agents: [{ id: 'A001' }, { id: 'A002', parent: 'A001' }],
      isvs: [{ id: 'ISV01' }],
      merchants: { M100001: { agent: 'A002', isv: 'ISV01' }, M100002: { agent: 'A001' } },
      rules: [{ id: 'standard', base: 'fee_net', agent_levels: [{ rate: '0.30' }, { rate: '0.10' }], isv: { rate: '0.05' } }],
    },
    positions: {
      transfer_unit_minor: '1000000',
      horizon_days: 7,
      history_weeks: 4,
      accounts: [
        { account_id: 'channel:bank:receivable:CNY', buffer: { fixed_minor: '5000000' }, alert_below_minor: '100000', funded_by: 'bank:ICBC-RESERVE:reserve:CNY' },
        { account_id: 'channel:wallet:receivable:CNY', buffer: { fixed_minor: '10000000' }, funded_by: 'bank:ICBC-RESERVE:reserve:CNY' },
        { account_id: 'bank:ICBC-RESERVE:reserve:CNY', buffer: { fixed_minor: '50000000' }, alert_below_minor: '20000000' },
      ],
    },
    trial_balance: sample.trial_balance,
  };
}

// ---------------------------------------------------------------------------------------------------
// The night.

/**
 * The night: `settle run night-chain` (cutoff → each channel's file fetched and reconciled → clear →
 * statements → share → trial balance → position plan → report), steps in this process. Its step table is
 * printed; the figures below come from re-asking the commands, which are idempotent per date — clearing
 * and sharing again change nothing, and the demo shows that.
 */
async function runNight(date) {
  const chain = await settleJson(['run', 'night-chain', '--date', date, '--in-process'], [0, 2]);
  section(`The night chain (settle run night-chain --date ${date}): exit ${chain.code}${chain.code === 2 ? ', done with findings' : ''}`);
  for (const s of chain.json.steps ?? []) console.log(`  ${pad(s.step, 15)}${pad(s.state, 14)}${s.summary}`);
  const night = { recon: {}, outDir: chain.json.out_dir };
  for (const s of chain.json.steps ?? []) if (s.step.startsWith('recon:')) night.recon[s.step.slice(6)] = s;
  night.clear = (await settleJson(['clear', '--date', date, '--out', join(night.outDir, 'settlements')], [0, 2])).json;
  night.share = (await settleJson(['share', '--date', date, '--out', join(night.outDir, 'shares')], [0, 2])).json;
  night.trialBalance = await settleJson(['trial-balance', '--date', date], [0, 2]);
  night.positions = await settleJson(['position', 'plan', '--date', date], [0, 2]);
  night.report = join(night.outDir, `report-${date}.html`);
  return night;
}

// ---------------------------------------------------------------------------------------------------
// Printing

const yuan = (minor) => {
  const m = BigInt(minor ?? 0);
  const neg = m < 0n;
  const a = neg ? -m : m;
  return `${neg ? '-' : ''}${(a / 100n).toLocaleString('en-US')}.${(a % 100n).toString().padStart(2, '0')}`;
};
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
const section = (title) => console.log(`\n== ${title} ${'='.repeat(Math.max(0, 72 - title.length))}`);

function printDay(summary) {
  section(`The day ${today}: ${summary.payments.total} payments through the signed API`);
  const statuses = [...new Set(Object.values(summary.payments.byProduct).flatMap((r) => Object.keys(r)))].sort();
  console.log(`${pad('product', 14)}${statuses.map((s) => lpad(s, 20)).join('')}`);
  for (const [product, row] of Object.entries(summary.payments.byProduct).sort()) {
    const unit = product === 'virtual_coin' ? ' coin' : '';
    const cell = (s) => (row[s] ? `${row[s].count} / ${product === 'virtual_coin' ? row[s].amountMinor : yuan(row[s].amountMinor)}${unit}` : '');
    console.log(`${pad(product, 14)}${statuses.map((s) => lpad(cell(s), 20)).join('')}`);
  }
  console.log(`(count / amount in CNY)`);
  console.log(`declines: ${Object.entries(summary.declines).map(([c, n]) => `${c} ×${n}`).join(', ') || 'none'}`);
  console.log(`agreements signed: ${summary.agreements}; top-ups: ${summary.topups.count} (${yuan(summary.topups.amountMinor)})`);
  console.log(`voids: ${summary.voids}; refunds: ${summary.refunds.full} full + ${summary.refunds.partial} partial (${yuan(summary.refunds.amountMinor)})`);
  console.log(`pre-auths: ${summary.preauths.authorized} (${summary.preauths.captured} captured in part for ${yuan(summary.preauths.captureAmountMinor)}, ${summary.preauths.voided} voided)`);
  console.log(`payouts: ${summary.payouts.succeeded}/${summary.payouts.count} succeeded (${yuan(summary.payouts.amountMinor)})`);
  console.log(`risk challenge: ${summary.challenge.paymentId} verified with the SMS code → ${summary.challenge.status}`);
  console.log(`idempotent replay of ${summary.replay.paymentId}: ${summary.replay.replayed ? 'answered from the stored response' : 'NOT replayed'}`);
}

async function printNight(date, bills, night) {
  section('Bills published by the channels, with injected trouble');
  for (const c of bills.channels ?? []) {
    console.log(`${pad(c.channel, 8)} ${pad(c.format, 14)} ${c.payments} payments, ${c.refunds} refunds, ${c.voids} voids; injected: ${(c.troubles ?? []).map((t) => `${t.kind} (${t.channel_txn_id ?? t.merchant_order_no ?? ''})`).join(', ') || 'none'}`);
  }
  section('Reconciliation (对账): every line matched, held in suspense (存疑) or classified');
  for (const [channel, step] of Object.entries(night.recon)) console.log(`${pad(channel, 7)} ${step.state}: ${step.summary}`);
  const listed = [
    ...((await settleJson(['recon', 'list', '--date', date])).json.items ?? []),
    ...((await settleJson(['recon', 'list', '--date', date, '--status', 'suspense'])).json.items ?? []),
  ];
  console.log(`${pad('channel', 8)}${pad('outcome', 18)}${pad('kind', 8)}${pad('channel txn', 24)}${lpad('channel', 12)}${lpad('ours', 12)}  note`);
  for (const d of listed) {
    const ch = d.channel_side ?? {};
    const ours = d.ledger_side ?? {};
    const outcome = d.outcome === 'suspense' ? 'suspense' : d.type;
    const note = d.outcome === 'suspense' ? `waits until ${d.waits_until} for the other side (${ch.order_no ? `channel has ${ch.order_no}` : `we have ${ours.record_id}`})` : (d.differences ?? []).join(', ');
    console.log(`${pad(d.channel, 8)}${pad(outcome, 18)}${pad(d.kind, 8)}${pad(ch.channel_txn_id ?? ours.channel_txn_id ?? '', 24)}${lpad(ch.amount_minor ? yuan(ch.amount_minor) : '—', 12)}${lpad(ours.amount_minor ? yuan(ours.amount_minor) : '—', 12)}  ${note}`);
  }
  section('Clearing and settlement (清分结算)');
  const clear = night.clear;
  console.log(`${pad('batch', 30)}${lpad('gross', 13)}${lpad('refunds', 11)}${lpad('fees', 10)}${lpad('adjust', 9)}${lpad('net', 13)}${lpad('items', 7)}  status`);
  for (const b of clear.batches ?? []) {
    const money = (v) => (b.currency === 'CNY' ? yuan(v) : `${v} ${b.currency}`);
    console.log(`${pad(b.batch_id, 30)}${lpad(money(b.gross_minor), 13)}${lpad(money(b.refunds_minor), 11)}${lpad(money(b.fees_minor), 10)}${lpad(money(b.adjustments_minor), 9)}${lpad(money(b.net_minor), 13)}${lpad(b.items, 7)}  ${b.status}`);
  }
  console.log(`held back (unreconciled): ${JSON.stringify(clear.held_items ?? 0)}; payout files: ${(clear.files ?? []).map((f) => f.replace(`${dir}/`, '')).join(', ')}`);
  console.log(`clearing asked again for ${date}: ${clear.entries_posted ?? 0} new ledger entries, ${clear.batches_written ?? 0} new batches — a date is settled once`);
  section('Profit sharing (分润)');
  for (const p of night.share.parties ?? []) console.log(`  ${pad(p.party_id, 9)}${pad(p.party_kind, 7)}${lpad(yuan(p.net_minor), 10)} ${p.currency}`);
  console.log(`  (${night.share.payments} payments and ${night.share.refunds} refunds shared; the platform keeps the rest of the fee net of channel cost)`);
  section('Trial balance (试算平衡)');
  const tb = night.trialBalance.json;
  for (const t of tb.totals ?? []) console.log(`  ${pad(t.currency, 5)} debits ${lpad(t.debits_minor, 12)} = credits ${lpad(t.credits_minor, 12)} (minor units)`);
  console.log(`  verdict: ${night.trialBalance.code === 0 ? 'BALANCED — every check holds' : `FINDINGS (exit 2): ${(tb.findings ?? []).slice(0, 10).map((f) => JSON.stringify(f)).join('; ')}`}`);
  section('Position plan (头寸/备付金)');
  const plan = night.positions.json;
  for (const a of plan.accounts ?? []) {
    console.log(`  ${pad(a.account_id, 32)} balance ${lpad(yuan(a.balance_minor), 14)}  buffer ${lpad(yuan(a.buffer_minor), 14)}  ${a.below_buffer_on ? `below it on ${a.below_buffer_on}` : 'stays above it'}${a.alert ? '  ALERT' : ''}`);
  }
  for (const t of plan.transfers ?? []) console.log(`  transfer ${yuan(t.amount_minor)} ${t.currency} from ${t.from} to ${t.to} by ${t.by_date}`);
  for (const sf of plan.shortfalls ?? []) console.log(`  shortfall ${yuan(sf.shortfall_minor)} at ${sf.account_id} by ${sf.by_date}: ${sf.reason}`);
  if ((plan.transfers ?? []).length === 0) console.log('  no transfer needed');
}

// ---------------------------------------------------------------------------------------------------

async function demo() {
  console.log(`settle demo — a whole business day in ${dir}`);
  const [simPort, daemonPort, filesHttpPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(configPath, `${JSON.stringify(demoConfig(filesHttpPort), null, 2)}\n`);
  mkdirSync(billsDir, { recursive: true });

  await settleJson(['init', '--business-date', today]);
  const funding = join(dir, 'funding.json');
  writeFileSync(funding, JSON.stringify([
    { id: 'demo-capital-1', event_type: 'capital.injection', memo: 'Reserve fund opened with paid-in capital',
      postings: [{ account_id: 'bank:ICBC-RESERVE:reserve:CNY', side: 'debit', amount: '1000000.00', currency: 'CNY' },
        { account_id: 'platform:capital:CNY', side: 'credit', amount: '1000000.00', currency: 'CNY' }] },
    { id: 'demo-coins-1', event_type: 'coin.issued', memo: 'Coins granted to U0001',
      postings: [{ account_id: 'platform:coin-issued:COIN', side: 'debit', amount_minor: '100000', currency: 'COIN' },
        { account_id: 'user:U0001:coin:COIN', side: 'credit', amount_minor: '100000', currency: 'COIN' }] },
  ]));
  await settleJson(['ledger', 'post', '--file', funding]);
  const merchants = [];
  for (const name of ['Tea House', 'Book Shop', 'Game Studio']) {
    const m = (await settleJson(['merchant', 'add', name])).json;
    merchants.push({ merchantId: m.merchant_id, keyId: m.key_id, keySecret: m.key_secret });
  }
  console.log(`initialised ${db}; merchants ${merchants.map((m) => m.merchantId).join(', ')}`);

  const sim = startChild('channel-sim', ['--db', simDb, 'channel-sim', '--port', String(simPort), '--seed', SEED, '--bills-dir', billsDir, '--files-http-port', String(filesHttpPort)]);
  const simUrl = `http://127.0.0.1:${simPort}`;
  await waitReady(`${simUrl}/healthz`, sim);
  const daemon = startChild('serve', ['serve', '--port', String(daemonPort), '--channel-sim-url', simUrl, '--quiet']);
  const baseUrl = `http://127.0.0.1:${daemonPort}`;
  await waitReady(`${baseUrl}/readyz`, daemon);
  mark('setup (init, merchants, simulator, daemon)');
  console.log(`channel simulator on ${simUrl} (bills over HTTP on port ${filesHttpPort}), daemon on ${baseUrl}`);

  const summary = await driveDay({
    baseUrl,
    merchants,
    seed: SEED,
    paymentsCount: PAYMENTS,
    smsFile: join(dir, 'sms.ndjson'),
    challengeOverMinor: CHALLENGE_OVER_MINOR,
    coinPayerId: 'U0001',
    onProgress: (line) => console.log(`  … ${line} (${((Date.now() - startedAtMs) / 1000).toFixed(1)} s)`),
  });
  mark('the day through the API');
  const stopped = await stopChild(daemon);
  if (stopped.code !== 0) throw new DemoFailure(`the daemon did not stop cleanly (${JSON.stringify(stopped)}; see ${daemon.log})`);
  console.log('daemon stopped gracefully (in-flight requests finished)');
  printDay(summary);

  section('Cutoff (日切) and the channels\u2019 bills');
  const cutoff = (await settleJson(['day', 'cutoff'])).json;
  console.log(`closed ${cutoff.closed_date ?? cutoff.business_date ?? today}; open now: ${cutoff.opened_date ?? cutoff.next_date ?? '(next day)'}`);
  const bills = (await settleJson(['--db', simDb, 'channel-sim', 'bills', '--date', today, '--out', join(billsDir, yyyymmdd), '--inject', 'drop=1,amount=1,midnight=1', '--seed', SEED])).json;

  mark('cutoff and bills');
  const night = await runNight(today);
  mark('the night');
  await printNight(today, bills, night);

  section('Where things are');
  console.log(`database:        ${db}`);
  console.log(`config:          ${configPath}`);
  console.log(`bills:           ${join(billsDir, yyyymmdd)}`);
  console.log(`night files:     ${night.outDir} (payout CSV + pain.001, shares, position plan)`);
  console.log(`statements:      ${join(dir, 'statements')}`);
  console.log(`report:          ${night.report}  — open it in a browser`);
  console.log(`logs:            ${children.map((c) => c.log).join(', ')}`);
  let previous = 0;
  console.log(`time:            ${marks.map(([phase, at]) => { const d = at - previous; previous = at; return `${phase} ${d.toFixed(1)} s`; }).join('; ')}`);
  console.log(`\nDone in ${((Date.now() - startedAtMs) / 1000).toFixed(1)} s. Try: SETTLE_DB=${db} node bin/settle.js ledger balance`);
}

let exitCode = 0;
try {
  await demo();
} catch (e) {
  exitCode = 1;
  process.stderr.write(`\ndemo failed: ${e instanceof DemoFailure ? e.message : (e?.stack ?? String(e))}\nfiles kept in ${dir}\n`);
} finally {
  await Promise.all(children.map(stopChild));
}
process.exit(exitCode);
