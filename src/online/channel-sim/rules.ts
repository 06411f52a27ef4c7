// The channel's business rules, as pure functions of what the store holds and the request: what a bank
// checks before it moves money. Each refusal is a decline with a stable code (a business answer, final),
// never a technical failure. Fees are bigint arithmetic through applyRate, rounded half-up.

import { applyRate, divideRounded } from '../../ledger/index.js';
import type { ChannelProduct } from '../channels/port.js';
import type { MutatingOperation, SimChannel } from './config.js';
import type { SimAgreement, SimTxn } from './store.js';

export type Decision =
  | { readonly accept: true; readonly feeMinor: bigint }
  | { readonly accept: false; readonly declineCode: string; readonly message: string };

export const DECLINE_CODES = {
  operation_not_supported: 'This channel does not offer the operation.',
  product_not_supported: 'This channel does not serve the product.',
  currency_not_supported: 'This channel does not take the currency.',
  agreement_required: 'The product needs an agreement token from a sign operation.',
  agreement_not_active: 'The agreement token is unknown at this channel or was unsigned.',
  agreement_payer_mismatch: 'The agreement belongs to another payer.',
  original_not_found: 'The channel has no original operation with that reference.',
  original_not_succeeded: 'The original operation has not succeeded (it is processing or was declined).',
  original_voided: 'The original operation was voided already.',
  original_refunded: 'The original payment has refunds; refund the rest instead of voiding.',
  currency_mismatch: 'The currency differs from the original operation’s.',
  amount_mismatch: 'A void is for the full amount of the original operation.',
  void_not_same_day: 'A void (撤销) is only possible on the business day of the original; refund instead.',
  refund_exceeds_payment: 'The refunds would exceed the amount paid.',
  capture_exceeds_preauth: 'The captures would exceed the pre-authorised amount.',
  preauth_captured: 'The pre-authorisation has captures; void them first.',
  insufficient_funds: 'Not enough money for this operation.',
  card_refused: 'The issuer refused the card.',
  payer_cancelled: 'The payer cancelled on the cashier page.',
} as const;
export type DeclineCode = keyof typeof DECLINE_CODES;

export function decline(code: DeclineCode, detail?: string): Decision {
  return { accept: false, declineCode: code, message: detail ? `${detail} ${DECLINE_CODES[code]}` : DECLINE_CODES[code] };
}

const accept = (feeMinor: bigint): Decision => ({ accept: true, feeMinor });

/** Which operation a follow-up acts on, in the order the original is looked for. */
export const ORIGINAL_OPERATIONS: Readonly<Partial<Record<MutatingOperation, readonly MutatingOperation[]>>> = {
  refund: ['pay', 'capture'],
  void: ['pay'],
  capture: ['preauth'],
  preauth_void: ['preauth'],
  capture_void: ['capture'],
};

/** Products whose payments wait for the payer on a cashier page, whatever the channel's kind. */
const REDIRECT_PRODUCTS: readonly ChannelProduct[] = ['netbank', 'wallet'];
const AGREEMENT_PRODUCTS: readonly ChannelProduct[] = ['quick', 'agreement'];

export function isAsync(channel: SimChannel, operation: MutatingOperation, product: ChannelProduct | null): boolean {
  if (channel.asyncOperations.includes(operation)) return true;
  return (operation === 'pay' || operation === 'preauth') && product !== null && REDIRECT_PRODUCTS.includes(product);
}

export function wantsRedirect(channel: SimChannel, operation: MutatingOperation, product: ChannelProduct | null): boolean {
  return (operation === 'pay' || operation === 'preauth') && (channel.kind === 'wallet' || (product !== null && REDIRECT_PRODUCTS.includes(product)));
}

export function channelFee(channel: SimChannel, amountMinor: bigint): bigint {
  return applyRate(amountMinor, channel.feeRate, 'half_up');
}

const live = (t: SimTxn): boolean => t.status === 'succeeded' || t.status === 'processing';
const sum = (txns: readonly SimTxn[], pick: (t: SimTxn) => bigint): bigint => txns.reduce((acc, t) => acc + pick(t), 0n);

export interface PayCheck {
  readonly product: ChannelProduct;
  readonly currency: string;
  readonly payerId: string | undefined;
  readonly agreementToken: string | undefined;
}

/** pay and preauth: the product, the currency and, for card-on-file products, the agreement. */
export function decidePay(
  channel: SimChannel,
  operation: 'pay' | 'preauth',
  req: PayCheck,
  agreement: SimAgreement | undefined,
  amountMinor: bigint,
): Decision {
  if (!channel.products.includes(req.product)) return decline('product_not_supported', `${channel.id} does not serve ${req.product}.`);
  if (!channel.currencies.includes(req.currency)) return decline('currency_not_supported', `${channel.id} does not take ${req.currency}.`);
  if (req.agreementToken === undefined) {
    if (AGREEMENT_PRODUCTS.includes(req.product)) return decline('agreement_required', `${req.product} pays with a bound card.`);
  } else {
    if (!agreement || agreement.status !== 'active') return decline('agreement_not_active');
    if (req.payerId !== undefined && req.payerId !== agreement.payerId) return decline('agreement_payer_mismatch');
  }
  // A pre-authorisation only reserves money; its cost comes with the capture.
  return accept(operation === 'preauth' ? 0n : channelFee(channel, amountMinor));
}

function checkOriginal(original: SimTxn | undefined, currency: string): Decision | SimTxn {
  if (!original) return decline('original_not_found');
  if (original.status !== 'succeeded') return decline('original_not_succeeded', `The original is ${original.status}.`);
  if (original.currency !== currency) return decline('currency_mismatch', `The original is in ${original.currency ?? '(none)'}.`);
  return original;
}

