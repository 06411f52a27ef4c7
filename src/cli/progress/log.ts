// Progress without a terminal (cron, pipes, CI): a line on stderr at most every `intervalMs` while a
// phase runs and one when it ends, so cron mail stays small. Human text by default, NDJSON with --json
// (stdout keeps its one JSON object; these go to stderr).

import { count, duration, figures, makeTracker, summaryText, type PhaseState } from './tracker.js';
import type { CliProgress } from './index.js';

export const LOG_INTERVAL_MS_DEFAULT = 2_000;

export interface LogProgressOptions {
  readonly json: boolean;
  readonly write: (text: string) => void;
  readonly clock: () => number;
  /** At most one line per phase in this many milliseconds, besides its end. */
  readonly intervalMs?: number;
  /** Prefixed to human lines: the command (e.g. "recon import"). */
  readonly label?: string;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export function progressJson(p: PhaseState, nowMs: number): Record<string, unknown> {
  const f = figures(p, nowMs);
  const base = { phase: p.phase, rows: p.rows, total: p.totalRows, rate_per_s: f.ratePerS === null ? null : Math.round(f.ratePerS), eta_s: f.etaS === null ? null : round1(f.etaS) };
  return p.endedAtMs === null ? { event: 'progress', ...base } : { event: 'phase_end', ...base, elapsed_ms: f.elapsedMs, ...(p.summary ? { summary: p.summary } : {}) };
}

export function progressText(p: PhaseState, nowMs: number, label = ''): string {
  const f = figures(p, nowMs);
  const head = `${label ? `${label}: ` : ''}${p.phase}`;
  const rows = p.totalRows === null ? count(p.rows) : `${count(p.rows)}/${count(p.totalRows)}`;
  const pct = f.fraction === null ? '' : ` (${Math.floor(f.fraction * 100)}%)`;
  const rate = f.ratePerS === null ? '' : `, ${count(f.ratePerS)}/s`;
  if (p.endedAtMs !== null) {
    const summary = summaryText(p.summary);
    return `${head}: done, ${rows} in ${(f.elapsedMs / 1000).toFixed(1)} s${rate}${summary ? ` — ${summary}` : ''}`;
  }
  return `${head}: ${rows}${pct}${rate}${f.etaS === null ? '' : `, ${duration(f.etaS)} left`}`;
}

export function makeLogProgress(o: LogProgressOptions): CliProgress {
  const intervalMs = o.intervalMs ?? LOG_INTERVAL_MS_DEFAULT;
  let lastLineMs = Number.NEGATIVE_INFINITY;
  const emit = (p: PhaseState): void => {
    const now = o.clock();
    lastLineMs = now;
    o.write(`${o.json ? JSON.stringify(progressJson(p, now)) : progressText(p, now, o.label)}\n`);
  };
  const tracker = makeTracker(o.clock, (kind, p) => {
    if (kind === 'start') lastLineMs = o.clock(); // the first line comes after an interval, or at the end
    else if (kind === 'end') emit(p);
    else if (o.clock() - lastLineMs >= intervalMs) emit(p);
  });
  return {
    start: tracker.start,
    advance: tracker.advance,
    end: tracker.end,
    close() {
      tracker.end();
    },
  };
}
