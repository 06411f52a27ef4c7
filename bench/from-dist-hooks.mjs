// Resolve hook for from-dist.mjs: a bench module's `../src/…` import becomes `../dist/…`.
import { existsSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';

export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  if (parent !== undefined && specifier.startsWith('../src/') && /\/bench\/[^/]+\.ts$/.test(parent)) {
    const url = new URL(specifier.replace('../src/', '../dist/'), parent);
    if (!existsSync(fileURLToPath(url))) throw new Error(`${url.pathname} is not built: run npm run build (or BENCH_FROM=src)`);
    return next(url.href, context);
  }
  return next(specifier, context);
}
