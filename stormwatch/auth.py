"""Who is calling: bearer tokens with roles, or an HMAC signature on ingest bodies.

Tokens come from ``STORMWATCH_API_TOKENS`` as ``name:role:token`` entries separated by commas (or newlines),
or as a JSON list of ``{"name", "role", "token"}`` objects. Roles, each including what it lists:

    ingest   POST alerts to the ingest endpoints (for senders: Prometheus, Alertmanager, scripts)
    read     GET incidents, silences, rules
    respond  read + acknowledge / resolve / reopen / assign / comment / re-prioritise, silences
    admin    respond + ingest + rules reload

Ingest endpoints also take ``X-Stormwatch-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256(``STORMWATCH_INGEST_HMAC_SECRET``, ``"<t>." + body``); signatures older (or newer) than five
minutes are refused. Every comparison is constant-time, and no token or secret is ever logged or echoed.

A refusal carries a short ``reason`` (``REFUSALS``) that the API puts in its 401/403 body and the console shows:
it says which of these cases it is and nothing more (never which tokens exist, nor a near miss).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from collections.abc import Callable, Mapping

import orjson

ROLES = ("ingest", "read", "respond", "admin")
CAPABILITIES: dict[str, frozenset[str]] = {
    "ingest": frozenset({"ingest"}),
    "read": frozenset({"read"}),
    "respond": frozenset({"read", "respond"}),
    "admin": frozenset({"read", "respond", "admin", "ingest"}),
}
SIGNATURE_HEADER = "x-stormwatch-signature"
SIGNATURE_MAX_AGE = 300.0  # seconds either side of now
ANONYMOUS = "anonymous"
#: the reasons a bearer request is refused (the API's ``reason`` field, the ``auth_refused`` log line and metric)
REFUSALS = {
    "no_tokens_configured": "the server has no API tokens configured (STORMWATCH_API_TOKENS)",
    "missing_token": "no token was sent",
    "malformed": "the Authorization header is not 'Bearer <token>'",
    "unknown_token": "the server does not know this token",
    "role": "the token's role may not do this",
    "unknown_routing_key": "the PagerDuty event's routing_key is no configured integration key",
}


@dataclass(frozen=True, slots=True)
class ApiToken:
    name: str
    role: str
    digest: bytes = field(repr=False)  # SHA-256 of the token: the token itself is not kept


@dataclass(frozen=True, slots=True)
class Principal:
    name: str  #: the token's name ("signature" for signed ingest, "anonymous" with auth disabled)
    role: str
    via: str  #: token | signature | disabled

    def can(self, capability: str) -> bool:
        return capability in CAPABILITIES.get(self.role, frozenset())


class AuthError(Exception):
    """Not authenticated (401) or not allowed (403); ``reason`` is a short code safe to log."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


TOKEN_BYTES = 32  #: new tokens: 256 random bits, URL-safe base64 (43 characters, never ':' or ',')


def new_token() -> str:
    """A new random API token (``stormwatch tokens create``, the demo's console token)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_entry(name: str, role: str, token: str) -> str:
    """One ``name:role:token`` entry of STORMWATCH_API_TOKENS."""
    return f"{name}:{role}:{token}"


def valid_name(name: str) -> bool:
    """A token's name: letters, digits, '-', '_' or '.' (it is recorded on timelines and in logs)."""
    return bool(name) and name.replace("-", "").replace("_", "").replace(".", "").isalnum() and name.isascii()


