// Resolving a discrepancy: an operator's decision, recorded with who, when and why, and — when money
// must move in our books — an adjusting journal entry posted in the same transaction. Entry ids derive
// from the item id (`recon.<item>`), so a retried resolution can never post twice; a resolved item
// cannot be resolved again. Batch never edits the online core's orders: where the channel is right and
// our order is wrong, the books are corrected by the entry and the decision is kept here.
//
// The actions (what each posts; R = the channel's receivable account, Δ = how much more the channel
// holds for us than our books say — negative when it holds less):
//
//   accept-channel 以渠道为准  the channel is right:
//       · it has a movement we lack (channel_only, duplicate, status_mismatch where only the channel
//         moved money): R against the merchant's payable when the order is ours and we never credited
//         it (a success we took for a failure), else against suspense (1901) until someone claims it;
//       · we have a movement it lacks (ledger_only, status_mismatch where only we moved money): our
//         entry is reversed (pay.<id>, cap.<id> with capfee.<id>, refund.<id>);
//       · amount_mismatch: Δ between R and the merchant's payable;
//       · fee_mismatch: the fee difference between R and channel cost (6401), the channel's fee rounded
//         half-up to the currency's minor unit (a difference below one minor unit posts nothing).
//   accept-ledger 以平台为准  our books are right: the decision is recorded, nothing is posted.
//   refund-out    the channel took money that is not ours to keep and it goes back to the payer: R
//                 against suspense for what the channel holds beyond our books (payments only; the
//                 refund the channel then makes clears suspense when its line is accepted).
//   write-off     the difference is written off (approval text required): Δ between R and the loss
//                 account 6711 (--to loss, the default) or suspense (--to suspense).
//   currency_mismatch takes accept-ledger only: no posting can turn one currency into another.

import { divideRounded, findCurrency, LedgerError, type AccountSpec, type LedgerCommand, type PostingInput } from '../../ledger/index.js';
import { ReconError } from './errors.js';
import { parseFee, recordMoved, type DiscrepancyType } from './match.js';
import type { OrderFacts, ReconStore, StoredItem } from './port.js';

export const RESOLVE_ACTIONS = ['accept-channel', 'accept-ledger', 'refund-out', 'write-off'] as const;
export type ResolveAction = (typeof RESOLVE_ACTIONS)[number];
export const WRITE_OFF_TARGETS = ['loss', 'suspense'] as const;
export type WriteOffTarget = (typeof WRITE_OFF_TARGETS)[number];

export const RESOLVE_LIMITS = {
  /** Texts kept with every decision and in the entry's metadata (which the ledger caps at 8 KiB). */
  reasonLengthMax: 1_000,
  approvalLengthMax: 1_000,
  byLengthMax: 128,
} as const;

/** Which actions fit which type (refund-out further needs money the channel holds beyond our books). */
export const ACTIONS_BY_TYPE: Readonly<Record<DiscrepancyType, readonly ResolveAction[]>> = {
  channel_only: ['accept-channel', 'accept-ledger', 'refund-out', 'write-off'],
  ledger_only: ['accept-channel', 'accept-ledger', 'write-off'],
  amount_mismatch: ['accept-channel', 'accept-ledger', 'refund-out', 'write-off'],
  status_mismatch: ['accept-channel', 'accept-ledger', 'refund-out', 'write-off'],
  fee_mismatch: ['accept-channel', 'accept-ledger', 'write-off'],
  currency_mismatch: ['accept-ledger'],
  duplicate: ['accept-channel', 'accept-ledger', 'refund-out', 'write-off'],
};

// The accounts adjustments touch, by the chart's conventions (samples/settle.config.json).
const spec = (accountId: string, subjectCode: string, ownerKind: AccountSpec['ownerKind'], ownerId: string, currency: string): AccountSpec => ({
  accountId,
  subjectCode,
  ownerKind,
  ownerId,
  currency,
  flags: 0,
  status: 'active',
});
export const reconAccounts = {
  channelReceivable: (channel: string, currency: string) => spec(`channel:${channel}:receivable:${currency}`, '1122', 'channel', channel, currency),
  merchantPayable: (merchantId: string, currency: string) => spec(`merchant:${merchantId}:payable:${currency}`, '2202', 'merchant', merchantId, currency),
  suspense: (currency: string) => spec(`platform:suspense:${currency}`, '1901', 'platform', 'platform', currency),
  loss: (currency: string) => spec(`platform:recon-loss:${currency}`, '6711', 'platform', 'platform', currency),
  channelCost: (currency: string) => spec(`platform:channel-cost:${currency}`, '6401', 'platform', 'platform', currency),
};

