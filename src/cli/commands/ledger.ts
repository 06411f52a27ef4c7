// settle ledger …: accounts, balance, journal, post, hold, reverse, verify, set-status.
// Thin: parse flags, call the ledger, render.

import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import {
  ACCOUNT_STATUSES,
  balanceOnNormalSide,
  checkEntryId,
  LedgerError,
  LIMITS,
  parseAmountMinor,
  parseEntryJson,
  ROUNDING_MODES,
  type AccountStatus,
  type LedgerCommand,
  type PostResult,
  type RoundingMode,
} from '../../ledger/index.js';
import { withLedger, type CommandContext, type Run } from '../context.js';
import { AbortError, EXIT } from '../errors.js';
import { money, table } from '../output.js';
import { accountJson, accountsTable, entryJson, failureJson, journalText, postResultJson, postResultText } from '../views.js';

function readEntryFile(path: string): unknown {
  let size: number;
  try {
    size = path === '-' ? 0 : statSync(path).size;
  } catch {
    throw new AbortError('file_not_found', `Cannot read ${path}.`, 'Check the path given to --file.');
  }
  if (size > LIMITS.entryFileBytesMax) {
    throw new LedgerError('input_invalid', `${path} is ${size} bytes; at most ${LIMITS.entryFileBytesMax} are read.`);
  }
  const text = readFileSync(path === '-' ? 0 : path, 'utf8');
  if (Buffer.byteLength(text) > LIMITS.entryFileBytesMax) {
    throw new LedgerError('input_invalid', `The input is larger than ${LIMITS.entryFileBytesMax} bytes.`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new LedgerError('input_invalid', `${path} is not valid JSON (${(e as Error).message}).`);
  }
}

function rounding(value: string | undefined): RoundingMode | undefined {
  if (value === undefined) return undefined;
  if (!(ROUNDING_MODES as readonly string[]).includes(value)) {
    throw new AbortError('input_invalid', `Unknown rounding mode ${value}.`, `Use one of ${ROUNDING_MODES.join(', ')}.`);
  }
  return value as RoundingMode;
}

function requireId(id: string, what: string): string {
  const bad = checkEntryId(id, what);
  if (bad) throw LedgerError.from(bad);
  return id;
}

/** Prints one result, or a batch of them; exit 1 when anything was refused. */
function reportResults(ctx: CommandContext, results: readonly PostResult[], single: boolean): number {
  const refused = results.filter((r) => !r.ok).length;
  if (single) {
    const [r] = results;
    if (!r) throw new Error('no result');
    ctx.out.result(postResultJson(r), () => postResultText(r));
  } else {
    ctx.out.result({ ok: refused === 0, results: results.map(postResultJson) }, () =>
      [...results.map(postResultText), `${results.length - refused} posted or replayed, ${refused} refused.`].join('\n'),
    );
  }
  return refused === 0 ? EXIT.ok : EXIT.abort;
}

export function registerLedgerCommands(program: Command, run: Run): void {
  const ledger = program.command('ledger').description('the double-entry ledger: accounts, balances, journal, postings');

  ledger
    .command('accounts')
    .description('list accounts with their balances on the normal side')
    .option('--subject <code>', 'only accounts under this subject')
    .option('--owner-kind <kind>', 'only this kind of owner (platform, merchant, user, channel, agent, bank)')
    .option('--owner-id <id>', 'only this owner')
    .option('--currency <code>', 'only this currency')
    .action(
      run(async (ctx, opts: { subject?: string; ownerKind?: string; ownerId?: string; currency?: string }) => {
        const accounts = await withLedger(ctx, (l) =>
          l.accounts({ subjectCode: opts.subject, ownerKind: opts.ownerKind, ownerId: opts.ownerId, currency: opts.currency }),
        );
        ctx.out.result({ ok: true, accounts: accounts.map(accountJson) }, () => accountsTable(accounts));
        return EXIT.ok;
      }),
    );

  ledger
    .command('balance')
    .description("one account's balance and counters, or without an id the totals per subject and currency")
    .argument('[account-id]', 'the account')
    .action(
      run(async (ctx, accountId: string | undefined) => {
        const accounts = await withLedger(ctx, (l) => l.accounts(accountId === undefined ? {} : { accountId }));
        if (accountId !== undefined) {
          const a = accounts[0];
          if (!a) throw new LedgerError('account_not_found', `Account ${accountId} does not exist.`);
          ctx.out.result({ ok: true, account: accountJson(a) }, () =>
            [
              `${a.accountId}  (${a.subjectCode} ${a.subjectName}, ${a.ownerKind}:${a.ownerId}, ${a.status})`,
              `  balance    ${money(balanceOnNormalSide(a, a.normalSide), a.currency)} (${a.normalSide} side)`,
              `  posted     Dr ${money(a.debitsPosted, a.currency)}   Cr ${money(a.creditsPosted, a.currency)}`,
              `  pending    Dr ${money(a.debitsPending, a.currency)}   Cr ${money(a.creditsPending, a.currency)}`,
            ].join('\n'),
          );
          return EXIT.ok;
        }
        const totals = new Map<string, { subjectCode: string; subjectName: string; currency: string; balance: bigint; accounts: number }>();
        for (const a of accounts) {
          const key = `${a.subjectCode}\u0000${a.currency}`;
          const t = totals.get(key) ?? { subjectCode: a.subjectCode, subjectName: a.subjectName, currency: a.currency, balance: 0n, accounts: 0 };
          t.balance += balanceOnNormalSide(a, a.normalSide);
          t.accounts += 1;
          totals.set(key, t);
        }
        const rows = [...totals.values()];
        ctx.out.result(
          {
            ok: true,
            subjects: rows.map((t) => ({
              subject_code: t.subjectCode,
              subject_name: t.subjectName,
              currency: t.currency,
              accounts: t.accounts,
              balance_minor: t.balance.toString(),
            })),
          },
          () =>
            table(
              ['subject', 'currency', '>accounts', '>balance'],
              rows.map((t) => [`${t.subjectCode} ${t.subjectName}`, t.currency, String(t.accounts), money(t.balance, t.currency)]),
            ),
        );
        return EXIT.ok;
      }),
    );

  ledger
    .command('journal')
    .description('journal entries, newest first')
    .option('--date <YYYY-MM-DD>', 'only this business date')
    .option('--account <account-id>', 'only entries that post to this account')
    .option('--limit <n>', 'at most this many entries', '50')
    .option('--oldest-first', 'oldest first instead')
    .action(
      run(async (ctx, opts: { date?: string; account?: string; limit: string; oldestFirst?: boolean }) => {
        const limit = Number.parseInt(opts.limit, 10);
        if (!Number.isSafeInteger(limit) || limit < 1 || limit > LIMITS.journalPageMax) {
          throw new AbortError('input_invalid', `--limit must be 1..${LIMITS.journalPageMax}.`);
        }
        const entries = await withLedger(ctx, (_l, store) =>
          store.readJournal({ limit, businessDate: opts.date, accountId: opts.account, descending: !opts.oldestFirst }),
        );
        ctx.out.result({ ok: true, entries: entries.map(entryJson) }, () => journalText(entries));
        return EXIT.ok;
      }),
    );

  ledger
    .command('post')
    .description('post an entry (or an array of entries) from a JSON file; see README for the format')
    .requiredOption('--file <path>', 'the entry file, or - for standard input')
    .option('--rounding <mode>', `round "amount" decimals with extra digits: ${ROUNDING_MODES.join(', ')}`)
    .action(
      run(async (ctx, opts: { file: string; rounding?: string }) => {
        const raw = readEntryFile(opts.file);
        const mode = rounding(opts.rounding);
        const single = !Array.isArray(raw);
        const items = single ? [raw] : (raw as unknown[]);
        if (items.length === 0) throw new LedgerError('input_invalid', 'The file holds an empty array.');
        const parsed = items.map((item) => parseEntryJson(item, { rounding: mode }));
        const commands = parsed.flatMap((p) => (p.ok ? [p.value] : []));
        const posted = commands.length > 0 ? await withLedger(ctx, (l) => l.postEntries(commands)) : [];
        let next = 0;
        const results = parsed.map((p): PostResult => (p.ok ? (posted[next++] as PostResult) : p));
        return reportResults(ctx, results, single);
      }),
    );

  const hold = ledger.command('hold').description('two-phase holds (pre-authorisation): post, void, expire');
  hold
    .command('post')
    .description('post all of a hold, or part of it with --amount-minor (the rest is released)')
    .argument('<hold-id>', 'the pending entry')
    .requiredOption('--id <entry-id>', 'id of the entry this creates (idempotency key)')
    .option('--amount-minor <n>', 'post only this much (minor units, per side)')
    .option('--memo <text>', 'a note kept with the entry')
    .action(
      run(async (ctx, holdId: string, opts: { id: string; amountMinor?: string; memo?: string }) => {
        let amountMinor: bigint | undefined;
        if (opts.amountMinor !== undefined) {
          const amount = parseAmountMinor(opts.amountMinor);
          if (!amount.ok) throw LedgerError.from(amount);
          amountMinor = amount.value;
        }
        const cmd: LedgerCommand = { type: 'post_hold', id: requireId(opts.id, '--id'), holdId, amountMinor, memo: opts.memo };
        return reportResults(ctx, [await withLedger(ctx, (l) => l.post(cmd))], true);
      }),
    );
  hold
    .command('void')
    .description('release a hold without posting it')
    .argument('<hold-id>', 'the pending entry')
    .requiredOption('--id <entry-id>', 'id of the entry this creates (idempotency key)')
    .option('--memo <text>', 'a note kept with the entry')
    .action(
      run(async (ctx, holdId: string, opts: { id: string; memo?: string }) => {
        const cmd: LedgerCommand = { type: 'void_hold', id: requireId(opts.id, '--id'), holdId, memo: opts.memo };
        return reportResults(ctx, [await withLedger(ctx, (l) => l.post(cmd))], true);
      }),
    );
  hold
    .command('expire')
    .description('release every hold whose expiry has passed (cron runs this)')
    .action(
      run(async (ctx) => {
        const results = await withLedger(ctx, (l) => l.expireHolds());
        const released = results.filter((r) => r.ok).length;
        ctx.out.result({ ok: true, released, results: results.map(postResultJson) }, () => `Released ${released} expired hold(s).`);
        return EXIT.ok;
      }),
    );

  ledger
    .command('reverse')
    .description('post an entry that mirrors an earlier one (at most once per entry)')
    .argument('<entry-id>', 'the entry to reverse')
    .requiredOption('--id <entry-id>', 'id of the reversing entry (idempotency key)')
    .option('--memo <text>', 'why')
    .action(
      run(async (ctx, entryId: string, opts: { id: string; memo?: string }) => {
        const cmd: LedgerCommand = { type: 'reverse', id: requireId(opts.id, '--id'), entryId, memo: opts.memo };
        return reportResults(ctx, [await withLedger(ctx, (l) => l.post(cmd))], true);
      }),
    );

  ledger
    .command('verify')
    .description('check the hash chain, that every entry balances, and every account counter (exit 2 on a finding)')
    .action(
      run(async (ctx) => {
        const report = await withLedger(ctx, (l) => l.verify((n) => ctx.out.info(`checked ${n} entries…`)));
        ctx.out.result(
          {
            ok: report.ok,
            entries_checked: report.entriesChecked,
            accounts_checked: report.accountsChecked,
            ...(report.problem ? { code: 'verify_failed', problem: report.problem, message: report.problem.detail } : {}),
          },
          () =>
            report.ok
              ? `Ledger verified: ${report.entriesChecked} entries chained and balanced, ${report.accountsChecked} accounts add up.`
              : `VERIFY FAILED at ${report.problem?.kind} ${report.problem?.id}: ${report.problem?.detail}`,
        );
        return report.ok ? EXIT.ok : EXIT.findings;
      }),
    );

  ledger
    .command('export')
    .description('the journal as a plain-text-accounting file (ledger-cli/hledger or beancount), posted entries only')
    .requiredOption('--format <format>', 'ledger | beancount')
    .option('--from <YYYY-MM-DD>', 'first business date (default: the first)')
    .option('--to <YYYY-MM-DD>', 'last business date (default: the last)')
    .option('--out <file>', 'write to this file (default: standard output)')
    .action(
      run(async (ctx, opts: { format: string; from?: string; to?: string; out?: string }) => {
        const { ledgerExport } = await import('./trial-balance.js');
        return ledgerExport(ctx, opts);
      }),
    );

  ledger
    .command('set-status')
    .description('freeze, unfreeze or close an account')
    .argument('<account-id>', 'the account')
    .argument('<status>', ACCOUNT_STATUSES.join(' | '))
    .action(
      run(async (ctx, accountId: string, status: string) => {
        if (!(ACCOUNT_STATUSES as readonly string[]).includes(status)) {
          throw new AbortError('input_invalid', `Unknown status ${status}.`, `Use one of ${ACCOUNT_STATUSES.join(', ')}.`);
        }
        const bad = await withLedger(ctx, (l) => l.setAccountStatus(accountId, status as AccountStatus));
        if (bad) {
          ctx.out.result(failureJson(bad), () => `refused: ${bad.code}: ${bad.message}`);
          return EXIT.abort;
        }
        ctx.out.result({ ok: true, account_id: accountId, status }, () => `Account ${accountId} is now ${status}.`);
        return EXIT.ok;
      }),
    );
}