def parse_tokens(text: str) -> tuple[ApiToken, ...]:
    """The configured tokens; ValueError naming the bad entry by position and name (never its token)."""
    text = text.strip()
    if not text:
        return ()
    if text.startswith("["):
        try:
            items = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not a valid JSON list ({exc.msg})") from None
        entries = []
        for n, item in enumerate(items):
            if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("name", "role", "token")):
                raise ValueError(f"entry {n}: expected an object with string name, role and token")
            entries.append((n, item["name"], item["role"], item["token"]))
    else:
        entries = []
        for n, raw in enumerate(p.strip() for p in text.replace("\n", ",").split(",")):
            if not raw:
                continue
            parts = raw.split(":", 2)
            if len(parts) != 3:
                raise ValueError(f"entry {n}: expected name:role:token")
            name, role, token = parts
            entries.append((n, name, role, token))
    tokens: list[ApiToken] = []
    names: set[str] = set()
    for n, name, role, token in entries:
        if not valid_name(name):
            raise ValueError(f"entry {n}: the name must be letters, digits, '-', '_' or '.'")
        if role not in ROLES:
            raise ValueError(f"entry {n} ({name}): role must be one of {', '.join(ROLES)}")
        if len(token) < 16:
            raise ValueError(f"entry {n} ({name}): the token must be at least 16 characters")
        if name in names:
            raise ValueError(f"entry {n} ({name}): the name is used twice")
        names.add(name)
        tokens.append(ApiToken(name, role, _digest(token)))
    return tuple(tokens)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Stormwatch-Signature value for ``body`` at ``timestamp`` (what senders compute)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class Authenticator:
    def __init__(
        self, tokens: tuple[ApiToken, ...], hmac_secret: str, *, disabled: bool, clock: Callable[[], float]
    ) -> None:
        self.tokens = tokens
        self._secret = hmac_secret.encode("utf-8")
        self.disabled = disabled
        self.clock = clock

    @property
    def configured(self) -> bool:
        return self.disabled or bool(self.tokens) or bool(self._secret)

    def bearer(self, headers: Mapping[str, str], capability: str) -> Principal | None:
        """The caller by its bearer token; None when it sent none. Raises AuthError when it cannot do this."""
        if self.disabled:
            return Principal(ANONYMOUS, "admin", "disabled")
        value = headers.get("authorization")
        if not value:
            return None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "malformed", "Authorization must be 'Bearer <token>'")
        if not self.tokens:
            raise AuthError(401, "no_tokens_configured", "no API tokens are configured (STORMWATCH_API_TOKENS)")
        given = _digest(token.strip())
        found: ApiToken | None = None
        for candidate in self.tokens:  # no early exit: the time taken does not depend on which one matched
            if hmac.compare_digest(candidate.digest, given):
                found = candidate
        if found is None:
            raise AuthError(401, "unknown_token", "unknown token")
        principal = Principal(found.name, found.role, "token")
        if not principal.can(capability):
            raise AuthError(403, "role", f"token {found.name!r} (role {found.role}) may not {capability}")
        return principal

    def signature_header(self, header: str) -> None:
        """What can be checked before the body is read: signing is enabled, the header is well formed and its
        timestamp is within the window; AuthError otherwise. ``signature`` then verifies the body."""
        if not self._secret:
            raise AuthError(401, "no_signing_secret", "signed requests are not enabled (no ingest HMAC secret)")
        parts = dict(p.strip().partition("=")[::2] for p in header.split(","))
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError:
            raise AuthError(401, "malformed", "X-Stormwatch-Signature must be t=<unix seconds>,v1=<hex>") from None
        if not parts.get("v1"):
            raise AuthError(401, "malformed", "X-Stormwatch-Signature must be t=<unix seconds>,v1=<hex>")
        if abs(self.clock() - timestamp) > SIGNATURE_MAX_AGE:
            raise AuthError(401, "stale_signature", "the signature's timestamp is more than 5 minutes away")

    def signature(self, header: str, body: bytes) -> tuple[Principal, str]:
        """(the signed caller, the signature's hex) or AuthError; only for ingest."""
        self.signature_header(header)  # enabled, well formed, within the window: the same refusals as before the body
        parts = dict(p.strip().partition("=")[::2] for p in header.split(","))
        timestamp, given = int(parts["t"]), parts["v1"]
        expected = hmac.new(self._secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise AuthError(401, "bad_signature", "the signature does not match the body")
        return Principal("signature", "ingest", "signature"), given
