"""The web console's static files at ``/console/`` (``/`` redirects there): HTML, JS modules and CSS shipped
as package data, no build step. They hold no data: every view reads the API with the bearer token the person
enters (kept in the tab's sessionStorage). A strict Content-Security-Policy allows only the console's own files."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-cache")]


class _Secured:
    """Static files with the console's security headers on every answer."""

    def __init__(self, app: StaticFiles) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def console_directory() -> str:
    return str(resources.files("stormwatch").joinpath("console"))


def console_routes() -> list[BaseRoute]:
    async def root(request: Request) -> Response:
        return RedirectResponse("/console/", 307)

    return [
        Route("/", root, methods=["GET"]),
        Mount("/console", app=_Secured(StaticFiles(directory=console_directory(), html=True)), name="console"),
    ]
