import { Linter } from 'eslint';
import { describe, expect, it } from 'vitest';
import plugin from './layers.js';

const root = '/repo';
const LAYER = /must not import .*imports flow cli/;
const SQLITE = /Only src\/ledger\/sqlite\/ may import better-sqlite3/;

function lint(filename: string, code: string): string[] {
  const linter = new Linter({ configType: 'flat', cwd: root });
  const messages = linter.verify(
    code,
    [{ files: ['**/*.ts', '**/*.js'], plugins: { settle: plugin }, rules: { 'settle/layers': 'error' } }],
    { filename },
  );
  return messages.map((m) => m.message);
}

describe('Given the layers rule', () => {
  it('When ledger imports online, batch or cli, Then it is an error', () => {
    expect(lint(`${root}/src/ledger/x.js`, "import { a } from '../online/a.js';")).toEqual([expect.stringMatching(LAYER)]);
    expect(lint(`${root}/src/ledger/sqlite/x.js`, "import { a } from '../../batch/a.js';")).toEqual([expect.stringMatching(LAYER)]);
    expect(lint(`${root}/src/ledger/x.js`, "export * from '../cli/a.js';")).toEqual([expect.stringMatching(LAYER)]);
  });
  it('When online imports batch or cli, or batch imports online, Then it is an error', () => {
    expect(lint(`${root}/src/online/x.js`, "import { a } from '../batch/a.js';")).toEqual([expect.stringMatching(LAYER)]);
    expect(lint(`${root}/src/online/x.js`, "import { a } from '../cli/a.js';")).toEqual([expect.stringMatching(LAYER)]);
    expect(lint(`${root}/src/batch/x.js`, "import { a } from '../online/a.js';")).toEqual([expect.stringMatching(LAYER)]);
  });
  it('When imports flow downwards, Then they pass', () => {
    expect(lint(`${root}/src/cli/x.js`, "import { a } from '../online/a.js'; import { b } from '../ledger/b.js';")).toEqual([]);
    expect(lint(`${root}/src/batch/x.js`, "import { a } from '../ledger/index.js';")).toEqual([]);
    expect(lint(`${root}/src/online/deep/x.js`, "import { a } from '../../ledger/index.js';")).toEqual([]);
  });
  it('When better-sqlite3 is imported outside src/ledger/sqlite/, Then it is an error', () => {
    expect(lint(`${root}/src/ledger/x.js`, "import Database from 'better-sqlite3';")).toEqual([expect.stringMatching(SQLITE)]);
    expect(lint(`${root}/src/online/x.js`, "const m = await import('better-sqlite3');")).toEqual([expect.stringMatching(SQLITE)]);
    expect(lint(`${root}/test/x.js`, "import Database from 'better-sqlite3';")).toEqual([expect.stringMatching(SQLITE)]);
    expect(lint(`${root}/src/ledger/sqlite/store.js`, "import Database from 'better-sqlite3';")).toEqual([]);
  });
});
