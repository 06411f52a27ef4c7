// settle share end to end on a real SQLite file: a hand-worked day (two agent levels and an ISV, tiers,
// a cap, a negative base, a partial and a full refund), its statement and entries checked figure by
// figure, a re-run that changes nothing, the next day's clawback, and the refusals.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteJobRunStore } from '../src/batch/jobs/sqlite/job-store.js';
import { migrateMerchants } from '../src/online/merchants/store.js';
import { HAND_SECTION } from '../src/batch/sharing/test-support.js';
import { runCli, type CliPlace } from './support/cli.js';
import { D, D1, ReconWorld } from './recon-match-support.js';

const SAMPLE = JSON.parse(readFileSync(new URL('../samples/settle.config.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** The sharing tests' hand-worked section, its rule for wallet payments. */
const SHARING = { ...HAND_SECTION, rules: [{ ...HAND_SECTION.rules[0], products: ['wallet'] }] };

function writeConfig(dir: string, name: string, sharing: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ ...SAMPLE, sharing }));
  return path;
}

let world: ReconWorld;
let place: CliPlace;
let config: string;

async function balance(accountId: string): Promise<bigint> {
  return world.balance(accountId);
}

beforeAll(async () => {
  world = await ReconWorld.create();
  migrateMerchants(world.ledgerStore.db);
  for (const m of ['M1', 'M2']) {
    world.ledgerStore.db.prepare("INSERT INTO merchants (merchant_id, name, status, legacy_md5, products, created_at_ms) VALUES (?, ?, 'active', 0, 'wallet', 0)").run(m, m);
  }
  // Day D: P1 1000.00 (fee 6.00, cost 3.80), P2 500.00 (3.00, 1.90) of M1; P3 20000.00 (120.00, 76.00) of M2;
  // P4 10.00 of M1 whose cost 0.10 is above its fee 0.06. Refunds: 300.00 of P1, all of P2.
  await world.payment('P1', 100000n, { merchant: 'M1', feeMinor: 600n, costMinor: 380n, status: 'refunded' });
  await world.payment('P2', 50000n, { merchant: 'M1', feeMinor: 300n, costMinor: 190n, status: 'refunded' });
  await world.payment('P3', 2000000n, { merchant: 'M2', feeMinor: 12000n, costMinor: 7600n });
  await world.payment('P4', 1000n, { merchant: 'M1', feeMinor: 6n, costMinor: 10n });
  await world.refund('F1', 'P1', 30000n, { merchant: 'M1' });
  await world.refund('F2', 'P2', 50000n, { merchant: 'M1' });
  place = { db: world.dbPath, cwd: world.dir, nowMs: () => world.nowMs };
  config = writeConfig(world.dir, 'settle.config.json', SHARING);
});

afterAll(async () => {
  await world.close();
});

