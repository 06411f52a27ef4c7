// The fetch service on a local folder source: the archive, the no-op re-fetch, polling with back-off
// under a fake clock, the deadline, the size cap, unsafe paths and links, and the fetch log.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backoffMs, fetchStatement, type FetchDeps, type FetchProgress } from './service.js';
import { channelWith, fakeTime, fetchLog, filesUnder, refusal, tempDir } from './test-support.js';

const DATE = '2026-03-09';
const BILL = 'trade bill 2026-03-09\r\n`4200000001,`pay_1,100.00\r\n';

let tmp: ReturnType<typeof tempDir>;
let log: ReturnType<typeof fetchLog>;
let dropDir: string;
let archiveDir: string;

beforeEach(() => {
  tmp = tempDir('fetch-service');
  log = fetchLog();
  dropDir = join(tmp.path, 'drop');
  archiveDir = join(tmp.path, 'archive');
  mkdirSync(join(dropDir, '2026', '03'), { recursive: true });
});

afterEach(() => {
  log.close();
  tmp.cleanup();
});

const localSource = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'local',
  dir: dropDir,
  path_template: '{yyyy}/{MM}/bill_{yyyyMMdd}.csv',
  ...extra,
});

function deps(time = fakeTime(), events: FetchProgress[] = []): FetchDeps & { time: ReturnType<typeof fakeTime>; events: FetchProgress[] } {
  return { store: log.store, archiveDir, env: {}, clock: time.clock, sleep: time.sleep, onProgress: (e) => events.push(e), time, events };
}

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('Given a local folder source with the day’s file in place', () => {
  it('When it is fetched, Then the file is kept under <sha[0..2]>/<sha> and the log says fetched', async () => {
    writeFileSync(join(dropDir, '2026/03/bill_20260309.csv'), BILL);
    const r = await fetchStatement(channelWith(localSource()), DATE, deps());
    expect(r).toMatchObject({ channel: 'bank', date: DATE, sha256: sha(BILL), bytes: Buffer.byteLength(BILL), newFile: true, attempts: 1, remotePath: '2026/03/bill_20260309.csv' });
    expect(r.archivedPath).toBe(join(archiveDir, sha(BILL).slice(0, 2), sha(BILL)));
    expect(readFileSync(r.archivedPath, 'utf8')).toBe(BILL);
    expect(statSync(r.archivedPath).mode & 0o222).toBe(0);
    const [attempt] = await log.store.listAttempts('bank', DATE, 10);
    expect(attempt).toMatchObject({ outcome: 'fetched', sha256: sha(BILL), originalName: 'bill_20260309.csv', archivedPath: `${sha(BILL).slice(0, 2)}/${sha(BILL)}`, errorCode: null });
  });

  it('When it is fetched twice, Then the second is a no-op: same sha256, newFile false, one archive file', async () => {
    writeFileSync(join(dropDir, '2026/03/bill_20260309.csv'), BILL);
    const first = await fetchStatement(channelWith(localSource()), DATE, deps());
    const second = await fetchStatement(channelWith(localSource()), DATE, deps());
    expect(second.sha256).toBe(first.sha256);
    expect(second.newFile).toBe(false);
    expect(filesUnder(archiveDir)).toEqual([first.archivedPath]);
    expect((await log.store.listAttempts('bank', DATE, 10)).map((a) => a.outcome)).toEqual(['unchanged', 'fetched']);
    expect(await log.store.latestFetched('bank', DATE)).toMatchObject({ outcome: 'unchanged', sha256: first.sha256 });
  });

  it('When the channel corrects the file, Then the new bytes are a new file beside the first', async () => {
    const path = join(dropDir, '2026/03/bill_20260309.csv');
    writeFileSync(path, BILL);
    const first = await fetchStatement(channelWith(localSource()), DATE, deps());
    writeFileSync(path, `${BILL}corrected\r\n`);
    const second = await fetchStatement(channelWith(localSource()), DATE, deps());
    expect(second.newFile).toBe(true);
    expect(second.sha256).not.toBe(first.sha256);
    expect(filesUnder(archiveDir).sort()).toEqual([first.archivedPath, second.archivedPath].sort());
  });

  it('When the same bytes are the file of another date, Then they are stored once but new for that date', async () => {
    writeFileSync(join(dropDir, '2026/03/bill_20260309.csv'), BILL);
    writeFileSync(join(dropDir, '2026/03/bill_20260310.csv'), BILL);
    await fetchStatement(channelWith(localSource()), DATE, deps());
    const other = await fetchStatement(channelWith(localSource()), '2026-03-10', deps());
    expect(other.newFile).toBe(true);
    expect(filesUnder(archiveDir)).toHaveLength(1);
  });
});

