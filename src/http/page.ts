import { createHash } from 'node:crypto';

/**
 * The rollout page (GET /): one HTML document with its style and script inline — no external
 * asset, so it works offline, and the Content-Security-Policy allows nothing else. It reads
 * /api/v1/status and follows /api/v1/events, refreshing the status on every event, so it is
 * current without a reload. Read-only: it has no form and sends nothing but GETs.
 */

const STYLE = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1b1f23; --muted: #5c6670; --line: #d0d7de; --card: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9aa5b1; --line: #30363d; --card: #161b22; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 12px; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header, section { max-width: 980px; margin: 0 auto 14px; }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 14px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.muted { color: var(--muted); }
.phase { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 13px; font-weight: 600; color: #fff; background: #57606a; }
.wave { border: 1px solid var(--line); border-radius: 8px; padding: 8px; margin-bottom: 8px; }
.wave-head { display: flex; justify-content: space-between; gap: 8px; margin-bottom: 6px; font-weight: 600; }
.hosts { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 6px; }
.host { border-radius: 6px; padding: 6px 8px; background: var(--card); border-left: 6px solid #8c959f; min-width: 0; }
.host .name { font-weight: 600; }
.host .state { font-weight: 600; }
.host .detail { font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
.s-queued { border-color: #8c959f; } .s-preflight, .s-applying, .s-verifying { border-color: #0969da; }
.s-soaking { border-color: #1f9eae; } .s-confirmed { border-color: #1a7f37; }
.s-rollingBack, .s-verifyingRollback { border-color: #bf8700; } .s-rolledBack { border-color: #cf222e; }
.s-failed { border-color: #82071e; } .s-unreachable { border-color: #8250df; } .s-rejected { border-color: #953800; }
.p-completed { background: #1a7f37; } .p-rollingOut { background: #0969da; } .p-paused { background: #bf8700; }
.p-halted, .p-rolledBack, .p-rejected { background: #cf222e; } .p-aborted, .p-superseded, .p-observed { background: #57606a; }
table { width: 100%; border-collapse: collapse; }
td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.msg { overflow-wrap: anywhere; }
#events { list-style: none; padding: 0; margin: 0; max-height: 260px; overflow-y: auto; border: 1px solid var(--line); border-radius: 8px; }
#events li { padding: 3px 8px; border-bottom: 1px solid var(--line); font-size: 13px; overflow-wrap: anywhere; }
#conn { font-size: 12px; text-transform: none; letter-spacing: 0; }
@media (max-width: 520px) { body { padding: 8px; } .hosts { grid-template-columns: 1fr; } th.opt, td.opt { display: none; } }
`;

const SCRIPT = `
'use strict';
const $ = (id) => document.getElementById(id);
const el = (tag, attrs, ...children) => {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) n.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) n.append(c);
  return n;
};
const short = (r) => (r ? r.slice(0, 8) : '');
const firstLine = (m) => (m || '').split('\\n')[0];
const duration = (ms) => {
  if (ms === null || ms === undefined) return '';
  const s = Math.round(ms / 1000);
  return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
};
const PHASES = { rollingOut: 'rolling out', observed: 'not started', rolledBack: 'rolled back' };
const phase = (p) => el('span', { class: 'phase p-' + p, 'data-phase': p }, PHASES[p] || p);
let skew = 0;
let status = null;
function soakLeft(h) {
  if (h.state !== 'soaking' || !h.soakUntil) return null;
  return Math.max(0, Math.ceil((h.soakUntil - (Date.now() + skew)) / 1000));
}
function hostCard(h) {
  const check = (h.failedChecks && h.failedChecks[0]) || (h.checks && (h.checks.find((c) => !c.ok && !c.preexisting) || h.checks[h.checks.length - 1]));
  const left = soakLeft(h);
  return el('div', { class: 'host s-' + h.state, 'data-host': h.name, 'data-state': h.state },
    el('div', { class: 'name' }, h.name),
    el('div', { class: 'state' }, h.state, left !== null ? el('span', { class: 'soak muted', 'data-soak-until': String(h.soakUntil) }, ' · soak ' + left + ' s left') : null),
    check ? el('div', { class: 'detail' }, (check.ok === false || h.failedChecks ? 'FAILED ' : 'ok ') + check.name + ': ' + check.detail) : null,
    h.reason && h.state !== 'confirmed' && !(check && h.reason.includes(check.detail)) ? el('div', { class: 'detail' }, h.reason) : null);
}
function render(s) {
  status = s;
  skew = s.now - Date.now();
  const cur = s.current;
  const head = $('current');
  head.replaceChildren();
  if (!cur) head.append(el('p', { class: 'muted' }, 'No rollout yet.'));
  else {
    head.append(
      el('h1', {}, el('code', {}, short(cur.revision)), ' ', firstLine(cur.message)),
      el('div', {}, el('span', { id: 'phase', class: 'phase p-' + cur.phase, 'data-phase': cur.phase }, PHASES[cur.phase] || cur.phase),
        ' ', el('span', { class: 'muted' }, (cur.author || '') + (cur.attempt ? ' · attempt ' + (cur.attempt + 1) : '') + (cur.durationMs !== null ? ' · ' + duration(cur.durationMs) : ''))));
    if (s.latest && s.latest.revision !== cur.revision) head.append(el('p', { class: 'muted' }, 'Newest commit ' + short(s.latest.revision) + ' "' + firstLine(s.latest.message) + '": ' + s.latest.phase));
  }
  const waves = $('waves');
  waves.replaceChildren();
  for (const w of cur ? cur.waves : []) {
    waves.append(el('div', { class: 'wave', 'data-wave': w.name },
      el('div', { class: 'wave-head' }, el('span', {}, w.name), el('span', { class: 'muted' }, w.state)),
      el('div', { class: 'hosts' }, ...w.hosts.map(hostCard))));
  }
  const failing = $('failing');
  failing.replaceChildren();
  for (const f of cur ? cur.failing : []) failing.append(el('li', {}, el('b', {}, f.host), ' ' + f.state + (f.reason ? ': ' + f.reason : '')));
  $('failing-title').hidden = !(cur && cur.failing.length);
  const rows = $('revisions');
  rows.replaceChildren();
  for (const r of s.revisions) {
    rows.append(el('tr', { 'data-revision': r.revision, 'data-phase': r.phase },
      el('td', {}, el('code', {}, short(r.revision))),
      el('td', { class: 'msg' }, firstLine(r.message)),
      el('td', {}, phase(r.phase)),
      el('td', { class: 'opt' }, duration(r.durationMs))));
  }
}
function tick() {
  for (const n of document.querySelectorAll('[data-soak-until]')) {
    const left = Math.max(0, Math.ceil((Number(n.dataset.soakUntil) - (Date.now() + skew)) / 1000));
    n.textContent = ' · soak ' + left + ' s left';
  }
}
let pending = null;
async function refresh() {
  pending = null;
  try {
    const res = await fetch('api/v1/status', { cache: 'no-store', credentials: 'same-origin' });
    if (res.ok) render(await res.json());
  } catch (e) { $('conn').textContent = 'status request failed: ' + e.message; }
}
function describe(e) {
  const d = e.data;
  switch (e.type) {
    case 'HostTransition': return d.host + ': ' + d.from + ' → ' + d.to + (d.reason ? ' (' + d.reason + ')' : '');
    case 'CommitObserved': return 'new commit ' + short(d.revision) + ' "' + firstLine(d.message) + '"';
    case 'RolloutFinished': return 'rollout of ' + short(d.revision) + ' ' + d.outcome + (d.failedHosts.length ? ' (failed: ' + d.failedHosts.join(', ') + ')' : '');
    case 'CommitRejected': return 'commit ' + short(d.revision) + ' rejected: ' + d.errors.length + ' error(s)';
    case 'DriftDetected': return d.host + ': table changed outside Palisade' + (d.restored ? ', restored' : ', NOT restored');
    case 'RolloutControl': return d.action + ' requested by ' + d.by;
    default: return e.type + ' ' + short(d.revision);
  }
}
function follow(since) {
  const src = new EventSource('api/v1/events?since=' + since);
  src.onopen = () => { $('conn').textContent = 'live'; };
  src.onerror = () => { $('conn').textContent = 'reconnecting…'; };
  const onEvent = (m) => {
    const d = JSON.parse(m.data);
    const list = $('events');
    list.prepend(el('li', { 'data-seq': String(d.seq) }, el('span', { class: 'muted mono' }, '#' + d.seq + ' ' + d.time.slice(11, 19) + ' '), describe({ type: m.type, data: d })));
    while (list.children.length > 100) list.lastChild.remove();
    pending = pending || setTimeout(refresh, 100);
  };
  for (const t of ['CommitObserved', 'ResourcesChanged', 'CommitRejected', 'HistoryRewritten', 'RolloutStarted', 'HostTransition', 'HostResumed', 'RolloutFinished', 'RolloutControl', 'DriftDetected']) src.addEventListener(t, onEvent);
}
(async () => {
  await refresh();
  follow(status ? status.lastSeq : 0);
  setInterval(tick, 1000);
})();
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Palisade rollout</title>
<style>${STYLE}</style>
</head>
<body>
<header id="current"><p class="muted">Loading…</p></header>
<section><h2>Waves</h2><div id="waves"></div>
<h2 id="failing-title" hidden>Failing hosts</h2><ul id="failing"></ul></section>
<section><h2>Recent revisions</h2>
<table><thead><tr><th>Commit</th><th>Message</th><th>Outcome</th><th class="opt">Duration</th></tr></thead><tbody id="revisions"></tbody></table></section>
<section><h2>Events <span id="conn" class="muted">connecting…</span></h2><ul id="events"></ul></section>
<script>${SCRIPT}</script>
</body>
</html>
`;

const PAGE = {
  html: HTML,
  csp: `default-src 'none'; style-src ${hash(STYLE)}; script-src ${hash(SCRIPT)}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
};

export const rolloutPage = (): { html: string; csp: string } => PAGE;
