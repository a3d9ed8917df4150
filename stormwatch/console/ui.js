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

export function failure(err) {
  return h('p', { class: 'error', role: 'alert' }, err.status ? `${err.status}: ${err.message}` : String(err.message || err));
}

// A button that runs an async action once at a time and reports a refusal in `notice`.
export function runButton(label, action, notice, attrs) {
  const button = h('button', { type: 'button', ...(attrs || {}) }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    notice.textContent = '';
    notice.className = 'notice';
    try {
      await action();
    } catch (err) {
      notice.textContent = err.status ? `${label}: ${err.status} ${err.message}` : `${label}: ${err.message}`;
      notice.className = 'notice error';
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
