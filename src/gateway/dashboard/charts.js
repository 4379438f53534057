// Small line charts of values sampled by the page (queue depth, throughput), as SVG with a text summary.

import { s, h, setAttr, setText } from './dom.js';
import { clock } from './format.js';

const WIDTH = 360;
const HEIGHT = 120;
const PAD = { left: 34, right: 8, top: 8, bottom: 18 };

/** `series`: [{ name, className }]; update() takes samples [{ at, values: [number per series] }]. */
export function createLineChart(figure, { label, series, unit }) {
  const svg = s('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'line-chart', role: 'img', 'aria-label': label });
  const frame = s('g', { class: 'chart-frame', 'aria-hidden': 'true' });
  const maxLabel = s('text', { x: PAD.left - 4, y: PAD.top + 8, class: 'chart-label end' });
  const zeroLabel = s('text', { x: PAD.left - 4, y: HEIGHT - PAD.bottom, class: 'chart-label end', text: '0' });
  const fromLabel = s('text', { x: PAD.left, y: HEIGHT - 4, class: 'chart-label' });
  const toLabel = s('text', { x: WIDTH - PAD.right, y: HEIGHT - 4, class: 'chart-label end' });
  frame.append(
    s('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: HEIGHT - PAD.bottom, y2: HEIGHT - PAD.bottom }),
    s('line', { x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: HEIGHT - PAD.bottom }),
    maxLabel,
    zeroLabel,
    fromLabel,
    toLabel,
  );
  const lines = series.map((entry) => s('polyline', { class: `series ${entry.className}`, fill: 'none', points: '' }));
  svg.append(frame, ...lines);
  const summary = h('p', { class: 'chart-summary' });
  const legend = series.length > 1 ? h('ul', { class: 'legend', 'aria-hidden': 'true' }, ...series.map((entry) => h('li', {}, h('span', { class: `swatch line ${entry.className}` }), entry.name))) : undefined;
  figure.append(svg, ...(legend ? [legend] : []), summary);

  return {
    update(samples) {
      if (samples.length === 0) {
        setText(summary, 'No sample yet.');
        return;
      }
      const first = samples[0].at;
      const last = samples.at(-1).at;
      const span = Math.max(1, last - first);
      const max = Math.max(1, ...samples.flatMap((sample) => sample.values));
      const x = (at) => PAD.left + ((at - first) / span) * (WIDTH - PAD.left - PAD.right);
      const y = (value) => HEIGHT - PAD.bottom - (value / max) * (HEIGHT - PAD.top - PAD.bottom);
      lines.forEach((line, index) => {
        setAttr(line, 'points', samples.map((sample) => `${x(sample.at).toFixed(1)},${y(sample.values[index]).toFixed(1)}`).join(' '));
      });
      setText(maxLabel, Number.isInteger(max) ? max : max.toFixed(1));
      setText(fromLabel, clock(first));
      setText(toLabel, clock(last));
      const now = samples.at(-1).values;
      const peak = series.map((_entry, index) => Math.max(...samples.map((sample) => sample.values[index])));
      const text = series.map((entry, index) => `${entry.name}: ${format(now[index])} ${unit} now, at most ${format(peak[index])}`).join('; ');
      setText(summary, `${text} (since ${clock(first)}).`);
      setAttr(svg, 'aria-label', `${label}. ${text}.`);
    },
  };
}

const format = (value) => (Number.isInteger(value) ? String(value) : value.toFixed(1));
