import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseClearingConfig, parseCycle, parseRate, type RateCard } from './config.js';
import { CandidateColumns } from './columns.js';
import { computeFees, dueDate, itemKeyOrder, paymentFee, planClearing, planColumns, refundFeeReturned, type CandidateItem } from './core.js';
import { max35, pain001, xmlEscape, type PayoutInstruction } from './payout.js';
import { batchEntries, itemRowsOf, itemWritesInKeyOrder, slices } from './service.js';

const card = (over: Partial<RateCard> = {}): RateCard => ({
  merchant: '*',
  product: '*',
  channel: '*',
  rate: parseRate('0.006'),
  fixedMinor: 0n,
  minMinor: 0n,
  capMinor: null,
  tiers: [],
  refundFeePolicy: 'proportional',
  ...over,
});

describe('Given settlement cycles', () => {
  it('When an item of Friday 2026-11-27 is due, Then T+0 that day, D+1 Saturday, T+1 Monday, weekly:wed the next Wednesday', () => {
    expect(dueDate('2026-11-27', parseCycle('T+0'))).toBe('2026-11-27');
    expect(dueDate('2026-11-27', parseCycle('D+1'))).toBe('2026-11-28');
    expect(dueDate('2026-11-27', parseCycle('T+1'))).toBe('2026-11-30');
    expect(dueDate('2026-11-27', parseCycle('weekly:wed'))).toBe('2026-12-02');
    expect(dueDate('2026-11-25', parseCycle('weekly:wed'))).toBe('2026-12-02'); // a Wednesday item waits a week
  });
});

describe('Given a rate card', () => {
  it('When fees are worked by hand, Then percentage half up, fixed, minimum, cap and tiers apply in that order', () => {
    expect(paymentFee(card(), 25050n, 0n)).toBe(150n); // 150.3 → 150
    expect(paymentFee(card(), 25084n, 0n)).toBe(151n); // 150.504 → 151
    expect(paymentFee(card({ rate: parseRate('0.005') }), 100n, 0n)).toBe(1n); // 0.5 → 1 (half up)
    expect(paymentFee(card({ fixedMinor: 10n }), 10000n, 0n)).toBe(70n);
    expect(paymentFee(card({ minMinor: 50n }), 1000n, 0n)).toBe(50n);
    expect(paymentFee(card({ capMinor: 500n }), 1_000_000n, 0n)).toBe(500n);
    expect(paymentFee(card({ minMinor: 50n }), 20n, 0n)).toBe(20n); // never above the amount
    const tiered = card({ tiers: [{ fromMinor: 0n, toMinor: 100_000n, rate: parseRate('0.01') }, { fromMinor: 100_000n, toMinor: null, rate: parseRate('0.005') }] });
    expect(paymentFee(tiered, 10000n, 99_999n)).toBe(100n);
    expect(paymentFee(tiered, 10000n, 100_000n)).toBe(50n);
  });

  it('When a payment of 100.00 with fee 0.60 is refunded 30.00, 30.00 and 40.00, Then 0.18, 0.18, 0.24 come back (kept: nothing)', () => {
    expect([0n, 3000n, 6000n].map((before, i) => refundFeeReturned('proportional', 60n, 10000n, before, [3000n, 3000n, 4000n][i] ?? 0n))).toEqual([18n, 18n, 24n]);
    // 0.07 over three refunds of a third: 0.02, 0.03, 0.02 — the cumulative rule returns exactly 0.07.
    expect([0n, 3333n, 6666n].map((before, i) => refundFeeReturned('proportional', 7n, 10000n, before, [3333n, 3333n, 3334n][i] ?? 0n))).toEqual([2n, 3n, 2n]);
    expect(refundFeeReturned('kept', 60n, 10000n, 0n, 3000n)).toBe(0n);
  });

  it('When the month volume crosses a tier inside one run, Then each payment takes the tier of the volume before it', () => {
    const tiered = card({ tiers: [{ fromMinor: 0n, toMinor: 15_000n, rate: parseRate('0.01') }, { fromMinor: 15_000n, toMinor: null, rate: parseRate('0.005') }] });
    const items = ['a', 'b', 'c'].map((id): CandidateItem => ({ kind: 'payment', itemId: id, merchantId: 'M', currency: 'CNY', businessDate: '2026-11-26', amountMinor: 10_000n, product: 'quick', channelId: 'c', bookedFeeMinor: 0n, reconciled: true }));
    const fees = computeFees(items, { rateCards: [tiered], refundFeePolicy: 'proportional' }, new Map());
    expect(fees.map((f) => f.rateFeeMinor)).toEqual([100n, 100n, 50n]);
  });
});

