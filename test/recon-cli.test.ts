// End-to-end tests of settle recon import | match | run | list | show | resolve | report, in-process
// through main(), on a database made by settle init, with orders as the online core writes them and a
// WeChat ALL bill in its real format (UTF-8 BOM, CRLF, backtick cells, the summary block with totals).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './support/cli.js';
import { D, D1, ReconWorld } from './recon-match-support.js';

let dir: string;
let db: string;
const now = Date.parse('2026-11-27T01:00:00Z');

const settle = (...args: string[]): Promise<CliRun> => runCli({ db, cwd: dir, nowMs: () => now, env: { USER: 'ops-user' } }, ...args);

interface BillRow {
  readonly order: string;
  readonly amountMinor: bigint;
  /** Fee in 1/100000 yuan (five decimals). */
  readonly feeUnits?: bigint;
  readonly refundNo?: string;
  readonly status?: 'SUCCESS' | 'REFUND' | 'REVOKED';
  readonly day?: string;
}

const yuan = (fen: bigint): string => `${fen / 100n}.${(fen % 100n).toString().padStart(2, '0')}`;
const fee5 = (units: bigint): string => `${units / 100000n}.${(units % 100000n).toString().padStart(5, '0')}`;

/** A WeChat Pay trade bill, ALL layout, as WeChat writes it. */
function wechatBill(rows: readonly BillRow[], day: string = D): string {
  const header =
    '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
  let settled = 0n;
  let refunded = 0n;
  let fees = 0n;
  const body = rows.map((r, i) => {
    const refund = r.status === 'REFUND';
    const amount = yuan(r.amountMinor);
    if (refund) refunded += r.amountMinor;
    else settled += r.amountMinor;
    fees += r.feeUnits ?? 0n;
    const cells = [
      `${r.day ?? day} 1${i % 10}:00:00`,
      'wx81be3101902f7cb2',
      '1900012345',
      '0',
      '',
      `4200${r.order}`,
      r.order,
      'ofyak5qR',
      'NATIVE',
      r.status ?? 'SUCCESS',
      'OTHERS',
      'CNY',
      refund ? '0.00' : amount,
      '0.00',
      refund ? `5030${r.refundNo ?? ''}` : '0',
      refund ? (r.refundNo ?? '') : '0',
      refund ? amount : '0.00',
      '0.00',
      refund ? 'ORIGINAL' : '',
      refund ? 'SUCCESS' : '',
      'goods',
      '',
      fee5(r.feeUnits ?? 0n),
      '0.60%',
      refund ? '0.00' : amount,
      refund ? amount : '0.00',
      '',
    ];
    return cells.map((c) => `\`${c}`).join(',');
  });
  const summaryHeader = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';
  const summary = [String(rows.length), yuan(settled), yuan(refunded), '0.00', fee5(fees), yuan(settled), yuan(refunded)].map((c) => `\`${c}`).join(',');
  return `\uFEFF${[header, ...body, summaryHeader, summary].join('\r\n')}\r\n`;
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const DAY_ROWS: readonly BillRow[] = [
  { order: 'pay_1', amountMinor: 1000n, feeUnits: 6000n },
  { order: 'pay_2', amountMinor: 2001n, feeUnits: 12000n },
  { order: 'pay_1', amountMinor: 300n, refundNo: 're_1', status: 'REFUND' },
  { order: 'pay_unknown', amountMinor: 4242n },
];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'settle-recon-cli-'));
  db = join(dir, 'settle.db');
  expect((await settle('--json', 'init', '--business-date', D)).code).toBe(0);
  const w = ReconWorld.attach(db);
  try {
    await w.payment('pay_1', 1000n, { costMinor: 6n, feeMinor: 6n });
    await w.payment('pay_2', 2000n, { costMinor: 12n });
    await w.payment('pay_3', 500n);
    await w.refund('re_1', 'pay_1', 300n);
  } finally {
    await w.close();
  }
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function balance(accountId: string): Promise<bigint> {
  const r = await settle('--json', 'ledger', 'balance', accountId);
  return BigInt(((r.json['account'] ?? r.json) as { balance_minor: string }).balance_minor);
}

