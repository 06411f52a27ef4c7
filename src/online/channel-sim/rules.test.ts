// The channel's rules as pure functions: refunds never give back more than was paid or its cost.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { businessDateOf, decideRefund } from './rules.js';
import type { SimTxn } from './store.js';

const payment = (amountMinor: bigint, feeMinor: bigint): SimTxn => ({
  txnNo: 1,
  channelId: 'bank',
  operation: 'pay',
  reference: 'P',
  originalOperation: null,
  originalReference: null,
  originalChannelTxnId: null,
  channelTxnId: 'BANK1',
  product: 'quick',
  amountMinor,
  currency: 'CNY',
  status: 'succeeded',
  declineCode: null,
  declineMessage: null,
  plannedDeclineCode: null,
  feeMinor,
  feeRate: '0.0038',
  payerId: null,
  payeeName: null,
  payeeAccount: null,
  agreementToken: null,
  description: null,
  notifyUrl: null,
  createdAtMs: 0,
  completedAtMs: 0,
  businessDate: '2026-11-26',
});

describe('decideRefund', () => {
  it('Given any payment split into any refunds, When all are refunded, Then the cost given back sums to exactly the cost, and one unit more is refund_exceeds_payment', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 12n }), fc.array(fc.bigInt({ min: 1n, max: 1000n }), { minLength: 1, maxLength: 8 }), (amount, weights) => {
        const fee = (amount * 38n + 5_000n) / 10_000n;
        const original = payment(amount, fee);
        const total = weights.reduce((a, b) => a + b, 0n);
        const parts = weights.map((w) => (amount * w) / total);
        parts[parts.length - 1] = amount - parts.slice(0, -1).reduce((a, b) => a + b, 0n);
        const refunds: SimTxn[] = [];
        for (const part of parts.filter((p) => p > 0n)) {
          const d = decideRefund(original, refunds, part, 'CNY');
          expect(d.accept).toBe(true);
          if (d.accept) refunds.push({ ...original, operation: 'refund', amountMinor: part, feeMinor: d.feeMinor, reference: `R${refunds.length}` });
        }
        expect(refunds.reduce((a, r) => a + r.feeMinor, 0n)).toBe(fee);
        expect(decideRefund(original, refunds, 1n, 'CNY')).toMatchObject({ accept: false, declineCode: 'refund_exceeds_payment' });
      }),
    );
  });

  it('Given a refund in another currency or of a declined payment, When decided, Then currency_mismatch and original_not_succeeded', () => {
    expect(decideRefund(payment(100n, 0n), [], 10n, 'USD')).toMatchObject({ declineCode: 'currency_mismatch' });
    expect(decideRefund({ ...payment(100n, 0n), status: 'declined' }, [], 10n, 'CNY')).toMatchObject({ declineCode: 'original_not_succeeded' });
    expect(decideRefund(undefined, [], 10n, 'CNY')).toMatchObject({ declineCode: 'original_not_found' });
  });
});

describe('businessDateOf', () => {
  it('Given 16:00 UTC, When dated in Asia/Shanghai, Then it is already the next day', () => {
    expect(businessDateOf(Date.parse('2026-11-26T15:59:59Z'), 'Asia/Shanghai')).toBe('2026-11-26');
    expect(businessDateOf(Date.parse('2026-11-26T16:00:00Z'), 'Asia/Shanghai')).toBe('2026-11-27');
  });
});
