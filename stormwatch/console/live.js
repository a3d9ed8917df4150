// The current view's handlers of live events (from GET /api/v1/stream); cleared when the view changes.

const listeners = new Set();

export function onLiveEvent(handler) {
  listeners.add(handler);
}

export function emit(type, event) {
  listeners.forEach((handler) => handler(type, event));
}

export function clearListeners() {
  listeners.clear();
}
