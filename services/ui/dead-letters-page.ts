import { DEAD_LETTER_STATUSES, type DeadLetter } from '../../runtime/ports.ts';
import { html, raw, utc, type Html } from './html.ts';
import { layout } from './pages.ts';
import { DEAD_LETTERS_SCRIPT } from './scripts.ts';

/**
 * `GET /ui/dead-letters`: what was refused for good, newest first, with why, where it came
 * from and its payload; open ones can be replayed (after a fix) or discarded from here.
 */
export function deadLettersPage(letters: DeadLetter[], status: string | undefined): Html {
  const option = (value: string, label: string) => html`<option value="${value}"${status === value || (!status && !value) ? raw(' selected') : ''}>${label}</option>`;
  return layout(
    'Dead letters',
    html`<h1>Dead letters</h1>
<form class="filters card" method="get" action="/ui/dead-letters">
<label>Status <select name="status">${option('', 'any')}${DEAD_LETTER_STATUSES.map((s) => option(s, s))}</select></label>
<button type="submit">Filter</button>
</form>
<p class="muted">${letters.length === 1 ? '1 dead letter' : `${letters.length} dead letters`}, newest first. Replay puts a message back on its topic (consumers that handled it already skip it by its id), an outbox row back in the outbox, a deadline due again. <span id="action-result" role="status"></span></p>
<table class="sagas dead-letters">
<thead><tr><th>#</th><th>At</th><th>Status</th><th>From</th><th>Why</th><th>Message</th><th></th></tr></thead>
<tbody>${letters.length === 0 ? html`<tr class="empty"><td colspan="7">No dead letters.</td></tr>` : letters.map(row)}</tbody>
</table>`,
    DEAD_LETTERS_SCRIPT,
  );
}

function row(letter: DeadLetter): Html {
  const open = (letter.status ?? 'open') === 'open';
  const saga = letter.sagaId ? html`<a href="${`/ui?id=${encodeURIComponent(letter.sagaId)}`}"><code>${letter.sagaId}</code></a>` : html`<span class="muted">—</span>`;
  return html`
<tr data-id="${letter.id}" data-status="${letter.status ?? 'open'}">
<td class="num">${letter.id}</td>
<td class="nowrap">${utc(letter.at)}</td>
<td><span class="${`badge status-${open ? 'failed' : 'completed'}`}">${letter.status ?? 'open'}</span>${letter.resolution ? html`<div class="muted">${letter.resolution}</div>` : ''}</td>
<td>${letter.source ?? 'message'} <span class="muted">by</span> <code>${letter.consumer ?? '?'}</code>${letter.topic ? html`<div class="muted">topic <code>${letter.topic}</code></div>` : ''}</td>
<td><code>${letter.code}</code> ${letter.reason}</td>
<td>${letter.type ? html`<code>${letter.type}</code> ` : ''}${saga}<details><summary>payload</summary><pre>${pretty(letter.payload)}</pre></details></td>
<td class="nowrap">${open ? html`<button type="button" data-action="replay">Replay</button> <button type="button" data-action="discard" class="secondary">Discard</button>` : ''}</td>
</tr>`;
}

function pretty(payload: string): string {
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload;
  }
}
