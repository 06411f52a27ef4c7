import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DailyReport } from './model.js';
import { verdictOf } from './model.js';
import { render } from './render.js';
import { ageBucketLabels, ageBucketOf, summariseDiscrepancies } from './service.js';
import { esc } from './svg.js';

/** A hand-built day: two channels, one product, one open discrepancy, two merchants, one agent. */
function handBuilt(): DailyReport {
  return {
    businessDate: '2026-11-26',
    generatedAtMs: Date.parse('2026-11-26T18:30:00Z'),
    timezone: 'Asia/Shanghai',
    dayStatus: 'closed',
    volumes: {
      byChannel: [
        { key: 'unionpay', currency: 'CNY', attempts: 4, succeeded: 3, failed: 1, pending: 0, succeededAmountMinor: 1_234_567n, refunds: 1, refundsAmountMinor: 3000n },
        { key: 'wechat', currency: 'CNY', attempts: 2, succeeded: 2, failed: 0, pending: 0, succeededAmountMinor: 50n, refunds: 0, refundsAmountMinor: 0n },
      ],
      byProduct: [{ key: 'quick', currency: 'CNY', attempts: 6, succeeded: 5, failed: 1, pending: 0, succeededAmountMinor: 1_234_617n, refunds: 1, refundsAmountMinor: 3000n }],
      activity: [],
    },
    recon: {
      state: 'ok',
      data: {
        channels: [{ channel: 'unionpay', fileVersion: 1, lines: 4, matched: 3, suspense: 0, discrepancies: 1 }],
        openByType: [{ key: 'amount_mismatch', currency: 'CNY', count: 1, amountMinor: 100n }],
        openByAge: [{ key: '0–1 d', currency: 'CNY', count: 1, amountMinor: 100n }],
        openTotal: 1,
        suspenseOpen: 0,
      },
    },
    settlement: {
      state: 'ok',
      data: {
        top: [
          { merchantId: 'M1', merchantName: '<script>alert(1)</script>', currency: 'CNY', grossMinor: 1_000_000n, refundsMinor: 3000n, feesMinor: 6000n, adjustmentsMinor: 0n, netMinor: 991_000n, carriedOutMinor: 0n, payoutMinor: 991_000n, status: 'paid_out' },
          { merchantId: 'M2', merchantName: null, currency: 'CNY', grossMinor: 1000n, refundsMinor: 8000n, feesMinor: 6n, adjustmentsMinor: 48n, netMinor: -6958n, carriedOutMinor: -6958n, payoutMinor: 0n, status: 'carried' },
        ],
        totals: [{ currency: 'CNY', merchants: 2, grossMinor: 1_001_000n, refundsMinor: 11_000n, feesMinor: 6006n, adjustmentsMinor: 48n, netMinor: 984_042n, carriedOutMinor: -6958n, payoutMinor: 991_000n }],
      },
    },
    sharing: {
      state: 'ok',
      data: [
        { partyId: 'A1', partyKind: 'agent', currency: 'CNY', lines: 3, baseMinor: 2200n, shareMinor: 660n },
        { partyId: 'I1', partyKind: 'isv', currency: 'CNY', lines: 3, baseMinor: 2200n, shareMinor: 111n },
      ],
    },
    trialBalance: { state: 'ok', data: { totals: [{ currency: 'CNY', debitsMinor: 1_234_617n, creditsMinor: 1_234_617n }], accounts: 7, findingsTotal: 0, findings: [] } },
    positions: {
      state: 'ok',
      data: {
        dates: ['2026-11-26', '2026-11-27', '2026-11-28'],
        accounts: [{ accountId: 'channel:unionpay:receivable:CNY', currency: 'CNY', balanceMinor: 500_000n, bufferMinor: 200_000n, alert: false, belowBufferOn: '2026-11-28', lowestMinor: 100_000n, projectedMinor: [500_000n, 300_000n, 100_000n], plannedMinor: [500_000n, 300_000n, 300_000n] }],
        transfers: [{ fromAccountId: 'bank:ICBC-RESERVE:reserve:CNY', toAccountId: 'channel:unionpay:receivable:CNY', currency: 'CNY', amountMinor: 200_000n, byDate: '2026-11-28' }],
        shortfalls: [],
      },
    },
    jobs: [{ job: 'cutoff', outcome: 'succeeded', startedAtMs: Date.parse('2026-11-26T16:00:00Z'), endedAtMs: Date.parse('2026-11-26T16:00:01.500Z'), exitCode: 0, counts: '{"accounts":7}', error: null }],
  };
}

function notRunDay(): DailyReport {
  const r = handBuilt();
  const reason = (what: string) => ({ state: 'not_run' as const, reason: `${what} has not run for 2026-11-26.` });
  return {
    ...r,
    dayStatus: 'open',
    volumes: { byChannel: [], byProduct: [], activity: [] },
    recon: reason('Reconciliation'),
    settlement: reason('Clearing'),
    sharing: reason('Profit sharing'),
    trialBalance: reason('The trial balance'),
    positions: reason('Planning'),
    jobs: [],
  };
}

