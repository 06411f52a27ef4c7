// The state behind every progress renderer: phases with rows done, their total when known, and the
// figures people read (rate, time left). Pure: time comes in as numbers, so tests feed a clock.

import type { Progress } from '../../batch/progress.js';

export interface PhaseState {
  readonly phase: string;
  readonly totalRows: number | null;
  readonly rows: number;
  readonly startedAtMs: number;
  readonly endedAtMs: number | null;
  readonly summary: Record<string, unknown> | null;
}

/** Phases kept for display; a command has a handful, this only caps a runaway caller. */
export const PHASES_MAX = 32;

export interface Tracker extends Progress {
  readonly phases: () => readonly PhaseState[];
  /** The phase running now, if any. */
  readonly current: () => PhaseState | undefined;
}

export function makeTracker(clock: () => number, onChange: (kind: 'start' | 'advance' | 'end', phase: PhaseState) => void = () => {}): Tracker {
  const phases: PhaseState[] = [];
  const running = (): PhaseState | undefined => {
    const last = phases[phases.length - 1];
    return last !== undefined && last.endedAtMs === null ? last : undefined;
  };
  const replaceLast = (next: PhaseState): PhaseState => {
    phases[phases.length - 1] = next;
    return next;
  };
  const tracker: Tracker = {
    start(phase, totalRows) {
      if (running()) tracker.end();
      if (phases.length >= PHASES_MAX) phases.shift();
      const p: PhaseState = { phase, totalRows: totalRows ?? null, rows: 0, startedAtMs: clock(), endedAtMs: null, summary: null };
      phases.push(p);
      onChange('start', p);
    },
    advance(rows) {
      const p = running();
      if (p === undefined || !(rows > 0)) return;
      onChange('advance', replaceLast({ ...p, rows: p.rows + rows }));
    },
    end(summary) {
      const p = running();
      if (p === undefined) return;
      onChange('end', replaceLast({ ...p, endedAtMs: clock(), summary: summary ?? null }));
    },
    phases: () => phases,
    current: running,
  };
  return tracker;
}

export interface PhaseFigures {
  readonly elapsedMs: number;
  /** Units per second so far; null before any time has passed. */
  readonly ratePerS: number | null;
  /** Seconds left at the rate so far; null without a total or a rate. */
  readonly etaS: number | null;
  /** 0..1 when the total is known. */
  readonly fraction: number | null;
}

export function figures(p: PhaseState, nowMs: number): PhaseFigures {
  const elapsedMs = Math.max(0, (p.endedAtMs ?? nowMs) - p.startedAtMs);
  const ratePerS = elapsedMs > 0 ? (p.rows * 1000) / elapsedMs : null;
  const total = p.totalRows;
  const fraction = total === null ? null : total <= 0 ? 1 : Math.min(1, p.rows / total);
  const left = total === null ? null : Math.max(0, total - p.rows);
  const etaS = p.endedAtMs !== null ? 0 : left === null ? null : left === 0 ? 0 : ratePerS !== null && ratePerS > 0 ? left / ratePerS : null;
  return { elapsedMs, ratePerS, etaS, fraction };
}

/** 1234567 → "1,234,567". */
export const count = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Seconds as "42 s", "3 m 05 s", "1 h 02 m". */
export function duration(s: number): string {
  const t = Math.round(s);
  if (t < 60) return `${t} s`;
  if (t < 3600) return `${Math.floor(t / 60)} m ${String(t % 60).padStart(2, '0')} s`;
  return `${Math.floor(t / 3600)} h ${String(Math.floor((t % 3600) / 60)).padStart(2, '0')} m`;
}

/** The summary as "k=v k=v" for a line of text. */
export function summaryText(summary: Record<string, unknown> | null): string {
  if (summary === null) return '';
  return Object.entries(summary)
    .map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}
