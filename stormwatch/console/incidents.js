// Incidents: the live list and one incident's page (alerts, why, symptoms, actions, timeline, and the commands the
// token's role allows: acknowledge, resolve, reopen, assign, comment, priority, on hold).

import { api } from './api.js';
import { declaredNotice, declareForm } from './declare.js';
import { majorControls } from './major.js';
import { onLiveEvent } from './live.js';
import { badge, h, labels, replace, section, table, time } from './dom.js';
import { session } from './session.js';
import { slaCountdown } from './sla.js';
import { failure, refill, runButton, throttle } from './ui.js';

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
  const notice = h('p', { class: 'notice', role: 'status', id: 'declare-notice' });
  const declare = session.can('respond') ? declareForm(notice) : null;
  replace(main, h('div', { class: 'bar' }, h('h1', null, 'Incidents'), select, count, declare ? declare.open : null),
    declare ? declare.form : null, notice, body, more);
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
      replace(body, table(['priority', 'status', 'title', 'team', 'firing / alerts', 'assignee', 'created', 'updated', 'sla'],
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
    h('td', null, time(i.updated_at)),
    h('td', null, slaCountdown(i.sla)));
  }

  const reload = throttle(load, 500);
  onLiveEvent((type) => { if (type.startsWith('incident.') || type === 'resync') reload(); });
  load();
}

export function incidentPage(main, id) {
  const path = `/api/v1/incidents/${encodeURIComponent(id)}`;
  const notice = h('p', { class: 'notice', role: 'status', id: 'incident-notice' });
  const controls = session.can('respond') ? respondControls(path, notice, () => load()) : null;
  const major = session.can('respond') ? majorControls(path, notice, () => load()) : null;
  const declared = declaredNotice();
  if (declared) notice.textContent = declared;

  // The page is laid out once; a (live) reload refills its parts, so the Respond form keeps focus and typing.
  const title = h('h1');
  const meta = h('div', { class: 'meta' });
  const left = h('div');
  const facts = h('div');
  let laidOut = false;

  async function load() {
    let doc;
    try {
      doc = await api('GET', path);
    } catch (err) {
      laidOut = false;
      replace(main, h('p', null, h('a', { href: '#/incidents' }, '← incidents')), failure(err),
        err.status === 404 ? h('p', { id: 'incident-in-history' }, 'Redis no longer holds it: ',
          h('a', { href: `#/history/${encodeURIComponent(id)}` }, 'look it up in the history'), '.') : null);
      return;
    }
    if (!laidOut) {
      laidOut = true;
      replace(main,
        h('p', null, h('a', { href: '#/incidents' }, '← incidents')),
        h('div', { class: 'head' }, title, meta,
          controls ? h('div', { class: 'actions' }, controls.buttons) : readOnly(), notice),
        h('div', { class: 'columns' }, left,
          h('div', null, controls ? section('Respond', controls.form) : null,
            major ? section('Major incident', major.form) : null, facts)));
    }
    if (controls) controls.show(doc);
    if (major) major.show(doc);
    replace(title, Object.assign(badge(doc.priority, 'prio'), { id: 'incident-priority' }), ' ', doc.title);
    replace(meta, status(doc.status), ' · ', doc.id, ' · severity ', doc.severity, ' · team ', doc.team || '–',
      doc.declared ? h('span', { id: 'incident-declared' }, ` · declared for ${doc.service}, reported by ${doc.reporter}`,
        doc.also_reported_by ? `, also by ${doc.also_reported_by.join(', ')}` : '') : '',
      doc.major ? h('span', { id: 'incident-major' }, ` · MAJOR: commander ${doc.commander || '–'}, communications lead `
        + `${doc.communications_lead || '–'}, ${doc.status_updates} update(s)`) : '',
      ' · created ', time(doc.created_at), ' · SLA ', Object.assign(slaCountdown(doc.sla), { id: 'incident-sla' }), doc.acknowledged_by ? ` · acknowledged by ${doc.acknowledged_by}` : '',
      h('span', { id: 'incident-assignee', 'data-assignee': doc.assignee || '' },
        doc.assignee ? ` · assigned to ${doc.assignee}` : ''),
      doc.service ? h('span', { id: 'incident-service', title: doc.binding },
        ' · service ', h('a', { href: `#/services/${encodeURIComponent(doc.service)}` }, doc.service),
        (doc.business_services || []).length ? ` · affects ${doc.business_services.join(', ')}` : '') : '');
    replace(left,
      section(`Probable causes (${(doc.changes || []).length})`, h('div', { id: 'incident-changes' },
        changes(doc.changes || []))),
      section(`Alerts (${doc.firing} firing of ${doc.alerts})`, alerts(doc.members)),
      section(`Symptoms (${doc.symptoms.length})`, symptoms(doc.symptoms)),
      section(`Actions (${doc.actions.length})`, actions(doc.actions, load, notice)));
    replace(facts, section('Why', why(doc)), section('Timeline', timeline(doc.timeline)));
  }

  const reload = throttle(load, 500);
  onLiveEvent((type, event) => {
    const subject = event.incident && event.incident.id;
    if (subject === id || type === 'resync') reload();
  });
  load();
}

