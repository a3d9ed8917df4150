// Declaring an incident (POST /api/v1/incidents): title, service, description, impact and urgency (the ITIL
// priority), team, reporter, alerts to attach. A report for a service whose incident is open joins it: the page
// that opens says so.

import { api } from './api.js';
import { h } from './dom.js';
import { runButton } from './ui.js';

const LEVELS = ['high', 'medium', 'low'];

function level(id, label) {
  return h('select', { id, 'aria-label': label }, LEVELS.map((l) => h('option', { value: l, selected: l === 'medium' }, l)));
}

// The form, hidden until its button is pressed; `notice` reports a refusal (the API names the field).
export function declareForm(notice) {
  const title = h('input', { id: 'declare-title', size: 50, maxlength: 500, placeholder: 'what is wrong', 'aria-label': 'title' });
  const service = h('input', { id: 'declare-service', size: 24, maxlength: 200, placeholder: 'checkout', 'aria-label': 'service' });
  const description = h('textarea', { id: 'declare-description', rows: 3, cols: 50, maxlength: 10000, 'aria-label': 'description' });
  const impact = level('declare-impact', 'impact');
  const urgency = level('declare-urgency', 'urgency');
  const team = h('input', { id: 'declare-team', size: 20, maxlength: 200, 'aria-label': 'team' });
  const reporter = h('input', { id: 'declare-reporter', size: 20, maxlength: 200, placeholder: 'you', 'aria-label': 'reporter' });
  const alerts = h('input', { id: 'declare-alerts', size: 50, placeholder: 'fingerprints, comma-separated', 'aria-label': 'alerts' });
  const major = h('input', { type: 'checkbox', id: 'declare-major' });

  const submit = runButton('Declare', async () => {
    const answer = await api('POST', '/api/v1/incidents', {
      title: title.value.trim(), service: service.value.trim(), description: description.value,
      impact: impact.value, urgency: urgency.value, team: team.value.trim(), reporter: reporter.value.trim(),
      alerts: alerts.value.split(',').map((a) => a.trim()).filter(Boolean), major: major.checked,
    });
    const id = answer.incident.id;
    sessionStorage.setItem('stormwatch.declared', answer.joined ? `Joined ${id}: an incident was already open for this service.` : `Declared ${id}.`);
    window.location.hash = `#/incidents/${encodeURIComponent(id)}`;
  }, notice, { id: 'declare-submit', class: 'primary' });

  const form = h('div', { class: 'respond', id: 'declare-form', hidden: true },
    h('label', { for: 'declare-title' }, 'Title'), title,
    h('label', { for: 'declare-service' }, 'Service'), service,
    h('label', { for: 'declare-description' }, 'Description'), description,
    h('label', { for: 'declare-impact' }, 'Impact'), impact,
    h('label', { for: 'declare-urgency' }, 'Urgency'), urgency,
    h('label', { for: 'declare-team' }, 'Team'), team,
    h('label', { for: 'declare-reporter' }, 'Reporter'), reporter,
    h('label', { for: 'declare-alerts' }, 'Alerts'), alerts,
    h('label', { for: 'declare-major' }, 'Major incident'), major,
    submit);
  const open = h('button', { type: 'button', id: 'declare-open', onclick: () => { form.hidden = !form.hidden; } }, 'Declare an incident');
  return { open, form };
}

// What the incident page says once after a declaration brought the person there.
export function declaredNotice() {
  const text = sessionStorage.getItem('stormwatch.declared');
  sessionStorage.removeItem('stormwatch.declared');
  return text;
}
