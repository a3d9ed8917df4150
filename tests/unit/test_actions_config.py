"""Action settings from the environment: comma-separated allowlists, networks checked, defaults safe."""

from __future__ import annotations

import pytest

from stormwatch.actions_app import url_policy
from stormwatch.config import SettingsError, load_settings


def test_defaults_are_https_only_with_no_private_networks() -> None:
    s = load_settings()
    assert (s.actions_enabled, s.actions_shadow) == (True, False)
    policy = url_policy(s)
    assert policy.schemes == {"https"} and policy.ports == {80, 443} and policy.allowed_networks == ()


def test_allowlists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMWATCH_ACTIONS_ALLOWED_SCHEMES", "http, https")
    monkeypatch.setenv("STORMWATCH_ACTIONS_ALLOWED_HOSTS", "*.example.com,itsm.internal")
    monkeypatch.setenv("STORMWATCH_ACTIONS_ALLOWED_PORTS", "443,8443")
    monkeypatch.setenv("STORMWATCH_ACTIONS_ALLOWED_NETWORKS", "10.1.0.0/16")
    monkeypatch.setenv("STORMWATCH_ACTIONS_SHADOW", "true")
    s = load_settings()
    assert s.actions_shadow is True
    policy = url_policy(s)
    assert policy.check_url("http://itsm.internal:8443/x") == ("itsm.internal", 8443)
    assert policy.hosts == ("*.example.com", "itsm.internal") and policy.ports == {443, 8443}


def test_a_bad_network_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMWATCH_ACTIONS_ALLOWED_NETWORKS", "not-a-net")
    with pytest.raises(SettingsError, match="STORMWATCH_ACTIONS_ALLOWED_NETWORKS"):
        load_settings()
