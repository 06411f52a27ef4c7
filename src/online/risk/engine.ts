// The risk rule engine (风控). Pure: the request's facts and the state the rules read (velocity windows,
// the merchant's day so far, whether the payer has paid before) come in as values. Each rule returns
// allow, challenge or block with a reason; the strictest wins. The block list always blocks; the allow
// list lets a payer, card, device or IP through the behavioural rules, not through the hard limits.

export type Verdict = 'allow' | 'challenge' | 'block';
export const VERDICT_RANK: Record<Verdict, number> = { allow: 0, challenge: 1, block: 2 };

export type Dimension = 'payer' | 'card' | 'device' | 'ip';
export const DIMENSIONS: readonly Dimension[] = ['payer', 'card', 'device', 'ip'];

export interface RiskSubject {
  readonly merchantId: string;
  readonly product: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  /** The values of each dimension the request carries (card: the agreement or card token). */
  readonly keys: Readonly<Partial<Record<Dimension, string>>>;
}

export interface AmountRule {
  readonly product?: string | undefined;
  readonly currency: string;
  readonly challengeOverMinor: bigint | null;
  readonly blockOverMinor: bigint | null;
}

export interface VelocityRule {
  readonly dimension: Dimension;
  readonly windowMs: number;
  /** More than this many earlier attempts in the window (this one included) triggers the action. */
  readonly countMax: number | null;
  /** More than this amount in the window, this one included (in the request's currency). */
  readonly amountMaxMinor: bigint | null;
  readonly action: 'challenge' | 'block';
}

export interface MerchantDailyRule {
  /** A merchant id, or '*' for every merchant without its own rule. */
  readonly merchant: string;
  readonly currency: string;
  readonly amountMaxMinor: bigint;
  readonly action: 'challenge' | 'block';
}

export interface FirstTimePayerRule {
  /** Only above this amount (0: always). */
  readonly overMinor: bigint;
  readonly action: 'challenge' | 'block';
}

export interface RiskRules {
  readonly amounts: readonly AmountRule[];
  readonly velocity: readonly VelocityRule[];
  readonly blockList: Readonly<Partial<Record<Dimension, ReadonlySet<string>>>>;
  readonly allowList: Readonly<Partial<Record<Dimension, ReadonlySet<string>>>>;
  readonly merchantDaily: readonly MerchantDailyRule[];
  readonly firstTimePayer: FirstTimePayerRule | null;
}

export interface RiskFacts {
  /** Earlier attempts (count and amount) for a dimension's value within the last windowMs. */
  readonly velocity: (dimension: Dimension, value: string, windowMs: number) => { readonly count: number; readonly amountMinor: bigint };
  /** Amount the merchant has taken today in the currency, before this request. */
  readonly merchantToday: (merchantId: string, currency: string) => bigint;
  /** Whether the payer has a succeeded payment before (undefined when there is no payer). */
  readonly payerHasPaid: boolean | undefined;
}

export interface RuleHit {
  readonly rule: string;
  readonly verdict: Verdict;
  readonly reason: string;
}

export interface RiskAssessment {
  readonly decision: Verdict;
  /** Every rule that said more than allow (or the list that overrode them), strictest first. */
  readonly hits: readonly RuleHit[];
}

function listed(list: RiskRules['blockList'], subject: RiskSubject): { dimension: Dimension; value: string } | undefined {
  for (const dimension of DIMENSIONS) {
    const value = subject.keys[dimension];
    if (value !== undefined && list[dimension]?.has(value)) return { dimension, value };
  }
  return undefined;
}

