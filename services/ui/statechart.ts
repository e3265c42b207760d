import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { html, raw, type Html } from './html.ts';
import { guardName } from '../../runtime/stately-definition.ts';

/** A top-level state of a machine as the chart draws it. */
export interface ChartNode {
  key: string;
  final: boolean;
  /** Tags of a final state, or the child states of a compound one. */
  sub: string;
}

/** Every transition between two top-level states, merged into one arrow with one label line each. */
export interface ChartEdge {
  from: string;
  to: string;
  labels: string[];
}

export interface ChartModel {
  initial: string | null;
  nodes: ChartNode[];
  edges: ChartEdge[];
  /** Transitions of the machine's root (valid in every state), e.g. `* (internal)`. */
  global: string[];
}

/** What to highlight: the current top-level state(s), those visited before, and the transitions taken. */
export interface ChartHighlight {
  active?: readonly string[];
  visited?: readonly string[];
  /** `[from, to]` pairs of top-level states. */
  taken?: readonly (readonly [string, string])[];
  /** The saga's status, which colours the active state. */
  status?: string;
}

/**
 * The states and transitions of a machine, flattened to its top-level states (the states
 * of a compound state are listed in its box; their transitions start from it). Targetless
 * transitions are left out; those of the root are listed in `global`.
 */
export function chartModel(machine: AnyStateMachine): ChartModel {
  const root = machine.root;
  const topOf = (node: AnyStateNode): AnyStateNode | null => {
    let n: AnyStateNode | undefined = node;
    while (n && n.parent && n.parent !== root) n = n.parent;
    return n && n.parent === root ? n : null;
  };
  const nodes: ChartNode[] = Object.values(root.states).map((n) => ({
    key: n.key,
    final: n.type === 'final',
    sub: n.type === 'final' ? [...n.tags].join(' ') : Object.keys(n.states).join(', '),
  }));
  const edges: ChartEdge[] = [];
  const edgeOf = (from: string, to: string) => {
    let edge = edges.find((e) => e.from === from && e.to === to);
    if (!edge) edges.push((edge = { from, to, labels: [] }));
    return edge;
  };
  for (const top of Object.values(root.states)) {
    for (const { label, targets } of transitionsOf(top, true)) {
      for (const target of targets) {
        const to = topOf(target);
        if (!to) continue;
        const edge = edgeOf(top.key, to.key);
        if (!edge.labels.includes(label)) edge.labels.push(label);
      }
    }
  }
  const global = transitionsOf(root, false).map(({ label, targets }) =>
    targets.length === 0 ? `${label} (internal)` : `${label} → ${targets.map((t) => topOf(t)?.key ?? t.key).join(', ')}`,
  );
  const initialTarget = root.initial?.target?.[0];
  return { initial: initialTarget ? (topOf(initialTarget)?.key ?? null) : null, nodes, edges, global };
}

/** The transitions of a state node (and, with `deep`, of its descendants), labelled `Event [guard]`, `after delay`, `always`. */
function transitionsOf(node: AnyStateNode, deep: boolean): { label: string; targets: readonly AnyStateNode[] }[] {
  const found: { label: string; targets: readonly AnyStateNode[] }[] = [];
  const visit = (n: AnyStateNode) => {
    for (const [eventType, defs] of Object.entries(n.on)) {
      if (eventType.startsWith('xstate.after.')) continue; // listed from `n.after`, with the delay's name
      for (const def of defs) found.push({ label: eventType + guardLabel(def.guard), targets: def.target ?? [] });
    }
    for (const def of n.after) found.push({ label: `after ${typeof def.delay === 'number' ? `${def.delay} ms` : def.delay}${guardLabel(def.guard)}`, targets: def.target ?? [] });
    for (const def of n.always ?? []) found.push({ label: `always${guardLabel(def.guard)}`, targets: def.target ?? [] });
    if (deep) Object.values(n.states).forEach(visit);
  };
  visit(node);
  return found;
}

function guardLabel(guard: unknown): string {
  const name = guardName(guard);
  return name === null ? '' : ` [${name}]`;
}

/** The top-level states of a snapshot's value (`'pagando'`, `{ a: 'b' }`, or JSON-encoded). */
export function topLevelStates(value: unknown): string[] {
  if (typeof value === 'string') {
    if (value.startsWith('{')) {
      try {
        return topLevelStates(JSON.parse(value));
      } catch {
        return [value];
      }
    }
    return value ? [value] : [];
  }
  if (value && typeof value === 'object') return Object.keys(value);
  return [];
}

