// The sample config is what `npm run demo` and a new operator start from: every section of it must
// parse under the schema of the command that reads it.

import { describe, expect, it } from 'vitest';
import { parseClearingConfig } from '../src/batch/clearing/config.js';
import { parsePositionsConfig } from '../src/batch/positions/config.js';
import { statementsConfigSchema } from '../src/batch/statements/config.js';
import { trialBalanceConfigSchema } from '../src/batch/trial-balance/config.js';
import { loadConfig } from '../src/cli/config.js';

describe('Given the sample config', () => {
  const config = loadConfig();
  it('Then the ledger, online and recon sections load, and each day-end section parses under its schema', () => {
    expect(config.chart.subjects.length).toBeGreaterThan(10);
    expect(config.recon.channels.map((c) => c.channel)).toEqual(['bank', 'wallet']);
    expect(() => parseClearingConfig(config.sections.clearing)).not.toThrow();
    expect(parsePositionsConfig(config.sections.positions).ok).toBe(true);
    expect(statementsConfigSchema.safeParse(config.sections.statements).success).toBe(true);
    expect(trialBalanceConfigSchema.safeParse(config.sections.trial_balance).success).toBe(true);
  });
});
