// The night chain's orchestration: order, dependencies, alerts, resume and re-run, as pure steps.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkChain, dependentsOf, runChain, type Alert, type ChainStep, type StepOutcome } from './chain.js';

const DATE = '2026-03-09';

function world(exitCodes: Record<string, number | 'throw'>, dependsOn: Record<string, readonly string[]>) {
  const ran: string[] = [];
  const alerts: Alert[] = [];
  const steps: ChainStep[] = Object.keys(dependsOn).map((name) => ({
    name,
    dependsOn: dependsOn[name] ?? [],
    run: (): Promise<StepOutcome> => {
      ran.push(name);
      const code = exitCodes[name] ?? 0;
      if (code === 'throw') return Promise.reject(new Error(`${name} blew up`));
      return Promise.resolve({ exitCode: code, summary: `${name} exit ${code}` });
    },
  }));
  let t = 0;
  const deps = { clock: () => (t += 10), alert: { send: (a: Alert) => Promise.resolve(void alerts.push(a)) }, finishedEarlier: (): 'succeeded' | 'findings' | undefined => undefined };
  return { ran, alerts, steps, deps };
}

const NIGHT = { cutoff: [], 'recon:wechat': ['cutoff'], 'recon:alipay': ['cutoff'], clear: ['cutoff'], statement: ['clear'], share: ['cutoff'], report: [] } as const;