function amountHits(rules: RiskRules, s: RiskSubject): RuleHit[] {
  const hits: RuleHit[] = [];
  // The most specific rule wins: one for the product, else one for all products.
  const rule =
    rules.amounts.find((r) => r.product === s.product && r.currency === s.currency) ?? rules.amounts.find((r) => r.product === undefined && r.currency === s.currency);
  if (!rule) return hits;
  const scope = rule.product ?? 'any product';
  if (rule.blockOverMinor !== null && s.amountMinor > rule.blockOverMinor) {
    hits.push({ rule: 'amount', verdict: 'block', reason: `amount ${s.amountMinor} over the block threshold ${rule.blockOverMinor} ${s.currency} for ${scope}` });
  } else if (rule.challengeOverMinor !== null && s.amountMinor > rule.challengeOverMinor) {
    hits.push({ rule: 'amount', verdict: 'challenge', reason: `amount ${s.amountMinor} over the challenge threshold ${rule.challengeOverMinor} ${s.currency} for ${scope}` });
  }
  return hits;
}

function velocityHits(rules: RiskRules, s: RiskSubject, facts: RiskFacts): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const rule of rules.velocity) {
    const value = s.keys[rule.dimension];
    if (value === undefined) continue;
    const seen = facts.velocity(rule.dimension, value, rule.windowMs);
    const windowS = Math.round(rule.windowMs / 1000);
    if (rule.countMax !== null && seen.count + 1 > rule.countMax) {
      hits.push({ rule: `velocity.${rule.dimension}`, verdict: rule.action, reason: `${seen.count + 1} attempts by ${rule.dimension} ${value} within ${windowS} s (limit ${rule.countMax})` });
    } else if (rule.amountMaxMinor !== null && seen.amountMinor + s.amountMinor > rule.amountMaxMinor) {
      hits.push({
        rule: `velocity.${rule.dimension}`,
        verdict: rule.action,
        reason: `${seen.amountMinor + s.amountMinor} ${s.currency} by ${rule.dimension} ${value} within ${windowS} s (limit ${rule.amountMaxMinor})`,
      });
    }
  }
  return hits;
}

function merchantDailyHits(rules: RiskRules, s: RiskSubject, facts: RiskFacts): RuleHit[] {
  const rule =
    rules.merchantDaily.find((r) => r.merchant === s.merchantId && r.currency === s.currency) ??
    rules.merchantDaily.find((r) => r.merchant === '*' && r.currency === s.currency);
  if (!rule) return [];
  const today = facts.merchantToday(s.merchantId, s.currency);
  if (today + s.amountMinor <= rule.amountMaxMinor) return [];
  return [{ rule: 'merchant_daily', verdict: rule.action, reason: `merchant ${s.merchantId} would take ${today + s.amountMinor} ${s.currency} today (limit ${rule.amountMaxMinor})` }];
}

function firstTimeHits(rules: RiskRules, s: RiskSubject, facts: RiskFacts): RuleHit[] {
  const rule = rules.firstTimePayer;
  if (!rule || facts.payerHasPaid !== false || s.amountMinor <= rule.overMinor) return [];
  return [{ rule: 'first_time_payer', verdict: rule.action, reason: `payer ${s.keys.payer ?? '?'} has not paid before` }];
}

export function assess(rules: RiskRules, subject: RiskSubject, facts: RiskFacts): RiskAssessment {
  const blocked = listed(rules.blockList, subject);
  if (blocked) return { decision: 'block', hits: [{ rule: 'block_list', verdict: 'block', reason: `${blocked.dimension} ${blocked.value} is on the block list` }] };
  let hits = [...amountHits(rules, subject), ...velocityHits(rules, subject, facts), ...merchantDailyHits(rules, subject, facts), ...firstTimeHits(rules, subject, facts)];
  // The allow list waives the behavioural rules (velocity, first-time payer, challenges), never the hard
  // limits: its keys come from the request, so an amount over the block threshold or past the
  // merchant's day still blocks.
  const allowed = listed(rules.allowList, subject);
  if (allowed) {
    const hard = hits.filter((h) => h.verdict === 'block' && (h.rule === 'amount' || h.rule === 'merchant_daily'));
    hits = [...hard, { rule: 'allow_list', verdict: 'allow', reason: `${allowed.dimension} ${allowed.value} is on the allow list` }];
  }
  hits.sort((a, b) => VERDICT_RANK[b.verdict] - VERDICT_RANK[a.verdict]);
  return { decision: hits[0]?.verdict ?? 'allow', hits };
}
