// Building the page from data without ever parsing it as HTML: every text goes through text nodes.
// Labels, annotations and comments come from alert senders and people: they are never markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'href') el.setAttribute('href', safeHref(value));
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// Only in-console links and http(s) links: a label value like "javascript:..." becomes a dead link.
export function safeHref(value) {
  const text = String(value);
  if (text.startsWith('#/')) return text;
  try {
    const url = new URL(text, window.location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : '#';
  } catch {
    return '#';
  }
}

export function time(epoch) {
  if (epoch === null || epoch === undefined || epoch === '') return '–';
  const date = new Date(Number(epoch) * 1000);
  return h('time', { datetime: date.toISOString(), title: date.toISOString() }, ago(Number(epoch)));
}

export function ago(epoch) {
  const s = Math.round(Date.now() / 1000 - epoch);
  if (s < 0) return 'in ' + span(-s);
  return span(s) + ' ago';
}

function span(s) {
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

// A long label is clipped with an ellipsis (console.css); its whole text is a hover or a focus (Tab) away.
const LABEL_CLIP = 40;

export function labels(map) {
  return h('span', { class: 'labels' }, Object.entries(map || {}).sort().map(([k, v]) => {
    const text = `${k}=${v}`;
    const long = text.length > LABEL_CLIP;
    return h('span', { class: 'label', title: long ? text : null, tabindex: long ? '0' : null }, text);
  }));
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind || ''} s-${String(text).replace(/[^a-z0-9_]/gi, '')}` }, text);
}

export function table(columns, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted empty' }, empty || 'Nothing here.');
  return h('table', { class: 'grid' },
    h('thead', null, h('tr', null, columns.map((c) => h('th', null, c)))),
    h('tbody', null, rows));
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', null, title), children);
}
