/**
 * A tiny HTML builder: `html` tagged templates escape every interpolated value unless it is
 * itself `Html` (built by `html` or marked with `raw`), so the pages cannot inject markup.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe inside elements and quoted attributes (HTML and SVG). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** Markup to insert as is: only for strings that are already safe. */
export function raw(markup: string): Html {
  return new Html(markup);
}

/** Interpolated values: `Html` as is, arrays joined, null/undefined/false as nothing, anything else escaped. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1];
  });
  return new Html(out);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/** A value as short one-line JSON, cut at `max` characters. */
export function compact(value: unknown, max = 80): string {
  if (value === undefined) return '—';
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `2026-05-01 14:03:07.123Z` */
export function utc(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ');
}

/** `1.9 s`, `3 min 20 s`, `2 h 5 min` */
export function duration(ms: number): string {
  const s = Math.abs(ms) / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
