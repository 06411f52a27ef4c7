// The progress port of long batch work (fetch, parse, import, match, clear, share). A job reports phases
// and rows through it; `src/cli/progress/` renders it (an ink bar on a terminal, plain lines or NDJSON
// otherwise). The batch services emit their own typed events (`onProgress`) at a bounded rate — never per
// row in a hot loop — and the command turns them into calls on this port, so a service stays free of UI.

export interface Progress {
  /** A phase begins; `totalRows` when the amount of work is known up front (rows, bytes, items). */
  start(phase: string, totalRows?: number): void;
  /** `rows` more units of the current phase are done (a delta, not a running total). */
  advance(rows: number): void;
  /** The current phase is over; the summary is shown with its last line. */
  end(summary?: Record<string, unknown>): void;
}

/** Reports nothing: the default when no one watches. */
export const NO_PROGRESS: Progress = {
  start() {},
  advance() {},
  end() {},
};

/**
 * Adapts a service's cumulative counter (rows so far) to the port's deltas; repeated or smaller
 * counts advance nothing.
 */
export function cumulative(progress: Progress): (doneRows: number) => void {
  let reported = 0;
  return (doneRows) => {
    if (doneRows > reported) {
      progress.advance(doneRows - reported);
      reported = doneRows;
    }
  };
}
