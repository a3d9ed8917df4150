// Reports: the history's figures for a window with their trend, and the server-drawn charts (SVG shown as images:
// an SVG image can run nothing, and the charts' labels are escaped by the server).

import { api } from './api.js';
import { h, replace, table } from './dom.js';
import { failure } from './ui.js';

const DURATIONS = new Set(['mtta_mean', 'mtta_p50', 'mtta_p90', 'mttr_mean', 'mttr_p50', 'mttr_p90',
  'time_saved_seconds', 'silenced_seconds']);
const SHARES = new Set(['symptom_share', 'reopen_rate', 'action_success_rate', 'sla_respond_met_rate',
  'sla_resolve_met_rate']);

function duration(s) {
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${(s / 60).toFixed(1)}m`;
  if (s < 86400) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86400).toFixed(1)}d`;
}

function show(name, v) {
  if (v === null || v === undefined) return '–';
  if (DURATIONS.has(name)) return duration(v);
  if (SHARES.has(name)) return `${(100 * v).toFixed(1)}%`;
  return Number.isInteger(v) ? v.toLocaleString('en') : v.toFixed(2);
}

function change(name, f) {
  if (f.change === null || f.change === undefined) return '';
  const sign = f.change > 0 ? '+' : f.change < 0 ? '-' : '±';
  const a = Math.abs(f.change);
  if (SHARES.has(name)) return `${sign}${(100 * a).toFixed(1)} pt`;
  if (DURATIONS.has(name)) return sign + duration(a);
  return sign + (Number.isInteger(a) ? a.toLocaleString('en') : a.toFixed(2));
}

function chart(name, svg) {
  return h('img', { class: 'chart', alt: name, 'data-chart': name,
    src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}` });
}

export function reportsPage(main) {
  const since = h('select', { id: 'report-since', 'aria-label': 'window' },
    ['7d', '30d', '90d'].map((v) => h('option', { value: v, selected: v === '30d' }, `last ${v}`)));
  const team = h('input', { id: 'report-team', placeholder: 'team', size: 12, 'aria-label': 'team' });
  const service = h('input', { id: 'report-service', placeholder: 'service', size: 12, 'aria-label': 'service' });
  const go = h('button', { type: 'button', class: 'primary', id: 'report-go' }, 'Show');
  const body = h('div', { id: 'report' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('div', { class: 'bar' }, h('h1', null, 'Reports'), since, team, service, go), body);

  let loads = 0; // a slower earlier answer (a first report computes its roll-ups) must not replace a later one
  async function load() {
    const mine = ++loads;
    const q = new URLSearchParams({ since: since.value });
    if (team.value.trim()) q.set('team', team.value.trim());
    if (service.value.trim()) q.set('service', service.value.trim());
    try {
      const [report, drawn] = await Promise.all([api('GET', `/api/v1/reports/summary?${q}`),
        api('GET', `/api/v1/reports/charts?${q}`)]);
      if (mine !== loads) return;
      const figures = table(['figure', 'this window', 'previous', 'change'],
        Object.entries(report.figures).map(([name, f]) => h('tr', { 'data-figure': name },
          h('td', null, name.replaceAll('_', ' ')), h('td', { class: 'num' }, show(name, f.value)),
          h('td', { class: 'num' }, show(name, f.previous)), h('td', { class: 'num' }, change(name, f)))), '');
      const teams = table(['team', 'incidents', 'MTTA p50', 'MTTR p50', 'MTTR p90', 'respond SLA', 'resolve SLA',
        'SLA breaches'], report.by_team.map((r) =>
        h('tr', { 'data-team': r.team }, h('td', null, r.team || '(none)'), h('td', { class: 'num' }, show('n', r.incidents)),
          h('td', { class: 'num' }, show('mtta_p50', r.mtta_p50)), h('td', { class: 'num' }, show('mttr_p50', r.mttr_p50)),
          h('td', { class: 'num' }, show('mttr_p90', r.mttr_p90)),
          h('td', { class: 'num' }, show('sla_respond_met_rate', r.sla_respond_met_rate)),
          h('td', { class: 'num' }, show('sla_resolve_met_rate', r.sla_resolve_met_rate)),
          h('td', { class: 'num' }, show('n', r.sla_breaches)))), 'No incidents.');
      // muted notifications (issue 17): by silences, maintenance and change windows, and which muted the most
      const muted = report.muted || {};
      const mutedFigures = table(['figure', 'this window', 'previous', 'change'],
        Object.entries(muted.figures || {}).map(([name, f]) => h('tr', { 'data-muted-figure': name },
          h('td', null, name.replaceAll('_', ' ')), h('td', { class: 'num' }, show('n', f.value)),
          h('td', { class: 'num' }, show('n', f.previous)), h('td', { class: 'num' }, change('n', f)))), '');
      const mutedTop = table(['kind', 'silence or window', 'this window', 'previous', 'change'],
        (muted.top || []).map((r) => h('tr', { 'data-muted-reason': r.reason }, h('td', null, r.kind),
          h('td', null, r.name), h('td', { class: 'num' }, show('n', r.notifications)),
          h('td', { class: 'num' }, show('n', r.previous)), h('td', { class: 'num' }, change('n', r)))),
        'Nothing muted in this window.');
      replace(body,
        h('div', { class: 'charts' }, Object.entries(drawn.charts).map(([name, svg]) => chart(name, svg))),
        h('h2', null, 'Figures'), figures, h('h2', null, 'By team'), teams,
        h('h2', null, muted.filtered ? 'Muted notifications (all priorities)' : 'Muted notifications'),
        mutedFigures, mutedTop);
    } catch (err) {
      if (mine === loads) replace(body, failure(err));
    }
  }

  go.addEventListener('click', load);
  since.addEventListener('change', load);
  load();
}
