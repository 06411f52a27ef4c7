// `settle dispatch --once` and `settle notify list|show|retry` in-process on a real database file, against
// a real receiver on loopback: failed notifications are seen, shown attempt by attempt, and re-sent.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfigPath } from '../src/cli/config.js';
import { makeFixture, startReceiver, type Fixture, type Receiver } from '../src/online/notify/test-support.js';
import { runCli, type CliPlace } from './support/cli.js';

let fx: Fixture;
let receiver: Receiver;
let place: CliPlace;
let configPath: string;
let shopA: string;
let shopB: string;

function writeConfig(name: string, notify: Record<string, unknown>): string {
  const sample = JSON.parse(readFileSync(defaultConfigPath(), 'utf8')) as Record<string, unknown>;
  const online = (sample['online'] ?? {}) as Record<string, unknown>;
  const path = join(fx.dir, name);
  // The test's merchants listen on loopback: allowed here, refused by default (notify_url_forbidden).
  writeFileSync(path, JSON.stringify({ ...sample, online: { ...online, notify: { allow_private_networks: true, ...notify } } }));
  return path;
}

beforeAll(async () => {
  fx = await makeFixture();
  receiver = await startReceiver({ status: 503, body: 'maintenance' });
  shopA = (await fx.addMerchant(`${receiver.url}/a`)).merchantId;
  shopB = (await fx.addMerchant()).merchantId;
  await fx.publish('payment.succeeded', 'pay_1', shopA, { id: 'pay_1', object: 'payment', notify_url: null });
  await fx.publish('payment.succeeded', 'pay_2', shopB, { id: 'pay_2', object: 'payment', notify_url: null });
  await fx.publish('refund.succeeded', 'ref_1', shopA, { id: 'ref_1', object: 'refund', payment_id: 'pay_1' });
  // No retries: the first failure marks a notification failed, so one --once run reaches that state.
  configPath = writeConfig('no-retries.json', { retry_schedule_s: [], sink: { kind: 'none' } });
  place = { db: fx.dbPath, cwd: fx.dir, nowMs: () => Date.now(), env: fx.env };
});
afterAll(async () => {
  await receiver.close();
  await fx.close();
});

