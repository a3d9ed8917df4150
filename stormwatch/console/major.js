// A major incident on its page: promote, its roles (incident commander, communications lead) and stakeholder
// status updates (POST /api/v1/incidents/{id}/major, /roles, /updates). Built once per page, like the Respond form.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { refill, runButton } from './ui.js';

const STATES = ['investigating', 'identified', 'monitoring', 'resolved'];

export function majorControls(path, notice, reload) {
  const promote = runButton('Promote to major', async () => { await api('POST', `${path}/major`, {}); await reload(); },
    notice, { id: 'cmd-major' });
  const commander = h('input', { id: 'commander-input', size: 20, maxlength: 200, 'aria-label': 'incident commander' });
  const lead = h('input', { id: 'comms-lead-input', size: 20, maxlength: 200, 'aria-label': 'communications lead' });
  const setRoles = runButton('Set roles', async () => {
    await api('POST', `${path}/roles`, { commander: commander.value.trim(), communications_lead: lead.value.trim() });
    await reload();
  }, notice, { id: 'cmd-roles' });
  const state = h('select', { id: 'update-state', 'aria-label': 'update state' }, STATES.map((s) => h('option', { value: s }, s)));
  const text = h('textarea', { id: 'update-text', rows: 3, maxlength: 5000, placeholder: 'what stakeholders should know',
    'aria-label': 'status update' });
  const publish = runButton('Publish update', async () => {
    await api('POST', `${path}/updates`, { text: text.value, state: state.value });
    text.value = '';
    await reload();
  }, notice, { id: 'cmd-update' });

  const form = h('div', { class: 'respond', id: 'major' });
  const roles = h('div', null,
    h('label', { for: 'commander-input' }, 'Incident commander'), commander,
    h('label', { for: 'comms-lead-input' }, 'Communications lead'), lead, setRoles,
    h('label', { for: 'update-text' }, 'Stakeholder update'), state, text, publish);

  function show(doc) {
    if (!doc.major) { replace(form, promote); return; }
    refill(commander, doc.commander || '');
    refill(lead, doc.communications_lead || '');
    replace(form, roles);
  }
  return { form, show };
}
