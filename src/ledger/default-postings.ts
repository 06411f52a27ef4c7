// The default postings of every money movement, in one table (DESIGN.md, "Default postings").
// Services name the event and the amounts; the table decides which accounts are debited and credited.
// Example, CNY, merchant fee 0.60%, channel cost 0.38%, a payment of 100.00 via channel C for merchant M:
//   Dr channel C receivable 99.62, Dr channel cost 0.38 / Cr merchant M payable 99.40, Cr fee income 0.60.

import type { Side } from './chart.js';
import type { PostingInput } from './entry.js';
import { divideRounded, type RoundingMode } from './money.js';

/** The accounts a movement touches, by role; the caller maps each role to an account id. */
export type PostingRole =
  | 'channel_receivable'
  | 'channel_cost'
  | 'merchant_payable'
  | 'fee_income'
  | 'reserve_bank'
  | 'agent_payable'
  | 'share_expense'
  | 'user_balance'
  | 'user_credit';

/** Amounts a line can carry: the gross amount, the fee we charge, the channel's cost, or a difference. */
export type AmountTerm = 'gross' | 'fee' | 'cost' | 'gross_less_fee' | 'gross_less_cost';

export interface PostingLine {
  readonly side: Side;
  readonly role: PostingRole;
  readonly amount: AmountTerm;
}

export interface PostingTemplate {
  readonly description: string;
  /** A pending (two-phase) entry: pre-authorisations. */
  readonly pending: boolean;
  readonly lines: readonly PostingLine[];
}

const dr = (role: PostingRole, amount: AmountTerm): PostingLine => ({ side: 'debit', role, amount });
const cr = (role: PostingRole, amount: AmountTerm): PostingLine => ({ side: 'credit', role, amount });

export const DEFAULT_POSTINGS = {
  'payment.succeeded': {
    description: 'payment via channel C for merchant M',
    pending: false,
    lines: [dr('channel_receivable', 'gross_less_cost'), dr('channel_cost', 'cost'), cr('merchant_payable', 'gross_less_fee'), cr('fee_income', 'fee')],
  },
  'refund.succeeded': {
    description: 'refund (fee and cost returned as the refund fee policy decides; pass 0 to keep them)',
    pending: false,
    lines: [dr('merchant_payable', 'gross_less_fee'), dr('fee_income', 'fee'), cr('channel_receivable', 'gross_less_cost'), cr('channel_cost', 'cost')],
  },
  'channel.settled': {
    description: 'channel C pays what it collected into our reserve bank account',
    pending: false,
    lines: [dr('reserve_bank', 'gross'), cr('channel_receivable', 'gross')],
  },
  'merchant.settled': {
    description: 'merchant M is paid out (代付) from the reserve bank account or a payout channel position',
    pending: false,
    lines: [dr('merchant_payable', 'gross'), cr('reserve_bank', 'gross')],
  },
  'share.accrued': {
    description: 'profit share to agent A out of fee income (map fee_income to a share expense account to book it as expense)',
    pending: false,
    lines: [dr('share_expense', 'gross'), cr('agent_payable', 'gross')],
  },
  'balance.payment': {
    description: 'payment from user U’s balance (账户支付), fully local',
    pending: false,
    lines: [dr('user_balance', 'gross'), cr('merchant_payable', 'gross_less_fee'), cr('fee_income', 'fee')],
  },
  'balance.topup': {
    description: 'top-up of user U’s balance through a channel',
    pending: false,
    lines: [dr('channel_receivable', 'gross'), cr('user_balance', 'gross')],
  },
  'credit.payment': {
    description: 'payment on user U’s credit line (信用支付)',
    pending: false,
    lines: [dr('user_credit', 'gross'), cr('merchant_payable', 'gross_less_fee'), cr('fee_income', 'fee')],
  },
  'preauth.held': {
    description: 'pre-authorisation: reserved, not yet moved',
    pending: true,
    lines: [dr('channel_receivable', 'gross'), cr('merchant_payable', 'gross')],
  },
} as const satisfies Record<string, PostingTemplate>;

export type PostingEvent = keyof typeof DEFAULT_POSTINGS;

export interface MovementAmounts {
  readonly grossMinor: bigint;
  readonly feeMinor?: bigint;
  readonly costMinor?: bigint;
}

function termValue(term: AmountTerm, a: MovementAmounts): bigint {
  const fee = a.feeMinor ?? 0n;
  const cost = a.costMinor ?? 0n;
  switch (term) {
    case 'gross':
      return a.grossMinor;
    case 'fee':
      return fee;
    case 'cost':
      return cost;
    case 'gross_less_fee':
      return a.grossMinor - fee;
    case 'gross_less_cost':
      return a.grossMinor - cost;
  }
}

/**
 * The postings of one movement by the table. Lines of zero are left out (an entry has no zero
 * postings); a fee or cost above the gross amount is refused as a RangeError, since it is a caller bug.
 */
export function postingsFor(
  event: PostingEvent,
  amounts: MovementAmounts,
  accounts: Partial<Record<PostingRole, string>>,
  currency: string,
): PostingInput[] {
  const { grossMinor } = amounts;
  const fee = amounts.feeMinor ?? 0n;
  const cost = amounts.costMinor ?? 0n;
  if (grossMinor <= 0n || fee < 0n || cost < 0n || fee > grossMinor || cost > grossMinor) {
    throw new RangeError(`postingsFor(${event}): need gross > 0 and 0 <= fee, cost <= gross`);
  }
  const out: PostingInput[] = [];
  for (const line of DEFAULT_POSTINGS[event].lines) {
    const amountMinor = termValue(line.amount, amounts);
    if (amountMinor === 0n) continue;
    const accountId = accounts[line.role];
    if (accountId === undefined) throw new RangeError(`postingsFor(${event}): no account given for role ${line.role}`);
    out.push({ accountId, side: line.side, amountMinor, currency });
  }
  return out;
}

/**
 * A rate applied to an amount, exactly: `rate` is a decimal string ("0.006" for 0.60%), the product
 * is rounded by the named mode. Bigint rational arithmetic, so nothing passes through a float.
 */
export function applyRate(amountMinor: bigint, rate: string, rounding: RoundingMode): bigint {
  const m = /^(0|[1-9][0-9]*)(?:\.([0-9]{1,18}))?$/.exec(rate);
  if (!m) throw new RangeError(`applyRate: rate ${JSON.stringify(rate)} is not a plain non-negative decimal`);
  const fraction = m[2] ?? '';
  const numerator = BigInt((m[1] ?? '0') + fraction);
  const denominator = 10n ** BigInt(fraction.length);
  return divideRounded(amountMinor * numerator, denominator, rounding);
}
