// The daily report as ONE self-contained HTML page: inline CSS (with a print stylesheet), inline SVG
// charts (svg.ts), no script, no external URL. A pure function of the report: the same report gives
// the same bytes. Every text from data is escaped; amounts are formatted from bigint minor units.

import { findCurrency, formatMoney } from '../../ledger/index.js';
import type { DailyReport, DiscrepancyGroup, JobRunRow, Positions, ReconSummary, Section, Settlement, ShareRow, TrialBalanceSummary, VolumeRow } from './model.js';
import { verdictOf } from './model.js';
import { barChart, esc, lineChart } from './svg.js';

export function money(amountMinor: bigint, currency: string): string {
  const c = findCurrency(currency);
  return esc(c === undefined ? `${amountMinor.toString()} (minor) ${currency}` : formatMoney(amountMinor, c));
}

/** A share as a percentage with one decimal, from integer counts (no money involved). */
function percent(part: number, whole: number): string {
  if (whole === 0) return '–';
  return `${((part * 1000) / whole / 10).toFixed(1)} %`;
}

function time(ms: number, timezone: string): string {
  try {
    return new Intl.DateTimeFormat('sv-SE', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(ms);
  } catch {
    return new Date(ms).toISOString();
  }
}

interface Column<T> {
  readonly head: string;
  readonly num?: boolean;
  /** Already escaped HTML. */
  readonly cell: (row: T) => string;
}

function table<T>(name: string, columns: readonly Column<T>[], rows: readonly T[], foot: readonly string[] | null = null): string {
  const th = columns.map((c) => `<th${c.num === true ? ' class="num"' : ''}>${esc(c.head)}</th>`).join('');
  const body = rows.map((r) => `<tr>${columns.map((c) => `<td${c.num === true ? ' class="num"' : ''}>${c.cell(r)}</td>`).join('')}</tr>`).join('\n');
  const tf = foot === null ? '' : `<tfoot><tr>${foot.map((f, i) => `<td${columns[i]?.num === true ? ' class="num"' : ''}>${f}</td>`).join('')}</tr></tfoot>`;
  return `<table data-table="${esc(name)}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody>${tf}</table>`;
}

const empty = (text: string): string => `<p class="empty">${esc(text)}</p>`;
const notRun = (s: { reason: string }): string => `<p class="empty not-run">Not run — ${esc(s.reason)}</p>`;

type Tone = 'ok' | 'bad' | 'idle';
function badge(tone: Tone, title: string, text: string): string {
  return `<div class="badge ${tone}" data-badge="${esc(title)}"><span class="badge-title">${esc(title)}</span><span class="badge-text">${esc(text)}</span></div>`;
}

function badges(r: DailyReport): string {
  const v = verdictOf(r);
  const out: string[] = [];
  out.push(badge(r.dayStatus === 'closed' ? 'ok' : 'idle', 'Business day', r.dayStatus === 'closed' ? 'closed' : r.dayStatus === 'open' ? 'still open' : 'unknown'));
  out.push(r.recon.state === 'ok' ? badge(v.openDiscrepancies === 0 ? 'ok' : 'bad', 'Reconciliation', v.openDiscrepancies === 0 ? 'no open discrepancy' : `${v.openDiscrepancies} open discrepanc${v.openDiscrepancies === 1 ? 'y' : 'ies'}`) : badge('idle', 'Reconciliation', 'not run'));
  out.push(r.trialBalance.state === 'ok' ? badge(v.trialBalanceFindings === 0 ? 'ok' : 'bad', 'Trial balance', v.trialBalanceFindings === 0 ? 'balanced' : `${v.trialBalanceFindings} finding(s)`) : badge('idle', 'Trial balance', 'not run'));
  out.push(r.positions.state === 'ok' ? badge(v.positionsBelowBuffer === 0 ? 'ok' : 'bad', 'Positions', v.positionsBelowBuffer === 0 ? 'above buffer' : `${v.positionsBelowBuffer} below buffer`) : badge('idle', 'Positions', 'not run'));
  out.push(badge(v.failedJobs === 0 ? (r.jobs.length === 0 ? 'idle' : 'ok') : 'bad', 'Night jobs', v.failedJobs === 0 ? `${r.jobs.length} run(s), none failed` : `${v.failedJobs} failed`));
  return `<div class="badges">${out.join('')}</div>`;
}

function volumeBlock(name: string, heading: string, keyHead: string, rows: readonly VolumeRow[]): string {
  if (rows.length === 0) return `<h3>${esc(heading)}</h3>${empty('No payments on this day.')}`;
  const bars = rows.map((v) => ({
    label: `${v.key} (${v.currency})`,
    parts: [
      { value: v.succeeded, tone: 'ok' },
      { value: v.failed, tone: 'bad' },
      { value: v.pending, tone: 'wait' },
    ],
    note: `${v.attempts} · ${percent(v.succeeded, v.attempts)}`,
  }));
  const chart = barChart(name, `Payments ${heading.toLowerCase()}: succeeded, failed, pending`, bars, [
    { tone: 'ok', text: 'succeeded' },
    { tone: 'bad', text: 'failed' },
    { tone: 'wait', text: 'pending' },
  ]);
  const t = table<VolumeRow>(name, [
    { head: keyHead, cell: (v) => esc(v.key) },
    { head: 'Currency', cell: (v) => esc(v.currency) },
    { head: 'Attempts', num: true, cell: (v) => String(v.attempts) },
    { head: 'Succeeded', num: true, cell: (v) => String(v.succeeded) },
    { head: 'Failed', num: true, cell: (v) => String(v.failed) },
    { head: 'Pending', num: true, cell: (v) => String(v.pending) },
    { head: 'Success rate', num: true, cell: (v) => percent(v.succeeded, v.attempts) },
    { head: 'Succeeded amount', num: true, cell: (v) => money(v.succeededAmountMinor, v.currency) },
    { head: 'Refunds', num: true, cell: (v) => String(v.refunds) },
    { head: 'Refunded amount', num: true, cell: (v) => money(v.refundsAmountMinor, v.currency) },
  ], rows);
  return `<h3>${esc(heading)}</h3><div class="pair">${chart}${t}</div>`;
}

function volumesSection(r: DailyReport): string {
  const { activity } = r.volumes;
  const act =
    activity.length === 0
      ? empty('No pre-authorisations, captures or payouts on this day.')
      : table('activity', [
          { head: 'Kind', cell: (a) => esc(a.kind) },
          { head: 'Status', cell: (a) => esc(a.status) },
          { head: 'Currency', cell: (a) => esc(a.currency) },
          { head: 'Count', num: true, cell: (a) => String(a.count) },
          { head: 'Amount', num: true, cell: (a) => money(a.amountMinor, a.currency) },
        ], activity);
  return `<section id="volumes"><h2>Volumes and success rates</h2>${volumeBlock('volume-by-channel', 'By channel', 'Channel', r.volumes.byChannel)}${volumeBlock('volume-by-product', 'By product', 'Product', r.volumes.byProduct)}<h3>Pre-authorisations, captures and payouts</h3>${act}</section>`;
}

function discrepancyBlock(name: string, heading: string, groups: readonly DiscrepancyGroup[], keyHead: string): string {
  const bars = groups.map((g) => ({ label: `${g.key} (${g.currency})`, parts: [{ value: g.count, tone: 'bad' }], note: `${g.count} · ${formatAmountText(g.amountMinor, g.currency)}` }));
  const t = table<DiscrepancyGroup>(name, [
    { head: keyHead, cell: (g) => esc(g.key) },
    { head: 'Currency', cell: (g) => esc(g.currency) },
    { head: 'Open', num: true, cell: (g) => String(g.count) },
    { head: 'Amount at stake', num: true, cell: (g) => money(g.amountMinor, g.currency) },
  ], groups);
  return `<h3>${esc(heading)}</h3><div class="pair">${barChart(name, `Open discrepancies ${heading.toLowerCase()}`, bars)}${t}</div>`;
}

/** Money as plain text for an SVG label (esc() is applied by the chart). */
function formatAmountText(amountMinor: bigint, currency: string): string {
  const c = findCurrency(currency);
  return c === undefined ? `${amountMinor.toString()} (minor) ${currency}` : formatMoney(amountMinor, c);
}

function reconSection(s: Section<ReconSummary>): string {
  const head = '<h2>Reconciliation and discrepancies</h2>';
  if (s.state === 'not_run') return `<section id="recon">${head}${notRun(s)}</section>`;
  const d = s.data;
  const runs =
    d.channels.length === 0
      ? empty('No reconciliation run for this date yet; the backlog below is from earlier days.')
      : table('recon-runs', [
          { head: 'Channel', cell: (c) => esc(c.channel) },
          { head: 'File version', num: true, cell: (c) => String(c.fileVersion) },
          { head: 'Lines', num: true, cell: (c) => String(c.lines) },
          { head: 'Matched', num: true, cell: (c) => String(c.matched) },
          { head: 'Suspense', num: true, cell: (c) => String(c.suspense) },
          { head: 'Discrepancies', num: true, cell: (c) => String(c.discrepancies) },
        ], d.channels);
  const open =
    d.openTotal === 0
      ? empty('No open discrepancy.')
      : `${discrepancyBlock('discrepancies-by-type', 'By type', d.openByType, 'Type')}${discrepancyBlock('discrepancies-by-age', 'By age', d.openByAge, 'Age')}`;
  return `<section id="recon">${head}<h3>Runs of the day</h3>${runs}<h3>Open discrepancies (${d.openTotal}) · items in suspense: ${d.suspenseOpen}</h3>${open}</section>`;
}

function settlementSection(s: Section<Settlement>, sharing: Section<readonly ShareRow[]>): string {
  let body: string;
  if (s.state === 'not_run') body = notRun(s);
  else if (s.data.totals.length === 0) body = empty('Clearing ran; no merchant was due a settlement on this date.');
  else {
    const rows = s.data.top;
    const merchants = s.data.totals.reduce((n, t) => n + t.merchants, 0);
    body = `${table('settlement', [
      { head: 'Merchant', cell: (b) => `${esc(b.merchantId)}${b.merchantName === null ? '' : ` <span class="muted">${esc(b.merchantName)}</span>`}` },
      { head: 'Currency', cell: (b) => esc(b.currency) },
      { head: 'Gross', num: true, cell: (b) => money(b.grossMinor, b.currency) },
      { head: 'Refunds', num: true, cell: (b) => money(b.refundsMinor, b.currency) },
      { head: 'Fees', num: true, cell: (b) => money(b.feesMinor, b.currency) },
      { head: 'Adjustments', num: true, cell: (b) => money(b.adjustmentsMinor, b.currency) },
      { head: 'Net', num: true, cell: (b) => money(b.netMinor, b.currency) },
      { head: 'Carried', num: true, cell: (b) => money(b.carriedOutMinor, b.currency) },
      { head: 'Paid out', num: true, cell: (b) => money(b.payoutMinor, b.currency) },
      { head: 'Status', cell: (b) => esc(b.status) },
    ], rows)}
    <p class="muted">Top ${rows.length} of ${merchants} merchant batch(es) by gross; net = gross − refunds − fees + adjustments.</p>
    ${table('settlement-totals', [
      { head: 'Total', cell: (t) => `${t.merchants} merchant(s)` },
      { head: 'Currency', cell: (t) => esc(t.currency) },
      { head: 'Gross', num: true, cell: (t) => money(t.grossMinor, t.currency) },
      { head: 'Refunds', num: true, cell: (t) => money(t.refundsMinor, t.currency) },
      { head: 'Fees', num: true, cell: (t) => money(t.feesMinor, t.currency) },
      { head: 'Adjustments', num: true, cell: (t) => money(t.adjustmentsMinor, t.currency) },
      { head: 'Net', num: true, cell: (t) => money(t.netMinor, t.currency) },
      { head: 'Carried', num: true, cell: (t) => money(t.carriedOutMinor, t.currency) },
      { head: 'Paid out', num: true, cell: (t) => money(t.payoutMinor, t.currency) },
    ], s.data.totals)}`;
  }
  let shares: string;
  if (sharing.state === 'not_run') shares = notRun(sharing);
  else if (sharing.data.length === 0) shares = empty('Profit sharing ran; nothing was shared on this date.');
  else {
    const totals = new Map<string, bigint>();
    for (const p of sharing.data) totals.set(p.currency, (totals.get(p.currency) ?? 0n) + p.shareMinor);
    shares = `${table('shares', [
      { head: 'Party', cell: (p) => esc(p.partyId) },
      { head: 'Kind', cell: (p) => esc(p.partyKind) },
      { head: 'Currency', cell: (p) => esc(p.currency) },
      { head: 'Lines', num: true, cell: (p) => String(p.lines) },
      { head: 'Base', num: true, cell: (p) => money(p.baseMinor, p.currency) },
      { head: 'Share', num: true, cell: (p) => money(p.shareMinor, p.currency) },
    ], sharing.data)}<p class="total" data-total="shares">Total shared: ${[...totals].map(([c, m]) => money(m, c)).join(' · ')}</p>`;
  }
  return `<section id="settlement"><h2>Settlement (清分结算)</h2>${body}<h3>Profit sharing (分润)</h3>${shares}</section>`;
}

function trialBalanceSection(s: Section<TrialBalanceSummary>): string {
  const head = '<h2>Trial balance (试算平衡)</h2>';
  if (s.state === 'not_run') return `<section id="trial-balance">${head}${notRun(s)}</section>`;
  const d = s.data;
  const verdict = d.findingsTotal === 0 ? '<p class="verdict ok">All checks hold: debits equal credits, every account and subject adds up.</p>' : `<p class="verdict bad">${d.findingsTotal} finding(s).</p>`;
  const totals = table('trial-balance-totals', [
    { head: 'Currency', cell: (t) => esc(t.currency) },
    { head: 'Debits', num: true, cell: (t) => money(t.debitsMinor, t.currency) },
    { head: 'Credits', num: true, cell: (t) => money(t.creditsMinor, t.currency) },
  ], d.totals);
  const findings =
    d.findings.length === 0
      ? ''
      : `${table('trial-balance-findings', [
          { head: 'Check', cell: (f) => `<code>${esc(f.code)}</code>` },
          { head: 'Detail', cell: (f) => esc(f.text) },
        ], d.findings)}${d.findingsTotal > d.findings.length ? `<p class="muted">${d.findingsTotal - d.findings.length} more not listed.</p>` : ''}`;
  return `<section id="trial-balance">${head}${verdict}${totals}<p class="muted">${d.accounts} account(s).</p>${findings}</section>`;
}

function positionsSection(s: Section<Positions>): string {
  const head = '<h2>Positions against buffers (头寸/备付金)</h2>';
  if (s.state === 'not_run') return `<section id="positions">${head}${notRun(s)}</section>`;
  const d = s.data;
  const charts = d.accounts
    .map((a, i) => {
      const chart = lineChart(
        `position-${i}`,
        `${a.accountId}: projected balance against its buffer`,
        d.dates,
        [
          { name: 'without top-ups', tone: 'wait', values: a.projectedMinor.map(Number), dashed: true },
          { name: 'with planned top-ups', tone: 'info', values: a.plannedMinor.map(Number) },
        ],
        { value: Number(a.bufferMinor), text: 'buffer' },
      );
      const t = table(`position-${i}`, [
        { head: 'Date', cell: (k: number) => esc(d.dates[k] ?? '') },
        { head: 'Without top-ups', num: true, cell: (k: number) => money(a.projectedMinor[k] ?? 0n, a.currency) },
        { head: 'With top-ups', num: true, cell: (k: number) => money(a.plannedMinor[k] ?? 0n, a.currency) },
        { head: 'Buffer', num: true, cell: () => money(a.bufferMinor, a.currency) },
      ], d.dates.map((_, k) => k));
      const state = a.alert ? '<span class="flag bad">below alert threshold</span>' : a.balanceMinor < a.bufferMinor ? '<span class="flag bad">below buffer now</span>' : a.belowBufferOn !== null ? `<span class="flag warn">below buffer on ${esc(a.belowBufferOn)} without top-up</span>` : '<span class="flag ok">above buffer</span>';
      return `<h3>${esc(a.accountId)} ${state}</h3><div class="pair">${chart}${t}</div>`;
    })
    .join('');
  const transfers =
    d.transfers.length === 0
      ? empty('No top-up needed.')
      : table('transfers', [
          { head: 'From', cell: (t) => esc(t.fromAccountId) },
          { head: 'To', cell: (t) => esc(t.toAccountId) },
          { head: 'Amount', num: true, cell: (t) => money(t.amountMinor, t.currency) },
          { head: 'By', cell: (t) => esc(t.byDate) },
        ], d.transfers);
  const shortfalls = d.shortfalls.map((x) => `<p class="verdict bad">Short: ${esc(x.accountId)} needs ${money(x.shortfallMinor, x.currency)} by ${esc(x.byDate)} (${esc(x.reason)}).</p>`).join('');
  return `<section id="positions">${head}${charts}<h3>Planned top-ups</h3>${transfers}${shortfalls}</section>`;
}

function jobsSection(jobs: readonly JobRunRow[], timezone: string): string {
  const body =
    jobs.length === 0
      ? empty('No job has run for this date.')
      : table<JobRunRow>('jobs', [
          { head: 'Job', cell: (j) => esc(j.job) },
          { head: 'Outcome', cell: (j) => `<span class="flag ${j.outcome === 'failed' || j.outcome === 'abandoned' ? 'bad' : j.outcome === 'findings' ? 'warn' : 'ok'}">${esc(j.outcome)}</span>` },
          { head: 'Started', cell: (j) => esc(time(j.startedAtMs, timezone)) },
          { head: 'Took', num: true, cell: (j) => (j.endedAtMs === null ? '–' : `${((j.endedAtMs - j.startedAtMs) / 1000).toFixed(1)} s`) },
          { head: 'Exit', num: true, cell: (j) => (j.exitCode === null ? '–' : String(j.exitCode)) },
          { head: 'Counts / error', cell: (j) => `<span class="small">${esc(j.error ?? j.counts ?? '')}</span>` },
        ], jobs);
  return `<section id="jobs"><h2>The night's job runs</h2>${body}</section>`;
}

const CSS = `
:root { --ok: #1b7f3b; --bad: #b3261e; --warn: #a15c00; --idle: #5f6368; --info: #1a5fb4; --ink: #1d1d1f; --line: #d0d4d9; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: var(--ink); margin: 0; padding: 24px 32px; background: #fff; }
header { border-bottom: 2px solid var(--ink); margin-bottom: 16px; padding-bottom: 12px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.meta, .muted { color: var(--idle); }
.small { font-size: 12px; }
.badges { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 12px; }
.badge { border-radius: 8px; padding: 8px 14px; color: #fff; min-width: 170px; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); } .badge.idle { background: var(--idle); }
.badge-title { display: block; font-size: 12px; text-transform: uppercase; letter-spacing: .05em; opacity: .9; }
.badge-text { display: block; font-size: 17px; font-weight: 600; }
nav a { margin-right: 14px; color: var(--info); }
.pair { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
table { border-collapse: collapse; margin: 6px 0 10px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
tfoot td { font-weight: 700; border-top: 2px solid var(--ink); }
.empty { color: var(--idle); font-style: italic; }
.verdict.ok { color: var(--ok); font-weight: 600; } .verdict.bad { color: var(--bad); font-weight: 600; }
.flag { font-size: 13px; padding: 1px 8px; border-radius: 10px; color: #fff; }
.flag.ok { background: var(--ok); } .flag.bad { background: var(--bad); } .flag.warn { background: var(--warn); }
.total { font-weight: 700; }
svg.chart { max-width: 100%; height: auto; background: #fafbfc; border: 1px solid var(--line); border-radius: 6px; }
svg .label, svg .note, svg .tick { font-size: 12px; fill: var(--ink); }
svg rect.ok, svg circle.ok { fill: var(--ok); } svg rect.bad, svg circle.bad { fill: var(--bad); }
svg rect.wait, svg circle.wait { fill: #c9a227; } svg rect.info, svg circle.info { fill: var(--info); }
svg .line { fill: none; stroke-width: 2; } svg .line.wait { stroke: #c9a227; } svg .line.info { stroke: var(--info); }
svg .dashed { stroke-dasharray: 5 4; }
svg .axis { stroke: var(--idle); } svg .zero { stroke: var(--line); }
svg .buffer { stroke: var(--bad); stroke-width: 1.5; stroke-dasharray: 2 3; } svg .buffer-label { fill: var(--bad); }
@media print {
  body { padding: 0; font-size: 11pt; }
  nav { display: none; }
  section { break-inside: avoid-page; }
  h2 { break-after: avoid; }
  .badge, .flag, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  svg.chart { background: none; }
  @page { margin: 14mm; }
}
`;

export function render(r: DailyReport): string {
  const title = `settle daily report ${r.businessDate}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>Daily report — business day ${esc(r.businessDate)}</h1>
<div class="meta">Generated at <time data-generated-at>${esc(time(r.generatedAtMs, r.timezone))}</time> (${esc(r.timezone)}) by settle report.</div>
${badges(r)}
</header>
<nav><a href="#volumes">Volumes</a><a href="#recon">Discrepancies</a><a href="#settlement">Settlement</a><a href="#trial-balance">Trial balance</a><a href="#positions">Positions</a><a href="#jobs">Job runs</a></nav>
<main>
${volumesSection(r)}
${reconSection(r.recon)}
${settlementSection(r.settlement, r.sharing)}
${trialBalanceSection(r.trialBalance)}
${positionsSection(r.positions)}
${jobsSection(r.jobs, r.timezone)}
</main>
</body>
</html>
`;
}
