// The night section: defaults, refusals, and which business date a run at a given instant covers.

import { describe, expect, it } from 'vitest';
import { addDays, businessDateFor, parseNightConfig } from './config.js';

describe('Given the night section of the config', () => {
  it('When it is absent, Then the defaults apply: 00:30 every day, for yesterday, statements on, two steps at once, 5 s alert timeout', () => {
    const r = parseNightConfig(undefined);
    expect(r).toEqual({ ok: true, value: { schedule: '30 0 * * *', business_date: 'yesterday', out_dir: 'night', statements: true, parallel_steps: 2, alert: { timeout_ms: 5000 } } });
  });

  it('When the schedule is not a cron expression, or a key is unknown, or the webhook is not http(s), or parallel_steps is not 1 to 8, Then it is refused', () => {
    expect(parseNightConfig({ schedule: 'at half past midnight' }).ok).toBe(false);
    expect(parseNightConfig({ schedul: '30 0 * * *' }).ok).toBe(false);
    expect(parseNightConfig({ alert: { webhook_url: 'file:///etc/passwd' } }).ok).toBe(false);
    expect(parseNightConfig({ alert: { secret_env: 'not an env name' } }).ok).toBe(false);
    for (const parallel_steps of [0, 9, 1.5, '2']) expect(parseNightConfig({ parallel_steps }).ok).toBe(false);
    expect(parseNightConfig({ parallel_steps: 1 }).ok).toBe(true);
    expect(parseNightConfig({ schedule: '*/5 * * * * *', alert: { webhook_url: 'https://ops.example/hook', secret_env: 'SETTLE_ALERT_SECRET' } }).ok).toBe(true);
  });

  it('When a run fires at 00:30 in Shanghai (16:30 UTC the day before), Then it covers the Shanghai calendar day before', () => {
    const at = Date.parse('2026-03-09T16:30:00Z'); // 2026-03-10 00:30 in Asia/Shanghai
    expect(businessDateFor(at, 'Asia/Shanghai', 'yesterday')).toBe('2026-03-09');
    expect(businessDateFor(at, 'Asia/Shanghai', 'today')).toBe('2026-03-10');
    expect(businessDateFor(at, 'UTC', 'yesterday')).toBe('2026-03-08');
  });

  it('When days are added across month and year ends and a leap day, Then the calendar is right', () => {
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(addDays('2028-03-01', -1)).toBe('2028-02-29');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
  });
});
