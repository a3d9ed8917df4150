// The console's shell: sign-in, the live event stream, and a hash router over the views.

import { api, subscribe, token } from './api.js';
import { h, replace } from './dom.js';
import { clearListeners, emit } from './live.js';
import { historyList, historyPage } from './history.js';
import { incidentList, incidentPage } from './incidents.js';
import { problemList, problemPage } from './problems.js';
import { reportsPage } from './reports.js';
import { serviceList, servicePage } from './services.js';
import { silencesPage } from './silences.js';
import { refusal, session } from './session.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
const signout = document.getElementById('signout');
const who = document.getElementById('who');
let unsubscribe = null;

function setLive(on) {
  if (on && live.dataset.state !== 'on') emit('resync', {}); // (re)connected: events may have been missed
  live.textContent = on ? 'live' : 'offline';
  live.className = `live ${on ? 'on' : 'off'}`;
  live.dataset.state = on ? 'on' : 'off';
}

function startStream() {
  if (unsubscribe) unsubscribe();
  unsubscribe = subscribe(emit, setLive);
}

function signIn(reason) {
  if (unsubscribe) { unsubscribe(); unsubscribe = null; }
  setLive(false);
  signout.hidden = true;
  replace(who);
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true,
    placeholder: 'API token', size: 40 });
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error', 'data-reason': reason || null },
    reason ? refusal(reason) : '');
  const form = h('form', { class: 'card signin', id: 'signin' },
    h('h2', null, 'Sign in'),
    h('p', { class: 'muted' }, 'Paste a Stormwatch API token (role read, respond or admin). It stays in this tab only.'),
    input, ' ', h('button', { type: 'submit', class: 'primary' }, 'Sign in'), error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    token.set(input.value.trim());
    await start();
  });
  replace(main, form);
  input.focus();
}

function route() {
  clearListeners();
  const path = (window.location.hash || '#/incidents').slice(1).split('/').filter(Boolean).map(decodeURIComponent);
  const [section, id] = path;
  document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === section));
  const view = {
    incidents: () => (id ? incidentPage(main, id) : incidentList(main)),
    problems: () => (id ? problemPage(main, id) : problemList(main)),
    silences: () => silencesPage(main),
    reports: () => reportsPage(main),
    history: () => (id ? historyPage(main, id) : historyList(main)),
    services: () => (id ? servicePage(main, id) : serviceList(main)),
  }[section] || (() => incidentList(main));
  view();
}

// Signed in once the API says who the token is; a refusal goes back to the sign-in, saying why.
async function start() {
  try {
    session.set(await api('GET', '/api/v1/whoami'));
  } catch (err) {
    if (err.status === 401) return; // the unauthorized listener shows the sign-in with the reason
    token.clear();
    signIn(err.reason || 'refused');
    return;
  }
  replace(who, `${session.name()} (${session.role()})`);
  signout.hidden = false;
  startStream();
  route();
}

window.addEventListener('hashchange', () => { if (token.get()) route(); });
window.addEventListener('stormwatch:unauthorized', (e) => { token.clear(); signIn((e.detail && e.detail.reason) || 'refused'); });
signout.addEventListener('click', () => { token.clear(); signIn(); });

if (token.get()) start(); else signIn();
