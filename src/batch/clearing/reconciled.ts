// The ids reconciliation settled, asked about once per candidate. Most come packed in recon's pair blocks
// (one JSON array of [kind, line_seq, record_source, record_id] a block). A million pairs sliced into a
// million strings and put in a Set took ~1.7 s CPU (slicing, hashing, growing the Set, then a lookup per
// candidate); here a pair is only its offsets into the block's text, found by the quotes, in an
// open-addressing table keyed by a hash of the id's characters, and a lookup compares the candidate's id
// with the block's text in place. Ids from anywhere else (exception rows, blocks not of the plain shape)
// go into Sets.

import { KIND_CAPTURE, KIND_PAYMENT, KIND_REFUND } from './columns.js';

/** A packed pair's record source (recon_outcomes' CASE): r a refund, c a capture, anything else a payment. */
export const pairSourceCode = (code: unknown): number => (code === 'r' ? KIND_REFUND : code === 'c' ? KIND_CAPTURE : KIND_PAYMENT);

const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const isDigits = (text: string, from: number, to: number): boolean => {
  if (to <= from) return false;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
};

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** FNV-1a over a kind code and the UTF-16 code units of text[from, to). */
function hashOf(kind: number, text: string, from: number, to: number): number {
  let h = Math.imul(FNV_OFFSET ^ kind, FNV_PRIME);
  for (let k = from; k < to; k++) h = Math.imul(h ^ text.charCodeAt(k), FNV_PRIME);
  return h >>> 0;
}

/** Fields per packed pair in `refs`: the block's index, the id's start and end in its text, the kind code, its hash (taken while the id's characters were just read). */
const REF_FIELDS = 5;

export class ReconciledIds {
  private readonly texts: string[] = [];
  private refs = new Int32Array(REF_FIELDS * 1024);
  private pairs = 0;
  /** Open addressing: a slot holds pair number + 1, or 0 when empty; built on the first lookup after adds. */
  private table = new Int32Array(0);
  private tablePairs = -1;
  private readonly loose: readonly [Set<string>, Set<string>, Set<string>] = [new Set(), new Set(), new Set()];

  /** An id reconciliation settled, given as a string (exception rows, parsed blocks). */
  add(kind: number, id: string): void {
    this.loose[kind]?.add(id);
  }

  /**
   * A block of packed pairs. A block of the exact shape [["k",seq,"s","id"],…] without a backslash (so no
   * escaped character: the text between the quotes is the id) is indexed in place; any other block is
   * parsed as JSON (pairs indexed before the shape broke are correct ones and stay).
   */
  addBlock(text: string): void {
    if (this.indexBlock(text)) return;
    for (const pair of JSON.parse(text) as unknown[][]) {
      const id = pair[3];
      if (id === null || id === undefined) continue;
      this.add(pairSourceCode(pair[2]), String(id));
    }
  }

  has(kind: number, id: string): boolean {
    const loose = this.loose[kind];
    if (loose !== undefined && loose.size > 0 && loose.has(id)) return true;
    if (this.pairs === 0) return false;
    if (this.tablePairs !== this.pairs) this.build();
    const mask = this.table.length - 1;
    for (let slot = hashOf(kind, id, 0, id.length) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.table[slot] ?? 0;
      if (entry === 0) return false;
      const r = (entry - 1) * REF_FIELDS;
      const start = this.refs[r + 1] ?? 0;
      if (this.refs[r + 3] === kind && (this.refs[r + 2] ?? 0) - start === id.length && (this.texts[this.refs[r] ?? 0] ?? '').startsWith(id, start)) return true;
    }
  }

  private indexBlock(text: string): boolean {
    if (text.charCodeAt(0) !== OPEN || text.indexOf('\\') !== -1) return false;
    if (text === '[]') return true;
    const block = this.texts.length;
    this.texts.push(text);
    for (let at = 1; ; ) {
      if (text.charCodeAt(at) !== OPEN || text.charCodeAt(at + 1) !== QUOTE) return false;
      const kindEnd = text.indexOf('"', at + 2);
      const sourceStart = text.indexOf('"', kindEnd + 1);
      const sourceEnd = text.indexOf('"', sourceStart + 1);
      const idStart = text.indexOf('"', sourceEnd + 1);
      const idEnd = text.indexOf('"', idStart + 1);
      if (kindEnd < 0 || sourceStart < 0 || sourceEnd < 0 || idStart < 0 || idEnd < 0) return false;
      const shaped =
        text.charCodeAt(kindEnd + 1) === COMMA &&
        isDigits(text, kindEnd + 2, sourceStart - 1) &&
        text.charCodeAt(sourceStart - 1) === COMMA &&
        idStart === sourceEnd + 2 &&
        text.charCodeAt(sourceEnd + 1) === COMMA &&
        text.charCodeAt(idEnd + 1) === CLOSE;
      if (!shaped) return false;
      // The source is one character in every block recon writes; anything longer is a payment (pairSourceCode).
      const kind = sourceEnd === sourceStart + 2 ? pairSourceCode(text[sourceStart + 1]) : KIND_PAYMENT;
      this.addRef(block, idStart + 1, idEnd, kind, hashOf(kind, text, idStart + 1, idEnd));
      const next = text.charCodeAt(idEnd + 2);
      if (next === CLOSE) return idEnd + 3 === text.length;
      if (next !== COMMA) return false;
      at = idEnd + 3;
    }
  }

  private addRef(block: number, start: number, end: number, kind: number, hash: number): void {
    const r = this.pairs * REF_FIELDS;
    if (r + REF_FIELDS > this.refs.length) {
      const grown = new Int32Array(this.refs.length * 2);
      grown.set(this.refs);
      this.refs = grown;
    }
    this.refs[r] = block;
    this.refs[r + 1] = start;
    this.refs[r + 2] = end;
    this.refs[r + 3] = kind;
    this.refs[r + 4] = hash;
    this.pairs++;
  }

  private build(): void {
    let size = 16;
    while (size < this.pairs * 2) size *= 2;
    const table = new Int32Array(size);
    const mask = size - 1;
    for (let p = 0; p < this.pairs; p++) {
      let slot = (this.refs[p * REF_FIELDS + 4] ?? 0) & mask;
      while ((table[slot] ?? 0) !== 0) slot = (slot + 1) & mask;
      table[slot] = p + 1;
    }
    this.table = table;
    this.tablePairs = this.pairs;
  }
}