/** What planning needs beyond the item: whose order the channel's line is, and which of our entries exist. */
export interface ResolveFacts {
  /** Our order (or refund) the channel's key names, if we have one. */
  readonly order: OrderFacts | undefined;
  /** Our journal entries of the item's record that exist (pay.…, cap.…, capfee.…, refund.…). */
  readonly entries: readonly string[];
}

export interface ResolvePlan {
  readonly accounts: readonly AccountSpec[];
  readonly commands: readonly LedgerCommand[];
}

type Plan = { readonly ok: true; readonly plan: ResolvePlan } | { readonly ok: false; readonly message: string };

/** Which side moved money, as the item records it. */
function sides(item: StoredItem): { channelMoved: boolean; ledgerMoved: boolean } {
  return {
    channelMoved: item.channelStatus === 'succeeded',
    ledgerMoved: item.recordSource !== null && item.ledgerStatus !== null && recordMoved({ source: item.recordSource, status: item.ledgerStatus }),
  };
}

/** The channel's fee in the currency's minor units, rounded half-up (the channel rounds its fee per transaction). */
export function channelFeeMinor(fee: string | null, currency: string): bigint | undefined {
  const parsed = parseFee(fee);
  const exponent = findCurrency(currency)?.exponent;
  if (parsed === null || parsed === 'invalid' || exponent === undefined) return undefined;
  if (parsed.scale <= exponent) return parsed.units * 10n ** BigInt(exponent - parsed.scale);
  return divideRounded(parsed.units, 10n ** BigInt(parsed.scale - exponent), 'half_up');
}

/** Entry ids of our record, in the order to reverse them. */
export function recordEntryIds(item: Pick<StoredItem, 'recordSource' | 'recordId'>): string[] {
  if (item.recordId === null) return [];
  switch (item.recordSource) {
    case 'payment':
      return [`pay.${item.recordId}`];
    case 'capture':
      return [`cap.${item.recordId}`, `capfee.${item.recordId}`];
    case 'refund':
      return [`refund.${item.recordId}`];
    default:
      return [];
  }
}

/** Δ: how much more the channel holds for us than our books, for the item (refunds count against us). */
function receivableDelta(item: StoredItem): bigint {
  const sign = item.kind === 'refund' ? -1n : 1n;
  const channel = item.channelAmountMinor ?? 0n;
  const ours = item.ledgerAmountMinor ?? 0n;
  const { channelMoved, ledgerMoved } = sides(item);
  switch (item.type) {
    case 'channel_only':
    case 'duplicate':
      return sign * channel;
    case 'ledger_only':
      return -sign * ours;
    case 'amount_mismatch':
      return sign * (channel - ours);
    case 'status_mismatch':
      return channelMoved && !ledgerMoved ? sign * channel : -sign * ours;
    default:
      return 0n;
  }
}

/** Two postings moving |delta| between the receivable and a counter account (delta > 0: the receivable is debited). */
function adjust(receivable: string, counter: string, delta: bigint, currency: string): PostingInput[] {
  if (delta === 0n) return [];
  const amountMinor = delta < 0n ? -delta : delta;
  return [
    { accountId: receivable, side: delta > 0n ? 'debit' : 'credit', amountMinor, currency },
    { accountId: counter, side: delta > 0n ? 'credit' : 'debit', amountMinor, currency },
  ];
}

export interface PlanRequest {
  readonly item: StoredItem;
  readonly action: ResolveAction;
  readonly writeOffTo: WriteOffTarget;
  readonly by: string;
  readonly reason: string;
  readonly approval: string | null;
}

