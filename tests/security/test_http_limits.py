"""The HTTP server's limits, probed with raw sockets against a real worker (uvicorn + the app on a real port):
slow headers and bodies are cut and counted, the connection cap holds, unauthenticated requests are refused from
their headers before any body is read, a client gone mid-body is one log line, and failed authentications are
limited per client address (429 + Retry-After) while the right token keeps working.

Timeouts are set small in the settings; the tests wait for the server's answers (EOF, a status line, a metric),
never for a guessed duration.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import httpx
import orjson
import pytest
import structlog

from tests.conftest import eventually
from tests.integration.api_helpers import ADMIN, INGEST, READ, RESPOND, start_api
from tests.integration.helpers import metric, v2_alert

SAFETY = 20.0  # seconds: only to fail instead of hang when the server never answers


@pytest.fixture
async def api(clean):
    async for api in start_api(clean, http_header_timeout_seconds=0.5, http_body_timeout_seconds=0.5,
                               http_idle_timeout_seconds=0.5, http_send_timeout_seconds=0.5, auth_failures_burst=20,
                               auth_failures_per_minute=0.01):  # no refill within a test
        yield api


def port(api) -> int:
    return api.worker.ops.bound_port


async def connect(api) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port(api))


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), SAFETY)


async def status_line(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status and headers of the next answer (reads only the head)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SAFETY)
    first, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
    return int(first.split(" ")[1]), headers


def timeouts(api, phase: str) -> float:
    return metric(api.worker, "stormwatch_http_timeouts_total", {"phase": phase})


# -- headers, bodies, idle ---------------------------------------------------------------------------


async def test_slow_headers_are_cut_with_408_counted_and_logged(api):
    reader, writer = await connect(api)
    with structlog.testing.capture_logs() as logs:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the end of the headers
        await writer.drain()
        answer = await until_closed(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert timeouts(api, "headers") == 1
    lines = [e for e in logs if e["event"] == "http_timeout"]
    assert len(lines) == 1 and lines[0]["phase"] == "headers" and lines[0]["client"] == "127.0.0.1"


async def test_a_connection_that_sends_nothing_is_cut(api):
    reader, writer = await connect(api)
    answer = await until_closed(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert timeouts(api, "headers") == 1


async def test_slow_body_is_cut_with_408_and_counted(api, caplog):
    reader, writer = await connect(api)
    with structlog.testing.capture_logs() as logs:
        writer.write(b"POST /api/v2/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + INGEST.encode() +
                     b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{\"labels\"")
        await writer.drain()
        answer = await until_closed(reader)
        await eventually(lambda: metric(api.worker, "stormwatch_http_requests_total",
                                        {"route": "/api/v2/alerts", "code": "499"}), what="the handler ended")
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert timeouts(api, "body") == 1
    events = [e["event"] for e in logs]
    assert events.count("http_timeout") == 1
    assert "http_client_disconnected" not in events  # the cut is the server's: its own line, not a second one
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert (await api.get("/healthz", token=None)).status_code == 200  # the server is fine


async def test_an_idle_kept_alive_connection_is_closed(api):
    reader, writer = await connect(api)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    status, _ = await status_line(reader)
    assert status == 200
    await until_closed(reader)  # no second request: the idle timeout closes it
    writer.close()
    assert timeouts(api, "headers") == 0 and timeouts(api, "body") == 0  # idling is not an attack


async def test_a_client_that_stops_reading_its_answers_is_dropped(api):
    """400 pipelined requests for /openapi.json (~38 KB each), never read: the server's send buffer fills, the
    answer stalls, and the connection is aborted after the send timeout instead of holding its handler."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the stall comes sooner
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port(api)))
    reader, writer = await asyncio.open_connection(sock=sock)
    with structlog.testing.capture_logs() as logs:
        writer.write(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n" * 400)
        await writer.drain()
        await eventually(lambda: timeouts(api, "send") == 1, what="the stalled answer cut")
    writer.close()
    assert [e["phase"] for e in logs if e["event"] == "http_timeout"] == ["send"]
    await eventually(lambda: metric(api.worker, "stormwatch_http_connections_open") == 0, what="the socket freed")
    assert (await api.get("/healthz", token=None)).status_code == 200


# -- the connection cap ------------------------------------------------------------------------------


@pytest.fixture
async def capped(clean):
    async for api in start_api(clean, http_max_connections=3, http_header_timeout_seconds=60):
        yield api


async def test_the_connection_cap_holds_and_frees(capped):
    held = [await connect(capped) for _ in range(3)]  # three sockets that say nothing (slowloris)
    await eventually(lambda: metric(capped.worker, "stormwatch_http_connections_open") == 3, what="3 open")
    reader, writer = await connect(capped)
    answer = await until_closed(reader)  # the fourth: refused at once, before any header
    writer.close()
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert metric(capped.worker, "stormwatch_http_connections_refused_total") == 1
    assert metric(capped.worker, "stormwatch_http_connections_open") == 3

    held.pop()[1].close()
    await eventually(lambda: metric(capped.worker, "stormwatch_http_connections_open") == 2, what="one freed")
    reader, writer = await connect(capped)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    assert (await until_closed(reader)).startswith(b"HTTP/1.1 200 ")
    writer.close()
    for _, w in held:
        w.close()


# -- authentication before the body ------------------------------------------------------------------


@pytest.mark.parametrize("path, headers", [
    ("/api/v2/alerts", b""),  # no credentials at all
    ("/api/v2/alerts", b"Authorization: Bearer wrong-token-0123456789\r\n"),
    ("/api/v2/alerts", b"Authorization: Bearer " + READ.encode() + b"\r\n"),  # a role that may not ingest: 403
    ("/api/v1/alerts", b"X-Stormwatch-Signature: t=1000,v1=00ff\r\n"),  # a stale signature
    ("/api/v1/alerts", b"X-Stormwatch-Signature: nonsense\r\n"),
    ("/api/v1/silences", b""),
    ("/api/v1/silences", b"Authorization: Bearer " + READ.encode() + b"\r\n"),  # read may not create silences
    ("/api/v1/rules/reload", b"Authorization: Bearer " + RESPOND.encode() + b"\r\n"),
    ("/api/v1/rules/validate?file=x.yaml", b""),
    ("/api/v1/incidents/INC-000000000000-1/comment", b""),
])
async def test_refused_from_the_headers_before_the_body_is_read(api, path, headers):
    """10 MB announced, not one byte sent: the answer can only come from the headers."""
    reader, writer = await connect(api)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode() + headers +
                 b"Content-Length: 10000000\r\n\r\n")
    await writer.drain()
    status, _ = await status_line(reader)
    assert status in (401, 403)
    await until_closed(reader)  # the announced body never comes: closed at the body deadline, quietly
    writer.close()
    assert timeouts(api, "body") == 0  # an answered request's undelivered body is no attack to count


