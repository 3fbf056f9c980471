// The mesh on the Vivaldi plane: the coordinates projected on their two principal axes (PCA), each
// node with its site, load and capacity, links coloured by the RTT its ends measured, partitions
// ringed in their colour, migrations drawn as arrows while they run (and a few seconds after).
import { svg, nothing } from './vendor/lit-html/lit-html.js';

const WIDTH = 640;
const HEIGHT = 420;
const MARGIN = 70;

/** The two principal axes of the points (power iteration on their covariance), then the points on them. */
export function project(vectors) {
  const n = vectors.length;
  const d = vectors[0]?.length ?? 0;
  if (n === 0 || d === 0) return vectors.map(() => [0, 0]);
  const mean = Array.from({ length: d }, (_, j) => vectors.reduce((s, v) => s + v[j], 0) / n);
  const centred = vectors.map((v) => v.map((x, j) => x - mean[j]));
  const cov = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => centred.reduce((s, v) => s + v[i] * v[j], 0)));
  const axes = [];
  for (let k = 0; k < 2; k++) {
    let a = Array.from({ length: d }, (_, j) => (j === k ? 1 : 0.5));
    for (let it = 0; it < 64; it++) {
      let next = cov.map((row) => row.reduce((s, c, j) => s + c * a[j], 0));
      for (const b of axes) {
        const dot = next.reduce((s, x, j) => s + x * b[j], 0);
        next = next.map((x, j) => x - dot * b[j]);
      }
      const norm = Math.hypot(...next);
      if (norm < 1e-9) break;
      a = next.map((x) => x / norm);
    }
    axes.push(a);
  }
  return centred.map((v) => axes.map((a) => v.reduce((s, x, j) => s + x * a[j], 0)));
}

/** Screen positions by node name: projected coordinates fitted to the plane, a circle for nodes without one. */
export function layout(nodes) {
  const placed = nodes.filter((n) => n.coordinate?.vec?.length);
  const points = project(placed.map((n) => n.coordinate.vec));
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  // One scale for both axes (distances stay comparable), as large as the plane allows.
  const scale = Math.min((WIDTH - 2 * MARGIN) / Math.max(1e-6, Math.max(...xs) - Math.min(...xs)), (HEIGHT - 2 * MARGIN) / Math.max(1e-6, Math.max(...ys) - Math.min(...ys)));
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2;
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  const at = new Map();
  placed.forEach((n, i) => at.set(n.name, [WIDTH / 2 + (points[i][0] - cx) * scale, HEIGHT / 2 + (points[i][1] - cy) * scale]));
  const rest = nodes.filter((n) => !at.has(n.name));
  rest.forEach((n, i) => {
    const angle = (2 * Math.PI * i) / rest.length;
    at.set(n.name, [WIDTH / 2 + Math.cos(angle) * (HEIGHT / 2 - MARGIN), HEIGHT / 2 + Math.sin(angle) * (HEIGHT / 2 - MARGIN)]);
  });
  return at;
}

/** Near, mid or far: the colour bands of links (console.css). */
export function rttBand(ms) {
  return ms < 50 ? 'near' : ms < 120 ? 'mid' : 'far';
}

/** A stable colour per partition id. */
export function partitionColour(pid) {
  let h = 0;
  for (const c of pid) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360} 70% 45%)`;
}

const percent = (used, of) => (of > 0 ? Math.round((100 * used) / of) : 0);

/** Each pair once: the mean of what its two ends measured. */
function links(nodes) {
  const out = [];
  for (const [i, a] of nodes.entries()) {
    for (const b of nodes.slice(i + 1)) {
      const both = [a.rtts?.[b.name], b.rtts?.[a.name]].filter((x) => typeof x === 'number');
      if (both.length) out.push({ a: a.name, b: b.name, rtt: both.reduce((s, x) => s + x, 0) / both.length });
    }
  }
  return out;
}

function nodeGlyph(n, [x, y], partition) {
  const cpu = n.capacity ? percent(n.load?.cpu ?? 0, n.capacity.cpu) : null;
  const mem = n.capacity ? percent(n.load?.mem ?? 0, n.capacity.mem) : null;
  const r = n.capacity ? Math.max(16, Math.min(34, Math.sqrt(n.capacity.cpu) * 1.4)) : 18;
  const arc = 2 * Math.PI * (r + 5);
  const used = Math.min(1, (cpu ?? 0) / 100);
  return svg`<g class="plane-node" data-testid="plane-node" data-node=${n.name} transform=${`translate(${x.toFixed(1)} ${y.toFixed(1)})`}>
    ${partition ? svg`<circle class="partition" data-testid="partition" data-pid=${partition} r=${r + 12} stroke=${partitionColour(partition)}></circle>` : nothing}
    <circle class="load-track" r=${r + 5}></circle>
    <circle class=${`load ${cpu !== null && cpu > 100 ? 'over' : ''}`} r=${r + 5} stroke-dasharray=${`${(arc * used).toFixed(1)} ${arc.toFixed(1)}`} transform="rotate(-90)"></circle>
    <circle class="body" r=${r}></circle>
    <text class="count" dy="0.35em">${n.computes.length}</text>
    <text class="name" y=${r + 22}>${n.name}${n.site ? ` · ${n.site}` : ''}</text>
    <text class="figures" y=${r + 36}>${cpu === null ? 'no cloud' : `cpu ${cpu}% · mem ${mem}%`}</text>
  </g>`;
}

function arrow(m, at) {
  const from = at.get(m.from);
  const to = at.get(m.to);
  if (!from || !to) return nothing;
  const [x1, y1] = from;
  const [x2, y2] = to;
  // A curve, so that two opposite migrations do not overlap.
  const mx = (x1 + x2) / 2 - (y2 - y1) * 0.2;
  const my = (y1 + y2) / 2 + (x2 - x1) * 0.2;
  return svg`<path class=${`migration ${m.phase}`} data-testid="migration" data-vm=${m.vm} data-phase=${m.phase} d=${`M${x1},${y1} Q${mx},${my} ${x2},${y2}`} marker-end="url(#arrow)"></path>`;
}

/** The plane: `nodes` from the mesh view, `partitions` (pid by node name) and `migrations` from the events. */
export function planeView(nodes, partitions, migrations) {
  const at = layout(nodes);
  return svg`<svg class="plane" data-testid="plane" viewBox=${`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label="The mesh on the Vivaldi plane">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"></path></marker></defs>
    ${links(nodes).map(({ a, b, rtt }) => {
      const [x1, y1] = at.get(a);
      const [x2, y2] = at.get(b);
      return svg`<g data-testid="plane-link" data-link=${`${a}|${b}`}><line class=${`link ${rttBand(rtt)}`} x1=${x1} y1=${y1} x2=${x2} y2=${y2}></line>
        <text class="rtt" x=${(x1 + x2) / 2} y=${(y1 + y2) / 2 - 4}>${Math.round(rtt)} ms</text></g>`;
    })}
    ${migrations.map((m) => arrow(m, at))}
    ${nodes.map((n) => nodeGlyph(n, at.get(n.name), partitions.get(n.name)))}
  </svg>`;
}
