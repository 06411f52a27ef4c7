// Writing CSV that spreadsheets open safely (RFC 4180 quoting, CRLF line ends). A cell that starts with
// `=`, `+`, `-`, `@`, a tab or a carriage return would be read by Excel or LibreOffice as a formula (CSV
// injection, OWASP), so it is prefixed with a single quote: `=SUM(A1)` is written `'=SUM(A1)`. The cost
// is that a negative number is shown as text (`'-0.00600`); the JSON report beside the CSV keeps the
// plain values for programs.

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One cell: formula starts neutralised, then quoted when it holds a comma, quote or line break. */
export function csvCell(value: string | number | bigint | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One record, CRLF-terminated. */
export function csvLine(cells: readonly (string | number | bigint | boolean | null | undefined)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
