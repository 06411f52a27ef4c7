// The progress view on a terminal: one line per phase with a bar, rows done/total, rows per second and
// the time left. Rendered with ink on stderr; redrawn at most every RENDER_INTERVAL_MS and at every
// phase start and end, so a fast loop never waits on the terminal.

import { Box, Text, render } from 'ink';
import type { ReactElement } from 'react';
import type { CliProgress } from './index.js';
import { count, duration, figures, makeTracker, summaryText, type PhaseState } from './tracker.js';

export const RENDER_INTERVAL_MS = 100;
export const BAR_WIDTH = 30;

export function bar(fraction: number, width = BAR_WIDTH): string {
  const filled = Math.max(0, Math.min(width, Math.floor(fraction * width)));
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

function PhaseLine({ p, nowMs }: { readonly p: PhaseState; readonly nowMs: number }): ReactElement {
  const f = figures(p, nowMs);
  const done = p.endedAtMs !== null;
  const unit = p.phase.endsWith('(bytes)') ? 'bytes' : 'rows';
  const rows = p.totalRows === null ? `${count(p.rows)} ${unit}` : `${count(p.rows)}/${count(p.totalRows)} ${unit}`;
  const rate = f.ratePerS === null ? '' : `${count(f.ratePerS)}/s`;
  const tail = done ? `${(f.elapsedMs / 1000).toFixed(1)} s ${summaryText(p.summary)}`.trim() : f.etaS === null ? '' : `ETA ${duration(f.etaS)}`;
  return (
    <Box gap={1}>
      <Text color={done ? 'green' : 'cyan'}>{done ? '✔' : '…'}</Text>
      <Text bold>{p.phase.padEnd(14)}</Text>
      {f.fraction === null ? null : <Text color="cyan">{bar(f.fraction)}</Text>}
      <Text>{rows}</Text>
      {rate ? <Text dimColor>{rate}</Text> : null}
      {tail ? <Text dimColor={done}>{tail}</Text> : null}
    </Box>
  );
}

export function ProgressView({ label, phases, nowMs }: { readonly label: string; readonly phases: readonly PhaseState[]; readonly nowMs: number }): ReactElement {
  return (
    <Box flexDirection="column">
      <Text dimColor>{label}</Text>
      {phases.map((p, i) => (
        <PhaseLine key={`${i}.${p.phase}`} p={p} nowMs={nowMs} />
      ))}
    </Box>
  );
}

export function makeInkProgress(stream: NodeJS.WriteStream, clock: () => number, label: string): CliProgress {
  let lastRenderMs = Number.NEGATIVE_INFINITY;
  const view = (): ReactElement => <ProgressView label={label} phases={[...tracker.phases()]} nowMs={clock()} />;
  const tracker = makeTracker(clock, (kind) => {
    const now = clock();
    if (kind !== 'advance' || now - lastRenderMs >= RENDER_INTERVAL_MS) {
      lastRenderMs = now;
      instance.rerender(view());
    }
  });
  const instance = render(view(), { stdout: stream, stderr: stream, patchConsole: false, exitOnCtrlC: false });
  return {
    start: tracker.start,
    advance: tracker.advance,
    end: tracker.end,
    close() {
      tracker.end();
      instance.rerender(view());
      instance.unmount();
    },
  };
}
