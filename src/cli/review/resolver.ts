// The decision of the review view, carried out exactly as `settle recon resolve` does: the same
// resolveDiscrepancy with the same validation and posting; expected refusals come back as values.

import { ReconError } from '../../batch/recon/errors.js';
import type { ReconStore } from '../../batch/recon/port.js';
import { resolveDiscrepancy, type WriteOffTarget } from '../../batch/recon/resolve.js';
import { LedgerError } from '../../ledger/index.js';
import type { Decision } from './state.js';
import type { ResolveOutcome } from './view.js';

export function makeResolver(store: ReconStore, o: { readonly by: string; readonly writeOffTo: WriteOffTarget; readonly clock: () => number }): (d: Decision) => Promise<ResolveOutcome> {
  return async (d) => {
    try {
      const r = await resolveDiscrepancy(store, { ...d, by: o.by, writeOffTo: o.writeOffTo, nowMs: o.clock() });
      return { ok: true, item: r.item, entryIds: r.entryIds };
    } catch (e) {
      if (e instanceof ReconError || e instanceof LedgerError) return { ok: false, code: e.code, message: e.message };
      throw e;
    }
  };
}
