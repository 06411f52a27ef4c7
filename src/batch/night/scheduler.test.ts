// The scheduler on a fake clock: node-cron's ticks in the config's time zone, the business date each
// covers, a locked chain logged rather than raised, and stop waiting for a running chain.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { startNightScheduler, type RunNight, type SchedulerEvent } from './scheduler.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('Given the night scheduler at 00:30 Shanghai time', () => {
  it('When two days pass, Then it ticks twice, each for the day before, and logs each finish', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-09T16:00:00Z') }); // 00:00 on the 10th in Shanghai
    const events: SchedulerEvent[] = [];
    const dates: string[] = [];
    const runNight: RunNight = (d) => Promise.resolve(void dates.push(d)).then(() => ({ exitCode: 2 }));
    const s = startNightScheduler({ config: { schedule: '30 0 * * *', business_date: 'yesterday' }, timezone: 'Asia/Shanghai', runNight, log: (e) => events.push(e) });
    expect(events[0]).toEqual({ kind: 'scheduled', schedule: '30 0 * * *', timezone: 'Asia/Shanghai', nextRunAt: '2026-03-09T16:30:00.000Z' });
    await vi.advanceTimersByTimeAsync(29 * 60_000);
    expect(dates).toEqual([]);
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(dates).toEqual(['2026-03-09']);
    await vi.advanceTimersByTimeAsync(24 * 3600_000);
    expect(dates).toEqual(['2026-03-09', '2026-03-10']);
    expect(events.filter((e) => e.kind === 'finished')).toEqual([
      { kind: 'finished', businessDate: '2026-03-09', exitCode: 2 },
      { kind: 'finished', businessDate: '2026-03-10', exitCode: 2 },
    ]);
    await s.stop();
  });

  it('When another run holds the chain, or the chain throws, Then the tick is logged politely and the scheduler keeps going', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-09T16:29:00Z') });
    const events: SchedulerEvent[] = [];
    let n = 0;
    const runNight: RunNight = () => (++n === 1 ? Promise.resolve({ locked: 'night-chain for 2026-03-09 is running (run 7 by h:1)' }) : Promise.reject(new Error('disk full')));
    const s = startNightScheduler({ config: { schedule: '30 0 * * *', business_date: 'yesterday' }, timezone: 'Asia/Shanghai', runNight, log: (e) => events.push(e) });
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    await vi.advanceTimersByTimeAsync(24 * 3600_000);
    expect(events.filter((e) => e.kind === 'locked' || e.kind === 'error')).toEqual([
      { kind: 'locked', businessDate: '2026-03-09', message: 'night-chain for 2026-03-09 is running (run 7 by h:1)' },
      { kind: 'error', businessDate: '2026-03-10', message: 'disk full' },
    ]);
    await s.stop();
  });

  it('When stopped while a chain runs, Then stop waits for it, and no further tick fires', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-09T16:29:59Z') });
    let finish = (): void => undefined;
    const dates: string[] = [];
    const runNight: RunNight = (d) => {
      dates.push(d);
      return new Promise((done) => (finish = () => done({ exitCode: 0 })));
    };
    const s = startNightScheduler({ config: { schedule: '30 0 * * *', business_date: 'today' }, timezone: 'Asia/Shanghai', runNight, log: () => undefined });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(dates).toEqual(['2026-03-10']);
    let stopped = false;
    const stopping = s.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(10);
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(stopped).toBe(true);
    await vi.advanceTimersByTimeAsync(48 * 3600_000);
    expect(dates).toEqual(['2026-03-10']);
  });
});
