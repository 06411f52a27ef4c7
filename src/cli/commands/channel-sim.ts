// settle channel-sim: run the channel simulator (bank, wallet and payout channels over signed HTTP)
// until SIGINT or SIGTERM. Thin: parse flags, load the config, start the server, wait, close.

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadSimConfigFile, parseSimConfig } from '../../online/channel-sim/config.js';
import { DEFAULT_SIM_HOST, DEFAULT_SIM_PORT, startChannelSim, type ChannelSim } from '../../online/channel-sim/server.js';
import type { Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';

interface ChannelSimFlags {
  readonly port: string;
  readonly host: string;
  readonly config?: string;
  readonly seed?: string;
}

export const DEFAULT_SIM_DB_FILE = 'channel-sim.db';

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || port > 65_535) throw new AbortError('usage', `--port ${text} is not a TCP port.`, 'Pass a number from 0 to 65535.');
  return port;
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilStopSignal(): Promise<string> {
  return new Promise((done) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export function registerChannelSimCommand(program: Command, run: Run): void {
  program
    .command('channel-sim')
    .description('run the channel simulator: a bank, a wallet and a payout channel over signed HTTP, with its own SQLite record')
    .option('--port <n>', 'TCP port (0 picks a free one)', String(DEFAULT_SIM_PORT))
    .option('--host <address>', 'address to bind; keep it on loopback (the admin endpoints are unauthenticated)', DEFAULT_SIM_HOST)
    .option('--config <file>', 'channels and behaviour (JSON; see src/online/channel-sim/README.md); default: bank, wallet, payout')
    .option('--seed <seed>', 'seed of the random declines and timeouts, for reproducible runs')
    .addHelpText('after', `\nThe simulator's file is --db (before or after channel-sim), else SETTLE_SIM_DB, else ./${DEFAULT_SIM_DB_FILE}; never SETTLE_DB.`)
    .action(
      run(async (ctx, flags: ChannelSimFlags) => {
        // --db is the global option; SETTLE_DB names the ledger, which the simulator must not write into.
        const dbGiven = program.opts<{ db?: string }>().db;
        const dbPath = resolve(ctx.io.cwd, dbGiven ?? ctx.io.env['SETTLE_SIM_DB'] ?? DEFAULT_SIM_DB_FILE);
        if (flags.seed !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(flags.seed)) {
          throw new AbortError('usage', `--seed ${flags.seed} is not 1–64 of [A-Za-z0-9._-].`);
        }
        const config = flags.config === undefined ? parseSimConfig({}, ctx.io.env) : loadSimConfigFile(resolve(ctx.io.cwd, flags.config), ctx.io.env);
        if (!config.ok) throw new AbortError('config_invalid', config.message, 'Fix the config file; unknown keys are refused.');
        let sim: ChannelSim;
        try {
          sim = await startChannelSim({
            dbPath,
            port: parsePort(flags.port),
            host: flags.host,
            config: config.value,
            seed: flags.seed,
            env: ctx.io.env,
            clock: ctx.io.clock,
            log: (event) => ctx.out.info(`channel-sim: ${JSON.stringify(event)}`),
          });
        } catch (e) {
          const code = (e as { code?: unknown }).code;
          if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
            throw new AbortError('listen_failed', `Cannot listen on ${flags.host}:${flags.port}: ${(e as Error).message}.`, 'Pick another --port or --host.');
          }
          throw e;
        }
        ctx.out.result({ ok: true, event: 'listening', url: sim.url, db: dbPath, seed: sim.seed }, () => `channel-sim listening on ${sim.url}`);
        const signal = await untilStopSignal();
        ctx.out.info(`channel-sim: ${signal}, shutting down`);
        await sim.close();
        return EXIT.ok;
      }),
    );
}
