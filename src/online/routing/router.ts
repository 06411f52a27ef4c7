// Payment routing (支付路由): among the channels that can serve a request and are healthy, the cheapest
// by expected cost, with configured rules on top. Pure: capabilities, limits, today's usage and health
// come in as values; the answer lists every channel considered and why, for the order's record.

import { applyRate } from '../../ledger/index.js';

export interface ChannelCost {
  /** Decimal rate of the amount, e.g. "0.0038". */
  readonly rate: string;
  readonly fixedMinor: bigint;
  readonly minMinor: bigint;
  /** null: no cap. */
  readonly capMinor: bigint | null;
}

export interface RoutableChannel {
  readonly id: string;
  readonly products: readonly string[];
  readonly currencies: readonly string[];
  readonly amountMinMinor: bigint;
  /** null: no per-order maximum. */
  readonly amountMaxMinor: bigint | null;
  /** Today's limits per currency; null: none. */
  readonly dailyAmountMaxMinor: bigint | null;
  readonly dailyCountMax: number | null;
  readonly cost: ChannelCost;
  readonly synchronous: boolean;
}

export type RoutingRule =
  /** Only this channel (or, with fallback, this one first) for the matching merchant and/or product. */
  | { readonly kind: 'pin'; readonly channel: string; readonly merchant?: string | undefined; readonly product?: string | undefined; readonly fallback: boolean }
  | { readonly kind: 'exclude'; readonly channel: string; readonly merchant?: string | undefined; readonly product?: string | undefined }
  /** Ranks by cost × 100 ÷ weight: weight 200 makes a channel look half as dear (default 100). */
  | { readonly kind: 'weight'; readonly channel: string; readonly weight: number; readonly merchant?: string | undefined; readonly product?: string | undefined };

export interface RouteRequest {
  readonly merchantId: string;
  readonly product: string;
  readonly currency: string;
  readonly amountMinor: bigint;
}

export interface ChannelUsage {
  readonly amountMinor: bigint;
  readonly count: number;
}

export interface RouteInputs {
  readonly channels: readonly RoutableChannel[];
  readonly rules: readonly RoutingRule[];
  /** Today's usage of a channel in the request's currency. */
  readonly usage: (channelId: string) => ChannelUsage;
  /** Whether the channel's breaker lets a call through now. */
  readonly healthy: (channelId: string) => boolean;
  /** Whether an adapter is connected for the channel. */
  readonly connected: (channelId: string) => boolean;
}

export interface Considered {
  readonly channel: string;
  readonly eligible: boolean;
  /** Why it was left out, or how it ranks. */
  readonly reason: string;
  readonly expectedCostMinor: string | null;
  readonly rank: number | null;
}

export interface RouteDecision {
  /** Eligible channels, best first: the first is tried, the rest are fallbacks for technical failures. */
  readonly order: readonly string[];
  readonly considered: readonly Considered[];
  readonly rulesApplied: readonly string[];
}

/** The channel's expected cost of an amount: rate × amount (half up) + fixed, within [min, cap]. */
export function expectedCost(cost: ChannelCost, amountMinor: bigint): bigint {
  let c = applyRate(amountMinor, cost.rate, 'half_up') + cost.fixedMinor;
  if (c < cost.minMinor) c = cost.minMinor;
  if (cost.capMinor !== null && c > cost.capMinor) c = cost.capMinor;
  return c;
}

function ruleMatches(rule: RoutingRule, req: RouteRequest): boolean {
  return (rule.merchant === undefined || rule.merchant === req.merchantId) && (rule.product === undefined || rule.product === req.product);
}

function describeRule(rule: RoutingRule): string {
  const scope = [rule.merchant && `merchant ${rule.merchant}`, rule.product && `product ${rule.product}`].filter(Boolean).join(', ') || 'all';
  return rule.kind === 'weight' ? `weight ${rule.channel}=${rule.weight} (${scope})` : `${rule.kind} ${rule.channel} (${scope})`;
}

/** Why a channel cannot take this request at all (capability, amount, limits), or undefined. */
function incapable(ch: RoutableChannel, req: RouteRequest, usage: ChannelUsage): string | undefined {
  if (!ch.products.includes(req.product)) return `does not offer ${req.product}`;
  if (!ch.currencies.includes(req.currency)) return `does not take ${req.currency}`;
  if (req.amountMinor < ch.amountMinMinor) return `amount below its minimum ${ch.amountMinMinor}`;
  if (ch.amountMaxMinor !== null && req.amountMinor > ch.amountMaxMinor) return `amount above its maximum ${ch.amountMaxMinor}`;
  if (ch.dailyAmountMaxMinor !== null && usage.amountMinor + req.amountMinor > ch.dailyAmountMaxMinor) {
    return `daily amount limit: ${usage.amountMinor} used of ${ch.dailyAmountMaxMinor}`;
  }
  if (ch.dailyCountMax !== null && usage.count + 1 > ch.dailyCountMax) return `daily count limit: ${usage.count} used of ${ch.dailyCountMax}`;
  return undefined;
}

export function route(req: RouteRequest, inputs: RouteInputs): RouteDecision {
  const rules = inputs.rules.filter((r) => ruleMatches(r, req));
  const excluded = new Set(rules.filter((r) => r.kind === 'exclude').map((r) => r.channel));
  const pin = rules.find((r) => r.kind === 'pin');
  const weights = new Map<string, number>();
  for (const r of rules) if (r.kind === 'weight') weights.set(r.channel, r.weight);

  const considered: Considered[] = [];
  const ranked: { channel: string; score: bigint; cost: bigint; pinned: boolean }[] = [];
  for (const ch of inputs.channels) {
    const cost = expectedCost(ch.cost, req.amountMinor);
    const leaveOut = (reason: string): void => {
      considered.push({ channel: ch.id, eligible: false, reason, expectedCostMinor: null, rank: null });
    };
    const why = incapable(ch, req, inputs.usage(ch.id));
    if (why !== undefined) leaveOut(why);
    else if (excluded.has(ch.id)) leaveOut('excluded by rule');
    else if (pin && pin.channel !== ch.id && !pin.fallback) leaveOut(`rule pins ${pin.channel}`);
    else if (!inputs.connected(ch.id)) leaveOut('no adapter connected');
    else if (!inputs.healthy(ch.id)) leaveOut('circuit breaker open');
    else {
      const weight = weights.get(ch.id) ?? 100;
      // Integer arithmetic: score = cost × 100 ÷ weight, compared exactly by cross-multiplying below.
      ranked.push({ channel: ch.id, score: cost * 100n * 1_000_000n / BigInt(weight), cost, pinned: pin?.channel === ch.id });
      considered.push({ channel: ch.id, eligible: true, reason: '', expectedCostMinor: cost.toString(), rank: null });
    }
  }
  ranked.sort((a, b) => (a.pinned !== b.pinned ? (a.pinned ? -1 : 1) : a.score < b.score ? -1 : a.score > b.score ? 1 : a.channel < b.channel ? -1 : 1));
  const order = ranked.map((r) => r.channel);
  const withRanks = considered.map((c) => {
    if (!c.eligible) return c;
    const rank = order.indexOf(c.channel) + 1;
    const r = ranked[rank - 1];
    const reason = r?.pinned ? 'pinned by rule' : rank === 1 ? 'cheapest eligible' : `fallback ${rank - 1}`;
    return { ...c, rank, reason: weights.has(c.channel) ? `${reason} (weight ${weights.get(c.channel)})` : reason };
  });
  return { order, considered: withRanks, rulesApplied: rules.map(describeRule) };
}