// ---- Layout ------------------------------------------------------------------------------

interface Box {
  key: string;
  col: number;
  row: number;
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}
type Side = 'left' | 'right' | 'top' | 'bottom';
interface Point {
  x: number;
  y: number;
}

const BOX_H = 48;
const NAME_CHAR = 7.7;
const LABEL_CHAR = 6.3;
const LABEL_LINE = 13;
const MAX_LABEL_LINES = 4;

/** Lines of an edge label, at most MAX_LABEL_LINES (the last saying how many are not shown). */
function labelLines(labels: readonly string[]): string[] {
  // Transitions that share a guard: the guard once, on a line of its own.
  const guard = labels.length > 1 ? / \[[^\]]+\]$/.exec(labels[0])?.[0] : undefined;
  const shared = guard !== undefined && labels.every((l) => l.endsWith(guard));
  const lines = shared ? labels.map((l) => l.slice(0, -guard.length)) : [...labels];
  const cut = lines.length <= MAX_LABEL_LINES ? lines : [...lines.slice(0, MAX_LABEL_LINES - 1), `+${lines.length - MAX_LABEL_LINES + 1} more`];
  return shared ? [...cut, guard.trim()] : cut;
}
function labelSize(lines: readonly string[]): { w: number; h: number } {
  return { w: Math.max(...lines.map((l) => l.length)) * LABEL_CHAR + 10, h: lines.length * LABEL_LINE + 6 };
}

/**
 * The statechart of a machine as a self-contained SVG: top-level states as rounded boxes
 * (final states double-bordered), transitions as labelled arrows, in a deterministic
 * layered layout (columns by breadth-first distance from the initial state). The active
 * state is highlighted, visited states and taken transitions are marked.
 *
 * @example
 * const svg = statechartSvg(reservaMachine, { active: ['pagando'], visited: ['creandoReserva'] });
 */
export function statechartSvg(machine: AnyStateMachine, highlight: ChartHighlight = {}): Html {
  return renderChart(chartModel(machine), highlight, machine.id);
}

