"""The scalar values every rule file section shares: durations, names, and the error shown as is.

``rules.schema`` (rule files) and ``rules.action_schema`` (action configs) both build on these; neither imports the
other for them, so the two have no cycle.
"""

from __future__ import annotations

import math
import re

from pydantic_core import PydanticCustomError


def _fail(message: str) -> PydanticCustomError:
    """An error whose message is shown as is (no "Value error, " prefix; braces in it are safe)."""
    return PydanticCustomError("rule", "{message}", {"message": message})


_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?")
_DURATION_UNITS = (604800.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)
_DURATION_HINT = "use a number with a unit, largest unit first: 30s, 5m, 1h30m, 2d (units: ms, s, m, h, d, w)"


def parse_duration(value: object) -> float:
    """``"1h30m"`` -> ``5400.0`` seconds. Prometheus-style: integers with units, largest unit first."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise _fail(f"invalid duration {value!r}: {_DURATION_HINT}")
    text = value.strip()
    match = _DURATION.fullmatch(text)
    if not text or match is None or not any(match.groups()):
        raise _fail(f"invalid duration {value!r}: {_DURATION_HINT}")
    return sum(int(n) * unit for n, unit in zip(match.groups(), _DURATION_UNITS, strict=True) if n)


#: epoch seconds a stored time may hold: before 10000-01-01T00:00:00Z, the last time RFC 3339 can write (and
#: Alertmanager's API accepts: a silence "until 9999" is a habit); later is a typo, or ``1e300``
EPOCH_LATEST = 253402300800.0


def check_epoch(value: float, name: str) -> float:
    """``value`` if it is epoch seconds Stormwatch can keep and compare (finite, 1970 to ``EPOCH_LATEST``); else
    ValueError naming ``name``. A NaN compares false with everything: a silence ending at NaN never ends, and once
    written as JSON (``null``) it cannot be read back."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value < EPOCH_LATEST:
        raise ValueError(f"{name}: {value!r} is not epoch seconds from 1970 to the year 9999")
    return float(value)


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value) or len(value) > 128:
        raise _fail(f"invalid name {value!r}: use letters, digits, '-', '_' and '.', starting with a letter or digit")
    return value
