"""``stormwatch rules suggest``: candidates with their evidence, a draft ``rules check`` accepts and
``backtest --truth`` scores at once."""

from __future__ import annotations

import shutil

import orjson

from replay.corpus import CORPUS_DIR, RECORDING
from tests.integration.helpers import run_cli

PARTIAL = CORPUS_DIR / "partial-topology"


async def test_suggest_check_and_score_a_draft(clean, tmp_path):
    draft = tmp_path / "draft"
    code, out, err = await run_cli(clean, "rules", "suggest", "--json", "--out", str(draft), str(PARTIAL / RECORDING))
    assert code == 0, err
    doc = orjson.loads(out)
    edges = {c["name"]: c for c in doc["candidates"] if c["kind"] == "topology"}
    assert {"checkout-web -> orders-db", "search -> orders-db", "orders-api -> orders-db"} <= set(edges)
    search = edges["search -> orders-db"]
    assert search["support"] == 2 and search["confidence"] == 1.0 and search["lift"] > 2
    assert all(ref.startswith(f"{PARTIAL / RECORDING}:") for ref in search["evidence"])
    assert doc["draft"] == str(draft / "suggested.yaml")

    code, out, err = await run_cli(clean, "rules", "check", str(draft))
    assert code == 0 and "rules OK" in out and "warning" not in err, (out, err)

    code, out, err = await run_cli(clean, "backtest", "--truth", "--json", "--rules", str(draft), "--baseline",
                                   str(PARTIAL / "rules"), str(PARTIAL / RECORDING))
    assert code == 0, err
    result = orjson.loads(out)
    assert result["candidate"]["score"]["f1"] == 1.0 > result["current"]["score"]["f1"]


async def test_suggest_text_and_bad_input(clean, tmp_path):
    code, out, err = await run_cli(clean, "rules", "suggest", str(CORPUS_DIR / "flapping" / RECORDING))
    assert code == 0, err
    text = " ".join(out.split())
    assert "group DiskSpaceLow: support 14" in text and "1 group rule(s)" in text
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"at": 1, "alert": {}}\n')
    code, _, err = await run_cli(clean, "rules", "suggest", str(bad))
    assert code == 2 and f"{bad}:1: alert.labels" in " ".join(err.split())
    code, _, err = await run_cli(clean, "rules", "suggest", "--window", "soon", str(CORPUS_DIR / "flapping" / RECORDING))
    assert code == 2


async def test_suggest_against_a_rule_set_drafts_only_what_it_lacks(clean, tmp_path):
    # partial-topology's rules bind service="checkout-web" to checkout and miss search's dependency on the database
    draft = tmp_path / "draft"
    code, out, err = await run_cli(clean, "rules", "suggest", "--json", "--rules", str(PARTIAL / "rules"), "--out",
                                   str(draft), str(PARTIAL / RECORDING))
    assert code == 0, err
    doc = orjson.loads(out)
    new = {c["name"] for c in doc["candidates"] if c["kind"] == "topology"}
    known = {c["name"]: c["known"] for c in doc["known"] if c["kind"] == "topology"}
    assert new == {"search -> orders-db"} and not any("checkout-web" in name for name in new | set(known))
    # search fails with checkout and orders-api only when orders-db, which all three depend on, fails
    aside = {c["name"]: c["explained_by"] for c in doc["set_aside"] if c["kind"] == "topology"}
    assert aside["search -> checkout"] == aside["search -> orders-api"] == ["orders-db"]
    assert known["orders-api -> orders-db"] == "in the topology"
    assert known["checkout -> orders-db"] == "implied by the topology: checkout -> orders-api -> orders-db"
    assert doc["rules"] == str(PARTIAL / "rules") and doc["draft"] == str(draft / "suggested.yaml")

    code, out, err = await run_cli(clean, "rules", "suggest", "--rules", str(PARTIAL / "rules"), str(PARTIAL / RECORDING))
    assert code == 0, err
    text = " ".join(out.split())
    assert "already known: topology orders-api -> orders-db (in the topology)" in text
    assert "set aside: topology search -> checkout (a common cause explains it: orders-db)" in text
    assert f"1 topology edge(s), 1 inhibit rule(s), 0 group rule(s), 0 problem rule(s) new to {PARTIAL / 'rules'} " \
           "(6 already known) (5 candidate(s) set aside)" in text

    # the workflow: the draft next to the rules, checked and scored as one directory
    combined = tmp_path / "combined"
    shutil.copytree(PARTIAL / "rules", combined)
    shutil.copy(draft / "suggested.yaml", combined)
    code, out, err = await run_cli(clean, "rules", "check", str(combined))
    assert code == 0 and "rules OK" in out and "warning" not in err, (out, err)
    code, out, err = await run_cli(clean, "backtest", "--truth", "--json", "--rules", str(combined), "--baseline",
                                   str(PARTIAL / "rules"), str(PARTIAL / RECORDING))
    assert code == 0, err
    result = orjson.loads(out)
    assert result["candidate"]["score"]["f1"] == 1.0
    assert round(result["current"]["score"]["f1"], 3) == 0.788


async def test_suggest_refuses_a_broken_rule_set(clean, tmp_path):
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "topology.yaml").write_text("topology:\n  services:\n    api: {depends_on: [db]}\n")
    code, out, err = await run_cli(clean, "rules", "suggest", "--rules", str(broken), str(PARTIAL / RECORDING))
    text = " ".join(err.split())
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert f"{broken / 'topology.yaml'}:3: topology.services.api.depends_on[0]: 'api' depends on unknown service " \
           "'db'" in text and f"1 error(s) in {broken}" in text
    (broken / "topology.yaml").write_text("topology: [\n")
    code, _, err = await run_cli(clean, "rules", "suggest", "--rules", str(broken), str(PARTIAL / RECORDING))
    assert code == 2 and f"{broken / 'topology.yaml'}:" in err and "YAML syntax error" in err and "Traceback" not in err
    code, _, err = await run_cli(clean, "rules", "suggest", "--rules", str(PARTIAL / "rules"), "--service-label", "app",
                                 str(PARTIAL / RECORDING))
    assert code == 2 and "--service-label 'app' differs" in " ".join(err.split()) and "Traceback" not in err
