// `verify` walks the journal in order and proves three things: the hash chain is intact, every entry
// balances per currency, and every account's counters equal the sum of its postings. It reports the
// first entry or account that does not add up.

import { entryHash, GENESIS_HASH } from './chain.js';
import type { LedgerStore } from './port.js';
import type { RecordedPosting } from './rules.js';

export interface VerifyProblem {
  readonly kind: 'entry' | 'account';
  readonly id: string;
  readonly detail: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly entriesChecked: number;
  readonly accountsChecked: number;
  readonly problem: VerifyProblem | null;
}

type Tally = { debitsPending: bigint; debitsPosted: bigint; creditsPending: bigint; creditsPosted: bigint };

function tally(map: Map<string, Tally>, postings: readonly RecordedPosting[], column: 'Pending' | 'Posted', sign: bigint): void {
  for (const p of postings) {
    let t = map.get(p.accountId);
    if (!t) map.set(p.accountId, (t = { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n }));
    t[`${p.side === 'debit' ? 'debits' : 'credits'}${column}`] += sign * p.amountMinor;
  }
}

function unbalancedCurrency(postings: readonly RecordedPosting[]): string | undefined {
  const net = new Map<string, bigint>();
  for (const p of postings) net.set(p.currency, (net.get(p.currency) ?? 0n) + (p.side === 'debit' ? p.amountMinor : -p.amountMinor));
  for (const [currency, n] of net) if (n !== 0n) return currency;
  return undefined;
}

export async function verifyLedger(store: LedgerStore, pageSize = 5_000, onProgress?: (entries: number) => void): Promise<VerifyReport> {
  const sums = new Map<string, Tally>();
  const openHolds = new Map<string, readonly RecordedPosting[]>();
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let checked = 0;
  const fail = (kind: VerifyProblem['kind'], id: string, detail: string): VerifyReport => ({
    ok: false,
    entriesChecked: checked,
    accountsChecked: 0,
    problem: { kind, id, detail },
  });
  for (;;) {
    const page = await store.readJournal({ afterSeq: expectedSeq - 1, limit: pageSize });
    if (page.length === 0) break;
    for (const e of page) {
      if (e.seq !== expectedSeq) return fail('entry', e.entryId, `sequence gap: expected ${expectedSeq}, found ${e.seq}`);
      const hash = entryHash(prevHash, e);
      if (hash !== e.hash) return fail('entry', e.entryId, 'hash does not match its content and the previous entry');
      if (e.postings.length < 2) return fail('entry', e.entryId, 'fewer than two postings');
      const currency = unbalancedCurrency(e.postings);
      if (currency) return fail('entry', e.entryId, `debits and credits differ in ${currency}`);
      switch (e.kind) {
        case 'posted':
          tally(sums, e.postings, 'Posted', 1n);
          break;
        case 'pending':
          tally(sums, e.postings, 'Pending', 1n);
          openHolds.set(e.entryId, e.postings);
          break;
        case 'post_pending':
        case 'void_pending':
        case 'expire_pending': {
          const held = e.holdEntryId === null ? undefined : openHolds.get(e.holdEntryId);
          if (!held) return fail('entry', e.entryId, `resolves hold ${String(e.holdEntryId)}, which is not open`);
          openHolds.delete(e.holdEntryId ?? '');
          tally(sums, held, 'Pending', -1n);
          if (e.kind === 'post_pending') tally(sums, e.postings, 'Posted', 1n);
          break;
        }
      }
      prevHash = e.hash;
      expectedSeq++;
      checked++;
    }
    onProgress?.(checked);
  }
  const accounts = await store.listAccounts();
  for (const a of accounts) {
    const t = sums.get(a.accountId) ?? { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };
    for (const key of ['debitsPending', 'debitsPosted', 'creditsPending', 'creditsPosted'] as const) {
      if (t[key] !== a[key]) {
        return { ...fail('account', a.accountId, `${key} is ${a[key]} but its postings sum to ${t[key]}`), accountsChecked: accounts.length };
      }
    }
  }
  return { ok: true, entriesChecked: checked, accountsChecked: accounts.length, problem: null };
}
