// settle order show ID: one payment as an operator needs it — its state, how it was routed (every
// channel considered and why, each failed attempt), the risk decision with every rule that fired, and
// the events published for it. Read-only.

import type { Command } from 'commander';
import type { RouteRecord } from '../../online/payments/service.js';
import type { PaymentRecord } from '../../online/port.js';
import { withOnlineStore, type Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { money, table } from '../output.js';

interface RiskJson {
  readonly decision: string;
  readonly hits: readonly { rule: string; verdict: string; reason: string }[];
}

export function registerOrderCommands(program: Command, run: Run): void {
  const order = program.command('order').description('look at orders of the online core');
  order
    .command('show')
    .description('show a payment: state, route (channels considered and why, attempts), risk decision and events')
    .argument('<id>', 'the payment id (pay_…)')
    .action(
      run(async (ctx, id: string) => {
        const found = await withOnlineStore(ctx, (store) =>
          store.read((tx) => {
            const p = tx.payment(null, id);
            return p && { payment: p, challenge: tx.challenge(id) };
          }),
        );
        if (!found) throw new AbortError('order_not_found', `No payment ${id}.`, 'Check the id (payment ids start with pay_); settle ledger journal shows the entries of paid ones.');
        const p = found.payment;
        const route = p.routeJson === null ? null : (JSON.parse(p.routeJson) as RouteRecord);
        const risk = p.riskJson === null ? null : (JSON.parse(p.riskJson) as RiskJson);
        const challenge = found.challenge === undefined ? null : { status: found.challenge.status, attempts: found.challenge.attempts, attempts_max: found.challenge.attemptsMax, phone: found.challenge.phoneHint };
        ctx.out.result({ ok: true, payment: paymentJson(p), route, risk, challenge }, () => human(p, route, risk, challenge));
        return EXIT.ok;
      }),
    );
}

function paymentJson(p: PaymentRecord): Record<string, unknown> {
  return {
    id: p.paymentId,
    merchant_id: p.merchantId,
    merchant_order_no: p.merchantOrderNo,
    product: p.product,
    amount_minor: p.amountMinor,
    currency: p.currency,
    status: p.status,
    channel: p.channelId,
    channel_txn_id: p.channelTxnId,
    fee_minor: p.feeMinor,
    cost_minor: p.costMinor,
    business_date: p.businessDate,
    failure_code: p.failureCode,
    failure_message: p.failureMessage,
    route_note: p.routeNote,
    created_at: new Date(p.createdAtMs).toISOString(),
    updated_at: new Date(p.updatedAtMs).toISOString(),
  };
}

function human(p: PaymentRecord, route: RouteRecord | null, risk: RiskJson | null, challenge: Record<string, unknown> | null): string {
  const lines = [
    `${p.paymentId}  ${p.status}${p.failureCode ? ` (${p.failureCode}: ${p.failureMessage ?? ''})` : ''}`,
    `  merchant ${p.merchantId}  order ${p.merchantOrderNo}  ${p.product}  ${money(p.amountMinor, p.currency)}  fee ${money(p.feeMinor, p.currency)}  cost ${money(p.costMinor, p.currency)}`,
    `  channel ${p.channelId ?? '-'}  txn ${p.channelTxnId ?? '-'}  business date ${p.businessDate ?? '-'}`,
    '',
    `Route: ${p.routeNote ?? '-'}`,
  ];
  if (route) {
    lines.push(
      table(
        ['channel', 'eligible', '>rank', '>expected cost', 'why'],
        route.considered.map((c) => [c.channel, c.eligible ? 'yes' : 'no', c.rank === null ? '' : String(c.rank), c.expectedCostMinor === null ? '' : money(BigInt(c.expectedCostMinor), p.currency), c.reason]),
      ),
    );
    if (route.rules.length > 0) lines.push(`  rules: ${route.rules.join('; ')}`);
    for (const a of route.attempts) lines.push(`  attempt at ${a.channel} failed ${new Date(a.atMs).toISOString()}: ${a.outcome}`);
  }
  lines.push('', `Risk: ${risk?.decision ?? '-'}`);
  for (const h of risk?.hits ?? []) lines.push(`  ${h.verdict.padEnd(9)} ${h.rule}: ${h.reason}`);
  if (challenge) lines.push(`  challenge ${String(challenge['status'])}, ${String(challenge['attempts'])} of ${String(challenge['attempts_max'])} attempts, phone ${String(challenge['phone'])}`);
  return lines.join('\n');
}
