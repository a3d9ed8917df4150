"""``stormwatch tokens create`` and ``stormwatch --version`` as a person runs them (subprocess): the printed entry
is what STORMWATCH_API_TOKENS takes, and a real server started with it accepts the token for its role."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest

from stormwatch.auth import parse_tokens
from tests.integration.api_helpers import bearer, start_api
from tests.integration.helpers import run_cli


def _printed(out: str) -> tuple[str, str]:
    """(the token, the STORMWATCH_API_TOKENS entry) from the command's output."""
    lines = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    token, entry = lines
    return token, entry


async def test_a_created_token_authenticates_against_a_real_server(clean):
    code, out, err = await run_cli(clean, "tokens", "create", "night-shift", "--role", "respond")
    assert code == 0, err
    token, entry = _printed(out)
    assert entry == f"night-shift:respond:{token}" and "STORMWATCH_API_TOKENS" in out
    assert len(token) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token)  # 256 random bits, URL-safe
    (parsed,) = parse_tokens(entry)
    assert (parsed.name, parsed.role) == ("night-shift", "respond")

    async for api in start_api(clean, api_tokens=f"{entry},other:read:read-token-0123456789abcdef"):
        listed = await api.client.get("/api/v1/incidents", headers=bearer(token))
        assert listed.status_code == 200
        who = await api.client.get("/api/v1/whoami", headers=bearer(token))
        assert who.json()["name"] == "night-shift" and who.json()["role"] == "respond"
        reload = await api.client.post("/api/v1/rules/reload", headers=bearer(token))
        assert (reload.status_code, reload.json()["reason"]) == (403, "role")  # respond is not admin


async def test_two_tokens_differ(clean):
    tokens = set()
    for _ in range(2):
        code, out, err = await run_cli(clean, "tokens", "create", "bot", "--role", "ingest")
        assert code == 0, err
        tokens.add(_printed(out)[0])
    assert len(tokens) == 2


@pytest.mark.parametrize(("args", "named"), [
    (("bad name", "--role", "read"), "NAME"),
    (("ops:1", "--role", "read"), "NAME"),
    (("ops", "--role", "root"), "--role"),
])
async def test_a_bad_name_or_role_is_refused_naming_it(clean, args, named):
    code, out, err = await run_cli(clean, "tokens", "create", *args)
    assert code == 2 and named in err and out == ""


async def test_version_is_the_installed_package_version(clean):
    code, out, err = await run_cli(clean, "--version")
    assert code == 0, err
    assert out.strip() == f"stormwatch {version('stormwatch')}"
