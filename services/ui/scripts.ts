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

/**
 * Admin requests from a page: the token (SAGA_ADMIN_TOKEN) is asked for once and kept for the
 * tab (sessionStorage); a 403 forgets it, so the next action asks again.
 */
const ADMIN_FETCH = `
  function adminPost(url, body) {
    var token = sessionStorage.getItem('sagaAdminToken');
    if (!token) {
      token = window.prompt('Admin token (SAGA_ADMIN_TOKEN; npm start prints one):', '');
      if (!token) return Promise.resolve({ ok: false, d: { error: { message: 'an admin token is needed' } } });
      sessionStorage.setItem('sagaAdminToken', token);
    }
    return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', authorization: 'Bearer ' + token }, body: JSON.stringify(body) })
      .then(function (r) {
        if (r.status === 403) sessionStorage.removeItem('sagaAdminToken');
        return r.json().then(function (d) { return { ok: r.ok, d: d }; });
      });
  }
`;

/** The repair panel of a saga in manual repair: Apply is enabled by a preview of exactly what the form says. */
const REPAIR = `
  (function () {
    var panel = document.getElementById('repair');
    if (!panel) return;
    var form = document.getElementById('repair-form');
    var out = document.getElementById('repair-preview');
    var apply = panel.querySelector('[data-repair="apply"]');
    var previewed = null;
    function request() {
      var checked = form.querySelector('input[name="event"]:checked');
      var body = { event: checked ? checked.value : '', reason: form.elements.reason.value };
      var raw = form.elements.data.value.trim();
      if (raw) { try { body.data = JSON.parse(raw); } catch (e) { out.textContent = 'Data is not JSON: ' + e.message; return null; } }
      return body;
    }
    form.addEventListener('input', function () { previewed = null; apply.disabled = true; });
    panel.addEventListener('click', function (e) {
      var button = e.target.closest && e.target.closest('button[data-repair]');
      if (!button) return;
      var body = request();
      if (!body) return;
      var dry = button.getAttribute('data-repair') === 'preview';
      if (!dry && JSON.stringify(body) !== previewed) { out.textContent = 'Preview this repair first.'; return; }
      button.disabled = true;
      adminPost(panel.getAttribute('data-url') + (dry ? '?dry-run=1' : ''), body).then(function (x) {
        button.disabled = false;
        if (!x.ok) { out.textContent = x.d.error ? x.d.error.message : 'failed'; apply.disabled = true; return; }
        if (!dry) { window.location.reload(); return; }
        previewed = JSON.stringify(body);
        apply.disabled = false;
        out.textContent = 'Would go ' + x.d.from.state + ' (' + x.d.from.status + ') -> ' + x.d.to.state + ' (' + x.d.to.status + ')\\n' +
          'Commands: ' + (x.d.commands.length ? x.d.commands.map(function (c) { return c.type + ' -> ' + c.topic; }).join(', ') : 'none') + '\\n' +
          'Deadlines: ' + (x.d.deadlines.length ? x.d.deadlines.map(function (d) { return d.event + ' in ' + (d.delayMs / 1000) + ' s'; }).join(', ') : 'none');
      }).catch(function () { button.disabled = false; out.textContent = 'the request failed'; });
    });
  })();
`;

/** Detail page: live updates from the server-sent events stream, or polling without EventSource. */
export const DETAIL_SCRIPT = `(function () {
${CLOCK}
${ADMIN_FETCH}
${REPAIR}
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
${ADMIN_FETCH}
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
    adminPost('/ui/dead-letters/' + row.getAttribute('data-id') + '/' + action, body)
      .then(function (x) {
        if (!x.ok) { result.textContent = x.d.error ? x.d.error.message : 'failed'; button.disabled = false; return; }
        window.location.reload();
      })
      .catch(function () { result.textContent = 'the request failed'; button.disabled = false; });
  });
})();`;