describe('Given a hand-built report', () => {
  const html = render(handBuilt());

  it('When rendered, Then it is one self-contained page: no script, no external URL', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).toContain('<style>');
    expect(html).toContain('@media print');
  });

  it('When a merchant name holds markup, Then it is escaped, never run', () => {
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('When rendered, Then the figures worked by hand appear formatted from minor units, amounts right-aligned', () => {
    // unionpay: 3 of 4 succeeded = 75.0 %, 12,345.67 CNY; totals: net 9,840.42 CNY, carried −69.58 CNY.
    expect(html).toContain('<td class="num">75.0 %</td>');
    expect(html).toContain('<td class="num">12,345.67 CNY</td>');
    expect(html).toContain('<td class="num">9,840.42 CNY</td>');
    expect(html).toContain('<td class="num">-69.58 CNY</td>');
    // Shares 6.60 + 1.11 = 7.71 CNY.
    expect(html).toContain('Total shared: 7.71 CNY');
    // The top-up 2,000.00 CNY by 11-28; the amount mismatch of 1.00 CNY at stake.
    expect(html).toContain('<td class="num">2,000.00 CNY</td>');
    expect(html).toContain('1 · 1.00 CNY');
    // Generated-at in the configured zone (UTC+8).
    expect(html).toContain('2026-11-27 02:30:00');
  });

  it('When rendered, Then every chart is there and the badges say the verdict', () => {
    for (const chart of ['volume-by-channel', 'volume-by-product', 'discrepancies-by-type', 'discrepancies-by-age', 'position-0']) expect(html).toContain(`data-chart="${chart}"`);
    expect(html).toContain('1 open discrepancy');
    expect(html).toContain('balanced');
    expect(html).toContain('above buffer');
    expect(verdictOf(handBuilt())).toEqual({ openDiscrepancies: 1, trialBalanceFindings: 0, positionsBelowBuffer: 0, failedJobs: 0, findings: true });
  });

  it('When rendered twice, Then the bytes are the same', () => {
    expect(render(handBuilt())).toBe(html);
  });
});

describe('Given a day where no step has run', () => {
  it('When rendered, Then each section says so instead of failing, and there is nothing to flag', () => {
    const html = render(notRunDay());
    expect(html).toContain('No payments on this day.');
    expect(html).toContain('Not run — Reconciliation has not run for 2026-11-26.');
    expect(html).toContain('Not run — Clearing has not run');
    expect(html).toContain('Not run — Profit sharing has not run');
    expect(html).toContain('Not run — The trial balance has not run');
    expect(html).toContain('Not run — Planning has not run');
    expect(html).toContain('No job has run for this date.');
    expect(html).not.toContain('<svg');
    expect(verdictOf(notRunDay()).findings).toBe(false);
  });
});

describe('Given open discrepancies of several days', () => {
  it('When bucketed by age, Then each lands in the bucket worked by hand and the amounts add up', () => {
    expect(ageBucketLabels([1, 3, 7, 30])).toEqual(['0–1 d', '2–3 d', '4–7 d', '8–30 d', '> 30 d']);
    // Older never lands in a younger bucket.
    for (let age = 1; age <= 90; age += 1) expect(ageBucketOf(age, [1, 3, 7, 30])).toBeGreaterThanOrEqual(ageBucketOf(age - 1, [1, 3, 7, 30]));
    const s = summariseDiscrepancies(
      [
        { businessDate: '2026-11-26', type: 'channel_only', currency: 'CNY', count: 2, amountMinor: 500n },
        { businessDate: '2026-11-24', type: 'channel_only', currency: 'CNY', count: 1, amountMinor: 7n },
        { businessDate: '2026-10-01', type: 'ledger_only', currency: 'CNY', count: 3, amountMinor: 1000n },
      ],
      '2026-11-26',
      [1, 3, 7, 30],
    );
    expect(s.openTotal).toBe(6);
    expect(s.openByType).toEqual([
      { key: 'channel_only', currency: 'CNY', count: 3, amountMinor: 507n },
      { key: 'ledger_only', currency: 'CNY', count: 3, amountMinor: 1000n },
    ]);
    expect(s.openByAge).toEqual([
      { key: '0–1 d', currency: 'CNY', count: 2, amountMinor: 500n },
      { key: '2–3 d', currency: 'CNY', count: 1, amountMinor: 7n },
      { key: '> 30 d', currency: 'CNY', count: 3, amountMinor: 1000n },
    ]);
  });

  it('When grouped any way, Then the counts and amounts of the groups sum to those of the rows (property)', () => {
    const row = fc.record({
      businessDate: fc.integer({ min: 0, max: 90 }).map((d) => new Date(Date.parse('2026-11-26T00:00:00Z') - d * 86_400_000).toISOString().slice(0, 10)),
      type: fc.constantFrom('channel_only', 'ledger_only', 'amount_mismatch'),
      currency: fc.constantFrom('CNY', 'USD'),
      count: fc.integer({ min: 1, max: 1000 }),
      amountMinor: fc.bigInt({ min: 0n, max: 10n ** 15n }),
    });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), (rows) => {
        const s = summariseDiscrepancies(rows, '2026-11-26', [1, 3, 7, 30]);
        const total = rows.reduce((a, r) => a + r.amountMinor, 0n);
        for (const groups of [s.openByType, s.openByAge]) {
          expect(groups.reduce((n, g) => n + g.count, 0)).toBe(s.openTotal);
          expect(groups.reduce((a, g) => a + g.amountMinor, 0n)).toBe(total);
        }
      }),
    );
  });
});
