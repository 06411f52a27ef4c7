// The hash worker of a parallel import (see worker-parse.ts): the file's SHA-256, so an unchanged file is
// known early and its parse stopped. A module of its own that loads only the file source: run from the
// parse worker's module, this thread loaded the formats, the importer and the matcher for nothing, and its
// heap was ~20 MiB while it hashed, on top of the other threads at the busiest moment of a large import.

import { parentPort, workerData } from 'node:worker_threads';
import { failureMessage } from './errors.js';
import { fileSha256 } from './formats/source.js';
import type { ParseJob, WorkerMessage } from './worker-parse.js';

const job = workerData as ParseJob;
const post = (m: WorkerMessage): void => parentPort?.postMessage(m);

if (job.hashGate !== undefined) Atomics.wait(new Int32Array(job.hashGate), 0, 0);
// Nothing keeps the thread alive once its message is posted: it ends by itself, after the message.
fileSha256(job.path).then(
  (hex) => post({ t: 'sha256', hex }),
  (e: unknown) => post(failureMessage(e)),
);
