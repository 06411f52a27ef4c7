// The window over our payments due on a date (run.ts, DueWindow), drawn by fast-check: whatever order the
// lines ask for them in, with ids it does not hold and payments found by a lookup by id instead (as a run
// does for what the window misses), every payment is handed out at most once, and at the end the window
// gives exactly those never handed out, in row id order, and the day's count. Small look-ahead and window
// sizes make it pass over, evict and read ahead all the time.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OurRecord } from './match.js';
import { batchOf, DueWindow, type DueBatch } from './due-window.js';
import type { NamedRecord } from './stream-match.js';
import { payment } from './test-support.js';

describe('Given the day’s payments in row id order and lines asking for them in any order', () => {
  it('When each is taken from the window or else looked up by id, Then each is handed out once and the rest come back in row id order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 70 }), { maxLength: 80 }),
        async (count, pageRows, lookAhead, windowMax, asks) => {
          // Row ids with gaps, as the day's payments sit among other days' rows.
          const day: NamedRecord[] = Array.from({ length: count }, (_v, i) => ({ record: payment(`pay_${i}`, 1n), paymentRowid: 3 * i + 1 }));
          let at = 0;
          const source = {
            next: async (): Promise<DueBatch> => {
              const page = day.slice(at, at + pageRows);
              at += page.length;
              return batchOf(page);
            },
            close: () => undefined,
          };
          const byRowid = async (rowids: readonly number[]): Promise<OurRecord[]> => {
            for (let i = 1; i < rowids.length; i++) expect(rowids[i] as number).toBeGreaterThan(rowids[i - 1] as number);
            return rowids.map((r) => (day.find((p) => p.paymentRowid === r) as NamedRecord).record);
          };
          const window = new DueWindow(source, byRowid, { lookAhead, windowMax });
          const handed = new Set<string>();
          for (const k of asks) {
            await window.fill(1 + lookAhead);
            const id = `pay_${k}`;
            const got = window.take(id);
            if (got !== undefined) {
              expect(got.record.recordId).toBe(id);
              expect(handed.has(id)).toBe(false);
              handed.add(id);
              continue;
            }
            // Missed: a lookup by id finds it when it is of the day and not handed out yet.
            const p = day.find((d) => d.record.recordId === id);
            if (p !== undefined && !handed.has(id)) {
              window.takenElsewhere(p.paymentRowid as number);
              handed.add(id);
            }
          }
          const rest = await window.untaken();
          expect(rest.due).toBe(count);
          expect(rest.records.map((r) => r.recordId)).toEqual(day.filter((d) => !handed.has(d.record.recordId)).map((d) => d.record.recordId));
        },
      ),
      { numRuns: 500 },
    );
  });
});
