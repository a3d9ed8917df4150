"""The console's History page in headless Chromium over a worker with its history writer on: search by text, label,
team, service, status and time range; a resolved incident that only the history holds (Redis never had it here)
opens as the history's read-only record; a live incident's record links to its live page; a bad time range is
refused naming the field; a live incident page that Redis no longer holds points to the history."""

from __future__ import annotations

from pathlib import Path

from stormwatch.history import migrate
from stormwatch.history.database import open_engine
from stormwatch.history.store import HistoryStore
from tests.conftest import eventually
from tests.integration.api_helpers import READ, start_api
from tests.integration.helpers import body, publish, v2_alert
from tests.integration.test_console_browser import ARTIFACTS, WAIT_MS, browser, signed_in  # noqa: F401 - the fixture
from tests.integration.test_history_store import INC, T0, detail_for, story


async def rows(page) -> list[str]:
    return await page.locator("#history tbody tr").evaluate_all("(trs) => trs.map((tr) => tr.dataset.id)")


async def search(page, want: list[str], **fields: str) -> None:
    for name in ("q", "label", "team", "service", "since", "until"):
        await page.fill(f"#history-{name}", fields.get(name, ""))
    await page.select_option("#history-status", fields.get("status", ""))
    await page.click("#history-go")
    await page.wait_for_function(
        "(want) => JSON.stringify([...document.querySelectorAll('#history tbody tr')].map((tr) => tr.dataset.id))"
        " === JSON.stringify(want)", arg=want, timeout=WAIT_MS)


async def test_history_search_finds_a_resolved_incident_only_the_history_holds(clean, browser, tmp_path: Path):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'history.db'}"
    engine = open_engine(url)
    await migrate.upgrade(engine)
    await HistoryStore(engine, clock=lambda: T0 + 100).apply([(e, detail_for(e)) for e in story()])
    await engine.dispose()
    settings = clean.model_copy(update={"history_enabled": True, "history_url": url})
    async for api in start_api(settings):
        await eventually(api.worker.history.ready.is_set, what="the history writer started")
        await publish(settings, [body([v2_alert("DiskFull", "billing", "h1")])])

        async def live_in_history() -> str | None:
            found = (await api.get("/api/v1/history/incidents?service=billing")).json()["incidents"]
            return found[0]["id"] if found else None
        await eventually(live_in_history, what="the live incident written to the history")
        live = await live_in_history()
        assert (await api.get(f"/api/v1/incidents/{INC}")).status_code == 404  # only the history holds it

        base = str(api.client.base_url).rstrip("/")
        errors: list[str] = []
        page = await signed_in(browser, base, READ, errors)
        await page.click("a[data-nav=history]")
        await page.wait_for_function("() => document.querySelectorAll('#history tbody tr').length === 2", timeout=WAIT_MS)
        assert await rows(page) == [live, INC]  # newest first: the story happened before this test's alert

        await search(page, [INC], q="postgres")
        await search(page, [INC], q="5F1C2A9B")  # the id, any case
        await search(page, [live], label="alertname=DiskFull")
        await search(page, [INC], label="alertname=PostgresDown service=orders-db", team="dba", status="resolved")
        await search(page, [], label="alertname=PostgresDown service=billing")  # every pair must match
        await search(page, [live], service="billing", since="1h")
        await search(page, [INC], since=str(int(T0 - 60)), until=str(int(T0 + 60)))  # epoch seconds
        await search(page, [], status="open", team="dba")
        assert await page.locator("#history p.empty").inner_text() == "No incident in the history matches."

        # a bad time is the API's 400 naming the field, shown; the field gets the focus
        await page.fill("#history-since", "yesterday")
        await page.click("#history-go")
        error = page.locator("#history p.error")
        await error.wait_for(timeout=WAIT_MS)
        assert "400" in await error.inner_text() and "since" in await error.inner_text()
        assert await page.evaluate("document.activeElement.id") == "history-since"

        # the resolved incident Redis never held: the history's record, read-only
        await search(page, [INC], team="dba")
        await page.click(f"#history tr[data-id='{INC}'] a")
        await page.wait_for_selector("#history-title", timeout=WAIT_MS)
        assert await page.locator("#history-title").inner_text() == "PostgresDown on orders-db"
        assert await page.get_attribute("#history-live", "data-live") == "no"
        assert await page.get_attribute("#history-status-badge", "class") == "badge  s-resolved"
        facts = await page.locator("#history-facts").inner_text()
        assert "acknowledged by\nsre" in facts and "resolved by\nops" in facts and "PRB-0123456789ab-1" in facts
        fingerprints = await page.locator("tr[data-fingerprint]").evaluate_all(
            "(trs) => trs.map((tr) => tr.dataset.fingerprint)")
        assert sorted(fingerprints) == ["aaaa", "bbbb"]
        timeline = await page.locator("#history-timeline li").evaluate_all("(lis) => lis.map((li) => li.dataset.type)")
        assert timeline[0] == "incident.resolved" and "incident.acknowledged" in timeline and len(timeline) >= 5
        assert await page.locator("#cmd-acknowledge, #cmd-resolve, #respond").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "console-history.png"), full_page=True)

        # its live page answers 404 and points back to the history's record
        await page.goto(f"{base}/#/incidents/{INC}")
        await page.click("#incident-in-history a", timeout=WAIT_MS)
        await page.wait_for_selector("#history-title", timeout=WAIT_MS)

        # an incident Redis still holds: its record links to the live page
        await page.goto(f"{base}/#/history/{live}")
        await page.wait_for_selector("#history-live[data-live=yes]", timeout=WAIT_MS)
        await page.click("#history-live a")
        await page.wait_for_selector("#incident-status", timeout=WAIT_MS)
        assert await page.locator("#incident-status").get_attribute("data-status") == "open"
        assert errors == []
        await page.close()
