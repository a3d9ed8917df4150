// Problems: the list and one problem's page (linked incidents, link / unlink, known error, resolve, timeline).

import { api } from './api.js';
import { badge, h, labels, replace, section, table, time } from './dom.js';
import { onLiveEvent } from './live.js';
import { failure, runButton, throttle } from './ui.js';

export function problemList(main) {
  const body = h('div', { id: 'problems' });
  const select = h('select', { id: 'problem-filter', 'aria-label': 'status' },
    ['open,known_error', 'open', 'known_error', 'resolved', ''].map((v) => h('option', { value: v }, v || 'all')));
  select.addEventListener('change', () => load());
  replace(main, h('div', { class: 'bar' }, h('h1', null, 'Problems'), select), body);

  async function load() {
    try {
      const page = await api('GET', `/api/v1/problems?limit=200${select.value ? `&status=${select.value}` : ''}`);
      replace(body, table(['status', 'title', 'team', 'incidents', 'rule', 'created', 'updated'], page.items.map((p) =>
        h('tr', { class: 'row', 'data-id': p.id, onclick: () => { window.location.hash = `#/problems/${encodeURIComponent(p.id)}`; } },
          h('td', null, badge(p.status)),
          h('td', { class: 'title' }, h('a', { href: `#/problems/${encodeURIComponent(p.id)}` }, p.title), h('div', { class: 'sub' }, p.id)),
          h('td', null, p.team || '–'),
          h('td', { class: 'num' }, p.incidents.length),
          h('td', null, p.rule),
          h('td', null, time(p.created_at)),
          h('td', null, time(p.updated_at)))), 'No problems.'));
    } catch (err) {
      replace(body, failure(err));
    }
  }

  const reload = throttle(load, 500);
  onLiveEvent((type) => { if (type.startsWith('problem.') || type === 'resync') reload(); });
  load();
}

export function problemPage(main, id) {
  const path = `/api/v1/problems/${encodeURIComponent(id)}`;
  const notice = h('p', { class: 'notice', role: 'status' });

  async function load() {
    let p;
    try {
      p = await api('GET', path);
    } catch (err) {
      replace(main, h('p', null, h('a', { href: '#/problems' }, '← problems')), failure(err));
      return;
    }
    const post = (name, body) => async () => { await api('POST', `${path}/${name}`, body); await load(); };
    const buttons = [];
    if (p.status === 'open') buttons.push(runButton('Known error', post('known-error', {}), notice, { id: 'cmd-known-error' }));
    if (p.status !== 'resolved') buttons.push(runButton('Resolve', post('resolve', {}), notice, { id: 'cmd-resolve' }));
    const incidentInput = h('input', { id: 'link-incident', placeholder: 'INC-…', size: 28, 'aria-label': 'incident id' });
    const linkForm = p.status === 'resolved' ? null : h('div', { class: 'inline' }, incidentInput, ' ',
      runButton('Link incident', async () => { await post('link', { incident: incidentInput.value.trim() })(); }, notice, { id: 'cmd-link' }));
    const linked = new Map(p.linked_incidents.map((i) => [i.id, i]));
    const incidentRows = p.incidents.slice().sort().map((iid) => {
      const i = linked.get(iid);
      return h('tr', { 'data-id': iid },
        h('td', { class: 'title' }, h('a', { href: `#/incidents/${encodeURIComponent(iid)}` }, i ? i.title : iid),
          h('div', { class: 'sub' }, iid)),
        h('td', null, i ? badge(i.status) : '–'),
        h('td', null, i ? badge(i.priority, 'prio') : '–'),
        h('td', null, i ? time(i.created_at) : '–'),
        h('td', null, runButton('Unlink', post('unlink', { incident: iid }), notice, { class: 'link' })));
    });
    const why = h('dl', { class: 'why' }, h('dt', null, 'signature'), h('dd', null, labels(p.signature)),
      Object.entries(p.why || {}).map(([k, v]) => [h('dt', null, k),
        h('dd', null, typeof v === 'object' ? JSON.stringify(v) : String(v))]));
    const timeline = h('ol', { class: 'timeline' }, p.timeline.slice().reverse().map((e) => h('li', null,
      h('span', { class: 'when' }, time(e.at)), ' ', h('strong', null, e.kind), ' ', e.text)));
    replace(main,
      h('p', null, h('a', { href: '#/problems' }, '← problems')),
      h('div', { class: 'head' },
        h('h1', null, p.title),
        h('div', { class: 'meta' }, Object.assign(badge(p.status), { id: 'problem-status' }), ' · ', p.id,
          ' · rule ', p.rule, ' · team ', p.team || '–', ' · created ', time(p.created_at)),
        h('div', { class: 'actions' }, buttons), notice),
      h('div', { class: 'columns' },
        h('div', null,
          section(`Incidents (${p.incidents.length})`, linkForm,
            table(['incident', 'status', 'priority', 'created', ''], incidentRows, 'No incidents linked.')),
          section('Why', why)),
        h('div', null, section('Timeline', timeline))));
  }

  const reload = throttle(load, 500);
  onLiveEvent((type, event) => { if ((event.problem && event.problem.id === id) || type === 'resync') reload(); });
  load();
}
