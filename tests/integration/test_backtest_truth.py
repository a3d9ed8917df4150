"""``stormwatch backtest --truth``: the labelled corpus scored through the CLI, side by side, table and JSON."""

from __future__ import annotations

import orjson

from replay.corpus import CORPUS_DIR, RECORDING, score_storm
from tests.integration.helpers import run_cli

LATE = CORPUS_DIR / "late-cause"
UNRELATED = CORPUS_DIR / "unrelated"


async def test_truth_json_scores_both_sides_and_lists_every_incident(clean):
    code, out, err = await run_cli(clean, "backtest", "--truth", "--json", "--rules", str(UNRELATED / "rules"),
                                   "--baseline", "none", str(UNRELATED / RECORDING))
    assert code == 0, err
    doc = orjson.loads(out)
    candidate, current = doc["candidate"], doc["current"]
    assert candidate["score"] == score_storm(UNRELATED, "storm").public()
    assert current["score"] == score_storm(UNRELATED, "none").public()
    lines = len((UNRELATED / RECORDING).read_bytes().splitlines())
    listed = [ref for i in candidate["incident_list"] for ref in i["notifications"]]
    assert sorted(listed + candidate["unplaced"]) == sorted(f"{UNRELATED / RECORDING}:{n}" for n in range(1, lines + 1))
    db = next(i for i in candidate["incident_list"] if i["title"].startswith("PostgresDown"))
    assert {tuple(s["path"]) for s in db["symptoms"]} == {("orders-api", "orders-db")}
    assert all(s["kind"] == "topology" and s["evidence"].startswith("critical, started") for s in db["symptoms"])
    # the payment provider's outage (as grave as the database's, 40 s after it) pages on its own: no merge
    assert candidate["score"]["worst_merges"] == [] and candidate["score"]["f1"] == 1.0
    assert any(i["title"].startswith("PaymentProviderErrors") for i in candidate["incident_list"])


async def test_truth_table_names_the_worst_offenders(clean):
    partial = CORPUS_DIR / "partial-topology"
    code, out, err = await run_cli(clean, "backtest", "--truth", "--rules", str(partial / "rules"), "--baseline",
                                   "none", str(partial / RECORDING))
    assert code == 0, err
    text = " ".join(out.split())
    assert "pairwise F1" in text and "compression (ideal)" in text
    assert f"{score_storm(partial, 'storm').f1:.3f}" in text and f"{score_storm(partial, 'none').f1:.3f}" in text
    # the candidate's: search, whose dependency on the database the partial topology misses, pages on its own
    assert "candidate (" in text and "split: truth db-outage went to 2 incidents" in text


async def test_a_late_cause_merges_in_the_truth_table(clean):
    code, out, err = await run_cli(clean, "backtest", "--truth", "--json", "--rules", str(LATE / "rules"),
                                   "--baseline", "none", str(LATE / RECORDING))
    assert code == 0, err
    candidate = orjson.loads(out)["candidate"]
    assert candidate["score"]["f1"] == 1.0 == score_storm(LATE, "storm").f1
    assert candidate["merged"] == 1  # the symptoms' own incident, merged into the late cause's


async def test_problems_link_in_json(clean):
    batch = CORPUS_DIR / "recurring-batch"
    code, out, err = await run_cli(clean, "backtest", "--truth", "--json", "--rules", str(batch / "rules"),
                                   "--baseline", "none", str(batch / RECORDING))
    assert code == 0, err
    candidate = orjson.loads(out)["candidate"]
    (problem,) = candidate["problem_list"]
    linked = [i["id"] for i in candidate["incident_list"] if problem["id"] in i["problems"]]
    assert sorted(linked) == sorted(problem["incidents"]) and len(linked) == 4
    assert candidate["score"]["problems"]["matched"] == 1


async def test_an_unlabelled_or_malformed_line_refuses_the_whole_recording(clean, tmp_path):
    lines = (LATE / RECORDING).read_bytes().splitlines()
    doc = orjson.loads(lines[4])
    del doc["truth"]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join([*lines[:4], orjson.dumps(doc), *lines[5:]]) + b"\n")
    code, out, err = await run_cli(clean, "backtest", "--truth", "--rules", str(LATE / "rules"), str(bad))
    assert code == 2 and f"{bad}:5: truth: missing" in " ".join(err.split()) and "F1" not in out
    code, _, err = await run_cli(clean, "backtest", "--rules", str(LATE / "rules"), str(bad))
    assert code == 0, err  # without --truth the labels are not needed
    bad.write_bytes(lines[0] + b"\n" + lines[1][:-3] + b"\n")
    code, _, err = await run_cli(clean, "backtest", "--truth", "--rules", str(LATE / "rules"), str(bad))
    assert code == 2 and f"{bad}:2: not JSON" in " ".join(err.split())
