import { SAGA_STATUSES, type SagaInstanceSummary } from '../../runtime/ports.ts';
import { compact, duration, html, raw, utc, type Html } from './html.ts';
import { DETAIL_SCRIPT, LIST_SCRIPT } from './scripts.ts';
import type { StuckSaga } from '../../runtime/stuck.ts';
import { renderChart, chartModel } from './statechart.ts';
import { versionOf, type SagaView } from './view.ts';

/** A whole HTML document with the UI's stylesheet and an optional inline script. */
export function layout(title: string, body: Html, script?: string): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Sagas</title>
<style>${raw(PAGE_CSS)}</style>
</head>
<body>
<header class="top"><a class="brand" href="/ui">Saga runtime</a><nav><a href="/ui">Sagas</a><a href="/ui?status=running">Running</a><a href="/sagas">JSON API</a><a href="/ui/dead-letters">Dead letters</a></nav></header>
<main>
${body}
</main>
${script ? html`<script>${raw(script)}</script>` : ''}
</body>
</html>
`;
}

/** An error page (404 unknown saga, 400 bad filter). */
export function errorPage(status: number, title: string, message: string): Html {
  return layout(
    title,
    html`<section class="card error-page" data-status="${status}"><h1>${status} · ${title}</h1><p>${message}</p><p><a href="/ui">Back to the sagas</a></p></section>`,
  );
}

export interface ListFilter {
  status?: string;
  type?: string;
  id?: string;
  customer?: string;
  state?: string;
  /** Created on or after / before these days (`YYYY-MM-DD`, UTC). */
  from?: string;
  to?: string;
  /** The page after this one (`nextCursor`). */
  cursor?: string;
  limit: number;
}

/** `?status=…&type=…` of a filter (without empty fields). */
export function filterQuery(filter: ListFilter): string {
  const params = new URLSearchParams();
  if (filter.status) params.set('status', filter.status);
  if (filter.type) params.set('type', filter.type);
  if (filter.id) params.set('id', filter.id);
  for (const key of ['customer', 'state', 'from', 'to', 'cursor'] as const) if (filter[key]) params.set(key, filter[key]!);
  if (filter.limit !== DEFAULT_LIMIT) params.set('limit', String(filter.limit));
  const text = params.toString();
  return text ? `?${text}` : '';
}

export const DEFAULT_LIMIT = 100;

export function sagaHref(record: Pick<SagaInstanceSummary, 'id' | 'sagaType'>): string {
  return `/ui/sagas/${encodeURIComponent(record.id)}?type=${encodeURIComponent(record.sagaType)}`;
}

/** `GET /ui`: the filter form and the sagas, newest first, refreshed while the page is open. */
export function listPage(records: SagaInstanceSummary[], filter: ListFilter, types: string[], now: number, stuck = 0, nextCursor: string | null = null): Html {
  const option = (value: string, label: string, selected: boolean) => html`<option value="${value}"${selected ? raw(' selected') : ''}>${label}</option>`;
  return layout(
    'Sagas',
    html`<h1>Sagas</h1>
<form class="filters card" method="get" action="/ui">
<label>Status <select name="status">${option('', 'any', !filter.status)}${SAGA_STATUSES.map((s) => option(s, s, filter.status === s))}</select></label>
<label>Type <select name="type">${option('', 'any', !filter.type)}${types.map((t) => option(t, t, filter.type === t))}</select></label>
<label>Id <input name="id" value="${filter.id ?? ''}" placeholder="id_correlacion" size="38"></label>
<label>Customer <input name="customer" value="${filter.customer ?? ''}" placeholder="id_cliente" size="14"></label>
<label>State <input name="state" value="${filter.state ?? ''}" placeholder="pagando" size="14"></label>
<label>Created from <input type="date" name="from" value="${filter.from ?? ''}"></label>
<label>to <input type="date" name="to" value="${filter.to ?? ''}"></label>
<label>Show <select name="limit">${[...new Set([20, 50, DEFAULT_LIMIT, 500, filter.limit])].sort((a, b) => a - b).map((n) => option(String(n), String(n), filter.limit === n))}</select></label>
<button type="submit">Filter</button> <a href="/ui">clear</a>
</form>
${stuck ? html`<p class="card warn" id="stuck"><a href="/ui/stuck">${stuck === 1 ? '1 saga is stuck' : `${stuck} sagas are stuck`}</a>: nothing will move ${stuck === 1 ? 'it' : 'them'} without a person or a process.</p>` : ''}
<p class="muted"><span id="count">${listCount(records)}</span>, newest first · <span id="live" class="live">refreshing every 2 s</span></p>
<table class="sagas">
<thead><tr><th>Saga</th><th>Type</th><th>Status</th><th>State</th><th>Created</th><th>Updated</th></tr></thead>
<tbody id="rows" data-src="${`/ui/list${filterQuery(filter)}`}">${listRows(records, now)}</tbody>
</table>
${filter.cursor ? html`<a href="${`/ui${filterQuery({ ...filter, cursor: undefined })}`}">first page</a> ` : ''}${nextCursor ? html`<a id="next-page" href="${`/ui${filterQuery({ ...filter, cursor: nextCursor })}`}">next page →</a>` : ''}`,
    LIST_SCRIPT,
  );
}

/** `GET /ui/stuck`: the sagas nothing can move, each with why. */
export function stuckPage(stuck: StuckSaga[], now: number): Html {
  return layout(
    'Stuck sagas',
    html`<nav class="crumbs"><a href="/ui">Sagas</a> / stuck</nav><h1>Stuck sagas</h1>
