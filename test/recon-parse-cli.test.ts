// settle recon parse, end to end through main() in-process: the NDJSON contract of --json (one object per
// transaction, then the summary), the human summary, the codes and exit status of refused files, and
// where a generic CSV's mapping comes from (--mapping, or the config's channel).

import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'formats');
const ROOT = join(import.meta.dirname, '..');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-recon-parse-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout as one parsed JSON value per line (with --json). */
  readonly records: Record<string, unknown>[];
}

/** Like test/support/cli.ts, but --json here prints NDJSON (many objects), so each line is parsed. */
async function settle(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'settle', '--db', join(dir, 'unused.db'), ...args], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: {},
    cwd: dir,
    clock: () => Date.parse('2026-11-26T02:00:00Z'),
  });
  const records = args.includes('--json') ? stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  return { code, stdout, stderr, records };
}

const fixture = (name: string): string => join(FIXTURES, name);

describe('settle recon parse --json', () => {
  it('Given the WeChat ALL sample, When parsed with --json, Then one object per transaction in the documented key order and the summary last', async () => {
    const r = await settle('--json', 'recon', 'parse', '--format', 'wechat-trade', fixture('wechat_tradebill_ALL_20210128.csv'));
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      '{"kind":"payment","channel_txn_id":"4200000925202101284997714292","merchant_order_no":"S20210128170702357723","merchant_refund_no":null,"amount_minor":"1","currency":"CNY","status":"succeeded","occurred_at":"2021-01-28T17:07:11+08:00","line":2,"fee":"0.00000"}',
      '{"kind":"payment","channel_txn_id":"4200000910202101282955148400","merchant_order_no":"S20210128153505214586","merchant_refund_no":null,"amount_minor":"1","currency":"CNY","status":"succeeded","occurred_at":"2021-01-28T15:35:18+08:00","line":3,"fee":"0.00000"}',
      '{"kind":"payment","channel_txn_id":"4200000926202101281412639609","merchant_order_no":"S20210128165824499930","merchant_refund_no":null,"amount_minor":"1","currency":"CNY","status":"succeeded","occurred_at":"2021-01-28T16:59:46+08:00","line":4,"fee":"0.00000"}',
      '{"kind":"refund","channel_txn_id":"50300807092021012805990201735","merchant_order_no":"S20210128170702357723","merchant_refund_no":"R20210128181309277501","amount_minor":"1","currency":"CNY","status":"succeeded","occurred_at":"2021-01-28T18:13:10+08:00","line":5,"fee":"0.00000"}',
      '{"summary":{"rows":4,"payments":3,"refunds":1,"payment_amount_minor":"3","refund_amount_minor":"1","totals_check":"ok"}}',
    ]);
  });

  it('Given a file whose totals disagree, When parsed with --json, Then the lines read so far are followed by {"ok":false,"code":"file_totals_mismatch"} and exit 1', async () => {
    const r = await settle('--json', 'recon', 'parse', '--format', 'wechat-trade', fixture('wechat_tradebill_REFUND_wxjava.csv'));
    expect(r.code).toBe(1);
    expect(r.records).toHaveLength(2);
    expect(r.records[0]).toMatchObject({ kind: 'refund', channel_txn_id: 'xxxx' });
    expect(r.records[1]).toMatchObject({ ok: false, code: 'file_totals_mismatch' });
    expect(r.records.some((x) => 'summary' in x)).toBe(false);
  });

  it('Given the UnionPay sample under another name, When --settlement-date is given, Then the year is taken from it', async () => {
    const renamed = join(dir, 'zm.txt');
    copyFileSync(fixture('INN15090588ZM_802310048993424.SYNTHETIC'), renamed);
    const refused = await settle('--json', 'recon', 'parse', '--format', 'unionpay-zm', 'zm.txt');
    expect(refused.code).toBe(1);
    expect(refused.records[0]).toMatchObject({ ok: false, code: 'settlement_date_missing' });
    const r = await settle('--json', 'recon', 'parse', '--format', 'unionpay-zm', '--settlement-date', '2015-09-05', 'zm.txt');
    expect(r.code).toBe(0);
    expect(r.records.map((x) => x['occurred_at'])).toEqual(['2015-09-05T10:30:15+08:00', '2015-09-05T14:30:01+08:00', undefined]);
    expect(r.records[2]).toEqual({ summary: { rows: 2, payments: 1, refunds: 1, payment_amount_minor: '100', refund_amount_minor: '100', totals_check: 'absent' } });
  });

  it('Given an unknown format or a missing file, When parsed, Then format_unknown / file_unreadable and exit 1', async () => {
    const unknown = await settle('--json', 'recon', 'parse', '--format', 'mt940', fixture('wechat_tradebill_ALL_20210128.csv'));
    expect(unknown.code).toBe(1);
    expect(unknown.records).toEqual([expect.objectContaining({ ok: false, code: 'format_unknown' })]);
    const missing = await settle('--json', 'recon', 'parse', '--format', 'wechat-trade', 'nope.csv');
    expect(missing.code).toBe(1);
    expect(missing.records).toEqual([expect.objectContaining({ ok: false, code: 'file_unreadable' })]);
  });
});

