// Channel notifications (异步通知): verify the signature with the channel's adapter, ignore duplicates,
// check the amount and currency against the order, and apply the result idempotently.

import type { ChannelNotification, ChannelPort } from '../channels/port.js';
import { apiFailure } from '../errors.js';
import type { OnlineStore, OnlineTx } from '../port.js';
import { applyPayoutOutcome, applyTopupOutcome } from './payouts.js';
import { applyPaymentOutcome, applyRefundOutcome, Refusal, runUnit, type ApiResult, type RouteRecord } from './service.js';
import { paymentView } from './views.js';

function ok(body: Record<string, unknown>): ApiResult {
  return { ok: true, httpStatus: 200, body: JSON.stringify(body), replayed: false };
}

export class NotificationService {
  constructor(
    private readonly store: OnlineStore,
    private readonly channels: ReadonlyMap<string, ChannelPort>,
  ) {}

  async receive(channelId: string, headers: Readonly<Record<string, string | undefined>>, rawBody: Buffer): Promise<ApiResult> {
    const port = this.channels.get(channelId);
    if (!port) return apiFailure('not_found', `No channel ${channelId}.`);
    const parsed = port.parseNotification(headers, rawBody);
    if (!parsed.ok) return apiFailure(parsed.code, parsed.message);
    const n = parsed.notification;
    return runUnit(this.store, (tx) => {
      if (!tx.rememberNotification(channelId, n.notificationId)) return ok({ ok: true, duplicate: true });
      applyNotification(tx, channelId, n);
      return ok({ ok: true, duplicate: false });
    });
  }
}

function applyNotification(tx: OnlineTx, channelId: string, n: ChannelNotification): void {
  const outcome =
    n.status === 'succeeded'
      ? ({ status: 'succeeded', channelTxnId: n.channelTxnId } as const)
      : ({ status: 'declined', declineCode: 'channel_declined', message: 'The channel reported a failure.' } as const);
  const mismatch = (what: string) => new Refusal(apiFailure('notification_mismatch', `${what} does not match ${n.reference}.`));
  if (n.reference.startsWith('pay_')) {
    const p = tx.payment(null, n.reference);
    if (p && p.channelId !== channelId && triedAt(p.routeJson, channelId)) {
      // The order moved on after this channel failed to answer, and the channel took it after all: the
      // payer paid twice. Keep the evidence for an operator to refund; the order itself is not touched.
      if (p.amountMinor !== n.amountMinor || p.currency !== n.currency) throw mismatch('The amount or currency');
      if (n.status === 'succeeded') {
        tx.publish({
          topic: 'payment.orphan_charge',
          aggregateId: p.paymentId,
          merchantId: p.merchantId,
          payload: { ...paymentView(p), orphan_channel: channelId, orphan_channel_txn_id: n.channelTxnId, action: 'refund_required' },
        });
      }
      return;
    }
    if (!p || p.channelId !== channelId) throw mismatch('The reference');
    if (p.amountMinor !== n.amountMinor || p.currency !== n.currency) throw mismatch('The amount or currency');
    applyPaymentOutcome(tx, n.reference, outcome);
    return;
  }
  if (n.reference.startsWith('re_')) {
    const r = tx.refund(null, n.reference);
    if (!r) throw mismatch('The reference');
    if (r.amountMinor !== n.amountMinor || r.currency !== n.currency) throw mismatch('The amount or currency');
    applyRefundOutcome(tx, n.reference, outcome);
    return;
  }
  if (n.reference.startsWith('po_')) {
    const p = tx.payout(null, n.reference);
    if (!p || p.channelId !== channelId) throw mismatch('The reference');
    if (p.amountMinor !== n.amountMinor || p.currency !== n.currency) throw mismatch('The amount or currency');
    applyPayoutOutcome(tx, n.reference, outcome);
    return;
  }
  if (n.reference.startsWith('tu_')) {
    const t = tx.topup(null, n.reference);
    if (!t || t.channelId !== channelId) throw mismatch('The reference');
    if (t.amountMinor !== n.amountMinor || t.currency !== n.currency) throw mismatch('The amount or currency');
    applyTopupOutcome(tx, n.reference, outcome);
    return;
  }
  throw mismatch('The reference');
}

/** Whether a payment's route record shows a failed attempt at the channel (it moved on from there). */
function triedAt(routeJson: string | null, channelId: string): boolean {
  if (routeJson === null) return false;
  const route = JSON.parse(routeJson) as RouteRecord;
  return route.attempts.some((a) => a.channel === channelId);
}
