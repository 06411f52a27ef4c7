// Inline SVG charts drawn by hand for the daily report: horizontal (stacked) bars and a line chart.
// Geometry uses numbers derived from the figures for drawing only; every label is text the caller
// formatted (money from bigint minor units) and is escaped here.

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

export interface BarPart {
  readonly value: number;
  /** A CSS class giving the colour (ok, bad, wait, info). */
  readonly tone: string;
}

export interface Bar {
  readonly label: string;
  readonly parts: readonly BarPart[];
  /** Shown at the end of the bar (a count, an amount). */
  readonly note: string;
}

/** Bars drawn at most; the table beside the chart lists every row. */
export const CHART_BARS_MAX = 30;
const W = 640;
const LABEL_W = 170;
const NOTE_W = 170;
const ROW_H = 26;

export function barChart(name: string, title: string, bars: readonly Bar[], legend: readonly { tone: string; text: string }[] = []): string {
  const shown = bars.slice(0, CHART_BARS_MAX);
  const max = Math.max(1, ...shown.map((b) => b.parts.reduce((s, p) => s + Math.max(0, p.value), 0)));
  const plotW = W - LABEL_W - NOTE_W;
  const legendH = legend.length > 0 ? 22 : 0;
  const h = shown.length * ROW_H + 8 + legendH;
  const rows = shown.map((b, i) => {
    const y = i * ROW_H + 4;
    let x = LABEL_W;
    const rects = b.parts.map((p) => {
      const w = (Math.max(0, p.value) / max) * plotW;
      const r = `<rect class="${esc(p.tone)}" x="${x.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW_H - 8}"></rect>`;
      x += w;
      return r;
    });
    return [
      `<text class="label" x="${LABEL_W - 8}" y="${y + ROW_H / 2 + 4}" text-anchor="end">${esc(b.label.length > 26 ? `${b.label.slice(0, 25)}…` : b.label)}</text>`,
      ...rects,
      `<text class="note" x="${(x + 6).toFixed(1)}" y="${y + ROW_H / 2 + 4}">${esc(b.note)}</text>`,
    ].join('');
  });
  const legendY = shown.length * ROW_H + 8 + 12;
  const keys = legend.map((l, i) => `<rect class="${esc(l.tone)}" x="${LABEL_W + i * 120}" y="${legendY - 9}" width="10" height="10"></rect><text class="note" x="${LABEL_W + i * 120 + 14}" y="${legendY}">${esc(l.text)}</text>`);
  return `<svg class="chart" data-chart="${esc(name)}" role="img" aria-label="${esc(title)}" viewBox="0 0 ${W} ${h}" width="${W}" height="${h}"><title>${esc(title)}</title>${rows.join('')}${keys.join('')}</svg>`;
}

export interface Series {
  readonly name: string;
  readonly tone: string;
  readonly values: readonly number[];
  readonly dashed?: boolean;
}

/** A line chart over `xLabels` (dates), with a horizontal threshold line (the buffer). */
export function lineChart(name: string, title: string, xLabels: readonly string[], series: readonly Series[], threshold: { value: number; text: string } | null): string {
  const w = W;
  const h = 220;
  const left = 110;
  const right = 20;
  const top = 14;
  const bottom = 46;
  const all = [...series.flatMap((s) => s.values), ...(threshold === null ? [] : [threshold.value])];
  let lo = Math.min(0, ...all);
  let hi = Math.max(...all, 1);
  if (hi === lo) hi = lo + 1;
  const pad = (hi - lo) * 0.08;
  hi += pad;
  lo = lo < 0 ? lo - pad : lo;
  const n = Math.max(1, xLabels.length - 1);
  const x = (i: number): number => left + (i / n) * (w - left - right);
  const y = (v: number): number => top + (1 - (v - lo) / (hi - lo)) * (h - top - bottom);
  const parts: string[] = [];
  parts.push(`<line class="axis" x1="${left}" y1="${y(lo).toFixed(1)}" x2="${w - right}" y2="${y(lo).toFixed(1)}"></line>`);
  parts.push(`<line class="axis" x1="${left}" y1="${top}" x2="${left}" y2="${h - bottom}"></line>`);
  if (lo < 0) parts.push(`<line class="zero" x1="${left}" y1="${y(0).toFixed(1)}" x2="${w - right}" y2="${y(0).toFixed(1)}"></line>`);
  xLabels.forEach((d, i) => {
    if (xLabels.length > 12 && i % Math.ceil(xLabels.length / 12) !== 0) return;
    parts.push(`<text class="tick" x="${x(i).toFixed(1)}" y="${h - bottom + 16}" text-anchor="middle">${esc(d.slice(5))}</text>`);
  });
  if (threshold !== null) {
    parts.push(`<line class="buffer" x1="${left}" y1="${y(threshold.value).toFixed(1)}" x2="${w - right}" y2="${y(threshold.value).toFixed(1)}"></line>`);
    parts.push(`<text class="tick buffer-label" x="${left - 6}" y="${(y(threshold.value) + 4).toFixed(1)}" text-anchor="end">${esc(threshold.text)}</text>`);
  }
  for (const s of series) {
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline class="line ${esc(s.tone)}${s.dashed === true ? ' dashed' : ''}" points="${pts}"></polyline>`);
    s.values.forEach((v, i) => parts.push(`<circle class="${esc(s.tone)}" cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5"></circle>`));
  }
  series.forEach((s, i) => {
    const lx = left + i * 150;
    parts.push(`<line class="line ${esc(s.tone)}${s.dashed === true ? ' dashed' : ''}" x1="${lx}" y1="${h - 12}" x2="${lx + 22}" y2="${h - 12}"></line><text class="note" x="${lx + 28}" y="${h - 8}">${esc(s.name)}</text>`);
  });
  return `<svg class="chart" data-chart="${esc(name)}" role="img" aria-label="${esc(title)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}"><title>${esc(title)}</title>${parts.join('')}</svg>`;
}
