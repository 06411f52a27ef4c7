// settle run night-chain on a real database: a night where one channel's file is missing (its step
// fails, an alert reaches a real webhook, the steps that need it do not run, the others do), the resume
// that passes over what finished, the lock a second run meets, and a chain killed with SIGKILL half way
// that the next run takes over at once and finishes.

import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteJobRunStore } from '../src/batch/jobs/sqlite/job-store.js';
import { openSqlite } from '../src/ledger/sqlite/database.js';
import { runCli, type CliRun } from './support/cli.js';

const ROOT = join(import.meta.dirname, '..');
const D = '2021-01-28'; // the date of the WeChat sample bill
const WALLET_BILL = join(ROOT, 'test', 'fixtures', 'formats', 'wechat_tradebill_ALL_20210128.csv');

let hook: http.Server;
let hookUrl: string;
const alerts: { step: string; blocks: string[]; signature: string | undefined }[] = [];

beforeAll(async () => {
  hook = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      const a = JSON.parse(body) as { step: string; blocks: string[] };
      alerts.push({ step: a.step, blocks: a.blocks, signature: req.headers['settle-signature'] as string | undefined });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((done) => hook.listen(0, '127.0.0.1', done));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
});
afterAll(() => new Promise<void>((done) => hook.close(() => done())));

/** A fresh database open on D, with a config reconciling `bank` (file never arrives) and `wallet` (file in the inbox). */
async function night(): Promise<{ dir: string; db: string; config: string; settle: (...args: string[]) => Promise<CliRun>; close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'settle-night-'));
  const db = join(dir, 'settle.db');
  const sample = JSON.parse(readFileSync(join(ROOT, 'samples', 'settle.config.json'), 'utf8')) as Record<string, unknown>;
  const config = join(dir, 'settle.config.json');
  writeFileSync(config, JSON.stringify({ ...sample, night: { alert: { webhook_url: hookUrl, secret_env: 'NIGHT_ALERT_SECRET' } } }));
  const inbox = join(dir, 'recon-inbox', '20210128', 'wallet');
  mkdirSync(inbox, { recursive: true });
  copyFileSync(WALLET_BILL, join(inbox, '1900012345_tradebill_ALL_20210128.csv'));
  const env = { NIGHT_ALERT_SECRET: 'night-secret' };
  const settle = (...args: string[]): Promise<CliRun> => runCli({ db, cwd: dir, nowMs: Date.now, env }, ...args);
  const init = await settle('--json', 'init', '--config', config, '--business-date', D);
  expect(init.code, init.stdout + init.stderr).toBe(0);
  return { dir, db, config, settle, close: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Leaves the bank out of night.channels: every step can finish. */
function walletOnly(config: string): void {
  const c = JSON.parse(readFileSync(config, 'utf8')) as Record<string, Record<string, unknown>>;
  writeFileSync(config, JSON.stringify({ ...c, night: { ...c['night'], channels: ['wallet'] } }));
}

/** The compiled CLI's environment for a chain of child processes on the night's database. */
function childEnv(db: string): NodeJS.ProcessEnv {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'commands', 'night.js'))) throw new Error('dist/ is missing settle run night-chain: run npm run build');
  return { ...process.env, NIGHT_ALERT_SECRET: 'night-secret', SETTLE_DB: db };
}

type StepRow = { step: string; state: string; exit_code: number | null; summary: string; blocked_by?: string[] };
const stepsOf = (r: CliRun): StepRow[] => r.json['steps'] as StepRow[];
const stateOf = (r: CliRun, step: string): string | undefined => stepsOf(r).find((s) => s.step === step)?.state;

