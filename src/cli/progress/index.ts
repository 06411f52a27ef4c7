// Which progress renderer a command gets: the ink view on a terminal (stderr is a TTY and no --json),
// log lines otherwise (human text, or NDJSON with --json). Both write to stderr only.

import type { Progress } from '../../batch/progress.js';
import { makeLogProgress } from './log.js';

/** A progress port the command closes when its work is over (before it prints its result). */
export interface CliProgress extends Progress {
  close(): void;
}

export interface ProgressTarget {
  readonly json: boolean;
  readonly stderr: (text: string) => void;
  readonly clock: () => number;
  /** The terminal stream when stderr is one; absent in tests and under cron. */
  readonly tty?: NodeJS.WriteStream | undefined;
}

export async function openProgress(target: ProgressTarget, label: string): Promise<CliProgress> {
  if (target.tty !== undefined && target.tty.isTTY && !target.json) {
    const { makeInkProgress } = await import('./view.js');
    return makeInkProgress(target.tty, target.clock, label);
  }
  return makeLogProgress({ json: target.json, write: target.stderr, clock: target.clock, label });
}
