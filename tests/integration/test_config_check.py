"""`stormwatch config check` as a subprocess against real Redis servers: the effective settings with secrets masked,
each risky finding by its code, and exit codes scripts can rely on (0 clean, 1 findings, 2 invalid)."""

from __future__ import annotations

import orjson

from tests.integration.api_helpers import ADMIN, SECRET, TOKENS
from tests.integration.helpers import run_cli
from tests.integration.redis_server import free_port

PASSWORD = "amqp-password-0123456789"


async def _check(settings, env: dict[str, str], *extra: str) -> tuple[int, dict]:
    code, out, err = await run_cli(settings, "config", "check", "--json", *extra, env=env)
    assert out.count("\n") == 1, (out, err)
    return code, orjson.loads(out)


async def test_every_risk_is_named_secrets_are_masked_and_the_exit_code_says_so(settings, own_redis):
    env = {"STORMWATCH_REDIS_URL": own_redis.url, "STORMWATCH_RULES": "examples",
           "STORMWATCH_ACTIONS_ALLOWED_NETWORKS": "203.0.113.0/24,10.0.0.0/8", "STORMWATCH_HTTP_HOST": "0.0.0.0",
           "STORMWATCH_AMQP_URL": f"amqp://guest:{PASSWORD}@127.0.0.1:5672/", "STORMWATCH_API_TOKENS": "",
           "STORMWATCH_INGEST_HMAC_SECRET": SECRET}
    code, doc = await _check(settings, env)
    assert code == 1
    codes = [f["code"] for f in doc["findings"]]
    assert sorted(codes) == sorted(["no_api_tokens", "example_rules", "actions_private_networks", "no_tls",
                                    "redis_not_persistent"])
    private = next(f for f in doc["findings"] if f["code"] == "actions_private_networks")
    assert "10.0.0.0/8" in private["message"] and "203.0.113.0/24" not in private["message"]
    shown = doc["settings"]
    assert shown["STORMWATCH_AMQP_URL"] == "amqp://guest:***@127.0.0.1:5672/"
    assert shown["STORMWATCH_INGEST_HMAC_SECRET"] == "***" and shown["STORMWATCH_HTTP_HOST"] == "0.0.0.0"
    assert shown["STORMWATCH_RULES"] == "examples"
    code, out, err = await run_cli(settings, "config", "check", env=env)  # for people: the same, as text
    assert code == 1 and "redis_not_persistent" in out and "STORMWATCH_ACTIONS_ALLOWED_NETWORKS" in out
    for text in (str(doc), out, err):
        assert PASSWORD not in text and SECRET not in text


async def test_a_safe_setup_has_no_findings_and_exits_zero(settings, own_redis):
    client = own_redis.client()
    try:
        await client.config_set("appendonly", "yes")  # the real server now keeps an AOF
    finally:
        await client.aclose()
    env = {"STORMWATCH_REDIS_URL": own_redis.url, "STORMWATCH_API_TOKENS": TOKENS, "STORMWATCH_RULES": "none",
           "STORMWATCH_HTTP_HOST": "127.0.0.1", "STORMWATCH_ACTIONS_ALLOWED_NETWORKS": "10.0.0.0/8"}
    code, doc = await _check(settings, env)
    assert (code, doc["findings"]) == (0, [])  # private networks allowed, but no rules: no action can run
    tokens = doc["settings"]["STORMWATCH_API_TOKENS"]
    assert tokens == "ops:admin:***,sre:respond:***,viewer:read:***,prometheus:ingest:***"
    code, out, _ = await run_cli(settings, "config", "check", env=env)
    assert code == 0 and "no findings" in out and ADMIN not in out


async def test_unreachable_redis_is_a_finding(settings):
    port = free_port()
    code, doc = await _check(settings, {"STORMWATCH_REDIS_URL": f"redis://:pw-0123456789@127.0.0.1:{port}/0",
                                        "STORMWATCH_API_TOKENS": TOKENS})
    assert code == 1
    (finding,) = doc["findings"]
    assert finding["code"] == "redis_unreachable" and f"127.0.0.1:{port}" in finding["message"]
    assert "pw-0123456789" not in str(doc)


async def test_invalid_settings_exit_two_naming_the_variable(settings, tmp_path):
    code, doc = await _check(settings, {"STORMWATCH_BATCH_SIZE": "0"})
    assert code == 2 and doc["valid"] is False
    assert any(e.startswith("STORMWATCH_BATCH_SIZE:") for e in doc["errors"]), doc
    (tmp_path / "bad.yaml").write_text("groups:\n  - name: g\n    match: ['alertname==\"X\"']\n")
    code, doc = await _check(settings, {"STORMWATCH_RULES": str(tmp_path)})
    assert code == 2 and doc["valid"] is False and any("bad.yaml" in e for e in doc["errors"]), doc


async def test_tls_files_are_checked(settings, own_redis, tmp_path):
    """STORMWATCH_HTTP_TLS_*: files that cannot be read or do not load as a pair are findings (the server would not
    start); a usable pair on a public address is no `no_tls` finding; one file without the other is invalid."""
    from tests.integration.tls import make_certificates

    certs = make_certificates(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_certificates(tmp_path / "other")
    client = own_redis.client()
    try:
        await client.config_set("appendonly", "yes")
    finally:
        await client.aclose()
    base = {"STORMWATCH_REDIS_URL": own_redis.url, "STORMWATCH_API_TOKENS": TOKENS, "STORMWATCH_RULES": "none",
            "STORMWATCH_HTTP_HOST": "0.0.0.0"}
    good = {**base, "STORMWATCH_HTTP_TLS_CERT_FILE": str(certs.cert_file),
            "STORMWATCH_HTTP_TLS_KEY_FILE": str(certs.key_file)}
    code, doc = await _check(settings, good)
    assert (code, doc["findings"]) == (0, [])
    code, doc = await _check(settings, {**good, "STORMWATCH_HTTP_TLS_KEY_FILE": str(tmp_path / "missing.pem")})
    assert code == 1 and [f["code"] for f in doc["findings"]] == ["tls_unreadable"]
    assert "STORMWATCH_HTTP_TLS_KEY_FILE" in doc["findings"][0]["message"]
    code, doc = await _check(settings, {**good, "STORMWATCH_HTTP_TLS_KEY_FILE": str(other.key_file)})
    assert code == 1 and [f["code"] for f in doc["findings"]] == ["tls_invalid"]
    code, doc = await _check(settings, {**base, "STORMWATCH_HTTP_TLS_CERT_FILE": str(certs.cert_file)})
    assert code == 2 and any("STORMWATCH_HTTP_TLS_KEY_FILE" in e for e in doc["errors"]), doc
    code, doc = await _check(settings, base)
    assert [f["code"] for f in doc["findings"]] == ["no_tls"]