describe('Given a night where the bank file never arrives', () => {
  it('When the chain runs, Then recon:bank fails and alerts the webhook (signed), the others run, and the run exits 1 with night_step_failed', async () => {
    const n = await night();
    try {
      alerts.length = 0;
      const r = await n.settle('--json', 'run', 'night-chain', '--date', D, '--config', n.config, '--in-process');
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.json).toMatchObject({ ok: false, code: 'night_step_failed', business_date: D, exit_code: 1 });
      expect(stepsOf(r).map((s) => s.step)).toEqual(['cutoff', 'recon:bank', 'recon:wallet', 'clear', 'statement', 'share', 'trial-balance', 'position-plan', 'report']);
      expect(stateOf(r, 'cutoff')).toBe('succeeded');
      expect(stateOf(r, 'recon:bank')).toBe('failed');
      expect(stepsOf(r).find((s) => s.step === 'recon:bank')?.summary).toMatch(/^file_not_ready: /);
      expect(stateOf(r, 'recon:wallet')).toBe('succeeded');
      for (const step of ['clear', 'statement', 'share', 'trial-balance', 'position-plan']) expect([step, stateOf(r, step)]).toEqual([step, expect.stringMatching(/^(succeeded|findings)$/)]);
      expect(alerts.find((a) => a.step === 'recon:bank')).toMatchObject({ step: 'recon:bank', blocks: [], signature: expect.stringMatching(/^t=\d+,v1=[0-9a-f]{64}$/) as unknown });
      expect(r.stderr).toContain('"event":"alert"');
      expect(r.stderr).toContain('"event":"step_started"');
      // The run log: the chain failed, each step has its own record, and the commands theirs.
      const runs = await n.settle('--json', 'runs', '--date', D, '--limit', '100');
      const jobs = (runs.json['runs'] as { job: string; outcome: string }[]).map((x) => `${x.job} ${x.outcome}`);
      expect(jobs).toContain('night-chain failed');
      expect(jobs).toContain('night-chain:recon:bank failed');
      expect(jobs).toContain('night-chain:cutoff succeeded');
      expect(jobs).toContain('cutoff succeeded');

      // Run again: what finished is passed over; the bank step is tried again (and fails again).
      const again = await n.settle('--json', 'run', 'night-chain', '--date', D, '--config', n.config, '--in-process');
      expect(again.code).toBe(1);
      expect(stateOf(again, 'cutoff')).toBe('done_earlier');
      expect(stateOf(again, 'recon:wallet')).toBe('done_earlier');
      expect(stateOf(again, 'clear')).toBe('done_earlier');
      expect(stateOf(again, 'recon:bank')).toBe('failed');

      // --rerun runs every step; the cutoff finds the day closed and counts that as done.
      const rerun = await n.settle('--json', 'run', 'night-chain', '--date', D, '--config', n.config, '--in-process', '--rerun');
      expect(stepsOf(rerun).find((s) => s.step === 'cutoff')).toMatchObject({ state: 'succeeded', summary: `${D} was closed already` });
      expect(stateOf(rerun, 'recon:wallet')).toBe('succeeded');
    } finally {
      n.close();
    }
  });

  it('When night.channels leaves the bank out, Then nothing fails, the files are written, and the run exits 2 for the positions below their buffer', async () => {
    const n = await night();
    try {
      walletOnly(n.config);
      const r = await n.settle('--json', 'run', 'night-chain', '--date', D, '--config', n.config, '--in-process');
      expect(stepsOf(r).some((s) => s.step === 'recon:bank')).toBe(false);
      expect(r.code, r.stdout).toBe(2);
      expect(stepsOf(r).filter((s) => s.state === 'failed' || s.state === 'blocked')).toEqual([]);
      // The sample's rows are not our orders; a day-old channel-only row waits in suspense for a day.
      expect(stepsOf(r).find((s) => s.step === 'recon:wallet')?.summary).toMatch(/^matched=0 suspense=4 discrepancies=0 open_discrepancies=0/);
      expect(stateOf(r, 'report')).toBe('findings');
      expect(existsSync(join(n.dir, 'night', D, `report-${D}.html`))).toBe(true);
      expect(existsSync(join(n.dir, 'night', D, 'position-plan.json'))).toBe(true);
    } finally {
      n.close();
    }
  });
});

