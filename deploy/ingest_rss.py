"""RSS of a real `stormwatch serve` while large labels are posted to it and event-stream clients stop reading.

    .venv/bin/python deploy/ingest_rss.py [--requests 20] [--label-bytes 900000] [--stalled 3]

Starts `python -m stormwatch.cli serve` in its own namespace on a free port, opens ``--stalled`` event-stream
clients that read the response head and then nothing more, posts ``--requests`` generic alerts one per request,
each with a ``service`` label of ``--label-bytes`` bytes (every alert its own group, so every one opens an incident and
its events flow to the stalled clients), then prints the serve process's VmRSS before, at its peak and at the end,
and what the server answered. The namespace is deleted afterwards. Issue 13's probe: 30 alerts with 900 KB labels,
3 stalled stream clients. Run it in two checkouts (PYTHONPATH=<checkout>) to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
import orjson

from stormwatch.tools.bench_workers import rss_mib

TOKEN = "rss-admin-token-0123456789"  # noqa: S105 - a throwaway server's token



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def stalled_client(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
                            .encode())
    head = b""
    while b"event: hello" not in head:
        head += await loop.sock_recv(sock, 1024)
    return sock


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    namespace = f"rss-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "STORMWATCH_NAMESPACE": namespace, "STORMWATCH_HTTP_PORT": str(port),
           "STORMWATCH_API_TOKENS": f"rss:admin:{TOKEN}", "STORMWATCH_ACTIONS_ENABLED": "false",
           "STORMWATCH_LOG_LEVEL": "warning", "STORMWATCH_LOG_FORMAT": "json",
           "STORMWATCH_RULES": "none"}  # default grouping: every alert (its own service) opens an incident
    serve = subprocess.Popen([sys.executable, "-m", "stormwatch.cli", "serve"], env=env,  # noqa: ASYNC220 - returns at once
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                               headers={"Authorization": f"Bearer {TOKEN}"})
    socks: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or serve.poll() is not None:
                raise SystemExit("serve did not become ready")
            await asyncio.sleep(0.2)
        socks = [await stalled_client(port) for _ in range(args.stalled)]
        start = rss_mib(serve.pid)
        peak = start
        answers: dict[int, int] = {}
        for n in range(args.requests):
            value = f"{n:06d}" + "x" * (args.label_bytes - 6)
            alert = {"labels": {"alertname": "RssProbe", "service": value}}  # a group label: in every event
            answer = await client.post("/api/v1/alerts", content=orjson.dumps(alert))
            answers[answer.status_code] = answers.get(answer.status_code, 0) + 1
            peak = max(peak, rss_mib(serve.pid))
        settle = time.monotonic() + args.settle
        while time.monotonic() < settle:  # let the worker drain what was accepted
            peak = max(peak, rss_mib(serve.pid))
            await asyncio.sleep(0.2)
        end = rss_mib(serve.pid)
        metrics = (await client.get("/metrics")).text
        dropped = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                      if line.startswith("stormwatch_stream_clients_dropped_total{"))
        print(f"requests {args.requests} x label {args.label_bytes} B, stalled clients {args.stalled}: "
              f"answers {dict(sorted(answers.items()))}; RSS MiB start {start:.1f} peak {peak:.1f} end {end:.1f} "
              f"(+{end - start:.1f}); stream clients dropped {dropped:.0f}")
    finally:
        for sock in socks:
            sock.close()
        await client.aclose()
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
        from stormwatch.config import load_settings
        from stormwatch.namespace import delete_namespace

        await delete_namespace(load_settings(namespace=namespace))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--label-bytes", type=int, default=900_000)
    parser.add_argument("--stalled", type=int, default=3)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to keep sampling after the last post")
    asyncio.run(main(parser.parse_args()))
