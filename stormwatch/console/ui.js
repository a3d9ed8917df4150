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

// Fill a form field from the incident as read, unless the person has typed into it since it was last filled: a live
// reload must never wipe what was typed and not yet sent. Focus alone does not say it: typing one field and then the
// next leaves the first unfocused with its text unsent. Once the incident holds what the field says (it was sent, or
// someone else set the same), the field follows the incident again.
export function refill(input, value) {
  const typed = input.dataset.filled !== undefined && input.value !== input.dataset.filled;
  if (input.value.trim() === value || (!typed && document.activeElement !== input)) {
    input.value = value;
    input.dataset.filled = value;
  }
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