/** The accounts and ledger commands of a resolution, or why the action does not fit. Pure. */
export function planResolution(req: PlanRequest, facts: ResolveFacts): Plan {
  const { item, action } = req;
  const type = item.type;
  if (type === null || !ACTIONS_BY_TYPE[type].includes(action)) {
    return { ok: false, message: `${action} does not apply to a ${type ?? 'matched item'}; it takes ${type ? ACTIONS_BY_TYPE[type].join(', ') : 'nothing'}.` };
  }
  if (action === 'accept-ledger') return { ok: true, plan: { accounts: [], commands: [] } };
  const currency = item.channelCurrency ?? item.ledgerCurrency;
  if (currency === null) return { ok: false, message: `Discrepancy ${item.itemId} names no currency.` };
  const receivable = reconAccounts.channelReceivable(item.channel, currency);
  const id = `recon.${item.itemId}`;
  const entry = (eventType: string, accounts: AccountSpec[], postings: PostingInput[]): Plan => ({
    ok: true,
    plan: {
      accounts,
      commands:
        postings.length === 0
          ? []
          : [
              {
                type: 'entry',
                id,
                eventType,
                reference: (item.identity ?? `item:${item.itemId}`).slice(0, 256),
                memo: `reconciliation ${item.channel} ${item.businessDate}: ${type} resolved by ${action}`,
                metadata: { item_id: item.itemId, type, action, by: req.by, reason: req.reason, ...(req.approval !== null ? { approval: req.approval } : {}) },
                postings,
              },
            ],
    },
  });
  const { channelMoved, ledgerMoved } = sides(item);
  const delta = receivableDelta(item);

  if (type === 'fee_mismatch') {
    const feeMinor = channelFeeMinor(item.channelFee, currency);
    if (feeMinor === undefined) return { ok: false, message: `The channel's fee ${String(item.channelFee)} cannot be read as ${currency}.` };
    const costDelta = feeMinor - (item.ledgerCostMinor ?? 0n);
    // A payment: a higher fee leaves less at the channel. A refund: a higher returned fee leaves more.
    const feeDelta = item.kind === 'refund' ? costDelta : -costDelta;
    const counter = action === 'write-off' ? targetAccount(req.writeOffTo, currency) : reconAccounts.channelCost(currency);
    return entry(action === 'write-off' ? 'recon.write_off' : 'recon.accept_channel', [receivable, counter], adjust(receivable.accountId, counter.accountId, feeDelta, currency));
  }

  if (action === 'refund-out') {
    const channelHoldsMore = item.kind === 'payment' && delta > 0n && (type !== 'status_mismatch' || (channelMoved && !ledgerMoved));
    if (!channelHoldsMore) return { ok: false, message: `refund-out returns money the channel holds beyond our books; discrepancy ${item.itemId} holds none.` };
    const suspense = reconAccounts.suspense(currency);
    return entry('recon.refund_out', [receivable, suspense], adjust(receivable.accountId, suspense.accountId, delta, currency));
  }

  if (action === 'write-off') {
    const target = targetAccount(req.writeOffTo, currency);
    return entry('recon.write_off', [receivable, target], adjust(receivable.accountId, target.accountId, delta, currency));
  }

  // accept-channel
  const weLackIt = type === 'channel_only' || type === 'duplicate' || (type === 'status_mismatch' && channelMoved && !ledgerMoved);
  if (weLackIt) {
    const owner = facts.order;
    const counter = type !== 'duplicate' && owner !== undefined && !owner.moved ? reconAccounts.merchantPayable(owner.merchantId, currency) : reconAccounts.suspense(currency);
    return entry('recon.accept_channel', [receivable, counter], adjust(receivable.accountId, counter.accountId, delta, currency));
  }
  if (type === 'amount_mismatch') {
    if (item.merchantId === null) return { ok: false, message: `Discrepancy ${item.itemId} names no merchant.` };
    const payable = reconAccounts.merchantPayable(item.merchantId, currency);
    return entry('recon.accept_channel', [receivable, payable], adjust(receivable.accountId, payable.accountId, delta, currency));
  }
  // We have a movement the channel does not: reverse our entries of it.
  const toReverse = recordEntryIds(item).filter((e) => facts.entries.includes(e));
  if (toReverse.length === 0) return { ok: false, message: `Discrepancy ${item.itemId}: no journal entry of ${item.recordId ?? 'the record'} to reverse.` };
  return {
    ok: true,
    plan: {
      accounts: [],
      commands: toReverse.map((entryId, i) => ({
        type: 'reverse' as const,
        id: i === 0 ? id : `${id}.${i + 1}`,
        entryId,
        memo: `reconciliation ${item.channel} ${item.businessDate}: ${type} resolved by accept-channel (${req.reason.slice(0, 200)})`,
      })),
    },
  };
}

