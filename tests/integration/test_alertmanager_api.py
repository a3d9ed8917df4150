"""Alertmanager's API v2, driven by the real ``amtool`` (Debian's prometheus-alertmanager) against a real worker and
its HTTP server on the real Redis and RabbitMQ: amtool's output is parsed and compared. One silence model: what
amtool makes is a Stormwatch silence (v1 API, events) and the reverse. Then hostile input on every new route:
each refused with a reason (a JSON string, as Alertmanager answers), counted, logged, and nothing stored touched."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import UTC, datetime
import shutil
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
import yaml

from rules.fingerprint import fingerprint
from stormwatch.api.common import stormwatch_version
from tests.conftest import eventually, missing_tool
from tests.integration.api_helpers import ADMIN, INGEST, READ, RESPOND, EventTap, bearer, start_api
from tests.integration.helpers import metric, stored_alerts

GROUP_RULES = """
groups:
  - name: payments
    match: ['service="payments"']
    group_by: [alertname, service]
    team: payments-oncall
inhibit:
  - name: node-down-mutes-its-services
    source_match: ['alertname="NodeDown"']
    target_match: ['alertname="ServiceDown"']
    equal: [node]
"""


def _amtool() -> str:
    exe = shutil.which("amtool")
    if exe is None:
        missing_tool("amtool is not installed (apt-get install prometheus-alertmanager)")
    return exe  # type: ignore[return-value]


class Amtool:
    """The real amtool pointed at the worker, authenticating with a bearer token from --http.config.file."""

    def __init__(self, api: Any, home: Path) -> None:
        self.exe = _amtool()
        self.url = str(api.client.base_url).rstrip("/")
        self.home = home
        self.configs: dict[str, Path] = {}

    def _config(self, token: str) -> Path:
        if token not in self.configs:
            path = self.home / f"http-{len(self.configs)}.yml"
            path.write_text(yaml.safe_dump({"authorization": {"type": "Bearer", "credentials": token}}))
            self.configs[token] = path
        return self.configs[token]

    async def run(self, *args: str, token: str | None = READ, check: bool = True) -> tuple[int, str, str]:
        auth = ["--http.config.file", str(self._config(token))] if token else []
        process = await asyncio.create_subprocess_exec(
            self.exe, "--alertmanager.url", self.url, *auth, *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={"HOME": str(self.home), "PATH": os.environ.get("PATH", ""), "USER": "amtool-user"})
        out, err = await process.communicate()
        code = process.returncode
        assert code is not None
        if check:
            assert code == 0, f"amtool {' '.join(args)}: {code}\n{out.decode()}\n{err.decode()}"
        return code, out.decode(), err.decode()

    async def json(self, *args: str, token: str | None = READ) -> Any:
        return orjson.loads((await self.run(*args, "-o", "json", token=token))[1])


@pytest.fixture
async def api(clean, tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(GROUP_RULES)
    async for started in start_api(clean, rules=str(tmp_path / "rules")):
        yield started


@pytest.fixture
def amtool(api, tmp_path) -> Amtool:
    home = tmp_path / "home"
    home.mkdir()
    return Amtool(api, home)


async def _add_alert(api, amtool: Amtool, *labels: str, annotation: str = "") -> None:
    before = stored_alerts(api.worker)
    extra = [f"--annotation=summary={annotation}"] if annotation else []
    await amtool.run("alert", "add", *labels, *extra, "--generator-url=http://prometheus:9090/graph", token=ADMIN)
    await eventually(lambda: stored_alerts(api.worker) > before, what="the alert stored")


def _labels(alerts: list[dict[str, Any]]) -> list[dict[str, str]]:
    return sorted((a["labels"] for a in alerts), key=lambda labels: sorted(labels.items()))


async def test_amtool_alert_add_and_query_with_matchers(api, amtool):
    await _add_alert(api, amtool, "alertname=DiskFull", "service=payments", "instance=db-1", "severity=critical",
                     annotation="disk almost full")
    await _add_alert(api, amtool, "alertname=DiskFull", "service=orders", "instance=db-2")
    await _add_alert(api, amtool, "alertname=HighLatency", "service=payments", "instance=web-1")

    everything = await amtool.json("alert", "query")
    assert _labels(everything) == _labels([
        {"labels": {"alertname": "DiskFull", "service": "payments", "instance": "db-1", "severity": "critical"}},
        {"labels": {"alertname": "DiskFull", "service": "orders", "instance": "db-2"}},
        {"labels": {"alertname": "HighLatency", "service": "payments", "instance": "web-1"}}])
    disk = next(a for a in everything if a["labels"]["instance"] == "db-1")
    assert disk["fingerprint"] == fingerprint(disk["labels"])
    assert disk["annotations"] == {"summary": "disk almost full"}
    assert disk["generatorURL"] == "http://prometheus:9090/graph"
    assert disk["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}  # amtool 0.25 knows no mutedBy
    assert disk["receivers"] == [{"name": "payments-oncall"}]  # the team of its incident
    orders = next(a for a in everything if a["labels"]["instance"] == "db-2")
    assert orders["receivers"] == [{"name": "unassigned"}]  # no rule, no team label: the default team

    payments = await amtool.json("alert", "query", "service=payments")
    assert {a["labels"]["instance"] for a in payments} == {"db-1", "web-1"}
    regex = await amtool.json("alert", "query", "service=~pay.*", "alertname!=HighLatency")
    assert [a["labels"]["instance"] for a in regex] == ["db-1"]
    bare = await amtool.json("alert", "query", "DiskFull")  # amtool reads a bare word as alertname=<word>
    assert {a["labels"]["instance"] for a in bare} == {"db-1", "db-2"}
    by_team = await amtool.json("alert", "query", "--receiver=payments-.*")
    assert {a["labels"]["instance"] for a in by_team} == {"db-1", "web-1"}

    # the default (simple) output, parsed: Alertname, Starts At, Summary, State
    _, text, _ = await amtool.run("alert", "query", "instance=db-1")
    header, *rows = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]
    assert header == ["Alertname", "Starts At", "Summary", "State"]
    assert len(rows) == 1 and rows[0][0] == "DiskFull" and rows[0][2:] == ["disk almost full", "active"]

    # a quoted label name goes through the same matcher parser (the form UTF-8 names take)
    quoted = await api.get('/api/v2/alerts?filter="instance"="web-1"')
    assert quoted.status_code == 200 and [a["labels"]["instance"] for a in quoted.json()] == ["web-1"]
    assert quoted.json()[0]["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": [], "mutedBy": []}

    groups = (await api.get("/api/v2/alerts/groups")).json()
    by_labels = {tuple(sorted(g["labels"].items())): g for g in groups}
    payments_group = by_labels[(("alertname", "DiskFull"), ("service", "payments"))]
    assert payments_group["receiver"] == {"name": "payments-oncall"}
    assert [a["labels"]["instance"] for a in payments_group["alerts"]] == ["db-1"]
    incidents = (await api.get("/api/v1/incidents")).json()["items"]
    assert len(groups) == len(incidents) == 3  # a group is an incident

    receivers = (await api.get("/api/v2/receivers")).json()
    assert receivers == [{"name": "payments-oncall"}, {"name": "unassigned"}]

    # a resolved alert is no longer listed (Alertmanager leaves out alerts whose endsAt has passed)
    ended = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    await _add_alert(api, amtool, "alertname=DiskFull", "service=orders", "instance=db-2", f"--end={ended}")
    assert {a["labels"]["instance"] for a in await amtool.json("alert", "query")} == {"db-1", "web-1"}


async def test_alert_query_with_a_utf8_label_name(api, amtool):
    """An OpenTelemetry-style name (``service.name``) is kept at ingest and found by a quoted or bare UTF-8 matcher,
    as Alertmanager 0.27+ finds it. Debian's amtool is 0.25, whose matcher parser predates UTF-8 names (it refuses
    ``service.name=...``), so the query goes through the API it would call."""
    before = stored_alerts(api.worker)
    sent = [{"labels": {"alertname": "CheckoutErrors", "service.name": "payments", "k8s.pod.name": "pay-7d9"}},
            {"labels": {"alertname": "CheckoutErrors", "service.name": "orders", "k8s.pod.name": "ord-1a2"}}]
    posted = await api.client.post("/api/v2/alerts", content=orjson.dumps(sent), headers=bearer(INGEST))
    assert posted.status_code == 200, posted.text
    await eventually(lambda: stored_alerts(api.worker) >= before + 2, what="both alerts stored")
    for matcher in ('"service.name"="payments"', "service.name=payments"):  # one matcher per filter, as in AM
        found = await api.get("/api/v2/alerts", params={"filter": matcher})
        assert found.status_code == 200, (matcher, found.text)
        assert [a["labels"]["k8s.pod.name"] for a in found.json()] == ["pay-7d9"], matcher
        assert found.json()[0]["fingerprint"] == fingerprint(found.json()[0]["labels"])
    regex = await api.get("/api/v2/alerts", params={"filter": '"k8s.pod.name"=~"ord-.*"'})
    assert [a["labels"]["service.name"] for a in regex.json()] == ["orders"]
    # amtool itself reads the whole list, UTF-8 names included
    assert {a["labels"]["service.name"] for a in await amtool.json("alert", "query")
            if "service.name" in a["labels"]} == {"payments", "orders"}


async def test_a_symptom_is_inhibited_by_its_cause_and_groups_are_incidents(api, amtool):
    await _add_alert(api, amtool, "alertname=NodeDown", "node=n1", "service=infra")
    await _add_alert(api, amtool, "alertname=ServiceDown", "node=n1", "service=payments")
    (cause,) = (await api.get("/api/v1/incidents")).json()["items"]  # the symptom paged nobody
    assert await amtool.json("alert", "query", "alertname=ServiceDown") == []  # active only, by default
    inhibited = await amtool.json("alert", "query", "--inhibited", "alertname=ServiceDown")
    assert [(a["status"]["state"], a["status"]["inhibitedBy"]) for a in inhibited] == [("suppressed", [cause["id"]])]
    assert inhibited[0]["receivers"] == [{"name": "payments-oncall"}]  # the team its own incident would have

    groups = (await api.get("/api/v2/alerts/groups")).json()
    assert [(g["labels"], g["receiver"]["name"], [a["labels"]["alertname"] for a in g["alerts"]]) for g in groups] == [
        ({"alertname": "ServiceDown", "service": "payments"}, "payments-oncall", ["ServiceDown"]),  # its rule's group
        (cause["group_labels"], "unassigned", ["NodeDown"])]  # the incident
    unmuted = (await api.get("/api/v2/alerts/groups?muted=false")).json()
    assert [g["labels"] for g in unmuted] == [cause["group_labels"]]
    only_suppressed = (await api.get("/api/v2/alerts/groups?active=false")).json()
    assert [[a["labels"]["alertname"] for a in g["alerts"]] for g in only_suppressed] == [["ServiceDown"]]


async def test_amtool_silences_are_stormwatch_silences(api, amtool, clean):
    tap = await EventTap(clean).start()
    try:
        _, out, _ = await amtool.run("silence", "add", "alertname=BackupFailed", "service=payments",
                                     "--comment=nightly backup window", "--author=alice", "--duration=2h",
                                     token=RESPOND)
        silence_id = out.strip()
        queried = await amtool.json("silence", "query")
        assert [s["id"] for s in queried] == [silence_id]
        made = queried[0]
        assert made["createdBy"] == "alice" and made["comment"] == "nightly backup window"
        assert made["status"] == {"state": "active"}
        assert sorted((m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in made["matchers"]) == [
            ("alertname", "BackupFailed", False, True), ("service", "payments", False, True)]
        _, quiet, _ = await amtool.run("silence", "query", "-q", "service=payments")
        assert quiet.split() == [silence_id]
        assert (await amtool.run("silence", "query", "-q", "service=orders"))[1].split() == []

        # the same silence in Stormwatch's own API, and announced with the token that made it
        v1 = (await api.get("/api/v1/silences")).json()
        assert [(s["id"], s["created_by"], s["state"]) for s in v1] == [(silence_id, "alice", "active")]
        assert sorted(v1[0]["matchers"]) == ['alertname="BackupFailed"', 'service="payments"']
        await eventually(lambda: _has(tap, "silence.created"), what="silence.created")
        assert next(e for e in tap.seen if e["type"] == "silence.created")["by"] == "sre"

        # a silenced alert opens no incident, and amtool shows it silenced
        await _add_alert(api, amtool, "alertname=BackupFailed", "service=payments", "instance=db-1")
        assert (await api.get("/api/v1/incidents")).json()["items"] == []
        assert await amtool.json("alert", "query") == []  # active only, by default
        silenced = await amtool.json("alert", "query", "--silenced")
        assert [(a["labels"]["instance"], a["status"]["state"], a["status"]["silencedBy"]) for a in silenced] == [
            ("db-1", "suppressed", [silence_id])]

        # the reverse: a silence made with Stormwatch's API is seen by amtool
        made_v1 = (await api.post("/api/v1/silences", {"matchers": ['team="dba"'], "duration": "1h",
                                                       "comment": "migration"}, token=RESPOND)).json()
        assert {s["id"] for s in await amtool.json("silence", "query")} == {silence_id, made_v1["id"]}

        # expire with amtool: expired everywhere, announced
        await amtool.run("silence", "expire", silence_id, token=RESPOND)
        assert [s["id"] for s in await amtool.json("silence", "query", "--expired")] == [silence_id]
        assert {s["id"]: s["state"] for s in (await api.get("/api/v1/silences?expired=true")).json()}[
            silence_id] == "expired"
        await eventually(lambda: _has(tap, "silence.expired"), what="silence.expired")
    finally:
        await tap.close()


async def _has(tap: EventTap, kind: str) -> bool:
    return kind in await tap.types()


async def test_updating_a_silence_expires_it_and_makes_a_new_one(api):
    body = {"matchers": [{"name": "service.name", "value": "payments", "isRegex": False}],
            "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z", "createdBy": "bob",
            "comment": "UTF-8 label name"}
    first = await api.post("/api/v2/silences", body, token=RESPOND)
    assert first.status_code == 200, first.text
    old = first.json()["silenceID"]
    got = (await api.get(f"/api/v2/silence/{old}")).json()
    assert got["matchers"] == [{"name": "service.name", "value": "payments", "isRegex": False, "isEqual": True}]
    assert got["startsAt"] != body["startsAt"]  # a start in the past starts now, as in Alertmanager
    second = await api.post("/api/v2/silences", {**body, "id": old, "comment": "longer"}, token=RESPOND)
    new = second.json()["silenceID"]
    assert new != old
    states = {s["id"]: (s["status"]["state"], s["comment"]) for s in (await api.get("/api/v2/silences")).json()}
    assert states == {old: ("expired", "UTF-8 label name"), new: ("active", "longer")}
    active_only = await api.get("/api/v2/silences?expired=false")
    assert [s["id"] for s in active_only.json()] == [new]
    assert (await api.delete(f"/api/v2/silence/{new}")).status_code == 200
    assert (await api.get(f"/api/v2/silence/{new}")).json()["status"]["state"] == "expired"


async def test_amtool_cluster_show_and_config_show(api, amtool):
    node, address = socket.gethostname(), f"127.0.0.1:{api.worker.ops.bound_port}"
    _, text, _ = await amtool.run("cluster", "show", "-o", "extended")
    lines = [re.split(r":?\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]
    assert lines == [["Cluster Status", "ready"], ["Node Name", node], ["Address", "Name"], [address, node]]

    _, text, _ = await amtool.run("config", "show")  # the simple output: config.original alone
    summary = yaml.safe_load(text)
    assert summary["groups"] == [{"name": "payments", "team": "payments-oncall"}]
    assert summary["files"] == ["rules.yaml"] and summary["source"].endswith("rules")
    _, text, _ = await amtool.run("config", "show", "-o", "extended")
    trailer = [line.split(" ", 1)[0] for line in text[text.index("\nbuildUser "):].splitlines() if line]
    assert trailer == ["buildUser", "goVersion", "revision", "version", "branch", "buildDate", "uptime"]
    # (amtool 0.25 prints the version fields' pointers, not their values: read them from the API)

    status = (await api.get("/api/v2/status")).json()
    assert status["versionInfo"]["version"] == stormwatch_version()
    assert status["versionInfo"]["goVersion"].startswith("python")
    assert status["cluster"]["peers"] == [{"name": socket.gethostname(),
                                           "address": f"127.0.0.1:{api.worker.ops.bound_port}"}]


async def test_roles_and_tokens_as_for_the_rest_of_the_api(api, amtool):
    code, _, err = await amtool.run("silence", "add", "alertname=X", "--comment=c", token=READ, check=False)
    assert code != 0 and "(status 403)" in err  # amtool knows no 401/403 (Alertmanager has no auth): prints {}
    code, _, err = await amtool.run("alert", "query", token=None, check=False)
    assert code != 0 and "401" in err
    assert (await api.get("/api/v2/status", token=None)).json() == \
        "send Authorization: Bearer <token> (reason: missing_token)"
    assert (await amtool.run("silence", "query", token=READ))[0] == 0
    code, _, err = await amtool.run("alert", "query", "alertname=X", 'instance=~"("', check=False)
    assert code != 0 and "[GET /alerts][400]" in err and "invalid regular expression" in err  # the reason shown


# --- hostile input -----------------------------------------------------------------------------------------------

SILENCE = {"matchers": [{"name": "service", "value": "payments", "isRegex": False}],
           "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z", "createdBy": "bob", "comment": "c"}


async def _stored(api) -> dict[bytes, bytes]:
    return await api.worker.redis.hgetall(api.worker.keyspace.silences)


def _refused(worker, route: str, code: int) -> float:
    return metric(worker, "stormwatch_http_requests_total", {"route": route, "code": str(code)})


@pytest.mark.parametrize("method,path,body,status,reason", [
    ("get", '/api/v2/alerts?filter=instance=~"("', None, 400, "bad matcher"),
    ("get", "/api/v2/alerts?filter=instance", None, 400, "bad matcher"),
    ("get", "/api/v2/alerts/groups?filter=%7B%7D%7D", None, 400, "bad matcher"),
    ("get", "/api/v2/alerts?receiver=(", None, 400, "failed to parse receiver param"),
    ("get", "/api/v2/alerts?active=maybe", None, 400, "active in query must be of type boolean"),
    ("get", "/api/v2/alerts?filter=%22a%FFb%22%3D%22x%22", None, 400, "not valid UTF-8"),
    ("get", "/api/v2/silences?filter=%FF%3Dx", None, 400, "not valid UTF-8"),
    ("get", '/api/v2/silences?filter=a="', None, 400, "bad matcher"),
    ("get", "/api/v2/receivers?receiver_matchers=%3D%3D", None, 400, "bad matcher"),
    ("get", "/api/v2/silence/no-such-silence", None, 404, "silence not found"),
    ("delete", "/api/v2/silence/no-such-silence", None, 404, "silence not found"),
    ("post", "/api/v2/silences", {**SILENCE, "id": "no-such-silence"}, 404, "silence not found"),
    ("post", "/api/v2/silences", {**SILENCE, "matchers": [{"name": "a", "value": "(", "isRegex": True}]}, 400,
     "invalid regular expression"),
    ("post", "/api/v2/silences", {**SILENCE, "matchers": [{"name": "", "value": "x", "isRegex": False}]}, 400,
     "matchers.0.name"),
    ("post", "/api/v2/silences", {**SILENCE, "matchers": [{"name": "a", "value": ".*", "isRegex": True}]}, 400,
     "must not match the empty string"),
    ("post", "/api/v2/silences", {**SILENCE, "matchers": []}, 400, "matchers in body"),
    ("post", "/api/v2/silences", {**SILENCE, "endsAt": "2020-01-01T00:00:00Z", "startsAt": "2019-01-01T00:00:00Z"},
     400, "end time can't be in the past"),
    ("post", "/api/v2/silences", {**SILENCE, "endsAt": "tomorrow"}, 400, "endsAt in body must be of type date-time"),
    ("post", "/api/v2/silences", {**SILENCE, "annotations": {"a": "b"}}, 400, "annotations"),
    ("post", "/api/v2/silences", b'{"matchers": [{"name": "a\xff", "value": "x", "isRegex": false}]}', 400,
     "not valid JSON"),
    ("post", "/api/v2/silences", b'{"matchers": [{"name": "a\\ud800", "value": "x", "isRegex": false}]}', 400,
     "not valid JSON"),
    ("post", "/api/v2/silences", b"x" * (2 << 20), 413, "more than the limit"),
])
async def test_hostile_input_is_refused_with_a_reason_and_changes_nothing(api, method, path, body, status, reason):
    existing = await api.post("/api/v2/silences", SILENCE, token=RESPOND)
    assert existing.status_code == 200
    before = await _stored(api)
    route = path.split("?")[0].replace("no-such-silence", "{id}")
    counted = _refused(api.worker, route, status)
    with structlog.testing.capture_logs() as logs:
        if method == "post":
            answer = await api.post(path, body, token=RESPOND)
        elif method == "delete":
            answer = await api.client.delete(path, headers=bearer(RESPOND))
        else:
            answer = await api.get(path)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    text = answer.json()
    assert isinstance(text, str) and reason in text  # Alertmanager's error shape: a JSON string
    assert _refused(api.worker, route, status) == counted + 1
    assert any(e["event"] == "am_api_refused" and e["status"] == status and e["route"] == route for e in logs), logs
    assert await _stored(api) == before  # nothing stored is touched
