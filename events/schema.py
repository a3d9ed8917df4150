"""The JSON Schema of every event, generated from ``events.models``; checked in as ``docs/events.schema.json``.

Regenerate after changing a model: ``python -m events.schema > docs/events.schema.json`` (a test fails while the
checked-in file differs). The published schema leaves out ``additionalProperties: false``: a subscriber should
ignore fields it does not know, since a version may gain fields (the project's own tests validate with the strict
models, so no field reaches the wire undocumented).
"""

from __future__ import annotations

import json
from typing import Any

from events.models import event_adapter
from events.types import EVENT_TYPES, SCHEMA_VERSION

SCHEMA_ID = "https://stormwatch.dev/schemas/events.schema.json"


def event_schema() -> dict[str, Any]:
    """One schema for any event: a ``oneOf`` chosen by ``type``, with every payload under ``$defs``."""
    body = _lenient(event_adapter().json_schema(ref_template="#/$defs/{model}"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Stormwatch event",
        "description": f"An event on <ns>.events (schema_version {SCHEMA_VERSION}); the routing key is its type. "
                       "See docs/events.md.",
        "x-event-types": list(EVENT_TYPES),
        **body,
    }


def schema_text() -> str:
    return json.dumps(event_schema(), indent=2, ensure_ascii=False) + "\n"


def _lenient(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _lenient(v) for k, v in node.items() if not (k == "additionalProperties" and v is False)}
    if isinstance(node, list):
        return [_lenient(v) for v in node]
    return node


if __name__ == "__main__":
    print(schema_text(), end="")
