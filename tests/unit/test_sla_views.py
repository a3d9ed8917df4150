"""The CLI's SLA cells and table (issue 18)."""

from __future__ import annotations

from rich.console import Console

from stormwatch.views import incidents_table, sla_cell, sla_table, span

RECORD = {"kind": "respond", "policy": "database", "priority": "P1", "target": 300.0, "calendar": "24x7",
          "started": 100.0, "pauses": [[120.0, 130.0]], "pause_reasons": ["on_hold"], "warnings": [0.5, 0.75],
          "warned": 1, "stage": "warning", "met_at": None, "breached_at": None, "due": 410.0, "time_left": 95.0,
          "paused": False}


def test_spans() -> None:
    assert [span(s) for s in (5, 245, 7800, 3 * 86400 + 4 * 3600 + 5, -61)] == [
        "0m05s", "4m05s", "2h10m", "3d4h", "-1m01s"]


def test_the_cell_is_the_most_urgent_record_coloured_by_stage() -> None:
    resolve = RECORD | {"kind": "resolve", "stage": "running", "time_left": 14000.0}
    assert sla_cell([resolve, RECORD]) == "[yellow]respond 1m35s[/yellow]"
    assert sla_cell([RECORD | {"stage": "breached", "time_left": None}, resolve]) == "[red]respond breached[/red]"
    assert sla_cell([RECORD | {"stage": "met", "time_left": None}]) == "[dim]met[/dim]"
    assert sla_cell([RECORD | {"time_left": None, "paused": True}]) == "[cyan]paused[/cyan]"
    assert sla_cell([]) == "-"


def test_tables_render() -> None:
    console = Console(width=250, record=True, color_system=None)
    incident = {"id": "INC-1", "title": "t", "priority": "P1", "severity": "critical", "status": "open", "team": "",
                "alerts": 1, "firing": 1, "occurrences": 1, "created_at": 100.0, "sla": [RECORD]}
    console.print(incidents_table([incident]))
    console.print(sla_table([RECORD]))
    text = console.export_text()
    assert "respond 1m35s" in text and "database" in text and "0m10s" in text and "warning" in text
