// The alert port's built-in adapters: a log line (always) and a webhook POST (when configured).
//
// The webhook body is JSON `{ "type": "settle.night_step_failed", business_date, step, exit_code,
// message, blocks, at }`; with a secret it carries `Settle-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret,
// t + "." + body)>` like merchant notifications, so a chat bridge or pager can check it came from us.
// An alert that cannot be delivered is logged and never stops the chain: the run log still holds the failure.

import { createHmac } from 'node:crypto';
import type { Alert, AlertPort } from './chain.js';

/** Longest response we read from a webhook (we only need its status). */
const WEBHOOK_RESPONSE_BYTES_MAX = 64 * 1024;

export function alertBody(alert: Alert): string {
  return JSON.stringify({
    type: 'settle.night_step_failed',
    business_date: alert.businessDate,
    step: alert.step,
    exit_code: alert.exitCode,
    message: alert.message,
    blocks: alert.blocks,
    at: new Date(alert.atMs).toISOString(),
  });
}

/** One JSON line per alert, e.g. on stderr where cron mails it and journald keeps it. */
export function logAlerts(write: (line: string) => void): AlertPort {
  return {
    send: (alert) => {
      write(`${JSON.stringify({ level: 'error', event: 'alert', business_date: alert.businessDate, step: alert.step, exit_code: alert.exitCode, message: alert.message, blocks: alert.blocks })}\n`);
      return Promise.resolve();
    },
  };
}

export interface WebhookOptions {
  readonly url: string;
  readonly timeoutMs: number;
  /** Signs the body when set (from an env var or file — never from the config itself). */
  readonly secret?: string;
  /** Where delivery problems are reported. */
  readonly onError: (message: string) => void;
  readonly clock?: () => number;
}

export function webhookAlerts(options: WebhookOptions): AlertPort {
  return {
    async send(alert) {
      const body = alertBody(alert);
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'settle-night' };
      if (options.secret !== undefined) {
        const t = Math.floor((options.clock ?? Date.now)() / 1000);
        headers['settle-signature'] = `t=${t},v1=${createHmac('sha256', options.secret).update(`${t}.${body}`).digest('hex')}`;
      }
      try {
        const res = await fetch(options.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(options.timeoutMs), redirect: 'error' });
        const reader = res.body?.getReader();
        let read = 0;
        while (reader) {
          const chunk = await reader.read();
          if (chunk.done) break;
          read += chunk.value.byteLength;
          if (read > WEBHOOK_RESPONSE_BYTES_MAX) {
            await reader.cancel();
            break;
          }
        }
        if (res.status < 200 || res.status > 299) options.onError(`alert webhook answered ${res.status} for ${alert.step} of ${alert.businessDate}`);
      } catch (e) {
        options.onError(`alert webhook unreachable for ${alert.step} of ${alert.businessDate}: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}

/** Sends every alert to each port in turn. */
export function fanOut(ports: readonly AlertPort[]): AlertPort {
  return {
    async send(alert) {
      for (const port of ports) await port.send(alert);
    },
  };
}
