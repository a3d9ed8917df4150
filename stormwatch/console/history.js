// History: incident search over the history database (GET /api/v1/history/incidents), resolved incidents Redis no
// longer holds included, and one incident's record as the history holds it (GET /api/v1/history/incidents/{id}),
// read-only, with a link to the live incident page while Redis still holds the incident.

import { api } from './api.js';
import { badge, h, labels, replace, section, table, time } from './dom.js';
import { failure } from './ui.js';

const PAGE = 50;
const FIELDS = [ // [query parameter, placeholder, size]
  ['q', 'text in the title or id', 22],
  ['team', 'team', 10],
  ['service', 'service', 12],
  ['since', 'since: 30d, 12h, 2026-12-01T00:00Z', 22],
  ['until', 'until', 14],
];
const KEY = 'stormwatch.history.search';

function remembered() {
  try { return JSON.parse(sessionStorage.getItem(KEY) || '{}'); } catch { return {}; }
}

export function historyList(main) {
  const saved = remembered();
  const inputs = Object.fromEntries(FIELDS.map(([name, placeholder, size]) => [name, h('input', {
    id: `history-${name}`, name, placeholder, size, maxlength: 200, 'aria-label': name, value: saved[name] || '' })]));
  const label = h('input', { id: 'history-label', name: 'label', size: 22, maxlength: 600, value: saved.label || '',
    placeholder: 'labels: k=v k2=v2', 'aria-label': 'labels (k=v, space-separated)' });
  const status = h('select', { id: 'history-status', name: 'status', 'aria-label': 'status' },
    ['', 'open', 'acknowledged', 'resolved'].map((s) => h('option', { value: s, selected: s === (saved.status || '') },
      s || 'any status')));
  const go = h('button', { type: 'submit', class: 'primary', id: 'history-go' }, 'Search');
  const form = h('form', { class: 'bar filters', id: 'history-search' }, inputs.q, label, inputs.team, inputs.service,
    status, inputs.since, inputs.until, go);
  const count = h('span', { class: 'muted', id: 'history-count' });
  const body = h('div', { id: 'history' });
  const more = h('p', { id: 'history-more' });
  replace(main, h('div', { class: 'bar' }, h('h1', null, 'History'), count), form, body, more);

  let loads = 0; // a slower earlier answer must not replace a later one
  let shown = [];

  function query(offset) {
    const q = new URLSearchParams();
    for (const [name] of FIELDS) if (inputs[name].value.trim()) q.set(name, inputs[name].value.trim());
    for (const pair of label.value.trim().split(/\s+/).filter(Boolean)) q.append('label', pair);
    if (status.value) q.set('status', status.value);
    q.set('limit', String(PAGE));
    q.set('offset', String(offset));
    return q;
  }

  async function load(offset) {
    const mine = ++loads;
    const keep = Object.fromEntries(FIELDS.map(([name]) => [name, inputs[name].value]));
    sessionStorage.setItem(KEY, JSON.stringify({ ...keep, label: label.value, status: status.value }));
    try {
      const answer = await api('GET', `/api/v1/history/incidents?${query(offset)}`);
      if (mine !== loads) return;
      shown = offset ? shown.concat(answer.incidents) : answer.incidents;
      replace(count, `${shown.length}${answer.more ? '+' : ''} found`);
      replace(body, table(['priority', 'status', 'title', 'team', 'service', 'alerts', 'created', 'resolved'],
        shown.map(row), 'No incident in the history matches.'));
      replace(more, answer.more ? h('button', { type: 'button', id: 'history-more-button',
        onclick: () => load(shown.length) }, `Show ${PAGE} more`) : null);
    } catch (err) {
      if (mine !== loads) return;
      replace(count);
      replace(more);
      replace(body, failure(err));
      const field = err.field && (err.field === 'label' ? label : err.field === 'status' ? status : inputs[err.field]);
      if (field) field.focus();
    }
  }

  function row(i) {
    const href = `#/history/${encodeURIComponent(i.id)}`;
    return h('tr', { class: `row p-${i.priority}`, 'data-id': i.id, 'data-status': i.status,
      onclick: () => { window.location.hash = href; } },
    h('td', null, i.priority ? badge(i.priority, 'prio') : '–'),
    h('td', null, badge(i.status)),
    h('td', { class: 'title' }, h('a', { href }, i.title), h('div', { class: 'sub' }, i.id, ' · ', i.severity || '–')),
    h('td', null, i.team || '–'),
    h('td', null, i.service || '–'),
    h('td', { class: 'num' }, i.alerts),
    h('td', null, time(i.created_at)),
    h('td', null, time(i.resolved_at)));
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); load(0); });
  load(0);
}

