// settle channel-sim: run the channel simulator (bank, wallet and payout channels over signed HTTP)
// until SIGINT or SIGTERM. Thin: parse flags, load the config, start the server, wait, close.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { BillError } from '../../online/channel-sim/bills/errors.js';
import { parseInjectSpec } from '../../online/channel-sim/bills/troubles.js';
import { writeBills, type ChannelBills } from '../../online/channel-sim/bills/write-bills.js';
import { type BillFormat, loadSimConfigFile, parseSimConfig } from '../../online/channel-sim/config.js';
import { SimStore } from '../../online/channel-sim/store.js';
import { DEFAULT_SIM_HOST, DEFAULT_SIM_PORT, startChannelSim, type ChannelSim } from '../../online/channel-sim/server.js';
import { BILL_SERVER_ENV, billServersOptionsFromEnv, startBillServers, type BillServers } from '../../online/channel-sim/file-servers.js';
import type { CommandContext, Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';

interface ChannelSimFlags {
  readonly port: string;
  readonly host: string;
  readonly config?: string;
  readonly seed?: string;
  readonly billsDir?: string;
  readonly sftpPort?: string;
  readonly ftpPort?: string;
  readonly filesHttpPort?: string;
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
  const channelSim = program
    .command('channel-sim')
    .description('run the channel simulator: a bank, a wallet and a payout channel over signed HTTP, with its own SQLite record')
    .option('--port <n>', 'TCP port (0 picks a free one)', String(DEFAULT_SIM_PORT))
    .option('--host <address>', 'address to bind; keep it on loopback (the admin endpoints are unauthenticated)', DEFAULT_SIM_HOST)
    .option('--config <file>', 'channels and behaviour (JSON; see src/online/channel-sim/README.md); default: bank, wallet, payout')
    .option('--seed <seed>', 'seed of the random declines and timeouts, for reproducible runs')
    .option('--bills-dir <dir>', 'serve this folder of bill files read-only over the ports below')
    .option('--sftp-port <n>', 'serve --bills-dir over SFTP on this port (0 picks a free one)')
    .option('--ftp-port <n>', 'serve --bills-dir over FTP on this port (0 picks a free one)')
    .option('--files-http-port <n>', 'serve --bills-dir over HTTP on this port (0 picks a free one)')
    .addHelpText(
      'after',
      `\nThe simulator's file is --db (before or after channel-sim), else SETTLE_SIM_DB, else ./${DEFAULT_SIM_DB_FILE}; never SETTLE_DB.\n` +
        `Subcommand: settle channel-sim bills --date D --out DIR writes the day's bill files (settle channel-sim bills --help).`,
    )
    .addHelpText(
      'after',
      `Bills over SFTP/FTP log in as ${BILL_SERVER_ENV.username} (default bills) with ${BILL_SERVER_ENV.password}; the SFTP host key is ${BILL_SERVER_ENV.hostKeyFile}, else a fresh one (its SHA256 fingerprint is printed).`,
    )
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
        const filePort = (name: string, text: string | undefined): number | undefined => {
          if (text === undefined) return undefined;
          if (flags.billsDir === undefined) throw new AbortError('usage', `--${name} needs --bills-dir.`, 'Name the folder of bill files to serve.');
          if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65_535) throw new AbortError('usage', `--${name} ${text} is not a TCP port.`, 'Pass a number from 0 to 65535.');
          return Number(text);
        };
        const sftpPort = filePort('sftp-port', flags.sftpPort);
        const ftpPort = filePort('ftp-port', flags.ftpPort);
        const httpPort = filePort('files-http-port', flags.filesHttpPort);
        let billOptions: Awaited<ReturnType<typeof billServersOptionsFromEnv>> | undefined;
        if (flags.billsDir !== undefined) {
          const dir = resolve(ctx.io.cwd, flags.billsDir);
          billOptions = await billServersOptionsFromEnv({ dir, host: flags.host, sftpPort, ftpPort, httpPort }, ctx.io.env);
          if (!billOptions.ok) throw new AbortError('config_invalid', billOptions.message, `Set ${BILL_SERVER_ENV.password} (and optionally ${BILL_SERVER_ENV.username}, ${BILL_SERVER_ENV.hostKeyFile}).`);
        }
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
        let files: BillServers | undefined;
        if (billOptions?.ok) {
          try {
            files = await startBillServers({ ...billOptions.value, log: (event) => ctx.out.info(`channel-sim files: ${JSON.stringify(event)}`) });
          } catch (e) {
            await sim.close();
            throw new AbortError('listen_failed', `Cannot serve ${billOptions.value.dir}: ${(e as Error).message}`, 'Check --bills-dir exists and pick other ports.');
          }
        }
        const filesJson =
          files === undefined
            ? undefined
            : { dir: billOptions?.ok ? billOptions.value.dir : undefined, sftp: files.sftp?.url, sftp_host_key_sha256: files.sftp?.hostKeySha256, ftp: files.ftp?.url, http: files.http?.url };
        ctx.out.result({ ok: true, event: 'listening', url: sim.url, db: dbPath, seed: sim.seed, ...(filesJson ? { files: filesJson } : {}) }, () =>
          [
            `channel-sim listening on ${sim.url}`,
            ...(files?.sftp ? [`bills over SFTP at ${files.sftp.url} (host key ${files.sftp.hostKeySha256})`] : []),
            ...(files?.ftp ? [`bills over FTP at ${files.ftp.url}`] : []),
            ...(files?.http ? [`bills over HTTP at ${files.http.url}`] : []),
          ].join('\n'),
        );
        const signal = await untilStopSignal();
        ctx.out.info(`channel-sim: ${signal}, shutting down`);
        await files?.close();
        await sim.close();
        return EXIT.ok;
      }),
    );
  registerBillsCommand(program, channelSim, run);
}

