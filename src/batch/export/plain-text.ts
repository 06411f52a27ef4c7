// The journal as a plain-text-accounting file, so finance can cross-check settle with independent tools:
// ledger-cli / hledger syntax, or beancount. Only what moves posted balances is written (posted entries
// and posted holds); pending holds are not balances yet. Pure: accounts and entries in, text out.
//
// Account names: <Root>:<subject code>-<SubjectName>:<OwnerKind>:<OwnerId>, e.g.
// `Assets:1122-ChannelReceivable:Channel:Wechat`. Roots are beancount's five (asset → Assets, liability →
// Liabilities, equity → Equity, revenue → Income, expense → Expenses); each component starts with a
// capital letter or a digit and holds only letters, digits and dashes, which both tools accept. Two
// accounts that would get the same name in one currency get their account id appended.

import { findCurrency, toDecimalString, type Side, type SubjectType } from '../../ledger/index.js';

export type ExportFormat = 'ledger' | 'beancount';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['ledger', 'beancount'];

export interface ExportAccount {
  readonly accountId: string;
  readonly subjectCode: string;
  readonly subjectName: string;
  readonly subjectType: SubjectType;
  readonly ownerKind: string;
  readonly ownerId: string;
  readonly currency: string;
}

export interface ExportEntry {
  readonly entryId: string;
  readonly businessDate: string;
  readonly eventType: string;
  readonly postings: readonly { readonly accountId: string; readonly side: Side; readonly amountMinor: bigint; readonly currency: string }[];
}

const ROOTS: Record<SubjectType, string> = { asset: 'Assets', liability: 'Liabilities', equity: 'Equity', revenue: 'Income', expense: 'Expenses' };

/** One name component: letters, digits and dashes, starting with a capital or a digit. */
export function nameComponent(raw: string): string {
  const cleaned = raw.replace(/[^A-Za-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  if (cleaned === '') return 'X';
  const first = cleaned.charAt(0);
  return /[A-Za-z]/.test(first) ? first.toUpperCase() + cleaned.slice(1) : /[0-9]/.test(first) ? cleaned : `X${cleaned}`;
}

/** "Channel receivable 应收账款-渠道" → "ChannelReceivable". */
function subjectWords(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

export function exportAccountName(a: ExportAccount): string {
  const words = subjectWords(a.subjectName);
  return [ROOTS[a.subjectType], words === '' ? a.subjectCode : `${a.subjectCode}-${words}`, nameComponent(a.ownerKind), nameComponent(a.ownerId)].join(':');
}

/** Names for every account; distinct accounts never share a name within one currency. */
export function exportAccountNames(accounts: readonly ExportAccount[]): Map<string, string> {
  const taken = new Map<string, string>();
  const names = new Map<string, string>();
  for (const a of accounts) {
    let name = exportAccountName(a);
    if (taken.has(`${name}\u0000${a.currency}`)) name = `${name}:${nameComponent(a.accountId)}`;
    taken.set(`${name}\u0000${a.currency}`, a.accountId);
    names.set(a.accountId, name);
  }
  return names;
}

function amountText(amountMinor: bigint, currency: string): string {
  const c = findCurrency(currency);
  if (!c || !/^[A-Z][A-Z0-9]{1,22}$/.test(currency)) throw new Error(`currency ${currency} cannot be written as a commodity`);
  return `${toDecimalString(amountMinor, c)} ${currency}`;
}

export function header(format: ExportFormat, range: { from?: string | undefined; to?: string | undefined }): string {
  const what = `settle journal export, business dates ${range.from ?? '(start)'} to ${range.to ?? '(end)'}; posted entries only${range.from === undefined ? '' : '; movements of the range, without opening balances'}`;
  return format === 'ledger' ? `; ${what}\n\n` : `; ${what}\noption "title" "settle"\n\n`;
}

/** beancount's `open` directives, dated the first day of the export. */
export function openDirectives(names: ReadonlyMap<string, string>, date: string): string {
  return `${[...new Set(names.values())].sort().map((n) => `${date} open ${n}`).join('\n')}\n\n`;
}

export function entryText(format: ExportFormat, e: ExportEntry, names: ReadonlyMap<string, string>): string {
  const head = format === 'ledger' ? `${e.businessDate} * ${e.entryId}  ; ${e.eventType}` : `${e.businessDate} * "${e.eventType}" "${e.entryId}"`;
  const lines = e.postings.map((p) => {
    const name = names.get(p.accountId);
    if (name === undefined) throw new Error(`account ${p.accountId} has no export name`);
    return `  ${name}  ${amountText(p.side === 'debit' ? p.amountMinor : -p.amountMinor, p.currency)}`;
  });
  return `${head}\n${lines.join('\n')}\n\n`;
}
