import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSink, eventFileName, FileSink, NoSink, StreamSink } from './sink.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'settle-sink-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const at = (iso: string) => Date.parse(iso);

describe('Given the NDJSON file sink', () => {
  it('When events of two days are written in batches, Then each lands, in order, in the file of its UTC day', async () => {
    const sink = new FileSink(join(dir, 'events'));
    await sink.write([
      { line: '{"n":1}', createdAtMs: at('2026-11-26T23:59:59.999Z') },
      { line: '{"n":2}', createdAtMs: at('2026-11-27T00:00:00.000Z') },
      { line: '{"n":3}', createdAtMs: at('2026-11-26T12:00:00.000Z') },
    ]);
    await sink.write([{ line: '{"n":4}', createdAtMs: at('2026-11-27T08:00:00.000Z') }]);
    await sink.write([]);
    await sink.close();
    expect(readdirSync(join(dir, 'events')).sort()).toEqual(['events-2026-11-26.ndjson', 'events-2026-11-27.ndjson']);
    expect(readFileSync(join(dir, 'events', 'events-2026-11-26.ndjson'), 'utf8')).toBe('{"n":1}\n{"n":3}\n');
    expect(readFileSync(join(dir, 'events', 'events-2026-11-27.ndjson'), 'utf8')).toBe('{"n":2}\n{"n":4}\n');
  });

  it('When the sink is reopened (a restart), Then it appends to the day\u2019s file', async () => {
    const first = new FileSink(dir);
    await first.write([{ line: 'a', createdAtMs: at('2026-11-26T01:00:00Z') }]);
    await first.close();
    const second = new FileSink(dir);
    await second.write([{ line: 'b', createdAtMs: at('2026-11-26T02:00:00Z') }]);
    await second.close();
    expect(readFileSync(join(dir, eventFileName(at('2026-11-26T00:00:00Z'))), 'utf8')).toBe('a\nb\n');
  });
});

describe('Given the sink config', () => {
  it('When it names stdout, none, or a file sink without a dir, Then the right sink is made (the default dir sits beside the database)', async () => {
    let out = '';
    const stdout = createSink({ kind: 'stdout' }, { dbPath: join(dir, 'settle.db'), stdout: (t) => void (out += t) });
    expect(stdout).toBeInstanceOf(StreamSink);
    await stdout.write([
      { line: '{"a":1}', createdAtMs: 0 },
      { line: '{"b":2}', createdAtMs: 0 },
    ]);
    expect(out).toBe('{"a":1}\n{"b":2}\n');
    expect(createSink({ kind: 'none' }, { dbPath: 'x', stdout: () => undefined })).toBeInstanceOf(NoSink);
    expect(createSink({ kind: 'file' }, { dbPath: ':memory:', stdout: () => undefined })).toBeInstanceOf(NoSink);
    const file = createSink({ kind: 'file' }, { dbPath: join(dir, 'settle.db'), stdout: () => undefined });
    await file.write([{ line: 'x', createdAtMs: at('2026-11-26T00:00:00Z') }]);
    await file.close();
    expect(readdirSync(join(dir, 'settle.db.events'))).toEqual(['events-2026-11-26.ndjson']);
    const relative = createSink({ kind: 'file', dir: 'bi-events' }, { dbPath: join(dir, 'settle.db'), stdout: () => undefined });
    await relative.write([{ line: 'y', createdAtMs: at('2026-11-26T00:00:00Z') }]);
    await relative.close();
    expect(readdirSync(join(dir, 'bi-events'))).toEqual(['events-2026-11-26.ndjson']);
  });
});
