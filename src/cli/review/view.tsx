// The ink view of `settle recon review`: the list of open discrepancies, a detail pane with both sides,
// and the resolve steps. State lives in the pure reducer (state.ts); this file maps keys to its actions
// and carries out a submitted decision through the `resolve` it is given.

import { Box, Text, render, useApp, useInput } from 'ink';
import { useEffect, useReducer, type ReactElement } from 'react';
import type { StoredItem } from '../../batch/recon/port.js';
import { money } from '../output.js';
import type { CliTerminal } from '../context.js';
import { actionsFor, ageDays, itemAmountMinor, reduce, selected, visible, type Decision, type ReviewState } from './state.js';

/** Rows of the list shown at once (the list scrolls with the selection). */
export const LIST_WINDOW_ROWS = 12;

export type ResolveOutcome = { readonly ok: true; readonly item: StoredItem; readonly entryIds: readonly string[] } | { readonly ok: false; readonly code: string; readonly message: string };

export interface ReviewProps {
  readonly initial: ReviewState;
  /** Carries out a decision as `settle recon resolve` does; expected refusals come back as values. */
  readonly resolve: (decision: Decision) => Promise<ResolveOutcome>;
}

const side = (amountMinor: bigint | null, currency: string | null): string => (amountMinor === null || currency === null ? '-' : money(amountMinor, currency));

function amountText(i: StoredItem): string {
  return money(itemAmountMinor(i), i.channelCurrency ?? i.ledgerCurrency ?? 'CNY');
}

function Header({ s, shown }: { readonly s: ReviewState; readonly shown: number }): ReactElement {
  const f = s.filter;
  const open = s.items.filter((i) => i.status === 'open').length;
  return (
    <Text>
      <Text bold>Open discrepancies</Text> {shown} of {open} · channel <Text color="cyan">{f.channel ?? 'all'}</Text> · type <Text color="cyan">{f.type ?? 'all'}</Text> · sort{' '}
      <Text color="cyan">{s.sort}</Text>
      {f.minAgeDays > 0 ? ` · age ≥ ${f.minAgeDays} d` : ''}
      {f.minAmountMinor > 0n ? ` · amount ≥ ${f.minAmountMinor} minor` : ''}
    </Text>
  );
}

function List({ s, rows }: { readonly s: ReviewState; readonly rows: readonly StoredItem[] }): ReactElement {
  if (rows.length === 0) return <Text dimColor>No open discrepancy matches these filters.</Text>;
  const at = Math.max(0, rows.findIndex((i) => i.itemId === selected(s)?.itemId));
  const first = Math.max(0, Math.min(at - Math.floor(LIST_WINDOW_ROWS / 2), rows.length - LIST_WINDOW_ROWS));
  return (
    <Box flexDirection="column">
      {rows.slice(first, first + LIST_WINDOW_ROWS).map((i) => {
        const mark = i.itemId === selected(s)?.itemId;
        return (
          <Text key={i.itemId} inverse={mark}>
            {mark ? '>' : ' '} {String(i.itemId).padStart(6)} {i.businessDate} {i.channel.padEnd(10)} {(i.type ?? '').padEnd(17)} {String(ageDays(i, s.today)).padStart(3)} d {amountText(i).padStart(14)} {i.orderKey ?? '-'}
          </Text>
        );
      })}
      {rows.length > LIST_WINDOW_ROWS ? <Text dimColor>({rows.length} rows; ↑↓ to scroll)</Text> : null}
    </Box>
  );
}

function Detail({ i, today }: { readonly i: StoredItem; readonly today: string }): ReactElement {
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold>
        Item {i.itemId}: {i.type} ({i.kind}) · {i.channel} {i.businessDate} · {ageDays(i, today)} d old
        {i.differences.length > 1 ? ` · also ${i.differences.slice(1).join(', ')}` : ''}
      </Text>
      <Text>
        <Text color="yellow">channel </Text>
        {i.fileId === null
          ? 'no line in the channel’s file'
          : `txn ${i.channelTxnId ?? '-'} · order ${i.orderKey ?? '-'} · ${side(i.channelAmountMinor, i.channelCurrency)} · status ${i.channelStatus ?? '-'} · fee ${i.channelFee ?? '-'} · at ${i.occurredAt ?? '-'} · file ${i.fileId} line ${i.lineSeq ?? '?'}`}
      </Text>
      <Text>
        <Text color="green">ours    </Text>
        {i.recordId === null
          ? 'no record of ours'
          : `${i.recordSource ?? ''} ${i.recordId} · merchant ${i.merchantId ?? '-'} · ${side(i.ledgerAmountMinor, i.ledgerCurrency)} · status ${i.ledgerStatus ?? '-'} · cost ${i.ledgerCostMinor ?? '-'} · booked ${i.ledgerBusinessDate ?? '-'}`}
      </Text>
      {i.note ? <Text dimColor>note {i.note}</Text> : null}
    </Box>
  );
}

function Step({ s }: { readonly s: ReviewState }): ReactElement | null {
  const m = s.mode;
  if (m.kind === 'action') {
    return (
      <Box flexDirection="column">
        <Text bold>Resolve with (↑↓, Enter; Esc cancels):</Text>
        {actionsFor(selected(s)).map((a, k) => (
          <Text key={a} inverse={k === m.choice}>
            {k === m.choice ? '>' : ' '} {a}
          </Text>
        ))}
      </Box>
    );
  }
  if (m.kind === 'reason') return <Text>Reason for {m.action} (Enter to continue, Esc cancels): {m.text}█</Text>;
  if (m.kind === 'approval') return <Text>Approval of the write-off (who approved, ticket): {m.text}█</Text>;
  if (m.kind === 'submitting') return <Text color="yellow">Resolving {m.decision.itemId} by {m.decision.action}…</Text>;
  return null;
}

const HELP = '↑↓ move · Enter detail · Esc back · c channel · t type · s sort · a resolve · q quit';

export function ReviewApp({ initial, resolve }: ReviewProps): ReactElement {
  const [s, dispatch] = useReducer(reduce, initial);
  const { exit } = useApp();
  const m = s.mode;

  useInput((input, key) => dispatch({ type: 'key', key: { ...key, input } }));
  useEffect(() => {
    if (s.quit) exit();
  }, [s.quit, exit]);

  const decision = m.kind === 'submitting' ? m.decision : null;
  useEffect(() => {
    if (decision === null) return;
    let live = true;
    resolve(decision).then(
      (r) => live && dispatch(r.ok ? { type: 'resolved', item: r.item, entryIds: r.entryIds } : { type: 'failed', code: r.code, message: r.message }),
      (e: unknown) => live && exit(e instanceof Error ? e : new Error(String(e))),
    );
    return () => {
      live = false;
    };
  }, [decision, resolve, exit]);

  const rows = visible(s);
  const item = selected(s);
  return (
    <Box flexDirection="column">
      <Header s={s} shown={rows.length} />
      <List s={s} rows={rows} />
      {m.kind !== 'list' && item ? <Detail i={item} today={s.today} /> : null}
      <Step s={s} />
      {s.message ? <Text color={s.message.level === 'ok' ? 'green' : 'red'}>{s.message.text}</Text> : null}
      <Text dimColor>{HELP}</Text>
    </Box>
  );
}

/** Runs the view on the terminal until the operator quits. */
export async function runReview(terminal: CliTerminal, props: ReviewProps): Promise<void> {
  const instance = render(<ReviewApp {...props} />, { stdin: terminal.stdin, stdout: terminal.stdout, stderr: terminal.stderr, exitOnCtrlC: true, patchConsole: false });
  await instance.waitUntilExit();
}
