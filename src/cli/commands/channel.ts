// settle channel status: each channel's health (its circuit breaker as the daemon last saved it) and
// today's usage against its limits. Read-only; works while the daemon runs.

import type { Command } from 'commander';
import { routableChannel } from '../../online/routing/config.js';
import { loadConfig } from '../config.js';
import { withOnlineStore, type Run } from '../context.js';
import { EXIT } from '../errors.js';
import { money, table } from '../output.js';

export function registerChannelCommands(program: Command, run: Run): void {
  const channel = program.command('channel').description('the payment channels of the online core');
  channel
    .command('status')
    .description('health (circuit breaker) and today\u2019s usage against limits, per channel')
    .option('--config <file>', 'the settle config (default: the sample config)')
    .action(
      run(async (ctx, opts: { config?: string }) => {
        const config = loadConfig(opts.config);
        const { day, usage, health } = await withOnlineStore(ctx, async (store) => {
          const today = await store.read((tx) => tx.openDay());
          return { day: today, usage: await store.channelUsage(today), health: await store.channelHealth() };
        });
        const rows = config.online.channels.flatMap((c) => {
          const limits = routableChannel(c);
          const h = health.find((x) => x.channelId === c.id);
          return c.currencies.map((currency) => {
            const u = usage.find((x) => x.channelId === c.id && x.currency === currency) ?? { amountMinor: 0n, count: 0 };
            return {
              channel: c.id,
              currency,
              state: h?.state ?? 'unknown',
              since: h ? new Date(h.sinceMs).toISOString() : null,
              reason: h?.reason ?? 'the daemon has not reported this channel',
              window_calls: h?.calls ?? 0,
              window_failures: h?.failures ?? 0,
              used_amount_minor: u.amountMinor,
              used_count: u.count,
              daily_amount_max_minor: limits.dailyAmountMaxMinor,
              daily_count_max: limits.dailyCountMax,
            };
          });
        });
        ctx.out.result({ ok: true, business_date: day, channels: rows }, () =>
          [
            `Business day ${day}`,
            table(
              ['channel', 'currency', 'breaker', '>failures', '>used', '>limit', '>count', '>count limit', 'note'],
              rows.map((r) => [
                r.channel,
                r.currency,
                r.state,
                `${r.window_failures}/${r.window_calls}`,
                money(r.used_amount_minor, r.currency),
                r.daily_amount_max_minor === null ? '-' : money(r.daily_amount_max_minor, r.currency),
                String(r.used_count),
                r.daily_count_max === null ? '-' : String(r.daily_count_max),
                r.reason,
              ]),
            ),
          ].join('\n'),
        );
        return rows.some((r) => r.state === 'open') ? EXIT.findings : EXIT.ok;
      }),
    );
}
