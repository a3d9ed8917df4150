// Incidents: the live list and one incident's page (alerts, why, symptoms, actions, timeline, commands).

import { api } from './api.js';
import { onLiveEvent } from './live.js';
import { badge, h, labels, replace, section, table, time } from './dom.js';
import { failure, runButton, throttle } from './ui.js';

const PAGE = 200; // incidents per request (the API's limit is 500)
const STATUS_FILTERS = { active: 'open,acknowledged', open: 'open', acknowledged: 'acknowledged', resolved: 'resolved', all: '' };

export function incidentList(main) {
  let filter = sessionStorage.getItem('stormwatch.filter') || 'active';
  const body = h('div', { id: 'incidents' });
  const select = h('select', { id: 'status-filter', 'aria-label': 'status' },
    Object.keys(STATUS_FILTERS).map((k) => h('option', { value: k, selected: k === filter }, k)));
  select.addEventListener('change', () => { filter = select.value; sessionStorage.setItem('stormwatch.filter', filter); pages = 1; load(); });
  const count = h('span', { class: 'muted', id: 'incident-count' });
  const more = h('p', { id: 'incident-more' });
  replace(main, h('div', { class: 'bar' }, h('h1', null, 'Incidents'), select, count), body, more);
  let pages = 1; // pages of PAGE incidents shown; a live reload reads them all again, newest first

  async function load() {
    const status = STATUS_FILTERS[filter];
    try {
      const items = [];
      let cursor = null;
      for (let n = 0; n < pages; n++) {
        const query = `limit=${PAGE}${status ? `&status=${status}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = await api('GET', `/api/v1/incidents?${query}`);
        items.push(...page.items);
        cursor = page.next_cursor;
        if (!cursor) break;
      }
      replace(count, `${items.length}${cursor ? '+' : ''} shown`);
      replace(body, table(['priority', 'status', 'title', 'team', 'firing / alerts', 'assignee', 'created', 'updated'],
        items.map(row), 'No incidents. Quiet night.'));
      replace(more, cursor ? h('button', { type: 'button', id: 'incident-more-button',
        onclick: () => { pages += 1; load(); } }, `Show ${PAGE} more`) : null);
    } catch (err) {
      replace(body, failure(err));
    }
  }

  function row(i) {
    return h('tr', { class: `row p-${i.priority}`, 'data-id': i.id, 'data-status': i.status,
      onclick: () => { window.location.hash = `#/incidents/${encodeURIComponent(i.id)}`; } },
    h('td', null, badge(i.priority, 'prio')),
    h('td', null, badge(i.status)),
    h('td', { class: 'title' }, h('a', { href: `#/incidents/${encodeURIComponent(i.id)}` }, i.title),
      h('div', { class: 'sub' }, i.id, ' · ', i.severity)),
    h('td', null, i.team || '–'),
    h('td', { class: 'num' }, `${i.firing} / ${i.alerts}`),
    h('td', null, i.assignee || '–'),
    h('td', null, time(i.created_at)),
    h('td', null, time(i.updated_at)));
  }

  const reload = throttle(load, 500);
  onLiveEvent((type) => { if (type.startsWith('incident.') || type === 'resync') reload(); });
  load();
}

export function incidentPage(main, id) {
  const path = `/api/v1/incidents/${encodeURIComponent(id)}`;
  const notice = h('p', { class: 'notice', role: 'status' });

  async function load() {
    let doc;
    try {
      doc = await api('GET', path);
    } catch (err) {
      replace(main, h('p', null, h('a', { href: '#/incidents' }, '← incidents')), failure(err));
      return;
    }
    const command = (name, label, kind) => runButton(label, async () => {
      await api('POST', `${path}/${name}`, {});
      await load();
    }, notice, { id: `cmd-${name}`, class: kind });
    const buttons = [];
    if (doc.status === 'open') buttons.push(command('acknowledge', 'Acknowledge', 'primary'));
    if (doc.status !== 'resolved') buttons.push(command('resolve', 'Resolve'));
    else buttons.push(command('reopen', 'Reopen'));
    replace(main,
      h('p', null, h('a', { href: '#/incidents' }, '← incidents')),
      h('div', { class: 'head' },
        h('h1', null, badge(doc.priority, 'prio'), ' ', doc.title),
        h('div', { class: 'meta' }, status(doc.status), ' · ', doc.id, ' · severity ', doc.severity, ' · team ', doc.team || '–',
          ' · created ', time(doc.created_at), doc.acknowledged_by ? ` · acknowledged by ${doc.acknowledged_by}` : '',
          doc.assignee ? ` · assigned to ${doc.assignee}` : ''),
        h('div', { class: 'actions' }, buttons), notice),
      h('div', { class: 'columns' },
        h('div', null,
          section(`Alerts (${doc.firing} firing of ${doc.alerts})`, alerts(doc.members)),
          section(`Symptoms (${doc.symptoms.length})`, symptoms(doc.symptoms)),
          section(`Actions (${doc.actions.length})`, actions(doc.actions, load, notice))),
        h('div', null,
          section('Why', why(doc)),
          section('Timeline', timeline(doc.timeline)))));
  }

  const reload = throttle(load, 500);
  onLiveEvent((type, event) => {
    const subject = event.incident && event.incident.id;
    if (subject === id || type === 'resync') reload();
  });
  load();
}

