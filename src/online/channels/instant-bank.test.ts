// The in-process bank of the benchmark: at once, deterministic, declining by the magic amounts.

import { describe, expect, it } from 'vitest';
import { InstantBankChannel } from './instant-bank.js';

const pay = (reference: string, amountMinor: bigint) => ({ reference, product: 'quick' as const, amountMinor, currency: 'CNY' });

describe('InstantBankChannel', () => {
  it('Given a payment, When paid, Then it succeeds with a deterministic id and a 0.38% cost half-up; the same reference gives the same answer', async () => {
    const bank = new InstantBankChannel();
    const first = await bank.pay(pay('P1', 12_500n));
    expect(first).toEqual({ status: 'succeeded', channelTxnId: 'INSTANT-PAY-P1', feeMinor: 48n });
    expect(await bank.pay(pay('P1', 1n))).toEqual(first);
    expect(await new InstantBankChannel().pay(pay('P1', 12_500n))).toEqual(first);
  });

  it('Given amounts ending in 51 and 52, When paid, Then they decline insufficient_funds and card_refused', async () => {
    const bank = new InstantBankChannel({ channelId: 'ib' });
    expect(await bank.pay(pay('P1', 10_051n))).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds' });
    expect(await bank.refund({ reference: 'R1', originalReference: 'P0', amountMinor: 52n, currency: 'CNY' })).toMatchObject({
      status: 'declined',
      declineCode: 'card_refused',
    });
    expect(await bank.query('P1', 'pay')).toMatchObject({ status: 'declined' });
  });

  it('Given ..61 and ..62, When paid, Then unknown timeout (applied: query finds it) and unknown unavailable (not applied)', async () => {
    const bank = new InstantBankChannel();
    expect(await bank.pay(pay('T', 161n))).toMatchObject({ status: 'unknown', reason: 'timeout' });
    expect(await bank.query('T', 'pay')).toMatchObject({ status: 'succeeded', channelTxnId: 'INSTANT-PAY-T' });
    expect(await bank.pay(pay('U', 162n))).toMatchObject({ status: 'unknown', reason: 'unavailable' });
    expect(await bank.query('U', 'pay')).toEqual({ status: 'not_found' });
  });

  it('Given every other operation, When called, Then each succeeds at once and the balance is what came in less cost and what went out', async () => {
    const bank = new InstantBankChannel();
    await bank.pay(pay('P', 10_000n)); // +10000 - 38
    expect(await bank.refund({ reference: 'R', originalReference: 'P', amountMinor: 1_000n, currency: 'CNY' })).toMatchObject({ status: 'succeeded' });
    expect(await bank.void({ reference: 'V', originalReference: 'P', amountMinor: 10_000n, currency: 'CNY' })).toMatchObject({ status: 'succeeded' });
    expect(await bank.preauth(pay('A', 5_000n))).toMatchObject({ status: 'succeeded' });
    expect(await bank.capture({ reference: 'C', originalReference: 'A', amountMinor: 5_000n, currency: 'CNY' })).toMatchObject({ status: 'succeeded', feeMinor: 19n });
    expect(await bank.captureVoid({ reference: 'CV', originalReference: 'C', amountMinor: 5_000n, currency: 'CNY' })).toMatchObject({ status: 'succeeded' });
    expect(await bank.preauthVoid({ reference: 'AV', originalReference: 'A', amountMinor: 5_000n, currency: 'CNY' })).toMatchObject({ status: 'succeeded' });
    expect(await bank.sign({ reference: 'S', payerId: 'U1' })).toEqual({ status: 'succeeded', agreementToken: 'INSTANT-AGR-S' });
    expect(await bank.unsign('US', 'INSTANT-AGR-S')).toMatchObject({ status: 'succeeded' });
    expect(await bank.unsign('US2', 'OTHER-AGR-S')).toMatchObject({ status: 'declined', declineCode: 'agreement_not_active' });
    expect(await bank.payout({ reference: 'PO', amountMinor: 100n, currency: 'CNY', payeeName: 'M', payeeAccount: '1' })).toMatchObject({ status: 'succeeded' });
    expect(await bank.balance()).toEqual([{ currency: 'CNY', availableMinor: 10_000n - 38n - 1_000n - 10_000n + 5_000n - 19n - 5_000n - 100n }]);
  });

  it('Given any notification, When parsed, Then it is malformed: the instant bank never notifies', () => {
    expect(new InstantBankChannel().parseNotification()).toMatchObject({ ok: false, code: 'notification_malformed' });
  });

  it('Given recordsMax 2, When three payments are made, Then query forgets the oldest', async () => {
    const bank = new InstantBankChannel({ recordsMax: 2 });
    for (const r of ['A', 'B', 'C']) await bank.pay(pay(r, 100n));
    expect(await bank.query('A', 'pay')).toEqual({ status: 'not_found' });
    expect(await bank.query('C', 'pay')).toMatchObject({ status: 'succeeded' });
  });
});
