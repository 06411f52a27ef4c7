// The trial balance as CSV (UTF-8, CRLF, cells escaped against formula injection): one row per subject
// and currency, then one row per account; amounts in minor units on the normal side.

import { csvLine } from '../csv.js';
import type { TrialBalanceReport } from './check.js';

export const TRIAL_BALANCE_CSV_HEADER = ['business_date', 'level', 'subject_code', 'subject_name', 'account_id', 'currency', 'normal_side', 'opening_minor', 'debits_minor', 'credits_minor', 'closing_minor'] as const;

export function trialBalanceCsv(report: TrialBalanceReport): string {
  const names = new Map(report.subjects.map((s) => [s.subjectCode, s.subjectName]));
  const lines = [csvLine(TRIAL_BALANCE_CSV_HEADER)];
  for (const s of report.subjects) {
    lines.push(csvLine([report.businessDate, 'subject', s.subjectCode, s.subjectName, '', s.currency, s.normalSide, s.openingMinor, s.debitsMinor, s.creditsMinor, s.closingMinor]));
  }
  for (const a of report.accounts) {
    lines.push(csvLine([report.businessDate, 'account', a.subjectCode, names.get(a.subjectCode) ?? '', a.accountId, a.currency, a.normalSide, a.openingMinor, a.debitsMinor, a.creditsMinor, a.closingMinor]));
  }
  return lines.join('');
}