export function renderChart(model: ChartModel, highlight: ChartHighlight = {}, title = 'statechart'): Html {
  const keys = model.nodes.map((n) => n.key);
  const nodeOf = new Map(model.nodes.map((n) => [n.key, n]));
  // Breadth-first distance from the initial state: the columns.
  const depth = new Map<string, number>();
  const discovery: string[] = [];
  const start = model.initial ?? keys[0];
  if (start !== undefined) {
    depth.set(start, 0);
    discovery.push(start);
    for (let i = 0; i < discovery.length; i++) {
      const from = discovery[i];
      for (const edge of model.edges) {
        if (edge.from !== from || depth.has(edge.to)) continue;
        depth.set(edge.to, depth.get(from)! + 1);
        discovery.push(edge.to);
      }
    }
  }
  const reachedDepth = Math.max(-1, ...depth.values());
  for (const key of keys) {
    if (!depth.has(key)) {
      depth.set(key, reachedDepth + 1);
      discovery.push(key);
    }
  }
  const columns: string[][] = [];
  for (const key of discovery) (columns[depth.get(key)!] ??= []).push(key);
  const maxRows = Math.max(1, ...columns.map((c) => c.length));
  // Rows: each column ordered by the mean row of the states leading into it (fewer crossings).
  const rowOf = new Map<string, number>();
  const centred = (col: string[], i: number) => (maxRows - col.length) / 2 + i;
  columns.forEach((col, c) => {
    const bary = (key: string) => {
      const from = model.edges.filter((e) => e.to === key && e.from !== key && depth.get(e.from)! < c).map((e) => rowOf.get(e.from)!);
      return from.length ? from.reduce((a, b) => a + b, 0) / from.length : Number.POSITIVE_INFINITY;
    };
    if (c > 0) {
      const score = new Map(col.map((k) => [k, bary(k)]));
      col.sort((a, b) => score.get(a)! - score.get(b)! || discovery.indexOf(a) - discovery.indexOf(b));
    }
    col.forEach((key, i) => rowOf.set(key, centred(col, i)));
  });

  const edges = model.edges.map((e, index) => {
    const lines = labelLines(e.labels);
    if (e.from === e.to) lines[0] = `↻ ${lines[0]}`; // a self-transition: the label sits above its loop
    return { ...e, index, lines };
  });
  const colOf = (key: string) => depth.get(key)!;
  // Column widths from the names; gaps wide enough for the labels crossing them.
  const colW = columns.map((col) =>
    Math.max(120, ...col.map((k) => Math.max(k.length * NAME_CHAR + 30, (nodeOf.get(k)!.sub.length || 0) * 6 + 24))),
  );
  const gapW = columns.map((_, c) => {
    const crossing = edges.filter((e) => Math.min(colOf(e.from), colOf(e.to)) === c && Math.abs(colOf(e.from) - colOf(e.to)) === 1);
    const bulging = edges.filter((e) => colOf(e.from) === c && colOf(e.to) === c && e.from !== e.to && Math.abs(rowOf.get(e.from)! - rowOf.get(e.to)!) > 1);
    const loops = edges.filter((e) => colOf(e.from) === c && e.from === e.to);
    const widths = [...crossing, ...bulging, ...loops].map((e) => labelSize(e.lines).w);
    return Math.min(320, Math.max(110, ...widths.map((w) => w + 40)));
  });
  const verticalLabelH = edges
    .filter((e) => colOf(e.from) === colOf(e.to) && e.from !== e.to)
    .map((e) => labelSize(e.lines).h);
  const loopLabelH = edges.filter((e) => e.from === e.to).map((e) => labelSize(e.lines).h + 36);
  const rowGap = Math.max(60, ...verticalLabelH.map((h) => h + 30), ...loopLabelH.map((h) => h + 8));
  const colX: number[] = [];
  columns.forEach((_, c) => colX.push(c === 0 ? 40 : colX[c - 1] + colW[c - 1] + gapW[c - 1]));
  const boxes = new Map<string, Box>();
  for (const key of keys) {
    const col = colOf(key);
    const row = rowOf.get(key)!;
    boxes.set(key, { key, col, row, x: colX[col], y: row * (BOX_H + rowGap), w: colW[col], h: BOX_H });
  }
  const obstacles: Rect[] = [...boxes.values()].map((b) => ({ x: b.x - 4, y: b.y - 4, w: b.w + 8, h: b.h + 8 }));

  // Ends of each arrow: which side of which box, spread along the side when several share it.
  type Route = 'h' | 'v' | 'bulge' | 'laneTop' | 'laneBottom' | 'loop';
  const routes = edges.map((e) => {
    const a = boxes.get(e.from)!;
    const b = boxes.get(e.to)!;
    const dc = b.col - a.col;
    if (e.from === e.to) return { route: 'loop' as Route, sides: ['top', 'right'] as [Side, Side] };
    if (dc === 1) return { route: 'h' as Route, sides: ['right', 'left'] as [Side, Side] };
    if (dc === -1) return { route: 'h' as Route, sides: ['left', 'right'] as [Side, Side] };
    if (dc === 0 && Math.abs(a.row - b.row) <= 1) return { route: 'v' as Route, sides: (a.row < b.row ? ['bottom', 'top'] : ['top', 'bottom']) as [Side, Side] };
    if (dc === 0) return { route: 'bulge' as Route, sides: ['right', 'right'] as [Side, Side] };
    return dc > 0 ? { route: 'laneTop' as Route, sides: ['top', 'top'] as [Side, Side] } : { route: 'laneBottom' as Route, sides: ['bottom', 'bottom'] as [Side, Side] };
  });
  const ports = new Map<string, { edge: number; end: 0 | 1; other: number }[]>();
  routes.forEach((r, i) => {
    if (r.route === 'loop') return;
    const e = edges[i];
    ([0, 1] as const).forEach((end) => {
      const self = boxes.get(end === 0 ? e.from : e.to)!;
      const other = boxes.get(end === 0 ? e.to : e.from)!;
      const side = r.sides[end];
      const key = `${self.key}|${side}`;
      const list = ports.get(key) ?? [];
      list.push({ edge: i, end, other: side === 'left' || side === 'right' ? other.y : other.x });
      ports.set(key, list);
    });
  });
  const ends = edges.map(() => [null, null] as [Point | null, Point | null]);
  for (const [key, list] of ports) {
    const [boxKey, side] = key.split('|') as [string, Side];
    const b = boxes.get(boxKey)!;
    list.sort((p, q) => p.other - q.other || p.edge - q.edge);
    list.forEach((p, i) => {
      const f = 0.2 + (0.6 * (i + 1)) / (list.length + 1);
      const point =
        side === 'left' ? { x: b.x, y: b.y + b.h * f } : side === 'right' ? { x: b.x + b.w, y: b.y + b.h * f } : side === 'top' ? { x: b.x + b.w * f, y: b.y } : { x: b.x + b.w * f, y: b.y + b.h };
      ends[p.edge][p.end] = point;
    });
  }

  const top = Math.min(...[...boxes.values()].map((b) => b.y));
  const bottom = Math.max(...[...boxes.values()].map((b) => b.y + b.h));
  let laneTopY = top - 30 - (loopLabelH.length ? Math.max(...loopLabelH) : 0);
  let laneBottomY = bottom + 30;
  const bulges = new Map<number, number>();
  const placed: Rect[] = [];
  const labels: { rect: Rect; lines: string[]; taken: boolean; title: string }[] = [];
  const overlap = (r: Rect) =>
    [...obstacles, ...placed].reduce((sum, o) => sum + Math.max(0, Math.min(r.x + r.w, o.x + o.w) - Math.max(r.x, o.x)) * Math.max(0, Math.min(r.y + r.h, o.y + o.h) - Math.max(r.y, o.y)), 0);
  const place = (candidates: Point[], size: { w: number; h: number }, anchor: 'centre' | 'left' | 'bottomLeft') => {
    let best: Rect | null = null;
    let bestOverlap = Number.POSITIVE_INFINITY;
    for (const p of candidates) {
      const rect =
        anchor === 'centre'
          ? { x: p.x - size.w / 2, y: p.y - size.h / 2, ...size }
          : anchor === 'left'
            ? { x: p.x, y: p.y - size.h / 2, ...size }
            : { x: p.x, y: p.y - size.h, ...size };
      const o = overlap(rect);
      if (o < bestOverlap) [best, bestOverlap] = [rect, o];
      if (o === 0) break;
    }
    placed.push(best!);
    return best!;
  };
  const cubic = (p0: Point, c1: Point, c2: Point, p3: Point, t: number): Point => {
    const u = 1 - t;
    return {
      x: u * u * u * p0.x + 3 * u * u * t * c1.x + 3 * u * t * t * c2.x + t * t * t * p3.x,
      y: u * u * u * p0.y + 3 * u * u * t * c1.y + 3 * u * t * t * c2.y + t * t * t * p3.y,
    };
  };
  const T = [0.5, 0.4, 0.6, 0.32, 0.68, 0.25, 0.75, 0.2, 0.8];
  const takenSet = new Set((highlight.taken ?? []).map(([f, t]) => `${f}\u0000${t}`));
  const paths: { d: string; taken: boolean; from: string; to: string }[] = [];
  const extents: Point[] = [];
  // Loops first (their labels have one place), then the rest in order.
  const order = edges.map((_, i) => i).sort((a, b) => Number(routes[b].route === 'loop') - Number(routes[a].route === 'loop') || a - b);
  for (const i of order) {
    const e = edges[i];
    const { route } = routes[i];
    const size = labelSize(e.lines);
    const taken = takenSet.has(`${e.from}\u0000${e.to}`);
    let d: string;
    let rect: Rect;
    if (route === 'loop') {
      const b = boxes.get(e.from)!;
      const p0 = { x: b.x + b.w - 26, y: b.y };
      const p3 = { x: b.x + b.w, y: b.y + 14 };
      d = `M${p0.x},${p0.y} C${p0.x},${p0.y - 34} ${p3.x + 34},${p3.y} ${p3.x},${p3.y}`;
      extents.push({ x: p3.x + 30, y: p0.y - 30 });
      rect = place(
        [
          { x: b.x + b.w - 14 - size.w / 2, y: b.y - 30 },
          { x: b.x + b.w - size.w, y: b.y - 30 },
          { x: b.x + b.w - 20, y: b.y - 30 },
          { x: b.x + b.w + 16, y: b.y - 6 },
        ],
        size,
        'bottomLeft',
      );
    } else {
      const [p0, p3] = ends[i] as [Point, Point];
      if (route === 'h') {
        const k = (p3.x - p0.x) / 2;
        const c1 = { x: p0.x + k, y: p0.y };
        const c2 = { x: p3.x - k, y: p3.y };
        d = `M${p0.x},${p0.y} C${c1.x},${c1.y} ${c2.x},${c2.y} ${p3.x},${p3.y}`;
        rect = place(T.map((t) => cubic(p0, c1, c2, p3, t)), size, 'centre');
      } else if (route === 'v') {
        const k = (p3.y - p0.y) / 2;
        const c1 = { x: p0.x, y: p0.y + k };
        const c2 = { x: p3.x, y: p3.y - k };
        d = `M${p0.x},${p0.y} C${c1.x},${c1.y} ${c2.x},${c2.y} ${p3.x},${p3.y}`;
        rect = place(T.map((t) => cubic(p0, c1, c2, p3, t)).flatMap((p) => [{ x: p.x + 8, y: p.y }, { x: p.x - 8 - size.w, y: p.y }]), size, 'left');
      } else if (route === 'bulge') {
        const col = boxes.get(e.from)!.col;
        const n = bulges.get(col) ?? 0;
        bulges.set(col, n + 1);
        const bulge = 60 + 26 * n;
        const c1 = { x: p0.x + bulge, y: p0.y };
        const c2 = { x: p3.x + bulge, y: p3.y };
        d = `M${p0.x},${p0.y} C${c1.x},${c1.y} ${c2.x},${c2.y} ${p3.x},${p3.y}`;
        extents.push({ x: p0.x + bulge, y: p0.y });
        rect = place(T.map((t) => cubic(p0, c1, c2, p3, t)), size, 'centre');
      } else {
        // A transition over more than one column: along a lane above (forward) or below (backward) the chart.
        const lane = route === 'laneTop' ? (laneTopY -= size.h + 14) + size.h : (laneBottomY += size.h + 14) - size.h;
        const dir = route === 'laneTop' ? -1 : 1;
        const r = 8;
        const sx = Math.sign(p3.x - p0.x);
        d = `M${p0.x},${p0.y} V${lane - dir * r} Q${p0.x},${lane} ${p0.x + sx * r},${lane} H${p3.x - sx * r} Q${p3.x},${lane} ${p3.x},${lane - dir * r} V${p3.y}`;
        extents.push({ x: p0.x, y: lane });
        const mid = (p0.x + p3.x) / 2;
        rect = place([0, -0.25, 0.25, -0.4, 0.4].map((f) => ({ x: mid + f * Math.abs(p3.x - p0.x), y: lane })), size, 'centre');
      }
    }
    paths.push({ d, taken, from: e.from, to: e.to });
    labels.push({ rect, lines: e.lines, taken, title: e.labels.join('\n') });
  }

  // The canvas: everything drawn, with a margin.
  const all: Rect[] = [...boxes.values(), ...labels.map((l) => l.rect), ...extents.map((p) => ({ x: p.x, y: p.y, w: 1, h: 1 }))];
  const globalY = Math.max(...all.map((r) => r.y + r.h)) + 22;
  if (model.global.length) all.push({ x: 0, y: globalY - 12, w: 200, h: 16 });
  const minX = Math.min(0, ...all.map((r) => r.x)) - 12;
  const minY = Math.min(...all.map((r) => r.y)) - 12;
  const maxX = Math.max(...all.map((r) => r.x + r.w)) + 12;
  const maxY = Math.max(...all.map((r) => r.y + r.h)) + 12;
  const width = Math.ceil(maxX - minX);
  const height = Math.ceil(maxY - minY);

  const active = new Set(highlight.active ?? []);
  const visited = new Set(highlight.visited ?? []);
  const initialBox = model.initial ? boxes.get(model.initial) : undefined;
  const n = (v: number) => Math.round(v * 10) / 10;
  const round = (d: string) => d.replace(/-?\d+\.\d+/g, (m) => String(n(Number(m))));
  return html`<svg xmlns="http://www.w3.org/2000/svg" class="statechart sc-status-${highlight.status ?? 'none'}" role="img" aria-label="${`statechart of ${title}`}" width="${width}" height="${height}" viewBox="${`${n(minX)} ${n(minY)} ${width} ${height}`}">
<title>${`statechart of ${title}`}</title>
<style>${raw(CHART_CSS)}</style>
<defs>
<marker id="sc-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="sc-head"/></marker>
<marker id="sc-arrow-taken" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="sc-head taken"/></marker>
</defs>
<g class="sc-edges">${paths.map(
    (p) => html`
<path class="${p.taken ? 'sc-edge taken' : 'sc-edge'}" data-from="${p.from}" data-to="${p.to}" d="${round(p.d)}" marker-end="${p.taken ? 'url(#sc-arrow-taken)' : 'url(#sc-arrow)'}"/>`,
  )}
</g>
${initialBox ? html`<g class="sc-initial"><circle cx="${initialBox.x - 26}" cy="${initialBox.y + initialBox.h / 2}" r="5"/><path class="sc-edge" d="${`M${initialBox.x - 21},${initialBox.y + initialBox.h / 2} H${initialBox.x}`}" marker-end="url(#sc-arrow)"/></g>` : ''}
<g class="sc-states">${[...boxes.values()].map((b) => {
    const node = nodeOf.get(b.key)!;
    const cls = ['sc-state', active.has(b.key) && 'active', visited.has(b.key) && 'visited', node.final && 'final'].filter(Boolean).join(' ');
    const cx = b.x + b.w / 2;
    const cy = b.y + b.h / 2;
    return html`
<g class="${cls}" id="${`state-${b.key}`}" data-state="${b.key}"><title>${b.key}${node.final ? ' (final)' : ''}${active.has(b.key) ? ' — current state' : visited.has(b.key) ? ' — visited' : ''}</title>
<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="10"/>${node.final ? html`<rect class="inner" x="${b.x + 4}" y="${b.y + 4}" width="${b.w - 8}" height="${b.h - 8}" rx="7"/>` : ''}
<text class="sc-name" x="${cx}" y="${node.sub ? cy - 3 : cy + 4.5}">${b.key}</text>${node.sub ? html`<text class="sc-sub" x="${cx}" y="${cy + 13}">${node.sub}</text>` : ''}</g>`;
  })}
</g>
<g class="sc-labels">${labels.map(
    (l) => html`
<g class="${l.taken ? 'sc-label taken' : 'sc-label'}"><title>${l.title}</title><rect x="${n(l.rect.x)}" y="${n(l.rect.y)}" width="${n(l.rect.w)}" height="${n(l.rect.h)}" rx="4"/>${l.lines.map(
      (line, i) => html`<text x="${n(l.rect.x + 5)}" y="${n(l.rect.y + 13 + i * LABEL_LINE)}">${line}</text>`,
    )}</g>`,
  )}
</g>
${model.global.length ? html`<text class="sc-global" x="0" y="${globalY}">In every state: ${model.global.join(', ')}</text>` : ''}
</svg>`;
}

