// settle recon …: reconciliation (对账). Each part registers its own subcommands from its own file.

import type { Command } from 'commander';
import type { Run } from '../context.js';
import { registerReconFetchCommands } from './recon-fetch.js';
import { registerReconMatchCommands } from './recon-match.js';
import { registerReconParseCommands } from './recon-parse.js';
import { registerReconReviewCommand } from './recon-review.js';

export function registerReconCommands(program: Command, run: Run): void {
  const recon = program
    .command('recon')
    .description('reconciliation (对账): fetch the channels\u2019 files, parse them, match them against our orders, resolve the differences');
  registerReconFetchCommands(recon, run);
  registerReconParseCommands(recon, run);
  registerReconMatchCommands(recon, run);
  registerReconReviewCommand(recon, run);
}
