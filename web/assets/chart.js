// Charts the pages draw themselves as inline SVG (nothing from a CDN).

import { lang, t } from './i18n.js';

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes and children. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  node.append(...children);
  return node;
}

/** How many distinct colours the series classes (`series-0` … `series-7`) cycle through. */
export const SERIES_COLOURS = 8;

/**
 * A line per series over time: `series` is [{ label, points: [{ at: ISO time, value }] }].
 * The y axis spans the values (labelled with `format`), the x axis the times; each
 * line carries a title, each point a title with its value and time.
 */
export function lineChart(series, { label, format = String, width = 560, height = 200 } = {}) {
  const pad = { left: 64, right: 12, top: 10, bottom: 24 };
  const all = series.flatMap((s) => s.points.map((p) => ({ t: Date.parse(p.at), v: p.value })));
  const times = all.map((p) => p.t);
  const values = all.map((p) => p.v);
  let [t0, t1] = [Math.min(...times), Math.max(...times)];
  let [v0, v1] = [Math.min(...values), Math.max(...values)];
  if (t0 === t1) { t0 -= 3600e3; t1 += 3600e3; }
  if (v0 === v1) { v0 -= 1; v1 += 1; }
  const x = (ms) => pad.left + ((ms - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - (v - v0) / (v1 - v0)) * (height - pad.top - pad.bottom);
  const text = (attrs, content) => svg('text', { class: 'chart-label', ...attrs }, content);
  const day = (ms) => new Date(ms).toLocaleDateString(lang);
  const axes = [
    svg('line', { class: 'chart-axis', x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom }),
    svg('line', { class: 'chart-axis', x1: pad.left, y1: pad.top, x2: pad.left, y2: height - pad.bottom }),
    text({ x: pad.left - 6, y: y(v1) + 4, 'text-anchor': 'end' }, format(v1)),
    text({ x: pad.left - 6, y: y(v0) + 4, 'text-anchor': 'end' }, format(v0)),
    text({ x: pad.left, y: height - 6 }, day(t0)),
    text({ x: width - pad.right, y: height - 6, 'text-anchor': 'end' }, day(t1)),
  ];
  const lines = series.map((s, i) => {
    const points = s.points.map((p) => [x(Date.parse(p.at)), y(p.value), p]);
    const colour = `series-${i % SERIES_COLOURS}`;
    return svg('g', { class: `chart-series ${colour}`, 'data-series': s.label, 'data-points': points.length },
      svg('title', {}, t('chart.series_title', { label: s.label, count: points.length })),
      svg('polyline', { class: 'chart-line', points: points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ') }),
      ...points.map(([px, py, p]) => svg('circle', { class: 'chart-point', cx: px.toFixed(1), cy: py.toFixed(1), r: 2.5 },
        svg('title', {}, `${s.label}: ${format(p.value)} · ${new Date(p.at).toLocaleString(lang)}`))));
  });
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label || t('chart.label'), class: 'line-chart' },
    ...axes, ...lines);
}
