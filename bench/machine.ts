// The machine a bench ran on, as every bench's JSON reports it: CPU, cores, Node, OS, and the 1-minute load
// average before and after the run (the bench itself adds one or two: high values mean other work shared
// the CPUs and the figures are noisy).

import os from 'node:os';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly platform: string;
  readonly sqlite?: string;
  readonly tmpdir: string;
  readonly loadavg: { readonly before: number; readonly after: number };
}

/** The 1-minute load average, to two decimals. */
export function load1(): number {
  return Number((os.loadavg()[0] ?? 0).toFixed(2));
}

export function machineOf(loadBefore: number, sqliteVersion?: string): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    ...(sqliteVersion !== undefined && { sqlite: sqliteVersion }),
    tmpdir: os.tmpdir(),
    loadavg: { before: Number(loadBefore.toFixed(2)), after: load1() },
  };
}
