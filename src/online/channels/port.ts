// The one interface every payment channel adapter implements (the seed's 支付渠道): a bank that answers
// at once, a wallet that answers later by signed notification, a payout channel. The daemon only ever
// talks to channels through this port; the simulator (settle channel-sim) is reached through an HTTP
// adapter of it, and a real bank would be one more adapter.
//
// Outcomes separate a business decline (the channel said no: insufficient funds, card refused — never
// retried elsewhere) from a technical failure (timeout, 5xx, outage — the order stays processing and the
// recovery loop queries the channel later, 补单).

export type ChannelOperation =
  | 'pay'
  | 'query'
  | 'refund'
  | 'void'
  | 'preauth'
  | 'capture'
  | 'preauth_void'
  | 'capture_void'
  | 'sign'
  | 'unsign'
  | 'payout'
  | 'balance';

/** Products as the daemon names them; a channel declares which it serves. */
export type ChannelProduct = 'quick' | 'netbank' | 'agreement' | 'wallet' | 'foreign_card' | 'phone_bill' | 'preauth' | 'payout';

export type ChannelOutcome =
  /** Done: money moved (or the operation took effect) at the channel. */
  | { readonly status: 'succeeded'; readonly channelTxnId: string; readonly feeMinor?: bigint | undefined }
  /** Accepted; the final result comes by notification or by query. `redirectUrl` for netbank pages. */
  | { readonly status: 'processing'; readonly channelTxnId?: string | undefined; readonly redirectUrl?: string | undefined }
  /** The channel refused it for a business reason; final. */
  | { readonly status: 'declined'; readonly declineCode: string; readonly message: string }
  /** We do not know what happened (timeout, 5xx, outage, garbled answer); query later. */
  | {
      readonly status: 'unknown';
      readonly reason: 'timeout' | 'unavailable' | 'protocol';
      readonly message: string;
      /** Set only when the request certainly never reached the channel (connection refused, DNS): safe to send elsewhere. */
      readonly notReceived?: true;
    };

export interface PayRequest {
  /** Our id for the operation; the channel must treat it as the idempotency key (out_trade_no). */
  readonly reference: string;
  readonly product: ChannelProduct;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly payerId?: string | undefined;
  /** The channel's token of a signed agreement (quick pay, withholding). */
  readonly agreementToken?: string | undefined;
  readonly description?: string | undefined;
  /** Where an asynchronous channel POSTs its signed notification. */
  readonly notifyUrl?: string | undefined;
}

export interface FollowUpRequest {
  /** Our id for this operation (refund number, capture id, …): idempotency key at the channel. */
  readonly reference: string;
  /** Our reference of the original operation (payment, pre-auth or capture) this acts on. */
  readonly originalReference: string;
  readonly amountMinor: bigint;
  readonly currency: string;
}

export interface SignRequest {
  readonly reference: string;
  readonly payerId: string;
  /** Masked card or account the payer binds; never a full card number. */
  readonly accountHint?: string | undefined;
}

export type SignOutcome =
  | { readonly status: 'succeeded'; readonly agreementToken: string }
  | Exclude<ChannelOutcome, { status: 'succeeded' }>;

export interface PayoutRequest {
  readonly reference: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly payeeName: string;
  readonly payeeAccount: string;
  readonly notifyUrl?: string | undefined;
}

export interface ChannelBalance {
  readonly currency: string;
  readonly availableMinor: bigint;
}

/** A channel's asynchronous notification, after its signature was verified. */
export interface ChannelNotification {
  readonly reference: string;
  readonly channelTxnId: string;
  readonly operation: ChannelOperation;
  readonly status: 'succeeded' | 'declined';
  readonly amountMinor: bigint;
  readonly currency: string;
  /** The channel's own id of this notification, for de-duplication. */
  readonly notificationId: string;
}

export type NotificationParse =
  | { readonly ok: true; readonly notification: ChannelNotification }
  | { readonly ok: false; readonly code: 'notification_signature_invalid' | 'notification_malformed'; readonly message: string };

export interface ChannelPort {
  readonly channelId: string;
  pay(req: PayRequest): Promise<ChannelOutcome>;
  /** The state at the channel of an operation we sent (payment, refund, capture, payout …). */
  query(reference: string, operation: ChannelOperation): Promise<ChannelOutcome | { readonly status: 'not_found' }>;
  refund(req: FollowUpRequest): Promise<ChannelOutcome>;
  /** Same-day cancel of a payment (撤销), full amount. */
  void(req: FollowUpRequest): Promise<ChannelOutcome>;
  preauth(req: PayRequest): Promise<ChannelOutcome>;
  capture(req: FollowUpRequest): Promise<ChannelOutcome>;
  preauthVoid(req: FollowUpRequest): Promise<ChannelOutcome>;
  captureVoid(req: FollowUpRequest): Promise<ChannelOutcome>;
  sign(req: SignRequest): Promise<SignOutcome>;
  unsign(reference: string, agreementToken: string): Promise<ChannelOutcome>;
  payout(req: PayoutRequest): Promise<ChannelOutcome>;
  /** The merchant's (our) balance at the channel (余额查询). */
  balance(): Promise<readonly ChannelBalance[]>;
  /** Verifies and reads a notification the channel POSTed to us; rawBody is the exact bytes. */
  parseNotification(headers: Readonly<Record<string, string | undefined>>, rawBody: Buffer): NotificationParse;
}
