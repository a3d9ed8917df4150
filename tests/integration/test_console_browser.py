"""The web console end to end in headless Chromium (Debian's ``chromium``, driven by Playwright for Python; no
browser download): sign in with a token, see an incident appear live when a new alert arrives (no reload),
open it, acknowledge it, see its status change. Labels are attacker-controlled: one carries markup that must
show as text and never run. A screenshot is saved (path printed). Missing Chromium or Playwright skips the test
locally and fails it under CI=true."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import eventually, missing_tool
from tests.integration.api_helpers import INGEST, READ, RESPOND, start_api
from tests.integration.helpers import v2_alert

WAIT_MS = 20_000  # a bound on waiting for what must appear, not a timing assertion
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
HOSTILE = '<img src=x onerror="window.__pwned=1">'


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        exe = None
    if exe is None:
        missing_tool("Chromium or Playwright missing (apt-get install chromium; pip install -e '.[test]')")
    return exe


@pytest.fixture
async def browser():
    exe = _chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=exe, headless=True,
                                           args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            await browser.close()


async def _incident_id(api, service: str) -> str:
    for incident in await api.worker.store.list_incidents():
        if incident.group_labels.get("service") == service:
            return incident.id
    return ""


async def signed_in(browser, base: str, token: str, errors: list[str], *, height: int = 900):
    """A new page on the console at ``base``, signed in with ``token``, its incident list shown; page errors go to
    ``errors``."""
    page = await browser.new_page(viewport={"width": 1400, "height": height})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(base + "/")
    await page.fill("#token", token)
    await page.click("#signin button[type=submit]")
    await page.wait_for_selector("#incidents", timeout=WAIT_MS)
    return page


async def test_sign_in_live_list_open_acknowledge(clean, browser):
    async for api in start_api(clean):
        base = str(api.client.base_url).rstrip("/")
        first = await api.post("/api/v2/alerts", [v2_alert("PostgresDown", "orders-db", "db-1")], token=INGEST)
        assert first.status_code == 200

        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(base + "/")
        await page.fill("#token", RESPOND)
        await page.click("#signin button[type=submit]")
        await page.wait_for_selector("#incidents tr[data-id]", timeout=WAIT_MS)
        await page.wait_for_selector("#live[data-state=on]", timeout=WAIT_MS)
        await page.evaluate("window.__sameDocument = true")  # gone if the page reloads
        headers = await page.locator("#incidents table th").all_inner_texts()
        assert [t.strip() for t in headers][:4] == ["priority", "status", "title", "team"]
        first_row = await page.locator("#incidents tr[data-id]").first.inner_text()
        assert "P1" in first_row and "unassigned" in first_row  # no rule: the severity's default priority and team

        second = await api.post("/api/v2/alerts", [v2_alert("HighLatency", HOSTILE, "web-1")], token=INGEST)
        assert second.status_code == 200
        row = await page.wait_for_selector("#incidents tr[data-id] >> text=HighLatency", timeout=WAIT_MS)
        assert await page.evaluate("window.__sameDocument === true"), "the list reloaded the page"
        assert HOSTILE in await row.inner_text()  # markup shown as text
        assert await page.evaluate("window.__pwned === undefined")
        assert await page.locator("#incidents img").count() == 0

        iid = await _incident_id(api, HOSTILE)
        await page.click(f'#incidents tr[data-id="{iid}"] a')
        await page.wait_for_selector("#incident-status[data-status=open]", timeout=WAIT_MS)
        await page.click("#cmd-acknowledge")
        await page.wait_for_selector("#incident-status[data-status=acknowledged]", timeout=WAIT_MS)
        stored = (await api.get(f"/api/v1/incidents/{iid}")).json()
        assert (stored["status"], stored["acknowledged_by"]) == ("acknowledged", "sre")
        assert await page.locator(".timeline >> text=acknowledged by sre").count() >= 1
        assert await page.evaluate("sessionStorage.getItem('stormwatch.token')") == RESPOND
        assert await page.evaluate("window.__pwned === undefined") and errors == []

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "console.png"
        await page.screenshot(path=str(shot), full_page=True)
        print(f"console screenshot: {shot}")


async def test_the_list_shows_more_than_one_page_on_request(clean, browser):
    """A storm of more than 200 incidents: the list shows the newest 200, then the rest on request."""
    async for api in start_api(clean):
        base = str(api.client.base_url).rstrip("/")
        storm = [v2_alert("NodeDown", f"svc-{n:03d}", "node-1") for n in range(205)]
        assert (await api.post("/api/v2/alerts", storm, token=INGEST)).status_code == 200
        await eventually(lambda: _incident_count(api, 205), what="205 incidents")

        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(base + "/")
        await page.fill("#token", READ)
        await page.click("#signin button[type=submit]")
        await page.wait_for_selector("#incident-count >> text=200+ shown", timeout=WAIT_MS)
        assert await page.locator("#incidents tr[data-id]").count() == 200
        await page.click("#incident-more-button")
        await page.wait_for_selector("#incident-count >> text=205 shown", timeout=WAIT_MS)
        assert await page.locator("#incidents tr[data-id]").count() == 205
        assert await page.locator("#incident-more-button").count() == 0 and errors == []


async def _incident_count(api, expected: int) -> bool:
    page = (await api.get("/api/v1/incidents?limit=500")).json()
    return len(page["items"]) >= expected


WIDE = "x" * 50_000  # one unbroken 50 KB label value

# every table and the page itself end inside the viewport (a pixel of rounding allowed)
_WITHIN_VIEWPORT = """() => {
  const width = document.documentElement.clientWidth;
  const over = [...document.querySelectorAll('table, main')]
    .map((el) => el.getBoundingClientRect().right).filter((right) => right > width + 1);
  return { width, scroll: document.documentElement.scrollWidth, over };
}"""


async def test_a_50_kb_label_stays_inside_the_viewport_and_is_shown_whole_on_demand(clean, browser):
    # the default label limit (STORMWATCH_LABEL_VALUE_MAX_BYTES, 16 KB) would refuse this value at ingest: raised here
    # so the console's layout is tested against a value as long as an operator may allow
    async for api in start_api(clean, label_value_max_bytes=64 * 1024, labels_max_bytes=128 * 1024):
        base = str(api.client.base_url).rstrip("/")
        alert = v2_alert("WideLabel", "wide-" + WIDE, "web-1")
        alert["labels"]["blob"] = WIDE
        assert (await api.post("/api/v2/alerts", [alert], token=INGEST)).status_code == 200
        iid = await eventually(lambda: _incident_id(api, "wide-" + WIDE), what="the incident")

        for width in (1400, 800):
            page = await browser.new_page(viewport={"width": width, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base + "/")
            await page.fill("#token", READ)
            await page.click("#signin button[type=submit]")
            await page.wait_for_selector(f'#incidents tr[data-id="{iid}"]', timeout=WAIT_MS)
            layout = await page.evaluate(_WITHIN_VIEWPORT)
            assert layout["over"] == [] and layout["scroll"] <= layout["width"] + 1, (width, "list", layout)

            await page.click(f'#incidents tr[data-id="{iid}"] a')
            label = page.locator(f'tr[data-fingerprint] .label[title="blob={WIDE}"]')
            await label.wait_for(timeout=WAIT_MS)
            layout = await page.evaluate(_WITHIN_VIEWPORT)
            assert layout["over"] == [] and layout["scroll"] <= layout["width"] + 1, (width, "incident", layout)
            assert await label.text_content() == f"blob={WIDE}"  # clipped on screen, whole in the page

            await label.focus()  # on demand: the whole value, wrapped inside the table
            expanded = await label.evaluate("(el) => ({ h: el.getBoundingClientRect().height, "
                                            "lines: el.scrollHeight / parseFloat(getComputedStyle(el).lineHeight) })")
            assert expanded["lines"] > 10
            layout = await page.evaluate(_WITHIN_VIEWPORT)
            assert layout["over"] == [] and layout["scroll"] <= layout["width"] + 1, (width, "expanded", layout)
            assert errors == []
            if width == 1400:
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "console-wide-label.png"))
            await page.close()


async def test_the_services_page_shows_health_at_a_glance_and_a_page_per_service(clean, browser, tmp_path):
    from tests.integration.test_services import write_catalog

    async for api in start_api(clean, rules=write_catalog(tmp_path / "rules")):
        base = str(api.client.base_url).rstrip("/")
        alert = v2_alert("PostgresDown", HOSTILE, "pg-1")  # bound by instance; the label is hostile markup
        assert (await api.post("/api/v2/alerts", [alert], token=INGEST)).status_code == 200
        await eventually(lambda: _incident_count(api, 1), what="the incident")

        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(base + "/#/services")
        await page.fill("#token", READ)
        await page.click("#signin button[type=submit]")
        await page.wait_for_selector('#services tr[data-name="payments-db"]', timeout=WAIT_MS)
        db_row = await page.locator('#services tr[data-name="payments-db"]').inner_text()
        assert "outage" in db_row and "dba" in db_row  # a critical on a tier-1 service: P1
        assert "operational" in await page.locator('#services tr[data-name="reports"]').inner_text()
        shop = await page.locator('#business-services tr[data-name="online-shop"]').inner_text()
        assert "outage" in shop and "checkout" in shop

        await page.click('#services tr[data-name="payments-db"] a')
        await page.wait_for_selector("#service-health.s-outage", timeout=WAIT_MS)
        assert await page.locator("#dependants >> text=payments-api").count() == 1
        assert await page.locator("text=PostgresDown").count() >= 1  # the open incident, linked
        await page.click("#dependants a")
        await page.wait_for_selector("#service-health.s-operational", timeout=WAIT_MS)
        assert await page.locator("#depends-on >> text=payments-db").count() == 1
        assert await page.evaluate("window.__pwned === undefined") and errors == []


async def test_the_incident_page_shows_the_changes_linked_as_probable_causes(clean, browser, tmp_path):
    import time

    from tests.integration.test_services import write_catalog

    async for api in start_api(clean, rules=write_catalog(tmp_path / "rules")):
        base = str(api.client.base_url).rstrip("/")
        change = {"id": "deploy-42", "service": "payments-db", "summary": HOSTILE, "kind": "deploy",
                  "at": time.time() - 240, "links": [{"href": "https://ci.example.com/42", "text": "build 42"}]}
        assert (await api.post("/api/v1/changes", change, token=INGEST)).status_code == 202
        await eventually(lambda: _changes_stored(api), what="the change stored")
        alert = v2_alert("PostgresDown", "postgres", "pg-1")
        assert (await api.post("/api/v2/alerts", [alert], token=INGEST)).status_code == 200
        await eventually(lambda: _incident_count(api, 1), what="the incident")
        iid = (await api.get("/api/v1/incidents")).json()["items"][0]["id"]

        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{base}/#/incidents/{iid}")
        await page.fill("#token", READ)
        await page.click("#signin button[type=submit]")
        row = await page.wait_for_selector('#incident-changes tr[data-change="deploy-42"]', timeout=WAIT_MS)
        text = await row.inner_text()
        assert HOSTILE in text and "4m before; the incident's own service" in text and "build 42" in text
        assert await page.locator("#incident-service >> text=payments-db").count() == 1
        await page.click("#incident-service a")  # its service's page lists the change among its recent changes
        await page.wait_for_selector('#service-changes tr[data-change="deploy-42"]', timeout=WAIT_MS)
        assert await page.evaluate("window.__pwned === undefined") and errors == []


async def _changes_stored(api) -> bool:
    return bool((await api.get("/api/v1/changes")).json()["items"])
