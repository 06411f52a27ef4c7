import { describe, expect, it } from 'vitest';
import type { Progress } from '../../batch/progress.js';
import { clearEvents, fetchEvents, matchEvents, progressOf, shareEvents } from './bridges.js';

function recorder(): Progress & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    start: (phase, total) => void calls.push(`start ${phase}${total === undefined ? '' : ` /${total}`}`),
    advance: (rows) => void calls.push(`+${rows}`),
    end: (summary) => void calls.push(`end${summary ? ` ${JSON.stringify(summary)}` : ''}`),
  };
}

describe('Given the services’ own progress events', () => {
  it('When a match reports loaded, matched and stored, Then three phases run with their totals and summaries', () => {
    const p = recorder();
    const on = matchEvents(p);
    on({ kind: 'loaded', lines: 4, records: 3, pool: 1, elapsedMs: 5 });
    on({ kind: 'matched', outcomes: 6, elapsedMs: 6 });
    on({ kind: 'stored', items: 6, elapsedMs: 9 });
    expect(p.calls).toEqual([
      'start match load',
      '+8',
      'end {"lines":4,"records":3,"pool":1}',
      'start match pair /4',
      '+4',
      'end {"outcomes":6}',
      'start match store /6',
      '+6',
      'end {"items":6}',
    ]);
  });

  it('When a fetch is not ready and then fetched, Then each attempt is a phase and the bytes are counted once', () => {
    const p = recorder();
    const on = fetchEvents(p);
    on({ kind: 'attempt', attempt: 1, remotePath: '/a' });
    on({ kind: 'not_ready', attempt: 1, retryInMs: 60_000 });
    on({ kind: 'attempt', attempt: 2, remotePath: '/a' });
    on({ kind: 'fetched', bytes: 2048, sha256: 'ab', newFile: true });
    expect(p.calls).toEqual(['start fetch attempt 1', 'end {"not_ready":true,"retry_in_s":60}', 'start fetch attempt 2', '+2048', 'end {"bytes":2048,"new_file":true}']);
  });

  it('When clearing and sharing report running counts, Then the port gets deltas per phase', () => {
    const c = recorder();
    const onClear = clearEvents(c);
    onClear({ kind: 'loaded', candidates: 10, elapsedMs: 1 });
    onClear({ kind: 'written', batches: 2, elapsedMs: 2 });
    onClear({ kind: 'written', batches: 5, elapsedMs: 3 });
    expect(c.calls).toEqual(['start clear load', '+10', 'end {"candidates":10}', 'start clear write', '+2', '+3']);
    const s = recorder();
    const onShare = shareEvents(s);
    onShare({ kind: 'payments', done: 500 });
    onShare({ kind: 'payments', done: 800 });
    onShare({ kind: 'refunds', done: 3 });
    expect(s.calls).toEqual(['start share payments', '+500', '+300', 'end', 'start share refunds', '+3']);
  });

  it('When the context has no progress factory, Then a silent one is used', async () => {
    const p = await progressOf({}, 'x');
    p.start('a');
    p.advance(1);
    p.close();
  });
});
