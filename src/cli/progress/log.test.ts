import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cumulative, NO_PROGRESS } from '../../batch/progress.js';
import { makeLogProgress } from './log.js';
import { figures, makeTracker } from './tracker.js';

function fakeClock(startMs = 1_000): { clock: () => number; at: (ms: number) => void } {
  let now = startMs;
  return { clock: () => now, at: (ms) => void (now = ms) };
}

describe('Given a phase of 10,000 rows started at t=1 s', () => {
  it('When 2,500 rows are done at t=3 s, Then the rate is 1,250 rows/s and 6 s are left (worked by hand)', () => {
    const t = fakeClock();
    const tracker = makeTracker(t.clock);
    tracker.start('import', 10_000);
    t.at(3_000);
    tracker.advance(2_500);
    const p = tracker.current();
    expect(p).toBeDefined();
    // 2,500 rows in 2 s = 1,250/s; 7,500 left / 1,250 = 6 s; 2,500 / 10,000 = 0.25
    expect(figures(p!, 3_000)).toEqual({ elapsedMs: 2_000, ratePerS: 1_250, etaS: 6, fraction: 0.25 });
  });

  it('When nothing is known yet, Then no rate and no time left are made up', () => {
    const t = fakeClock();
    const tracker = makeTracker(t.clock);
    tracker.start('load');
    expect(figures(tracker.current()!, 1_000)).toEqual({ elapsedMs: 0, ratePerS: null, etaS: null, fraction: null });
  });
});

describe('Given the plain log renderer (no terminal)', () => {
  it('When 20,000 rows arrive 1 at a time over 10 s, Then it writes one line per 2 s and one at the end, not one per row', () => {
    const t = fakeClock(0);
    const lines: string[] = [];
    const p = makeLogProgress({ json: false, write: (x) => lines.push(x), clock: t.clock, label: 'recon import' });
    p.start('import', 20_000);
    for (let i = 1; i <= 20_000; i++) {
      t.at(i / 2); // 10 s for the lot
      p.advance(1);
    }
    p.end({ rows: 20_000 });
    p.close();
    expect(lines).toHaveLength(5 + 1); // at 2, 4, 6, 8, 10 s and the end
    expect(lines[0]).toBe('recon import: import: 4,000/20,000 (20%), 2,000/s, 8 s left\n');
    expect(lines[5]).toBe('recon import: import: done, 20,000/20,000 in 10.0 s, 2,000/s — rows=20000\n');
  });

  it('When --json, Then the lines are NDJSON progress events with phase, rows, total, rate_per_s and eta_s', () => {
    const t = fakeClock(0);
    const lines: string[] = [];
    const p = makeLogProgress({ json: true, write: (x) => lines.push(x), clock: t.clock, intervalMs: 2_000 });
    p.start('match pair', 4_000);
    t.at(2_000);
    p.advance(1_000);
    t.at(3_000);
    p.advance(1_000); // within the interval: no line
    t.at(4_000);
    p.end({ outcomes: 2_000 });
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { event: 'progress', phase: 'match pair', rows: 1_000, total: 4_000, rate_per_s: 500, eta_s: 6 },
      { event: 'phase_end', phase: 'match pair', rows: 2_000, total: 4_000, rate_per_s: 500, eta_s: 0, elapsed_ms: 4_000, summary: { outcomes: 2_000 } },
    ]);
  });

  it('When a phase starts while another runs, Then the first one ends with its line', () => {
    const lines: string[] = [];
    const p = makeLogProgress({ json: false, write: (x) => lines.push(x), clock: () => 0 });
    p.start('a');
    p.advance(3);
    p.start('b');
    p.close();
    expect(lines).toEqual(['a: done, 3 in 0.0 s\n', 'b: done, 0 in 0.0 s\n']);
  });
});

describe('Given the progress port', () => {
  it('When a service reports cumulative counts, Then the port gets deltas and never goes backwards', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1_000_000 }), { maxLength: 50 }), (counts) => {
        let sum = 0;
        const report = cumulative({ ...NO_PROGRESS, advance: (n) => void (sum += n) });
        for (const c of counts) report(c);
        expect(sum).toBe(Math.max(0, ...counts));
      }),
    );
  });

  it('When any rows and times are fed, Then the fraction stays within 0..1 and the time left is never negative', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1e9 }), fc.array(fc.tuple(fc.nat({ max: 1e6 }), fc.nat({ max: 60_000 })), { maxLength: 30 }), (total, steps) => {
        let now = 0;
        const tracker = makeTracker(() => now);
        tracker.start('x', total);
        for (const [rows, dt] of steps) {
          now += dt;
          tracker.advance(rows);
          const f = figures(tracker.current()!, now);
          expect(f.fraction).toBeGreaterThanOrEqual(0);
          expect(f.fraction).toBeLessThanOrEqual(1);
          if (f.etaS !== null) expect(f.etaS).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });
});