describe('settle recon import and match', () => {
  it('Given a WeChat bill, When imported twice, Then version 1 and then unchanged', async () => {
    const bill = file('bill.csv', wechatBill(DAY_ROWS));
    const first = await settle('--json', 'recon', 'import', '--channel', 'wallet', '--date', D, bill);
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({ ok: true, status: 'imported', version: 1, rows: 4, payments: 3, refunds: 1, totals_check: 'ok', payment_amount_minor: '7243' });
    const again = await settle('--json', 'recon', 'import', '--channel', 'wallet', '--date', D, bill);
    expect(again.json).toMatchObject({ ok: true, status: 'unchanged', version: 1 });
  });

  it('Given an imported bill, When matched, Then exit 2 with the amount_mismatch open and the unmatched items in suspense; human output shows progress', async () => {
    await settle('recon', 'import', '--channel', 'wallet', '--date', D, file('bill.csv', wechatBill(DAY_ROWS)));
    const r = await settle('--json', 'recon', 'match', '--channel', 'wallet', '--date', D);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ ok: true, file_version: 1, counts: { matched: 2, suspense: 2, discrepancies: 1, by_type: { amount_mismatch: 1 } }, open_discrepancies: 1, changes: null });
    const human = await settle('recon', 'match', '--channel', 'wallet', '--date', D);
    expect(human.code).toBe(2);
    expect(human.stderr).toContain('recon match wallet 2026-11-26: match load: done'); // progress lines (src/cli/progress)
    expect(human.stderr).toContain('lines=4 records=4 pool=0');
    expect(human.stdout).toContain('2 matched, 2 in suspense, 1 discrepancies (amount_mismatch 1)');
  });

  it('Given bad input, Then date_invalid, channel_not_configured, statement_not_imported and file_wrong_channel_or_date, each exit 1', async () => {
    const bill = file('bill.csv', wechatBill(DAY_ROWS));
    expect((await settle('--json', 'recon', 'import', '--channel', 'wallet', '--date', '2026-13-01', bill)).json).toMatchObject({ ok: false, code: 'date_invalid' });
    expect((await settle('--json', 'recon', 'match', '--channel', 'nope', '--date', D)).json).toMatchObject({ ok: false, code: 'channel_not_configured' });
    const missing = await settle('--json', 'recon', 'match', '--channel', 'wallet', '--date', D1);
    expect(missing.code).toBe(1);
    expect(missing.json).toMatchObject({ ok: false, code: 'statement_not_imported' });
    const wrongDay = await settle('--json', 'recon', 'import', '--channel', 'wallet', '--date', D1, bill);
    expect(wrongDay.code).toBe(1);
    expect(wrongDay.json).toMatchObject({ ok: false, code: 'file_wrong_channel_or_date' });
    expect((await settle('--json', 'recon', 'import', '--channel', 'wallet', '--date', D, '--format', 'nope', bill)).json).toMatchObject({ ok: false, code: 'format_unknown' });
    const totals = await settle('--json', 'recon', 'import', '--channel', 'wallet', '--date', D, file('bad.csv', wechatBill(DAY_ROWS).replace('`4,`', '`5,`')));
    expect(totals.json).toMatchObject({ ok: false, code: 'file_totals_mismatch' });
    expect((await settle('--json', 'recon', 'list', '--status', 'suspense')).json).toMatchObject({ ok: true, items: [] });
  });
});