interface BillsFlags {
  readonly date?: string;
  readonly out: string;
  readonly channel?: string;
  readonly format?: string;
  readonly inject?: string;
  readonly seed?: string;
  readonly config?: string;
  readonly breakTotals?: boolean;
}

/** settle channel-sim bills: the day's bill files of the simulated channels, in their real formats. */
function registerBillsCommand(program: Command, channelSim: Command, run: Run): void {
  channelSim
    .command('bills')
    .description("write a day's bill files as the simulated channels publish them (WeChat ALL csv, Alipay GBK zip, UnionPay ZM), optionally with injected trouble")
    .option('--date <YYYY-MM-DD>', 'the business date (in the simulator\u2019s time zone)')
    .requiredOption('--out <dir>', 'folder to write into: <dir>/<channel>/<bill file> and manifest_<yyyyMMdd>.json')
    .option('--channel <id>', 'only this channel (default: every channel with a bill_format)')
    .option('--format <format>', 'write this format instead of the channel\u2019s: wechat-trade, alipay-trade, unionpay-zm')
    .option('--inject <spec>', 'trouble, e.g. drop=1,extra=1,amount=1,status=1,fee=1,midnight=1,duplicate=1 (counts 0–100)')
    .option('--seed <seed>', 'chooses the rows the trouble hits (default: the config\u2019s seed, else 0)')
    .option('--break-totals', 'make the file\u2019s own totals disagree with its rows')
    .option('--config <file>', 'the simulator config (channels, bill_format, bill_account); default: bank, wallet, payout')
    .addHelpText('after', '\nUse the same --seed and --inject for consecutive days: a row moved across midnight leaves day D and appears in D+1\u2019s file.')
    .action(
      run(async (ctx, flags: BillsFlags) => {
        try {
          return billsAction(ctx, flags);
        } catch (e) {
          throw asAbort(e);
        }
      }),
    );

  function billsAction(ctx: CommandContext, flags: BillsFlags): number {
    // --config and --seed after `bills` are parsed by channel-sim itself (it has options of the same name).
    const parent = channelSim.opts<{ config?: string; seed?: string }>();
    const configFile = flags.config ?? parent.config;
    const seed = flags.seed ?? parent.seed;
    if (flags.date === undefined) throw new BillError('date_invalid', 'Pass --date YYYY-MM-DD, the business date of the bills.');
    const dbGiven = program.opts<{ db?: string }>().db;
    const dbPath = resolve(ctx.io.cwd, dbGiven ?? ctx.io.env['SETTLE_SIM_DB'] ?? DEFAULT_SIM_DB_FILE);
    const config = configFile === undefined ? parseSimConfig({}, ctx.io.env) : loadSimConfigFile(resolve(ctx.io.cwd, configFile), ctx.io.env);
    if (!config.ok) throw new AbortError('config_invalid', config.message, 'Fix the config file; unknown keys are refused.');
    const inject = flags.inject === undefined ? {} : parseInjectSpec(flags.inject);
    if (!existsSync(dbPath)) throw new BillError('sim_db_missing', `There is no simulator file at ${dbPath}.`);
    const store = SimStore.open(dbPath);
    let written: ChannelBills[];
    try {
      written = writeBills(store, {
        config: config.value,
        date: flags.date,
        outDir: resolve(ctx.io.cwd, flags.out),
        channels: flags.channel === undefined ? undefined : [flags.channel],
        format: flags.format as BillFormat | undefined,
        inject,
        seed,
        breakTotals: flags.breakTotals === true,
      });
    } finally {
      store.close();
    }
    ctx.out.result({ ok: true, business_date: flags.date, db: dbPath, channels: written.map(billsJson) }, () => billsText(written));
    return EXIT.ok;
  }
}

/** A bill writer's refusal is the operator's to fix. */
function asAbort(e: unknown): unknown {
  return e instanceof BillError ? new AbortError(e.code, e.message, e.hint) : e;
}

function billsJson(b: ChannelBills): Record<string, unknown> {
  return {
    channel: b.channelId,
    format: b.format,
    account: b.account,
    files: b.files.map((f) => ({ path: f.path, name: f.name, rows: f.rows, bytes: f.bytes, sha256: f.sha256 })),
    manifest: b.manifestPath,
    payments: b.payments,
    refunds: b.refunds,
    voids: b.voids,
    left_out_other_currency: b.leftOutOtherCurrency,
    troubles: b.troubles,
    skipped: b.skipped,
    shortfalls: b.shortfalls,
  };
}

function billsText(written: readonly ChannelBills[]): string {
  if (written.length === 0) return 'No channel publishes a bill (none has a bill_format).';
  return written
    .flatMap((b) => [
      ...b.files.map((f) => `${b.channelId} ${b.format}: wrote ${f.path}  ${f.rows} row(s)  ${f.bytes} bytes  sha256 ${f.sha256}`),
      `${b.channelId}: manifest ${b.manifestPath}; ${b.troubles.length} injected change(s)` +
        (b.skipped.length > 0 ? `; skipped: ${b.skipped.map((s) => s.kind).join(', ')}` : '') +
        (b.leftOutOtherCurrency > 0 ? `; ${b.leftOutOtherCurrency} row(s) in other currencies left out` : ''),
    ])
    .join('\n');
}
