// Reads one closed day through the port and runs the pure trial balance over it.

import { trialBalance, type ChannelReports, type TrialBalanceReport } from './check.js';
import type { TrialBalanceConfig } from './config.js';
import type { TrialBalanceReader } from './port.js';

export type TrialBalanceOutcome = { readonly ok: true; readonly report: TrialBalanceReport } | { readonly ok: false; readonly code: 'day_not_closed'; readonly message: string };

export async function runTrialBalance(reader: TrialBalanceReader, date: string, config: TrialBalanceConfig, channelReports?: ChannelReports): Promise<TrialBalanceOutcome> {
  const status = await reader.dayStatus(date);
  if (status !== 'closed') {
    return { ok: false, code: 'day_not_closed', message: `Business day ${date} is ${status === 'open' ? 'still open' : 'not a day of this ledger'}; only a closed day has a trial balance.` };
  }
  const day = await reader.day(date);
  const report = trialBalance(
    {
      businessDate: date,
      snapshot: day.snapshot,
      journal: day.journal,
      previousClosing: day.previousClosing,
      channelReports,
      toleranceMinor: config.channel_balance_tolerance_minor,
      positionSubjects: config.channel_position_subjects,
      findingsMax: config.findings_max,
    },
    await reader.subjectClosing(date),
  );
  return { ok: true, report };
}