describe('Given the night section and the lock', () => {
  it('When another live run holds the chain for the date, Then a second run is refused with job_locked and runs nothing', async () => {
    const n = await night();
    try {
      const db = openSqlite(n.db);
      try {
        expect(new SqliteJobRunStore(db).begin('night-chain', D, 'other-host:4242', Date.now(), 60_000).ok).toBe(true);
      } finally {
        db.close();
      }
      const r = await n.settle('--json', 'run', 'night-chain', '--date', D, '--config', n.config, '--in-process');
      expect(r.code).toBe(1);
      expect(r.json).toMatchObject({ ok: false, code: 'job_locked' });
      expect(String(r.json['message'])).toContain('other-host:4242');
      const status = await n.settle('--json', 'day', 'status');
      expect(JSON.stringify(status.json)).toContain('"open"');
    } finally {
      n.close();
    }
  });

  it('When the config names an unknown channel, a secret env that is not set, a bad schedule or parallel_steps, or --parallel is not 1 to 8, Then the chain refuses before running anything', async () => {
    const n = await night();
    try {
      const c = JSON.parse(readFileSync(n.config, 'utf8')) as Record<string, Record<string, unknown>>;
      const write = (night: unknown): void => writeFileSync(n.config, JSON.stringify({ ...c, night }));
      write({ channels: ['wallet', 'paypal'] });
      expect((await n.settle('--json', 'run', 'night-chain', '--date', D, '--config', n.config)).json).toMatchObject({ ok: false, code: 'channel_unknown' });
      write({ alert: { webhook_url: hookUrl, secret_env: 'NOT_SET_ANYWHERE' } });
      expect((await n.settle('--json', 'run', 'night-chain', '--date', D, '--config', n.config)).json).toMatchObject({ ok: false, code: 'alert_secret_missing' });
      write({ schedule: 'every night' });
      expect((await n.settle('--json', 'cron', '--config', n.config)).json).toMatchObject({ ok: false, code: 'config_invalid' });
      expect((await n.settle('--json', 'run', 'night-chain', '--date', '2021-1-28', '--config', n.config)).json).toMatchObject({ ok: false, code: 'usage' });
      for (const parallel of ['0', '9', '1.5', 'two']) {
        expect((await n.settle('--json', 'run', 'night-chain', '--date', D, '--config', n.config, '--parallel', parallel)).json).toMatchObject({ ok: false, code: 'usage' });
      }
      expect((await n.settle('--json', 'run', 'night-chain', '--date', D, '--config', n.config, '--parallel', '2', '--in-process')).json).toMatchObject({ ok: false, code: 'usage' });
      write({ parallel_steps: 0 });
      expect((await n.settle('--json', 'run', 'night-chain', '--date', D, '--config', n.config)).json).toMatchObject({ ok: false, code: 'config_invalid' });
      expect((await n.settle('--json', 'runs', '--date', D)).json['runs']).toEqual([]);
    } finally {
      n.close();
    }
  });
});

describe('Given a chain run as the system crontab would, one process per step', () => {
  it('When it is killed with SIGKILL while clearing, Then the next run takes over at once, passes over what finished and completes the rest', async () => {
    const n = await night();
    try {
      walletOnly(n.config);
      const env = childEnv(n.db);
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'settle.js'), '--json', 'run', 'night-chain', '--date', D, '--config', n.config], { cwd: n.dir, env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      await new Promise<void>((done, fail) => {
        child.stderr.setEncoding('utf8').on('data', (t: string) => {
          stderr += t;
          if (stderr.includes('"step":"clear"') && child.pid !== undefined) {
            process.kill(-child.pid, 'SIGKILL');
            done();
          }
        });
        child.once('exit', () => fail(new Error(`the chain ended before clearing started: ${stderr}`)));
      });
      await new Promise((done) => child.once('close', done));
      const before = await n.settle('--json', 'runs', '--date', D, '--job', 'night-chain');
      expect((before.json['runs'] as { outcome: string; holder: string }[])[0]).toMatchObject({ outcome: 'running', holder: `${hostname()}:${child.pid}` });

      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'settle.js'), '--json', 'run', 'night-chain', '--date', D, '--config', n.config], { cwd: n.dir, env, encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(2);
      const out = JSON.parse(r.stdout) as { steps: StepRow[] };
      expect(out.steps.find((s) => s.step === 'cutoff')?.state).toBe('done_earlier');
      expect(out.steps.find((s) => s.step === 'recon:wallet')?.state).toBe('done_earlier');
      expect(out.steps.find((s) => s.step === 'clear')?.state).toMatch(/^(succeeded|findings)$/);
      const runs = await n.settle('--json', 'runs', '--date', D, '--job', 'night-chain');
      expect((runs.json['runs'] as { outcome: string }[]).map((x) => x.outcome)).toEqual(['findings', 'abandoned']);
      const verify = await n.settle('--json', 'ledger', 'verify');
      expect(verify.code, verify.stdout).toBe(0);
    } finally {
      n.close();
    }
  }, 180_000);
});

