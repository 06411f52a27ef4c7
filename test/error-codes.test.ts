// Every stable error code must have a test that triggers it. This test reads the test files and fails
// when a code in the table is never asserted anywhere, so a new code cannot land untested.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LEDGER_ERROR_CODES } from '../src/ledger/errors.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : testFiles(path);
    return name.endsWith('.test.ts') && name !== 'error-codes.test.ts' ? [path] : [];
  });
}

describe('Given the table of ledger error codes', () => {
  const root = join(import.meta.dirname, '..');
  const corpus = [...testFiles(join(root, 'src')), ...testFiles(join(root, 'test'))].map((f) => readFileSync(f, 'utf8')).join('\n');
  it.each(Object.keys(LEDGER_ERROR_CODES))('Then code %s is asserted by some test', (code) => {
    expect(corpus).toContain(`'${code}'`);
  });
  it('Then every code tells the operator what to do next', () => {
    for (const hint of Object.values(LEDGER_ERROR_CODES)) expect(hint.length).toBeGreaterThan(25);
  });
});
