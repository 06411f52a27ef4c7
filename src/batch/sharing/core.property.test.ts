// Invariants of sharing: a payment's lines sum to its base (no minor unit lost or made), every clawback
// sequence that refunds the whole payment takes back exactly what each party got, and rules whose
// rates sum above 100% never compile.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSharing, type KnownNames } from './config.js';
import { clawBack, sharePayment, type DayCapState, type ShareLine } from './core.js';
import { ShareError } from './errors.js';

const KNOWN: KnownNames = { isMerchant: () => true, products: new Set(['wallet']) };

const rate = fc.integer({ min: 0, max: 333_333 }).map((ppm) => (ppm / 1_000_000).toFixed(6));

const world = fc.record({
  levels: fc.array(rate, { minLength: 0, maxLength: 2 }),
  isv: fc.option(rate, { nil: undefined }),
  base: fc.constantFrom('fee_net', 'fee', 'amount'),
  capPayment: fc.option(fc.bigInt({ min: 0n, max: 5000n }).map(String), { nil: undefined }),
  capDay: fc.option(fc.bigInt({ min: 0n, max: 20000n }).map(String), { nil: undefined }),
});

function rulesOf(w: { levels: string[]; isv: string | undefined; base: string; capPayment: string | undefined; capDay: string | undefined }): ReturnType<typeof compileSharing> {
  return compileSharing(
    {
      agents: [{ id: 'A1' }, { id: 'A2', parent: 'A1' }],
      isvs: [{ id: 'I1' }],
      merchants: { M1: { agent: 'A2', isv: 'I1' } },
      rules: [
        {
          id: 'R',
          base: w.base,
          agent_levels: w.levels.map((r) => ({ rate: r })),
          ...(w.isv === undefined ? {} : { isv: { rate: w.isv } }),
          ...(w.capPayment === undefined ? {} : { cap_per_payment_minor: w.capPayment }),
          ...(w.capDay === undefined ? {} : { cap_per_day_minor: w.capDay }),
        },
      ],
    },
    KNOWN,
  );
}

const payment = fc
  .record({ amount: fc.bigInt({ min: 1n, max: 10n ** 12n }), feePpm: fc.bigInt({ min: 0n, max: 20_000n }), costPpm: fc.bigInt({ min: 0n, max: 20_000n }) })
  .map(({ amount, feePpm, costPpm }) => ({ amountMinor: amount, feeMinor: (amount * feePpm) / 1_000_000n, costMinor: (amount * costPpm) / 1_000_000n }));

const sum = (lines: readonly ShareLine[]): bigint => lines.reduce((s, l) => s + l.shareMinor, 0n);

describe('sharing invariants', () => {
  it('Given any rules, caps and payments, When each is shared, Then its lines sum exactly to its base', () => {
    fc.assert(
      fc.property(world, fc.array(payment, { minLength: 1, maxLength: 20 }), (w, payments) => {
        const rules = rulesOf(w);
        const caps: DayCapState = new Map();
        payments.forEach((p, i) => {
          const { lines } = sharePayment(rules, { paymentId: `P${i}`, merchantId: 'M1', product: 'wallet', currency: 'CNY', ...p }, 0n, caps);
          const base = lines[0]?.baseMinor ?? 0n;
          expect(sum(lines)).toBe(base);
          for (const l of lines) if (l.partyId !== 'platform') expect(l.shareMinor >= 0n).toBe(true);
        });
      }),
    );
  });

  it('Given a payment refunded in any number of parts, When every part is clawed back, Then each party returns exactly its share and each refund\u2019s lines sum to its base', () => {
    fc.assert(
      fc.property(world, payment, fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 6 }), (w, p, weights) => {
        const rules = rulesOf(w);
        const shared = sharePayment(rules, { paymentId: 'P', merchantId: 'M1', product: 'wallet', currency: 'CNY', ...p }, 0n, new Map()).lines;
        const total = weights.reduce((a, b) => a + b, 0);
        // Split the amount into refunds by the weights (the last takes the rest).
        let before = 0n;
        const back = new Map<string, bigint>();
        weights.forEach((wt, i) => {
          const amount = i === weights.length - 1 ? p.amountMinor - before : (p.amountMinor * BigInt(wt)) / BigInt(total);
          if (amount <= 0n) return;
          const lines = clawBack({ refundId: `F${i}`, paymentId: 'P', merchantId: 'M1', currency: 'CNY', amountMinor: amount, refundedBeforeMinor: before, paymentAmountMinor: p.amountMinor }, shared);
          expect(sum(lines)).toBe(lines[0]?.baseMinor ?? 0n);
          for (const l of lines) {
            if (l.partyId !== 'platform') expect(l.shareMinor <= 0n).toBe(true);
            back.set(l.partyId, (back.get(l.partyId) ?? 0n) + l.shareMinor);
          }
          before += amount;
        });
        for (const l of shared) expect(back.get(l.partyId) ?? 0n).toBe(-l.shareMinor);
      }),
    );
  });

  it('Given rates drawn up to 60% each, When their sum is above 100%, Then the rule is refused, else accepted', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 600_000 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 600_000 }), (levels, isv) => {
        const section = {
          agents: [{ id: 'A1' }],
          isvs: [{ id: 'I1' }],
          rules: [{ id: 'R', base: 'fee', agent_levels: levels.map((ppm) => ({ rate: (ppm / 1e6).toFixed(6) })), isv: { rate: (isv / 1e6).toFixed(6) } }],
        };
        const over = levels.reduce((a, b) => a + b, 0) + isv > 1_000_000;
        let code: string | null = null;
        try {
          compileSharing(section, KNOWN);
        } catch (e) {
          code = e instanceof ShareError ? e.code : 'other';
        }
        expect(code).toBe(over ? 'share_rule_invalid' : null);
      }),
    );
  });
});