function status(value) {
  const el = badge(value);
  el.id = 'incident-status';
  el.dataset.status = value;
  return el;
}

function alerts(members) {
  return table(['status', 'alert', 'labels', 'since', 'count'], members.map((a) => h('tr', { 'data-fingerprint': a.fingerprint },
    h('td', null, badge(a.status), a.expired ? h('div', { class: 'sub' }, 'expired: not sent again') : null),
    h('td', null, a.labels.alertname || a.fingerprint,
      a.annotations && a.annotations.summary ? h('div', { class: 'sub' }, a.annotations.summary) : null),
    h('td', null, labels(a.labels)),
    h('td', null, time(a.starts_at)),
    h('td', { class: 'num' }, a.count))), 'No alerts.');
}

function symptoms(list) {
  return table(['alert', 'explained by', 'since'], list.map((s) => h('tr', null,
    h('td', null, labels(s.labels)),
    h('td', null, s.kind === 'topology'
      ? h('span', { class: 'path' }, 'topology: ', (s.path || []).join(' → '))
      : `inhibition rule ${s.rule || ''}`),
    h('td', null, time(s.at)))), 'No symptoms attached.');
}

function actions(runs, reload, notice) {
  return table(['action', 'state', 'trigger', 'created', ''], runs.map((r) => {
    const decide = (name, label, kind) => runButton(label, async () => {
      await api('POST', `/api/v1/actions/${encodeURIComponent(r.run_id)}/${name}`);
      await reload();
    }, notice, { class: kind, 'data-run': r.run_id });
    return h('tr', { 'data-run': r.run_id },
      h('td', null, r.action, h('div', { class: 'sub' }, r.type, ' · ', r.run_id)),
      h('td', null, badge(r.state), r.decided_by ? h('div', { class: 'sub' }, `by ${r.decided_by}`) : null,
        r.detail ? h('div', { class: 'sub' }, r.detail) : null),
      h('td', null, r.trigger || '–'),
      h('td', null, time(r.created_at)),
      h('td', null, r.state === 'pending_approval'
        ? [decide('approve', 'Approve', 'primary'), ' ', decide('reject', 'Reject', 'danger')] : null));
  }), 'No action runs.');
}

function why(doc) {
  const w = doc.why || {};
  const rows = [['rule', doc.rule || w.rule || '(default grouping)'], ['group', labels(doc.group_labels)]];
  for (const [key, value] of Object.entries(w)) {
    if (key === 'rule' || key === 'group_labels') continue;
    rows.push([key, Array.isArray(value) ? h('span', { class: 'labels' }, value.map((v) => h('code', { class: 'label' }, typeof v === 'string' ? v : JSON.stringify(v))))
      : value && typeof value === 'object' ? labels(value) : String(value)]);
  }
  return h('dl', { class: 'why' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

function timeline(entries) {
  return h('ol', { class: 'timeline' }, entries.slice().reverse().map((e) => h('li', { class: `k-${String(e.kind).replace(/[^a-z_]/gi, '')}` },
    h('span', { class: 'when' }, time(e.at)), ' ', h('strong', null, e.kind), ' ', e.text,
    e.by ? h('span', { class: 'sub' }, ` (${e.by})`) : null)));
}