describe('Given the night chain of steps', () => {
  it('When every step is clean, Then all run in order and the chain exits 0 with no alert', async () => {
    const w = world({}, NIGHT);
    const r = await runChain(DATE, w.steps, w.deps);
    expect(w.ran).toEqual(Object.keys(NIGHT));
    expect(r.exitCode).toBe(0);
    expect(r.steps.every((s) => s.state === 'succeeded')).toBe(true);
    expect(w.alerts).toEqual([]);
  });

  it('When a reconciliation has findings (exit 2), Then the rest still run and the chain exits 2', async () => {
    const w = world({ 'recon:wechat': 2 }, NIGHT);
    const r = await runChain(DATE, w.steps, w.deps);
    expect(r.exitCode).toBe(2);
    expect(r.steps.find((s) => s.name === 'recon:wechat')?.state).toBe('findings');
    expect(w.ran).toHaveLength(7);
    expect(w.alerts).toEqual([]);
  });

  it('When clearing fails, Then its statement is blocked, the others run, one alert names what it blocks, and the chain exits 1', async () => {
    const w = world({ clear: 1 }, NIGHT);
    const r = await runChain(DATE, w.steps, w.deps);
    expect(w.ran).toEqual(['cutoff', 'recon:wechat', 'recon:alipay', 'clear', 'share', 'report']);
    expect(r.steps.find((s) => s.name === 'statement')).toMatchObject({ state: 'blocked', blockedBy: ['clear'], exitCode: null });
    expect(w.alerts).toEqual([{ businessDate: DATE, step: 'clear', exitCode: 1, message: 'clear exit 1', blocks: ['statement'], atMs: expect.any(Number) as unknown }]);
    expect(r.exitCode).toBe(1);
  });

  it('When the cutoff throws, Then it is failed with exit 70, everything but the report is blocked, and the alert lists them', async () => {
    const w = world({ cutoff: 'throw' }, NIGHT);
    const r = await runChain(DATE, w.steps, w.deps);
    expect(w.ran).toEqual(['cutoff', 'report']);
    expect(r.steps[0]).toMatchObject({ name: 'cutoff', state: 'failed', exitCode: 70, summary: 'Error: cutoff blew up' });
    expect(w.alerts[0]?.blocks).toEqual(['recon:wechat', 'recon:alipay', 'clear', 'statement', 'share']);
  });

  it('When a run resumes after a crash, Then steps the run log shows finished are passed over, unless a re-run is asked for', async () => {
    const w = world({}, NIGHT);
    const done = new Map([['cutoff', 'succeeded'], ['recon:wechat', 'findings']] as const);
    const finishedEarlier = (s: string): 'succeeded' | 'findings' | undefined => done.get(s as 'cutoff');
    const r = await runChain(DATE, w.steps, { ...w.deps, finishedEarlier });
    expect(w.ran).toEqual(['recon:alipay', 'clear', 'statement', 'share', 'report']);
    expect(r.steps.slice(0, 2).map((s) => [s.state, s.exitCode])).toEqual([
      ['done_earlier', 0],
      ['done_earlier', 2],
    ]);
    // The findings of the earlier run are still reported.
    expect(r.exitCode).toBe(2);
    const again = world({}, NIGHT);
    await runChain(DATE, again.steps, { ...again.deps, finishedEarlier }, { rerun: true });
    expect(again.ran).toEqual(Object.keys(NIGHT));
  });

  it('When steps are recorded, Then each runs through the recorder and progress sees a start and an end for each', async () => {
    const w = world({}, { a: [], b: ['a'] });
    const recorded: string[] = [];
    const events: string[] = [];
    await runChain(DATE, w.steps, {
      ...w.deps,
      record: async (step, work) => {
        recorded.push(step);
        return work();
      },
      onStep: (e) => events.push(e.kind === 'start' ? `start ${e.step}` : `end ${e.report.name} ${e.report.state}`),
    });
    expect(recorded).toEqual(['a', 'b']);
    expect(events).toEqual(['start a', 'end a succeeded', 'start b', 'end b succeeded']);
  });

  it('When a chain names a step twice, or depends on a later or unknown step, Then it is refused with chain_invalid', () => {
    const s = (name: string, dependsOn: string[] = []): ChainStep => ({ name, dependsOn, run: () => Promise.resolve({ exitCode: 0, summary: '' }) });
    expect(() => checkChain([s('a'), s('a')])).toThrow(expect.objectContaining({ code: 'chain_invalid' }) as Error);
    expect(() => checkChain([s('a', ['b']), s('b')])).toThrow(/not an earlier step/);
    expect(() => checkChain([s('a', ['zzz'])])).toThrow(expect.objectContaining({ code: 'chain_invalid' }) as Error);
    expect(dependentsOf([s('a'), s('b', ['a']), s('c', ['b']), s('d')], 'a')).toEqual(['b', 'c']);
  });

  it('When two steps may run at once, Then share runs beside clear, clear waits for both reconciliations, each report lands in the listed order, and no more than two run together', async () => {
    const log: string[] = [];
    let live = 0;
    let most = 0;
    const step = (name: string, dependsOn: readonly string[], after: readonly string[], ms: number): ChainStep => ({
      name,
      dependsOn,
      after,
      run: async (): Promise<StepOutcome> => {
        log.push(`start ${name}`);
        most = Math.max(most, ++live);
        await new Promise((done) => setTimeout(done, ms));
        live -= 1;
        log.push(`end ${name}`);
        return { exitCode: 0, summary: name };
      },
    });
    const recon = ['recon:wechat', 'recon:alipay'];
    const steps = [
      step('cutoff', [], [], 1),
      step('recon:wechat', ['cutoff'], [], 30),
      step('recon:alipay', ['cutoff'], [], 5),
      step('clear', ['cutoff'], recon, 40),
      step('statement', ['clear'], [], 1),
      step('share', ['cutoff'], [], 60),
      step('trial-balance', ['cutoff'], [...recon, 'clear', 'statement', 'share'], 1),
      step('report', [], ['cutoff', ...recon, 'clear', 'statement', 'share', 'trial-balance'], 1),
    ];
    const w = world({}, {});
    const r = await runChain(DATE, steps, w.deps, { parallel: 2 });
    const at = (e: string): number => log.indexOf(e);
    expect(r.exitCode).toBe(0);
    expect(r.steps.map((s) => s.name)).toEqual(steps.map((s) => s.name));
    expect(most).toBe(2);
    // alipay ends first and frees a place: share (clear still waits for wechat) takes it.
    expect(at('start share')).toBeLessThan(at('end recon:wechat'));
    expect(at('start clear')).toBeGreaterThan(at('end recon:wechat'));
    expect(at('start clear')).toBeLessThan(at('end share'));
    expect(at('start trial-balance')).toBeGreaterThan(Math.max(at('end share'), at('end statement')));
    expect(log.at(-1)).toBe('end report');
  });

  it('When a chain is asked to run 0, 9 or 1.5 steps at once, or runs after a later step, Then it is refused with chain_invalid', async () => {
    const w = world({}, { a: [] });
    for (const parallel of [0, 9, 1.5]) {
      await expect(runChain(DATE, w.steps, w.deps, { parallel })).rejects.toMatchObject({ code: 'chain_invalid' });
    }
    expect(w.ran).toEqual([]);
    const s = (name: string, after: string[] = []): ChainStep => ({ name, dependsOn: [], after, run: () => Promise.resolve({ exitCode: 0, summary: '' }) });
    expect(() => checkChain([s('a', ['b']), s('b')])).toThrow(/runs after b, which is not an earlier step/);
  });

  it('Property: at any parallelism, a step starts only after every step it depends on or runs after has ended, at most that many run together, and one at a time keeps the listed order', async () => {
    const arbChain = fc.integer({ min: 1, max: 8 }).chain((n) =>
      fc.record({
        parallel: fc.integer({ min: 1, max: 3 }),
        waits: fc.tuple(
          ...Array.from({ length: n }, (_, i) =>
            fc.tuple(fc.subarray(Array.from({ length: i }, (_x, j) => `s${j}`)), fc.subarray(Array.from({ length: i }, (_x, j) => `s${j}`))),
          ),
        ),
        codes: fc.array(fc.constantFrom<number | 'throw'>(0, 0, 0, 2, 1, 'throw'), { minLength: n, maxLength: n }),
        ticks: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(arbChain, async ({ parallel, waits, codes, ticks }) => {
        const log: string[] = [];
        let live = 0;
        let most = 0;
        const steps: ChainStep[] = waits.map(([dependsOn, after], i) => ({
          name: `s${i}`,
          dependsOn,
          after,
          run: async (): Promise<StepOutcome> => {
            log.push(`start s${i}`);
            most = Math.max(most, ++live);
            for (let t = 0; t < (ticks[i] ?? 0); t++) await new Promise((done) => setImmediate(done));
            live -= 1;
            log.push(`end s${i}`);
            const code = codes[i] ?? 0;
            if (code === 'throw') throw new Error(`s${i} blew up`);
            return { exitCode: code, summary: '' };
          },
        }));
        const w = world({}, {});
        const ended: string[] = [];
        const r = await runChain(DATE, steps, { ...w.deps, onStep: (e) => void (e.kind === 'end' && ended.push(e.report.name)) }, { parallel });
        const failed = (name: string): boolean => codes[Number(name.slice(1))] !== 0 && codes[Number(name.slice(1))] !== 2;
        const shouldRun = new Map<string, boolean>();
        for (const [i, [d]] of waits.entries()) shouldRun.set(`s${i}`, d.every((x) => shouldRun.get(x) === true && !failed(x)));
        const started = log.filter((e) => e.startsWith('start ')).map((e) => e.slice(6));
        expect([...started].sort()).toEqual([...shouldRun].filter(([, run]) => run).map(([n]) => n).sort());
        for (const name of started) {
          const [dependsOn, after] = waits[Number(name.slice(1))] ?? [[], []];
          for (const d of [...dependsOn, ...after]) if (started.includes(d)) expect(log.indexOf(`end ${d}`)).toBeLessThan(log.indexOf(`start ${name}`));
        }
        expect(most).toBeLessThanOrEqual(parallel);
        // One at a time, every step (run, blocked or not) ends in the listed order, as the chain always did.
        if (parallel === 1) expect(ended).toEqual(steps.map((s) => s.name));
        expect(r.steps.map((s) => s.name)).toEqual(steps.map((s) => s.name));
        expect(w.alerts.map((a) => a.step).sort()).toEqual(started.filter(failed).sort());
      }),
      { numRuns: 200 },
    );
  });

  it('Property: a step runs exactly when none of the steps it depends on (directly or not) failed, and each failure raises one alert', async () => {
    const arbChain = fc.integer({ min: 1, max: 9 }).chain((n) =>
      fc.tuple(
        fc.tuple(...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_x, j) => `s${j}`)))),
        fc.array(fc.constantFrom<number | 'throw'>(0, 0, 0, 2, 1, 70, 'throw'), { minLength: n, maxLength: n }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(arbChain, async ([deps, codes]) => {
        const dependsOn = Object.fromEntries(deps.map((d, i) => [`s${i}`, d]));
        const exitCodes = Object.fromEntries(codes.map((c, i) => [`s${i}`, c]));
        const w = world(exitCodes, dependsOn);
        const r = await runChain(DATE, w.steps, w.deps);
        const failed = (name: string): boolean => exitCodes[name] !== 0 && exitCodes[name] !== 2;
        const shouldRun = new Map<string, boolean>();
        for (const [i, d] of deps.entries()) shouldRun.set(`s${i}`, d.every((x) => shouldRun.get(x) === true && !failed(x)));
        expect(w.ran).toEqual([...shouldRun].filter(([, run]) => run).map(([n]) => n));
        expect(w.alerts.map((a) => a.step)).toEqual(w.ran.filter(failed));
        const anyBad = r.steps.some((s) => s.state === 'failed' || s.state === 'blocked');
        expect(r.exitCode).toBe(anyBad ? 1 : r.steps.some((s) => s.state === 'findings') ? 2 : 0);
      }),
      { numRuns: 300 },
    );
  });
});
