"""A real Request Tracker (Debian's ``request-tracker5``) for a test module: its own copy of the SQLite database the
package set up, its own site configuration (``RT_SITE_CONFIG``, ``RT_SITE_CONFIG_DIR``), ``rt-server`` on a free
loopback port, stopped by its process id afterwards. Missing RT skips locally and fails under CI=true."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import eventually, missing_tool

RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
RT_DATABASE = Path("/var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb")  # what the package's dbconfig made
USER, PASSWORD = "root", "password"  # the account the package creates


@dataclass
class RequestTracker:
    url: str
    auth: str  #: the Authorization header value (HTTP Basic)

    async def get(self, path: str) -> Any:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.get(self.url + path, headers={"Authorization": self.auth})
            answer.raise_for_status()
            return answer.json()

    async def post(self, path: str, body: Any, method: str = "POST") -> Any:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.request(method, self.url + path, json=body, headers={"Authorization": self.auth})
            answer.raise_for_status()
            return answer.json()

    async def tickets_about(self, incident_id: str) -> list[dict[str, Any]]:
        query = f"Subject LIKE '{incident_id}:'"
        return (await self.get(f"/REST/2.0/tickets?query={httpx.QueryParams({'q': query})['q']}"))["items"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _installed() -> bool:
    return RT_SERVER.exists() and RT_DATABASE.exists()


async def request_tracker(tmp_path: Path) -> AsyncIterator[RequestTracker]:
    if not _installed():
        missing_tool("Request Tracker missing (apt-get install --no-install-recommends request-tracker5)")
    home = tmp_path / "rt"
    (home / "site.d").mkdir(parents=True)
    shutil.copyfile(RT_DATABASE, home / "rtdb")
    port = _free_port()
    (home / "site.pm").write_text(f"""
Set($DatabaseType, 'SQLite');
Set($DatabaseName, '{home / "rtdb"}');
Set($rtname, 'stormwatch-test');
Set($Organization, 'stormwatch-test');
Set($WebDomain, '127.0.0.1');
Set($WebPort, {port});
Set($CorrespondAddress, 'rt@stormwatch.test');
Set($CommentAddress, 'rt-comment@stormwatch.test');
Set($LogToSyslog, undef);
Set($LogToSTDERR, 'error');
Set($Timezone, 'UTC');
1;
""")
    env = os.environ | {"RT_SITE_CONFIG": str(home / "site.pm"), "RT_SITE_CONFIG_DIR": str(home / "site.d")}
    log = (home / "rt-server.log").open("wb")
    process = await asyncio.create_subprocess_exec(str(RT_SERVER), "--port", str(port), cwd=str(home), env=env,
                                                   stdout=log, stderr=log)
    rt = RequestTracker(f"http://127.0.0.1:{port}",
                        "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())

    async def up() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"rt-server exited {process.returncode}: {(home / 'rt-server.log').read_text()}")
        try:
            await rt.get("/REST/2.0/queues/all")
            return True
        except (httpx.HTTPError, ValueError):
            return False

    try:
        await eventually(up, timeout=90, what="Request Tracker answering REST 2")
        yield rt
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
