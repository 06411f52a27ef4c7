// The internal event sink (发送消息 for risk, BI and other consumers): a port with three built-ins.
// Every outbox row is written here before it is marked delivered, so a consumer sees each event at least
// once; after a crash between the write and the mark, a batch can appear twice — consumers de-duplicate
// by event_id. A message broker would be another implementation of EventSink.

import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { SinkConfig } from './config.js';
import { NotifyError } from './errors.js';

export interface SinkEvent {
  /** The NDJSON line, without its newline (see sinkLine in event.ts). */
  readonly line: string;
  readonly createdAtMs: number;
}

export interface EventSink {
  /** Resolves once the events are durable (or handed over); rejects if they may not be. */
  write(events: readonly SinkEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** The UTC date of an event, which names its file. */
export function eventFileName(createdAtMs: number): string {
  return `events-${new Date(createdAtMs).toISOString().slice(0, 10)}.ndjson`;
}

/**
 * NDJSON files in `dir`, one per UTC day of the events (events-2026-11-26.ndjson): each batch is
 * appended and fsynced (fdatasync) before write() resolves. The file of the day being written stays open.
 */
export class FileSink implements EventSink {
  private readonly dir: string;
  private current: { readonly name: string; readonly handle: FileHandle } | undefined;
  private made = false;

  constructor(dir: string) {
    this.dir = dir;
  }

  async write(events: readonly SinkEvent[]): Promise<void> {
    try {
      await this.append(events);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new NotifyError('event_sink_failed', `Cannot write internal events to ${this.dir} (${code}).`);
    }
  }

  private async append(events: readonly SinkEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (!this.made) {
      await mkdir(this.dir, { recursive: true, mode: 0o750 });
      this.made = true;
    }
    // Group by file, keeping the order of the events inside each.
    const byFile = new Map<string, string[]>();
    for (const e of events) {
      const name = eventFileName(e.createdAtMs);
      let lines = byFile.get(name);
      if (!lines) byFile.set(name, (lines = []));
      lines.push(e.line);
    }
    for (const [name, lines] of byFile) {
      const handle = await this.handleFor(name);
      await handle.write(`${lines.join('\n')}\n`);
      await handle.datasync();
    }
  }

  private async handleFor(name: string): Promise<FileHandle> {
    if (this.current?.name === name) return this.current.handle;
    await this.current?.handle.close();
    this.current = undefined;
    const handle = await open(join(this.dir, name), 'a', 0o640);
    this.current = { name, handle };
    return handle;
  }

  async close(): Promise<void> {
    const c = this.current;
    this.current = undefined;
    await c?.handle.close();
  }
}

/** One line per event through `write` (the process's standard output). */
export class StreamSink implements EventSink {
  private readonly out: (text: string) => void;
  constructor(out: (text: string) => void) {
    this.out = out;
  }
  async write(events: readonly SinkEvent[]): Promise<void> {
    if (events.length > 0) this.out(`${events.map((e) => e.line).join('\n')}\n`);
  }
  async close(): Promise<void> {}
}

export class NoSink implements EventSink {
  async write(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The sink a config names; the default file sink lives beside the database ("<db path>.events/"). */
export function createSink(config: SinkConfig, where: { readonly dbPath: string; readonly stdout: (text: string) => void }): EventSink {
  switch (config.kind) {
    case 'none':
      return new NoSink();
    case 'stdout':
      return new StreamSink(where.stdout);
    case 'file':
      // A relative dir is taken from the database's folder, like every other path beside the database.
      if (config.dir !== undefined) return new FileSink(resolve(dirname(where.dbPath), config.dir));
      if (where.dbPath === ':memory:' || where.dbPath === '') return new NoSink();
      return new FileSink(`${where.dbPath}.events`);
  }
}
