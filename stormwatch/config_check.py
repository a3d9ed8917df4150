"""`stormwatch config check`: the effective settings with secrets masked, and what in them is wrong or risky.

Findings are data (``Finding``): a stable ``code`` for scripts, a ``message`` saying what is the matter and a ``fix``
saying what to change. The checks that need no I/O are plain functions of the settings and the rule set; the Redis
check asks the real server (``CONFIG GET``, else ``INFO persistence``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from typing import Any

from rules.schema import RuleSet
from stormwatch.auth import parse_tokens
from stormwatch.config import _SECRET_FIELDS, Settings, redact_url
from stormwatch.rules_admin import actions_mode

MASK = "***"

#: where an action's URL must not reach unless an operator means it: private, loopback, link-local, shared, ULA
_PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10",
    "::1/128", "fc00::/7", "fe80::/10"))


@dataclass(frozen=True, slots=True)
class Finding:
    code: str  # no_api_tokens | example_rules | actions_private_networks | redis_not_persistent | redis_unreachable |
    #            no_tls | tls_unreadable | tls_invalid
    message: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def effective_settings(settings: Settings) -> dict[str, Any]:
    """Every setting as ``STORMWATCH_NAME -> value``, secrets masked: URLs lose their password, tokens and the HMAC
    secret show only whether they are set (tokens by name and role)."""
    out: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name in _SECRET_FIELDS:
            value = _masked(name, value)
        elif isinstance(value, tuple):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        out[f"STORMWATCH_{name.upper()}"] = value
    return out


def _masked(name: str, value: str) -> str:
    if name.endswith("_url"):
        return redact_url(value)
    if name == "api_tokens":
        return ",".join(f"{t.name}:{t.role}:{MASK}" for t in parse_tokens(value))
    return MASK if value else ""


def static_findings(settings: Settings, rule_set: RuleSet | None) -> list[Finding]:
    """What the settings and the rule set say on their own, without asking any server."""
    findings = []
    if not settings.auth_disabled and not parse_tokens(settings.api_tokens):
        refused = "the API and the console" if settings.ingest_hmac_secret else "the API, the console and ingest"
        findings.append(Finding(
            "no_api_tokens", f"no API tokens: {refused} refuse everyone (401)",
            "set STORMWATCH_API_TOKENS (name:role:token,...; see docs/api.md)"))
    if settings.auth_disabled:
        findings.append(Finding(
            "auth_disabled", "STORMWATCH_AUTH_DISABLED=true: anyone who reaches the HTTP port may ingest, change "
            "incidents and reload rules", "unset STORMWATCH_AUTH_DISABLED and set STORMWATCH_API_TOKENS"))
    if settings.rules == "examples":
        findings.append(Finding(
            "example_rules", "STORMWATCH_RULES=examples: the shipped example rules are in use, with their actions "
            "(pages, kubectl cordon, webhooks)", "point STORMWATCH_RULES at your own rules directory, or 'none'"))
    mode = actions_mode(rule_set, settings.actions_shadow)["mode"]
    open_to = [n for n in settings.actions_allowed_networks if _reaches_private(n)]
    if mode == "live" and settings.actions_enabled and open_to:
        findings.append(Finding(
            "actions_private_networks", f"actions run live and their URL guard lets them reach private or "
            f"loopback addresses: STORMWATCH_ACTIONS_ALLOWED_NETWORKS={','.join(open_to)}",
            "narrow STORMWATCH_ACTIONS_ALLOWED_NETWORKS to the hosts actions must reach (e.g. 10.1.2.3/32), or "
            "STORMWATCH_ACTIONS_SHADOW=true while you try the rules"))
    findings.extend(tls_findings(settings))
    host = settings.http_address[0]
    if settings.metrics_enabled and not settings.http_tls and not _loopback(host):
        findings.append(Finding(
            "no_tls", f"the HTTP server listens on {host} and serves plain HTTP: tokens and incidents cross the "
            "network in clear",
            "set STORMWATCH_HTTP_TLS_CERT_FILE and STORMWATCH_HTTP_TLS_KEY_FILE, or put a TLS proxy in front and bind "
            "STORMWATCH_HTTP_HOST to 127.0.0.1 (or a private interface the proxy alone reaches)"))
    return findings


def tls_findings(settings: Settings) -> list[Finding]:
    """The TLS certificate and key: files that exist, can be read, and load as a pair (the server would not start)."""
    if not settings.http_tls:
        return []
    from stormwatch.http import HttpTls, HttpTlsError, tls_context

    for variable, path in (("STORMWATCH_HTTP_TLS_CERT_FILE", settings.http_tls_cert_file),
                           ("STORMWATCH_HTTP_TLS_KEY_FILE", settings.http_tls_key_file)):
        try:
            with open(path, "rb") as file:
                file.read(1)
        except OSError as exc:
            return [Finding("tls_unreadable", f"{variable}={path!r} cannot be read ({exc.strerror or exc}): the HTTP "
                            "server will not start", f"point {variable} at a PEM file the service's user can read")]
    try:
        tls_context(HttpTls(settings.http_tls_cert_file, settings.http_tls_key_file))
    except HttpTlsError as exc:
        return [Finding("tls_invalid", f"{exc}: the HTTP server will not start",
                        "use a PEM certificate (chain) and the unencrypted PEM private key that belongs to it")]
    return []


def _reaches_private(network: str) -> bool:
    net = ipaddress.ip_network(network, strict=False)
    return any(net.version == p.version and net.overlaps(p) for p in _PRIVATE_NETWORKS)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, it is not known to be this machine only


async def redis_findings(settings: Settings) -> list[Finding]:
    """Ask the real Redis whether it keeps data across a restart (RDB snapshots or the AOF)."""
    from stormwatch.redis_client import redis_client

    redis = redis_client(settings, socket_connect_timeout=3, socket_timeout=5)
    try:
        try:
            await redis.ping()
        except Exception as exc:  # noqa: BLE001 - unreachable is itself the finding
            return [Finding("redis_unreachable", f"Redis is not answering at {redact_url(settings.redis_url)} "
                            f"({type(exc).__name__}): its persistence cannot be checked",
                            "start Redis or fix STORMWATCH_REDIS_URL, then check again")]
        persistent = await _persistent(redis)
    finally:
        await redis.aclose()
    if persistent is None or persistent:
        return []
    return [Finding("redis_not_persistent", "Redis keeps incidents, timers and action state only in memory (no RDB "
                    "snapshots, no AOF): a Redis restart loses them",
                    "turn the AOF on (appendonly yes, appendfsync everysec) or RDB snapshots (save ...)")]


async def _persistent(redis: Any) -> bool | None:
    """True when RDB snapshots or the AOF are on; None when the server would not say."""
    try:
        config = await redis.config_get("save") | await redis.config_get("appendonly")
        save = _text(config.get("save", ""))
        return bool(save.strip()) or _text(config.get("appendonly", "no")) == "yes"
    except Exception:  # noqa: BLE001, S110 - CONFIG is often disabled on managed Redis: ask INFO instead
        pass
    try:
        info = await redis.info("persistence")
    except Exception:  # noqa: BLE001
        return None
    return bool(int(info.get("aof_enabled", 0))) or None  # INFO does not tell whether snapshots are scheduled


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
