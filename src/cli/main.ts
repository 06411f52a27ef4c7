// The settle command line. Commands are thin: they parse flags, call the ledger (and later the online
// and batch services) and render. Exit codes: 0 done and clean · 1 the operator must act ·
// 2 done, with findings · 70 internal error (a bug).

import { Command, CommanderError } from 'commander';
import { LEDGER_ERROR_CODES, LedgerError } from '../ledger/index.js';
import { registerChannelCommands } from './commands/channel.js';
import { registerChannelSimCommand } from './commands/channel-sim.js';
import { registerClearCommand } from './commands/clear.js';
import { registerDayCommands } from './commands/day.js';
import { registerDispatchCommand } from './commands/dispatch.js';
import { registerInitCommand } from './commands/init.js';
import { registerLedgerCommands } from './commands/ledger.js';
import { registerMerchantCommands } from './commands/merchant.js';
import { registerOrderCommands } from './commands/order.js';
import { registerPositionCommands } from './commands/position.js';
import { registerNightCommands } from './commands/night.js';
import { registerNotifyCommands } from './commands/notify.js';
import { registerReconCommands } from './commands/recon.js';
import { registerReportCommand } from './commands/report.js';
import { registerRunsCommand } from './commands/runs.js';
import { registerServeCommand } from './commands/serve.js';
import { registerShareCommand } from './commands/share.js';
import { registerTrialBalanceCommand } from './commands/trial-balance.js';
import { registerStatementCommand } from './commands/statement.js';
import { resolveDbPath, type CliIo, type CommandContext, type GlobalOptions, type Run } from './context.js';
import { AbortError, EXIT } from './errors.js';
import { makeOutput, toJsonText } from './output.js';
import { openProgress } from './progress/index.js';

export const VERSION = '0.1.0';

function defaultIo(): CliIo {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    clock: Date.now,
    terminal: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
  };
}

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes('--json');
}

/** Runs the CLI and returns the exit code; `io` lets tests run it in-process. */
export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('settle')
    .description('settle: the back office of an internet payment company — ledger, online payment core, day-end batch jobs')
    .version(VERSION)
    .option('--db <path>', 'the SQLite database file (env SETTLE_DB; default ./settle.db)')
    .option('--json', 'machine-readable output: one JSON object with "ok" and, on a refusal, "code"')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const run: Run = (action) =>
    async (...args: unknown[]): Promise<void> => {
      const command = args[args.length - 1] as Command;
      const globals = command.optsWithGlobals<GlobalOptions>();
      const ctx: CommandContext = {
        io,
        out: makeOutput(globals.json === true, io.stdout, io.stderr),
        dbPath: resolveDbPath(globals, io),
        progress: (label) => openProgress({ json: globals.json === true, stderr: io.stderr, clock: io.clock, tty: io.terminal?.stderr }, label),
      };
      exitCode = await action(ctx, ...(args.slice(0, -1) as never[]));
    };

  registerInitCommand(program, run);
  registerLedgerCommands(program, run);
  registerDayCommands(program, run);
  registerChannelSimCommand(program, run);
  registerMerchantCommands(program, run);
  registerServeCommand(program, run);
  registerOrderCommands(program, run);
  registerChannelCommands(program, run);
  registerDispatchCommand(program, run);
  registerNotifyCommands(program, run);
  registerReconCommands(program, run);
  registerRunsCommand(program, run);
  registerClearCommand(program, run);
  registerShareCommand(program, run);
  registerTrialBalanceCommand(program, run);
  registerStatementCommand(program, run);
  registerPositionCommands(program, run);
  registerReportCommand(program, run);
  registerNightCommands(program, run, (args, stepIo) => main(args, stepIo));
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
    for (const sub of cmd.commands) sub.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  }

  const json = wantsJson(argv);
  const refuse = (code: string, message: string, nextStep?: string): number => {
    if (json) io.stdout(`${toJsonText({ ok: false, code, message: nextStep ? `${message} ${nextStep}` : message })}\n`);
    else io.stderr(`settle: ${code}: ${message}${nextStep ? `\n  next: ${nextStep}` : ''}\n`);
    return EXIT.abort;
  };

  try {
    await program.parseAsync([...argv], { from: 'node' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT.ok; // --help, --version
      return json ? refuse('usage', e.message.replace(/^error: /, '')) : EXIT.abort;
    }
    if (e instanceof LedgerError) return refuse(e.code, e.message);
    if (e instanceof AbortError) return refuse(e.code, e.message, e.nextStep);
    // SQLITE_BUSY (and _SNAPSHOT, _RECOVERY): a lock held elsewhere, not a bug in settle.
    const sqliteCode = (e as { code?: unknown }).code;
    if (typeof sqliteCode === 'string' && sqliteCode.startsWith('SQLITE_BUSY')) {
      return refuse('db_busy', `The database is busy (${sqliteCode}): ${(e as Error).message}.`, LEDGER_ERROR_CODES.db_busy);
    }
    io.stderr(`settle: internal error (a bug; please report it with this output):\n${(e as Error).stack ?? String(e)}\n`);
    if (json) io.stdout(`${toJsonText({ ok: false, code: 'internal_error', message: (e as Error).message })}\n`);
    return EXIT.bug;
  }
}
