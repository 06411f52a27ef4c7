import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseChart } from '../../ledger/chart-config.js';
import { Ledger } from '../../ledger/index.js';
import { openSqlite, type SqliteConnection } from '../../ledger/sqlite/database.js';
import { SqliteLedgerStore } from '../../ledger/sqlite/store.js';
import { InstantBankChannel } from '../channels/instant-bank.js';
import { parseOnlineConfig, PRODUCT_NAMES } from '../config.js';
import { SqliteOnlineStore } from '../sqlite/store.js';
import { PreauthService } from './preauths.js';
import { recoverOnce } from './recovery.js';
import { isFailure, type Caller } from './service.js';

let db: SqliteConnection;
let ledger: Ledger;
let store: SqliteOnlineStore;
let preauths: PreauthService;
const clock = { now: Date.UTC(2026, 10, 26, 2, 0, 0) };
const caller: Caller = { merchantId: 'M100001', products: PRODUCT_NAMES };
const config = (() => {
  const parsed = parseOnlineConfig({ preauth_expiry_s: 3_600 });
  if (!parsed.ok) throw new Error('config');
  return parsed.value;
})();
const bank = new InstantBankChannel({ channelId: 'bank' });

beforeEach(async () => {
  db = openSqlite(':memory:');
  const ledgerStore = SqliteLedgerStore.attach(db, ':memory:');
  ledger = new Ledger(ledgerStore, () => clock.now);
  await ledger.initialise(
    parseChart({
      subjects: [
        { code: '1122', name: 'Channel receivable', type: 'asset' },
        { code: '2202', name: 'Merchant payable', type: 'liability' },
        { code: '6001', name: 'Fee income', type: 'revenue' },
        { code: '6401', name: 'Channel cost', type: 'expense' },
      ],
    }),
    '2026-11-26',
  );
  store = new SqliteOnlineStore(db, ledgerStore, { clock: () => clock.now });
  preauths = new PreauthService(store, config, new Map([['bank', bank]]), () => clock.now);
});
afterEach(() => db.close());

describe('Given an authorised pre-authorisation', () => {
  it('When its expiry passes, Then recovery marks it expired and the ledger releases the hold', async () => {
    const created = await preauths.create(caller, { key: 'a', requestHash: 'a' }, { merchant_order_no: 'A1', amount: 5_000, currency: 'CNY' });
    if (isFailure(created)) throw new Error(created.message);
    const id = (JSON.parse(created.body) as { id: string }).id;
    const [held] = await ledger.accounts({ accountId: 'channel:bank:receivable:CNY' });
    expect(held?.debitsPending).toBe(5_000n);

    clock.now += 3_600_000;
    const report = await recoverOnce(store, new Map([['bank', bank]]), clock.now, {
      staleAfterMs: 60_000,
      batchMax: 100,
      config,
      expireHolds: async () => (await ledger.expireHolds()).length,
    });
    expect(report).toMatchObject({ closed: 1, holdsReleased: 1 });
    const after = await preauths.get(caller, id);
    expect(!isFailure(after) && (JSON.parse(after.body) as { status: string }).status).toBe('expired');
    const [released] = await ledger.accounts({ accountId: 'channel:bank:receivable:CNY' });
    expect(released?.debitsPending).toBe(0n);
    expect(await preauths.capture(caller, { key: 'c', requestHash: 'c' }, id, {})).toMatchObject({ code: 'illegal_transition' });
    expect((await ledger.verify()).ok).toBe(true);
  });
});
