// Every stable code of the bill writer must be asserted (as the quoted literal) by some test of the
// bills or of the `settle channel-sim bills` command, so a new code cannot land untested.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BILL_ERROR_CODES } from './errors.js';

const here = import.meta.dirname;
const root = join(here, '..', '..', '..', '..');
const files = [
  ...readdirSync(here)
    .filter((n) => n.endsWith('.test.ts') && n !== 'errors.test.ts')
    .map((n) => join(here, n)),
  ...readdirSync(join(root, 'test'))
    .filter((n) => n.startsWith('sim-bills-') && n.endsWith('.test.ts'))
    .map((n) => join(root, 'test', n)),
];
const corpus = files.map((f) => readFileSync(f, 'utf8')).join('\n');

describe('Given the table of bill error codes', () => {
  it('Then the tests searched include the command\u2019s end-to-end test', () => {
    expect(files.some((f) => f.endsWith('sim-bills-cli.test.ts'))).toBe(true);
  });
  it.each(Object.keys(BILL_ERROR_CODES))('Then code %s is asserted by some test', (code) => {
    expect(corpus).toContain(`'${code}'`);
  });
});
