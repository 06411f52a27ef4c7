// The escaped cells of share statement rows (statement.ts), each made (and encoded as UTF-8) once: a
// party's first cells, what a stored table's rows have in common per currency, the last cells of a seat for
// an array of shares, ids and rates. Every cell is what csvCell gives; csvCell is skipped only where it is
// known to change nothing (digits of a non-negative amount, an id that neither starts like a formula nor
// holds a quote, comma or line break).

import { csvCell } from '../csv.js';
import type { Part } from './statement-parts.js';
import type { StoredTable } from './port.js';
import { cachedUpTo, getOrMake } from './memo.js';

/** A non-negative integer's digits are what csvCell gives for it (no formula start, nothing to quote). */
export const amountCell = (x: bigint): string => (x >= 0n ? String(x) : csvCell(x));

/** Whether csvCell leaves a text as it is: no formula start, nothing to quote. */
const PLAIN_CELL = /^(?:[^=+\-@\t\r",\n][^",\r\n]*)?$/;

/** Escaped ids and rates kept, platform tails kept per table (each cache is dropped whole when full). */
const CELLS_MAX = 100_000;

const utf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');

/** What the rows of one stored table in one currency have in common, and their parts once met. */
export interface TableCells {
  readonly table: StoredTable;
  /** The cells after a payment's ids and merchant (currency, rule) with commas: ",CNY,R,". */
  readonly currencyRule: string;
  /** Per seat, the row's first cells (date, party, kind) and a comma. */
  readonly prefixes: readonly Uint8Array[];
  readonly rateCells: readonly string[];
  readonly platformPrefix: Uint8Array;
  readonly platformRateCell: string;
  /** Per seat, its (party, currency) part once it has a row. */
  readonly parts: (Part | undefined)[];
  platformPart: Part | undefined;
  /** Per shares array (and clipped array), each seat's last cells (rate, share, clipped, CRLF); null: no row.
   *  Shared by the tables with the same rates (all a rule's merchants at one tier, in the same seats). */
  readonly seatTails: SeatTails;
  /** Per platform share, the platform's last cells; shared by the tables with the same platform rate. */
  readonly platformTails: Map<bigint, Uint8Array>;
}

type SeatTails = WeakMap<readonly bigint[], WeakMap<readonly bigint[], readonly (Uint8Array | null)[]>>;

/** The key of splits without clipped amounts in TableCells.seatTails. */
const NO_CLIPS: readonly bigint[] = [];

export class StatementCells {
  private readonly tables = new Map<StoredTable, Map<string, TableCells>>();
  private readonly texts = new Map<string, string>();
  private readonly seatTailsByRates = new Map<string, SeatTails>();
  private readonly platformTailsByRate = new Map<string, Map<bigint, Uint8Array>>();

  constructor(private readonly dateCell: string) {}

  /** The first cells of a party's rows (date, party, kind) and a comma. */
  prefix(partyId: string, partyKind: string): string {
    return `${this.dateCell},${csvCell(partyId)},${csvCell(partyKind)},`;
  }

  table(table: StoredTable, currency: string): TableCells {
    const byCurrency = getOrMake(this.tables, table, () => new Map<string, TableCells>());
    let t = byCurrency.get(currency);
    if (t === undefined) {
      const rateCells = table.seats.map((seat) => this.text(seat.rate));
      const platformRateCell = csvCell(table.platformRate);
      t = {
        table,
        currencyRule: `,${csvCell(currency)},${csvCell(table.ruleId)},`,
        prefixes: table.seats.map((seat) => utf8(this.prefix(seat.partyId, seat.partyKind))),
        rateCells,
        platformPrefix: utf8(this.prefix('platform', 'platform')),
        platformRateCell,
        parts: table.seats.map(() => undefined),
        platformPart: undefined,
        seatTails: getOrMake(this.seatTailsByRates, JSON.stringify(rateCells), () => new WeakMap()),
        platformTails: getOrMake(this.platformTailsByRate, platformRateCell, () => new Map()),
      };
      byCurrency.set(currency, t);
    }
    return t;
  }

  /** Each seat's last cells for these shares and clipped amounts; null where the seat has no row (neither). */
  seatTails(t: TableCells, sharesMinor: readonly bigint[], clippedMinor: readonly bigint[] | null): readonly (Uint8Array | null)[] {
    const byClips = getOrMake(t.seatTails, sharesMinor, () => new WeakMap());
    return getOrMake(byClips, clippedMinor ?? NO_CLIPS, () =>
      sharesMinor.map((shareMinor, i) => {
        const clipped = clippedMinor?.[i] ?? 0n;
        return shareMinor === 0n && clipped === 0n ? null : utf8(`${t.rateCells[i] ?? ''},${amountCell(shareMinor)},${amountCell(clipped)}\r\n`);
      }),
    );
  }

  /** The platform's last cells for its share. */
  platformTail(t: TableCells, shareMinor: bigint): Uint8Array {
    return cachedUpTo(t.platformTails, CELLS_MAX, shareMinor, () => utf8(`${t.platformRateCell},${amountCell(shareMinor)},0\r\n`));
  }

  /** A text's cell: most ids are plain (one regular expression says so); the others go through csvCell, once each. */
  text(value: string): string {
    return PLAIN_CELL.test(value) ? value : cachedUpTo(this.texts, CELLS_MAX, value, () => csvCell(value));
  }
}
