"""Templates: sandboxed, strict, label values stay data; secrets resolved, masked and scrubbed."""

from __future__ import annotations

import html
import json
from urllib.parse import quote, quote_plus

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- escaping: values from alerts are escaped for where they land; the rule author's own text is kept -----------------

def test_slack_text_escapes_inserted_values_and_keeps_the_template_s_own_markup() -> None:
    labels = ctx(node="<!channel> & <https://evil.example|Click to acknowledge>")
    text = Renderer().render("<!here> *{{ labels.node }}* <https://grafana.example/d?x=1&y=2|dashboard>", labels,
                             "slack")
    assert text == ("<!here> *&lt;!channel&gt; &amp; &lt;https://evil.example|Click to acknowledge&gt;* "
                    "<https://grafana.example/d?x=1&y=2|dashboard>")
    assert Renderer().render("{{ labels.node }}", labels) == labels["labels"]["node"]  # plain text: as is


def test_html_bodies_escape_inserted_values() -> None:
    body = Renderer().render("<p>{{ labels.node }}</p>", ctx(node="<script>alert('x')</script>"), "html")
    assert body == "<p>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</p>"


@pytest.mark.parametrize(("label", "path"), [
    ("../admin", "/hook/..%2Fadmin"), ("a/b", "/hook/a%2Fb"), ("%2e%2e", "/hook/%252e%252e"),
    ("x?admin=1#f", "/hook/x%3Fadmin%3D1%23f"), ("db 1", "/hook/db%201"), ("ünï", "/hook/%C3%BCn%C3%AF")])
def test_a_value_in_a_url_path_stays_one_segment(label: str, path: str) -> None:
    url = Renderer().render_url("https://h.example/hook/{{ labels.node }}", ctx(node=label))
    assert url == f"https://h.example{path}"


def test_a_value_in_a_url_query_stays_one_value() -> None:
    url = Renderer().render_url("https://h.example/q?service={{ labels.node }}&x=1#{{ labels.node }}",
                                ctx(node="a&admin=1 +/"))
    assert url == "https://h.example/q?service=a%26admin%3D1%20%2B%2F&x=1#a%26admin%3D1%20%2B%2F"


@pytest.mark.parametrize("label", ["..", "."])
def test_a_dot_segment_from_a_value_is_refused(label: str) -> None:
    with pytest.raises(TemplateFailed, match="segment"):
        Renderer().render_url("https://h.example/hook/{{ labels.node }}/x", ctx(node=label))


def test_url_placeholders_cannot_be_forged_and_cached_templates_render_afresh() -> None:
    renderer = Renderer()
    template = "https://h.example/a/{{ labels.node }}?k={{ 'v w' }}"
    assert renderer.render_url(template, ctx(node="sw0x0z")) == "https://h.example/a/sw0x0z?k=v%20w"
    assert renderer.render_url(template, ctx(node="b/c")) == "https://h.example/a/b%2Fc?k=v%20w"
    assert renderer.render_url("https://h.example/plain?a=b c", ctx()) == "https://h.example/plain?a=b c"


# -- secrets scrubbed in every form, before encoding -----------------------------------------------------------------

def _decoded_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_decoded_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _decoded_strings(v)]
    return []


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1), st.text(min_size=1))
def test_any_secret_text_is_scrubbed_in_every_form_it_is_echoed_in(head: str, tail: str) -> None:
    secret = f"{head}SECRET-7f3a{tail}"  # arbitrary text around a marker no scaffolding contains
    secrets = Secrets({"TOKEN": secret})
    secrets.resolve(SecretRef(secret_env="TOKEN"))
    echoed = [secret, orjson.dumps(secret).decode(), json.dumps(secret), repr(secret), repr(secret.encode()),
              quote(secret, safe=""), quote_plus(secret), html.escape(secret), json.dumps(quote(secret, safe=""))]
    output = {"status": 200, "response": " | ".join(echoed), secret: [secret, {"nested": repr(ValueError(secret))}]}
    scrubbed = secrets.scrub_data(output)
    encoded = orjson.dumps(scrubbed).decode()
    assert not any(secret in s for s in _decoded_strings(orjson.loads(encoded)))
    assert not any(form in encoded for form in echoed)
    assert secret not in secrets.scrub(f"error: {echoed!r}")


def test_a_secret_cut_by_truncation_leaves_no_prefix() -> None:
    from actions.executor import truncate

    secrets = Secrets({"TOKEN": "tok-0123456789abcdef"})
    secrets.resolve(SecretRef(secret_env="TOKEN"))
    cut = truncate("x" * 90 + "tok-0123456789abcdef", 100)
    assert "tok-01234" in cut
    assert secrets.scrub(cut) == "x" * 90 + MASK + "... [10 more characters]"


def test_text_that_merely_looks_truncated_is_left_alone() -> None:
    secrets = Secrets({"TOKEN": "g-0123456789"})
    secrets.resolve(SecretRef(secret_env="TOKEN"))
    assert secrets.scrub("loading... [done]") == "loading... [done]"


def test_templates_name_the_changes_linked_to_the_incident() -> None:
    change = {"id": "c-1", "service": "db", "summary": "deploy v2", "reason": "deploy of db 4m before; the "
              "incident's own service"}
    event = {"event_id": "e", "type": "incident.created", "incident": {"id": "INC-a-1", "changes": [change]}}
    text = "{% for c in changes %}{{ c.summary }}: {{ c.reason }}{% endfor %}"
    assert Renderer().render(text, context(event, [], "notify")) == "deploy v2: deploy of db 4m before; the " \
                                                                      "incident's own service"
    assert Renderer().render("{{ changes | length }}", ctx()) == "0"
