"""Hostile input, beyond ``test_normalise_properties`` (arbitrary JSON and bytes, alert-shaped bodies): huge label
sets, deep nesting, unicode edge cases, numbers and containers where strings belong, every rejection naming a
field; the HTTP receivers; the rule loader over arbitrary YAML/JSON documents; and label values that try to
inject through templates, command lines and URLs."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.command_executor import CommandExecutor
from actions.http_executor import HttpExecutor
from actions.templates import Renderer, Secrets, TemplateFailed, context
from actions.urlguard import UrlPolicy
from ingest.normalise import BodyRejected, normalise
from ingest.receivers import FORMAT_OF, field_of, receive
from rules.loader import RuleError, check_directory
from rules.schema import Action
from tests.unit.test_normalise_properties import NOW, bodies, check, encode, json_values

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ITEM_REASONS = {"dedup_key", "ends_before_start", "label_name", "no_labels", "schema", "time", "utf8"}
BODY_REASONS = {"too_large", "unknown_format", "invalid_json", "schema"}
ODD = ["\x00", "\u202e", "\ufeff", "\U0001f525", "a\r\nb", "\\", "'\"", "\u0301", "\uffff", "x" * 5000]
odd_text = st.text(max_size=40) | st.sampled_from(ODD)
not_strings = st.one_of(st.integers(), st.integers(min_value=2**64, max_value=2**80), st.floats(allow_nan=False,
                        allow_infinity=False), st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def rejections_name_fields(body: bytes, fmt: str | None) -> list[str]:
    """Normalise, check every rejection's reason and field; the field paths named."""
    try:
        result = normalise(body, now=NOW, format=fmt)
    except BodyRejected as exc:
        r = exc.rejection
        assert r.reason in BODY_REASONS, r
        assert r.detail.split(":", 1)[0].split(" ", 1)[0] in ("body", "format", "alerts"), r.detail
        return [field_of(r)]
    for r in result.rejections:
        assert r.reason in ITEM_REASONS, r
        path = field_of(r)
        assert path and path != r.detail and "\n" not in path, r.detail
    return [field_of(r) for r in result.rejections]


# -- normalisers -----------------------------------------------------------------------------------------------

@SETTINGS
@given(bodies, st.sampled_from([None, "generic", "alertmanager_v2", "alertmanager_webhook", "pagerduty"]))
def test_every_rejection_has_a_known_reason_and_names_a_field(body, fmt):
    rejections_name_fields(encode(body), fmt)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4000), odd_text, st.sampled_from(["generic", "alertmanager_v2"]))
def test_huge_label_sets(n, value, fmt):
    labels = {"alertname": "Huge"} | {f"l{i}": value for i in range(n)}
    body = encode([{"labels": labels, "annotations": {f"a{i}": value for i in range(n)}}])
    result = check(body, fmt)
    if len(body) > 1 << 20:  # over the default body limit: refused whole, with a reason (checked by check())
        assert result is None
        return
    assert result is not None
    if result.alerts:
        (alert,) = result.alerts
        assert len(alert.labels) == n + 1 if value else 1
    else:
        (rejection,) = result.rejections
        assert field_of(rejection).startswith(("[0].labels", "[0].annotations", "labels", "annotations"))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5000), st.sampled_from(["body", "label", "annotation", "payload"]),
       st.sampled_from(["[]", "{}"]))
def test_deep_nesting_is_rejected_not_a_recursion_error(depth, where, brackets):
    if brackets == "[]":
        nested = "[" * depth + "]" * depth
    else:
        nested = '{"k":' * (depth - 1) + "1" + "}" * (depth - 1)
    body = {
        "body": nested,
        "label": '[{"labels": {"alertname": "Deep", "x": ' + nested + '}}]',
        "annotation": '[{"labels": {"alertname": "Deep"}, "annotations": {"x": ' + nested + '}}]',
        "payload": '{"routing_key": "k", "event_action": "trigger", "payload": {"summary": "s", "source": "s", '
                   '"severity": "info", "custom_details": ' + nested + '}}',
    }[where].encode()
    for fmt in (None, "generic", "pagerduty"):
        check(body, fmt)
        rejections_name_fields(body, fmt)


@SETTINGS
@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), odd_text), min_size=1, max_size=6),
       st.sampled_from([True, False]))
def test_unicode_in_names_and_values(pairs, ascii_escapes):
    item = {"labels": {"alertname": "Uni", **dict(pairs)}, "annotations": dict(pairs)}
    raw = json.dumps([item], ensure_ascii=ascii_escapes).encode("utf-8", "surrogatepass")
    for fmt in (None, "generic", "alertmanager_v2"):
        check(raw, fmt)
        rejections_name_fields(raw, fmt)


