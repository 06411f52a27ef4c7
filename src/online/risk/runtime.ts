// What the risk rules read at run time, kept by the daemon: velocity windows per payer, card, device
// and IP, and each merchant's amount so far today. Rebuilt from the stored decisions at start.

import type { OnlineConfig } from '../config.js';
import type { RiskDecisionRecord } from '../port.js';
import { riskRules, velocityHorizonMs } from './config.js';
import { assess, DIMENSIONS, type RiskAssessment, type RiskRules, type RiskSubject } from './engine.js';
import { VelocityWindows } from './velocity.js';

export class RiskRuntime {
  readonly rules: RiskRules;
  readonly needsPayerHistory: boolean;
  private readonly windows: VelocityWindows;
  private merchantDay = '';
  private readonly merchantToday = new Map<string, bigint>();

  constructor(config: OnlineConfig) {
    this.rules = riskRules(config.risk);
    this.needsPayerHistory = this.rules.firstTimePayer !== null;
    this.windows = new VelocityWindows(velocityHorizonMs(config.risk));
  }

  assess(subject: RiskSubject, businessDate: string, payerHasPaid: boolean | undefined, nowMs: number): RiskAssessment {
    this.rollDay(businessDate);
    return assess(this.rules, subject, {
      velocity: (dimension, value, windowMs) => this.windows.count(dimension, value, windowMs, nowMs, subject.currency),
      merchantToday: (merchantId, currency) => this.merchantToday.get(`${merchantId}\u0000${currency}`) ?? 0n,
      payerHasPaid,
    });
  }

  /** Counts an attempt that passed (allowed or challenged) in the windows and the merchant's day. */
  record(subject: RiskSubject, businessDate: string, nowMs: number): void {
    this.rollDay(businessDate);
    for (const d of DIMENSIONS) {
      const value = subject.keys[d];
      if (value !== undefined) this.windows.record(d, value, nowMs, subject.amountMinor, subject.currency);
    }
    const key = `${subject.merchantId}\u0000${subject.currency}`;
    this.merchantToday.set(key, (this.merchantToday.get(key) ?? 0n) + subject.amountMinor);
  }

  seed(rows: readonly RiskDecisionRecord[], businessDate: string): void {
    for (const r of rows) {
      if (r.decision === 'block') continue;
      const subject = subjectOf(r);
      if (r.businessDate === businessDate) this.record(subject, businessDate, r.createdAtMs);
      else for (const d of DIMENSIONS) if (subject.keys[d] !== undefined) this.windows.record(d, subject.keys[d], r.createdAtMs, r.amountMinor, r.currency);
    }
  }

  private rollDay(businessDate: string): void {
    if (businessDate === this.merchantDay) return;
    this.merchantDay = businessDate;
    this.merchantToday.clear();
  }
}

function subjectOf(r: RiskDecisionRecord): RiskSubject {
  const keys: Partial<Record<(typeof DIMENSIONS)[number], string>> = {};
  if (r.payerId !== null) keys.payer = r.payerId;
  if (r.cardKey !== null) keys.card = r.cardKey;
  if (r.deviceId !== null) keys.device = r.deviceId;
  if (r.ip !== null) keys.ip = r.ip;
  return { merchantId: r.merchantId, product: r.product, currency: r.currency, amountMinor: r.amountMinor, keys };
}
