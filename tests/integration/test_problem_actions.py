"""Problem rules start their actions: recurring incidents through the real worker open a problem, its command
action runs once (redeliveries and republished events change nothing), the run is on the problem's timeline and
in the audit, ``on: [known_error]`` runs when a person moves the problem on, and bad problem events are
dead-lettered with a reason while good ones still run."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from actions.topology import ActionNames
from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.actions_support import action_settings, publish_event, runs, settled
from tests.integration.helpers import body, drain_queue, publish, stored_alerts, v2_alert
from tests.integration.helpers import run_cli as _cli

# appends one line per run: the problem, the incident that opened it, a signature label, the trigger
RECORD = "import sys; open(sys.argv[1], 'a').write(' '.join(sys.argv[2:]) + '\\n')"


def problem_rules(marker: str) -> str:
    argv = [sys.executable, "-c", RECORD, marker, "{{ problem.id }}", "{{ incident.id }}", "{{ labels.service }}",
            "{{ event.type }}"]
    return f"""
actions:
  - name: open-ticket
    type: command
    config: {{argv: {orjson.dumps(argv).decode()}, timeout: 20s}}
groups:
  - name: batch
    match: ['alertname="BatchJobFailed"']
    group_by: [service]
problems:
  - name: recurring
    match: ['alertname="BatchJobFailed"']
    signature: [alertname, service]
    recurrence: {{count: 2, within: 1h}}
    team: billing
    actions:
      - open-ticket
      - {{action: open-ticket, on: [known_error]}}
"""


async def problem_worker(settings, tmp_path) -> tuple[Worker, Path]:
    """A started worker with the problem rules; the file its command action appends to."""
    marker = tmp_path / "ran.txt"
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "rules.yaml").write_text(problem_rules(str(marker)))
    w = Worker(action_settings(settings, rules_dir))
    await w.start()
    return w, marker


def failed(hour: int, resolved: bool = False) -> bytes:
    return body([v2_alert("BatchJobFailed", "billing", "job-1", resolved=resolved,
                          starts_at=f"2026-11-21T0{hour}:00:00Z")])


async def test_a_recurring_problem_runs_its_action_once_and_records_it_on_the_problem(clean, tmp_path):
    w, marker = await problem_worker(clean, tmp_path)
    try:
        for n, alerts in enumerate((failed(1), failed(1, resolved=True), failed(2)), start=1):
            await publish(clean, [alerts])
            await eventually(lambda: stored_alerts(w) >= n, what=f"notification {n}")
        (problem,) = await w.pipeline.links.list_problems(open_only=True)
        (run,) = await settled(w, 1, what="the problem's run")
        assert (run["state"], run["problem"], run["trigger"], run["incident"]) == (
            "succeeded", problem.id, "created", "")
        assert marker.read_text() == f"{problem.id} {problem.created_by} billing problem.created\n"

        # the same problem.created again: republished through the queue (new message ids, as a worker that died
        # before acking would) and handed to the runner directly: the run is settled, nothing runs again
        event = orjson.dumps({"event_id": "republished", "type": "problem.created", "at": 1.0,
                              "problem": problem.public()})
        runner, seen = w.actions.runner, []
        handle = runner.handle

        async def spy(message_body: bytes) -> list[str]:  # what the consumer's runner did with each delivery
            states = await handle(message_body)
            seen.append((message_body, states))
            return states

        runner.handle = spy  # type: ignore[method-assign]
        for n in range(2):
            await publish_event(clean, event, routing_key="problem.created", message_id=f"again-{n}")
        assert await handle(event) == ["succeeded"]
        await eventually(lambda: [s for b, s in seen if b == event] == [["succeeded"]] * 2,
                         what="both republished events handled (found settled)")
        assert marker.read_text().count("\n") == 1  # the command ran exactly once

        # the problem's timeline and the audit have the run; the CLI lists it under the problem
        timeline = await w.pipeline.links.problem_timeline(problem.id)
        assert [e["kind"] for e in timeline] == ["created", "action"]
        assert timeline[1]["run_id"] == run["run_id"] and "open-ticket (command) succeeded" in timeline[1]["text"]
        audit = [e for e in await w.actions.state.audit() if e.get("run_id") == run["run_id"]]
        assert [(e["outcome"], e["problem"], e["trigger"]) for e in audit] == [("succeeded", problem.id, "created")]
        code, out, _ = await _cli(clean, "actions", "list", "--problem", problem.id, "--json")
        assert code == 0 and [r["run_id"] for r in orjson.loads(out)] == [run["run_id"]]
        code, out, _ = await _cli(clean, "actions", "list")
        assert code == 0 and problem.id in out
        for incident in problem.incidents:  # a problem's run is not an incident's run
            assert await runs(w, incident) == []

        # a person marks it a known error (the CLI publishes problem.known_error): the on-known_error trigger runs
        code, _, err = await _cli(clean, "problems", "known-error", problem.id, "--by", "alice")
        assert code == 0, err
        found = await settled(w, 2, what="the known_error run")
        assert sorted(r["trigger"] for r in found) == ["created", "known_error"]
        assert marker.read_text().splitlines()[1] == f"{problem.id} {problem.created_by} billing problem.known_error"
        timeline = await w.pipeline.links.problem_timeline(problem.id)
        assert [e["kind"] for e in timeline] == ["created", "action", "known_error", "action"]
    finally:
        await w.stop()


async def test_bad_problem_events_are_dead_lettered_with_a_reason_and_good_ones_still_run(clean, tmp_path):
    w, marker = await problem_worker(clean, tmp_path)
    try:
        good = {"id": "PRB-0123456789ab-1", "rule": "recurring", "status": "open", "title": "t",
                "signature": {"alertname": "BatchJobFailed", "service": "billing"},
                "incidents": ["INC-abcdef012345-1"], "created_by": "INC-abcdef012345-1"}
        bad = {
            "bad-1": (b"{not json", "problem.created"),
            "bad-2": (orjson.dumps({"event_id": "e2", "type": "problem.created", "problem": {"id": "nope"}}),
                      "problem.created"),
            "bad-3": (orjson.dumps({"event_id": "e3", "type": "problem.reopened", "problem": good}),
                      "problem.reopened"),  # a kind the runner does not know
        }
        for message_id, (payload, key) in bad.items():
            await publish_event(clean, payload, routing_key=key, message_id=message_id)
        await publish_event(clean, orjson.dumps({"event_id": "e4", "type": "problem.created", "problem": good}),
                            routing_key="problem.created", message_id="good")
        (run,) = await settled(w, 1, what="the good event's run")
        assert run["state"] == "succeeded" and run["problem"] == good["id"]
        # the incident is gone from the store (never existed here): templates still get its id
        assert marker.read_text() == f"{good['id']} INC-abcdef012345-1 billing problem.created\n"
        drained: list = []

        async def three_dead_letters():
            drained.extend(await drain_queue(clean, ActionNames(clean.namespace).dead))
            return drained if len(drained) >= 3 else None

        dead = await eventually(three_dead_letters, what="dead letters")
        reasons = {m.headers["x-stormwatch-message-id"]: m.headers["x-stormwatch-reason"] for m in dead}
        assert reasons == {"bad-1": "invalid_json", "bad-2": "invalid_event", "bad-3": "invalid_event"}
        assert all(m.headers["x-stormwatch-detail"] for m in dead)
        assert {m.headers["x-stormwatch-routing-key"] for m in dead} == {"problem.created", "problem.reopened"}
        assert len(await runs(w)) == 1
    finally:
        await w.stop()
