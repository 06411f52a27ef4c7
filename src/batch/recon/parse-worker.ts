// The parse worker of a parallel import (see worker-parse.ts; hash-worker.ts hashes the file beside it):
// it parses the file and posts its lines in packed blocks (line-block.ts). It blocks on a shared counter
// while the importing thread is WORKER_PARSE.blocksInFlightMax blocks behind, so a slow writer never lets a
// whole file pile up in memory.
//
// A block's buffer comes back over the job's `recycle` port once the importing thread has stored and
// matched it, and the next block is written into it. A new buffer per block would be freed only by the
// importing thread's major collections, which at a million lines come rarely enough for ~20 MiB of spent
// blocks to pile up: the peak would grow with the file.

import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { failureMessage } from './errors.js';
import { parseStatementFile, type ParseOptions } from './formats/index.js';
import { BlockBufferPool, LINE_BLOCK_ROWS, LineBlockBuilder, type BlockBufferSource } from './line-block.js';
import type { ParseJob, WorkerMessage } from './worker-parse.js';

const port = parentPort;
const job = workerData as ParseJob;
const inFlight = new Int32Array(job.inFlight);
/** Buffers handed back, ready for the next blocks: at most as many as may be in flight. */
const pool = new BlockBufferPool(job.blocksInFlightMax);

const bufferFor: BlockBufferSource = (size) => {
  const returned = job.recycle;
  for (let m = returned && receiveMessageOnPort(returned); returned && m; m = receiveMessageOnPort(returned)) {
    if (m.message instanceof ArrayBuffer) pool.give(m.message);
  }
  return pool.bufferFor(size);
};

function post(m: WorkerMessage): void {
  port?.postMessage(m);
}

function postBlock(builder: LineBlockBuilder): void {
  // The stored bytes are the message: the buffer is moved, and the importing thread reads the columns off it.
  const { rows, encoded } = builder.take(bufferFor);
  Atomics.add(inFlight, 0, 1);
  const m: WorkerMessage = { t: 'block', rows, encoded };
  port?.postMessage(m, typeof encoded === 'string' ? [] : [encoded.buffer as ArrayBuffer]);
  for (;;) {
    const n = Atomics.load(inFlight, 0);
    if (n < job.blocksInFlightMax) return;
    Atomics.wait(inFlight, 0, n, 1_000);
  }
}

async function parse(): Promise<void> {
  const builder = new LineBlockBuilder();
  const options: ParseOptions = job.options;
  const summary = await parseStatementFile(job.path, options, (line) => {
    builder.add(line);
    if (builder.rows >= LINE_BLOCK_ROWS) postBlock(builder);
  });
  if (builder.rows > 0) postBlock(builder);
  post({ t: 'done', summary, buffersMade: pool.made });
}

// Nothing keeps the thread alive once its last message is posted: it ends by itself, after the message.
parse().catch((e: unknown) => post(failureMessage(e)));
