// Small shared behaviours of the views.

import { h } from './dom.js';

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// At most one call per `ms`, at its end: a storm of events becomes a reload every `ms`, never starved.
export function throttle(fn, ms) {
  let timer = null;
  return () => {
    if (timer) return;
    timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}

// What a refused request says: the status, the API's reason code when it gave one (401/403), its detail.
export function refused(err) {
  if (!err.status) return String(err.message || err);
  return `${err.status}${err.reason ? ` (${err.reason})` : ''}: ${err.message}`;
}

export function failure(err) {
  return h('p', { class: 'error', role: 'alert', 'data-reason': err.reason || null }, refused(err));
}

// A button that runs an async action once at a time and reports a refusal in `notice`.
export function runButton(label, action, notice, attrs) {
  const button = h('button', { type: 'button', ...(attrs || {}) }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    notice.textContent = '';
    notice.className = 'notice';
    delete notice.dataset.reason;
    try {
      await action();
    } catch (err) {
      notice.textContent = `${label}: ${refused(err)}`;
      notice.className = 'notice error';
      if (err.reason) notice.dataset.reason = err.reason;
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
