"""The action runner against a three-node Redis Cluster started by the test: every script keeps to one slot."""

from __future__ import annotations

import sys

import orjson

from stormwatch.app import Worker
from stormwatch.namespace import delete_namespace
from tests.conftest import eventually
from tests.integration.actions_support import action_settings, alert, settled
from tests.integration.helpers import body, publish


async def test_claims_rate_limits_breaker_approval_and_audit_on_a_redis_cluster(settings, cluster, tmp_path):
    marker = tmp_path / "ran.txt"
    argv = [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + '\\n')", str(marker),
            "{{ labels.service }}"]
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(f"""
actions:
  - name: fix
    type: command
    config: {{argv: {orjson.dumps(argv).decode()}}}
    rate_limit: {{per: "{{{{ labels.node }}}}", max: 1, window: 10m}}
  - name: gated
    type: command
    config: {{argv: {orjson.dumps(argv[:-1] + ["gated"]).decode()}}}
    approval: required
groups:
  - {{name: fix, match: ['alertname="Fix"'], group_by: [service], actions: [fix]}}
  - {{name: gated, match: ['alertname="Gated"'], group_by: [service], actions: [gated]}}
""")
    s = action_settings(settings.model_copy(update={"redis_url": cluster.url, "redis_cluster": True}),
                        tmp_path / "rules")
    workers = [Worker(s) for _ in range(2)]
    for w in workers:
        await w.start()
    try:
        state = workers[0].actions.state
        await publish(s, [body([alert("Fix", service="a", node="n1"), alert("Fix", service="b", node="n1"),
                                alert("Fix", service="c", node="n2"), alert("Gated", service="g")])])
        found = await settled(workers[0], 4)
        states = sorted((r["action"], r["state"], r.get("reason", "")) for r in found)
        assert states == [("fix", "skipped", "rate_limit"), ("fix", "succeeded", ""), ("fix", "succeeded", ""),
                          ("gated", "pending_approval", "approval_pending")]
        gated = next(r for r in found if r["action"] == "gated")
        assert await state.decide(gated["run_id"], "approved", "alice", 0.0) == "ok"
        await eventually(lambda: _succeeded(state, gated["run_id"]), what="approved run settled")
        await settled(workers[0], 4)  # and recorded
        assert sorted(marker.read_text().split()) == sorted(["gated"] + [r["inputs"] and orjson.loads(
            r["inputs"])["argv"][-1] for r in found if r["state"] == "succeeded"])
        outcomes = sorted(e["outcome"] for e in await state.audit())
        assert outcomes.count("succeeded") == 3 and "approved" in outcomes and "skipped" in outcomes
        per_node = await cluster.keys_per_node(f"{s.namespace}:*")
        assert all(n > 0 for n in per_node), per_node
    finally:
        for w in workers:
            await w.stop()
        await delete_namespace(s)


async def _succeeded(state, run_id: str) -> bool:
    return (await state.run(run_id) or {}).get("state") == "succeeded"
