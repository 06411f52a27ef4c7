// settle recon fetch --channel C --date D: fetch a channel's statement file from its configured source,
// keep it content-addressed beside the database, and log the attempt(s). Thin: load the config, open the
// database, call the fetch service, render.

import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { ReconError } from '../../batch/recon/errors.js';
import { openSqlite } from '../../ledger/sqlite/database.js';
import type { Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { fetchEvents, progressOf } from '../progress/bridges.js';

interface FetchFlags {
  readonly channel: string;
  readonly date: string;
  readonly config?: string;
}

export function registerReconFetchCommands(recon: Command, run: Run): void {
  recon
    .command('fetch')
    .description('fetch a channel\u2019s statement file for a date from its source (SFTP, FTP/FTPS, HTTP(S), local folder); kept by SHA-256')
    .requiredOption('--channel <id>', 'the channel, as listed in recon.channels of the config')
    .requiredOption('--date <YYYY-MM-DD>', 'the business date the file covers')
    .option('--config <file>', 'config file (default: samples/settle.config.json; env SETTLE_CONFIG)')
    .addHelpText('after', '\nFetching the same file again is a no-op ("new_file": false). Sources: src/batch/recon/fetch/README.md.')
    .action(
      run(async (ctx, flags: FetchFlags) => {
        // Loaded on demand, so other commands start without the fetchers and zod.
        const { loadConfig } = await import('../config.js');
        const { fetchStatement } = await import('../../batch/recon/fetch/service.js');
        const { SqliteFetchLogStore } = await import('../../batch/recon/sqlite/fetch-store.js');
        const configPath = flags.config ?? ctx.io.env['SETTLE_CONFIG'];
        const config = loadConfig(configPath === undefined ? undefined : resolve(ctx.io.cwd, configPath));
        const channel = config.recon.channels.find((c) => c.channel === flags.channel);
        if (channel === undefined) {
          const known = config.recon.channels.map((c) => c.channel).join(', ') || '(none)';
          throw new AbortError('channel_not_configured', `Channel ${flags.channel} is not in recon.channels of ${config.path} (configured: ${known}).`, 'Add it to the config or name one of those.');
        }
        const db = openSqlite(ctx.dbPath);
        const progress = await progressOf(ctx, `recon fetch ${channel.channel} ${flags.date}`);
        try {
          const store = SqliteFetchLogStore.open(db);
          const archiveDir = resolve(dirname(ctx.dbPath), config.recon.archive_dir);
          const r = await fetchStatement(channel, flags.date, {
            store,
            archiveDir,
            env: ctx.io.env,
            clock: ctx.io.clock,
            cwd: ctx.io.cwd,
            onProgress: fetchEvents(progress),
          }).finally(() => progress.close());
          ctx.out.result(
            {
              ok: true,
              channel: r.channel,
              date: r.date,
              sha256: r.sha256,
              bytes: r.bytes,
              archived_path: r.archivedPath,
              source: r.source,
              remote_path: r.remotePath,
              new_file: r.newFile,
              attempts: r.attempts,
            },
            () =>
              `${r.newFile ? 'Fetched' : 'Already had'} ${r.remotePath} from ${r.source} for ${r.channel} on ${r.date}: ${r.bytes} bytes, sha256 ${r.sha256}\n  kept at ${r.archivedPath}`,
          );
          return EXIT.ok;
        } catch (e) {
          if (e instanceof ReconError) throw new AbortError(e.code, e.message, e.hint);
          throw e;
        } finally {
          db.close();
        }
      }),
    );
}
