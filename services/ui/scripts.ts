/**
 * The pages' inline scripts: small, dependency-free, ES5-ish. They only read data-*
 * attributes the server wrote and swap in HTML the server rendered (already escaped).
 */

/** Local times and countdowns, refreshed every 250 ms; shared by both pages. */
const CLOCK = `
function span(ms) {
  var s = Math.max(0, ms) / 1000;
  if (s < 10) return s.toFixed(1) + ' s';
  if (s < 60) return Math.round(s) + ' s';
  var m = Math.floor(s / 60);
  return m < 60 ? m + ' min ' + Math.round(s % 60) + ' s' : Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}
function tick(root) {
  var due = root.querySelectorAll('[data-due]');
  for (var i = 0; i < due.length; i++) {
    var ms = Number(due[i].getAttribute('data-due')) - Date.now();
    due[i].textContent = ms > 0 ? 'in ' + span(ms) : 'due now';
  }
}
`;

/** Detail page: live updates from the server-sent events stream, or polling without EventSource. */
export const DETAIL_SCRIPT = `(function () {
${CLOCK}
  var root = document.getElementById('saga');
  var live = document.getElementById('live');
  function setLive(text, cls) { live.textContent = text; live.className = 'live ' + cls; }
  function update(d) {
    if (d.version === root.getAttribute('data-version')) return;
    root.innerHTML = d.html;
    root.setAttribute('data-version', d.version);
    root.setAttribute('data-final', String(d.final));
    document.title = d.title;
    tick(root);
  }
  setInterval(function () { tick(root); }, 250);
  tick(root);
  if (root.getAttribute('data-final') === 'true') return setLive('final', 'done');
  if (window.EventSource) {
    var es = new EventSource(root.getAttribute('data-stream') + '&since=' + encodeURIComponent(root.getAttribute('data-version')));
    es.onopen = function () { setLive('live', 'on'); };
    es.onerror = function () { setLive('reconnecting…', 'off'); };
    es.addEventListener('update', function (e) { update(JSON.parse(e.data)); });
    es.addEventListener('end', function () { es.close(); setLive('final', 'done'); });
    return;
  }
  (function poll() {
    fetch(root.getAttribute('data-fragment'), { headers: { accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (d) { update(d); setLive(d.final ? 'final' : 'live (polling)', d.final ? 'done' : 'on'); if (!d.final) setTimeout(poll, 1000); })
      .catch(function () { setLive('reconnecting…', 'off'); setTimeout(poll, 2000); });
  })();
})();`;

/** List page: re-fetches its rows every 2 s while the tab is visible. */
export const LIST_SCRIPT = `(function () {
  var rows = document.getElementById('rows');
  var count = document.getElementById('count');
  var live = document.getElementById('live');
  setInterval(function () {
    if (document.hidden) return;
    fetch(rows.getAttribute('data-src'), { headers: { accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (d) { rows.innerHTML = d.html; count.textContent = d.count; live.textContent = 'refreshing every 2 s'; live.className = 'live on'; })
      .catch(function () { live.textContent = 'refresh failed, retrying'; live.className = 'live off'; });
  }, 2000);
})();`;

/** Dead letters page: Replay and Discard post JSON to the same origin, then the page reloads. */
export const DEAD_LETTERS_SCRIPT = `(function () {
  var result = document.getElementById('action-result');
  document.addEventListener('click', function (e) {
    var button = e.target.closest && e.target.closest('button[data-action]');
    if (!button) return;
    var row = button.closest('tr');
    var action = button.getAttribute('data-action');
    var body = {};
    if (action === 'discard') {
      var reason = window.prompt('Why is dead letter ' + row.getAttribute('data-id') + ' discarded?', '');
      if (reason === null) return;
      body.reason = reason;
    }
    button.disabled = true;
    fetch('/ui/dead-letters/' + row.getAttribute('data-id') + '/' + action, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, d: d }; }); })
      .then(function (x) {
        if (!x.ok) { result.textContent = x.d.error ? x.d.error.message : 'failed'; button.disabled = false; return; }
        window.location.reload();
      })
      .catch(function () { result.textContent = 'the request failed'; button.disabled = false; });
  });
})();`;
