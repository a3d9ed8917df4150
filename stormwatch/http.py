"""The one HTTP server of a process: uvicorn (httptools parser, the process's uvloop) run inside the worker's
event loop, serving the Starlette app of ``stormwatch.api.app`` on STORMWATCH_HTTP_PORT.

uvicorn's own ``serve()`` would install signal handlers; the worker owns SIGTERM/SIGHUP, so the server is
started and stopped through ``startup``/``shutdown`` on a socket bound here (a bind error is a clear
exception, not uvicorn's ``sys.exit``).

Connections are served by ``stormwatch.http_protocol``: uvicorn's httptools protocol plus header and body read
deadlines and a hard cap on open sockets (``HttpLimits``); uvicorn's own ``timeout_keep_alive`` is the idle timeout.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry

from stormwatch.api.app import build_app
from stormwatch.api.common import ApiServices, ReadinessCheck
from stormwatch.http_protocol import ConnectionGuard, HttpLimits, protocol_class
from stormwatch.metrics import Metrics


class HttpBindError(Exception):
    """The HTTP port could not be bound; the message names host and port."""


class HttpServer:
    def __init__(self, app: Any, host: str, port: int, *, metrics: Metrics | None = None,
                 limits: HttpLimits = HttpLimits(),
                 reuse_port: bool = False) -> None:
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
        self.server = uvicorn.Server(self.config)
        self._socket: socket.socket | None = None

    @property
    def bound_port(self) -> int:
        assert self._socket is not None
        return self._socket.getsockname()[1]

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.reuse_port:  # the kernel spreads connections over every process listening on the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise HttpBindError(f"cannot listen on {self.host}:{self.port} ({exc.strerror}); set "
                                "STORMWATCH_HTTP_PORT to a free port (0: any)") from None
        sock.listen(self.config.backlog)
        sock.setblocking(False)
        self._socket = sock
        if not self.config.loaded:
            self.config.load()
        self.server.lifespan = self.config.lifespan_class(self.config)
        await self.server.startup(sockets=[sock])

    async def stop(self) -> None:
        if self._socket is None:
            return
        self.server.should_exit = True
        await self.server.shutdown(sockets=[self._socket])
        self._socket = None


class OpsServer(HttpServer):
    """Only /metrics, /healthz, /readyz and /openapi.json (what a process without the API serves)."""

    def __init__(self, registry: CollectorRegistry, readiness: ReadinessCheck, host: str, port: int) -> None:
        metrics = Metrics.create()  # the app's own request counters; /metrics exports ``registry``
        super().__init__(build_app(ApiServices(metrics, readiness), registry=registry), host, port, metrics=metrics)