describe('Given notifications to an endpoint that answers 503', () => {
  it('When settle dispatch --once runs, Then it moves the outbox, attempts each notification once and reports them failed', async () => {
    const r = await runCli(place, '--json', 'dispatch', '--once', '--config', configPath);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ ok: true, ingested: 3, notifications_made: 2, attempts: 2, succeeded: 0, retry_scheduled: 0, failed: 2, interrupted: 0 });
    expect(receiver.received.map((x) => x.path)).toEqual(['/a', '/a']);
  });

  it('When an operator lists them, Then the filters by state and merchant apply and the last outcome is shown', async () => {
    const failed = await runCli(place, '--json', 'notify', 'list', '--state', 'failed');
    expect(failed.code).toBe(0);
    const rows = failed.json['notifications'] as Record<string, unknown>[];
    expect(rows.map((x) => x['event_id'])).toEqual(['evt_0000000000000003', 'evt_0000000000000001']);
    expect(rows[0]).toMatchObject({ merchant_id: shopA, type: 'refund.succeeded', state: 'failed', attempts: 1, last_http_status: 503, last_error: 'endpoint_http_error', next_attempt_at: null });
    expect(((await runCli(place, '--json', 'notify', 'list', '--merchant', shopB)).json['notifications'] as unknown[]).length).toBe(0);
    const human = await runCli(place, 'notify', 'list', '--limit', '1');
    expect(human.stdout).toContain('evt_0000000000000003');
    expect(human.stdout).not.toContain('evt_0000000000000001');
    expect((await runCli(place, '--json', 'notify', 'list', '--state', 'lost')).json).toMatchObject({ ok: false, code: 'notify_input_invalid' });
    expect((await runCli(place, '--json', 'notify', 'list', '--limit', '0')).json).toMatchObject({ ok: false, code: 'notify_input_invalid' });
  });

  it('When an operator shows one, Then each attempt has its time, status code, error and the start of the answer', async () => {
    const r = await runCli(place, '--json', 'notify', 'show', 'evt_0000000000000001');
    expect(r.code).toBe(0);
    expect(r.json['notification']).toMatchObject({ event_id: 'evt_0000000000000001', url: `${receiver.url}/a`, state: 'failed' });
    const attempts = r.json['attempts'] as Record<string, unknown>[];
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ attempt: 1, http_status: 503, error: 'endpoint_http_error', detail: 'maintenance' });
    expect(String(attempts[0]?.['started_at'])).toMatch(/^\d{4}-\d\d-\d\dT/);
    const human = await runCli(place, 'notify', 'show', '1');
    expect(human.stdout).toContain('endpoint_http_error');
    const missing = await runCli(place, '--json', 'notify', 'show', 'evt_0000000000000099');
    expect(missing.code).toBe(1);
    expect(missing.json).toMatchObject({ ok: false, code: 'delivery_not_found' });
    expect((await runCli(place, '--json', 'notify', 'show', 'pay_1')).json).toMatchObject({ ok: false, code: 'notify_input_invalid' });
  });

  it('When the operator re-sends one after the merchant fixed its endpoint, Then it is delivered and the other stays failed', async () => {
    receiver.behave({ status: 200 });
    const retried = await runCli(place, '--json', 'notify', 'retry', 'evt_0000000000000001');
    expect(retried.json).toEqual({ ok: true, requeued: ['evt_0000000000000001'] });
    const again = await runCli(place, '--json', 'notify', 'retry', 'evt_0000000000000001');
    expect(again.code).toBe(1);
    expect(again.json).toMatchObject({ ok: false, code: 'delivery_not_failed' });
    expect((await runCli(place, '--json', 'notify', 'retry', 'evt_0000000000000042')).json).toMatchObject({ ok: false, code: 'delivery_not_found' });
    expect((await runCli(place, '--json', 'notify', 'retry')).json).toMatchObject({ ok: false, code: 'notify_input_invalid' });
    expect((await runCli(place, '--json', 'notify', 'retry', '--all-failed')).json).toMatchObject({ ok: false, code: 'notify_input_invalid' });

    const run = await runCli(place, '--json', 'dispatch', '--once', '--config', configPath);
    expect(run.json).toMatchObject({ ok: true, ingested: 0, attempts: 1, succeeded: 1, failed: 0 });
    const shown = await runCli(place, '--json', 'notify', 'show', 'evt_0000000000000001');
    expect(shown.json['notification']).toMatchObject({ state: 'succeeded', attempts: 2 });
    expect((shown.json['attempts'] as Record<string, unknown>[]).map((a) => a['http_status'])).toEqual([503, 200]);
    expect(((await runCli(place, '--json', 'notify', 'list', '--state', 'failed')).json['notifications'] as unknown[]).length).toBe(1);
  });

  it("When the operator re-sends all of a merchant's failed ones, Then each is re-queued and delivered", async () => {
    const r = await runCli(place, '--json', 'notify', 'retry', '--all-failed', '--merchant', shopA);
    expect(r.json).toEqual({ ok: true, requeued: ['evt_0000000000000003'], more_failed: false });
    const human = await runCli(place, 'notify', 'retry', '--all-failed', '--merchant', shopA);
    expect(human.stdout).toContain('0 failed notification(s)');
    const run = await runCli(place, '--json', 'dispatch', '--once', '--config', configPath);
    expect(run.json).toMatchObject({ attempts: 1, succeeded: 1 });
    expect(((await runCli(place, '--json', 'notify', 'list', '--state', 'succeeded')).json['notifications'] as unknown[]).length).toBe(2);
  });
});

describe('Given a config that names a notification secret nobody set', () => {
  it('When settle dispatch starts, Then it refuses with notify_secret_unavailable and names the variable', async () => {
    const path = writeConfig('missing-secret.json', { secrets: { [shopA]: { env: 'SHOP_A_NOTIFY_SECRET' } } });
    const r = await runCli(place, '--json', 'dispatch', '--once', '--config', path);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'notify_secret_unavailable' });
    expect(String(r.json['message'])).toContain('SHOP_A_NOTIFY_SECRET');
  });

  it('When the event sink cannot be written, Then settle dispatch --once stops with event_sink_failed and the outbox keeps its rows', async () => {
    await fx.publish('payment.closed', 'pay_9', shopB, { id: 'pay_9', object: 'payment', notify_url: null });
    writeFileSync(join(fx.dir, 'not-a-dir'), 'a file where the sink folder should be');
    const path = writeConfig('bad-sink.json', { sink: { kind: 'file', dir: 'not-a-dir' } });
    const r = await runCli(place, '--json', 'dispatch', '--once', '--config', path);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'event_sink_failed' });
    const waiting = fx.db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE delivered_at_ms IS NULL').get() as { n: bigint };
    expect(waiting.n).toBe(1n);
    // Once the sink works, the row moves.
    const ok = await runCli(place, '--json', 'dispatch', '--once', '--config', configPath);
    expect(ok.json).toMatchObject({ ok: true, ingested: 1 });
  });

  it('When the config holds an unknown key or a secret in its text, Then the config is refused', async () => {
    const unknown = writeConfig('unknown-key.json', { retry_everything: true });
    expect((await runCli(place, '--json', 'dispatch', '--once', '--config', unknown)).json).toMatchObject({ ok: false, code: 'config_invalid' });
    const literal = writeConfig('literal-secret.json', { secrets: { [shopA]: { value: 'whsec_in_the_config' } } });
    expect((await runCli(place, '--json', 'dispatch', '--once', '--config', literal)).json).toMatchObject({ ok: false, code: 'config_invalid' });
  });
});