describe('Given the clearing config', () => {
  it.each([
    [{ rate_cards: [{ rate: '1.01' }] }, 'rate_card_invalid'],
    [{ rate_cards: [{ tiers: [{ from_minor: 0, rate: '2' }] }] }, 'rate_card_invalid'],
    [{ rate_cards: [{ min_minor: 10, cap_minor: 5 }] }, 'rate_card_invalid'],
    [{ rate_cards: [{ tiers: [{ from_minor: 10, to_minor: 10, rate: '0.01' }] }] }, 'rate_card_invalid'],
    [{ rate_cards: [{ product: 'gold' }] }, 'rate_card_unknown_product'],
    [{ rate_cards: [{ tiers: [{ from_minor: 0, rate: '0.01' }, { from_minor: 100, rate: '0.02' }] }] }, 'rate_card_tiers_overlap'],
    [{ default_cycle: 'T+2' }, 'clearing_config_invalid'],
    [{ merchants: { M1: { payout: { name: 'x', bank: 'B' } } } }, 'clearing_config_invalid'],
    [{ surprise: true }, 'clearing_config_invalid'],
  ])('When it is %j, Then %s', (raw, code) => {
    expect(() => parseClearingConfig(raw)).toThrow(expect.objectContaining({ code }));
  });

  it('When it is absent, Then the defaults: T+1, proportional, no rate cards', () => {
    expect(parseClearingConfig(undefined)).toMatchObject({ defaultCycle: { kind: 'T+1' }, refundFeePolicy: 'proportional', rateCards: [] });
  });
});

// ---- properties ----

const RUN_DATE = '2026-11-26';
const dates = ['2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26'];

const worldArb = fc
  .record({
    rate: fc.constantFrom('0', '0.006', '0.0123', '0.5', '1'),
    fixedMinor: fc.bigInt({ min: 0n, max: 100n }),
    minMinor: fc.bigInt({ min: 0n, max: 50n }),
    capMinor: fc.option(fc.bigInt({ min: 50n, max: 10_000n }), { nil: null }),
    policy: fc.constantFrom('proportional' as const, 'kept' as const),
    payments: fc.array(
      fc.record({
        merchant: fc.constantFrom('M1', 'M2', 'M3'),
        amountMinor: fc.bigInt({ min: 1n, max: 10_000_000n }),
        bookedPermille: fc.integer({ min: 0, max: 1000 }),
        date: fc.constantFrom(...dates),
        reconciled: fc.boolean(),
        refundParts: fc.array(fc.tuple(fc.integer({ min: 1, max: 100 }), fc.boolean()), { maxLength: 3 }),
      }),
      { maxLength: 40 },
    ),
    carried: fc.bigInt({ min: -100_000n, max: 0n }),
  })
  .map((g) => {
    const rc = card({ rate: parseRate(g.rate), fixedMinor: g.fixedMinor, minMinor: g.minMinor, capMinor: g.capMinor, refundFeePolicy: g.policy });
    const items: CandidateItem[] = [];
    g.payments.forEach((p, n) => {
      const paymentId = `p${String(n).padStart(3, '0')}`;
      const bookedFeeMinor = (p.amountMinor * BigInt(p.bookedPermille)) / 1000n;
      items.push({ kind: 'payment', itemId: paymentId, merchantId: p.merchant, currency: 'CNY', businessDate: p.date, amountMinor: p.amountMinor, product: 'quick', channelId: 'c', bookedFeeMinor, reconciled: p.reconciled });
      let refunded = 0n;
      p.refundParts.forEach(([percent, reconciled], k) => {
        const amountMinor = (p.amountMinor * BigInt(percent)) / 300n;
        if (amountMinor === 0n) return;
        items.push({
          kind: 'refund',
          itemId: `r${String(n).padStart(3, '0')}${k}`,
          merchantId: p.merchant,
          currency: 'CNY',
          businessDate: RUN_DATE,
          amountMinor,
          product: 'quick',
          channelId: 'c',
          bookedFeeMinor: 0n,
          reconciled,
          paymentId,
          paymentAmountMinor: p.amountMinor,
          paymentBookedFeeMinor: bookedFeeMinor,
          paymentSettledFeeMinor: paymentFee(rc, p.amountMinor, 0n),
          refundedBeforeMinor: refunded,
        });
        refunded += amountMinor;
      });
    });
    return { rc, items, carried: g.carried };
  });

