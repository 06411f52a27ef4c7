// settle recon review is interactive: without a terminal (cron, CI, these in-process runs) it refuses
// with not_a_terminal and points to the scriptable commands; bad flags are refused before anything opens.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { runCli } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'settle-review-cli-'));
const place = { db: join(dir, 'settle.db'), cwd: dir, nowMs: () => Date.parse('2026-11-27T01:00:00Z') };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('settle recon review', () => {
  it('Given no terminal, When run with --json, Then exit 1 with not_a_terminal and the scriptable commands named', async () => {
    const r = await runCli(place, '--json', 'recon', 'review');
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ ok: false, code: 'not_a_terminal' });
    expect(String(r.json['message'])).toContain('recon resolve');
  });

  it('Given no terminal, When run for people, Then the code and the next step go to stderr', async () => {
    const r = await runCli(place, 'recon', 'review', '--channel', 'wallet');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('settle: not_a_terminal:');
    expect(r.stderr).toContain('next: recon review is interactive');
  });

  it('Given terminal streams that are not TTYs (a pipe), Then it refuses the same way', async () => {
    let stderr = '';
    const notTty = { isTTY: false } as unknown as NodeJS.WriteStream;
    const code = await main(['node', 'settle', '--db', place.db, 'recon', 'review'], {
      stdout: () => {},
      stderr: (t) => void (stderr += t),
      env: {},
      cwd: dir,
      clock: place.nowMs,
      terminal: { stdin: { isTTY: false } as unknown as NodeJS.ReadStream, stdout: notTty, stderr: notTty },
    });
    expect(code).toBe(1);
    expect(stderr).toContain('not_a_terminal');
  });
});