${
  stuck.length
    ? html`<table class="sagas" id="stuck-list"><thead><tr><th>Saga</th><th>Type</th><th>Status</th><th>State</th><th>Updated</th><th>Why</th></tr></thead><tbody>${stuck.map(
        (s) =>
          html`<tr data-id="${s.id}"><td><a href="${sagaHref({ id: s.id, sagaType: s.sagaType })}"><code>${s.id}</code></a></td><td>${s.sagaType} <span class="muted">v${s.version}</span></td><td>${statusBadge(s.status as SagaInstanceSummary['status'])}</td><td><code class="state">${s.state}</code></td><td>${when(s.updatedAt, now)}</td><td><ul>${s.reasons.map((r) => html`<li>${r}</li>`)}</ul></td></tr>`,
      )}</tbody></table>`
    : html`<p class="muted">No stuck sagas.</p>`
}`,
  );
}

export function listCount(records: SagaInstanceSummary[]): string {
  return records.length === 1 ? '1 saga' : `${records.length} sagas`;
}

/** The rows of the list (also served alone, by `GET /ui/list`, for the page's refresh). */
export function listRows(records: SagaInstanceSummary[], now: number): Html {
  if (records.length === 0) return html`<tr class="empty"><td colspan="6">No sagas match.</td></tr>`;
  return html`${records.map(
    (r) => html`
<tr data-id="${r.id}" data-type="${r.sagaType}" data-status="${r.status}"><td><a href="${sagaHref(r)}"><code>${r.id}</code></a></td><td>${r.sagaType} <span class="muted">v${r.version}</span></td><td>${statusBadge(r.status)}</td><td><code class="state">${r.stateValue}</code></td><td>${when(r.createdAt, now)}</td><td>${when(r.updatedAt, now)}</td></tr>`,
  )}`;
}

function statusBadge(status: string): Html {
  return html`<span class="${`badge status-${status}`}">${status}</span>`;
}

function when(ms: number, now: number): Html {
  const ago = now - ms;
  return html`<time datetime="${new Date(ms).toISOString()}" title="${utc(ms)}">${ago < 1000 ? 'just now' : `${duration(ago)} ago`}</time>`;
}

/** `GET /ui/sagas/:id`: the saga, refreshed live from `GET /ui/sagas/:id/stream`. */
export function detailPage(view: SagaView): Html {
  const { record } = view;
  const q = `?type=${encodeURIComponent(record.sagaType)}`;
  const base = `/ui/sagas/${encodeURIComponent(record.id)}`;
  return layout(
    `${record.id} (${record.stateValue})`,
    html`<nav class="crumbs"><a href="/ui">Sagas</a> / <code>${record.id}</code> <span id="live" class="live">${record.status === 'running' ? 'connecting…' : 'final'}</span></nav>