const isDecision = (v: Decision | SimTxn): v is Decision => 'accept' in v;

/**
 * Refund of a payment or capture: never above what remains. The fee given back is the original fee in
 * proportion to everything refunded so far, less what earlier refunds gave back, so the refunds of a
 * payment never return more than its fee however it is split.
 */
export function decideRefund(original: SimTxn | undefined, followUps: readonly SimTxn[], amountMinor: bigint, currency: string): Decision {
  const o = checkOriginal(original, currency);
  if (isDecision(o)) return o;
  const liveFollowUps = followUps.filter(live);
  if (liveFollowUps.some((t) => t.operation === 'void' || t.operation === 'capture_void')) return decline('original_voided');
  const refunds = liveFollowUps.filter((t) => t.operation === 'refund');
  const refundedMinor = sum(refunds, (t) => t.amountMinor);
  if (refundedMinor + amountMinor > o.amountMinor) {
    return decline('refund_exceeds_payment', `Paid ${o.amountMinor}, refunded ${refundedMinor}, asked ${amountMinor} (minor units).`);
  }
  const feeBackSoFar = sum(refunds, (t) => t.feeMinor);
  const feeBackTotal = divideRounded(o.feeMinor * (refundedMinor + amountMinor), o.amountMinor, 'half_up');
  return accept(feeBackTotal - feeBackSoFar);
}

/** Void (撤销) of a payment, or of a capture (completion void): full amount, same business day, nothing refunded. */
export function decideVoid(original: SimTxn | undefined, followUps: readonly SimTxn[], amountMinor: bigint, currency: string, today: string): Decision {
  const o = checkOriginal(original, currency);
  if (isDecision(o)) return o;
  const liveFollowUps = followUps.filter(live);
  if (liveFollowUps.some((t) => t.operation === 'void' || t.operation === 'capture_void')) return decline('original_voided');
  if (liveFollowUps.some((t) => t.operation === 'refund')) return decline('original_refunded');
  if (o.businessDate !== today) return decline('void_not_same_day', `The original is of ${o.businessDate}; today is ${today}.`);
  if (amountMinor !== o.amountMinor) return decline('amount_mismatch', `The original is ${o.amountMinor} minor units.`);
  return accept(o.feeMinor);
}

/** Captures of a pre-authorisation: together at most the pre-authorised amount; voided captures do not count. */
export function decideCapture(
  channel: SimChannel,
  preauth: SimTxn | undefined,
  followUps: readonly SimTxn[],
  captureVoided: (capture: SimTxn) => boolean,
  amountMinor: bigint,
  currency: string,
): Decision {
  const o = checkOriginal(preauth, currency);
  if (isDecision(o)) return o;
  const liveFollowUps = followUps.filter(live);
  if (liveFollowUps.some((t) => t.operation === 'preauth_void')) return decline('original_voided');
  const capturedMinor = sum(
    liveFollowUps.filter((t) => t.operation === 'capture' && !captureVoided(t)),
    (t) => t.amountMinor,
  );
  if (capturedMinor + amountMinor > o.amountMinor) {
    return decline('capture_exceeds_preauth', `Authorised ${o.amountMinor}, captured ${capturedMinor}, asked ${amountMinor} (minor units).`);
  }
  return accept(channelFee(channel, amountMinor));
}

/** Pre-authorisation void: the whole hold, once, and only while no capture stands. */
export function decidePreauthVoid(
  preauth: SimTxn | undefined,
  followUps: readonly SimTxn[],
  captureVoided: (capture: SimTxn) => boolean,
  amountMinor: bigint,
  currency: string,
): Decision {
  const o = checkOriginal(preauth, currency);
  if (isDecision(o)) return o;
  const liveFollowUps = followUps.filter(live);
  if (liveFollowUps.some((t) => t.operation === 'preauth_void')) return decline('original_voided');
  if (liveFollowUps.some((t) => t.operation === 'capture' && !captureVoided(t))) return decline('preauth_captured');
  if (amountMinor !== o.amountMinor) return decline('amount_mismatch', `The pre-authorisation is ${o.amountMinor} minor units.`);
  return accept(0n);
}

/** Payout (代付): from the channel's balance, amount plus fee. */
export function decidePayout(channel: SimChannel, currency: string, amountMinor: bigint, availableMinor: bigint): Decision {
  if (!channel.currencies.includes(currency)) return decline('currency_not_supported', `${channel.id} does not take ${currency}.`);
  const feeMinor = channelFee(channel, amountMinor);
  if (amountMinor + feeMinor > availableMinor) {
    return decline('insufficient_funds', `Available ${availableMinor}, needed ${amountMinor + feeMinor} (minor units, with the fee).`);
  }
  return accept(feeMinor);
}

/** Unsign: the agreement must be active at this channel. */
export function decideUnsign(agreement: SimAgreement | undefined): Decision {
  return agreement && agreement.status === 'active' ? accept(0n) : decline('agreement_not_active');
}

/** The calendar day of an instant in a time zone, as YYYY-MM-DD. */
export function businessDateOf(atMs: number, timeZone: string): string {
  return dateFormatter(timeZone).format(atMs);
}

const FORMATTERS = new Map<string, Intl.DateTimeFormat>();
function dateFormatter(timeZone: string): Intl.DateTimeFormat {
  let f = FORMATTERS.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    FORMATTERS.set(timeZone, f);
  }
  return f;
}
