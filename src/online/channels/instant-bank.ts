// An in-process ChannelPort that answers at once with no I/O: the channel of the daemon's benchmark,
// so the figures measure settle and not a network. Every operation succeeds, except for the magic
// amounts the simulator honours too (channel-sim/magic-amounts.ts: ..51 and ..52 decline; ..61 answers
// unknown/timeout but is applied, ..62 unknown/unavailable and not applied, ..63 unknown/protocol but
// applied). Channel ids are deterministic (CHANNEL-OPERATION-reference), a repeated reference returns the
// first answer, and query finds the most recent operations (a bounded memory, oldest forgotten first).
// It never notifies, so parseNotification always refuses.

import { applyRate } from '../../ledger/index.js';
import { magicEffectOf } from '../channel-sim/magic-amounts.js';
import type {
  ChannelBalance,
  ChannelOperation,
  ChannelOutcome,
  ChannelPort,
  FollowUpRequest,
  NotificationParse,
  PayoutRequest,
  PayRequest,
  SignOutcome,
  SignRequest,
} from './port.js';

export interface InstantBankOptions {
  /** Default 'instant'. */
  readonly channelId?: string;
  /** The channel's cost on payments, captures and payouts, rounded half-up; default "0.0038". */
  readonly feeRate?: string;
  /** How many answers query remembers; default 100,000 (bounded so a long benchmark cannot grow it). */
  readonly recordsMax?: number;
}

export class InstantBankChannel implements ChannelPort {
  readonly channelId: string;
  private readonly feeRate: string;
  private readonly recordsMax: number;
  private readonly prefix: string;
  private readonly records = new Map<string, ChannelOutcome>();
  private readonly nets = new Map<string, bigint>();

  constructor(options: InstantBankOptions = {}) {
    this.channelId = options.channelId ?? 'instant';
    this.feeRate = options.feeRate ?? '0.0038';
    this.recordsMax = Math.max(1, options.recordsMax ?? 100_000);
    this.prefix = this.channelId.toUpperCase();
  }

  pay(req: PayRequest): Promise<ChannelOutcome> {
    return Promise.resolve(this.decide('pay', req.reference, req.amountMinor, req.currency, 1n, true));
  }

  preauth(req: PayRequest): Promise<ChannelOutcome> {
    return Promise.resolve(this.decide('preauth', req.reference, req.amountMinor, req.currency, 0n, false));
  }

  capture(req: FollowUpRequest): Promise<ChannelOutcome> {
    return Promise.resolve(this.decide('capture', req.reference, req.amountMinor, req.currency, 1n, true));
  }

  refund(req: FollowUpRequest): Promise<ChannelOutcome> {
    return Promise.resolve(this.decide('refund', req.reference, req.amountMinor, req.currency, -1n, false));
  }

  void(req: FollowUpRequest): Promise<ChannelOutcome> {
    return Promise.resolve(this.decide('void', req.reference, req.amountMinor, req.currency, -1n, false));
  }

  preauthVoid(req: FollowUpRequest): Promise<ChannelOutcome> {
    return Promise.resolve(this.decide('preauth_void', req.reference, req.amountMinor, req.currency, 0n, false));
  }

  captureVoid(req: FollowUpRequest): Promise<ChannelOutcome> {
    return Promise.resolve(this.decide('capture_void', req.reference, req.amountMinor, req.currency, -1n, false));
  }

  payout(req: PayoutRequest): Promise<ChannelOutcome> {
    return Promise.resolve(this.decide('payout', req.reference, req.amountMinor, req.currency, -1n, true));
  }

  sign(req: SignRequest): Promise<SignOutcome> {
    return Promise.resolve({ status: 'succeeded', agreementToken: `${this.prefix}-AGR-${req.reference}` });
  }

  /** Any token this bank issued can be unsigned (it keeps no agreements); someone else's cannot. */
  unsign(reference: string, agreementToken: string): Promise<ChannelOutcome> {
    if (!agreementToken.startsWith(`${this.prefix}-AGR-`)) {
      return Promise.resolve({ status: 'declined', declineCode: 'agreement_not_active', message: `${agreementToken} is not an agreement of ${this.channelId}.` });
    }
    return Promise.resolve({ status: 'succeeded', channelTxnId: this.txnId('unsign', reference) });
  }

  query(reference: string, operation: ChannelOperation): Promise<ChannelOutcome | { readonly status: 'not_found' }> {
    return Promise.resolve(this.records.get(`${operation}:${reference}`) ?? { status: 'not_found' });
  }

  /** What succeeded operations moved, per currency: payments and captures in less cost, the rest out. */
  balance(): Promise<readonly ChannelBalance[]> {
    const sorted = [...this.nets].sort(([a], [b]) => a.localeCompare(b));
    return Promise.resolve(sorted.map(([currency, availableMinor]) => ({ currency, availableMinor })));
  }

  parseNotification(): NotificationParse {
    return { ok: false, code: 'notification_malformed', message: `${this.channelId} is an in-process channel and never notifies.` };
  }

  private txnId(operation: ChannelOperation, reference: string): string {
    return `${this.prefix}-${operation.toUpperCase()}-${reference}`;
  }

  /**
   * direction: +1 money comes in (pay, capture), -1 goes out (refund, voids, payout), 0 none (pre-auth).
   * withFee: the channel charges its cost on this operation.
   */
  private decide(operation: ChannelOperation, reference: string, amountMinor: bigint, currency: string, direction: bigint, withFee: boolean): ChannelOutcome {
    const key = `${operation}:${reference}`;
    const seen = this.records.get(key);
    if (seen) return seen;
    const magic = magicEffectOf(amountMinor);
    if (magic?.kind === 'unavailable') return { status: 'unknown', reason: 'unavailable', message: 'The channel is unavailable (magic amount ending in 62).' };
    if (magic?.kind === 'decline') return this.remember(key, { status: 'declined', declineCode: magic.declineCode, message: magic.message }, currency, 0n);
    const feeMinor = withFee ? applyRate(amountMinor, this.feeRate, 'half_up') : undefined;
    const outcome: ChannelOutcome = { status: 'succeeded', channelTxnId: this.txnId(operation, reference), feeMinor };
    this.remember(key, outcome, currency, direction * amountMinor - (feeMinor ?? 0n));
    if (magic?.kind === 'timeout') return { status: 'unknown', reason: 'timeout', message: 'No answer in time (magic amount ending in 61); query it.' };
    if (magic?.kind === 'garbage') return { status: 'unknown', reason: 'protocol', message: 'A garbled answer (magic amount ending in 63); query it.' };
    return outcome;
  }

  private remember(key: string, outcome: ChannelOutcome, currency: string, netMinor: bigint): ChannelOutcome {
    if (this.records.size >= this.recordsMax) {
      const oldest = this.records.keys().next();
      if (!oldest.done) this.records.delete(oldest.value);
    }
    this.records.set(key, outcome);
    if (netMinor !== 0n) this.nets.set(currency, (this.nets.get(currency) ?? 0n) + netMinor);
    return outcome;
  }
}
