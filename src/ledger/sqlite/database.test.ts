// hasTable keeps one prepared query per connection: it must still see a table created after its first answer,
// and answer for each connection by its own file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTable, openSqlite } from './database.js';

const dir = mkdtempSync(join(tmpdir(), 'settle-has-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Given a connection asked whether it has a table', () => {
  it('When the table is created after a first "no", Then the next answer is "yes"; another file answers for itself', () => {
    const a = openSqlite(join(dir, 'a.db'), { create: true });
    const b = openSqlite(join(dir, 'b.db'), { create: true });
    try {
      expect(hasTable(a, 'merchants')).toBe(false);
      a.exec('CREATE TABLE merchants (merchant_id TEXT PRIMARY KEY)');
      expect(hasTable(a, 'merchants')).toBe(true);
      expect(hasTable(b, 'merchants')).toBe(false);
      a.exec('DROP TABLE merchants');
      expect(hasTable(a, 'merchants')).toBe(false);
    } finally {
      a.close();
      b.close();
    }
  });
});
