// Routing, risk and the operator's view of them through the real daemon and the channel simulator:
// a challenged payment verified with the code from the SMS file, `settle order show`, and the breaker
// opening on a simulated outage as `settle channel status` reports it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { riskSchema } from '../src/online/risk/config.js';
import { routingSchema } from '../src/online/routing/config.js';
import { runCli } from './support/cli.js';
import { startStack, waitFor, type Stack } from './support/online.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({
    onlineConfig: {
      risk: riskSchema.parse({ amounts: [{ currency: 'CNY', challenge_over_minor: '50000' }], otp: { sms_file: 'sms.ndjson' } }),
      routing: routingSchema.parse({ breaker: { window_s: 60, min_calls: 3, failure_ratio: '0.5', open_s: 300 } }),
    },
  });
});
afterAll(async () => s.close());

let n = 0;
const orderNo = (): string => `RT-${Date.now()}-${++n}`;
const cli = (...args: string[]) => runCli({ db: join(s.dir, 'settle.db'), cwd: s.dir, nowMs: Date.now }, ...args);

describe('Given the daemon with a challenge threshold of 500.00 and the simulator', () => {
  it('When a payment of 600.00 is made, Then it waits for the code sent by SMS; verify continues it at the channel; order show tells the story', async () => {
    const r = await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 60_000, currency: 'CNY', phone: '13812345678', device_id: 'dev-9' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'requires_verification', next_action: { type: 'verify_code' } });
    const id = String(r.body['id']);
    const line = await waitFor(async () => {
      try {
        return readFileSync(join(s.dir, 'sms.ndjson'), 'utf8').split('\n').find((l) => l.includes(id));
      } catch {
        return undefined;
      }
    });
    const code = /code is (\d+)/.exec(line)?.[1] ?? '';
    expect(code).toMatch(/^\d{6}$/);
    const wrong = await s.request('POST', `/v1/payments/${id}/verify`, { code: code === '000000' ? '000001' : '000000' });
    expect(wrong.status).toBe(422);
    expect(wrong.body).toMatchObject({ error: { code: 'challenge_code_invalid' } });
    const ok = await s.request('POST', `/v1/payments/${id}/verify`, { code });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'succeeded', channel: 'bank' });

    const shown = await cli('order', 'show', id, '--json');
    expect(shown.code).toBe(0);
    expect(shown.json).toMatchObject({
      ok: true,
      payment: { id, status: 'succeeded', channel: 'bank' },
      risk: { decision: 'challenge', hits: [{ rule: 'amount', verdict: 'challenge' }] },
      challenge: { status: 'verified', attempts: 2, attempts_max: 3, phone: '138****5678' },
    });
    const route = shown.json['route'] as { considered: { channel: string; eligible: boolean; reason: string }[] };
    expect(route.considered.find((c) => c.channel === 'bank')).toMatchObject({ eligible: true, reason: 'cheapest eligible' });
    expect(route.considered.find((c) => c.channel === 'wallet')).toMatchObject({ eligible: false, reason: 'does not offer foreign_card' });
    const human = await cli('order', 'show', id);
    expect(human.stdout).toContain('Risk: challenge');
    expect(human.stdout).toContain('does not offer foreign_card');
  });

  it('When the bank has an outage, Then the failures open its breaker and channel status reports it (exit 2); order show of a missing id refuses', async () => {
    const knob = await fetch(`${s.sim.url}/admin/channels/bank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outage: true }) });
    expect(knob.status).toBe(200);
    // The window holds the earlier successful call too: the breaker opens once failures reach half of 3 or more calls.
    const answers: { status: number; body: Record<string, unknown> }[] = [];
    for (let i = 0; i < 5 && answers.at(-1)?.status !== 503; i++) {
      answers.push(await s.request('POST', '/v1/payments', { merchant_order_no: orderNo(), product: 'foreign_card', amount: 1_000, currency: 'CNY' }));
    }
    const refused = answers.at(-1) ?? { status: 0, body: {} };
    expect(answers.slice(0, -1).map((a) => a.body['status'])).toEqual(['processing', 'processing']);
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: 'channel_unavailable' } });
    expect(String((refused.body['error'] as { message: string }).message)).toContain('bank: circuit breaker open');
    const status = await waitFor(async () => {
      const st = await cli('channel', 'status', '--json');
      return st.code === 2 ? st : undefined;
    });
    const bank = (status.json['channels'] as { channel: string; currency: string; state: string; used_count: number }[]).find((c) => c.channel === 'bank' && c.currency === 'CNY');
    expect(bank).toMatchObject({ state: 'open' });
    expect(bank?.used_count).toBeGreaterThanOrEqual(3);
    await fetch(`${s.sim.url}/admin/channels/bank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outage: false }) });

    const missing = await cli('order', 'show', 'pay_nope', '--json');
    expect(missing.code).toBe(1);
    expect(missing.json).toMatchObject({ ok: false, code: 'order_not_found' });
    const noDb = await runCli({ db: join(s.dir, 'nope.db'), cwd: s.dir, nowMs: Date.now }, 'channel', 'status', '--json');
    expect(noDb.json).toMatchObject({ ok: false, code: 'db_not_found' });
  });
});
