// Runs the settle command line in-process through main(), capturing its output, for end-to-end tests.

import { main } from '../../src/cli/main.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The one JSON object printed with --json (empty otherwise). */
  readonly json: Record<string, unknown>;
}

export interface CliPlace {
  readonly db: string;
  readonly cwd: string;
  readonly nowMs: () => number;
  readonly env?: Record<string, string>;
}

export async function runCli(place: CliPlace, ...args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'settle', '--db', place.db, ...args], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: place.env ?? {},
    cwd: place.cwd,
    clock: place.nowMs,
  });
  const json = args.includes('--json') && stdout.trim() !== '' ? (JSON.parse(stdout) as Record<string, unknown>) : {};
  return { code, stdout, stderr, json };
}
