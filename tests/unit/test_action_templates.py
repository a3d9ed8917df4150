"""Templates: sandboxed, strict, label values stay data; secrets resolved, masked and scrubbed."""

from __future__ import annotations

import pytest

from actions.templates import MASK, Renderer, SecretMissing, Secrets, TemplateFailed, common, context, value
from rules.action_schema import SecretRef

EVIL = ["$(rm -rf /)", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "`id`; echo pwned", "{% raw %}"]


def ctx(**labels: str) -> dict:
    event = {"event_id": "e", "type": "incident.created", "incident": {"id": "INC-a-1", "title": "t",
                                                                        "group_labels": {"service": "db"}}}
    return context(event, [{"labels": {"node": "n1", **labels}, "annotations": {"summary": "s"}}], "fix")


@pytest.mark.parametrize("evil", EVIL)
def test_label_values_are_rendered_as_inert_text(evil: str) -> None:
    r = Renderer()
    assert r.render("{{ labels.payload }}", ctx(payload=evil)) == evil
    assert r.render("x-{{ labels.payload | tojson }}", ctx(payload=evil)).startswith('x-"')


def test_the_sandbox_refuses_unsafe_templates() -> None:
    with pytest.raises(TemplateFailed):
        Renderer().render("{{ ''.__class__.__mro__ }}", ctx())


def test_undefined_variables_fail_instead_of_rendering_empty() -> None:
    with pytest.raises(TemplateFailed, match="nope"):
        Renderer().render("kubectl cordon {{ labels.nope }}", ctx())


def test_context_labels_are_the_common_labels_plus_the_group_labels() -> None:
    c = context({"incident": {"group_labels": {"service": "db"}}},
                [{"labels": {"node": "a", "env": "prod"}}, {"labels": {"node": "b", "env": "prod"}}], "x")
    assert c["labels"] == {"env": "prod", "service": "db"}
    assert common([]) == {}


def test_secrets_resolve_mask_and_scrub() -> None:
    secrets = Secrets({"TOKEN": "s3cr3t-value"})
    real, shown = value(SecretRef(secret_env="TOKEN"), Renderer(), ctx(), secrets)
    assert (real, shown) == ("s3cr3t-value", "<secret:TOKEN>")
    assert secrets.scrub("server echoed Bearer s3cr3t-value back") == f"server echoed Bearer {MASK} back"
    with pytest.raises(SecretMissing, match="MISSING"):
        Secrets({}).resolve(SecretRef(secret_env="MISSING"))


def test_rendering_can_never_change_an_http_target() -> None:
    from actions.http_executor import _same_target

    assert _same_target("https://h.example/x/{{ a }}", "https://h.example/x/..@evil") == "https://h.example/x/..@evil"
    with pytest.raises(TemplateFailed, match="evil"):
        _same_target("https://h.example{{ a }}", "https://h.example.evil.com/")