@pytest.mark.parametrize("raw", [b'[{"labels":{"alertname":"\\ud800"}}]', b'[{"labels":{"alertname":"\xff"}}]',
                                 b'[{"labels":{"alertname":"a\\u0000b"}}]', b'\xef\xbb\xbf[]', b'[1e999]',
                                 b'[{"labels":{"alertname":"x"},"startsAt":1e309}]', b'{"alerts":' * 3000])
def test_byte_level_oddities(raw):
    check(raw, None)
    rejections_name_fields(raw, None)


V2 = {"labels": {"alertname": "A", "job": "j"}, "annotations": {"summary": "s"}, "startsAt": "2024-05-01T12:00:00Z",
      "endsAt": "2024-05-01T13:00:00Z", "generatorURL": "http://p/g"}
PD = {"routing_key": "k" * 32, "event_action": "trigger", "dedup_key": "d",
      "payload": {"summary": "s", "source": "src", "severity": "info", "component": "c", "group": "g", "class": "x"}}
GENERIC = {"labels": {"alertname": "A"}, "annotations": {"summary": "s"}, "status": "firing", "source": "s",
           "starts_at": "2024-05-01T12:00:00Z", "generator_url": "http://g", "fingerprint": "f"}
STRING_FIELDS = [
    ("alertmanager_v2", [V2], (0, "labels", "alertname")), ("alertmanager_v2", [V2], (0, "labels", "job")),
    ("alertmanager_v2", [V2], (0, "annotations", "summary")), ("alertmanager_v2", [V2], (0, "startsAt")),
    ("alertmanager_v2", [V2], (0, "endsAt")), ("alertmanager_v2", [V2], (0, "generatorURL")),
    ("alertmanager_webhook", {"version": "4", "alerts": [V2 | {"status": "firing"}]}, ("alerts", 0, "status")),
    ("alertmanager_webhook", {"version": "4", "alerts": [V2 | {"status": "firing"}]}, ("alerts", 0, "labels", "job")),
    ("pagerduty", PD, ("event_action",)), ("pagerduty", PD, ("dedup_key",)), ("pagerduty", PD, ("payload", "summary")),
    ("pagerduty", PD, ("payload", "source")), ("pagerduty", PD, ("payload", "severity")),
    ("pagerduty", PD, ("payload", "component")), ("generic", [GENERIC], (0, "status")),
    ("generic", [GENERIC], (0, "source")), ("generic", [GENERIC], (0, "generator_url")),
    ("generic", [GENERIC], (0, "labels", "alertname")), ("generic", [GENERIC], (0, "fingerprint")),
]


@SETTINGS
@given(st.sampled_from(STRING_FIELDS), not_strings)
def test_numbers_and_containers_where_strings_belong(case, wrong):
    fmt, good, path = case
    body = copy.deepcopy(good)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = wrong
    raw = encode(body)
    result = check(raw, fmt)
    named = rejections_name_fields(raw, fmt)
    if result is None or result.rejections:
        assert any(str(path[-1]) in field for field in named), (path, named)


# -- HTTP receivers ------------------------------------------------------------------------------------------

@SETTINGS
@given(st.sampled_from(sorted(FORMAT_OF)), bodies | json_values | st.sampled_from(ODD))
def test_receivers_answer_hostile_bodies_with_a_status_and_named_fields(kind, body):
    receipt = receive(kind, encode(body), now=NOW, max_bytes=1 << 20)
    assert receipt.status in (200, 202, 400, 413)
    assert (receipt.status < 300) == (not receipt.rejections and receipt.accepted > 0) or kind != "pagerduty"
    for problem in receipt.document.get("rejected", []):
        assert problem["field"] and problem["reason"] in ITEM_REASONS | BODY_REASONS, problem
    orjson.dumps(receipt.document)


# -- the rule loader -----------------------------------------------------------------------------------------

SECTIONS = ["groups", "actions", "silences", "inhibit", "topology", "maintenance", "problems", "nope"]
rule_shaped = st.dictionaries(st.sampled_from(SECTIONS), json_values | st.lists(
    st.dictionaries(st.sampled_from(["name", "match", "type", "config", "actions", "group_by", "on", "x"]),
                    json_values | odd_text, max_size=5), max_size=3), max_size=4)


def load_document(text: str) -> list[RuleError]:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "rules.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        return check_directory(Path(d))


@SETTINGS
@given(st.one_of(json_values.map(lambda v: json.dumps(v)), rule_shaped.map(lambda v: yaml.safe_dump(v)),
                 rule_shaped.map(lambda v: json.dumps(v)), st.text(max_size=200)))
