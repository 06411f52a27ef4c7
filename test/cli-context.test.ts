// How the CLI opens the database: FULL synchronous by default (a commit the operator saw survives a power
// cut), NORMAL only where a command asks for it (re-runnable bulk jobs such as recon import, match and run).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withLedger, type CommandContext } from '../src/cli/context.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';

const dir = mkdtempSync(join(tmpdir(), 'settle-cli-context-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Given a ledger database', () => {
  it('When a command opens it, Then synchronous is FULL unless the command asks for NORMAL', async () => {
    const dbPath = join(dir, 'settle.db');
    await SqliteLedgerStore.open(dbPath, { create: true }).close();
    const ctx = { dbPath, io: { clock: () => 0 } } as unknown as CommandContext;
    const mode = (store: SqliteLedgerStore): Promise<unknown> => Promise.resolve(store.db.pragma('synchronous', { simple: true }));
    // SQLite's numbers: 1 NORMAL, 2 FULL.
    expect(Number(await withLedger(ctx, (_l, store) => mode(store)))).toBe(2);
    expect(Number(await withLedger(ctx, (_l, store) => mode(store), 'NORMAL'))).toBe(1);
    expect(Number(await withLedger(ctx, (_l, store) => mode(store), 'FULL'))).toBe(2);
  });
});
