import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker.js';
import { expectedCost, route, type RoutableChannel, type RouteInputs, type RoutingRule } from './router.js';

const PRODUCTS = ['quick', 'netbank', 'wallet', 'foreign_card'] as const;
const CURRENCIES = ['CNY', 'USD'] as const;

const channelArb = (id: string): fc.Arbitrary<RoutableChannel> =>
  fc.record({
    id: fc.constant(id),
    products: fc.subarray([...PRODUCTS], { minLength: 1 }),
    currencies: fc.subarray([...CURRENCIES], { minLength: 1 }),
    amountMinMinor: fc.bigInt({ min: 1n, max: 1_000n }),
    amountMaxMinor: fc.option(fc.bigInt({ min: 1_000n, max: 10_000_000n }), { nil: null }),
    dailyAmountMaxMinor: fc.option(fc.bigInt({ min: 0n, max: 50_000_000n }), { nil: null }),
    dailyCountMax: fc.option(fc.integer({ min: 0, max: 50 }), { nil: null }),
    cost: fc.record({
      rate: fc.constantFrom('0', '0.0038', '0.006', '0.01', '0.0025'),
      fixedMinor: fc.bigInt({ min: 0n, max: 200n }),
      minMinor: fc.bigInt({ min: 0n, max: 100n }),
      capMinor: fc.option(fc.bigInt({ min: 100n, max: 5_000n }), { nil: null }),
    }),
    synchronous: fc.boolean(),
  });

const worldArb = fc.record({
  channels: fc.tuple(channelArb('a'), channelArb('b'), channelArb('c'), channelArb('d')),
  usage: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.record({ amountMinor: fc.bigInt({ min: 0n, max: 60_000_000n }), count: fc.integer({ min: 0, max: 60 }) })),
  unhealthy: fc.subarray(['a', 'b', 'c', 'd']),
  req: fc.record({
    merchantId: fc.constantFrom('M1', 'M2'),
    product: fc.constantFrom(...PRODUCTS),
    currency: fc.constantFrom(...CURRENCIES),
    amountMinor: fc.bigInt({ min: 1n, max: 20_000_000n }),
  }),
});

interface World {
  readonly channels: readonly RoutableChannel[];
  readonly usage: Readonly<Record<string, { amountMinor: bigint; count: number }>>;
  readonly unhealthy: readonly string[];
}

function inputs(w: World, rules: readonly RoutingRule[] = []): RouteInputs {
  return {
    channels: w.channels,
    rules,
    usage: (id: string) => w.usage[id] ?? { amountMinor: 0n, count: 0 },
    healthy: (id: string) => !w.unhealthy.includes(id),
    connected: () => true,
  };
}

describe('Given a catalogue of channels with capabilities, limits, costs and health', () => {
  it('Then the router never picks a channel without the capability, over a limit, or unhealthy, and ranks the eligible cheapest first', () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const d = route(w.req, inputs(w));
        for (const id of d.order) {
          const ch = w.channels.find((c) => c.id === id) as RoutableChannel;
          const used = w.usage[id] ?? { amountMinor: 0n, count: 0 };
          expect(ch.products).toContain(w.req.product);
          expect(ch.currencies).toContain(w.req.currency);
          expect(w.req.amountMinor >= ch.amountMinMinor).toBe(true);
          if (ch.amountMaxMinor !== null) expect(w.req.amountMinor <= ch.amountMaxMinor).toBe(true);
          if (ch.dailyAmountMaxMinor !== null) expect(used.amountMinor + w.req.amountMinor <= ch.dailyAmountMaxMinor).toBe(true);
          if (ch.dailyCountMax !== null) expect(used.count + 1 <= ch.dailyCountMax).toBe(true);
          expect(w.unhealthy).not.toContain(id);
        }
        const costs = d.order.map((id) => expectedCost((w.channels.find((c) => c.id === id) as RoutableChannel).cost, w.req.amountMinor));
        for (let i = 1; i < costs.length; i++) expect((costs[i - 1] as bigint) <= (costs[i] as bigint)).toBe(true);
        // Every channel is accounted for: eligible ones are exactly the order, the others say why not.
        expect(d.considered.map((c) => c.channel).sort()).toEqual(['a', 'b', 'c', 'd']);
        expect(d.considered.filter((c) => c.eligible).map((c) => c.channel).sort()).toEqual([...d.order].sort());
        for (const c of d.considered) if (!c.eligible) expect(c.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 400 },
    );
  });

  it('Then an excluded channel is never picked and a pinned one (without fallback) is the only one', () => {
    fc.assert(
      fc.property(worldArb, fc.constantFrom('a', 'b', 'c', 'd'), (w, target) => {
        const excluded = route(w.req, inputs(w, [{ kind: 'exclude', channel: target }]));
        expect(excluded.order).not.toContain(target);
        const pinned = route(w.req, inputs(w, [{ kind: 'pin', channel: target, fallback: false }]));
        expect(pinned.order.every((id) => id === target)).toBe(true);
        const pinnedWithFallback = route(w.req, inputs(w, [{ kind: 'pin', channel: target, fallback: true }]));
        if (pinnedWithFallback.order.includes(target)) expect(pinnedWithFallback.order[0]).toBe(target);
        // A rule scoped to another merchant changes nothing.
        const other = route(w.req, inputs(w, [{ kind: 'exclude', channel: target, merchant: 'M-other' }]));
        expect(other.order).toEqual(route(w.req, inputs(w)).order);
      }),
      { numRuns: 300 },
    );
  });

  it('When two channels cost the same, Then a weight of 200 puts its channel first', () => {
    const base: RoutableChannel = {
      id: 'a',
      products: ['quick'],
      currencies: ['CNY'],
      amountMinMinor: 1n,
      amountMaxMinor: null,
      dailyAmountMaxMinor: null,
      dailyCountMax: null,
      cost: { rate: '0.006', fixedMinor: 0n, minMinor: 0n, capMinor: null },
      synchronous: true,
    };
    const w = { channels: [base, { ...base, id: 'b' }], usage: {}, unhealthy: [] as string[] };
    const req = { merchantId: 'M1', product: 'quick', currency: 'CNY', amountMinor: 10_000n };
    expect(route(req, inputs(w)).order).toEqual(['a', 'b']);
    const weighted = route(req, inputs(w, [{ kind: 'weight', channel: 'b', weight: 200 }]));
    expect(weighted.order).toEqual(['b', 'a']);
    expect(weighted.considered.find((c) => c.channel === 'b')?.reason).toBe('cheapest eligible (weight 200)');
  });

  it('Then the expected cost is rate × amount half up plus fixed, within the minimum and the cap', () => {
    const cost = { rate: '0.006', fixedMinor: 10n, minMinor: 50n, capMinor: 2_500n };
    expect(expectedCost(cost, 1_000n)).toBe(50n); // 6 + 10 < 50
    expect(expectedCost(cost, 100_000n)).toBe(610n);
    expect(expectedCost(cost, 10_000_000n)).toBe(2_500n);
    expect(expectedCost({ rate: '0.0038', fixedMinor: 0n, minMinor: 0n, capMinor: null }, 250n)).toBe(1n); // 0.95 → 1
  });
});