<div id="saga" data-stream="${`${base}/stream${q}`}" data-fragment="${`${base}/fragment${q}`}" data-version="${versionOf(record)}" data-final="${record.status !== 'running'}">${detailBody(view)}</div>`,
    DETAIL_SCRIPT,
  );
}

/** Everything of the detail page that changes while the saga runs (replaced on each update). */
export function detailBody(view: SagaView): Html {
  const { record, definition } = view;
  const chart = definition
    ? renderChart(chartModel(definition.machine), { active: view.active, visited: view.visited, taken: view.taken, status: record.status }, definition.machine.id)
    : null;
  const others = view.parts.filter((p) => p.sagaType !== record.sagaType);
  return html`<header class="saga-head">
<h1>${record.sagaType} <span class="muted">v${record.version}</span></h1>
${statusBadge(record.status)} <span class="muted">in</span> <code class="state big" data-field="state">${record.stateValue}</code>
<span hidden data-field="status">${record.status}</span>
</header>
${view.problem ? html`<p class="card warn">${view.problem}</p>` : ''}
<dl class="facts card">
<div><dt>Id</dt><dd><code>${record.id}</code></dd></div>
<div><dt>Created</dt><dd>${when(record.createdAt, view.now)}</dd></div>
<div><dt>Updated</dt><dd>${when(record.updatedAt, view.now)}</dd></div>
<div><dt>Row version</dt><dd>${record.rowVersion}</dd></div>
<div><dt>Log entries</dt><dd>${record.logSeq}</dd></div>
${others.length ? html`<div><dt>Other parts</dt><dd>${others.map((p) => html`<a href="${sagaHref(p)}">${p.sagaType}</a> ${statusBadge(p.status)} `)}</dd></div>` : ''}
</dl>
<section class="card"><h2>Statechart</h2>
${chart ? html`<div class="chart" id="chart">${chart}</div><p class="legend"><span class="key active"></span>current state <span class="key visited"></span>visited <span class="key taken"></span>transition taken <span class="key final"></span>final state</p>` : html`<p class="muted">No machine for ${record.sagaType} v${record.version} in this process.</p>`}
</section>
<div class="cols">
<section class="card" id="accepts"><h2>Accepts now</h2>${
    view.accepts.length
      ? html`<ul class="events">${view.accepts.map(
          (a) => html`<li data-event="${a.type}"><code>${a.type === '*' ? '* (any event)' : a.type}</code> <span class="muted">→ ${a.targets.join(' | ')}</span></li>`,
        )}</ul>`
      : html`<p class="muted">${record.status === 'running' ? 'No events.' : 'Nothing: the saga is in a final state.'}</p>`
  }</section>
<section class="card" id="deadlines"><h2>Pending deadlines</h2>${
    view.deadlines.length
      ? html`<ul class="deadlines">${view.deadlines.map(
          (d) => html`<li data-timer="${d.timerId}" data-due-at="${d.dueAt}"><code>${d.label}</code>${d.targets.length ? html` <span class="muted">→ ${d.targets.join(' | ')}</span>` : ''}<br>${
            d.afterMessage
              ? html`<span class="muted">starts when its command is published (then ${duration(d.delayMs ?? 0)})</span>`
              : html`due <time datetime="${new Date(d.dueAt).toISOString()}">${utc(d.dueAt)}</time> · <strong class="countdown" data-due="${d.dueAt}">${d.dueAt > view.now ? `in ${duration(d.dueAt - view.now)}` : 'due now'}</strong>`
          }</li>`,
        )}</ul>`
      : html`<p class="muted">None.</p>`
  }</section>
</div>
${view.repairs.length ? repairPanel(view) : ''}
<section class="card"><h2>Context</h2><pre id="context">${JSON.stringify((record.snapshot as { context?: unknown } | null)?.context ?? null, null, 2)}</pre></section>
<section class="card"><h2>Timeline <span class="muted">(saga log, replayed through the machine)</span></h2>
<table class="timeline" id="timeline">
<thead><tr><th>#</th><th>Time</th><th>Kind</th><th>Type</th><th>Message</th><th>Trace</th><th>Context change / details</th></tr></thead>
<tbody>${view.steps.map((step) => timelineRow(step, view.log[0]?.at ?? 0, view.traceUrl))}</tbody>
</table>
</section>`;
}

/**
 * The operator repairs the saga accepts now: pick one, say why, preview it (a dry run), then
 * apply what was previewed. Both need the admin token, which the page asks for once per tab.
 */
function repairPanel(view: SagaView): Html {
  const url = `/sagas/${encodeURIComponent(view.record.id)}/repair`;
  return html`<section class="card" id="repair" data-url="${url}"><h2>Repair</h2>