describe('settle share', () => {
  it('Given day D still open, When it is shared, Then day_not_closed and nothing is written', async () => {
    const r = await runCli(place, '--json', 'share', '--date', D, '--config', config);
    expect(r.code).toBe(1);
    expect(r.json['code']).toBe('day_not_closed');
    const n = world.ledgerStore.db.prepare('SELECT COUNT(*) AS n FROM share_lines').get() as { n: bigint };
    expect(n.n).toBe(0n);
  });

  it('Given a date that is not a date, or a share of D already running, When shared, Then date_invalid or job_locked', async () => {
    expect((await runCli(place, '--json', 'share', '--date', '2026-13-01', '--config', config)).json['code']).toBe('date_invalid');
    const jobs = new SqliteJobRunStore(world.ledgerStore.db);
    const held = jobs.begin('share', '2026-11-01', 'other-host:1', world.nowMs, 60_000);
    expect(held.ok).toBe(true);
    const r = await runCli(place, '--json', 'share', '--date', '2026-11-01', '--config', config);
    expect(r.code).toBe(1);
    expect(r.json['code']).toBe('job_locked');
  });

  it('Given a rule naming an unknown merchant, When shared, Then share_rule_invalid', async () => {
    await world.ledger.cutoff(D);
    const bad = writeConfig(world.dir, 'bad.json', { ...SHARING, merchants: { ...SHARING.merchants, M404: { agent: 'A1' } } });
    const r = await runCli(place, '--json', 'share', '--date', D, '--config', bad);
    expect(r.code).toBe(1);
    expect(r.json['code']).toBe('share_rule_invalid');
    const shape = writeConfig(world.dir, 'shape.json', { ...SHARING, extra: 1 });
    expect((await runCli(place, '--json', 'share', '--date', D, '--config', shape)).json['code']).toBe('share_config_invalid');
  });

  it('Given the hand-worked day D closed, When shared, Then every share, entry and statement row is as worked by hand, and the negative base makes exit 2', async () => {
    const r = await runCli(place, '--json', 'share', '--date', D, '--config', config);
    // Without a terminal, --json progress is NDJSON on stderr (src/cli/progress); nothing else goes there.
    expect(r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{"event":"phase_end"'))).toEqual([]);
    expect(r.code).toBe(2);
    expect(r.json['payments']).toBe(4);
    expect(r.json['refunds']).toBe(2);
    // P1: A2 66, A1 22, I1 11, platform 121; P2: 33, 11, 6, 60; P3: A1 300 (1760 capped), platform 4100; P4: platform −4.
    // F1 (30% of P1): −19, −6, −3, −38; F2 (all of P2): −33, −11, −6, −60.
    expect(r.json['parties']).toEqual([
      { party_id: 'A1', party_kind: 'agent', currency: 'CNY', net_minor: '316' },
      { party_id: 'A2', party_kind: 'agent', currency: 'CNY', net_minor: '47' },
      { party_id: 'I1', party_kind: 'isv', currency: 'CNY', net_minor: '8' },
    ]);
    expect(r.json['clipped_minor']).toBe('1460');
    expect(r.json['findings']).toEqual([{ code: 'base_negative', payment_id: 'P4', base_minor: '-4' }]);
    expect(r.json['entries']).toEqual([
      { entry_id: `share.${D}.A1.CNY`, replayed: false },
      { entry_id: `share.${D}.A2.CNY`, replayed: false },
      { entry_id: `share.${D}.I1.CNY`, replayed: false },
    ]);
    expect(await balance('agent:A1:payable:CNY')).toBe(316n);
    expect(await balance('agent:A2:payable:CNY')).toBe(47n);
    expect(await balance('agent:I1:payable:CNY')).toBe(8n);
    expect(await balance('platform:share-expense:CNY')).toBe(371n);
    const a2 = readFileSync(join(world.dir, 'share', D, `share-${D}-A2.csv`), 'utf8');
    expect(a2).toBe(
      [
        'business_date,party_id,party_kind,kind,source_id,payment_id,merchant_id,currency,rule_id,base_minor,rate,share_minor,clipped_minor',
        `${D},A2,agent,payment,P1,P1,M1,CNY,R1,220,0.3,66,0`,
        `${D},A2,agent,refund,F1,P1,M1,CNY,R1,'-66,0.3,'-19,0`,
        `${D},A2,agent,payment,P2,P2,M1,CNY,R1,110,0.3,33,0`,
        `${D},A2,agent,refund,F2,P2,M1,CNY,R1,'-110,0.3,'-33,0`,
        `${D},A2,agent,total,,,,CNY,,,,47,0`,
        '',
      ].join('\r\n'),
    );
    const platform = readFileSync(join(world.dir, 'share', D, `share-${D}-platform.csv`), 'utf8').trimEnd().split('\r\n');
    // 121 − 38 + 60 − 60 + 4100 − 4 = 4179, and 1460 of it came from the cap (clipped is counted on A1's lines)
    expect(platform.at(-1)).toBe(`${D},platform,platform,total,,,,CNY,,,,4179,0`);
    const a1 = readFileSync(join(world.dir, 'share', D, `share-${D}-A1.csv`), 'utf8').trimEnd().split('\r\n');
    expect(a1.at(-1)).toBe(`${D},A1,agent,total,,,,CNY,,,,316,1460`);
  });

  it('Given day D shared, When it is shared again, Then nothing new is written or posted and the statements are byte-identical', async () => {
    const before = readFileSync(join(world.dir, 'share', D, `share-${D}-A1.csv`));
    const entries = world.ledgerStore.db.prepare('SELECT COUNT(*) AS n FROM entries').get() as { n: bigint };
    const r = await runCli(place, '--json', 'share', '--date', D, '--config', config);
    expect(r.code).toBe(2);
    expect(r.json['lines_written']).toBe(0);
    expect((r.json['entries'] as { replayed: boolean }[]).every((e) => e.replayed)).toBe(true);
    expect(world.ledgerStore.db.prepare('SELECT COUNT(*) AS n FROM entries').get()).toEqual(entries);
    expect(readFileSync(join(world.dir, 'share', D, `share-${D}-A1.csv`)).equals(before)).toBe(true);
  });

  it('Given the rest of P1 refunded on D+1 and a refund of a payment never shared, When D+1 is shared, Then the clawbacks reverse exactly, the new payments are shared, and the unshared one is a finding', async () => {
    await world.payment('P9', 5000n, { merchant: 'M1', feeMinor: 30n, costMinor: 19n, status: 'partially_refunded', businessDate: '2026-11-20' });
    await world.refund('F3', 'P1', 70000n, { merchant: 'M1' });
    await world.refund('F9', 'P9', 1000n, { merchant: 'M1' });
    // Two payments of M2 on D+1 whose ids enclose P1 and P2 of D (already shared): P0 base 0.22 → A1 40% = 8.8 → 9
    // by largest remainder, P20 base 0.44 → 17.6 → 18.
    await world.payment('P0', 10000n, { merchant: 'M2', feeMinor: 60n, costMinor: 38n, businessDate: D1 });
    await world.payment('P20', 20000n, { merchant: 'M2', feeMinor: 120n, costMinor: 76n, businessDate: D1 });
    await world.ledger.cutoff(D1);
    const r = await runCli(place, '--json', 'share', '--date', D1, '--config', config);
    expect(r.code).toBe(2);
    // F3 (the other 70% of P1): A2 −(66−19) = −47, A1 −(22−6) = −16, I1 −(11−3) = −8; A1 also +9 +18 → +11
    expect(r.json['payments']).toBe(2);
    expect(r.json['parties']).toEqual([
      { party_id: 'A1', party_kind: 'agent', currency: 'CNY', net_minor: '11' },
      { party_id: 'A2', party_kind: 'agent', currency: 'CNY', net_minor: '-47' },
      { party_id: 'I1', party_kind: 'isv', currency: 'CNY', net_minor: '-8' },
    ]);
    expect(r.json['findings']).toEqual([{ code: 'refund_unshared_payment', refund_id: 'F9', payment_id: 'P9' }]);
    expect(await balance('agent:A2:payable:CNY')).toBe(0n);
    expect(await balance('agent:I1:payable:CNY')).toBe(0n);
    expect(await balance('agent:A1:payable:CNY')).toBe(327n);
    expect(await balance('platform:share-expense:CNY')).toBe(327n);
  });
});