const CHART_CSS = `
.statechart{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.sc-edge{fill:none;stroke:#94a3b8;stroke-width:1.4}
.sc-edge.taken{stroke:#2563eb;stroke-width:2.2}
.sc-head{fill:#94a3b8}.sc-head.taken{fill:#2563eb}
.sc-initial circle{fill:#334155}
.sc-state rect{fill:#fff;stroke:#64748b;stroke-width:1.4}
.sc-state rect.inner{fill:none}
.sc-state.visited rect{fill:#eff6ff;stroke:#60a5fa}
.sc-state.active rect{stroke-width:3}
.sc-state.active>rect:first-of-type{filter:drop-shadow(0 0 5px rgba(37,99,235,.45))}
.sc-status-running .sc-state.active rect{fill:#dbeafe;stroke:#2563eb}
.sc-status-completed .sc-state.active rect{fill:#dcfce7;stroke:#16a34a}
.sc-status-compensated .sc-state.active rect{fill:#fef3c7;stroke:#d97706}
.sc-status-failed .sc-state.active rect{fill:#fee2e2;stroke:#dc2626}
.sc-status-none .sc-state.active rect{fill:#dbeafe;stroke:#2563eb}
.sc-state.active rect.inner{stroke-width:1.4}
.sc-name{font-size:13px;font-weight:600;fill:#0f172a;text-anchor:middle}
.sc-sub{font-size:10px;fill:#64748b;text-anchor:middle}
.sc-label rect{fill:#fff;fill-opacity:.92;stroke:#e2e8f0}
.sc-label text{font-size:11px;fill:#475569}
.sc-label.taken rect{stroke:#93c5fd}.sc-label.taken text{fill:#1d4ed8}
.sc-global{font-size:11px;fill:#64748b}
`;
