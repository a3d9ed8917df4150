"""The HTTP server's limits hold over TLS too: the guarded protocol (stormwatch/http_protocol.py) serves https
connections as it serves plain ones. Raw TLS sockets against a real worker with a certificate made by the test; the
tests wait for the server's answers, never for a guessed duration."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from tests.integration.api_helpers import INGEST, READ, start_api
from tests.integration.helpers import metric
from tests.integration.tls import make_certificates

SAFETY = 20.0


@pytest.fixture
async def tls_api(clean, tmp_path):
    certs = make_certificates(tmp_path)
    async for api in start_api(clean, http_header_timeout_seconds=0.5, http_body_timeout_seconds=0.5,
                               http_tls_cert_file=str(certs.cert_file), http_tls_key_file=str(certs.key_file)):
        yield api, ssl.create_default_context(cafile=str(certs.ca_file))


async def _connect(api, context):
    return await asyncio.open_connection("127.0.0.1", api.worker.ops.bound_port, ssl=context,
                                         server_hostname="127.0.0.1")


async def test_https_answers_with_the_scheme_and_cuts_slow_headers_and_bodies(tls_api):
    api, context = tls_api
    reader, writer = await _connect(api, context)
    writer.write(f"GET /api/v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {READ}\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SAFETY)
    assert head.startswith(b"HTTP/1.1 200 ")
    writer.close()

    reader, writer = await _connect(api, context)  # headers that never end: 408 and a close, counted
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), SAFETY)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert metric(api.worker, "stormwatch_http_timeouts_total", {"phase": "headers"}) == 1

    reader, writer = await _connect(api, context)  # an authorised body that never arrives: 408, counted
    writer.write(f"POST /api/v2/alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                 f"Authorization: Bearer {INGEST}\r\n\r\n[".encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), SAFETY)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert metric(api.worker, "stormwatch_http_timeouts_total", {"phase": "body"}) == 1


async def test_a_client_that_does_not_trust_the_certificate_is_refused(tls_api):
    api, _ = tls_api
    with pytest.raises(ssl.SSLCertVerificationError):
        await _connect(api, ssl.create_default_context())  # the system's CAs only
    reader, writer = await _connect(api, tls_api[1])  # the server goes on
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    assert (await asyncio.wait_for(reader.read(), SAFETY)).startswith(b"HTTP/1.1 200 ")
    writer.close()
