// Services: the catalog with health at a glance (services and business services), and one service's page
// (owner, tier, links, dependencies both ways, open incidents). Health comes from the API: computed from open
// incidents on every read.

import { api } from './api.js';
import { badge, h, replace, section, table, time } from './dom.js';
import { onLiveEvent } from './live.js';
import { failure, throttle } from './ui.js';

const serviceHref = (name) => `#/services/${encodeURIComponent(name)}`;
const serviceLink = (name) => h('a', { href: serviceHref(name) }, name);
const list = (names) => (names.length ? names.map((n, i) => [i ? ', ' : '', serviceLink(n)]) : '–');

function incidentRows(incidents) {
  return incidents.map((i) => h('tr', { 'data-id': i.id },
    h('td', { class: 'title' }, h('a', { href: `#/incidents/${encodeURIComponent(i.id)}` }, i.title),
      h('div', { class: 'sub' }, i.id)),
    h('td', null, badge(i.priority || '–', 'prio')),
    h('td', null, badge(i.status)),
    h('td', null, i.service ? serviceLink(i.service) : '–'),
    h('td', null, time(i.created_at))));
}

export function serviceList(main) {
  const body = h('div', { id: 'services' });
  const business = h('div', { id: 'business-services' });
  replace(main, h('div', { class: 'bar' }, h('h1', null, 'Services')), section('Business services', business),
    section('Services', body));

  async function load() {
    try {
      const [services, businessServices] = await Promise.all([
        api('GET', '/api/v1/services'), api('GET', '/api/v1/business-services')]);
      replace(business, table(['business service', 'health', 'owner', 'services', 'open incidents'],
        businessServices.items.map((b) => h('tr', { 'data-name': b.name },
          h('td', { class: 'title' }, b.name, h('div', { class: 'sub' }, b.description)),
          h('td', null, badge(b.health, 'health')),
          h('td', null, b.owner || '–'),
          h('td', null, list(b.services)),
          h('td', { class: 'num' }, b.open_incidents.length))), 'No business services in the catalog.'));
      replace(body, table(['service', 'health', 'owner', 'tier', 'affects', 'depends on', 'open incidents'],
        services.items.map((s) => h('tr', { class: 'row', 'data-name': s.name,
          onclick: () => { window.location.hash = serviceHref(s.name); } },
        h('td', { class: 'title' }, serviceLink(s.name),
          h('div', { class: 'sub' }, s.known ? s.description : 'not in the catalog')),
        h('td', null, badge(s.health, 'health')),
        h('td', null, s.owner || '–'),
        h('td', { class: 'num' }, s.tier === null ? '–' : s.tier),
        h('td', null, s.affects.join(', ') || '–'),
        h('td', null, list(s.depends_on)),
        h('td', { class: 'num' }, s.open_incidents.length))), 'No services: add them under topology.services.'));
    } catch (err) {
      replace(body, failure(err));
    }
  }

  const reload = throttle(load, 500);
  onLiveEvent((type) => { if (type.startsWith('incident.') || type === 'resync') reload(); });
  load();
}

export function servicePage(main, name) {
  async function load() {
    let s;
    try {
      s = await api('GET', `/api/v1/services/${encodeURIComponent(name)}`);
    } catch (err) {
      replace(main, h('p', null, h('a', { href: '#/services' }, '← services')), failure(err));
      return;
    }
    const facts = h('dl', { class: 'why' },
      h('dt', null, 'owner'), h('dd', null, s.owner || '–'),
      h('dt', null, 'tier'), h('dd', null, s.tier === null ? '–' : String(s.tier)),
      h('dt', null, 'supports'), h('dd', null, s.business_services.join(', ') || '–'),
      h('dt', null, 'affects'), h('dd', null, s.affects.join(', ') || '–'),
      h('dt', null, 'depends on'), h('dd', { id: 'depends-on' }, list(s.depends_on)),
      h('dt', null, 'dependants'), h('dd', { id: 'dependants' }, list(s.dependants)),
      h('dt', null, 'support hours'), h('dd', null, s.support_hours || '–'),
      Object.entries(s.links).filter(([, url]) => url).map(([kind, url]) => [h('dt', null, kind),
        h('dd', null, h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, url))]));
    replace(main,
      h('p', null, h('a', { href: '#/services' }, '← services')),
      h('div', { class: 'head' },
        h('h1', null, s.name),
        h('div', { class: 'meta' }, Object.assign(badge(s.health, 'health'), { id: 'service-health' }),
          s.known ? '' : ' · not in the catalog', s.description ? ` · ${s.description}` : '')),
      h('div', { class: 'columns' },
        h('div', null, section(`Open incidents (${s.open_incidents.length})`,
          table(['incident', 'priority', 'status', 'service', 'created'], incidentRows(s.open_incidents),
            'No open incidents.')),
        section('Recent changes', h('div', { id: 'service-changes' }, table(['change', 'kind', 'when'],
          (s.changes || []).map((c) => h('tr', { 'data-change': c.id },
            h('td', { class: 'title' }, c.summary, h('div', { class: 'sub' }, c.id)),
            h('td', null, c.kind), h('td', null, time(c.at)))), 'No recent changes.')))),
        h('div', null, section('Service', facts))));
  }

  const reload = throttle(load, 500);
  onLiveEvent((type) => { if (type.startsWith('incident.') || type === 'resync') reload(); });
  load();
}
