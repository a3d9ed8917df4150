// Service levels in the console: a countdown per incident (the most urgent running SLA record), ticking every second
// from the time left the API gave (its `time_left` at the request, so the browser's clock only measures elapsed time).

import { h } from './dom.js';

function span(seconds) {
  const sign = seconds < 0 ? '-' : '';
  let left = Math.floor(Math.abs(seconds));
  const days = Math.floor(left / 86400); left -= days * 86400;
  const hours = Math.floor(left / 3600); left -= hours * 3600;
  const minutes = Math.floor(left / 60); const secs = left - minutes * 60;
  if (days) return `${sign}${days}d${hours}h`;
  if (hours) return `${sign}${hours}h${String(minutes).padStart(2, '0')}m`;
  return `${sign}${minutes}m${String(secs).padStart(2, '0')}s`;
}

// The countdown of an incident's SLA records (`incident.sla`), or its outcome: breached, paused, met, or '–'.
export function slaCountdown(records) {
  if (!records || !records.length) return h('span', { class: 'sla muted' }, '–');
  const breached = records.find((r) => r.stage === 'breached');
  if (breached) return h('span', { class: 'sla sla-breached' }, `${breached.kind} breached`);
  const running = records.filter((r) => r.time_left !== null && r.time_left !== undefined);
  if (!running.length) {
    const paused = records.some((r) => r.paused);
    return h('span', { class: `sla ${paused ? 'sla-paused' : 'sla-met'}` }, paused ? 'paused' : 'met');
  }
  const first = running.reduce((a, b) => (b.time_left < a.time_left ? b : a));
  const deadline = Date.now() / 1000 + first.time_left;
  const el = h('span', { class: `sla sla-${first.stage}`, 'data-deadline': String(deadline), 'data-kind': first.kind },
    `${first.kind} ${span(first.time_left)}`);
  return el;
}

function tick() {
  for (const el of document.querySelectorAll('.sla[data-deadline]')) {
    el.textContent = `${el.dataset.kind} ${span(Number(el.dataset.deadline) - Date.now() / 1000)}`;
  }
}

setInterval(tick, 1000);