<p class="muted">The saga needs a person. Preview a repair first; Apply does what the preview showed.</p>
<form id="repair-form">
${view.repairs.map(
  (r, i) => html`<label class="repair-event"><input type="radio" name="event" value="${r.type}"${i === 0 ? html` checked` : ''}> <code>${r.type}</code> <span class="muted">${r.description}</span></label><br>`,
)}
<label>Data (JSON, optional) <input type="text" name="data" placeholder='{"simular_fallo": null}' size="40"></label><br>
<label>Reason <input type="text" name="reason" required maxlength="1000" size="60"></label><br>
<button type="button" data-repair="preview">Preview</button>
<button type="button" data-repair="apply" disabled>Apply</button>
</form>
<pre id="repair-preview" class="muted"></pre>
</section>`;
}

/** A log entry's trace id, linked to the trace UI when `SAGA_TRACE_URL` is set. */
function traceCell(traceId: string | null | undefined, traceUrl: string | null): Html {
  if (!traceId) return html`<span class="muted">—</span>`;
  const id = html`<code class="trace" title="${traceId}">${traceId.slice(0, 8)}</code>`;
  return traceUrl ? html`<a class="trace-link" href="${traceUrl.replaceAll('{traceId}', encodeURIComponent(traceId))}" target="_blank" rel="noopener">${id}</a>` : id;
}

function timelineRow(step: SagaView['steps'][number], t0: number, traceUrl: string | null): Html {
  const e = step.entry;
  const payload = e.payload as Record<string, unknown> | null;
  let details: Html;
  if (e.kind === 'state') {
    details = html`→ <code class="state">${e.type}</code> <span class="muted">(${String(payload?.status ?? '')})</span>`;
  } else if (e.kind === 'command') {
    details = html`<span class="muted">to</span> <code>${String(payload?.topic ?? '')}</code>${payloadDetails(payload?.data)}`;
  } else if (e.type === 'xstate.init') {
    details = html`<span class="muted">context:</span> ${step.changes.map((c) => html`<code class="key">${c.key}</code> `)}${payloadDetails(payload?.input)}`;
  } else {
    const changes = step.changes.length
      ? html`<ul class="changes">${step.changes.map(
          (c) =>
            html`<li data-key="${c.key}"><code class="key">${c.key}</code>: <span class="old">${compact(c.before)}</span> → <span class="new">${compact(c.after)}</span></li>`,
        )}</ul>`
      : html`<span class="muted">${step.snapshot ? 'no context change' : ''}</span>`;
    details = html`${changes}${payloadDetails(payload)}`;
  }
  return html`
