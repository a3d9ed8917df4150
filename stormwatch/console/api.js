// The API with the person's bearer token (kept in this tab's sessionStorage, sent only as a header).

const KEY = 'stormwatch.token';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, doc) {
    super((doc && doc.detail) || `HTTP ${status}`);
    this.status = status;
    this.field = doc && doc.field;
    this.reason = (doc && doc.reason) || ''; // 401/403: no_tokens_configured, missing_token, malformed, unknown_token, role
  }
}

// A 401 anywhere sends the person back to the sign-in, which says why (the API's reason).
function unauthorized(reason) {
  window.dispatchEvent(new CustomEvent('stormwatch:unauthorized', { detail: { reason: reason || '' } }));
}

export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token.get() || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
  });
  const doc = await response.json().catch(() => ({}));
  if (response.status === 401) unauthorized(doc.reason);
  if (!response.ok) throw new ApiError(response.status, doc);
  return doc;
}

// Server-Sent Events read through fetch (EventSource cannot send an Authorization header).
// Calls onEvent(type, data) per event and onState(true|false) as the stream opens and drops; reconnects.
export function subscribe(onEvent, onState) {
  const controller = new AbortController();
  let stopped = false;

  async function run() {
    while (!stopped) {
      try {
        const response = await fetch('/api/v1/stream', {
          headers: { Authorization: `Bearer ${token.get() || ''}`, Accept: 'text/event-stream' },
          signal: controller.signal, cache: 'no-store',
        });
        if (response.status === 401) {
          unauthorized((await response.json().catch(() => ({}))).reason);
          return;
        }
        if (!response.ok || !response.body) throw new Error(`stream: HTTP ${response.status}`);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            dispatch(frame);
          }
        }
      } catch (err) {
        if (stopped) return;
      }
      onState(false);
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  function dispatch(frame) {
    let type = 'message';
    const data = [];
    for (const line of frame.split('\n')) {
      if (line.startsWith('event:')) type = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    if (!data.length) return;
    if (type === 'hello') { onState(true); return; }
    let parsed = {};
    try { parsed = JSON.parse(data.join('\n')); } catch { return; }
    onEvent(type, parsed);
  }

  run();
  return () => { stopped = true; controller.abort(); };
}
