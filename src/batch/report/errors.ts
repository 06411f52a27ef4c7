// Stable error codes of settle report (besides the shared ones it reuses: usage, config_invalid,
// job_locked, db_not_found). Never renamed or reused; each is asserted by a test.

export const REPORT_ERROR_CODES = {
  report_write_failed: 'The HTML file could not be written where --out points: check that its folder can be made and is writable, then run settle report again.',
} as const;

export type ReportErrorCode = keyof typeof REPORT_ERROR_CODES;
