// The batch services' own progress events, turned into phases on the progress port. Services already
// emit at a bounded rate (per chunk, page or 100k rows); these only translate.

import { cumulative, NO_PROGRESS, type Progress } from '../../batch/progress.js';
import type { ClearProgress } from '../../batch/clearing/service.js';
import type { FetchProgress } from '../../batch/recon/fetch/service.js';
import type { ImportProgress } from '../../batch/recon/import.js';
import type { MatchProgress } from '../../batch/recon/run.js';
import type { ShareProgress } from '../../batch/sharing/run.js';
import type { CommandContext } from '../context.js';
import type { CliProgress } from './index.js';

/** The command's progress (a no-op when the context has none). Close it before printing the result. */
export async function progressOf(ctx: Pick<CommandContext, 'progress'>, label: string): Promise<CliProgress> {
  return ctx.progress ? ctx.progress(label) : { ...NO_PROGRESS, close() {} };
}

/** Keeps one phase running at a time: `to` starts the named one (ending the one before) and returns its counter. */
function phases(p: Progress): { to: (phase: string, totalRows?: number) => (doneRows: number) => void; end: (summary?: Record<string, unknown>) => void } {
  let current = '';
  let counter: (doneRows: number) => void = () => {};
  const end = (summary?: Record<string, unknown>): void => {
    if (current === '') return;
    p.end(summary);
    current = '';
  };
  const to = (phase: string, totalRows?: number): ((doneRows: number) => void) => {
    if (phase !== current) {
      end();
      p.start(phase, totalRows);
      current = phase;
      counter = cumulative(p);
    }
    return counter;
  };
  return { to, end };
}

export function fetchEvents(p: Progress): (e: FetchProgress) => void {
  const ph = phases(p);
  let attempt = 0;
  return (e) => {
    if (e.kind === 'attempt') {
      attempt = e.attempt;
      ph.to(`fetch attempt ${e.attempt}`);
    } else if (e.kind === 'not_ready') {
      ph.to(`fetch attempt ${attempt}`);
      ph.end({ not_ready: true, retry_in_s: Math.round(e.retryInMs / 1000) });
    } else {
      ph.to(`fetch attempt ${attempt}`, e.bytes)(e.bytes);
      ph.end({ bytes: e.bytes, new_file: e.newFile });
    }
  };
}

/** Bytes read of a file being parsed (the parser's listener: bytes so far, file size). */
export function byteEvents(p: Progress, phaseName: string): (bytesRead: number, sizeBytes: number) => void {
  const ph = phases(p);
  return (bytesRead, sizeBytes) => ph.to(phaseName, sizeBytes)(bytesRead);
}

export function importEvents(p: Progress): (e: ImportProgress) => void {
  const ph = phases(p);
  return (e) => ph.to('import')(e.rows);
}

export function matchEvents(p: Progress): (e: MatchProgress) => void {
  const ph = phases(p);
  let lines = 0;
  return (e) => {
    if (e.kind === 'loaded') {
      lines = e.lines;
      ph.to('match load')(e.lines + e.records + e.pool);
      ph.end({ lines: e.lines, records: e.records, pool: e.pool });
      ph.to('match pair', lines);
    } else if (e.kind === 'matched') {
      ph.to('match pair', lines)(lines);
      ph.end({ outcomes: e.outcomes });
      ph.to('match store', e.outcomes);
    } else {
      ph.to('match store')(e.items);
      ph.end({ items: e.items });
    }
  };
}

export function clearEvents(p: Progress): (e: ClearProgress) => void {
  const ph = phases(p);
  return (e) => {
    if (e.kind === 'loaded') {
      ph.to('clear load')(e.candidates);
      ph.end({ candidates: e.candidates });
      ph.to('clear write');
    } else {
      ph.to('clear write')(e.batches);
    }
  };
}

export function shareEvents(p: Progress): (e: ShareProgress) => void {
  const ph = phases(p);
  return (e) => ph.to(`share ${e.kind}`)(e.done);
}