describe('settle recon parse (for people)', () => {
  it('Given the Alipay zip, When parsed without --json, Then a summary with the totals check and the first lines as a table', async () => {
    const r = await settle('recon', 'parse', '--format', 'alipay-trade', fixture('20880211096256330156_20190916.csv.zip'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('3 transaction(s)');
    expect(r.stdout).toMatch(/payments +2 +0\.02 CNY/);
    expect(r.stdout).toMatch(/refunds +1 +0\.01 CNY/);
    expect(r.stdout).toContain('totals    ok');
    expect(r.stdout).toContain('2019091622001458860515315453:re_test_1568602607356');
    expect(r.stdout).toContain('re_test_1568602607356');
  });

  it('Given --head 1, When parsed, Then one line is shown and the rest counted', async () => {
    const r = await settle('recon', 'parse', '--format', 'wechat-trade', '--head', '1', fixture('wechat_tradebill_ALL_20210128.csv'));
    expect(r.stdout).toContain('(3 more; --json prints them all)');
  });

  it('Given a refused file, When parsed without --json, Then the code, the message and the next step go to stderr, exit 1', async () => {
    const r = await settle('recon', 'parse', '--format', 'wechat-fundflow', fixture('wechat_fundflowbill_BASIC_20210201.csv'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('settle: file_totals_mismatch:');
    expect(r.stderr).toContain('next: ');
  });

  it('Given --help, Then every format and the --json contract are listed', async () => {
    const r = await settle('recon', 'parse', '--help');
    expect(r.code).toBe(0);
    for (const f of ['wechat-trade', 'wechat-fundflow', 'alipay-trade', 'alipay-account', 'unionpay-zm', 'generic-csv']) expect(r.stdout).toContain(f);
    expect(r.stdout).toContain('"totals_check"');
  });
});

describe('settle recon parse --format generic-csv', () => {
  const mapping = {
    columns: { channel_txn_id: 'balance_transaction_id', amount: 'gross', occurred_at: 'created_utc', currency: 'currency', fee: 'fee', kind: 'reporting_category' },
    amount_unit: 'major',
    kind_values: { payment: ['charge'], refund: ['refund'] },
    utc_offset: '+00:00',
  };
  const stripe = fixture('stripe_payout_reconciliation.itemized.5.SYNTHETIC.csv');

  it('Given --mapping FILE, When parsed, Then the mapped lines come out', async () => {
    writeFileSync(join(dir, 'mapping.json'), JSON.stringify(mapping));
    const r = await settle('--json', 'recon', 'parse', '--format', 'generic-csv', '--mapping', 'mapping.json', stripe);
    expect(r.code).toBe(0);
    expect(r.records.map((x) => [x['kind'], x['amount_minor'], x['currency'], x['fee']])).toEqual([
      ['payment', '10000', 'USD', '3.20'],
      ['refund', '2500', 'USD', '0.00'],
      [undefined, undefined, undefined, undefined],
    ]);
  });

  it('Given --channel with a config whose channel maps the CSV, When parsed, Then the format, currency and mapping come from the config', async () => {
    const config = JSON.parse(readFileSync(join(ROOT, 'samples', 'settle.config.json'), 'utf8')) as Record<string, unknown>;
    config['recon'] = { channels: [{ channel: 'stripe', format: 'generic-csv', currency: 'USD', mapping }] };
    writeFileSync(join(dir, 'settle.config.json'), JSON.stringify(config));
    const r = await settle('--json', 'recon', 'parse', '--config', 'settle.config.json', '--channel', 'stripe', stripe);
    expect(r.code).toBe(0);
    expect(r.records.at(-1)).toEqual({ summary: { rows: 2, payments: 1, refunds: 1, payment_amount_minor: '10000', refund_amount_minor: '2500', totals_check: 'absent' } });
  });

  it('Given a mapping file that is not JSON or breaks the schema, When parsed, Then mapping_invalid', async () => {
    writeFileSync(join(dir, 'bad.json'), '{ not json');
    const notJson = await settle('--json', 'recon', 'parse', '--format', 'generic-csv', '--mapping', 'bad.json', stripe);
    expect(notJson.records).toEqual([expect.objectContaining({ ok: false, code: 'mapping_invalid' })]);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...mapping, amount_unit: 'cents' }));
    const badSchema = await settle('--json', 'recon', 'parse', '--format', 'generic-csv', '--mapping', 'bad.json', stripe);
    expect(badSchema.code).toBe(1);
    expect(badSchema.records).toEqual([expect.objectContaining({ ok: false, code: 'mapping_invalid' })]);
  });
});
