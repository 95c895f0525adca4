// Charts the pages draw themselves as inline SVG (nothing from a CDN).

import { dir, lang, t } from './i18n.js';

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
 * line carries a title, each point a title with its value and time. In a
 * right-to-left language the chart mirrors: time runs from right to left (the
 * earliest on the right) and the value axis stands on the right.
 */
export function lineChart(series, { label, format = String, width = 560, height = 200 } = {}) {
  const rtl = dir === 'rtl';
  // The value labels take the wide side: the left, or the right when mirrored.
  const pad = rtl ? { left: 12, right: 64, top: 10, bottom: 24 } : { left: 64, right: 12, top: 10, bottom: 24 };
  const all = series.flatMap((s) => s.points.map((p) => ({ t: Date.parse(p.at), v: p.value })));
  const times = all.map((p) => p.t);
  const values = all.map((p) => p.v);
  let [t0, t1] = [Math.min(...times), Math.max(...times)];
  let [v0, v1] = [Math.min(...values), Math.max(...values)];
  if (t0 === t1) { t0 -= 3600e3; t1 += 3600e3; }
  if (v0 === v1) { v0 -= 1; v1 += 1; }
  const plot = width - pad.left - pad.right;
  const share = (ms) => (ms - t0) / (t1 - t0); // 0 for the earliest time, 1 for the latest
  const x = (ms) => (rtl ? width - pad.right - share(ms) * plot : pad.left + share(ms) * plot);
  const y = (v) => pad.top + (1 - (v - v0) / (v1 - v0)) * (height - pad.top - pad.bottom);
  // The SVG's `direction` is set below, so text-anchor start/end mean the same in both languages:
  // "start" is the right edge of the text when mirrored.
  const text = (attrs, content) => svg('text', { class: 'chart-label', ...attrs }, content);
  const day = (ms) => new Date(ms).toLocaleDateString(lang);
  const axisX = rtl ? width - pad.right : pad.left; // where the value axis stands
  const axes = [
    svg('line', { class: 'chart-axis', x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom }),
    svg('line', { class: 'chart-axis', x1: axisX, y1: pad.top, x2: axisX, y2: height - pad.bottom }),
    // Value labels sit just outside the axis, ending at it.
    text({ x: rtl ? axisX + 6 : axisX - 6, y: y(v1) + 4, 'text-anchor': 'end' }, format(v1)),
    text({ x: rtl ? axisX + 6 : axisX - 6, y: y(v0) + 4, 'text-anchor': 'end' }, format(v0)),
    // The earliest day at the axis, the latest at the far end.
    text({ x: x(t0), y: height - 6, 'text-anchor': 'start' }, day(t0)),
    text({ x: x(t1), y: height - 6, 'text-anchor': 'end' }, day(t1)),
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
  return svg('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label || t('chart.label'), class: 'line-chart',
    direction: rtl ? 'rtl' : 'ltr', 'data-direction': rtl ? 'rtl' : 'ltr',
  }, ...axes, ...lines);
}
