// Silences: the list (expire), and a form to create one with a preview of the firing alerts it would mute.

import { api } from './api.js';
import { badge, h, labels, replace, section, table, time } from './dom.js';
import { onLiveEvent } from './live.js';
import { debounce, failure, runButton, throttle } from './ui.js';

export function silencesPage(main) {
  const list = h('div', { id: 'silences' });
  const notice = h('p', { class: 'notice', role: 'status' });
  const matchers = h('textarea', { id: 'silence-matchers', rows: 3, cols: 50, placeholder: 'service="orders-db"\nalertname=~"High.*"' });
  const duration = h('input', { id: 'silence-duration', value: '2h', size: 6 });
  const comment = h('input', { id: 'silence-comment', size: 50, placeholder: 'why (required)' });
  const preview = h('div', { id: 'silence-preview' });
  const showExpired = h('input', { type: 'checkbox', id: 'show-expired' });
  showExpired.addEventListener('change', () => load());

  const lines = () => matchers.value.split('\n').map((l) => l.trim()).filter(Boolean);

  async function runPreview() {
    if (!lines().length) { replace(preview); return; }
    try {
      const answer = await api('POST', '/api/v1/silences/preview', { matchers: lines() });
      replace(preview, h('p', { class: 'muted', id: 'preview-count' },
        `Would mute ${answer.matched.length} firing alert(s) of ${answer.incidents_scanned} open incident(s)`,
        answer.truncated ? ' (newest incidents only)' : ''),
      table(['incident', 'alert', 'labels'], answer.matched.map((m) => h('tr', null,
        h('td', null, h('a', { href: `#/incidents/${encodeURIComponent(m.incident)}` }, m.incident)),
        h('td', null, m.labels.alertname || m.fingerprint),
        h('td', null, labels(m.labels)))), 'Matches no firing alert right now.'));
    } catch (err) {
      replace(preview, failure(err));
    }
  }
  matchers.addEventListener('input', debounce(runPreview, 300));

  const create = runButton('Create silence', async () => {
    await api('POST', '/api/v1/silences', { matchers: lines(), duration: duration.value.trim(), comment: comment.value.trim() });
    matchers.value = '';
    comment.value = '';
    replace(preview);
    notice.textContent = 'Silence created.';
    await load();
  }, notice, { id: 'silence-create', class: 'primary' });

  replace(main,
    h('div', { class: 'bar' }, h('h1', null, 'Silences'), h('label', null, showExpired, ' show expired')),
    h('div', { class: 'columns' },
      section('Active and pending', list),
      section('New silence',
        h('label', { class: 'field' }, 'Matchers, one per line', matchers),
        h('label', { class: 'field' }, 'Duration', duration),
        h('label', { class: 'field' }, 'Comment', comment),
        h('div', { class: 'actions' }, runButton('Preview', runPreview, notice, { id: 'silence-preview-button' }), ' ', create),
        notice, preview)));

  async function load() {
    try {
      const silences = await api('GET', `/api/v1/silences${showExpired.checked ? '?expired=true' : ''}`);
      replace(list, table(['state', 'matchers', 'ends', 'by', 'comment', ''], silences.map((s) => h('tr', { 'data-id': s.id },
        h('td', null, badge(s.state)),
        h('td', null, h('span', { class: 'labels' }, s.matchers.map((m) => h('code', { class: 'label' }, m)))),
        h('td', null, time(s.ends_at)),
        h('td', null, s.created_by),
        h('td', null, s.comment),
        h('td', null, s.state === 'expired' ? null : runButton('Expire', async () => {
          await api('DELETE', `/api/v1/silences/${encodeURIComponent(s.id)}`);
          await load();
        }, notice, { class: 'danger' })))), 'No silences.'));
    } catch (err) {
      replace(list, failure(err));
    }
  }
  const reload = throttle(load, 500);
  onLiveEvent((type) => { if (type.startsWith('silence.') || type === 'resync') reload(); });  // others' changes
  load();
}