const sum = (xs: readonly bigint[]): bigint => xs.reduce((a, b) => a + b, 0n);

describe('Given any day of payments and refunds (properties)', () => {
  it('Then fees never lose or create a minor unit, and net = gross − refunds − fees + adjustments, payout + carried out = net + carried in', () => {
    fc.assert(
      fc.property(worldArb, fc.boolean(), ({ rc, items, carried }, include) => {
        const plan = planClearing({
          runDate: RUN_DATE,
          items,
          includeUnreconciled: include,
          config: { rateCards: [rc], refundFeePolicy: rc.refundFeePolicy, defaultCycle: { kind: 'T+0' }, merchants: new Map() },
          monthVolumeMinor: new Map(),
          carriedInMinor: new Map([['M1\u0000CNY', carried]]),
        });
        for (const b of plan.batches) {
          expect(sum(b.items.map((i) => i.rateFeeMinor))).toBe(b.rateFeesMinor);
          expect(sum(b.items.map((i) => i.signedBookedFeeMinor))).toBe(b.feesMinor);
          expect(b.netMinor).toBe(b.grossMinor - b.refundsMinor - b.feesMinor + b.adjustmentsMinor);
          expect(b.payoutMinor + b.carriedOutMinor).toBe(b.netMinor + b.carriedInMinor);
          expect(b.payoutMinor >= 0n && b.carriedOutMinor <= 0n).toBe(true);
        }
        if (include) expect(plan.held).toEqual([]);
        // Refund fees of one payment: together exactly round_half_up(fee × refunded / amount), never above the fee.
        const all = computeFees(items, { rateCards: [rc], refundFeePolicy: rc.refundFeePolicy }, new Map());
        const byPayment = new Map<string, bigint>();
        for (const i of all) if (i.kind === 'refund') byPayment.set(i.paymentId ?? '', (byPayment.get(i.paymentId ?? '') ?? 0n) - i.rateFeeMinor);
        for (const [pid, returned] of byPayment) {
          const fee = all.find((i) => i.itemId === pid)?.rateFeeMinor ?? 0n;
          expect(returned >= 0n && returned <= fee).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('Then settlement + held + carried = collections − refunds − fees (rate card), with nothing carried in', () => {
    fc.assert(
      fc.property(worldArb, ({ rc, items }) => {
        const config = { rateCards: [rc], refundFeePolicy: rc.refundFeePolicy, defaultCycle: { kind: 'T+0' as const }, merchants: new Map() };
        const plan = planClearing({ runDate: RUN_DATE, items, includeUnreconciled: false, config, monthVolumeMinor: new Map(), carriedInMinor: new Map() });
        const priced = computeFees(items, config, new Map());
        const collections = sum(priced.filter((i) => i.kind !== 'refund').map((i) => i.amountMinor));
        const refunds = sum(priced.filter((i) => i.kind === 'refund').map((i) => i.amountMinor));
        const fees = sum(priced.map((i) => i.rateFeeMinor));
        const heldNet = sum(computeFees(plan.held, config, new Map()).map((i) => (i.kind === 'refund' ? -i.amountMinor : i.amountMinor) - i.rateFeeMinor));
        const settled = sum(plan.batches.map((b) => b.payoutMinor));
        const carriedOut = sum(plan.batches.map((b) => b.carriedOutMinor));
        expect(settled + heldNet + carriedOut).toBe(collections - refunds - fees);
      }),
      { numRuns: 200 },
    );
  });

  it('Then every batch entry balances, every item is written once with its batch number in key order, and every transaction stays under its bound', () => {
    fc.assert(
      fc.property(worldArb, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 5 }), ({ rc, items }, itemsMax, batchesMax) => {
        const plan = planClearing({
          runDate: RUN_DATE,
          items,
          includeUnreconciled: true,
          config: { rateCards: [rc], refundFeePolicy: rc.refundFeePolicy, defaultCycle: { kind: 'T+0' }, merchants: new Map() },
          monthVolumeMinor: new Map(),
          carriedInMinor: new Map(),
        });
        const writes = plan.batches.map((b, k) => batchEntries(b, 100 + k));
        for (const w of writes) {
          for (const c of w.commands) {
            if (c.type !== 'entry') throw new Error('entries only');
            expect(sum(c.postings.filter((p) => p.side === 'debit').map((p) => p.amountMinor))).toBe(sum(c.postings.filter((p) => p.side === 'credit').map((p) => p.amountMinor)));
          }
        }
        const rows = itemWritesInKeyOrder(writes);
        const itemChunks = slices(rows, itemsMax);
        expect(itemChunks.flat()).toEqual(rows);
        for (const ch of itemChunks) expect(ch.length).toBeLessThanOrEqual(itemsMax);
        for (let k = 1; k < rows.length; k++) expect(itemKeyOrder((rows[k - 1] as (typeof rows)[number]).item, (rows[k] as (typeof rows)[number]).item)).toBeLessThan(0);
        const numbered = new Map(writes.flatMap((w) => w.batch.items.map((i) => [`${i.kind}:${i.itemId}`, w.batchNo] as const)));
        expect(new Map(rows.map((r) => [`${r.item.kind}:${r.item.itemId}`, r.batchNo]))).toEqual(numbered);
        expect(rows).toHaveLength(numbered.size);
        const batchChunks = slices(writes, batchesMax);
        expect(batchChunks.flat()).toEqual(writes);
        for (const ch of batchChunks) expect(ch.length).toBeLessThanOrEqual(batchesMax);
      }),
      { numRuns: 100 },
    );
  });
});

describe('Given a plan of columns and a resumed run that writes only some of its batches (properties)', () => {
  it('Then the rows are those batches\' items exactly, in key order, each with its batch\'s number and fee; and the batches are planClearing\'s', () => {
    fc.assert(
      fc.property(worldArb, fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), ({ rc, items }, written) => {
        const config = { rateCards: [rc], refundFeePolicy: rc.refundFeePolicy, defaultCycle: { kind: 'T+0' as const }, merchants: new Map() };
        const input = { runDate: RUN_DATE, includeUnreconciled: false, config, monthVolumeMinor: new Map(), carriedInMinor: new Map() };
        const columns = CandidateColumns.of(items);
        const plan = planColumns({ ...input, items: columns });
        const objects = planClearing({ ...input, items });
        expect(plan.batches.map(({ itemIndices, ...figures }) => ({ ...figures, ids: Array.from(itemIndices, (k) => columns.ids[k]) }))).toEqual(
          objects.batches.map(({ items: cleared, ...figures }) => ({ ...figures, ids: cleared.map((i) => i.itemId) })),
        );
        // A killed run wrote some batches already: the others are written now, numbered from 7.
        const todo = plan.batches.filter((_, k) => written[k % 3] !== true);
        const writes = todo.map((b, k) => batchEntries(b, 7 + k));
        const { rows, order } = itemRowsOf(columns, plan, writes);
        const expected = writes.flatMap((w) => Array.from(w.batch.itemIndices, (k) => [k, w.batchNo] as const));
        expect(new Map(Array.from(order, (k) => [k, rows.batchNos[k]] as const))).toEqual(new Map(expected));
        expect(order).toHaveLength(expected.length);
        for (let at = 1; at < order.length; at++) expect(itemKeyOrder(columns.item(order[at - 1] ?? 0), columns.item(order[at] ?? 0))).toBeLessThan(0);
        const fees = new Map(objects.batches.flatMap((b) => b.items.map((i) => [`${i.kind}:${i.itemId}`, i.rateFeeMinor] as const)));
        for (const k of order) expect(rows.rateFees[k]).toBe(fees.get(`${columns.item(k).kind}:${columns.ids[k] ?? ''}`));
        const chunks = slices(order, 4);
        for (const ch of chunks) expect(ch.length).toBeLessThanOrEqual(4);
        expect(chunks.flatMap((ch) => [...ch])).toEqual([...order]);
      }),
      { numRuns: 150 },
    );
  });
});

// ---- pain.001 ----

/** A tiny well-formedness check: every start tag closed in order, entities known; returns the elements' texts by name. */
function parseXml(xml: string): Map<string, string[]> {
  const texts = new Map<string, string[]>();
  const stack: { name: string; start: number }[] = [];
  const body = xml.replace(/^<\?xml [^?]*\?>\n/, '');
  const tag = /<(\/?)([A-Za-z][A-Za-z0-9]*)((?:\s+[A-Za-z:]+="[^"<&]*")*)\s*>|&(?!(amp|lt|gt|quot|apos);)|<|>/g;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    if (m[2] === undefined) throw new Error(`stray ${m[0]} at ${m.index}`);
    if (m[1] === '/') {
      const open = stack.pop();
      if (open?.name !== m[2]) throw new Error(`</${m[2]}> closes <${open?.name ?? '(none)'}>`);
      const list = texts.get(m[2]) ?? [];
      list.push(body.slice(open.start, m.index));
      texts.set(m[2], list);
    } else stack.push({ name: m[2], start: m.index + m[0].length });
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[0]?.name ?? ''}>`);
  return texts;
}

const toMinor = (decimal: string): bigint => BigInt(decimal.replace('.', ''));

describe('Given payout instructions', () => {
  it('When written as pain.001.001.09, Then it is well-formed, counts its transactions and CtrlSum is the sum of InstdAmt', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ name: fc.string({ minLength: 1, maxLength: 40 }), amountMinor: fc.bigInt({ min: 1n, max: 10n ** 12n }), merchant: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/) }), { minLength: 1, maxLength: 20 }),
        (rows) => {
          const instructions: PayoutInstruction[] = rows.map((r, i) => ({
            batchId: `clr.${RUN_DATE}.${r.merchant}.CNY`,
            merchantId: r.merchant,
            currency: 'CNY',
            amountMinor: r.amountMinor,
            payee: { name: r.name, iban: i % 2 === 0 ? 'DE89370400440532013000' : null, account: i % 2 === 0 ? null : '955880001', bank: i % 3 === 0 ? 'COBADEFFXXX' : '102100099996' },
          }));
          const xml = pain001({ runDate: RUN_DATE, currency: 'CNY', createdAtMs: Date.parse('2026-11-27T02:00:00Z'), executionDate: '2026-11-27', debtor: { name: 'Us & Co', iban: null, account: '1', bank: 'ICBKCNBJ' }, instructions });
          const t = parseXml(xml);
          expect(t.get('NbOfTxs')).toEqual([String(rows.length), String(rows.length)]);
          expect(t.get('CdtTrfTxInf')).toHaveLength(rows.length);
          const amounts = (t.get('InstdAmt') ?? []).map(toMinor);
          expect(t.get('CtrlSum')?.map(toMinor)).toEqual([sum(amounts), sum(amounts)]);
          expect(sum(amounts)).toBe(sum(rows.map((r) => r.amountMinor)));
          for (const id of t.get('EndToEndId') ?? []) expect(id.length).toBeLessThanOrEqual(35);
          expect(t.get('CreDtTm')).toEqual(['2026-11-27T02:00:00Z']);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('When any text is escaped, Then it is the text with what XML 1.0 cannot hold dropped and the five markup characters escaped (plain text as it is)', () => {
    // The reference goes code point by code point: kept when XML 1.0 holds it, the five markup characters as entities.
    const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
    const holds = (c: number): boolean => c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000;
    const reference = (text: string): string => {
      let out = '';
      for (const ch of text) if (holds(ch.codePointAt(0) ?? 0)) out += ENTITIES[ch] ?? ch;
      return out;
    };
    const unit = fc.oneof(fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), fc.constantFrom('&', '<', "'", '\u{1F600}', '\ufffe', '\ud800', 'a'));
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 8 }), (text) => {
        expect(xmlEscape(text)).toBe(reference(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('When text holds markup or control characters, Then it is escaped or dropped', () => {
    expect(xmlEscape(`a<b>&"c'\u0001`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
    expect(max35('x'.repeat(40))).toHaveLength(35);
  });
});

