"""A moment as people write one in a query: a duration back from now (``30d``), epoch seconds, or an RFC 3339 time.

One parser for every ``since`` / ``until`` Stormwatch takes (the history search in the API, the console and the CLI,
``recording convert --from history``, the reports), so they accept and refuse the same texts with the same words.
"""

from __future__ import annotations

import math
from datetime import datetime

from rules.scalars import EPOCH_LATEST, parse_duration

MAX_CHARS = 64


def parse_moment(text: str, now: float) -> float:
    """Epoch seconds of ``text``; ValueError with what is wrong, for the caller to name its field.

    Epoch seconds must be finite and between 1970 and ``EPOCH_LATEST`` (``nan``, ``inf``, ``-5`` and ``1e300`` are
    refused, not searched for); an RFC 3339 / ISO 8601 time must say its zone (``Z`` or ``+00:00``): a time without
    one could be anyone's local time."""
    if len(text) > MAX_CHARS:
        raise ValueError(f"at most {MAX_CHARS} characters")
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or not 0 <= seconds < EPOCH_LATEST:
            raise ValueError(f"{value!r}: epoch seconds from 1970 to the year 9999")
        return seconds
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not a duration before now (30d), epoch seconds or an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (add Z or +00:00)")
    return moment.timestamp()