describe('Given a circuit breaker (window 10 s, at least 4 calls, opens at 50 %, stays open 30 s) on a fake clock', () => {
  const config = { windowMs: 10_000, minCalls: 4, failurePerMilleOpen: 500, openMs: 30_000 };

  it('When fewer than min_calls fail, Then it stays closed; at 2 of 4 failed it opens and refuses calls', () => {
    let now = 1_000_000;
    const b = new CircuitBreaker(config, now);
    b.record(false, now);
    b.record(false, (now += 100));
    expect(b.snapshot(now)).toMatchObject({ state: 'closed', calls: 2, failures: 2 }); // 100 % but only 2 calls
    b.record(true, (now += 100));
    expect(b.snapshot(now).state).toBe('closed');
    b.record(true, (now += 100));
    expect(b.snapshot(now)).toMatchObject({ state: 'open', calls: 4, failures: 2 }); // 50 % of 4
    expect(b.allows(now)).toBe(false);
    expect(b.snapshot(now).reason).toBe('2 of 4 calls failed within 10 s');
  });

  it('When 1 of 4 calls fails, Then it stays closed', () => {
    let now = 0;
    const b = new CircuitBreaker(config, now);
    for (const ok of [true, false, true, true]) b.record(ok, (now += 10));
    expect(b.snapshot(now)).toMatchObject({ state: 'closed', calls: 4, failures: 1 });
  });

  it('When the open period passes, Then one probe goes through: a success closes it, a failure opens it again', () => {
    let now = 0;
    const b = new CircuitBreaker(config, now);
    for (let i = 0; i < 4; i++) b.record(false, (now += 10));
    expect(b.snapshot(now).state).toBe('open');
    now += 29_999;
    expect(b.allows(now)).toBe(false);
    now += 1;
    expect(b.allows(now)).toBe(true);
    expect(b.snapshot(now).state).toBe('half_open');
    expect(b.tryBegin(now)).toBe('probe');
    expect(b.tryBegin(now)).toBeUndefined(); // one probe at a time
    b.record(true, now, 'normal'); // a call that began before the breaker opened decides nothing
    expect(b.snapshot(now).state).toBe('half_open');
    b.record(false, (now += 5), 'probe');
    expect(b.snapshot(now)).toMatchObject({ state: 'open', reason: 'probe failed' });
    now += 30_000;
    expect(b.allows(now)).toBe(true);
    expect(b.tryBegin(now)).toBe('probe');
    b.record(true, (now += 5), 'probe');
    expect(b.snapshot(now)).toMatchObject({ state: 'closed', reason: 'probe succeeded', calls: 0 });
  });

  it('When failures are older than the window, Then they no longer count', () => {
    let now = 0;
    const b = new CircuitBreaker(config, now);
    for (let i = 0; i < 3; i++) b.record(false, (now += 10));
    now += 11_000;
    b.record(false, now);
    b.record(true, (now += 10));
    expect(b.snapshot(now)).toMatchObject({ state: 'closed', calls: 2, failures: 1 });
  });

  it('When a flapping channel alternates failure bursts and recoveries, Then the breaker opens and closes with it', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }), (outcomes) => {
        let now = 0;
        const b = new CircuitBreaker(config, now);
        for (const ok of outcomes) {
          now += 500;
          const before = b.snapshot(now);
          const kind = b.tryBegin(now);
          if (kind === undefined) {
            expect(before.state).toBe('open');
            continue;
          }
          b.record(ok, now, kind);
          const after = b.snapshot(now);
          if (before.state === 'half_open') expect(after.state).toBe(ok ? 'closed' : 'open');
          if (after.state === 'closed') expect(after.calls < config.minCalls || after.failures * 1000 < config.failurePerMilleOpen * after.calls).toBe(true);
        }
      }),
    );
  });
});
