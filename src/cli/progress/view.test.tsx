import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { bar, ProgressView } from './view.js';
import { makeTracker } from './tracker.js';

describe('Given the progress view fed by a tracker on a fake clock', () => {
  it('When import is a quarter done and load is over, Then it shows a bar, rows done/total, the rate and the time left', () => {
    let now = 0;
    const tracker = makeTracker(() => now);
    tracker.start('match load');
    now = 500;
    tracker.advance(8);
    tracker.end({ lines: 4 });
    tracker.start('import', 10_000);
    now = 2_500;
    tracker.advance(2_500); // 2,500 rows in 2 s: 1,250/s, 7,500 left: 6 s
    const { lastFrame, unmount } = render(<ProgressView label="recon run wallet 2026-11-26" phases={[...tracker.phases()]} nowMs={now} />);
    const frame = lastFrame() ?? '';
    unmount();
    expect(frame).toContain('recon run wallet 2026-11-26');
    expect(frame).toMatch(/✔ match load\s+8 rows\s+16\/s\s+0\.5 s lines=4/u);
    expect(frame).toContain(`${'█'.repeat(7)}${'░'.repeat(23)}`); // 25% of 30 cells, rounded down
    expect(frame).toContain('2,500/10,000 rows');
    expect(frame).toContain('1,250/s');
    expect(frame).toContain('ETA 6 s');
  });

  it('When the total is unknown, Then no bar and no ETA are drawn, only rows and rate', () => {
    let now = 0;
    const tracker = makeTracker(() => now);
    tracker.start('share payments');
    now = 1_000;
    tracker.advance(300);
    const { lastFrame, unmount } = render(<ProgressView label="share" phases={[...tracker.phases()]} nowMs={now} />);
    const frame = lastFrame() ?? '';
    unmount();
    expect(frame).toContain('300 rows');
    expect(frame).toContain('300/s');
    expect(frame).not.toContain('ETA');
    expect(frame).not.toContain('░');
  });

  it('Then the bar is full at the end and empty at the start', () => {
    expect(bar(1, 4)).toBe('████');
    expect(bar(0, 4)).toBe('░░░░');
    expect(bar(0.5, 4)).toBe('██░░');
  });
});

describe('Given a terminal stream', () => {
  it('When a command reports through the live ink renderer, Then frames with the bar go to that stream and it closes cleanly', async () => {
    const { EventEmitter } = await import('node:events');
    const { makeInkProgress } = await import('./view.js');
    const written: string[] = [];
    const stream = Object.assign(new EventEmitter(), { isTTY: true, columns: 120, rows: 40, write: (s: string) => written.push(s) > 0 }) as unknown as NodeJS.WriteStream;
    let now = 0;
    const p = makeInkProgress(stream, () => now, 'recon import wallet 2026-11-26');
    p.start('import', 1_000);
    now = 1_000;
    p.advance(500);
    p.end({ rows: 500 });
    p.close();
    const all = written.join('');
    expect(all).toContain('recon import wallet 2026-11-26');
    expect(all).toContain('500/1,000 rows');
    expect(all).toContain('rows=500');
  });
});
