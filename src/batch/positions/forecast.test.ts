import { describe, expect, it } from 'vitest';
import { forecastByWeekday, percentileMinor } from './forecast.js';

describe('forecastByWeekday', () => {
  it('Given two past Fridays and one Saturday, When the next three days are forecast, Then Friday averages (outflow up, inflow down), Saturday copies, Sunday has nothing', () => {
    // 2026-11-26 is a Thursday; 2026-11-20 and 2026-11-13 Fridays, 2026-11-21 a Saturday.
    const history = [
      { date: '2026-11-13', inflowMinor: 100n, outflowMinor: 1_000n },
      { date: '2026-11-20', inflowMinor: 101n, outflowMinor: 1_001n },
      { date: '2026-11-21', inflowMinor: 7n, outflowMinor: 50n },
      { date: '2026-10-30', inflowMinor: 999_999n, outflowMinor: 999_999n }, // a Friday outside 2 weeks
    ];
    expect(forecastByWeekday(history, '2026-11-26', 3, 2)).toEqual([
      { date: '2026-11-27', inflowMinor: 100n, outflowMinor: 1_001n }, // 201/2 = 100.5 → 100; 2001/2 = 1000.5 → 1001
      { date: '2026-11-28', inflowMinor: 7n, outflowMinor: 50n },
      { date: '2026-11-29', inflowMinor: 0n, outflowMinor: 0n },
    ]);
  });

  it('Given twenty daily outflows 1…20, When the 95th and 50th percentiles are taken, Then nearest rank gives 19 and 10', () => {
    const values = Array.from({ length: 20 }, (_, i) => BigInt(i + 1));
    expect(percentileMinor(values, 95)).toBe(19n);
    expect(percentileMinor(values, 50)).toBe(10n);
    expect(percentileMinor(values, 100)).toBe(20n);
    expect(percentileMinor([], 95)).toBe(0n);
  });
});
