"""Tokens, roles and signatures (stormwatch.auth): pure, no server."""

from __future__ import annotations

import pytest

from stormwatch.auth import AuthError, Authenticator, new_token, parse_tokens, sign, token_entry
from stormwatch.config import SettingsError, load_settings

TOKEN = "t0ken-0123456789abcdef"


def auth(text: str = f"ops:admin:{TOKEN},bot:ingest:ingest-0123456789abcdef", secret: str = "s3cret",
         now: float = 1_000_000.0, disabled: bool = False) -> Authenticator:
    return Authenticator(parse_tokens(text), secret, disabled=disabled, clock=lambda: now)


def test_both_token_formats_parse_and_keep_no_token():
    tokens = parse_tokens(f'[{{"name": "ops", "role": "admin", "token": "{TOKEN}"}}]')
    assert [(t.name, t.role) for t in tokens] == [("ops", "admin")]
    assert TOKEN not in repr(tokens)
    assert [t.name for t in parse_tokens(f"a:read:{TOKEN}\nb:respond:{TOKEN}x")] == ["a", "b"]


@pytest.mark.parametrize(("text", "message"), [
    (f"ops:root:{TOKEN}", "role must be one of"),
    ("ops:admin:short", "at least 16"),
    (f"ops:admin:{TOKEN},ops:read:{TOKEN}", "used twice"),
    ("justonepart", "name:role:token"),
    ("[{]", "JSON"),
])
def test_bad_token_lists_are_refused_without_echoing_tokens(text, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_tokens(text)
    assert TOKEN not in str(info.value)


def test_bad_tokens_setting_names_the_variable_and_hides_the_value(monkeypatch):
    monkeypatch.setenv("STORMWATCH_API_TOKENS", f"ops:root:{TOKEN}")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "STORMWATCH_API_TOKENS" in str(info.value) and TOKEN not in str(info.value)


def test_roles_and_capabilities():
    a = auth()
    assert a.bearer({"authorization": f"Bearer {TOKEN}"}, "admin").name == "ops"
    assert a.bearer({"authorization": "Bearer ingest-0123456789abcdef"}, "ingest").role == "ingest"
    with pytest.raises(AuthError) as info:
        a.bearer({"authorization": "Bearer ingest-0123456789abcdef"}, "read")
    assert (info.value.status, info.value.reason) == (403, "role")
    with pytest.raises(AuthError) as info:
        a.bearer({"authorization": "Bearer nope"}, "read")
    assert (info.value.status, info.value.reason) == (401, "unknown_token")
    assert a.bearer({}, "read") is None
    assert auth(disabled=True).bearer({}, "admin").name == "anonymous"
    assert not auth("", secret="").configured


def test_signatures_bind_body_and_time():
    a = auth(now=1_000_000.0)
    body = b'[{"labels":{"a":"b"}}]'
    principal, mac = a.signature(sign("s3cret", body, 1_000_000), body)
    assert principal.role == "ingest" and len(mac) == 64
    a.signature(sign("s3cret", body, 1_000_000 - 300), body)  # exactly five minutes: still fine
    for header, reason in ((sign("s3cret", body, 1_000_000 - 301), "stale_signature"),
                           (sign("s3cret", body, 1_000_000 + 301), "stale_signature"),
                           (sign("other", body, 1_000_000), "bad_signature"),
                           (sign("s3cret", body + b"x", 1_000_000), "bad_signature"),
                           ("t=x,v1=y", "malformed")):
        with pytest.raises(AuthError) as info:
            a.signature(header, body)
        assert info.value.reason == reason
    with pytest.raises(AuthError):
        auth(secret="").signature(sign("", body, 1_000_000), body)


def test_a_bearer_token_without_configured_tokens_says_so():
    """Only a signing secret configured: a bearer token is refused as 'no tokens configured', not as unknown."""
    with pytest.raises(AuthError) as info:
        auth("", secret="s3cret").bearer({"authorization": f"Bearer {TOKEN}"}, "read")
    assert (info.value.status, info.value.reason) == (401, "no_tokens_configured")
    assert TOKEN not in info.value.message


def test_new_tokens_are_random_and_their_entries_parse():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(t) >= 43 for t in tokens)
    entry = token_entry("night-shift", "respond", tokens.pop())
    parsed, _ = parse_tokens(f"{entry},{token_entry('bot', 'ingest', new_token())}")
    assert (parsed.name, parsed.role) == ("night-shift", "respond")


def test_what_a_signature_header_decides_before_the_body():
    a = auth(now=1_000_000.0)
    a.signature_header(sign("s3cret", b"any body", 1_000_000))  # in the window: the body decides the rest
    for header, reason in ((sign("s3cret", b"", 1_000_000 - 301), "stale_signature"),
                           ("t=1000000", "malformed"), ("t=x,v1=00", "malformed"), ("nonsense", "malformed")):
        with pytest.raises(AuthError) as info:
            a.signature_header(header)
        assert info.value.reason == reason
    with pytest.raises(AuthError) as info:
        auth(secret="").signature_header(sign("", b"", 1_000_000))
    assert info.value.reason == "no_signing_secret"