describe('settle recon list, show, resolve, report', () => {
  beforeEach(async () => {
    await settle('recon', 'run', '--channel', 'wallet', '--date', D, '--file', file('bill.csv', wechatBill(DAY_ROWS)));
  });

  it('Given the open amount_mismatch, When listed, shown and resolved by accept-channel, Then the entry moves 0.01 to the merchant and a second resolve is refused', async () => {
    const list = await settle('--json', 'recon', 'list', '--status', 'open', '--type', 'amount_mismatch', '--date', D, '--channel', 'wallet');
    const items = list.json['items'] as { item_id: number; type: string; ledger_side: { record_id: string } }[];
    expect(items).toHaveLength(1);
    const id = String(items[0]?.item_id);
    expect(items[0]).toMatchObject({ type: 'amount_mismatch', ledger_side: { record_id: 'pay_2' } });

    const shown = await settle('--json', 'recon', 'show', id);
    expect(shown.json).toMatchObject({ ok: true, item: { status: 'open', channel_side: { amount_minor: '2001', fee: '0.12000' }, ledger_side: { amount_minor: '2000' } } });
    expect((await settle('recon', 'show', id)).stdout).toContain('amount_mismatch');

    const payable = await balance('merchant:M100001:payable:CNY');
    const resolved = await settle('--json', 'recon', 'resolve', id, '--action', 'accept-channel', '--reason', 'the channel settled 20.01');
    expect(resolved.code).toBe(0);
    expect(resolved.json).toMatchObject({ ok: true, entry_ids: [`recon.${id}`], item: { status: 'resolved', resolution: { action: 'accept-channel', by: 'ops-user' } } });
    expect((await balance('merchant:M100001:payable:CNY')) - payable).toBe(1n);
    const twice = await settle('--json', 'recon', 'resolve', id, '--action', 'accept-ledger', '--reason', 'again');
    expect(twice.code).toBe(1);
    expect(twice.json).toMatchObject({ ok: false, code: 'discrepancy_already_resolved' });
    expect((await settle('--json', 'recon', 'list', '--status', 'resolved')).json['items']).toHaveLength(1);
    expect((await settle('--json', 'ledger', 'verify')).code).toBe(0);
  });

  it('Given bad resolve flags, Then approval_required, resolve_action_invalid, reason_required and discrepancy_not_found', async () => {
    const id = String(((await settle('--json', 'recon', 'list')).json['items'] as { item_id: number }[])[0]?.item_id);
    expect((await settle('--json', 'recon', 'resolve', id, '--action', 'write-off', '--reason', 'small')).json).toMatchObject({ code: 'approval_required' });
    expect((await settle('--json', 'recon', 'resolve', id, '--action', 'shrug', '--reason', 'x')).json).toMatchObject({ code: 'resolve_action_invalid' });
    expect((await settle('--json', 'recon', 'resolve', id, '--action', 'accept-ledger', '--reason', ' ')).json).toMatchObject({ code: 'reason_required' });
    expect((await settle('--json', 'recon', 'show', '99999')).json).toMatchObject({ code: 'discrepancy_not_found' });
    expect((await settle('--json', 'recon', 'resolve', 'abc', '--action', 'accept-ledger', '--reason', 'x')).json).toMatchObject({ code: 'discrepancy_not_found' });
  });

  it('Given the day, When the report is written, Then CSV and JSON are there and the exit is 2 while a discrepancy is open, 0 after', async () => {
    const out = join(dir, 'reports');
    const r = await settle('--json', 'recon', 'report', '--date', D, '--out', out);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ ok: true, items: 3, open_discrepancies: 1 });
    expect(readFileSync(join(out, `recon-${D}.csv`), 'utf8').split('\r\n').filter(Boolean)).toHaveLength(4);
    const json = JSON.parse(readFileSync(join(out, `recon-${D}.json`), 'utf8')) as { runs: { channel: string; counts: { matched: number } }[] };
    expect(json.runs).toEqual([expect.objectContaining({ channel: 'wallet', counts: expect.objectContaining({ matched: 2 }) })]);

    const id = String(((await settle('--json', 'recon', 'list')).json['items'] as { item_id: number }[])[0]?.item_id);
    expect((await settle('recon', 'resolve', id, '--action', 'accept-ledger', '--reason', '=cmd|calc', '--by', 'bob')).code).toBe(0);
    const after = await settle('--json', 'recon', 'report', '--date', D, '--channel', 'wallet', '--out', out);
    expect(after.code).toBe(0);
    expect(readFileSync(join(out, `recon-${D}-wallet.csv`), 'utf8')).toContain(",'=cmd|calc,");
    expect((await settle('--json', 'recon', 'report', '--date', D1, '--out', out)).json).toMatchObject({ ok: false, code: 'statement_not_imported' });
    writeFileSync(join(dir, 'blocked'), 'a file, not a folder');
    expect((await settle('--json', 'recon', 'report', '--date', D, '--out', join(dir, 'blocked'))).json).toMatchObject({ ok: false, code: 'report_unwritable' });
  });

  it('Given the next day\u2019s bill without the waiting items, When run, Then they become channel_only and ledger_only', async () => {
    const w = ReconWorld.attach(db);
    try {
      await w.payment('pay_4', 100n, { businessDate: D1 });
    } finally {
      await w.close();
    }
    const next = await settle('--json', 'recon', 'run', '--channel', 'wallet', '--date', D1, '--file', file('bill2.csv', wechatBill([{ order: 'pay_4', amountMinor: 100n }], D1)));
    expect(next.code).toBe(2);
    expect(next.json).toMatchObject({ ok: true, fetched: null, import: { status: 'imported' }, match: { counts: { matched: 1, discrepancies: 2, by_type: { channel_only: 1, ledger_only: 1 } } } });
    const open = (await settle('--json', 'recon', 'list', '--date', D1)).json['items'] as { type: string }[];
    expect(open.map((i) => i.type).sort()).toEqual(['channel_only', 'ledger_only']);
    expect((await settle('recon', 'list', '--date', D1)).stdout).toContain('ledger_only');
  });
});

describe('settle recon run from the channel\u2019s configured source', () => {
  it('Given the bill in recon-inbox/<yyyyMMdd>/wallet/, When run without --file, Then it is fetched, kept, imported and matched; run again changes nothing', async () => {
    const inbox = join(dir, 'recon-inbox', '20261126', 'wallet');
    mkdirSync(inbox, { recursive: true });
    writeFileSync(join(inbox, '1900012345_tradebill_ALL_20261126.csv'), wechatBill(DAY_ROWS));
    const r = await settle('--json', 'recon', 'run', '--channel', 'wallet', '--date', D);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ ok: true, fetched: { name: '1900012345_tradebill_ALL_20261126.csv', new_file: true }, import: { status: 'imported', version: 1 }, match: { open_discrepancies: 1 } });
    expect(existsSync(join(dir, 'recon-files'))).toBe(true);
    const again = await settle('--json', 'recon', 'run', '--channel', 'wallet', '--date', D);
    expect(again.json).toMatchObject({ fetched: { new_file: false }, import: { status: 'unchanged' }, match: { changes: { new_discrepancies: 0, cleared: 0 } } });
  });
});
