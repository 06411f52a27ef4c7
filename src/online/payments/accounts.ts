// Which ledger account each role of a movement uses. Ids follow the sample chart's pattern
// `<owner kind>:<owner id>:<purpose>:<currency>`, and accounts the online core owns are opened on first use.

import { ACCOUNT_FLAGS } from '../../ledger/index.js';
import type { OnlineTx } from '../port.js';

export interface AccountRef {
  readonly accountId: string;
  readonly subjectCode: string;
  readonly ownerKind: string;
  readonly ownerId: string;
  readonly currency: string;
  readonly flags: number;
}

const ref = (ownerKind: string, ownerId: string, purpose: string, subjectCode: string, currency: string, flags = 0): AccountRef => ({
  accountId: `${ownerKind}:${ownerId}:${purpose}:${currency}`,
  subjectCode,
  ownerKind,
  ownerId,
  currency,
  flags,
});

export const accounts = {
  merchantPayable: (merchantId: string, currency: string) => ref('merchant', merchantId, 'payable', '2202', currency),
  channelReceivable: (channelId: string, currency: string) => ref('channel', channelId, 'receivable', '1122', currency),
  channelCost: (currency: string) => ({ ...ref('platform', 'platform', 'channel-cost', '6401', currency), accountId: `platform:channel-cost:${currency}` }),
  feeIncome: (currency: string) => ({ ...ref('platform', 'platform', 'fee-income', '6001', currency), accountId: `platform:fee-income:${currency}` }),
  reserveBank: (currency: string) => ref('bank', 'ICBC-RESERVE', 'reserve', '1002', currency, ACCOUNT_FLAGS.credits_must_not_exceed_debits),
  userBalance: (payerId: string, currency: string) => ref('user', payerId, 'balance', '2241', currency, ACCOUNT_FLAGS.debits_must_not_exceed_credits),
  userCoin: (payerId: string) => ref('user', payerId, 'coin', '2242', 'COIN', ACCOUNT_FLAGS.debits_must_not_exceed_credits),
  userCredit: (payerId: string, currency: string) => ref('user', payerId, 'credit', '1131', currency),
};

/** Opens the accounts if missing and returns their ids, in order. */
export function ensure<const R extends readonly AccountRef[]>(tx: OnlineTx, ...refs: R): { [K in keyof R]: string } {
  return refs.map((r) => {
    tx.ensureAccount(r);
    return r.accountId;
  }) as { [K in keyof R]: string };
}