// What a read token sees instead of the commands.
function readOnly() {
  return h('p', { class: 'muted', id: 'read-only' },
    `Signed in as ${session.name()} (role ${session.role()}): you can look, not change. A respond token can acknowledge, `
    + 'assign, comment, re-prioritise, resolve and reopen.');
}

// The commands of POST /api/v1/incidents/{id}/<command>, built once per page so that a live reload keeps what a
// person is typing; show(doc) updates them to the incident's current state.
function respondControls(path, notice, reload) {
  const send = async (name, body, done) => {
    await api('POST', `${path}/${name}`, body);
    if (done) done();
    await reload();
  };
  const command = (name, label, kind) => runButton(label, () => send(name, {}), notice, { id: `cmd-${name}`, class: kind });
  const acknowledge = command('acknowledge', 'Acknowledge', 'primary');
  const resolve = command('resolve', 'Resolve');
  const reopen = command('reopen', 'Reopen');

  const assignee = h('input', { id: 'assign-input', size: 24, maxlength: 200, placeholder: 'who takes it (empty: nobody)',
    'aria-label': 'assignee' });
  const assign = runButton('Assign', () => send('assign', { assignee: assignee.value.trim() }), notice, { id: 'cmd-assign' });
  const priority = h('select', { id: 'priority-select', 'aria-label': 'priority' },
    h('option', { value: '', disabled: true }, 'none'), ['P1', 'P2', 'P3', 'P4', 'P5'].map((p) => h('option', { value: p }, p)));
  // a priority picked but not yet set survives live reloads (they refill the form), as typed text does
  let picked = null;
  priority.addEventListener('change', () => { picked = priority.value; });
  const setPriority = runButton('Set priority', () => send('priority', { priority: priority.value }, () => { picked = null; }),
    notice, { id: 'cmd-priority' });
  const holdReason = h('input', { id: 'hold-input', size: 24, maxlength: 2000, placeholder: 'why it waits (empty: off hold)',
    'aria-label': 'on hold reason' });
  const hold = runButton('On hold', () => send('on_hold', { reason: holdReason.value.trim() }), notice, { id: 'cmd-on_hold' });
  const comment = h('textarea', { id: 'comment-text', rows: 3, maxlength: 10000, placeholder: 'what you found, what you did',
    'aria-label': 'comment' });
  const addComment = runButton('Add comment', () => send('comment', { text: comment.value }, () => { comment.value = ''; }),
    notice, { id: 'cmd-comment' });

  const buttons = h('span', { class: 'actions' });
  const form = h('div', { class: 'respond', id: 'respond' },
    h('label', { for: 'assign-input' }, 'Assignee'), assignee, assign,
    h('label', { for: 'priority-select' }, 'Priority'), priority, setPriority,
    h('label', { for: 'hold-input' }, 'On hold'), holdReason, hold,
    h('label', { for: 'comment-text' }, 'Comment'), comment, addComment);

  function show(doc) {
    const next = [];
    if (doc.status === 'open') next.push(acknowledge);
    if (doc.status !== 'resolved') next.push(resolve);
    else next.push(reopen);
    replace(buttons, next);
    refill(assignee, doc.assignee || '');
    if (picked === doc.priority) picked = null;
    if (document.activeElement !== priority && picked === null) priority.value = doc.priority;
    refill(holdReason, doc.on_hold || '');
  }
  return { buttons, form, show };
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
      : s.kind === 'attached' ? `attached by ${s.by || ''}` : `inhibition rule ${s.rule || ''}`),
    h('td', null, time(s.at)))), 'No symptoms attached.');
}

// Changes linked as probable causes, best first: what changed, where, when, and why it is linked.
function changes(list) {
  return table(['change', 'service', 'when', 'why'], list.map((c) => h('tr', { 'data-change': c.id },
    h('td', { class: 'title' }, c.summary, h('div', { class: 'sub' }, `${c.kind} · ${c.id}`),
      (c.links || []).map((l) => h('div', null, h('a', { href: l.href, rel: 'noopener noreferrer', target: '_blank' },
        l.text || l.href)))),
    h('td', null, h('a', { href: `#/services/${encodeURIComponent(c.service)}` }, c.service)),
    h('td', null, time(c.at)),
    h('td', null, c.reason))), 'No changes linked.');
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
        r.detail ? h('div', { class: 'sub' }, r.detail) : null,
        r.state === 'retrying' && r.retry_at
          ? h('div', { class: 'sub' }, `attempt ${Number(r.attempt) + 1} at `, time(r.retry_at)) : null),
      h('td', null, r.trigger || '–'),
      h('td', null, time(r.created_at)),
      h('td', null, r.state === 'pending_approval' && session.can('respond')
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
