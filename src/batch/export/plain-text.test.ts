// Naming and rendering of the plain-text-accounting export (the tools themselves referee it in
// test/ledger-export-referee.test.ts).

import { describe, expect, it } from 'vitest';
import { entryText, exportAccountNames, type ExportAccount } from './plain-text.js';

const acc = (accountId: string, ownerId: string, currency = 'CNY'): ExportAccount => ({
  accountId,
  subjectCode: '2202',
  subjectName: 'Merchant payable 应付账款-商户',
  subjectType: 'liability',
  ownerKind: 'merchant',
  ownerId,
  currency,
});

describe('Given accounts to name', () => {
  it('When two accounts of one currency would share a name, Then the second gets its account id appended', () => {
    const names = exportAccountNames([acc('m.a', 'M 1'), acc('m.b', 'M-1'), acc('m.c', 'M-1', 'USD')]);
    expect(names.get('m.a')).toBe('Liabilities:2202-MerchantPayable:Merchant:M-1');
    expect(names.get('m.b')).toBe('Liabilities:2202-MerchantPayable:Merchant:M-1:M-b');
    expect(names.get('m.c')).toBe('Liabilities:2202-MerchantPayable:Merchant:M-1');
  });
  it('When an entry is rendered, Then credits are negative amounts with the commodity, in both syntaxes', () => {
    const names = exportAccountNames([acc('m', 'M1'), { ...acc('c', 'wx'), subjectCode: '1122', subjectName: 'Channel receivable', subjectType: 'asset', ownerKind: 'channel' }]);
    const e = { entryId: 'pay.1', businessDate: '2026-11-26', eventType: 'payment.succeeded', postings: [
      { accountId: 'c', side: 'debit' as const, amountMinor: 1005n, currency: 'CNY' },
      { accountId: 'm', side: 'credit' as const, amountMinor: 1005n, currency: 'CNY' },
    ] };
    expect(entryText('ledger', e, names)).toBe('2026-11-26 * pay.1  ; payment.succeeded\n  Assets:1122-ChannelReceivable:Channel:Wx  10.05 CNY\n  Liabilities:2202-MerchantPayable:Merchant:M1  -10.05 CNY\n\n');
    expect(entryText('beancount', e, names).split('\n')[0]).toBe('2026-11-26 * "payment.succeeded" "pay.1"');
  });
});
