// The pure core of profit sharing on hand-worked figures, and every refusal of the rules.

import { describe, expect, it } from 'vitest';
import { compileSharing, type KnownNames } from './config.js';
import { clawBack, sharePayment, type DayCapState, type ShareLine, type SharePayment } from './core.js';
import { ShareError } from './errors.js';
import { HAND_SECTION } from './test-support.js';

const KNOWN: KnownNames = { isMerchant: (m) => ['M1', 'M2', 'M3'].includes(m), products: new Set(['wallet', 'quick']) };

const pay = (paymentId: string, merchantId: string, amountMinor: bigint, feeMinor: bigint, costMinor: bigint): SharePayment => ({
  paymentId,
  merchantId,
  product: 'wallet',
  currency: 'CNY',
  amountMinor,
  feeMinor,
  costMinor,
});

const shares = (lines: readonly ShareLine[]): Record<string, bigint> => Object.fromEntries(lines.map((l) => [l.partyId, l.shareMinor]));

describe('sharePayment on hand-worked figures', () => {
  const rules = compileSharing(HAND_SECTION, KNOWN);

  it('Given M1 (agent A2 under A1, ISV I1) below the first tier, When a fee_net of 2.20 is shared, Then 30% / 10% / 5% and the platform keeps 55%', () => {
    const done = sharePayment(rules, pay('P1', 'M1', 100000n, 600n, 380n), 151000n, new Map());
    expect(shares(done.lines)).toEqual({ A2: 66n, A1: 22n, I1: 11n, platform: 121n });
    expect(done.lines.every((l) => l.baseMinor === 220n)).toBe(true);
    expect(done.lines.map((l) => l.rate)).toEqual(['0.3', '0.1', '0.05', '0.55']);
  });

  it('Given a base of 1.10, When half a fen is left over twice, Then the tie goes to the earlier party (the ISV) by largest remainder', () => {
    const done = sharePayment(rules, pay('P2', 'M1', 50000n, 300n, 190n), 151000n, new Map());
    // exact: 33, 11, 5.5, 60.5 → floors 33, 11, 5, 60 (109); the one fen left goes to I1
    expect(shares(done.lines)).toEqual({ A2: 33n, A1: 11n, I1: 6n, platform: 60n });
  });

  it('Given M2 above the tier boundary with no parent agent and no ISV, When its 40% exceeds the 3.00 cap, Then A1 gets 3.00 and the platform the clipped 14.60 too', () => {
    const done = sharePayment(rules, pay('P3', 'M2', 2000000n, 12000n, 7600n), 2000000n, new Map());
    // 4400 × 40% = 1760 → capped at 300 (clipped 1460); platform 2640 + 1460 = 4100
    expect(shares(done.lines)).toEqual({ A1: 300n, platform: 4100n });
    expect(done.lines.find((l) => l.partyId === 'A1')?.clippedMinor).toBe(1460n);
    expect(done.clippedMinor).toBe(1460n);
  });

  it('Given a channel cost above the fee, When the base is negative, Then it is a finding and the platform bears it whole', () => {
    const done = sharePayment(rules, pay('P4', 'M1', 1000n, 6n, 10n), 151000n, new Map());
    expect(shares(done.lines)).toEqual({ platform: -4n });
    expect(done.finding).toEqual({ code: 'base_negative', paymentId: 'P4', baseMinor: -4n });
  });

  it('Given a cap of 0.50 a day, When two payments would each give A1 0.40, Then the second gives 0.10 and 0.30 is clipped', () => {
    const capped = compileSharing({ agents: [{ id: 'A1' }], merchants: { M3: { agent: 'A1' } }, rules: [{ id: 'D', base: 'amount', agent_levels: [{ rate: '0.4' }], cap_per_day_minor: '50' }] }, KNOWN);
    const caps: DayCapState = new Map();
    expect(shares(sharePayment(capped, pay('X1', 'M3', 100n, 0n, 0n), 0n, caps).lines)).toEqual({ A1: 40n, platform: 60n });
    const second = sharePayment(capped, pay('X2', 'M3', 100n, 0n, 0n), 0n, caps);
    expect(shares(second.lines)).toEqual({ A1: 10n, platform: 90n });
    expect(second.clippedMinor).toBe(30n);
  });

  it('Given a merchant no rule matches, When it is shared, Then the platform keeps the fee net of cost', () => {
    const onlyQuick = compileSharing({ ...HAND_SECTION, rules: [{ ...HAND_SECTION.rules[0], products: ['quick'] }] }, KNOWN);
    expect(shares(sharePayment(onlyQuick, pay('P5', 'M1', 1000n, 10n, 4n), 0n, new Map()).lines)).toEqual({ platform: 6n });
  });
});