# -- clients that go away ----------------------------------------------------------------------------


async def test_a_client_gone_mid_body_is_one_line_and_no_traceback(api, caplog):
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            reader, writer = await connect(api)
            writer.write(b"POST /api/v2/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN.encode() +
                         b"\r\nContent-Length: 5000\r\n\r\n" + b"[" + b" " * 100)
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        route = {"route": "/api/v2/alerts"}
        await eventually(lambda: metric(api.worker, "stormwatch_http_client_disconnects_total", route) == 3,
                         what="three disconnects counted")
    lines = [e for e in logs if e["event"] == "http_client_disconnected"]
    assert len(lines) == 3 and all(e["route"] == "/api/v2/alerts" and e["client"] == "127.0.0.1" for e in lines)
    assert not [e for e in logs if "exc_info" in e or "exception" in e]
    assert not [r for r in caplog.records if r.exc_info or "Exception in ASGI" in r.getMessage()]
    assert timeouts(api, "body") == 0


# -- failed authentication, per client address -------------------------------------------------------


async def test_failed_auth_is_limited_per_address_while_the_right_token_still_works(api):
    wrong = {"Authorization": "Bearer wrong-token-0123456789"}
    alert = orjson.dumps([v2_alert("Limit", "svc", "pod-1")])
    with structlog.testing.capture_logs() as logs:
        for n in range(20):  # a forged X-Forwarded-For changes nothing: the peer address is what counts
            answer = await api.client.post("/api/v2/alerts", content=alert,
                                           headers={**wrong, "X-Forwarded-For": f"198.51.100.{n}"})
            assert answer.status_code == 401, n
        for _ in range(3):
            limited = await api.client.post("/api/v2/alerts", content=alert, headers=wrong)
            assert limited.status_code == 429
            assert int(limited.headers["Retry-After"]) >= 1
            assert limited.json()["error"] == limited.json()["reason"] == "too_many_failures"
        ok = await api.client.post("/api/v2/alerts", content=alert, headers={"Authorization": f"Bearer {INGEST}"})
        assert ok.status_code == 200, ok.text
        assert (await api.get("/api/v1/incidents", token=READ)).status_code == 200
        # a wrong token on any route from the same address: still limited
        assert (await api.get("/api/v1/incidents", token="wrong-token-0123456789")).status_code == 429
    assert metric(api.worker, "stormwatch_auth_rate_limited_total") == 4
    assert len([e for e in logs if e["event"] == "auth_rate_limited"]) == 1  # one line per streak, not per try
    assert len([e for e in logs if e["event"] == "auth_refused"]) == 20

    # another address has its own budget
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{port(api)}",
                                 timeout=SAFETY) as other:
        assert (await other.post("/api/v2/alerts", content=alert, headers=wrong)).status_code == 401
