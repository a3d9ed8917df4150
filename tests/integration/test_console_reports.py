"""The console's Reports page in headless Chromium over a worker whose history holds a generated history: the
figures table, the team breakdown and the server-drawn charts appear; a screenshot of the charts is decoded and
must hold the charts' line and bar colours (drawn, not blank)."""

from __future__ import annotations

import time
from pathlib import Path

from events import builders
from stormwatch.history import migrate
from stormwatch.history.database import open_engine
from stormwatch.history.store import HistoryStore
from tests.integration import report_history as gen
from tests.integration.api_helpers import READ, start_api
from tests.integration.png import count_near, pixels
from tests.integration.test_console_browser import ARTIFACTS, WAIT_MS, browser, signed_in  # noqa: F401 - the fixture

BLUE = (0x25, 0x63, 0xEB)  # svg.COLOURS[0]: incidents line, bars
RED = (0xDC, 0x26, 0x26)  # svg.COLOURS[1]: MTTR line


async def test_reports_page_shows_figures_and_charts(clean, browser, tmp_path: Path):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'history.db'}"
    engine = open_engine(url)
    await migrate.upgrade(engine)
    history = gen.generate(seed=5, count=150, days=120)
    await gen.write(HistoryStore(engine), history)
    await HistoryStore(engine).apply([(builders.alert_muted(f"m{n}", "g", {"maintenance:db-patching": 3}, at), None)
                                      for n, at in enumerate((time.time() - 86400 * 3, time.time() - 86400 * 100))])
    await engine.dispose()
    async for api in start_api(clean, history_url=url):
        base = str(api.client.base_url).rstrip("/")
        errors: list[str] = []
        page = await signed_in(browser, base, READ, errors, height=1000)
        await page.click("a[data-nav=reports]")
        await page.select_option("#report-since", "90d")
        await page.wait_for_selector("#report tr[data-figure=mttr_p90]", timeout=WAIT_MS)
        await page.wait_for_function(
            "[...document.querySelectorAll('img.chart')].length >= 4 && "
            "[...document.querySelectorAll('img.chart')].every((i) => i.complete && i.naturalWidth > 0)",
            timeout=WAIT_MS)
        report = (await api.get("/api/v1/reports/summary?since=90d")).json()
        shown = f"{report['figures']['incidents']['value']:,}"
        # the page may show the first (30 days) answer for a moment: wait for the 90 days one
        await page.wait_for_function(
            "(want) => document.querySelector('#report tr[data-figure=incidents] td:nth-child(2)')"
            "?.textContent.trim() === want", arg=shown, timeout=WAIT_MS)
        incidents = await page.locator("#report tr[data-figure=incidents] td").all_inner_texts()
        assert incidents[1].strip() == shown
        assert report["figures"]["incidents"]["value"] > 0
        teams = await page.locator("#report table").nth(1).inner_text()
        assert all(team in teams for team in ("dba", "web", "net"))
        assert "respond SLA" in teams and "SLA breaches" in teams
        attainment = await page.locator("#report tr[data-figure=sla_respond_met_rate] td").all_inner_texts()
        assert attainment[1].strip() == f"{100 * report['figures']['sla_respond_met_rate']['value']:.1f}%"
        assert await page.locator("img.chart[data-chart=sla]").count() == 1
        # muted notifications (issue 17): 3 in the window (the other 3 are 100 days ago, in the previous one)
        muted = await page.locator("#report tr[data-muted-reason='maintenance:db-patching'] td").all_inner_texts()
        assert [c.strip() for c in muted] == ["maintenance", "db-patching", "3", "3", "±0"]
        total = await page.locator("#report tr[data-muted-figure=muted_notifications] td").all_inner_texts()
        assert [c.strip() for c in total[1:3]] == ["3", "3"]
        assert errors == []

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "console-reports.png"
        png = await page.locator("#report .charts").screenshot(path=str(shot))
        print(f"reports screenshot: {shot}")
        width, height, rgb = pixels(png)
        assert width > 600 and height > 200
        assert count_near(rgb, BLUE) > 500, "the charts' blue lines and bars are not on the screenshot"
        assert count_near(rgb, RED) > 50, "the MTTR line is not on the screenshot"
