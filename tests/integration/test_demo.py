"""`make demo` stays true: the storm becomes the database incident (with its symptoms and problem) and shipping's."""

from __future__ import annotations

import io

from rich.console import Console

from stormwatch.demo import run_demo


async def test_demo_storm_becomes_two_incidents_and_a_problem(settings):
    out = io.StringIO()
    await run_demo(settings.model_copy(update={"rules": "examples"}), Console(file=out, width=250))
    text = out.getvalue()
    assert "-> 2 incidents out" in text
    assert "database-outage: orders-db" in text and "service-symptoms: HighLatency / shipping" in text
    assert "explains 98 alerts of other groups" in text
    assert "shared-database-cause: database-outage: orders-db" in text
    assert "1 dead-lettered with a reason" in text
