// `tsx --import ./bench/from-dist.mjs bench/X.bench.ts`: the bench's own code runs as TypeScript, but every
// module of the product it imports (`../src/**/*.js`) is taken from the compiled `dist/` — what `settle`
// runs — so the product's worker threads start as compiled code too (under tsx each one loads tsx first,
// 0.3–1 s). `npm run build` first; BENCH_FROM=src keeps the sources.
import { register } from 'node:module';
import process from 'node:process';

if (process.env['BENCH_FROM'] !== 'src') register('./from-dist-hooks.mjs', import.meta.url);