<tr class="${`kind-${e.kind}`}" data-seq="${e.seq}"><td class="num">${e.seq}</td><td class="nowrap"><time datetime="${new Date(e.at).toISOString()}" title="${utc(e.at)}">${utc(e.at).slice(11)}</time> <span class="muted">+${e.at - t0} ms</span></td><td><span class="${`pill ${e.kind}`}">${e.kind}</span></td><td><code>${e.type}</code></td><td>${e.messageId ? html`<code class="msg" title="${e.messageId}">${e.messageId.slice(0, 8)}</code>` : html`<span class="muted">—</span>`}</td><td>${traceCell(e.traceId, traceUrl)}</td><td>${details}${step.error ? html`<p class="warn">replay failed: ${step.error}</p>` : ''}</td></tr>`;
}

function payloadDetails(data: unknown): Html | string {
  if (data === undefined || data === null) return '';
  return html`<details><summary>data</summary><pre>${JSON.stringify(data, null, 2)}</pre></details>`;
}

const PAGE_CSS = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#0f172a;background:#f1f5f9}
a{color:#1d4ed8;text-decoration:none}a:hover{text-decoration:underline}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
header.top{display:flex;align-items:center;gap:24px;padding:10px 24px;background:#0f172a;color:#e2e8f0}
header.top a{color:#e2e8f0}.brand{font-weight:700;letter-spacing:.02em}
header.top nav{display:flex;gap:16px;font-size:13px}
main{max-width:1400px;margin:0 auto;padding:18px 24px 40px}
h1{font-size:20px;margin:4px 0 12px}h2{font-size:15px;margin:0 0 10px}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:10px;padding:14px 16px;margin:0 0 14px;box-shadow:0 1px 2px rgba(15,23,42,.04)}
.muted{color:#64748b;font-weight:normal}
.warn{background:#fffbeb;border-color:#fcd34d;color:#92400e}
.filters{display:flex;flex-wrap:wrap;gap:14px;align-items:center}
.filters label{display:flex;gap:6px;align-items:center;color:#334155}
select,input,button{font:inherit;padding:4px 8px;border:1px solid #cbd5e1;border-radius:6px;background:#fff}
button{background:#1d4ed8;color:#fff;border-color:#1d4ed8;cursor:pointer}
table{width:100%;border-collapse:collapse;background:#fff}
table.sagas{border:1px solid #e2e8f0;border-radius:10px;overflow:hidden}
th{text-align:left;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#64748b;background:#f8fafc;padding:7px 10px;border-bottom:1px solid #e2e8f0}
td{padding:6px 10px;border-bottom:1px solid #f1f5f9;vertical-align:top}
tbody tr:hover{background:#f8fafc}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600}
.status-running{background:#dbeafe;color:#1e40af}.status-completed{background:#dcfce7;color:#166534}
.status-compensated{background:#fef3c7;color:#92400e}.status-failed{background:#fee2e2;color:#991b1b}
code.state{background:#eef2ff;color:#3730a3;padding:1px 6px;border-radius:5px}
code.state.big{font-size:15px;padding:3px 10px}
.saga-head{display:flex;align-items:center;gap:10px;flex-wrap:wrap;margin-bottom:10px}.saga-head h1{margin:0}
.crumbs{margin-bottom:8px;color:#475569}
.live{margin-left:10px;font-size:12px;color:#64748b}
.live.on::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;background:#22c55e;margin-right:5px;animation:pulse 1.5s infinite}
.live.off{color:#b45309}
@keyframes pulse{50%{opacity:.3}}
.facts{display:flex;flex-wrap:wrap;gap:8px 28px;margin:0 0 14px}
.facts dt{font-size:11px;text-transform:uppercase;color:#64748b;letter-spacing:.04em}.facts dd{margin:0}
.chart{overflow-x:auto}.chart svg{max-width:100%;height:auto;display:block;margin:0 auto}
.legend{font-size:12px;color:#64748b;margin:8px 0 0}
.legend .key{display:inline-block;width:14px;height:10px;border-radius:3px;margin:0 4px 0 12px;vertical-align:-1px;border:1.5px solid #64748b}
.legend .key.active{background:#dbeafe;border:2.5px solid #2563eb}.legend .key.visited{background:#eff6ff;border-color:#60a5fa}
.legend .key.taken{height:0;border:0;border-top:2.5px solid #2563eb;width:18px;border-radius:0;vertical-align:3px}
.legend .key.final{border-style:double;border-width:3px}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:14px}
@media (max-width:900px){.cols{grid-template-columns:1fr}}
ul.events,ul.deadlines{margin:0;padding-left:18px}ul.events li,ul.deadlines li{margin:3px 0}
.countdown{color:#b45309}
pre{margin:0;white-space:pre-wrap;word-break:break-word;background:#f8fafc;border-radius:6px;padding:8px}
#context{max-height:260px;overflow:auto}
.timeline td{font-size:13px}.timeline .num{color:#64748b;text-align:right}.nowrap{white-space:nowrap}
.pill{display:inline-block;padding:0 7px;border-radius:5px;font-size:11.5px;font-weight:600}
.pill.event{background:#e0e7ff;color:#3730a3}.pill.command{background:#ccfbf1;color:#115e59}
.pill.timer{background:#ffedd5;color:#9a3412}.pill.state{background:#f1f5f9;color:#334155}
tr.kind-state td{background:#fcfcfd}
ul.changes{margin:0;padding:0;list-style:none}
code.key{color:#0f172a;font-weight:600}
.old{color:#b91c1c;font-family:ui-monospace,monospace;font-size:12px;text-decoration:line-through;text-decoration-color:rgba(185,28,28,.35)}
.new{color:#15803d;font-family:ui-monospace,monospace;font-size:12px}
details{display:inline-block;margin-left:8px;font-size:12px}details summary{cursor:pointer;color:#64748b}
details pre{margin-top:4px;max-width:640px}
.error-page h1{color:#991b1b}
`;
