// Starting one of the batch jobs' worker threads (recon's parse and read of our payments, clearing's read,
// sharing's month sums) from its module: the compiled `.js` beside the caller (what `settle` runs), or, when
// the caller itself runs as TypeScript (tests, tsx), the `.ts` module through tsx's loader registered inside
// the worker.

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `name` is the worker module's path relative to `callerUrl` without its extension (`./parse-worker`). */
export function startWorker(callerUrl: string, name: string, options: WorkerOptions): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`${name}.js`, callerUrl), options);
  const entry = new URL(`${name}.ts`, callerUrl).href;
  // import.meta.resolve gives the ESM build; where it is missing (vitest), require's answer names the CJS one beside it.
  const api =
    typeof import.meta.resolve === 'function'
      ? import.meta.resolve('tsx/esm/api')
      : pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { ...options, eval: true });
}
