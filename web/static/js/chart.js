// A bar chart in SVG (no library): planned vs held per week, labelled, with a text alternative.
import { el } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, text = '') {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

/** series: [{ key, label, cls }]; points: [{ label, values: {key: number} }]. */
export function barChart({ series, points, title, width = 760, height = 240, id }) {
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'chart', id });
  root.append(svg('title', {}, title));
  const max = Math.max(1, ...points.flatMap((p) => series.map((s) => p.values[s.key] || 0)));
  const left = 36;
  const bottom = height - 28;
  const plot = bottom - 12;
  for (const frac of [0, 0.5, 1]) {
    const y = bottom - frac * plot;
    root.append(svg('line', { x1: left, x2: width, y1: y, y2: y, class: 'grid' }),
      svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' }, String(Math.round(frac * max))));
  }
  const slot = (width - left) / Math.max(points.length, 1);
  const bar = Math.min(28, (slot * 0.7) / series.length);
  points.forEach((p, i) => {
    const x0 = left + i * slot + (slot - bar * series.length) / 2;
    series.forEach((s, j) => {
      const v = p.values[s.key] || 0;
      const h = (v / max) * plot;
      const rect = svg('rect', { x: x0 + j * bar, y: bottom - h, width: bar - 2, height: h, class: `bar ${s.cls}` });
      rect.append(svg('title', {}, `${p.label} ${s.label} ${v}`));
      root.append(rect);
    });
    root.append(svg('text', { x: left + i * slot + slot / 2, y: height - 8, 'text-anchor': 'middle', class: 'axis' }, p.label));
  });
  const legend = el('div', { class: 'legend' }, series.map((s) => el('span', { class: `legend-item ${s.cls}`, text: s.label })));
  return el('figure', { class: 'chartbox' }, root, legend);
}
