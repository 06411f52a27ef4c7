// The ledger's public surface for the layers above (online, batch, cli).
export * from './chart.js';
export * from './currency.js';
export * from './default-postings.js';
export * from './entry.js';
export * from './errors.js';
export * from './ledger.js';
export * from './limits.js';
export * from './money.js';
export * from './port.js';
export type { AccountState, HoldStatus, RecordedPosting } from './rules.js';
export * from './verify.js';
