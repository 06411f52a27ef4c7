// Progress for the benchmarks, through the same renderer as the commands: an ink bar with rows, rate and
// time left when stderr is a terminal, a plain line at most every 2 s otherwise. Updates come from the
// services' own bounded progress events (per page or chunk), so they cost nothing measurable.

import { openProgress, type CliProgress } from '../src/cli/progress/index.js';

export function benchProgress(label: string): Promise<CliProgress> {
  return openProgress({ json: false, stderr: (t) => void process.stderr.write(t), clock: Date.now, tty: process.stderr.isTTY ? process.stderr : undefined }, label);
}
