// GET /v1/statements/{date}: the authenticated merchant downloads its own statement of a business date,
// from the folder the batch job publishes into (<dir>/<merchant_id>/<merchant_id>_<yyyyMMdd>.csv). The
// path is built from the caller's merchant id only, never from the request; a file whose real path
// (symbolic links followed) is not inside that merchant's folder is treated as absent.

import { createReadStream, type ReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { isIsoDate } from '../../ledger/index.js';
import { apiFailure, type ApiFailure } from '../errors.js';

/** Merchant ids that can be folder names (the batch job publishes under the same rule). */
const SAFE_MERCHANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface StatementFile {
  readonly fileName: string;
  readonly sizeBytes: number;
  readonly open: () => ReadStream;
}

export async function findStatement(dir: string, merchantId: string, date: string): Promise<StatementFile | ApiFailure> {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(date) || !isIsoDate(date)) return apiFailure('field_invalid', `date ${JSON.stringify(date.slice(0, 20))} is not a YYYY-MM-DD calendar date.`);
  const missing = apiFailure('not_found', `No statement for ${date}.`);
  if (!SAFE_MERCHANT_ID.test(merchantId)) return missing;
  const fileName = `${merchantId}_${date.replaceAll('-', '')}.csv`;
  try {
    const folder = await realpath(join(dir, merchantId));
    const real = await realpath(join(folder, fileName));
    if (!real.startsWith(folder + sep)) return missing;
    const s = await stat(real);
    if (!s.isFile()) return missing;
    return { fileName, sizeBytes: s.size, open: () => createReadStream(real) };
  } catch (e) {
    if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes((e as NodeJS.ErrnoException).code ?? '')) return missing;
    throw e;
  }
}
