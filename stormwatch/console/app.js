// The console's shell: sign-in, the live event stream, and a hash router over the views.

import { api, subscribe, token } from './api.js';
import { h, replace } from './dom.js';
import { clearListeners, emit } from './live.js';
import { incidentList, incidentPage } from './incidents.js';
import { problemList, problemPage } from './problems.js';
import { silencesPage } from './silences.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
const signout = document.getElementById('signout');
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

function signIn(message) {
  if (unsubscribe) { unsubscribe(); unsubscribe = null; }
  setLive(false);
  signout.hidden = true;
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true,
    placeholder: 'API token', size: 40 });
  const error = h('p', { class: 'error', role: 'alert' }, message || '');
  const form = h('form', { class: 'card signin', id: 'signin' },
    h('h2', null, 'Sign in'),
    h('p', { class: 'muted' }, 'Paste a Stormwatch API token (role read, respond or admin). It stays in this tab only.'),
    input, ' ', h('button', { type: 'submit', class: 'primary' }, 'Sign in'), error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    token.set(input.value.trim());
    try {
      await api('GET', '/api/v1/incidents?limit=1');
    } catch (err) {
      token.clear();
      replace(error, err.status === 401 ? 'That token is not accepted.' : err.message);
      return;
    }
    start();
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
  }[section] || (() => incidentList(main));
  view();
}

function start() {
  signout.hidden = false;
  startStream();
  route();
}

window.addEventListener('hashchange', () => { if (token.get()) route(); });
window.addEventListener('stormwatch:unauthorized', () => { token.clear(); signIn('Your token was refused; sign in again.'); });
signout.addEventListener('click', () => { token.clear(); signIn(); });

if (token.get()) start(); else signIn();