describe('Given a tiered card and payments of several merchants and months in any order (properties)', () => {
  const tiered = card({ tiers: [{ fromMinor: 0n, toMinor: 20_000n, rate: parseRate('0.01') }, { fromMinor: 20_000n, toMinor: null, rate: parseRate('0.005') }] });
  const paymentsArb = fc
    .array(fc.record({ merchant: fc.constantFrom('M1', 'M2', 'M3'), date: fc.constantFrom('2026-10-30', '2026-11-02', RUN_DATE), amountMinor: fc.bigInt({ min: 1n, max: 9_000n }), order: fc.integer() }), { maxLength: 60 })
    .map((ps) =>
      ps.map(
        (p, n): CandidateItem & { readonly order: number } => ({
          kind: 'payment',
          itemId: `p${String(n).padStart(3, '0')}`,
          merchantId: p.merchant,
          currency: 'CNY',
          businessDate: p.date,
          amountMinor: p.amountMinor,
          product: 'quick',
          channelId: 'c',
          bookedFeeMinor: 0n,
          reconciled: true,
          order: p.order,
        }),
      ),
    );

  it('When priced, Then each payment takes the tier of its merchant’s month volume before it in date and id order, whatever order the items came in', () => {
    fc.assert(
      fc.property(paymentsArb, (items) => {
        const volumeBefore = new Map([['M2\u0000CNY\u00002026-11', 15_000n]]);
        // The reference: the whole day sorted once, one running volume per merchant, currency and month.
        const expected = new Map<string, bigint>();
        const volume = new Map(volumeBefore);
        for (const i of [...items].sort((a, b) => (a.businessDate === b.businessDate ? (a.itemId < b.itemId ? -1 : 1) : a.businessDate < b.businessDate ? -1 : 1))) {
          const key = `${i.merchantId}\u0000CNY\u0000${i.businessDate.slice(0, 7)}`;
          expected.set(i.itemId, paymentFee(tiered, i.amountMinor, volume.get(key) ?? 0n));
          volume.set(key, (volume.get(key) ?? 0n) + i.amountMinor);
        }
        const shuffled = [...items].sort((a, b) => a.order - b.order);
        const config = { rateCards: [tiered], refundFeePolicy: 'proportional' as const, defaultCycle: { kind: 'T+0' as const }, merchants: new Map() };
        const fees = new Map(computeFees(shuffled, config, volumeBefore).map((i) => [i.itemId, i.rateFeeMinor]));
        expect(fees).toEqual(expected);
        const plan = planClearing({ runDate: RUN_DATE, items: shuffled, includeUnreconciled: false, config, monthVolumeMinor: volumeBefore, carriedInMinor: new Map() });
        for (const b of plan.batches) expect(b.rateFeesMinor).toBe(sum(b.items.map((i) => expected.get(i.itemId) ?? -1n)));
        expect(plan.batches.map((b) => b.merchantId)).toEqual([...new Set(items.map((i) => i.merchantId))].sort());
      }),
      { numRuns: 200 },
    );
  });
});
