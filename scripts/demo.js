#!/usr/bin/env node
// npm run demo: a small business day on the ledger, driven through the settle command line exactly as an
// operator would type it. Initialises a database in a temp folder, opens the sample accounts, posts
// entries (a payment with fees, a balance payment, virtual coins, a pre-auth hold captured in part,
// a voided hold, a same-day reversal, a refused overdraft and an idempotent replay), then prints the
// balances and the journal, verifies the chain, and closes the day.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const bin = join(root, 'bin', 'settle.js');
const dir = mkdtempSync(join(tmpdir(), 'settle-demo-'));
const db = join(dir, 'settle.db');
const env = { ...process.env, SETTLE_DB: db };
const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(Date.now());
const inAnHour = new Date(Date.now() + 3600_000).toISOString();

function settle(args, expectCode = 0) {
  process.stdout.write(`\n$ settle ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stdout.write(r.stderr);
  if (r.status !== expectCode) {
    process.stderr.write(`demo: expected exit ${expectCode} from "settle ${args.join(' ')}", got ${r.status}\n`);
    process.exit(1);
  }
  return r.stdout;
}

function entryFile(name, entry) {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(entry, null, 2));
  return path;
}

const dr = (account_id, amount, currency = 'CNY') => ({ account_id, side: 'debit', amount, currency });
const cr = (account_id, amount, currency = 'CNY') => ({ account_id, side: 'credit', amount, currency });

console.log(`settle demo — database ${db}`);
settle(['init', '--business-date', today]);

const entries = [
  ['capital', { id: 'demo-capital-1', event_type: 'capital.injection', memo: 'Reserve fund opened with paid-in capital',
    postings: [dr('bank:ICBC-RESERVE:reserve:CNY', '1000000.00'), cr('platform:capital:CNY', '1000000.00')] }],
  ['topup', { id: 'demo-topup-1', event_type: 'topup', reference: 'TOPUP-20001', memo: 'User U0001 tops up 500.00 via WeChat Pay',
    postings: [dr('channel:wechat:receivable:CNY', '500.00'), cr('user:U0001:balance:CNY', '500.00')] }],
  ['card', { id: 'demo-pay-1', event_type: 'payment.succeeded', reference: 'PAY-10001',
    memo: 'Bound-card payment of 100.00 via UnionPay; merchant fee 0.60%, channel cost 0.38%',
    postings: [dr('channel:unionpay:receivable:CNY', '99.62'), dr('platform:channel-cost:CNY', '0.38'),
      cr('merchant:M100001:payable:CNY', '99.40'), cr('platform:fee-income:CNY', '0.60')] }],
  ['balance', { id: 'demo-pay-2', event_type: 'payment.succeeded', reference: 'PAY-10002', memo: 'Balance payment of 80.00 by U0001',
    postings: [{ account_id: 'user:U0001:balance:CNY', side: 'debit', amount_minor: '8000', currency: 'CNY' },
      { account_id: 'merchant:M100001:payable:CNY', side: 'credit', amount_minor: '7952', currency: 'CNY' },
      { account_id: 'platform:fee-income:CNY', side: 'credit', amount_minor: '48', currency: 'CNY' }] }],
  ['coins', { id: 'demo-coin-issue-1', event_type: 'coin.issued', memo: '1,000 coins granted to U0001',
    postings: [dr('platform:coin-issued:COIN', '1000', 'COIN'), cr('user:U0001:coin:COIN', '1000', 'COIN')] }],
  ['coinpay', { id: 'demo-pay-3', event_type: 'payment.succeeded', reference: 'PAY-10003', memo: 'Virtual-coin payment of 300 coins',
    postings: [dr('user:U0001:coin:COIN', '300', 'COIN'), cr('merchant:M100001:payable:COIN', '300', 'COIN')] }],
  ['preauth', { id: 'demo-preauth-1', event_type: 'preauth.held', reference: 'AUTH-30001', expires_at: inAnHour,
    memo: 'Hotel pre-authorisation of 200.00 (two-phase hold)',
    postings: [dr('channel:alipay:receivable:CNY', '200.00'), cr('merchant:M100002:payable:CNY', '200.00')] }],
  ['preauth2', { id: 'demo-preauth-2', event_type: 'preauth.held', reference: 'AUTH-30002', expires_at: inAnHour,
    memo: 'A second pre-authorisation, cancelled by the guest',
    postings: [dr('channel:alipay:receivable:CNY', '50.00'), cr('merchant:M100002:payable:CNY', '50.00')] }],
];
for (const [name, entry] of entries) settle(['ledger', 'post', '--file', entryFile(name, entry)]);

settle(['ledger', 'hold', 'post', 'demo-preauth-1', '--id', 'demo-capture-1', '--amount-minor', '15000', '--memo', 'Checkout: capture 150.00']);
settle(['ledger', 'hold', 'void', 'demo-preauth-2', '--id', 'demo-preauth-2-void', '--memo', 'Guest cancelled']);
settle(['ledger', 'reverse', 'demo-pay-1', '--id', 'demo-pay-1-reversal', '--memo', 'Same-day void (撤销) of PAY-10001']);

console.log('\n# An overdraft is refused with a stable code and nothing is written (exit 1):');
settle(['--json', 'ledger', 'post', '--file', entryFile('overdraft', { id: 'demo-pay-4', event_type: 'payment.succeeded',
  postings: [dr('user:U0001:balance:CNY', '10000.00'), cr('merchant:M100001:payable:CNY', '10000.00')] })], 1);
console.log('\n# Posting the same entry again is a replay: same result, nothing new written:');
settle(['--json', 'ledger', 'post', '--file', join(dir, 'topup.json')]);

settle(['ledger', 'balance']);
settle(['ledger', 'accounts', '--owner-id', 'U0001']);
settle(['ledger', 'accounts', '--subject', '2202']);
settle(['ledger', 'journal', '--oldest-first']);
settle(['ledger', 'verify']);
settle(['day', 'cutoff']);
settle(['day', 'status']);
console.log(`\nDone. The database stays at ${db}; try: SETTLE_DB=${db} node bin/settle.js ledger journal`);
