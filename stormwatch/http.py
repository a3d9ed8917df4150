"""The one HTTP server of a process: uvicorn (httptools parser, the process's uvloop) run inside the worker's
event loop, serving the Starlette app of ``stormwatch.api.app`` on STORMWATCH_HTTP_PORT.

uvicorn's own ``serve()`` would install signal handlers; the worker owns SIGTERM/SIGHUP, so the server is
started and stopped through ``startup``/``shutdown`` on a socket bound here (a bind error is a clear
exception, not uvicorn's ``sys.exit``).

Connections are served by ``stormwatch.http_protocol``: uvicorn's httptools protocol plus header and body read
deadlines and a hard cap on open sockets (``HttpLimits``); uvicorn's own ``timeout_keep_alive`` is the idle timeout.

TLS (``HttpTls``: STORMWATCH_HTTP_TLS_CERT_FILE and _KEY_FILE): uvicorn wraps the same protocol in asyncio's TLS
transport (TLS 1.2 at least, Python's server defaults), so every limit above applies to https as to http; the
protocol's connection starts once the handshake is done (asyncio allows a handshake 60 seconds).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry

from stormwatch.api.app import build_app
from stormwatch.api.common import ApiServices, ReadinessCheck
from stormwatch.http_protocol import ConnectionGuard, HttpLimits, protocol_class
from stormwatch.metrics import Metrics


class HttpBindError(Exception):
    """The HTTP port could not be bound; the message names host and port."""


class HttpTlsError(HttpBindError):
    """The TLS certificate or key could not be loaded; the message names the setting and the file."""


@dataclass(frozen=True, slots=True)
class HttpTls:
    """A PEM certificate (chain) and its private key: the server speaks https."""

    cert_file: str
    key_file: str


def tls_context(tls: HttpTls) -> ssl.SSLContext:
    """The server's TLS context (TLS 1.2 at least); HttpTlsError naming the setting when a file is unusable."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise HttpTlsError(f"cannot load the TLS certificate {tls.cert_file!r} with the key {tls.key_file!r} "
                           f"(STORMWATCH_HTTP_TLS_CERT_FILE, STORMWATCH_HTTP_TLS_KEY_FILE): {exc}") from None
    return context


class HttpServer:
    def __init__(self, app: Any, host: str, port: int, *, metrics: Metrics | None = None,
                 limits: HttpLimits = HttpLimits(), reuse_port: bool = False,
                 sock: socket.socket | None = None, tls: HttpTls | None = None) -> None:
        """``sock``: a socket already bound by ``bind_socket`` (the worker binds before it declares queues);
        ``tls``: serve https."""
        self.host = host
        self.port = port
        self.reuse_port = reuse_port
        self.guard = ConnectionGuard(limits, metrics if metrics is not None else Metrics.create())
        self.config = uvicorn.Config(
            app, host=host, port=port, http=protocol_class(self.guard), ws="none", loop="none", lifespan="off",
            access_log=False, log_config=None, log_level="warning", timeout_graceful_shutdown=5,
            timeout_keep_alive=limits.idle_timeout,  # type: ignore[arg-type]  # uvicorn takes float seconds
            server_header=False, date_header=False, proxy_headers=False,  # no X-Forwarded-* rewriting per request
        )
        self.tls = tls
        self.server = uvicorn.Server(self.config)
        self._socket: socket.socket | None = sock

    @property
    def bound_port(self) -> int:
        assert self._socket is not None
        return self._socket.getsockname()[1]

    def bind(self) -> socket.socket:
        """Bind (and listen on) the port now, before anything else of the process is set up: a busy port fails
        the start before queues are declared. ``start`` binds if this was not called."""
        if self._socket is None:
            self._socket = bind_socket(self.host, self.port, reuse_port=self.reuse_port,
                                       backlog=self.config.backlog)
        return self._socket

    async def start(self) -> None:
        context = tls_context(self.tls) if self.tls is not None else None  # before binding: a bad file fails first
        sock = self.bind()
        if not self.config.loaded:
            self.config.load()
            self.config.ssl = context  # uvicorn hands it to loop.create_server with our protocol
        self.server.lifespan = self.config.lifespan_class(self.config)
        await self.server.startup(sockets=[sock])

    def close(self) -> None:
        """Give the port back without having served (the process could not start)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def stop(self) -> None:
        if self._socket is None:
            return
        if not self.server.started:
            self.close()
            return
        self.server.should_exit = True
        await self.server.shutdown(sockets=[self._socket])
        self._socket = None


def bind_socket(host: str, port: int, *, reuse_port: bool = False, backlog: int = 2048) -> socket.socket:
    """A listening, non-blocking TCP socket on host:port, or HttpBindError naming them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:  # the kernel spreads connections over every process listening on the port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise HttpBindError(f"cannot listen on {host}:{port} ({exc.strerror}); set "
                            "STORMWATCH_HTTP_PORT to a free port (0: any)") from None
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


class OpsServer(HttpServer):
    """Only /metrics, /healthz, /readyz and /openapi.json (what a process without the API serves)."""

    def __init__(self, registry: CollectorRegistry, readiness: ReadinessCheck, host: str, port: int) -> None:
        metrics = Metrics.create()  # the app's own request counters; /metrics exports ``registry``
        super().__init__(build_app(ApiServices(metrics, readiness), registry=registry), host, port, metrics=metrics)