function targetAccount(to: WriteOffTarget, currency: string): AccountSpec {
  return to === 'suspense' ? reconAccounts.suspense(currency) : reconAccounts.loss(currency);
}

export interface ResolveRequest {
  readonly itemId: number;
  readonly action: string;
  readonly reason: string;
  readonly by: string;
  readonly approval?: string | undefined;
  readonly writeOffTo?: WriteOffTarget | undefined;
  readonly nowMs: number;
}

export interface ResolveResult {
  readonly item: StoredItem;
  readonly entryIds: readonly string[];
}

function isAction(a: string): a is ResolveAction {
  return (RESOLVE_ACTIONS as readonly string[]).includes(a);
}

/** Resolves a discrepancy: checks the decision, plans its entry and records both in one transaction. */
export async function resolveDiscrepancy(store: ReconStore, req: ResolveRequest): Promise<ResolveResult> {
  if (!isAction(req.action)) throw new ReconError('resolve_action_invalid', `Action ${JSON.stringify(req.action.slice(0, 40))} is not one of ${RESOLVE_ACTIONS.join(', ')}.`);
  const reason = req.reason.trim();
  if (reason === '' || reason.length > RESOLVE_LIMITS.reasonLengthMax) {
    throw new ReconError('reason_required', `A reason of 1 to ${RESOLVE_LIMITS.reasonLengthMax} characters is required.`);
  }
  const by = req.by.trim().slice(0, RESOLVE_LIMITS.byLengthMax) || 'unknown';
  const approval = req.approval?.trim() ?? '';
  if (req.action === 'write-off' && (approval === '' || approval.length > RESOLVE_LIMITS.approvalLengthMax)) {
    throw new ReconError('approval_required', `A write-off needs --approval with 1 to ${RESOLVE_LIMITS.approvalLengthMax} characters.`);
  }
  const item = await store.item(req.itemId);
  if (!item || item.outcome !== 'discrepancy') throw new ReconError('discrepancy_not_found', `No discrepancy has id ${req.itemId}.`);
  if (item.status === 'superseded') throw new ReconError('discrepancy_superseded', `Discrepancy ${req.itemId} was replaced by a newer match of ${item.channel} ${item.businessDate}.`);
  if (item.status === 'resolved') throw new ReconError('discrepancy_already_resolved', `Discrepancy ${req.itemId} was resolved by ${item.resolution?.by ?? '?'} (${item.resolution?.action ?? '?'}).`);

  const order = item.orderKey === null ? undefined : await store.orderFacts(item.kind, item.orderKey);
  const entries: string[] = [];
  for (const e of recordEntryIds(item)) if (await store.entryExists(e)) entries.push(e);
  const planned = planResolution({ item, action: req.action, writeOffTo: req.writeOffTo ?? 'loss', by, reason, approval: approval === '' ? null : approval }, { order, entries });
  if (!planned.ok) throw new ReconError('resolve_action_invalid', planned.message);

  const entryIds = planned.plan.commands.map((c) => c.id);
  const outcome = await store.resolve(
    item.itemId,
    { action: req.action, by, atMs: req.nowMs, reason, approval: approval === '' ? null : approval, entryIds },
    planned.plan.accounts,
    planned.plan.commands,
  );
  if (outcome.ok) return { item: outcome.item, entryIds };
  if (outcome.code === 'discrepancy_already_resolved' || outcome.code === 'discrepancy_not_found' || outcome.code === 'discrepancy_superseded') {
    throw new ReconError(outcome.code, outcome.message);
  }
  throw new LedgerError(outcome.code, outcome.message);
}
