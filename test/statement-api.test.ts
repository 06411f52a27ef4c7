// GET /v1/statements/{date} on the daemon: a merchant downloads its own statement, signed like every
// other call; another merchant's file, a missing one and a path trick all give not_found.

import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Merchant, type Stack } from './support/online.js';

describe('GET /v1/statements/{date}', () => {
  let stack: Stack;
  let a: Merchant;
  let b: Merchant;
  const csvA = 'record_type,business_date\r\npayment,2026-11-26\r\n';
  beforeAll(async () => {
    stack = await startStack({ instant: true });
    a = stack.merchant;
    b = await stack.addMerchant();
    const dir = join(stack.dir, 'statements');
    mkdirSync(join(dir, a.merchantId), { recursive: true });
    mkdirSync(join(dir, b.merchantId), { recursive: true });
    writeFileSync(join(dir, a.merchantId, `${a.merchantId}_20261126.csv`), csvA);
    writeFileSync(join(dir, b.merchantId, `${b.merchantId}_20261125.csv`), 'B only\r\n');
    // A link in A's folder to B's file must not leak it.
    symlinkSync(join(dir, b.merchantId, `${b.merchantId}_20261125.csv`), join(dir, a.merchantId, `${a.merchantId}_20261125.csv`));
  });
  afterAll(async () => stack.close());

  it('Given A\u2019s published statement, When A downloads its date, Then the bytes are the file, as text/csv', async () => {
    const r = await stack.request('GET', '/v1/statements/2026-11-26');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/csv');
    expect(r.body['text']).toBe(csvA);
  });

  it('Given B\u2019s statement of a date, When A or B asks for what is not theirs, Then 404 not_found', async () => {
    const viaLink = await stack.request('GET', '/v1/statements/2026-11-25');
    expect(viaLink.status).toBe(404);
    expect((viaLink.body['error'] as { code: string }).code).toBe('not_found');
    const bAsksA = await stack.request('GET', '/v1/statements/2026-11-26', undefined, { merchant: b });
    expect(bAsksA.status).toBe(404);
    expect((bAsksA.body['error'] as { code: string }).code).toBe('not_found');
    const bOwn = await stack.request('GET', '/v1/statements/2026-11-25', undefined, { merchant: b });
    expect(bOwn.body['text']).toBe('B only\r\n');
  });

  it('Given a date that is not YYYY-MM-DD, When asked, Then 400 field_invalid', async () => {
    for (const bad of ['2026-13-01', '20261126', '..%2F..%2Fsettle.db', '2026-11-26.csv']) {
      const r = await stack.request('GET', `/v1/statements/${bad}`);
      expect(r.status).toBe(400);
      expect((r.body['error'] as { code: string }).code).toBe('field_invalid');
    }
  });

  it('Given no signature, When a statement is asked for, Then the request is refused', async () => {
    const r = await fetch(`${stack.daemon.url}/v1/statements/2026-11-26`);
    expect(r.status).toBe(401);
  });
});