def test_arbitrary_documents_are_errors_with_a_place_never_a_crash(text):
    try:
        errors = load_document(text)
    except UnicodeEncodeError:
        return  # a lone surrogate cannot be written to a file: not a document anyone can hand us
    for error in errors:
        assert error.file.endswith("rules.yaml") and error.message, error
        assert str(error).startswith(error.file)
        # a schema error names the field (its path); only whole-file errors (syntax, not a mapping) have none
        assert error.path or error.line is None or error.message.startswith(
            ("YAML syntax error", "a rule file is a mapping", "duplicate key")) or error.line is not None, error


@SETTINGS
@given(rule_shaped.filter(lambda d: any(k in d for k in SECTIONS[:-1])))
def test_schema_errors_of_rule_shaped_documents_name_a_field(doc):
    for error in load_document(yaml.safe_dump(doc)):
        assert error.path or error.message.startswith(("YAML", "a rule file")), error


# -- injection through templates, command lines and URLs -----------------------------------------------------

def ctx_with(value: str) -> dict:
    event = {"event_id": value, "type": "incident.created", "reason": value,
             "incident": {"id": "INC-abc-1", "title": value, "group_labels": {"service": value}}}
    return context(event, [{"labels": {"v": value, "node": value}, "annotations": {"summary": value}}], "fix")


@SETTINGS
@given(odd_text | st.sampled_from(["{{ 7*7 }}", "{% for x in range(9) %}x{% endfor %}", "$(id)", "`id`", "; rm -rf /",
                                   "{{ ''.__class__.__mro__ }}", "%s%n", "${IFS}"]))
def test_every_field_reaching_a_template_stays_data(value):
    r = Renderer()
    ctx = ctx_with(value)
    for template in ("{{ labels.v }}", "{{ annotations.summary }}", "{{ incident.title }}", "{{ event.reason }}",
                     "{{ labels.service }}", "{{ alerts[0].labels.node }}"):
        assert r.render(template, ctx) == value
    assert json.loads(r.render("{{ labels.v | tojson }}", ctx)) == value


@SETTINGS
@given(odd_text)
def test_command_argv_items_and_env_stay_one_value_each(value):
    action = Action.model_validate({"name": "fix", "type": "command", "config": {
        "argv": ["/bin/echo", "{{ labels.v }}", "--node={{ labels.node }}", "literal"],
        "env": {"TITLE": "{{ incident.title }}"}, "inherit_env": []}})
    prepared = CommandExecutor({}).prepare(action, ctx_with(value), Renderer(), Secrets({}))
    assert prepared.real["argv"] == ["/bin/echo", value, f"--node={value}", "literal"]
    assert prepared.real["env"] == {"TITLE": value}


@SETTINGS
@given(odd_text | st.sampled_from(["@evil.example", "//evil.example/", "..%2f..%2f", "#@evil", "\\\\evil", "?x=1&y=",
                                   ":8080@evil", "%0d%0aHost: evil"]))
def test_urls_keep_their_target_whatever_a_label_holds(value):
    action = Action.model_validate({"name": "hook", "type": "http", "config": {
        "url": "https://hooks.example.com/x/{{ labels.v }}?node={{ labels.node }}",
        "headers": {"X-Node": "{{ labels.node }}"}, "body": '{"v": {{ labels.v | tojson }}}'}})
    executor = HttpExecutor(UrlPolicy.build(("https",), (), (443,), ()))
    try:
        prepared = executor.prepare(action, ctx_with(value), Renderer(), Secrets({}))
    except TemplateFailed as exc:
        assert "target" in str(exc)
        return
    from urllib.parse import urlsplit

    url = urlsplit(prepared.real["url"])
    assert (url.scheme, url.netloc) == ("https", "hooks.example.com")
    assert json.loads(prepared.real["body"]) == {"v": value}


TEMPLATES = ["{{ 60 // (labels.v | int) }}", "{{ '%d' % labels.v }}", "{{ (labels.v | float) * 2 }}",
             "{{ labels.v.split(',')[1] }}", "{{ labels.v[0] }}", "{{ labels.v | truncate(5) }}",
             "{{ labels.v.encode('ascii') }}", "{{ labels.v | int + 1 }}", "{{ range(labels.v | int) | list }}"]


@SETTINGS
@given(st.sampled_from(TEMPLATES), odd_text | st.sampled_from(["0", "-1", "1,2", "", "1e400", "99999999999"]))
def test_a_template_that_fails_for_one_value_fails_the_run_not_the_worker(template, value):
    """An error raised while rendering (ZeroDivisionError, TypeError, ...) is a failed run ("inputs"), never an
    exception that escapes the runner and sends the event round the queue until it is dead-lettered."""
    try:
        out = Renderer().render(template, ctx_with(value))
    except TemplateFailed as exc:
        assert template in str(exc)
    else:
        assert isinstance(out, str)
