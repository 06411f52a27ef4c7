// Every stable error code must have a test that triggers it. This test reads the test files and fails
// when a code in the table is never asserted anywhere, so a new code cannot land untested.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLEARING_ERROR_CODES } from '../src/batch/clearing/config.js';
import { NIGHT_ERROR_CODES } from '../src/batch/night/errors.js';
import { RECON_ERROR_CODES } from '../src/batch/recon/errors.js';
import { REPORT_ERROR_CODES } from '../src/batch/report/errors.js';
import { SHARE_ERROR_CODES } from '../src/batch/sharing/errors.js';
import { LEDGER_ERROR_CODES } from '../src/ledger/errors.js';
import { API_ERROR_CODES } from '../src/online/errors.js';
import { ONLINE_AUTH_ERROR_CODES } from '../src/online/merchants/errors.js';
import { NOTIFY_ERROR_CODES } from '../src/online/notify/errors.js';
import { BILL_ERROR_CODES } from '../src/online/channel-sim/bills/errors.js';
import { REVIEW_ERROR_CODES } from '../src/cli/review/errors.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : testFiles(path);
    return (name.endsWith('.test.ts') || name.endsWith('.test.tsx')) && name !== 'error-codes.test.ts' ? [path] : [];
  });
}

describe('Given the table of ledger error codes', () => {
  const root = join(import.meta.dirname, '..');
  const corpus = [...testFiles(join(root, 'src')), ...testFiles(join(root, 'test'))].map((f) => readFileSync(f, 'utf8')).join('\n');
  it.each(Object.keys(LEDGER_ERROR_CODES))('Then ledger code %s is asserted by some test', (code) => {
    expect(corpus).toContain(`'${code}'`);
  });
  it.each(Object.keys(API_ERROR_CODES))('Then API code %s is asserted by some test', (code) => {
    expect(corpus).toContain(`'${code}'`);
  });
  it.each(Object.keys(ONLINE_AUTH_ERROR_CODES))('Then authentication code %s is asserted by some test', (code) => {
    expect(corpus).toContain(`'${code}'`);
  });
  it.each(Object.keys(RECON_ERROR_CODES))('Then reconciliation code %s is asserted by some test', (code) => {
    expect(corpus).toContain(`'${code}'`);
  });
  it.each(Object.keys(NOTIFY_ERROR_CODES))('Then notification code %s is asserted by some test', (code) => {
    expect(corpus).toContain(`'${code}'`);
  });
  it.each(Object.keys(BILL_ERROR_CODES))('Then simulator bill code %s is asserted by some test', (code) => {
    expect(corpus).toContain(`'${code}'`);
  });
  it.each(Object.keys(CLEARING_ERROR_CODES))('Then clearing code %s is asserted by some test', (code) => {
    expect(corpus).toContain(`'${code}'`);
  });
  it.each(Object.keys(SHARE_ERROR_CODES))('Then profit-sharing code %s is asserted by some test', (code) => {
    expect(corpus).toContain(`'${code}'`);
  });
  it.each(Object.keys(REVIEW_ERROR_CODES))('Then review code %s is asserted by some test', (code) => {
    expect(corpus).toContain(`'${code}'`);
  });
  it.each(Object.keys(NIGHT_ERROR_CODES))('Then night chain code %s is asserted by some test, and says what to do', (code) => {
    expect(corpus).toContain(`'${code}'`);
    expect(NIGHT_ERROR_CODES[code as keyof typeof NIGHT_ERROR_CODES].length).toBeGreaterThan(25);
  });
  it.each(Object.keys(REPORT_ERROR_CODES))('Then report code %s is asserted by some test, and says what to do', (code) => {
    expect(corpus).toContain(`'${code}'`);
    expect(REPORT_ERROR_CODES[code as keyof typeof REPORT_ERROR_CODES].length).toBeGreaterThan(25);
  });
  it('Then every bill, clearing and sharing code says what it means or what to do', () => {
    for (const { hint } of Object.values(BILL_ERROR_CODES)) expect(hint.length).toBeGreaterThan(25);
    for (const hint of [...Object.values(CLEARING_ERROR_CODES), ...Object.values(SHARE_ERROR_CODES)] as string[]) expect(hint.length).toBeGreaterThan(25);
  });
  it('Then every notification code tells the operator what to do next', () => {
    for (const { hint } of Object.values(NOTIFY_ERROR_CODES)) expect(hint.length).toBeGreaterThan(25);
  });
  it('Then every code tells the operator what to do next', () => {
    for (const hint of Object.values(LEDGER_ERROR_CODES)) expect(hint.length).toBeGreaterThan(25);
    for (const { hint } of [...Object.values(API_ERROR_CODES), ...Object.values(ONLINE_AUTH_ERROR_CODES), ...Object.values(RECON_ERROR_CODES)]) expect(hint.length).toBeGreaterThan(25);
  });
});
