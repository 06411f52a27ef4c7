// Tamper evidence: every entry's hash covers its content and the previous entry's hash, so changing,
// inserting or deleting any entry breaks every hash after it. `verify` recomputes the chain.

import { canonicalJson, sha256Hex, type EntryKind } from './entry.js';
import type { RecordedPosting } from './rules.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedRecord {
  readonly seq: number;
  readonly entryId: string;
  readonly kind: EntryKind;
  readonly businessDate: string;
  readonly eventType: string;
  readonly reference: string | null;
  readonly memo: string | null;
  readonly metadata: Readonly<Record<string, unknown>> | null;
  readonly expiresAtMs: number | null;
  readonly holdEntryId: string | null;
  readonly reversesEntryId: string | null;
  readonly fingerprint: string;
  readonly createdAtMs: number;
  readonly postings: readonly RecordedPosting[];
}

export function entryHash(prevHash: string, r: ChainedRecord): string {
  // One flat JSON array written field by field (metadata canonicalised on its own): deterministic and
  // cheap, since every write pays for it.
  const body = JSON.stringify([
    r.seq,
    r.entryId,
    r.kind,
    r.businessDate,
    r.eventType,
    r.reference,
    r.memo,
    r.metadata === null ? null : canonicalJson(r.metadata),
    r.expiresAtMs,
    r.holdEntryId,
    r.reversesEntryId,
    r.fingerprint,
    r.createdAtMs,
    r.postings.map((p) => [p.accountId, p.side, p.amountMinor.toString(), p.currency]),
  ]);
  return sha256Hex(`${prevHash}\n${body}`);
}
