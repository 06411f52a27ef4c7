// settle serve: the online payment core daemon.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { LedgerError } from '../../ledger/index.js';
import type { Run } from '../context.js';
import { EXIT } from '../errors.js';

export function registerServeCommand(program: Command, run: Run): void {
  program
    .command('serve')
    .description('run the online payment core: the signed HTTP API on the shared database (Ctrl-C stops it gracefully)')
    .option('--port <n>', 'port to listen on', '7701')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--config <path>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .option('--channel-sim-url <url>', 'where settle channel-sim listens (env SETTLE_CHANNEL_SIM_URL)')
    .option('--instant-channels', 'answer every channel in-process at once (benchmarks; no simulator needed)')
    .option('--quiet', 'no request logs')
    .option('--statements-sftp-port <n>', 'also serve merchants\u2019 statements read-only over SFTP on this port (keys: settle merchant sftp-key)')
    .option('--statements-sftp-host-key <file>', 'the SFTP host key (OpenSSH private key; default: a new ed25519 key each start)')
    .option('--recovery-after-ms <n>', 'query the channel about orders untouched this long (default: the longest channel timeout + 5 s)')
    .action(
      run(async (ctx, opts: { port: string; host: string; config?: string; channelSimUrl?: string; instantChannels?: boolean; quiet?: boolean; recoveryAfterMs?: string; statementsSftpPort?: string; statementsSftpHostKey?: string }) => {
        const port = Number.parseInt(opts.port, 10);
        if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new LedgerError('input_invalid', `--port ${opts.port} is not a port number.`);
        const { loadConfig } = await import('../config.js');
        const { startDaemon } = await import('../../online/daemon.js');
        const { buildChannels, DEFAULT_CHANNEL_SIM_URL } = await import('../../online/channels/registry.js');
        const config = loadConfig(opts.config ?? ctx.io.env['SETTLE_CONFIG']);
        const simUrl = opts.channelSimUrl ?? ctx.io.env['SETTLE_CHANNEL_SIM_URL'] ?? DEFAULT_CHANNEL_SIM_URL;
        const sftpPort = opts.statementsSftpPort === undefined ? undefined : Number.parseInt(opts.statementsSftpPort, 10);
        if (sftpPort !== undefined && (!Number.isInteger(sftpPort) || sftpPort < 0 || sftpPort > 65_535)) throw new LedgerError('input_invalid', `--statements-sftp-port ${opts.statementsSftpPort} is not a port number.`);
        const { generateHostKeyPem } = await import('../../online/channel-sim/file-servers.js');
        const hostKeyPem = sftpPort === undefined ? '' : opts.statementsSftpHostKey === undefined ? generateHostKeyPem() : readFileSync(resolve(ctx.io.cwd, opts.statementsSftpHostKey), 'utf8');
        const daemon = await startDaemon({
          ...(sftpPort === undefined ? {} : { statementsSftp: { port: sftpPort, hostKeyPem } }),
          dbPath: ctx.dbPath,
          config: config.online,
          port,
          host: opts.host,
          env: ctx.io.env,
          logger: opts.quiet ? false : true,
          ...(opts.recoveryAfterMs !== undefined ? { recoveryStaleAfterMs: Number.parseInt(opts.recoveryAfterMs, 10), recoveryIntervalMs: 250 } : {}),
          channels: () => buildChannels(config.online, { simUrl, env: ctx.io.env, instant: opts.instantChannels === true }),
        });
        ctx.io.stderr(`settle serve listening on ${daemon.url} (database ${ctx.dbPath})${daemon.statementsSftpPort === null ? '' : `; statements over SFTP on port ${daemon.statementsSftpPort}`}\n`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            void daemon.close().then(resolve);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        ctx.io.stderr('settle serve stopped\n');
        return EXIT.ok;
      }),
    );
}
