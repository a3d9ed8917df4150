"""``stormwatch rules suggest``: candidates with their evidence, a draft ``rules check`` accepts and
``backtest --truth`` scores at once."""

from __future__ import annotations

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
