// SIGKILL in the middle of `settle statement`: the real command runs in a child process and is killed
// once it has started publishing. Whatever it left, a merchant's folder holds only complete files (the
// temp files live in <dir>/.partial), and a re-run (after the killed run's lease lapses) gives exactly
// the bytes of an uninterrupted run.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { D, ReconWorld } from './recon-match-support.js';

const ROOT = resolve(import.meta.dirname, '..');
const MERCHANTS = 150;
const CHILD_TIMEOUT_MS = 60_000;

function filesUnder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (!existsSync(dir)) return out;
  for (const m of readdirSync(dir)) {
    if (m === '.partial') continue;
    for (const f of readdirSync(join(dir, m))) out.set(`${m}/${f}`, readFileSync(join(dir, m, f)));
  }
  return out;
}

describe('settle statement killed half way', () => {
  let w: ReconWorld;
  beforeAll(async () => {
    w = await ReconWorld.create();
    for (let i = 0; i < MERCHANTS; i += 1) {
      const merchant = `M${String(200_000 + i)}`;
      await w.payment(`P${i}`, BigInt(1000 + i), { merchant, feeMinor: 6n });
    }
    await w.ledger.cutoff(D);
  }, 60_000);
  afterAll(async () => w.close());

  it('Given a run killed with SIGKILL while publishing, When it is re-run after the lease lapses, Then every file equals an uninterrupted run and no partial file is visible', async () => {
    const out = join(w.dir, 'killed');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', `import { main } from ${JSON.stringify(join(ROOT, 'src/cli/main.ts'))}; process.exitCode = await main(process.argv);`, 'settle', '--db', w.dbPath, 'statement', '--date', D, '--out', out],
      { cwd: ROOT, stdio: 'ignore' },
    );
    const exited = new Promise<void>((done) => child.on('exit', () => done()));
    const started = Date.now();
    while (!existsSync(join(out, '.partial')) && child.exitCode === null && Date.now() - started < CHILD_TIMEOUT_MS) await new Promise((r) => setTimeout(r, 2));
    child.kill('SIGKILL');
    await exited;

    // What the killed run left: only whole files in merchant folders.
    const clean = join(w.dir, 'clean');
    const place = { db: w.dbPath, cwd: w.dir, nowMs: () => Date.now() + 60_000 };
    expect((await runCli(place, 'statement', '--date', D, '--out', clean)).code).toBe(0);
    const expected = filesUnder(clean);
    expect(expected.size).toBe(MERCHANTS);
    for (const [name, bytes] of filesUnder(out)) {
      expect(name.endsWith('.csv')).toBe(true);
      expect(bytes.equals(expected.get(name) ?? Buffer.alloc(0))).toBe(true);
    }

    const rerun = await runCli({ ...place, nowMs: () => Date.now() + 120_000 }, 'statement', '--date', D, '--out', out);
    expect(rerun.code).toBe(0);
    const after = filesUnder(out);
    expect([...after.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, bytes] of after) expect(bytes.equals(expected.get(name) ?? Buffer.alloc(0))).toBe(true);
  }, 90_000);
});