// One incident's record in the history. The live page (GET /api/v1/incidents/{id}) has the commands and live
// updates; once Redis no longer holds the incident, this record is what remains.
export async function historyPage(main, id) {
  const back = h('p', null, h('a', { href: '#/history' }, '← history'));
  let doc;
  try {
    doc = await api('GET', `/api/v1/history/incidents/${encodeURIComponent(id)}`);
  } catch (err) {
    replace(main, back, failure(err));
    return;
  }
  let live = false;
  try {
    await api('GET', `/api/v1/incidents/${encodeURIComponent(id)}`);
    live = true;
  } catch (err) {
    if (err.status !== 404) live = null; // unknown: the live API refused or failed
  }
  const where = live
    ? h('p', { id: 'history-live', 'data-live': 'yes' }, 'Redis still holds this incident: ',
      h('a', { href: `#/incidents/${encodeURIComponent(id)}` }, 'open the live incident page'),
      ' for its commands and live updates.')
    : h('p', { class: 'muted', id: 'history-live', 'data-live': live === false ? 'no' : 'unknown' },
      live === false ? 'Redis no longer holds this incident: this is the history\'s record (read-only).'
        : 'The history\'s record (read-only).');
  const facts = [['status', badge(doc.status)], ['priority', doc.priority || '–'], ['severity', doc.severity || '–'],
    ['team', doc.team || '–'], ['service', doc.service || '–'], ['rule', doc.rule || '(default grouping)'],
    ['group', labels(doc.group_labels)], ['created', time(doc.created_at)],
    ['first acknowledged', time(doc.first_acknowledged_at)], ['acknowledged by', doc.acknowledged_by || '–'],
    ['first resolved', time(doc.first_resolved_at)], ['resolved', time(doc.resolved_at)],
    ['resolved by', doc.resolved_by || '–'], ['assignee', doc.assignee || '–'],
    ['alerts / notifications', `${doc.alerts} / ${doc.occurrences}`],
    ['problems', (doc.problems || []).length ? (doc.problems || []).map((p, n) => [n ? ', ' : '',
      h('a', { href: `#/problems/${encodeURIComponent(p)}` }, p)]) : '–']];
  replace(main, back,
    h('div', { class: 'head' }, h('h1', { id: 'history-title' }, doc.title),
      h('div', { class: 'meta' }, Object.assign(badge(doc.status), { id: 'history-status-badge' }), ' · ', doc.id),
      where),
    h('div', { class: 'columns' },
      h('div', null,
        section(`Alerts (${(doc.members || []).length})`, table(['status', 'alert', 'labels', 'first seen',
          'last seen', 'count'], (doc.members || []).map((a) => h('tr', { 'data-fingerprint': a.fingerprint },
          h('td', null, badge(a.status), a.flapping ? h('div', { class: 'sub' }, `flapped ${a.flapping}×`) : null),
          h('td', null, (a.labels || {}).alertname || a.fingerprint),
          h('td', null, labels(a.labels)), h('td', null, time(a.first_seen)), h('td', null, time(a.last_seen)),
          h('td', { class: 'num' }, a.notifications))), 'No alerts recorded.')),
        section(`Symptoms (${(doc.symptom_alerts || []).length})`, table(['alert', 'since'],
          (doc.symptom_alerts || []).map((s) => h('tr', null, h('td', null, labels(s.labels)), h('td', null, time(s.at)))),
          'No symptoms recorded.')),
        section(`Actions (${(doc.runs || []).length})`, table(['action', 'state', 'created', 'finished'],
          (doc.runs || []).map((r) => h('tr', { 'data-run': r.run_id }, h('td', null, r.action,
            h('div', { class: 'sub' }, r.run_id)), h('td', null, badge(r.state)), h('td', null, time(r.created_at)),
          h('td', null, time(r.finished_at)))), 'No action runs.'))),
      h('div', null,
        section('Record', h('dl', { class: 'why', id: 'history-facts' },
          facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]))),
        section('Timeline', h('ol', { class: 'timeline', id: 'history-timeline' },
          (doc.timeline || []).slice().reverse().map((e) => h('li', { 'data-type': e.type },
            h('span', { class: 'when' }, time(e.at)), ' ', h('strong', null, e.type), ' ', e.reason || '',
            e.by ? h('span', { class: 'sub' }, ` (${e.by})`) : null)))))));
}
