"""Charts drawn by the server as SVG text, from a report document: no script, no external reference, every label
escaped, so a page (the console, the HTML report) can show them as they are.

* ``trend``: a line per figure over the series' buckets (incidents opened, MTTA, MTTR);
* ``bars``: horizontal bars for a top list or a breakdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 16, 28, 36
COLOURS = ("#2563eb", "#dc2626", "#059669", "#d97706")


def _svg(body: str, title: str, height: int = HEIGHT) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
            f'height="{height}" role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">'
            f'<title>{escape(title)}</title>'
            f'<text x="{PAD_LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>{body}</svg>')


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _scaled(value: Any, scale: float) -> float | None:
    return float(value) / scale if value is not None else None


def trend(title: str, buckets: Sequence[dict[str, Any]], series: Sequence[tuple[str, str]],
          scale: float = 1.0) -> str:
    """Lines of ``series`` ((key, label), ...) over the buckets; values divided by ``scale`` (e.g. 60: minutes)."""
    points = [[_scaled(b.get(key), scale) for b in buckets] for key, _ in series]
    top = max([v for line in points for v in line if v is not None] or [0.0]) or 1.0
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    n = max(len(buckets), 1)

    def x(i: int) -> float:
        return PAD_LEFT + (inner_w * (i + 0.5) / n)

    def y(v: float) -> float:
        return PAD_TOP + inner_h * (1 - v / top)

    parts = [f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + inner_h}" x2="{WIDTH - PAD_RIGHT}" y2="{PAD_TOP + inner_h}" '
             f'stroke="#999"/>',
             f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + 4}" text-anchor="end">{_fmt(top)}</text>',
             f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + inner_h}" text-anchor="end">0</text>']
    step = max(1, n // 8)
    for i in range(0, len(buckets), step):
        label = datetime.fromtimestamp(buckets[i]["start"], UTC).strftime("%m-%d")
        parts.append(f'<text x="{x(i):.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" text-anchor="middle">{label}</text>')
    for k, ((_, label), line) in enumerate(zip(series, points, strict=True)):
        colour = COLOURS[k % len(COLOURS)]
        path, pen = [], "M"
        for i, v in enumerate(line):
            if v is None:
                pen = "M"
                continue
            path.append(f"{pen}{x(i):.1f},{y(v):.1f}")
            pen = "L"
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2" fill="{colour}"/>')
        if path:
            parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        lx = PAD_LEFT + 150 * k
        parts.append(f'<rect x="{lx}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{HEIGHT - 5}">{escape(label)}</text>')
    return _svg("".join(parts), title)


def bars(title: str, items: Sequence[tuple[str, float]]) -> str:
    """Horizontal bars, largest first as given."""
    row = 20
    height = PAD_TOP + row * max(len(items), 1) + 8
    top = max([v for _, v in items] or [0.0]) or 1.0
    label_w, inner_w = 200, WIDTH - 200 - PAD_RIGHT - 60
    parts = []
    if not items:
        parts.append(f'<text x="{PAD_LEFT}" y="{PAD_TOP + 12}" fill="#666">nothing in this window</text>')
    for i, (label, value) in enumerate(items):
        y = PAD_TOP + i * row
        w = inner_w * value / top
        shown = label if len(label) <= 32 else label[:31] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{escape(shown or "(none)")}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{COLOURS[0]}"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 13}">{_fmt(value)}</text>')
    return _svg("".join(parts), title, height)


def charts(report: dict[str, Any]) -> dict[str, str]:
    """The charts of a report, by name (the console and the HTML page show them in this order)."""
    series = report["series"]
    alerts = report["alerts"]
    return {
        "incidents": trend("Incidents opened per " + report["window"]["period"], series,
                           [("incidents", "incidents")]),
        "response": trend("MTTA and MTTR (minutes)", series,
                          [("mtta_mean", "MTTA mean"), ("mttr_mean", "MTTR mean"), ("mttr_p90", "MTTR p90")],
                          scale=60.0),
        "sla": trend("SLA attainment (% met in time)", series,
                     [("sla_respond_met_rate", "respond"), ("sla_resolve_met_rate", "resolve")], scale=0.01),
        "noisiest": bars("Noisiest alerts (notifications)",
                         [(a["alertname"], a["notifications"]) for a in alerts["by_notifications"]]),
        "flapping": bars("Most flapping alerts (incidents)",
                         [(a["alertname"], a["flapping_incidents"]) for a in alerts["flapping"]]),
        "teams": bars("Incidents by team", [(r["team"], r["incidents"]) for r in report["by_team"][:10]]),
        "problems": bars("Problems with the most incidents",
                         [(f"{p['id']} {p['title']}", p["incidents"]) for p in report["problems"]]),
    }