describe('Given a chain of child processes that may run two steps at once (night.parallel_steps, the default)', () => {
  it('When it runs, Then share runs beside the reconciliation, clearing waits for the reconciliation, the tail waits for all, and the ledger verifies', async () => {
    const n = await night();
    try {
      walletOnly(n.config);
      const env = childEnv(n.db);
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'settle.js'), '--json', 'run', 'night-chain', '--date', D, '--config', n.config], { cwd: n.dir, env, encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(2);
      const steps = (JSON.parse(r.stdout) as { steps: (StepRow & { started_at: string; ended_at: string })[] }).steps;
      expect(steps.map((s) => s.step)).toEqual(['cutoff', 'recon:wallet', 'clear', 'statement', 'share', 'trial-balance', 'position-plan', 'report']);
      expect(steps.filter((s) => s.state === 'failed' || s.state === 'blocked')).toEqual([]);
      const at = (step: string, end: 'started_at' | 'ended_at'): number => Date.parse(steps.find((s) => s.step === step)?.[end] ?? '');
      // share needs only the cutoff: it starts with the reconciliation, before it ends.
      expect(at('share', 'started_at')).toBeLessThan(at('recon:wallet', 'ended_at'));
      expect(at('clear', 'started_at')).toBeGreaterThanOrEqual(at('recon:wallet', 'ended_at'));
      expect(at('statement', 'started_at')).toBeGreaterThanOrEqual(at('clear', 'ended_at'));
      const tail = Math.max(...['recon:wallet', 'clear', 'statement', 'share'].map((s) => at(s, 'ended_at')));
      expect(at('trial-balance', 'started_at')).toBeGreaterThanOrEqual(tail);
      expect(at('position-plan', 'started_at')).toBeGreaterThanOrEqual(at('trial-balance', 'ended_at'));
      expect(at('report', 'started_at')).toBeGreaterThanOrEqual(at('position-plan', 'ended_at'));
      const verify = await n.settle('--json', 'ledger', 'verify');
      expect(verify.code, verify.stdout).toBe(0);
    } finally {
      n.close();
    }
  }, 180_000);
});

describe('Given settle cron with a schedule every two seconds', () => {
  it('When it runs, Then it ticks, runs the chain for the business date, passes over finished steps on the next tick, and stops cleanly on SIGTERM', async () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'commands', 'night.js'))) throw new Error('dist/ is missing settle cron: run npm run build');
    const n = await night();
    try {
      const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(Date.now());
      const fresh = join(n.dir, 'today.db');
      const c = JSON.parse(readFileSync(n.config, 'utf8')) as Record<string, Record<string, unknown>>;
      writeFileSync(n.config, JSON.stringify({ ...c, night: { ...c['night'], schedule: '*/2 * * * * *', business_date: 'today', channels: [] } }));
      const env = { ...process.env, NIGHT_ALERT_SECRET: 'night-secret', SETTLE_DB: fresh };
      const bin = join(ROOT, 'bin', 'settle.js');
      expect(spawnSync(process.execPath, [bin, 'init', '--config', n.config, '--business-date', today], { cwd: n.dir, env }).status).toBe(0);
      const child = spawn(process.execPath, [bin, '--json', 'cron', '--config', n.config, '--in-process'], { cwd: n.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
      const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
      await new Promise<void>((done, fail) => {
        child.stderr.setEncoding('utf8').on('data', (t: string) => {
          stderr += t;
          if ((stderr.match(/"event":"cron_finished"/g) ?? []).length >= 2) done();
        });
        void exited.then(() => fail(new Error(`settle cron ended: ${stderr}`)));
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const events = stderr
        .split('\n')
        .filter((l) => l.startsWith('{"event":"cron_'))
        .map((l) => JSON.parse(l) as { event: string; businessDate?: string; exitCode?: number });
      expect(events[0]).toMatchObject({ event: 'cron_scheduled', schedule: '*/2 * * * * *', timezone: 'Asia/Shanghai' });
      const finished = events.filter((e) => e.event === 'cron_finished');
      expect(finished.slice(0, 2)).toEqual([
        { event: 'cron_finished', businessDate: today, exitCode: 2 },
        { event: 'cron_finished', businessDate: today, exitCode: 2 },
      ]);
      expect(stderr).toContain('"state":"done_earlier"');
      expect(JSON.parse(stdout)).toEqual({ ok: true, stopped: true });
    } finally {
      n.close();
    }
  }, 120_000);
});