describe('clawBack on hand-worked figures', () => {
  const rules = compileSharing(HAND_SECTION, KNOWN);
  const p1 = sharePayment(rules, pay('P1', 'M1', 100000n, 600n, 380n), 151000n, new Map()).lines;

  it('Given P1 shared 66 / 22 / 11 / 121, When 300.00 of 1000.00 is refunded, Then 19 / 6 / 3 come back and the platform gives back the rest of 66', () => {
    const back = clawBack({ refundId: 'F1', paymentId: 'P1', merchantId: 'M1', currency: 'CNY', amountMinor: 30000n, refundedBeforeMinor: 0n, paymentAmountMinor: 100000n }, p1);
    expect(shares(back)).toEqual({ A2: -19n, A1: -6n, I1: -3n, platform: -38n });
    expect(back.every((l) => l.baseMinor === -66n && l.sourceKind === 'refund')).toBe(true);
  });

  it('Given 300.00 already refunded, When the other 700.00 is refunded, Then the totals clawed back equal what was shared, exactly', () => {
    const back = clawBack({ refundId: 'F3', paymentId: 'P1', merchantId: 'M1', currency: 'CNY', amountMinor: 70000n, refundedBeforeMinor: 30000n, paymentAmountMinor: 100000n }, p1);
    expect(shares(back)).toEqual({ A2: -47n, A1: -16n, I1: -8n, platform: -83n });
  });
});

describe('compileSharing refuses', () => {
  const refused = (section: unknown): ShareError => {
    try {
      compileSharing(section, KNOWN);
    } catch (e) {
      if (e instanceof ShareError) return e;
      throw e;
    }
    throw new Error('not refused');
  };
  const rule = HAND_SECTION.rules[0];

  it.each([
    ['rates summing above 100%', { ...HAND_SECTION, rules: [{ ...rule, isv: { rate: '0.61' } }] }, /above 100%/],
    ['an unknown merchant in merchants', { ...HAND_SECTION, merchants: { M9: { agent: 'A1' } } }, /M9 is not a known merchant/],
    ['an unknown merchant in a rule', { ...HAND_SECTION, rules: [{ ...rule, merchants: ['M9'] }] }, /unknown merchant M9/],
    ['an unknown agent', { ...HAND_SECTION, merchants: { M1: { agent: 'A9' } } }, /unknown agent A9/],
    ['an unknown parent', { ...HAND_SECTION, agents: [{ id: 'A1', parent: 'A0' }] }, /unknown parent agent A0/],
    ['an unknown product', { ...HAND_SECTION, rules: [{ ...rule, products: ['teleport'] }] }, /unknown product teleport/],
    ['overlapping tiers', { ...HAND_SECTION, rules: [{ ...rule, agent_levels: [{ tiers: [{ volume_from_minor: '0', volume_to_minor: '500', rate: '0.1' }, { volume_from_minor: '400', rate: '0.2' }] }] }] }, /tiers overlap/],
    ['a cycle of agents', { ...HAND_SECTION, agents: [{ id: 'A1', parent: 'A2' }, { id: 'A2', parent: 'A1' }] }, /own ancestor/],
    ['a rate above 1', { ...HAND_SECTION, rules: [{ ...rule, isv: { rate: '1.5' } }] }, /above 1/],
  ])('Given %s, Then share_rule_invalid', (_what, section, message) => {
    const e = refused(section);
    expect(e.code).toBe('share_rule_invalid');
    expect(e.message).toMatch(message);
  });

  it('Given an unknown key or a float rate, Then share_config_invalid', () => {
    expect(refused({ ...HAND_SECTION, bonus: true }).code).toBe('share_config_invalid');
    expect(refused({ ...HAND_SECTION, rules: [{ ...rule, isv: { rate: 0.05 } }] }).code).toBe('share_config_invalid');
  });
});