describe('Given a file that is not published yet', () => {
  it('When it appears after two polls, Then the third attempt fetches it, after waits that double', async () => {
    const d = deps();
    let polls = 0;
    const sleep = async (ms: number): Promise<void> => {
      await d.time.sleep(ms);
      if (++polls === 2) writeFileSync(join(dropDir, '2026/03/bill_20260309.csv'), BILL);
    };
    const r = await fetchStatement(channelWith(localSource({ retry_interval_s: 30, deadline_s: 3600 })), DATE, { ...d, sleep });
    expect(r.attempts).toBe(3);
    expect(d.time.sleeps).toEqual([30_000, 60_000]);
    expect(d.events.filter((e) => e.kind === 'not_ready')).toHaveLength(2);
    expect((await log.store.listAttempts('bank', DATE, 10)).map((a) => [a.attempt, a.outcome])).toEqual([
      [3, 'fetched'],
      [2, 'not_ready'],
      [1, 'not_ready'],
    ]);
  });

  it('When the deadline passes, Then file_not_ready, having never slept past the deadline', async () => {
    const d = deps();
    const e = await refusal(fetchStatement(channelWith(localSource({ retry_interval_s: 60, retry_interval_max_s: 300, deadline_s: 1000 })), DATE, d));
    expect(e.code).toBe('file_not_ready');
    expect(e.message).toContain('2026/03/bill_20260309.csv');
    // 60 + 120 + 240 + 300 = 720, then the last 280 s up to the deadline.
    expect(d.time.sleeps).toEqual([60_000, 120_000, 240_000, 300_000, 280_000]);
    const attempts = await log.store.listAttempts('bank', DATE, 100);
    expect(attempts).toHaveLength(6);
    expect(attempts.every((a) => a.outcome === 'not_ready' && a.errorCode === 'file_not_ready')).toBe(true);
  });

  it('When the source has no deadline, Then one attempt and file_not_ready at once', async () => {
    const d = deps();
    expect((await refusal(fetchStatement(channelWith(localSource()), DATE, d))).code).toBe('file_not_ready');
    expect(d.time.sleeps).toEqual([]);
  });

  it('Then the back-off doubles from retry_interval_s and stops at retry_interval_max_s', () => {
    const s = { retry_interval_s: 5, retry_interval_max_s: 60 };
    expect([1, 2, 3, 4, 5, 6, 50].map((n) => backoffMs(s, n))).toEqual([5000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
  });
});

describe('Given files and paths that must be refused', () => {
  it('When the file is larger than bytes_max, Then file_too_large, nothing archived, and no retry', async () => {
    writeFileSync(join(dropDir, '2026/03/bill_20260309.csv'), 'x'.repeat(101));
    const d = deps();
    const e = await refusal(fetchStatement(channelWith(localSource({ bytes_max: 100, deadline_s: 600 })), DATE, d));
    expect(e.code).toBe('file_too_large');
    expect(d.time.sleeps).toEqual([]);
    expect(filesUnder(archiveDir)).toEqual([]);
    expect((await log.store.listAttempts('bank', DATE, 10))[0]).toMatchObject({ outcome: 'failed', errorCode: 'file_too_large' });
  });

  it('When the file is exactly bytes_max, Then it is fetched', async () => {
    writeFileSync(join(dropDir, '2026/03/bill_20260309.csv'), 'x'.repeat(100));
    expect((await fetchStatement(channelWith(localSource({ bytes_max: 100 })), DATE, deps())).bytes).toBe(100);
  });

  it('When the template climbs with .., Then path_unsafe before anything is read', async () => {
    const e = await refusal(fetchStatement(channelWith(localSource({ path_template: '../outside/{yyyyMMdd}.csv' })), DATE, deps()));
    expect(e.code).toBe('path_unsafe');
    expect(await log.store.listAttempts('bank', DATE, 10)).toEqual([]);
  });

  it('When a symbolic link in the folder leads outside it, Then path_unsafe', async () => {
    mkdirSync(join(tmp.path, 'secret'));
    writeFileSync(join(tmp.path, 'secret', 'bill_20260309.csv'), 'not yours');
    symlinkSync(join(tmp.path, 'secret'), join(dropDir, 'linked'));
    const e = await refusal(fetchStatement(channelWith(localSource({ path_template: 'linked/bill_{yyyyMMdd}.csv' })), DATE, deps()));
    expect(e.code).toBe('path_unsafe');
  });

  it('When the date is not a calendar date, Then date_invalid', async () => {
    for (const date of ['2026-02-30', '20260309', '2026-3-9', '']) {
      expect((await refusal(fetchStatement(channelWith(localSource()), date, deps()))).code).toBe('date_invalid');
    }
  });

  it('When the channel has no source or a wrong one, Then source_invalid naming the key', async () => {
    expect((await refusal(fetchStatement(channelWith(undefined), DATE, deps()))).code).toBe('source_invalid');
    const e = await refusal(fetchStatement(channelWith({ ...localSource(), password: 'inline' }), DATE, deps()));
    expect(e.code).toBe('source_invalid');
    expect(e.message).toContain('password');
  });

  it('When the path is a folder, Then fetch_failed', async () => {
    mkdirSync(join(dropDir, '2026/03/bill_20260309.csv'));
    expect((await refusal(fetchStatement(channelWith(localSource()), DATE, deps()))).code).toBe('fetch_failed');
  });

  it('When the source folder does not exist, Then fetch_failed (not a wait for a file)', async () => {
    const d = deps();
    const e = await refusal(fetchStatement(channelWith(localSource({ dir: join(tmp.path, 'nowhere'), deadline_s: 600 })), DATE, d));
    expect(e.code).toBe('fetch_failed');
    expect(d.time.sleeps).toEqual([]);
  });

  it('When date_offset_days is 1, Then the path names the next day', async () => {
    writeFileSync(join(dropDir, '2026/03/bill_20260310.csv'), BILL);
    const r = await fetchStatement(channelWith(localSource({ date_offset_days: 1 })), DATE, deps());
    expect(r.remotePath).toBe('2026/03/bill_20260310.csv');
    expect(r.date).toBe(DATE);
  });
});
