import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { riskRules, riskSchema } from './config.js';
import { assess, type RiskFacts, type RiskSubject } from './engine.js';
import { codeMatches, issueCode, phoneHint } from './otp.js';
import { fileSms } from './sms.js';
import { VelocityWindows } from './velocity.js';

const rules = (raw: unknown) => riskRules(riskSchema.parse(raw));
const subject = (amountMinor: bigint, keys: RiskSubject['keys'] = {}): RiskSubject => ({ merchantId: 'M1', product: 'quick', currency: 'CNY', amountMinor, keys });
const facts = (over: Partial<RiskFacts> = {}): RiskFacts => ({
  velocity: () => ({ count: 0, amountMinor: 0n }),
  merchantToday: () => 0n,
  payerHasPaid: true,
  ...over,
});

describe('Given the risk rule engine', () => {
  it('When no rule fires, Then the decision is allow with no hits', () => {
    expect(assess(rules({}), subject(1_000_000n), facts())).toEqual({ decision: 'allow', hits: [] });
  });

  it('When several rules fire, Then the strictest wins and every hit is kept, strictest first', () => {
    const r = rules({
      amounts: [{ currency: 'CNY', challenge_over_minor: '100' }],
      velocity: [{ dimension: 'payer', window_s: 60, count_max: 1, action: 'block' }],
      first_time_payer: { action: 'challenge' },
    });
    const out = assess(r, subject(500n, { payer: 'U1' }), facts({ velocity: () => ({ count: 1, amountMinor: 100n }), payerHasPaid: false }));
    expect(out.decision).toBe('block');
    expect(out.hits.map((h) => `${h.rule}:${h.verdict}`)).toEqual(['velocity.payer:block', 'amount:challenge', 'first_time_payer:challenge']);
  });

  it('When a product has its own threshold, Then it is used instead of the general one', () => {
    const r = rules({ amounts: [{ currency: 'CNY', challenge_over_minor: '100' }, { product: 'quick', currency: 'CNY', challenge_over_minor: '10000' }] });
    expect(assess(r, subject(5_000n), facts()).decision).toBe('allow');
    expect(assess({ ...r }, { ...subject(5_000n), product: 'netbank' }, facts()).decision).toBe('challenge');
  });

  it('When the velocity amount in the window would pass its limit, Then the rule fires; in another currency it does not count', () => {
    const r = rules({ velocity: [{ dimension: 'card', window_s: 3600, amount_max_minor: '10000', action: 'challenge' }] });
    expect(assess(r, subject(4_000n, { card: 'c1' }), facts({ velocity: () => ({ count: 2, amountMinor: 6_000n }) })).decision).toBe('allow');
    expect(assess(r, subject(4_001n, { card: 'c1' }), facts({ velocity: () => ({ count: 2, amountMinor: 6_000n }) })).decision).toBe('challenge');
    const w = new VelocityWindows(3_600_000);
    w.record('card', 'c1', 1_000, 6_000n, 'CNY');
    w.record('card', 'c1', 2_000, 9_000n, 'USD');
    expect(w.count('card', 'c1', 3_600_000, 3_000, 'CNY')).toEqual({ count: 2, amountMinor: 6_000n });
    expect(w.count('card', 'c1', 1_500, 3_000, 'CNY')).toEqual({ count: 1, amountMinor: 0n });
  });

  it('When the payer has paid before, or the amount is small, Then the first-time rule stays quiet', () => {
    const r = rules({ first_time_payer: { over_minor: '1000', action: 'block' } });
    expect(assess(r, subject(5_000n, { payer: 'U1' }), facts({ payerHasPaid: true })).decision).toBe('allow');
    expect(assess(r, subject(1_000n, { payer: 'U1' }), facts({ payerHasPaid: false })).decision).toBe('allow');
    expect(assess(r, subject(1_001n, { payer: 'U1' }), facts({ payerHasPaid: false })).decision).toBe('block');
  });

  it('When a merchant has its own daily limit, Then it overrides the default one', () => {
    const r = rules({ merchant_daily: [{ merchant: '*', amount_max_minor: '1000' }, { merchant: 'M1', amount_max_minor: '100000', action: 'challenge' }] });
    expect(assess(r, subject(50_000n), facts({ merchantToday: () => 40_000n })).decision).toBe('allow');
    expect(assess(r, subject(60_001n), facts({ merchantToday: () => 40_000n })).decision).toBe('challenge');
  });

  it('When a payer is on the allow list, Then velocity and challenges are waived but the amount block and the merchant day still block', () => {
    const r = rules({
      amounts: [{ currency: 'CNY', challenge_over_minor: '100', block_over_minor: '1000' }],
      velocity: [{ dimension: 'ip', window_s: 60, count_max: 1, action: 'block' }],
      merchant_daily: [{ merchant: '*', amount_max_minor: '5000' }],
      allow_list: { ip: ['10.0.0.1'] },
    });
    const busy = facts({ velocity: () => ({ count: 9, amountMinor: 0n }) });
    expect(assess(r, subject(500n, { ip: '10.0.0.1' }), busy)).toMatchObject({ decision: 'allow', hits: [{ rule: 'allow_list' }] });
    expect(assess(r, subject(1_001n, { ip: '10.0.0.1' }), busy)).toMatchObject({ decision: 'block', hits: [{ rule: 'amount', verdict: 'block' }, { rule: 'allow_list' }] });
    expect(assess(r, subject(900n, { ip: '10.0.0.1' }), facts({ merchantToday: () => 4_500n })).decision).toBe('block');
  });

  it('When a config velocity rule has neither limit, Then the schema refuses it', () => {
    expect(riskSchema.safeParse({ velocity: [{ dimension: 'ip', window_s: 60, action: 'block' }] }).success).toBe(false);
  });
});

describe('Given one-time codes and the file SMS adapter', () => {
  it('When a code is issued, Then only its salted hash matches it, and the phone hint hides the middle', () => {
    const issued = issueCode('pay_1', 6);
    expect(issued.code).toMatch(/^[0-9]{6}$/);
    expect(codeMatches('pay_1', issued.salt, issued.codeHash, issued.code)).toBe(true);
    expect(codeMatches('pay_2', issued.salt, issued.codeHash, issued.code)).toBe(false);
    expect(codeMatches('pay_1', issued.salt, issued.codeHash, issued.code === '000000' ? '000001' : '000000')).toBe(false);
    expect(phoneHint('+8613812345678')).toBe('+86****5678');
    expect(phoneHint('123')).toBe('****');
  });

  it('When the file adapter sends, Then one NDJSON line per message is appended', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'settle-sms-'));
    try {
      const port = fileSms(join(dir, 'sms.ndjson'));
      await port.send({ to: '13800000000', text: 'code 1', reference: 'pay_1' });
      await port.send({ to: '13800000001', text: 'code 2', reference: 'pay_2' });
      const lines = readFileSync(join(dir, 'sms.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => [l['to'], l['reference']])).toEqual([
        ['13800000000', 'pay_1'],
        ['13800000001', 'pay_2'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
