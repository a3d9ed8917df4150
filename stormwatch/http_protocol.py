"""uvicorn's httptools protocol with the limits uvicorn lacks: a header read deadline, a body read deadline and a
hard cap on open connections (uvicorn itself has only the keep-alive idle timeout).

- **Headers**: from the moment a connection is accepted (or, on a kept-alive connection, from the first byte of
  the next request) the request line and headers must arrive within ``header_timeout``; otherwise the server
  answers ``408`` and closes. A client that connects and sends nothing, or drips a header byte at a time
  (slowloris), holds its socket for at most that long.
- **Body**: once the headers are in, the whole body must arrive within ``body_timeout`` (a deadline, not an
  inactivity timer, so a byte every few seconds does not keep it alive). On expiry: ``408`` when no answer has
  started, else just close; the app sees the client as gone. After an early answer (401 before the body) the
  rest of the body is drained and discarded within the same deadline, then the connection is closed uncounted.
- **Sending**: an answer the client does not read (the socket's send buffer full, uvicorn paused) for
  ``send_timeout`` is aborted: the connection and its handler are released, so a client that stops reading (a
  live event stream, or pipelined requests whose answers it never reads) cannot hold them for ever.
- **Connections**: past ``max_connections`` open sockets a new one gets a short ``503`` and is closed at once,
  before anything is parsed or any task created. (uvicorn's ``limit_concurrency`` still accepted the socket and
  parsed its headers, and never bounded sockets that send nothing.)

Every cut is counted (``stormwatch_http_timeouts_total{phase}``, ``stormwatch_http_connections_refused_total``)
and logged as one line; refused connections are logged at most once per ``LOG_EVERY`` seconds, with how many
were refused since the last line, so a flood cannot flood the log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stormwatch.metrics import Metrics

log = structlog.get_logger("stormwatch.http")

LOG_EVERY = 10.0  # seconds between two `http_connections_refused` lines
TIMEOUT_SCOPE_KEY = "stormwatch.timeout"  # set in the request's scope when the server cut it (headers | body)

_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 16\r\nconnection: close\r\n\r\n" \
       b"request timeout\n"
_503 = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 20\r\nretry-after: 1\r\n" \
       b"connection: close\r\n\r\ntoo many connections\n"


@dataclass(frozen=True, slots=True)
class HttpLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 5.0  # uvicorn's timeout_keep_alive
    send_timeout: float = 30.0
    max_connections: int = 1000


@dataclass
class ConnectionGuard:
    """What every connection of one server shares: the limits, the metrics and the refused-log throttle."""

    limits: HttpLimits
    metrics: Metrics
    clock: Callable[[], float] = time.monotonic
    _refused_since_log: int = field(default=0, init=False)
    _last_refused_log: float = field(default=float("-inf"), init=False)

    def refused(self, client: str) -> None:
        self.metrics.http_connections_refused.inc()
        self._refused_since_log += 1
        now = self.clock()
        if now - self._last_refused_log >= LOG_EVERY:
            log.warning("http_connections_refused", refused=self._refused_since_log, client=client,
                        max_connections=self.limits.max_connections)
            self._refused_since_log = 0
            self._last_refused_log = now

    def timed_out(self, phase: str, client: str, path: str | None) -> None:
        self.metrics.http_timeouts.labels(phase).inc()
        timeout = {"headers": self.limits.header_timeout, "body": self.limits.body_timeout}.get(
            phase, self.limits.send_timeout)
        log.info("http_timeout", phase=phase, client=client, path=path, timeout=timeout)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """One connection; ``guard`` is set on the subclass ``protocol_class`` builds."""

    guard: ConnectionGuard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: Any = None
        self._body_timer: Any = None
        self._send_timer: Any = None
        self._refused = False

    # -- connections ---------------------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        if len(self.connections) >= self.guard.limits.max_connections:
            self._refused = True
            peer = transport.get_extra_info("peername")
            self.guard.refused(peer[0] if isinstance(peer, tuple) else "")
            transport.write(_503)
            transport.close()
            return
        super().connection_made(transport)
        self.guard.metrics.http_connections_open.set(len(self.connections))
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._cancel_header_timer()
        self._cancel_body_timer()
        self._cancel_send_timer()
        super().connection_lost(exc)
        self.guard.metrics.http_connections_open.set(len(self.connections))

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._header_timer is None and self._body_timer is None and (
                self.cycle is None or self.cycle.response_complete):
            # between requests: whatever comes next must become a request's headers in time (also bytes the
            # parser skips without starting a message, such as bare CRLFs, which would otherwise reset the
            # keep-alive timer forever)
            self._arm_header_timer()
        super().data_received(data)

    # -- parser callbacks ----------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()
        self._body_timer = self.loop.call_later(self.guard.limits.body_timeout, self._body_timeout)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.guard.limits.send_timeout, self._send_timeout)

    def resume_writing(self) -> None:
        self._cancel_send_timer()
        super().resume_writing()

    # -- timers --------------------------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.guard.limits.header_timeout, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_send_timer(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _client(self) -> str:
        return self.client[0] if self.client else ""

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        self.guard.timed_out("headers", self._client(), None)
        if self.cycle is None or self.cycle.response_complete:  # never in the middle of an answer
            self.transport.write(_408)
        self.transport.close()

    def _body_timeout(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and cycle.response_complete:
            # answered already (a 401 before the body, a client that announced a body after Expect: 100-continue
            # and never sent it): the rest of the body was only being drained; close quietly
            self.transport.close()
            return
        self.guard.timed_out("body", self._client(), self.scope.get("path"))
        self.scope[TIMEOUT_SCOPE_KEY] = "body"  # type: ignore[literal-required]  # our own key in the ASGI scope
        if cycle is not None and not cycle.response_started:
            self.transport.write(_408)
        if cycle is not None:
            cycle.disconnected = True  # the app's receive() answers http.disconnect; its answer goes nowhere
            cycle.message_event.set()
        self.transport.close()

    def _send_timeout(self) -> None:
        self._send_timer = None
        if self._refused or self.transport is None:
            return
        self.guard.timed_out("send", self._client(), self.scope.get("path") if self.scope else None)
        if self.scope is not None:
            self.scope[TIMEOUT_SCOPE_KEY] = "send"  # type: ignore[literal-required]  # our own key in the ASGI scope
        self.transport.abort()  # close() would wait for the unread buffer to drain: never


def protocol_class(guard: ConnectionGuard) -> type[GuardedHttpToolsProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to one server's guard."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"guard": guard})
