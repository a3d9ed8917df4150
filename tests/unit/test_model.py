"""How alert state is stored: a positional JSON array, read back by position; the older object layout still reads."""

from __future__ import annotations

import orjson
from hypothesis import given, strategies as st

from correlation.core.model import AlertState

LABELS = {"alertname": "DiskFull", "service": "orders-db", "instance": "db-1:9100"}


def _state(**changes) -> AlertState:
    base = dict(fingerprint="0123456789abcdef", labels=LABELS, annotations={"summary": "disk at 93%"},
                status="firing", starts_at=100.0, ends_at=None, first_seen=101.5, last_seen=109.25, count=4,
                incident="INC-abcdef012345-1", source="prometheus", generator_url="http://prometheus/graph")
    return AlertState(**(base | changes))


def test_the_stored_layout_is_pinned():
    """Stored states are read back by position: this is the order; new fields may only be appended."""
    state = _state(muted="inhibited:db", cause="INC-x-1", hold_until=130.0, changes=[104.0, 108.0], flapping=True,
                   rev=7, expires_at=409.25, expired=False)
    assert orjson.loads(state.to_json()) == [
        "0123456789abcdef", LABELS, {"summary": "disk at 93%"}, "firing", 100.0, None, 101.5, 109.25, 4,
        "INC-abcdef012345-1", "prometheus", "http://prometheus/graph", "inhibited:db", "INC-x-1", 130.0,
        [104.0, 108.0], True, 7, 409.25, False,
    ]


def test_states_written_before_the_expiry_fields_still_read():
    """The array as written before ``expires_at`` and ``expired`` were appended: they take their defaults."""
    before = orjson.dumps([
        "0123456789abcdef", LABELS, {"summary": "disk at 93%"}, "firing", 100.0, None, 101.5, 109.25, 4,
        "INC-abcdef012345-1", "prometheus", "http://prometheus/graph", "", "", None, [], False, 7,
    ])
    assert AlertState.from_json(before) == _state(rev=7)


def test_states_written_in_the_object_layout_still_read():
    older = orjson.dumps({"fp": "0123456789abcdef", "l": LABELS, "an": {"summary": "disk at 93%"}, "s": "firing",
                          "sa": 100.0, "ea": None, "fs": 101.5, "ls": 109.25, "n": 4, "i": "INC-abcdef012345-1",
                          "src": "prometheus", "u": "http://prometheus/graph", "mu": "", "r": 3})
    assert AlertState.from_json(older) == _state(rev=3)


@given(count=st.integers(min_value=1, max_value=2**53), rev=st.integers(min_value=0, max_value=2**53),
       status=st.sampled_from(["firing", "resolved"]), ends_at=st.none() | st.floats(0, 4e9),
       hold_until=st.none() | st.floats(0, 4e9), flapping=st.booleans(),
       changes=st.lists(st.floats(0, 4e9), max_size=5), muted=st.text(max_size=20),
       annotations=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=30), max_size=4),
       expires_at=st.none() | st.floats(0, 4e9), expired=st.booleans())
def test_a_state_round_trips(count, rev, status, ends_at, hold_until, flapping, changes, muted, annotations,
                             expires_at, expired):
    state = _state(count=count, rev=rev, status=status, ends_at=ends_at, hold_until=hold_until, flapping=flapping,
                   changes=changes, muted=muted, annotations=annotations, expires_at=expires_at, expired=expired)
    assert AlertState.from_json(state.to_json()) == state
